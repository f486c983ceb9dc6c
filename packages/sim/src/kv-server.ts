import { assertNever, type Entry, type ProposeResult, type ReadMode, type ReadState } from '@xraft/core';
import {
  CodecError,
  decodeRequest,
  isApplyResultOf,
  type KvEntry,
  type KvQueryable,
  type KvReadRequest,
  type KvRequest,
  type KvResponse,
} from '@xraft/kv';
import type { HostService, NodeHost } from './host.js';
import type { Scheduler, Task } from './scheduler.js';

/** KvServerEnv is what a {@link KvServer} needs from the simulation. */
export interface KvServerEnv {
  /** Virtual time: the bound on how long a request waits for a leader. */
  readonly scheduler: Scheduler;
  /**
   * The cluster's bound on clock drift (`maxClockDriftMs`), or null: lease
   * reads are served by lease only when the client's bound is at least as
   * strict (as the runtime's worker does), else by ReadIndex.
   */
  readonly clusterDriftMs: number | null;
  /** nextReadCtx numbers a ReadIndex request, uniquely in the run. */
  nextReadCtx(): number;
  /**
   * readIndex hands ReadIndex request `ctx` to `host` (thesis §6.4), through
   * the read monitor; the answer comes back through {@link
   * KvServer.readAnswered} and {@link KvServer.readServed}, maybe at once (a
   * lease read, or a single server).
   */
  readIndex(host: NodeHost, ctx: number, mode: ReadMode): void;
  /** A leader accepted `bytes` (the request `entry`) at `result.index`: for the Client Integrity monitor and the trace. */
  accepted(host: NodeHost, bytes: Uint8Array, entry: KvEntry, result: ProposeResult): void;
  /** The host's process stopped: its clients' requests in flight there are lost. */
  halted(host: NodeHost): void;
}

/** Reply sends one response back to the client that made the request. */
export type Reply = (response: KvResponse) => void;

/** A proposed entry whose client waits for its apply result (the runtime host's `awaited`). */
interface AwaitedEntry {
  readonly term: number;
  readonly entry: KvEntry;
  readonly reply: Reply;
}

/**
 * A request held while its server knows no leader: `serve` takes it up again
 * (served by a leader, else redirected), `bound` ends the wait.
 */
interface HeldRequest {
  readonly serve: () => void;
  readonly bound: Task;
}

/** Most requests a server holds while it knows no leader (the runtime's `LeaderWait` default). */
const MAX_HELD = 4096;

/** A read waiting for its ReadIndex answer, then for the state machine to apply the read's index. */
interface WaitingRead {
  readonly request: KvReadRequest;
  readonly reply: Reply;
}

/**
 * KvServer is the node side of the KV client protocol on one simulated host:
 * what `handleKvRequest` (`@xraft/kv` server.ts) does over the runtime's
 * NodeHost (`propose`, `read`), step for step, but synchronously, since the
 * simulator runs on virtual time in one synchronous loop and cannot wait on
 * promises (a promise settles only once the whole run has returned):
 *
 * - `register` / `batch`: a follower answers `notLeader` with its leader hint
 *   (§6.2); one that knows no leader (its leader went silent, or it is a
 *   candidate) holds the request instead, as the runtime's `LeaderWait` does,
 *   until it learns one (then redirects, or serves the request if it leads),
 *   within one maximum election timeout of the first request it held since
 *   it last knew a leader (then it answers as it would have at once, and so
 *   answers later requests until it knows a leader again: a server leaderless
 *   that long is most likely cut off from a quorum, and its clients' leader
 *   search must end). It notices a leader at its next event: an applied entry
 *   (the new leader's no-op reaches its followers' state machines one round
 *   trip after it commits) or another request. The leader proposes the request bytes verbatim as the log entry
 *   and answers, once the entry is applied, with its apply result if the
 *   applied entry is the one proposed (same index and term), else
 *   `unavailable`; a request that does not decode is answered `rejected`.
 * - `read`: a follower answers `notLeader`, held as above; the leader runs ReadIndex (§6.4),
 *   or a lease read (§6.4.1) when the client's drift bound is at least the
 *   cluster's, and answers the queries from its state machine once it has
 *   applied the read's index; a refused ReadIndex is answered `unavailable`.
 *   `stale` reads are answered at once from whatever is applied.
 *
 * A crash loses every request in progress, held ones too: no answer ever comes (the client's
 * transport notices the dead process, as the runtime's client port does).
 */
