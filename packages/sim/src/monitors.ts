import {
  type Entry,
  type HardState,
  type Message,
  majority,
  type NodeId,
  type PreVote,
  type ProposeResult,
  type Raft,
  type RequestVote,
  type Role,
  type Snapshot,
} from '@xraft/core';
import type { DurableWrite } from './disk.js';
import type { SimEvent } from './trace.js';

/**
 * Property names an invariant monitor can report. The first five are the
 * safety properties of Figure 3 / §5.4 of the Raft paper (the seed document's
 * five properties); the others are rules of Figure 2 whose breach leads to one
 * of them, checked directly so that a bug is caught at the step that makes it.
 * `Linearizable Read` and `Read Leadership` are the ReadIndex checks of
 * `ReadMonitor` (reads.ts, thesis §6.4). `Linearizability` and `Exactly Once`
 * are the checks of the KV workload's history at the end of a run (kv-check.ts).
 */
export type Property =
  | 'Election Safety'
  | 'Leader Append-Only'
  | 'Log Matching'
  | 'Leader Completeness'
  | 'State Machine Safety'
  | 'Monotonic Term'
  | 'Monotonic Commit'
  | 'Single Vote'
  | 'Election Restriction'
  | 'Durability'
  | 'Commit Rule'
  | 'Term Rule'
  | 'Leader No-op'
  | 'Client Integrity'
  | 'Linearizable Read'
  | 'Read Leadership'
  | 'Linearizability'
  | 'Exactly Once'
  | 'Liveness'
  | 'Core Error'
  | 'Determinism'
  | 'Simulation Error';

/** Violation is one broken invariant, with where and when it was seen. */
export interface Violation {
  readonly property: Property;
  readonly message: string;
  /** Virtual time in milliseconds. */
  readonly time: number;
  readonly node: NodeId | null;
}

/** DurableView is the part of a node's disk the monitors read. */
export interface DurableView {
  readonly hardState: HardState;
  /** The durable entry at `index`; none once compacted (§7). */
  entry(index: number): Entry | undefined;
  lastIndex(): number;
  /**
   * The latest durable snapshot (§7), if any: it holds the effect of every
   * entry up to its index (the simulation checks its digest against the
   * committed log when it is stored).
   */
  readonly snapshot?: Snapshot | null;
}

/**
 * MonitoredNode is what the monitors need of a server: its protocol state
 * (read-only; null while the server is down), which incarnation it is, and
 * its durable storage. {@link NodeHost} is one; tests build others by hand.
 */
export interface MonitoredNode {
  readonly id: NodeId;
  readonly raft: Raft | null;
  readonly incarnation: number;
  readonly disk: DurableView;
}

/** MonitorOptions configures a {@link Monitor}. */
export interface MonitorOptions {
  /** The current virtual time. */
  readonly now: () => number;
  /** Receives every violation as it is found. */
  readonly report?: (v: Violation) => void;
  /** Receives role changes and commits for the trace. */
  readonly record?: (e: SimEvent) => void;
  /** Steps of one node between two full comparisons of its log (the fast path looks at the tail only). */
  readonly deepCheckEvery?: number;
  /**
   * Check that every committed command was accepted by its leader at that
   * index and term, as reported through {@link Monitor.onProposeAccepted}
   * (default true; turn it off when commands come from elsewhere).
   */
  readonly clientIntegrity?: boolean;
  /**
   * Check the rules of Figure 2 directly (default true): single vote on the
   * wire, election restriction, durability before replying, commit rule, term
   * rule, no-op, deletion only on conflict. With false, only the five safety
   * properties, monotonic terms and commits, and liveness remain: a bug is
   * then caught only once it has visible consequences (used to measure how
   * sharp the fault schedule is).
   */
  readonly rules?: boolean;
}

