import type { Entry, Message, NodeId, ReadMode, ReadState } from '@xraft/core';
import type { Monitor, MonitoredNode } from './monitors.js';
import { formatTime, type SimEvent } from './trace.js';

/** EMPTY_DIGEST is the digest of a state machine that has applied nothing. */
export const EMPTY_DIGEST = 0x811c9dc5;

/**
 * digestEntry folds one applied entry into the digest of the entries before
 * it (FNV-1a over index, term, type and payload): the digest of entries
 * 1..i names the state a state machine holds after applying them.
 */
export function digestEntry(digest: number, e: Entry): number {
  let h = digest;
  h = Math.imul(h ^ e.index, 0x01000193);
  h = Math.imul(h ^ e.term, 0x01000193);
  h = Math.imul(h ^ (e.type === 'noop' ? 1 : 2), 0x01000193);
  const data = e.data;
  for (let i = 0; i < data.byteLength; i++) h = Math.imul(h ^ data[i]!, 0x01000193);
  return h >>> 0;
}

/** ClientRead is one read a client sends to a server: a ReadIndex request (thesis §6.4). */
export interface ClientRead {
  /** The request's id, unique in the run: the ReadIndex `ctx`. */
  readonly ctx: number;
  readonly mode: ReadMode;
  /** Virtual time at which the client sent it. */
  readonly issuedAt: number;
}

/** ServedRead is what a server's state machine showed a read it served. */
export interface ServedRead {
  readonly ctx: number;
  /** The index the server's ReadState named: the read waited until it was applied. */
  readonly index: number;
  /** The state machine's applied index when the read was served: the state it observed. */
  readonly applied: number;
  /** Digest of the applied entries 1..applied ({@link digestEntry}). */
  readonly digest: number;
}

/** ReadStats counts the reads a {@link ReadMonitor} checked. */
export interface ReadStats {
  /** Reads that reached a running server. */
  taken: number;
  /** Reads answered `ok` and served from the state machine (each one checked). */
  served: number;
  /** Reads answered not `ok`: the server did not lead, or lost leadership before confirming. */
  refused: number;
  /** Lease reads answered in the step that took them, with no heartbeat round (thesis §6.4.1). */
  leased: number;
}

/** ReadMonitorOptions configures a {@link ReadMonitor}. */
export interface ReadMonitorOptions {
  /** The current virtual time. */
  readonly now: () => number;
  /** Servers in the cluster (with one, every read is answered at once, lease or not). */
  readonly nodes: number;
  /** Receives read events for the trace. */
  readonly record?: (e: SimEvent) => void;
}

/** What the read monitor remembers of one read between its arrival and its answer. */
interface PendingRead {
  readonly read: ClientRead;
  readonly node: NodeId;
  readonly incarnation: number;
  readonly takenAt: number;
  /** Highest index committed anywhere (as far as any server or client knew) when the server took the request. */
  readonly commitAtTake: number;
  /** The ReadState's index once answered `ok`; -1 before. */
  index: number;
}

/**
 * ReadMonitor checks the reads of a simulated cluster: ReadIndex and lease
 * reads (thesis §6.4, §6.4.1) must be linearizable. Using the commits the
 * {@link Monitor} tracks (the one committed log, as far as any server has
 * committed it), it checks, for every read:
 *
 * - Linearizable Read: a read answered `ok` with index i by the server that
 *   took it at time t has i ≥ the highest index committed anywhere at t, so
 *   it reflects every write any client could have seen complete before it
 *   (t is when the server takes the request, at or after the client sent it:
 *   stricter than linearizability needs, and exactly what §6.4 promises), and
 *   i ≤ the server's own commit index; when served, the state the read
 *   observes is the one committed log's prefix 1..applied, applied ≥ i
 *   (compared by digest).
 * - Read Leadership: a read is answered `ok` only by the leader of its
 *   current term (the one Election Safety recorded), by a server that has
 *   received no message of a higher term (vote requests aside: a leader
 *   within its lease may ignore them, §9.6), and only once.
 */
export class ReadMonitor {
  readonly stats: ReadStats = { taken: 0, served: 0, refused: 0, leased: 0 };
  private readonly pending = new Map<number, PendingRead>();
  /** Highest term each server incarnation has received in a message (vote requests aside). */
  private readonly seen = new Map<NodeId, { incarnation: number; term: number }>();
  /** digests[i] is the digest of the committed entries 1..i (extended lazily). */
  private readonly digests: number[] = [EMPTY_DIGEST];
  /** The request being handed to a server right now: an answer in that step skipped the heartbeat round. */
  private taking: number | null = null;

  constructor(
    private readonly monitor: Monitor,
    private readonly options: ReadMonitorOptions,
  ) {}

  /**
   * take runs `hand` (which gives read `read` to `node`) and notes the
   * highest index committed anywhere at that moment: the bar the read's index must reach.
   */
  take(node: MonitoredNode, read: ClientRead, hand: () => void): void {
    const commit = this.monitor.committedIndex;
    this.stats.taken++;
    this.pending.set(read.ctx, {
      read,
      node: node.id,
      incarnation: node.incarnation,
      takenAt: this.options.now(),
      commitAtTake: commit,
      index: -1,
    });
    this.record(node.id, read, 'taken', commit);
    this.taking = read.ctx;
    try {
      hand();
    } finally {
      this.taking = null;
    }
  }

  /** observe notes the term of the message a step of `node` delivered. */
  observe(node: MonitoredNode, cause: Message | null): void {
    if (cause !== null) this.noteTerm(node, cause);
  }

