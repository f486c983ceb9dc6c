import { majority } from './quorum.js';
import type { NodeId } from './types.js';

/**
 * ReadState answers one ReadIndex request (thesis §6.4). With `ok`, a read
 * issued when the request was made is linearizable once the state machine has
 * applied `index`; without, this server could not confirm it leads (it is not
 * the leader, or lost leadership before confirming): ask the leader.
 */
export interface ReadState {
  /** The host's id for the request (one request may stand for a batch of reads). */
  readonly ctx: number;
  readonly ok: boolean;
  /** The commit index when the request arrived; 0 when not `ok`. */
  readonly index: number;
}

/** ReadMode is how a leader confirms a read: a heartbeat round (safe), or its lease (thesis §6.4.1). */
export type ReadMode = 'safe' | 'lease';

/** PendingRead is a ReadIndex request waiting for a heartbeat round to reach a majority. */
interface PendingRead {
  readonly ctx: number;
  readonly index: number;
  /** The heartbeat round sent for it; any later round confirms it too. */
  readonly round: number;
}

/** Round is one heartbeat round: when it went out and who answered it (or a later round). */
interface Round {
  readonly sentAt: number;
  readonly acks: Set<NodeId>;
}

/** At most this many unconfirmed rounds are remembered (a later confirmed round covers earlier ones). */
const MAX_ROUNDS = 64;

/**
 * ReadOnly is a leader's ReadIndex state (thesis §6.4). Every heartbeat
 * broadcast is a numbered round; a follower's answer to round r (or later)
 * proves this server still led when r went out. A read is served once a round
 * sent after it arrived is answered by a majority; the latest such round also
 * extends the lease (§6.4.1) that lets `lease` reads skip the round.
 */
export class ReadOnly {
  /** Requests made before this term's first commit (the no-op): their index is not known yet. */
  private waiting: Array<{ ctx: number; mode: ReadMode }> = [];
  /** Requests in arrival (and round) order. */
  private pending: PendingRead[] = [];
  /** Unconfirmed rounds, oldest first. */
  private readonly rounds = new Map<number, Round>();
  /** The last round started this term (rounds number from 1). */
  round = 0;
  /** The lease holds until this time (host clock, ms); 0: no lease. */
  leaseUntil = 0;
  /** Set once this term's lease is given up (a leadership transfer began): it is never extended again. */
  private leaseRevoked = false;

  /** abortAll answers every request `ok: false` and forgets the term's rounds and lease. */
  abortAll(out: ReadState[]): void {
    for (const w of this.waiting) out.push({ ctx: w.ctx, ok: false, index: 0 });
    for (const p of this.pending) out.push({ ctx: p.ctx, ok: false, index: 0 });
    this.waiting = [];
    this.pending = [];
    this.rounds.clear();
    this.round = 0;
    this.leaseUntil = 0;
    this.leaseRevoked = false;
  }

  /**
   * revokeLease gives up the lease for the rest of the term. A leader does so
   * when it sends TimeoutNow (§3.10): the transferee's election ignores
   * leases, so a new leader may commit while this one's lease would still run.
   */
  revokeLease(): void {
    this.leaseUntil = 0;
    this.leaseRevoked = true;
  }

  /** wait parks a request until the term's first commit. */
  wait(ctx: number, mode: ReadMode): void {
    this.waiting.push({ ctx, mode });
  }

  /** takeWaiting hands back the requests parked by {@link wait}. */
  takeWaiting(): Array<{ ctx: number; mode: ReadMode }> {
    const w = this.waiting;
    this.waiting = [];
    return w;
  }

  /** newRound starts a heartbeat round at `now` (the leader counts as having answered); returns its number. */
  newRound(self: NodeId, now: number): number {
    const round = ++this.round;
    this.rounds.set(round, { sentAt: now, acks: new Set([self]) });
    if (this.rounds.size > MAX_ROUNDS) this.rounds.delete(this.rounds.keys().next().value!);
    return round;
  }

  /** add queues a read at `index` to be served once `round` (or a later one) is confirmed. */
  add(ctx: number, index: number, round: number): void {
    this.pending.push({ ctx, index, round });
  }

  /**
   * ack records that `from` answered round `round`, which also answers every
   * earlier round. When a majority of `voters` has answered some round, the
   * reads up to it are released, in order, and the lease runs to that
   * round's sending plus `leaseMs`.
   */
  ack(from: NodeId, round: number, voters: number, leaseMs: number, out: ReadState[]): void {
    const quorum = majority(voters);
    let confirmed = 0;
    for (const [n, r] of this.rounds) {
      if (n > round) break;
      r.acks.add(from);
      if (r.acks.size >= quorum) confirmed = n;
    }
    if (confirmed === 0) return;
    this.confirm(confirmed, leaseMs, out);
  }

  /** confirm releases the reads up to round `n`, extends the lease and forgets rounds up to `n`. */
  confirm(n: number, leaseMs: number, out: ReadState[]): void {
    const r = this.rounds.get(n);
    if (r !== undefined && leaseMs > 0 && !this.leaseRevoked)
      this.leaseUntil = Math.max(this.leaseUntil, r.sentAt + leaseMs);
    for (const k of [...this.rounds.keys()]) {
      if (k > n) break;
      this.rounds.delete(k);
    }
    let released = 0;
    while (released < this.pending.length && this.pending[released]!.round <= n) {
      const p = this.pending[released]!;
      out.push({ ctx: p.ctx, ok: true, index: p.index });
      released++;
    }
    if (released > 0) this.pending.splice(0, released);
  }
}