/** What the monitors remember of one server between two of its steps. */
interface Track {
  incarnation: number;
  /** The server's log as last observed: mirror[i - 1] is the entry at index i. */
  mirror: Entry[];
  term: number;
  vote: NodeId | null;
  role: Role;
  commit: number;
  /** The term in which the server was last observed leading (0: not leading). */
  leaderOf: number;
  /** Highest index applied by this incarnation's state machine. */
  applied: number;
  sinceDeep: number;
}

/** What the monitors know of one (index, term) pair: the entry and the term of the entry before it. */
interface Known {
  readonly entry: Entry;
  readonly prevTerm: number;
}

/** Where a client command was accepted: the monitors check it commits exactly there or nowhere. */
interface Accepted {
  readonly index: number;
  readonly term: number;
}

const TERM_BITS = 2 ** 24;

/**
 * Monitor checks the safety of a simulated cluster after every step. All
 * checks are incremental, so that running them after every event costs little
 * next to the event itself:
 *
 * - Election Safety (§5.2): term → leader; at most one leader per term; a new
 *   leader holds a majority of granted votes and voted for itself.
 * - Leader Append-Only (§5.3): a leader's log only grows during its term.
 * - Log Matching (§5.3): every (index, term) ever seen maps to one entry and
 *   one predecessor term; by induction, equal (index, term) means equal
 *   prefixes. Terms never decrease along a log; only a conflicting entry may
 *   be deleted, with everything after it (Figure 2, AppendEntries rule 3).
 * - Leader Completeness (§5.4): a new leader of term T holds every entry
 *   committed in a term before T; an entry committed in term t is in the log
 *   every leader of a term after t had when elected.
 * - State Machine Safety (§5.4.3): one committed entry per index, across all
 *   servers and all time; each server applies exactly those, in order; no
 *   server deletes an entry below its own commit index, in memory or on
 *   disk; every committed entry stays durable on a majority, as an entry or
 *   inside a snapshot; a server compacts only committed entries (§7), so the
 *   monitors take its compacted prefix to be the committed one. (A server
 *   that missed the term of a commit may lose that entry to a stale leader: legal.)
 * - Monotonic term and commit index per incarnation; durable term, vote and
 *   commit never regress across crashes.
 * - Single Vote (§5.2): at most one candidate granted a vote per term, per
 *   server, across crashes (checked on the wire). Election Restriction
 *   (§5.4.1): a vote goes only to a log at least as up-to-date.
 * - Durability (Figure 2, "before responding to RPCs"): a vote or append
 *   acknowledgement leaves only once the state it promises is on disk; an
 *   index commits only when a majority holds its entry on disk.
 * - Commit Rule (§5.4.2): a leader commits only by counting replicas of an
 *   entry of its own term; followers commit nothing a leader has not.
 * - Term Rule (§5.1): a higher term in a request or response is adopted and
 *   the server reverts to follower; a candidate yields to its term's leader.
 * - Leader No-op (§8): a new leader appends an entry of its term at once.
 * - Client Integrity: a committed command is one a client proposed, at the
 *   index and term its leader accepted it.
 */
export class Monitor {
  /** Every violation found, in order. */
  readonly violations: Violation[] = [];
  /** Leader of each term (Election Safety). */
  readonly leaders = new Map<number, NodeId>();
  private readonly tracks = new Map<NodeId, Track>();
  /** Each leader's log when it took office, by term (Leader Completeness, forward direction). */
  private readonly leaderLogs = new Map<number, Entry[]>();
  /** committed[i - 1] is the entry committed at index i; commitTerm[i - 1] the term that committed it. */
  private readonly committed: Entry[] = [];
  private readonly commitTerm: number[] = [];
  /** (index, term) → the entry and its predecessor's term (Log Matching). */
  private readonly known = new Map<number, Known>();
  /** Vote granted by each server in each term, as seen on the wire: voter → term → candidate. */
  private readonly grants = new Map<NodeId, Map<number, NodeId>>();
  /** Grants received, as seen on the wire: term → candidate → voters. */
  private readonly grantsTo = new Map<number, Map<NodeId, Set<NodeId>>>();
  private readonly accepted = new Map<Uint8Array, Accepted>();
  private readonly deepEvery: number;
  private readonly quorum: number;
  private readonly rules: boolean;