  /** onReadState checks an answer to a ReadIndex request, given in the step that delivered `cause`. */
  onReadState(node: MonitoredNode, state: ReadState, cause: Message | null): void {
    if (cause !== null) this.noteTerm(node, cause);
    const id = node.id;
    const p = this.pending.get(state.ctx);
    if (p === undefined || p.node !== id || p.incarnation !== node.incarnation || p.index >= 0) {
      const what =
        p === undefined || p.index < 0 ? 'a read it was not asked' : 'a read it had already answered';
      this.report('Read Leadership', id, `${id} answered ${what} (#${state.ctx})`);
      return;
    }
    const r = p.read;
    if (!state.ok) {
      this.stats.refused++;
      this.pending.delete(state.ctx);
      this.record(id, r, 'refused', 0);
      return;
    }
    p.index = state.index;
    if (this.taking === state.ctx && r.mode === 'lease' && this.options.nodes > 1) this.stats.leased++;
    this.record(id, r, 'ok', state.index);
    const raft = node.raft;
    const what = `${id} answered ${readName(r)} ok at index ${state.index}`;
    if (raft === null || raft.role !== 'leader') {
      this.report(
        'Read Leadership',
        id,
        `${what} as ${raft?.role ?? 'a crashed server'}: only a leader serves reads`,
      );
      return;
    }
    const leader = this.monitor.leaders.get(raft.term);
    if (leader !== id) {
      this.report(
        'Read Leadership',
        id,
        `${what} as leader of term ${raft.term}, whose leader is ${leader ?? 'unknown'}`,
      );
      return;
    }
    const seen = this.seen.get(id);
    if (seen !== undefined && seen.incarnation === node.incarnation && seen.term > raft.term) {
      this.report(
        'Read Leadership',
        id,
        `${what} as leader of term ${raft.term} after receiving a message of term ${seen.term}`,
      );
      return;
    }
    if (state.index < p.commitAtTake) {
      this.report(
        'Linearizable Read',
        id,
        `${what} (leader of term ${raft.term}), but index ${p.commitAtTake} was committed when it took the request at ${formatTime(p.takenAt)} (sent at ${formatTime(r.issuedAt)}): the read would miss a committed write (cluster now at term ${this.maxLeaderTerm()}, commit ${this.monitor.committedIndex})`,
      );
    } else if (state.index > raft.log.committed) {
      // Its own commit index: the monitor learns of a commit at the end of the step that made it.
      this.report('Linearizable Read', id, `${what}, beyond its commit index ${raft.log.committed}`);
    }
  }

  /** onServed checks the state a served read observed: the one committed log, up to at least its index. */
  onServed(node: MonitoredNode, s: ServedRead): void {
    const id = node.id;
    const p = this.pending.get(s.ctx);
    this.pending.delete(s.ctx);
    if (p === undefined || p.index !== s.index) {
      this.report(
        'Linearizable Read',
        id,
        `${id} served read #${s.ctx}, which it had not confirmed at index ${s.index}`,
      );
      return;
    }
    this.stats.served++;
    this.record(id, p.read, 'served', s.applied);
    const what = `${id} served ${readName(p.read)} (index ${s.index})`;
    if (s.applied < s.index) {
      this.report(
        'Linearizable Read',
        id,
        `${what} from applied index ${s.applied}, before applying its index`,
      );
    } else if (s.applied > this.monitor.committedIndex) {
      this.report(
        'Linearizable Read',
        id,
        `${what} from applied index ${s.applied}, beyond anything committed (${this.monitor.committedIndex})`,
      );
    } else if (this.digestAt(s.applied) !== s.digest) {
      this.report(
        'Linearizable Read',
        id,
        `${what} from a state that is not the committed log's prefix 1..${s.applied}`,
      );
    }
  }

  /** digestAt is the digest of the committed entries 1..index (index ≤ the committed index). */
  digestAt(index: number): number {
    const d = this.digests;
    for (let i = d.length; i <= index; i++) d.push(digestEntry(d[i - 1]!, this.monitor.committedEntry(i)!));
    return d[index]!;
  }

  private noteTerm(node: MonitoredNode, m: Message): void {
    // Prospective terms (PreVote) bind nobody, and a leader within its lease ignores vote requests (§9.6).
    if (m.type === 'RequestVote' || m.type === 'PreVote' || (m.type === 'PreVoteResponse' && m.granted)) {
      return;
    }
    const s = this.seen.get(node.id);
    if (s === undefined || s.incarnation !== node.incarnation) {
      this.seen.set(node.id, { incarnation: node.incarnation, term: m.term });
    } else if (m.term > s.term) {
      s.term = m.term;
    }
  }

  private maxLeaderTerm(): number {
    let max = 0;
    for (const t of this.monitor.leaders.keys()) if (t > max) max = t;
    return max;
  }

  private report(property: 'Linearizable Read' | 'Read Leadership', node: NodeId, message: string): void {
    this.monitor.report(property, node, message);
  }

  private record(node: NodeId, r: ClientRead, outcome: ReadOutcome, index: number): void {
    this.options.record?.({
      kind: 'read',
      time: this.options.now(),
      node,
      ctx: r.ctx,
      mode: r.mode,
      outcome,
      index,
    });
  }
}

/** ReadOutcome is a step in the life of a read: taken by a server, answered (ok or refused), served. */
export type ReadOutcome = 'taken' | 'ok' | 'refused' | 'served';

function readName(r: ClientRead): string {
  return `read #${r.ctx} (${r.mode})`;
}
