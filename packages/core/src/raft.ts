import type { RaftConfig } from './config.js';
import { RaftLog } from './log.js';
import type { Message } from './messages.js';
import type { Progress } from './progress.js';
import type { Random } from './random.js';
import { ReadOnly, type ReadState } from './read-index.js';
import type { IncomingSnapshot, Snapshot } from './snapshot.js';
import { EMPTY_HARD_STATE, type Entry, type HardState, type NodeId, type Role } from './types.js';

/** PersistedState is what a server finds in its storage when it (re)starts. */
export interface PersistedState {
  readonly hardState: HardState;
  /** The stored log, contiguous, oldest first. */
  readonly entries: readonly Entry[];
  /**
   * Highest index the state machine already reflects: 0 for a state machine
   * rebuilt from scratch; by default, the index of `latestSnapshot`, which
   * the host restores the state machine from.
   */
  readonly applied?: number;
  /** The compaction point (§7): the last entry compacted away; the stored entries start just after it. */
  readonly snapshot?: { readonly index: number; readonly term: number };
  /**
   * The latest snapshot stored (at or after the compaction point), which a
   * leader sends to followers that need compacted entries (InstallSnapshot).
   */
  readonly latestSnapshot?: Snapshot;
}

/** ProposeResult is Raft's Start(): where the first proposed command will sit if it commits. */
export interface ProposeResult {
  readonly isLeader: boolean;
  /** The leader's term when accepted; the server's current term otherwise. */
  readonly term: number;
  /** Index of the first proposed entry; 0 when not accepted. */
  readonly index: number;
  /** Who this server believes leads, to redirect clients. */
  readonly leaderId: NodeId | null;
}

/**
 * Raft is one server's protocol state (Figure 2): persistent state (term,
 * vote, log), volatile state (commit, role, leader) and leader state
 * (progress per follower). The role statechart owns the role switch; the
 * per-role modules (`election.ts`, `replication.ts`, `leader.ts`) mutate this
 * object. It performs no I/O: outgoing messages accumulate until the next Ready.
 */
export class Raft {
  readonly id: NodeId;
  /** Every voter but this server. */
  readonly peers: readonly NodeId[];
  readonly log = new RaftLog();

  /** currentTerm (§5.1). Invariant: never decreases. */
  term: number;
  /** votedFor in `term` (§5.2). Invariant: set at most once per term. */
  vote: NodeId | null;
  /** The leader of `term`, when known. */
  leaderId: NodeId | null = null;
  role: Role = 'follower';

  /** Votes received in the current (pre-)election, this server's own included. */
  readonly votes = new Map<NodeId, boolean>();
  /** Leader only: replication progress of each peer. */
  readonly progress = new Map<NodeId, Progress>();
  /** Leader only: the target of a leadership transfer under way (§3.10). */
  transferee: NodeId | null = null;
  /** Set by TimeoutNow: the next election is a transfer, which voters honour despite their lease. */
  campaignIsTransfer = false;
  /** Leader only: ReadIndex requests and the lease (thesis §6.4). */
  readonly readOnly = new ReadOnly();
  /** Answers to ReadIndex requests, handed out in the next Ready. */
  readStates: ReadState[] = [];
  /** The host's clock (ms), for lease reads only. */
  readonly now: () => number;
  /** The latest snapshot (§7): taken by the host (compact) or installed from a leader. */
  snapshot: Snapshot | null = null;
  /** Follower only: a snapshot being received, chunk by chunk. */
  incoming: IncomingSnapshot | null = null;
  /** A snapshot received from the leader, for the next Ready to install. */
  pendingSnapshot: Snapshot | null = null;
  /** The outcome of the last Propose event, read back by the node facade. */
  lastProposal: ProposeResult | null = null;

  /** Messages to send after the next Ready's hard state and entries are durable. */
  messages: Message[] = [];
  /** Messages that may be sent before persisting (leader replication, thesis §10.2.1). */
  earlyMessages: Message[] = [];
  /** The hard state last handed to the host. */
  private handedOut: HardState;
  /** The hard state the host last reported durable (Persisted). */
  durable: HardState;