  constructor(
    private readonly nodes: readonly MonitoredNode[],
    private readonly options: MonitorOptions,
  ) {
    this.deepEvery = options.deepCheckEvery ?? 64;
    this.quorum = majority(nodes.length);
    this.rules = options.rules ?? true;
  }

  /** committedIndex is the highest index known committed anywhere. */
  get committedIndex(): number {
    return this.committed.length;
  }

  /** committedEntry is the entry committed at `index`, if known. */
  committedEntry(index: number): Entry | undefined {
    return this.committed[index - 1];
  }

  /** failed tells whether any violation was found. */
  get failed(): boolean {
    return this.violations.length > 0;
  }

  /** report records a violation found here or by the simulation (liveness, determinism, errors). */
  report(property: Property, node: NodeId | null, message: string): void {
    const v: Violation = { property, message, node, time: this.options.now() };
    this.violations.push(v);
    this.options.record?.({ kind: 'violation', time: v.time, node, property, message });
    this.options.report?.(v);
  }

  /**
   * observe checks a server after one of its steps. `cause` is the message the
   * step delivered, if any. Only this server changed in the step, so only it is examined.
   */
  observe(node: MonitoredNode, cause: Message | null = null): void {
    const raft = node.raft;
    if (raft === null) return;
    const t = this.track(node);
    const id = node.id;
    const log = raft.log;

    if (raft.term < t.term)
      this.report('Monotonic Term', id, `${id} went from term ${t.term} back to ${raft.term}`);
    if (this.rules && raft.term === t.term && t.vote !== null && raft.vote !== t.vote) {
      this.report(
        'Single Vote',
        id,
        `${id} changed its vote in term ${raft.term} from ${t.vote} to ${raft.vote}`,
      );
    }
    if (cause !== null && this.rules) this.checkTermRule(id, raft, t, cause);

    const wasLeader = t.role === 'leader' && t.leaderOf === raft.term && raft.role === 'leader';
    this.syncLog(id, raft, t, wasLeader);
    if (raft.role !== t.role || raft.term !== t.term) {
      this.options.record?.({
        kind: 'role',
        time: this.options.now(),
        node: id,
        role: raft.role,
        term: raft.term,
      });
    }

    if (raft.role === 'leader' && t.leaderOf !== raft.term) this.checkNewLeader(id, raft, t);
    if (raft.role !== 'leader') t.leaderOf = 0;

    const commit = log.committed;
    if (commit < t.commit) {
      this.report('Monotonic Commit', id, `${id} commit index went back from ${t.commit} to ${commit}`);
    } else if (commit > t.commit) {
      this.checkCommit(id, raft, t, wasLeader, commit);
      t.commit = commit;
    }

    t.term = raft.term;
    t.vote = raft.vote;
    t.role = raft.role;
  }

  /**
   * onSend checks the promises a message makes as it leaves a server: a
   * granted vote and a successful append acknowledgement speak for durable
   * state (Figure 2, "Persistent state ... updated on stable storage before
   * responding to RPCs"), and a server grants one vote per term (§5.2).
   */
  onSend(node: MonitoredNode, m: Message): void {
    if (!this.rules) return;
    const id = node.id;
    const durable = node.disk.hardState;
    if (m.type === 'RequestVoteResponse' && m.granted) {
      let byTerm = this.grants.get(id);
      if (byTerm === undefined) {
        byTerm = new Map();
        this.grants.set(id, byTerm);
      }
      const before = byTerm.get(m.term);
      if (before !== undefined && before !== m.to) {
        this.report(
          'Single Vote',
          id,
          `${id} granted its vote in term ${m.term} to ${before} and then to ${m.to}`,
        );
      }
      byTerm.set(m.term, m.to);
      let byCandidate = this.grantsTo.get(m.term);
      if (byCandidate === undefined) {
        byCandidate = new Map();
        this.grantsTo.set(m.term, byCandidate);
      }
      let voters = byCandidate.get(m.to);
      if (voters === undefined) {
        voters = new Set();
        byCandidate.set(m.to, voters);
      }
      voters.add(id);
      if (durable.term < m.term || (durable.term === m.term && durable.vote !== m.to)) {
        this.report(
          'Durability',
          id,
          `${id} sent its vote for ${m.to} in term ${m.term} before persisting it (durable term=${durable.term} vote=${durable.vote ?? '-'})`,
        );
      }
    } else if (m.type === 'AppendEntriesResponse' && m.success) {
      const last = node.disk.lastIndex();
      if (last < m.index || durable.term < m.term) {
        this.report(
          'Durability',
          id,
          `${id} acknowledged entries up to ${m.index} in term ${m.term} to ${m.to} before they were durable (durable log ends at ${last}, durable term ${durable.term})`,
        );
      }
    }
  }