export class KvServer implements HostService {
  /** Proposed entries whose clients wait, by log index. */
  private readonly awaited = new Map<number, AwaitedEntry>();
  /** Reads waiting for their ReadIndex answer or for the apply index, by ctx. */
  private readonly reads = new Map<number, WaitingRead>();
  /** Requests held while this server knows no leader, in arrival order. */
  private held: HeldRequest[] = [];
  /** The task that takes up the held requests once a leader is known. */
  private release: Task | null = null;
  /** When this server first held a request since it last knew a leader (virtual ms); null while it knows one. */
  private leaderlessSince: number | null = null;

  constructor(
    readonly host: NodeHost,
    private readonly env: KvServerEnv,
  ) {}

  /** handle serves one encoded request that reached this running host; `reply` carries the answer back. */
  handle(bytes: Uint8Array, reply: Reply): void {
    this.leaderMaybeKnown();
    let request: KvRequest;
    try {
      request = decodeRequest(bytes);
    } catch (err) {
      if (!(err instanceof CodecError)) throw err;
      reply({ type: 'rejected', reason: err.message });
      return;
    }
    switch (request.type) {
      case 'register':
      case 'batch':
        this.write(request, bytes, reply);
        return;
      case 'read':
        this.read(request, reply);
        return;
      default:
        assertNever(request, 'kv request');
    }
  }

  /** isLeader tells whether this server believes it leads (it may be deposed without knowing yet, §6.4). */
  isLeader(): boolean {
    return this.host.raft?.role === 'leader';
  }

  /** leaderHint is the leader this server knows of: the redirect a follower gives (§6.2). */
  leaderHint(): string | null {
    return this.host.raft?.leaderId ?? null;
  }

  /** write proposes a `register` or `batch` request as one log entry, answered once applied (§6.3). */
  write(entry: KvEntry, bytes: Uint8Array, reply: Reply): void {
    if (!this.isLeader()) {
      if (!this.hold(() => this.write(entry, bytes, reply), reply))
        reply({ type: 'notLeader', leaderHint: this.leaderHint() });
      return;
    }
    const r = this.host.propose([bytes]);
    if (r === null || !r.isLeader) {
      reply({
        type: 'unavailable',
        reason: `proposal not known to be committed: ${this.host.id} is not the leader`,
      });
      return;
    }
    this.env.accepted(this.host, bytes, entry, r);
    this.awaited.set(r.index, { term: r.term, entry, reply });
  }

  /** read serves a read request: at once if `stale`, else through {@link confirmRead}. */
  read(request: KvReadRequest, reply: Reply): void {
    if (request.mode === 'stale') {
      reply(this.answer(request));
      return;
    }
    if (!this.isLeader()) {
      if (!this.hold(() => this.read(request, reply), reply))
        reply({ type: 'notLeader', leaderHint: this.leaderHint() });
      return;
    }
    const drift = this.env.clusterDriftMs;
    const lease = request.mode === 'lease' && drift !== null && request.leaseClockDriftMs >= drift;
    this.confirmRead(request, lease ? 'lease' : 'safe', reply);
  }

  /**
   * hold keeps a request that reached this server while it is not the leader
   * and knows none (it has no redirect to give, §6.2) until
   * {@link leaderMaybeKnown} finds a leader, then `serve`s it again; one
   * maximum election timeout after the first request held without a leader
   * it answers `notLeader` as it would have at once (or serves it, if it leads
   * by then). False if the request is not held: a leader is known, that time
   * has passed, or {@link MAX_HELD} requests are held already.
   */
  private hold(serve: () => void, reply: Reply): boolean {
    const raft = this.host.raft;
    if (raft === null || raft.leaderId !== null || this.held.length >= MAX_HELD) return false;
    const now = this.env.scheduler.now;
    this.leaderlessSince ??= now;
    const deadline = this.leaderlessSince + raft.config.electionTimeoutMs[1];
    if (deadline <= now) return false;
    const held: HeldRequest = {
      serve,
      bound: this.env.scheduler.at(
        deadline,
        () => {
          this.held = this.held.filter((h) => h !== held);
          if (this.isLeader()) serve();
          else reply({ type: 'notLeader', leaderHint: this.leaderHint() });
        },
        this.host.id,
      ),
    };
    this.held.push(held);
    return true;
  }