  constructor(
    readonly config: RaftConfig,
    readonly random: Random,
    persisted: PersistedState = { hardState: EMPTY_HARD_STATE, entries: [] },
    now: () => number = () => 0,
  ) {
    this.now = now;
    this.id = config.id;
    this.peers = config.voters.filter((v) => v !== config.id);
    this.term = persisted.hardState.term;
    this.vote = persisted.hardState.vote;
    const latest = persisted.latestSnapshot;
    const snapshotIndex = latest?.meta.index ?? 0;
    if (snapshotIndex < (persisted.snapshot?.index ?? 0)) {
      throw new Error(
        `the latest snapshot (${snapshotIndex}) is older than the compaction point (${persisted.snapshot?.index})`,
      );
    }
    // What a snapshot covers was committed, whatever commit index the hard state had durably.
    this.log.restore(
      persisted.entries,
      Math.max(persisted.hardState.commit, snapshotIndex),
      persisted.applied ?? snapshotIndex,
      persisted.snapshot,
    );
    if (latest !== undefined && snapshotIndex > 0) this.snapshot = latest;
    this.handedOut = { term: this.term, vote: this.vote, commit: this.log.committed };
    this.durable = this.handedOut;
  }

  /** leaseMs is how long a confirmed heartbeat round lets a leader serve lease reads (§6.4.1); 0: never. */
  get leaseMs(): number {
    const drift = this.config.maxClockDriftMs;
    return drift === null ? 0 : this.config.electionTimeoutMs[0] - drift;
  }

  /** votedForSelfDurably tells whether this server's vote for itself in the current term is on disk. */
  votedForSelfDurably(): boolean {
    return this.durable.term === this.term && this.durable.vote === this.id;
  }

  /** quorumSize is the number of voters that make a majority. */
  get voters(): readonly NodeId[] {
    return this.config.voters;
  }

  /** send queues a message to go out after the next persist. */
  send(m: Message): void {
    this.messages.push(m);
  }

  /** sendEarly queues a message that may go out before the next persist (leader only). */
  sendEarly(m: Message): void {
    this.earlyMessages.push(m);
  }

  /** hardState is the current persistent state. */
  hardState(): HardState {
    return { term: this.term, vote: this.vote, commit: this.log.committed };
  }

  /** hardStateChanged tells whether the hard state differs from the one last handed out. */
  hardStateChanged(): boolean {
    const h = this.handedOut;
    return h.term !== this.term || h.vote !== this.vote || h.commit !== this.log.committed;
  }

  /** takeHardState returns the hard state to persist, or null when unchanged. */
  takeHardState(): HardState | null {
    if (!this.hardStateChanged()) return null;
    this.handedOut = this.hardState();
    return this.handedOut;
  }

  /**
   * stepDown adopts a newer term (or a known leader of this term) as a
   * follower (§5.1: "if RPC request or response contains term T > currentTerm:
   * set currentTerm = T, convert to follower").
   */
  stepDown(term: number, leaderId: NodeId | null): void {
    if (term < this.term) throw new Error(`stepDown to term ${term} below current term ${this.term}`);
    if (term > this.term) {
      this.term = term;
      this.vote = null;
    }
    this.leaderId = leaderId;
  }

  /** randomizedElectionTimeout draws a fresh election timeout in [min, max) (§5.2). */
  randomizedElectionTimeout(): number {
    const [min, max] = this.config.electionTimeoutMs;
    return min + Math.floor(this.random() * (max - min));
  }

  /** toJSON is a small summary, so inspection and logs never serialize the whole log. */
  toJSON(): object {
    return {
      id: this.id,
      role: this.role,
      term: this.term,
      vote: this.vote,
      leaderId: this.leaderId,
      lastIndex: this.log.lastIndex(),
      commitIndex: this.log.committed,
      applied: this.log.applied,
    };
  }
}