  /** onVoteGranted checks the election restriction (§5.4.1) at the step that granted the (pre-)vote. */
  onVoteGranted(node: MonitoredNode, request: RequestVote | PreVote): void {
    const raft = node.raft;
    if (raft === null || !this.rules) return;
    const myTerm = raft.log.lastTerm();
    const myIndex = raft.log.lastIndex();
    const upToDate =
      request.lastLogTerm > myTerm || (request.lastLogTerm === myTerm && request.lastLogIndex >= myIndex);
    if (!upToDate) {
      this.report(
        'Election Restriction',
        node.id,
        `${node.id} granted a ${request.type === 'PreVote' ? 'pre-vote' : 'vote'} in term ${request.term} to ${request.from}, whose log ends at (${request.lastLogIndex},${request.lastLogTerm}), behind its own (${myIndex},${myTerm})`,
      );
    }
  }

  /** onDurable checks a write as it reaches the disk: durable term, vote and commit never regress; nothing below the durable commit index is overwritten. */
  onDurable(node: MonitoredNode, w: DurableWrite): void {
    const id = node.id;
    const prev = w.previous;
    const hs = w.hardState;
    if (hs !== null) {
      if (hs.term < prev.term) {
        this.report('Monotonic Term', id, `${id} persisted term ${hs.term} over durable term ${prev.term}`);
      } else if (hs.term === prev.term && prev.vote !== null && hs.vote !== prev.vote) {
        this.report(
          'Single Vote',
          id,
          `${id} persisted a vote for ${hs.vote ?? 'nobody'} in term ${hs.term} over its durable vote for ${prev.vote}`,
        );
      }
      if (hs.commit < prev.commit) {
        this.report(
          'Monotonic Commit',
          id,
          `${id} persisted commit ${hs.commit} over durable commit ${prev.commit}`,
        );
      }
    }
    const first = w.entries[0]?.index ?? 0;
    for (const e of w.overwritten) {
      if (sameEntry(w.entries[e.index - first], e)) continue; // rewritten as it was: nothing lost
      if (e.index <= prev.commit) {
        this.report(
          'State Machine Safety',
          id,
          `${id} overwrote committed entry (${e.index},${e.term}) on disk (durable commit ${prev.commit})`,
        );
        break;
      }
    }
  }

  /** onApply checks what a server's state machine applies: the committed entries, each once, in order. */
  onApply(node: MonitoredNode, entries: readonly Entry[]): void {
    const t = this.track(node);
    const id = node.id;
    for (const e of entries) {
      if (e.index !== t.applied + 1) {
        this.report('State Machine Safety', id, `${id} applied entry ${e.index} after entry ${t.applied}`);
      }
      t.applied = e.index;
      const c = this.committed[e.index - 1];
      if (c === undefined) {
        this.report(
          'State Machine Safety',
          id,
          `${id} applied entry (${e.index},${e.term}) that no server committed`,
        );
      } else if (!sameEntry(c, e)) {
        this.report(
          'State Machine Safety',
          id,
          `${id} applied (${e.index},${e.term}) but (${c.index},${c.term}) was committed at index ${e.index}`,
        );
      }
    }
  }