  /**
   * leaderMaybeKnown takes up the held requests, in a task of their own at
   * this instant (it is called from inside the host's steps), once this
   * server knows a leader: itself, or the one to redirect to.
   */
  private leaderMaybeKnown(): void {
    if (this.leaderHint() === null) return;
    this.leaderlessSince = null;
    if (this.held.length === 0 || this.release !== null) return;
    this.release = this.env.scheduler.after(
      0,
      () => {
        this.release = null;
        if (this.leaderHint() === null) return;
        const held = this.held;
        this.held = [];
        for (const h of held) {
          this.env.scheduler.cancel(h.bound);
          h.serve();
        }
      },
      this.host.id,
    );
  }

  /**
   * confirmRead is ReadIndex (thesis §6.4): the leader confirms it still leads
   * (a heartbeat round, or its lease), then the read waits until the state
   * machine has applied the read's index.
   */
  confirmRead(request: KvReadRequest, mode: ReadMode, reply: Reply): void {
    const ctx = this.env.nextReadCtx();
    this.reads.set(ctx, { request, reply });
    this.env.readIndex(this.host, ctx, mode);
  }

  /** answer runs a read's queries against this host's state machine. */
  answer(request: KvReadRequest): KvResponse {
    const sm = this.host.stateMachine as Partial<KvQueryable> | null;
    if (sm === null || typeof sm.query !== 'function') {
      throw new TypeError(`${this.host.id}: the KV server runs on a host without the KV state machine`);
    }
    return { type: 'read', results: request.queries.map((q) => sm.query!(q)) };
  }

  applied(e: Entry, result: unknown): void {
    this.leaderMaybeKnown();
    const w = this.awaited.get(e.index);
    if (w === undefined) return;
    this.awaited.delete(e.index);
    if (w.term !== e.term) {
      w.reply({
        type: 'unavailable',
        reason: `proposal not known to be committed: entry ${e.index} was replaced by a later leader's`,
      });
    } else if (!isApplyResultOf(w.entry, result)) {
      w.reply({ type: 'unavailable', reason: 'the applied result does not belong to this request' });
    } else {
      w.reply(result);
    }
  }

  /**
   * restored fails the proposals a snapshot from the leader overtook (§7), as
   * the runtime host does: their results cannot be learned here, and the
   * client retries with the same (clientId, seq), which its session answers.
   */
  restored(index: number): void {
    for (const [i, w] of this.awaited) {
      if (i > index) continue;
      this.awaited.delete(i);
      w.reply({ type: 'unavailable', reason: `entry ${i} was overtaken by a snapshot from the leader` });
    }
  }

  readAnswered(state: ReadState): void {
    this.leaderMaybeKnown();
    if (state.ok) return;
    const r = this.reads.get(state.ctx);
    if (r === undefined) return;
    this.reads.delete(state.ctx);
    r.reply({
      type: 'unavailable',
      reason: `read not confirmed by a quorum: ${this.host.id} could not confirm its leadership`,
    });
  }

  readServed(ctx: number): void {
    const r = this.reads.get(ctx);
    if (r === undefined) return;
    this.reads.delete(ctx);
    r.reply(this.answer(r.request));
  }

  halted(): void {
    for (const h of this.held) this.env.scheduler.cancel(h.bound);
    this.held = [];
    this.leaderlessSince = null;
    if (this.release !== null) this.env.scheduler.cancel(this.release);
    this.release = null;
    this.awaited.clear();
    this.reads.clear();
    this.env.halted(this.host);
  }
}

/** describeEntry is a KV log entry as the trace shows it: `register`, `batch 12:7` (client 12, seq 7). */
export function describeEntry(entry: KvEntry): string {
  if (entry.type === 'register') return 'kv register';
  return `kv batch ${entry.clientId}:${entry.commands.map((c) => c.seq).join(',')}`;
}