  /**
   * onRestore checks a server's state machine restored from a snapshot (§7),
   * at a restart or installed from the leader: it covers committed entries
   * only, and the server applies on from its index.
   */
  onRestore(node: MonitoredNode, index: number): void {
    const t = this.track(node);
    if (index > this.committed.length) {
      this.report(
        'State Machine Safety',
        node.id,
        `${node.id} restored a snapshot at ${index}, beyond anything committed (${this.committed.length})`,
      );
    }
    t.applied = index;
  }

  /** onProposeAccepted records where a leader placed client commands, and checks they are there. */
  onProposeAccepted(node: MonitoredNode, commands: readonly Uint8Array[], result: ProposeResult): void {
    const raft = node.raft;
    for (let k = 0; k < commands.length; k++) {
      const cmd = commands[k]!;
      const at = { index: result.index + k, term: result.term };
      this.accepted.set(cmd, at);
      const e = raft?.log.entry(at.index);
      if (e === undefined || e.data !== cmd || e.term !== at.term || e.type !== 'normal') {
        this.report(
          'Client Integrity',
          node.id,
          `${node.id} accepted a command at (${at.index},${at.term}) but its log holds ${e ? `(${e.index},${e.term})` : 'nothing'} there`,
        );
      }
    }
  }

  /**
   * finalCheck compares every running server's whole log (not only the tail)
   * and checks that every committed entry is still durable on a majority.
   */
  finalCheck(): void {
    for (const node of this.nodes) {
      if (node.raft === null) continue;
      const t = this.track(node);
      t.sinceDeep = this.deepEvery;
      this.observe(node, null);
    }
    for (let i = 1; i <= this.committed.length; i++) {
      const e = this.committed[i - 1]!;
      const holders = this.durableHolders(e);
      if (holders < this.quorum) {
        this.report(
          'State Machine Safety',
          null,
          `committed entry (${i},${e.term}) is durable on only ${holders} of ${this.nodes.length} servers`,
        );
        return;
      }
    }
  }

  /** track returns the memory of a server, starting afresh on a new incarnation (a restart). */
  private track(node: MonitoredNode): Track {
    let t = this.tracks.get(node.id);
    if (t !== undefined && t.incarnation === node.incarnation) return t;
    const raft = node.raft;
    t = {
      incarnation: node.incarnation,
      mirror: [],
      term: raft?.term ?? 0,
      vote: raft?.vote ?? null,
      role: raft?.role ?? 'follower',
      commit: 0,
      leaderOf: 0,
      applied: 0,
      sinceDeep: 0,
    };
    this.tracks.set(node.id, t);
    return t;
  }

  /** checkTermRule applies Figure 2's "Rules for all servers" to the message a step delivered (§5.1, §5.2). */
  private checkTermRule(id: NodeId, raft: Raft, t: Track, m: Message): void {
    // A vote request for a later term may be ignored within a leader lease (thesis §9.6), and a
    // PreVote or a granted PreVoteResponse carries a prospective term that nobody adopts.
    if (m.type === 'RequestVote' || m.type === 'PreVote') return;
    if (m.type === 'PreVoteResponse' && m.granted) return;
    if (m.term > t.term) {
      if (raft.term < m.term) {
        this.report(
          'Term Rule',
          id,
          `${id} at term ${t.term} received ${m.type} of term ${m.term} from ${m.from} and kept term ${raft.term}`,
        );
      } else if (raft.term === m.term && raft.role === 'leader') {
        this.report(
          'Term Rule',
          id,
          `${id} received ${m.type} of higher term ${m.term} from ${m.from} and still leads`,
        );
      }
    } else if (
      (m.type === 'AppendEntries' || m.type === 'Heartbeat') &&
      m.term === t.term &&
      m.term === raft.term &&
      raft.role !== 'follower'
    ) {
      this.report(
        'Term Rule',
        id,
        `${id} is ${raft.role} of term ${raft.term} after ${m.type} from ${m.from}, the leader of that term`,
      );
    }
  }

  /**
   * syncLog brings the mirror of a server's log up to date and checks the
   * change. The fast path compares only the tail (entries are immutable
   * objects: identity tells whether one was replaced); every `deepEvery` steps
   * the whole log is compared.
   */
  private syncLog(id: NodeId, raft: Raft, t: Track, wasLeader: boolean): void {
    const log = raft.log;
    const last = log.lastIndex();
    const mirror = t.mirror;
    const mlen = mirror.length;
    // Entries up to the compaction point (§7) are gone from memory: they were committed, so the
    // server's log holds the committed ones there.
    const base = log.snapshotIndex;
    if (base > this.committed.length) {
      this.report(
        'State Machine Safety',
        id,
        `${id} compacted its log up to ${base}, beyond anything committed (${this.committed.length})`,
      );
      return;
    }
    if (base > 0 && this.committed[base - 1]!.term !== log.snapshotTerm) {
      this.report(
        'State Machine Safety',
        id,
        `${id} compacted its log up to (${base},${log.snapshotTerm}) but (${base},${this.committed[base - 1]!.term}) was committed`,
      );
    }
    const committed = this.committed;
    const at = (i: number): Entry | undefined => (i <= base ? committed[i - 1] : log.entry(i));
    const deep = ++t.sinceDeep >= this.deepEvery;
    if (!deep && last === mlen && (mlen === 0 || at(mlen) === mirror[mlen - 1])) return;
    if (deep) t.sinceDeep = 0;
    // k: first index where the log and the mirror differ.
    let k: number;
    if (deep) {
      const n = Math.min(last, mlen);
      k = n + 1;
      for (let i = 1; i <= n; i++) {
        if (!sameEntry(at(i), mirror[i - 1])) {
          k = i;
          break;
        }
      }
    } else {
      let i = Math.min(last, mlen);
      while (i > 0 && !sameEntry(at(i), mirror[i - 1])) i--;
      k = i + 1;
    }
    if (k > mlen && k > last) return;

    if (k <= mlen) {
      const removed = mirror[k - 1]!;
      const replacement = at(k);
      const span = `[${k}..${mlen}]`;
      if (wasLeader) {
        this.report(
          'Leader Append-Only',
          id,
          `${id}, leader of term ${raft.term}, ${replacement ? 'overwrote' : 'deleted'} entries ${span} of its own log`,
        );
      } else if (this.rules && (replacement === undefined || replacement.term === removed.term)) {
        this.report(
          'Log Matching',
          id,
          `${id} deleted entries ${span} although entry ${k} did not conflict (term ${removed.term}${replacement ? ` kept as ${replacement.term}` : ', nothing in its place'}) (§5.3 deletes only from a conflict)`,
        );
      }
      // Only the server's own commit index counts: a server that missed the term in which an entry
      // was committed may still lose it to a stale leader (the majority that committed it cannot).
      if (k <= t.commit) {
        this.report(
          'State Machine Safety',
          id,
          `${id} deleted committed entry (${k},${removed.term}) (its commit index ${t.commit})`,
        );
      }
      mirror.length = k - 1;
    }

    let prevTerm = k > 1 ? mirror[k - 2]!.term : 0;
    for (let i = k; i <= last; i++) {
      const e = at(i);
      if (e === undefined || e.index !== i) {
        this.report('Log Matching', id, `${id} holds ${e ? `entry ${e.index}` : 'nothing'} at index ${i}`);
        return;
      }
      if (e.term < prevTerm) {
        this.report(
          'Log Matching',
          id,
          `${id} has entry (${i},${e.term}) after an entry of term ${prevTerm}`,
        );
      }
      if (this.rules && e.term > raft.term) {
        this.report(
          'Log Matching',
          id,
          `${id} at term ${raft.term} holds entry (${i},${e.term}) of a later term`,
        );
      }
      const key = i * TERM_BITS + e.term;
      const k0 = this.known.get(key);
      if (k0 === undefined || (k0.entry !== e && !this.exists(k0.entry, id))) {
        // A first sighting; or the entry seen before at (i, term) vanished without a trace (never
        // durable, never sent: a one-server cluster can lead a term again after losing it in a crash).
        this.known.set(key, { entry: e, prevTerm });
      } else if (k0.entry !== e && !sameEntry(k0.entry, e)) {
        this.report(
          'Log Matching',
          id,
          `${id} holds a different entry at (${i},${e.term}) than another server did`,
        );
      } else if (k0.prevTerm !== prevTerm) {
        this.report(
          'Log Matching',
          id,
          `${id} holds (${i},${e.term}) after an entry of term ${prevTerm}, another server after one of term ${k0.prevTerm}: the logs differ before a common entry`,
        );
      }
      mirror.push(e);
      prevTerm = e.term;
    }
  }

  /** checkNewLeader runs when a server is first seen leading a term. */
  private checkNewLeader(id: NodeId, raft: Raft, t: Track): void {
    const term = raft.term;
    t.leaderOf = term;
    const other = this.leaders.get(term);
    if (other !== undefined && other !== id) {
      this.report('Election Safety', id, `${id} and ${other} are both leaders of term ${term}`);
    }
    this.leaders.set(term, id);
    if (this.rules) this.checkElection(id, raft, term);
    // Leader Completeness: every entry committed in an earlier term is in the new leader's log.
    const mirror = t.mirror;
    for (let i = 1; i <= this.committed.length; i++) {
      if (this.commitTerm[i - 1]! >= term) continue;
      const c = this.committed[i - 1]!;
      const mine = mirror[i - 1];
      if (!sameEntry(mine, c)) {
        this.report(
          'Leader Completeness',
          id,
          `${id} became leader of term ${term} without entry (${i},${c.term}) committed in term ${this.commitTerm[i - 1]} (its log ends at ${raft.log.lastIndex()})`,
        );
        break;
      }
    }
    this.leaderLogs.set(term, mirror.slice());
  }

  /** checkElection checks how a new leader got elected: its own vote, a majority of grants, its no-op. */
  private checkElection(id: NodeId, raft: Raft, term: number): void {
    if (raft.vote !== id) {
      this.report('Election Safety', id, `${id} leads term ${term} but voted for ${raft.vote ?? 'nobody'}`);
    }
    const votes = (this.grantsTo.get(term)?.get(id)?.size ?? 0) + 1;
    if (votes < this.quorum) {
      this.report(
        'Election Safety',
        id,
        `${id} leads term ${term} with ${votes} vote(s) granted on the wire; a majority is ${this.quorum}`,
      );
    }
    const lastEntry = raft.log.entry(raft.log.lastIndex());
    if (lastEntry === undefined || lastEntry.term !== term || lastEntry.type !== 'noop') {
      this.report(
        'Leader No-op',
        id,
        `${id} became leader of term ${term} without appending a no-op entry of its term (§8)`,
      );
    }
  }

  /** checkCommit examines the entries a server just committed, (t.commit, commit]. */
  private checkCommit(id: NodeId, raft: Raft, t: Track, wasLeader: boolean, commit: number): void {
    const mirror = t.mirror;
    let firstNew = 0;
    for (let i = t.commit + 1; i <= commit; i++) {
      const e = mirror[i - 1];
      if (e === undefined) {
        this.report(
          'State Machine Safety',
          id,
          `${id} committed index ${commit} beyond its log (ends at ${mirror.length})`,
        );
        return;
      }
      const c = this.committed[i - 1];
      if (c !== undefined) {
        if (!sameEntry(c, e)) {
          this.report(
            'State Machine Safety',
            id,
            `${id} committed (${i},${e.term}) but (${i},${c.term}) was committed at that index before`,
          );
          return;
        }
        continue;
      }
      // The first server to commit an index must be its leader (followers learn commits from leaders).
      if (this.rules && raft.role !== 'leader') {
        this.report('Commit Rule', id, `${id}, a ${raft.role}, committed index ${i} before any leader did`);
      }
      if (firstNew === 0) firstNew = i;
      this.committed.push(e);
      this.commitTerm.push(raft.term);
      if (this.rules) this.checkIntegrity(id, e);
      // Leader Completeness, the other way: leaders of later terms already in office hold it.
      for (const [term, logAtElection] of this.leaderLogs) {
        if (term > raft.term && !sameEntry(logAtElection[i - 1], e)) {
          this.report(
            'Leader Completeness',
            id,
            `entry (${i},${e.term}) committed in term ${raft.term} is missing from the log of ${this.leaders.get(term)}, leader of later term ${term}`,
          );
          return;
        }
      }
    }
    const top = mirror[commit - 1]!;
    this.options.record?.({
      kind: 'commit',
      time: this.options.now(),
      node: id,
      index: commit,
      entryTerm: top.term,
    });
    if (this.rules && raft.role === 'leader' && wasLeader && top.term !== raft.term) {
      this.report(
        'Commit Rule',
        id,
        `${id}, leader of term ${raft.term}, advanced its commit index to ${commit}, an entry of term ${top.term} (§5.4.2: only entries of the leader's term are committed by counting replicas)`,
      );
    }
    if (this.rules && firstNew !== 0) {
      const holders = this.durableHolders(top);
      if (holders < this.quorum) {
        this.report(
          'Durability',
          id,
          `index ${commit} (term ${top.term}) committed by ${id} while durable on only ${holders} of ${this.nodes.length} servers`,
        );
      }
    }
  }

  /** checkIntegrity checks that a newly committed command is a client's, at the place its leader accepted it. */
  private checkIntegrity(id: NodeId, e: Entry): void {
    if (this.options.clientIntegrity === false) return;
    if (e.type === 'noop') {
      if (e.data.byteLength !== 0)
        this.report('Client Integrity', id, `no-op entry (${e.index},${e.term}) carries data`);
      return;
    }
    const at = this.accepted.get(e.data);
    if (at === undefined) {
      this.report(
        'Client Integrity',
        id,
        `committed entry (${e.index},${e.term}) carries a command no client proposed`,
      );
    } else if (at.index !== e.index || at.term !== e.term) {
      this.report(
        'Client Integrity',
        id,
        `committed entry (${e.index},${e.term}) carries a command its leader accepted at (${at.index},${at.term})`,
      );
    }
  }

  /** exists tells whether an entry is still anywhere: on a disk, or in the log of a running server other than `except`. */
  private exists(e: Entry, except: NodeId): boolean {
    for (const node of this.nodes) {
      if (sameEntry(node.disk.entry(e.index), e)) return true;
      if (node.id !== except && sameEntry(node.raft?.log.entry(e.index), e)) return true;
    }
    return false;
  }

  /** durableHolders counts the servers whose disk holds `e`, as an entry or inside their latest snapshot. */
  private durableHolders(e: Entry): number {
    let n = 0;
    for (const node of this.nodes) {
      const disk = node.disk;
      if (sameEntry(disk.entry(e.index), e) || (disk.snapshot?.meta.index ?? 0) >= e.index) n++;
    }
    return n;
  }
}

/** sameEntry compares two entries: the same object, or equal index, term, type and payload. */
export function sameEntry(a: Entry | undefined, b: Entry | undefined): boolean {
  if (a === b) return true;
  if (a === undefined || b === undefined) return false;
  if (a.index !== b.index || a.term !== b.term || a.type !== b.type) return false;
  const x = a.data;
  const y = b.data;
  if (x === y) return true;
  if (x.byteLength !== y.byteLength) return false;
  for (let i = 0; i < x.byteLength; i++) if (x[i] !== y[i]) return false;
  return true;
}
