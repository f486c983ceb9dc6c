import type {
  Entry,
  HardState,
  Message,
  NodeId,
  PreVote,
  ProposeResult,
  Raft,
  RaftOptions,
  Random,
  ReadMode,
  ReadState,
  Ready,
  RequestVote,
  Snapshot,
  StateMachine,
} from '@xraft/core';
import { RaftNode } from '@xraft/core';
import { Disk, type DiskConditions, type DurableWrite } from './disk.js';
import { digestEntry, EMPTY_DIGEST, type ServedRead } from './reads.js';
import type { Rng } from './rng.js';
import type { NodeClock, Scheduler } from './scheduler.js';
import type { SimEvent } from './trace.js';

/** HostObserver is how a {@link NodeHost} reports to the simulation and its monitors. */
export interface HostObserver {
  /** Appends an event to the trace. */
  record(e: SimEvent): void;
  /** A message is leaving the node; `early` when sent before the Ready's write was durable. */
  onSend(host: NodeHost, m: Message, early: boolean): void;
  /** A vote (or pre-vote) was granted in answer to `request`, in the step that received it. */
  onVoteGranted(host: NodeHost, request: RequestVote | PreVote): void;
  /** A write of the node became durable. */
  onDurable(host: NodeHost, w: DurableWrite): void;
  /** The node's state machine applied these committed entries, in order. */
  onApply(host: NodeHost, entries: readonly Entry[]): void;
  /**
   * The node's state machine was restored from a snapshot (§7): at a restart,
   * or installed from the leader. `digest` names the state it holds ({@link digestEntry}).
   */
  onRestore(host: NodeHost, index: number, digest: number): void;
  /** The node answered a ReadIndex request (thesis §6.4) in the step that delivered `cause` (null: no message). */
  onReadState(host: NodeHost, state: ReadState, cause: Message | null): void;
  /** The node served a read it had confirmed, its state machine having applied the read's index. */
  onReadServed(host: NodeHost, read: ServedRead): void;
  /** A step of the node ended: a message, a timer, a completed write, a proposal, a restart. */
  afterStep(host: NodeHost, cause: Message | null): void;
  /** The core threw: an impossible state or a broken assertion. */
  onError(host: NodeHost, error: unknown): void;
}

/** HostEnv is what a {@link NodeHost} needs from its simulation. */
export interface HostEnv {
  readonly scheduler: Scheduler;
  readonly voters: readonly NodeId[];
  /** Core options shared by every node (timeouts, PreVote, CheckQuorum). */
  readonly raftOptions: Omit<Partial<RaftOptions>, 'id' | 'voters'>;
  /** The election-timeout randomness of one incarnation of one node. */
  random(id: NodeId, incarnation: number): Random;
  /** The disk conditions every node starts with. */
  readonly diskConditions: DiskConditions;
  /** Puts a message on the network. */
  send(m: Message): void;
  readonly observer: HostObserver;
  /**
   * Makes the state machine of one incarnation of one server (the KV store in
   * the KV workload); none by default: the host then only digests what it applies.
   */
  readonly stateMachine?: (id: NodeId) => StateMachine;
  /** When to snapshot the state machine and compact the log (§7); never by default. */
  readonly snapshotPolicy?: SnapshotPolicy;
}

/** SnapshotPolicy is when a host snapshots its state machine and compacts its log (§7). */
export interface SnapshotPolicy {
  /** Snapshot once this many entries were applied since the latest snapshot. */
  readonly entries: number;
  /** Entries the log keeps before the snapshot point, for followers that lag a little. */
  readonly keepEntries: number;
}

/**
 * encodeSnapshot is the data of a simulated snapshot: the digest of the
 * applied entries ({@link digestEntry}), then the state machine's own snapshot, if any.
 */
export function encodeSnapshot(digest: number, state: Uint8Array | null): Uint8Array {
  const out = new Uint8Array(4 + (state?.byteLength ?? 0));
  new DataView(out.buffer).setUint32(0, digest);
  if (state !== null) out.set(state, 4);
  return out;
}

/** decodeSnapshot reads back what {@link encodeSnapshot} wrote. */
export function decodeSnapshot(data: Uint8Array): { digest: number; state: Uint8Array } {
  if (data.byteLength < 4) throw new Error(`a snapshot of ${data.byteLength} bytes has no digest`);
  const digest = new DataView(data.buffer, data.byteOffset, data.byteLength).getUint32(0);
  return { digest, state: data.subarray(4) };
}

/**
 * HostService is what serves clients on a host, above its Raft node (the KV
 * server of the KV workload, kv-server.ts): it sees every entry the state
 * machine applies with its result, the answers to ReadIndex requests, and the
 * death of the process, which takes every request it was serving with it.
 */
export interface HostService {
  /** The state machine applied `entry`; `result` is what its `apply` returned (undefined for a no-op). */
  applied(entry: Entry, result: unknown): void;
  /** The node answered ReadIndex request `state.ctx` (thesis §6.4); `ok` ones are served later. */
  readAnswered(state: ReadState): void;
  /** Read `ctx`, confirmed, may now be served: the state machine has applied its index. */
  readServed(ctx: number): void;
  /**
   * The state machine was replaced by a snapshot reaching `index` (§7), at a
   * restart or installed from the leader: proposals it covers will never be
   * applied here one by one, so their results cannot be learned.
   */
  restored?(index: number): void;
  /** The process stopped (crash or end of run): requests in progress are gone. */
  halted(): void;
}

/**
 * NodeHost runs one Raft server of the simulation: a {@link RaftNode} of the
 * real core plus its {@link Disk}, following the Ready contract of
 * `@xraft/core` (ready.ts) in the order the runtime's host (runtime/host.ts)
 * carries it out, so the monitors check that order:
 *
 * 1. send `earlyMessages` at once (the leader's replication, thesis §10.2.1);
 * 2. hand `hardState` + `entries` to the disk as one atomic write, behind
 *    every earlier write. A hard state that differs only in its commit index
 *    is not written alone: the commit index is volatile (Figure 2), so it
 *    rides along with the next write;
 * 3. apply `committed` at the end of the step, once its messages are out
 *    (§5.3): a committed entry is durable on a majority already, so applying
 *    it need not wait for this node's own write (etcd-io/raft's asynchronous
 *    storage writes); only a snapshot from the leader, and every Ready
 *    behind it, applies after the install is durable. Then, per the
 *    {@link SnapshotPolicy}, snapshot the state machine and compact (§7),
 *    whether or not this node's own writes of the entries have landed;
 * 4. once that write (and every earlier one) is durable: send `messages`
 *    (votes and acknowledgements promise durable state, §5.2/§5.3), then `advance`.
 *
 * `readStates` need no durability: each `ok` one is served (the read observes
 * the state machine) as soon as the applied index reaches its index.
 *
 * A crash stops the statechart, cancels its timers and discards every write
 * still in flight, and loses the state machine; a restart builds a fresh
 * RaftNode from what the disk holds and a fresh state machine, restored from
 * the latest durable snapshot, which the committed entries after it rebuild.
 */
export class NodeHost {
  /** The running server, or null while crashed. */
  node: RaftNode | null = null;
  /** How many times this server has started (1 for the first boot). */
  incarnation = 0;
  readonly disk: Disk;
  /** Highest index applied by this incarnation's state machine (rebuilt from scratch on restart). */
  applied = 0;
  /** Digest of the entries applied by this incarnation: the state machine's state ({@link digestEntry}). */
  appliedDigest = EMPTY_DIGEST;
  /** Events fed to the core: messages, timers, persist acknowledgements, proposals. */
  coreEvents = 0;
  /** This incarnation's state machine ({@link HostEnv.stateMachine}); null when the host has none or is down. */
  stateMachine: StateMachine | null = null;
  /** What serves clients on this host, if anything (the KV server). */
  service: HostService | null = null;
  /**
   * Snapshots taken (`pastOwnWrite` of them at an index this node's own write
   * had not made durable yet) and installed from a leader, over all incarnations.
   */
  readonly snapshots = { taken: 0, pastOwnWrite: 0, installed: 0 };
  private clock: NodeClock | null = null;
  /** The vote request being stepped, so a grant in the resulting Ready can be checked against it. */
  private voteRequest: RequestVote | PreVote | null = null;
  /** The message being stepped, if any: the cause of the answers in the resulting Ready. */
  private cause: Message | null = null;
  /** Reads confirmed `ok` whose index the state machine has not applied yet, in answer order. */
  private confirmedReads: ReadState[] = [];
  /** Committed entries of this step's Readies, applied once the step is over (step 3). */
  private committed: Array<readonly Entry[]> = [];
  /** A commit-only hard state not written yet: it goes with the next write (step 2). */
  private deferredHardState: HardState | null = null;
  /** The term and vote last handed to the disk. */
  private storedHardState: HardState | null = null;
  /** Readies carrying a snapshot from the leader not yet installed: later Readies apply after them. */
  private installing = 0;
  /** Entries applied since the latest snapshot (taken or restored). */
  private sinceSnapshot = 0;

  constructor(
    readonly id: NodeId,
    private readonly env: HostEnv,
    /** The fsync-delay randomness of this node's disk. */
    diskRng: Rng,
  ) {
    this.disk = new Disk(id, env.scheduler, diskRng, env.diskConditions, (w) =>
      env.observer.onDurable(this, w),
    );
  }

  /** raft is the running server's protocol state (read-only), or null while crashed. */
  get raft(): Raft | null {
    return this.node?.raft ?? null;
  }

  /** alive tells whether the server is running. */
  get alive(): boolean {
    return this.node !== null;
  }

  /** start boots the server from its disk (empty on first boot): a restart after a crash. */
  start(): void {
    if (this.node) throw new Error(`${this.id} is already running`);
    this.incarnation++;
    this.resetStateMachine();
    const clock = this.env.scheduler.clockFor(this.id, () => this.afterTimer());
    this.clock = clock;
    const persisted = this.disk.persisted();
    this.storedHardState = persisted.hardState;
    this.deferredHardState = null;
    if (persisted.latestSnapshot !== undefined) this.restoreSnapshot(persisted.latestSnapshot);
    const node = new RaftNode({
      ...this.env.raftOptions,
      id: this.id,
      voters: this.env.voters,
      clock,
      random: this.env.random(this.id, this.incarnation),
      persisted,
      // Virtual time: it runs on while the process is paused, as a real monotonic clock does.
      now: () => this.env.scheduler.now,
    });
    this.node = node;
    if (this.incarnation > 1) {
      this.env.observer.record({
        kind: 'restart',
        time: this.env.scheduler.now,
        node: this.id,
        hardState: persisted.hardState,
        lastIndex: this.disk.lastIndex(),
      });
    }
    this.guard(() => node.start());
    this.drain();
    this.endStep(null);
  }

  /** crash kills the process: the statechart stops, timers vanish, unfinished writes are lost. */
  crash(): { lostWrites: number; lostEntries: number } {
    if (!this.halt()) return { lostWrites: 0, lostEntries: 0 };
    const lost = this.disk.crash();
    this.env.scheduler.endPause(this.id);
    this.env.observer.record({
      kind: 'crash',
      time: this.env.scheduler.now,
      node: this.id,
      ...lost,
      durableIndex: this.disk.lastIndex(),
    });
    return lost;
  }

  /** stop ends the server at the end of a run, without counting it as a crash. */
  stop(): void {
    this.halt();
  }

  /** halt stops the statechart and drops its timers; false when the server was already down. */
  private halt(): boolean {
    const node = this.node;
    if (!node) return false;
    this.node = null;
    this.confirmedReads = [];
    this.committed = [];
    this.installing = 0;
    this.clock?.cancelAll();
    this.clock = null;
    try {
      node.stop();
    } catch {
      // A statechart that already failed may refuse to stop; it is gone either way.
    }
    this.stateMachine = null; // Memory only: the process took it along.
    this.service?.halted();
    return true;
  }

  /** receive steps a message that arrived over the network (lost if the server is down). */
  receive(m: Message): void {
    const node = this.node;
    const obs = this.env.observer;
    if (!node) {
      obs.record({
        kind: 'drop',
        time: this.env.scheduler.now,
        node: this.id,
        message: m,
        reason: 'crashed',
      });
      return;
    }
    obs.record({ kind: 'deliver', time: this.env.scheduler.now, node: this.id, message: m });
    this.coreEvents++;
    if (m.type === 'RequestVote' || m.type === 'PreVote') this.voteRequest = m;
    this.cause = m;
    if (this.guard(() => node.step(m))) this.drain();
    this.voteRequest = null;
    this.cause = null;
    this.endStep(m);
  }

  /** propose submits commands to the server as a client would (Raft's Start()); null when it is down. */
  propose(commands: readonly Uint8Array[]): ProposeResult | null {
    const node = this.node;
    if (!node) return null;
    this.coreEvents++;
    let result: ProposeResult | null = null;
    if (this.guard(() => (result = node.propose(commands)))) this.drain();
    this.endStep(null);
    return result;
  }

  /**
   * read hands a client's read to the server (ReadIndex, thesis §6.4); the
   * answer and the served read reach the observer. False when the server is down.
   */
  read(ctx: number, mode: ReadMode): boolean {
    const node = this.node;
    if (!node) return false;
    this.coreEvents++;
    if (this.guard(() => node.readIndex(ctx, mode))) this.drain();
    this.endStep(null);
    return true;
  }

  /** transferLeadership asks the server, if it leads, to hand over to `to` (§3.10). */
  transferLeadership(to: NodeId): void {
    const node = this.node;
    if (!node) return;
    this.coreEvents++;
    if (this.guard(() => node.transferLeadership(to))) this.drain();
    this.endStep(null);
  }

  /** timers is the number of statechart timers pending (0 while down). */
  timers(): number {
    return this.clock?.timers() ?? 0;
  }

  private afterTimer(): void {
    this.coreEvents++;
    this.drain();
    this.endStep(null);
  }

  /**
   * endStep ends a step of the node: the monitors observe its protocol state
   * (a commit made in the step is then known to them), then the state machine
   * applies the step's committed entries, whose messages are all out (step 3).
   */
  private endStep(cause: Message | null): void {
    this.env.observer.afterStep(this, cause);
    if (this.committed.length === 0) return;
    // One at a time: a step the service starts while applying applies after these, in log order.
    while (this.committed.length > 0) this.apply(this.committed.shift()!);
    const node = this.node;
    if (node !== null) this.maybeSnapshot(node);
  }

  /** drain takes every Ready the node has and starts carrying it out. */
  private drain(): void {
    const node = this.node;
    if (!node) return;
    const failure = node.failure();
    if (failure !== null) {
      this.env.observer.onError(this, failure);
      return;
    }
    while (this.node === node && node.hasReady()) {
      const rd = node.ready();
      this.carryOut(node, rd);
    }
  }

  private carryOut(node: RaftNode, rd: Ready): void {
    const obs = this.env.observer;
    const request = this.voteRequest;
    if (request !== null) {
      for (const m of rd.earlyMessages) if (isGrantTo(m, request)) obs.onVoteGranted(this, request);
      for (const m of rd.messages) if (isGrantTo(m, request)) obs.onVoteGranted(this, request);
    }
    // 1. Early messages go out before the write (thesis §10.2.1).
    for (const m of rd.earlyMessages) {
      obs.onSend(this, m, true);
      this.env.send(m);
    }
    // Read answers need no durability; a confirmed read is served once its index is applied.
    for (const rs of rd.readStates) {
      obs.onReadState(this, rs, this.cause);
      this.service?.readAnswered(rs);
      if (rs.ok) this.confirmedReads.push(rs);
    }
    if (rd.readStates.length > 0) this.serveReads();
    // 3. Committed entries apply at the end of this step, whatever this node's own write,
    // unless behind a snapshot being installed.
    const applyNow = rd.snapshot === null && this.installing === 0;
    if (applyNow && rd.committed.length > 0) this.committed.push(rd.committed);
    if (!applyNow) this.installing++;
    // 2. One atomic write (a received snapshot's install first), after every earlier one;
    // 4. then messages and advance.
    const incarnation = this.incarnation;
    let sync = true;
    this.disk.write(
      this.hardStateToWrite(rd),
      rd.entries,
      () => {
        if (this.node !== node || this.incarnation !== incarnation) return;
        if (!applyNow) this.installing--;
        for (const m of rd.messages) {
          obs.onSend(this, m, false);
          this.env.send(m);
        }
        if (rd.snapshot !== null) {
          this.snapshots.installed++;
          this.restoreSnapshot(rd.snapshot);
        }
        if (!applyNow && rd.committed.length > 0) this.apply(rd.committed);
        // Always: the core decides whether a durable write is news (entries, a new term or vote).
        this.coreEvents++;
        this.guard(() => node.advance(rd));
        if (!applyNow && this.node === node) this.maybeSnapshot(node);
        if (!sync) {
          this.drain();
          this.endStep(null);
        }
      },
      rd.snapshot !== null ? { install: rd.snapshot } : null,
    );
    sync = false;
  }

  /**
   * maybeSnapshot takes a snapshot at the applied index once the policy says
   * the log has grown enough (§7): the core keeps it for followers that need
   * compacted entries and drops the entries it covers (but the last
   * `keepEntries`); the disk stores it, then compacts as far as the core did,
   * in one write behind every earlier one.
   */
  private maybeSnapshot(node: RaftNode): void {
    const policy = this.env.snapshotPolicy;
    if (policy === undefined || this.sinceSnapshot < policy.entries) return;
    const index = this.applied;
    const term = node.raft.log.term(index);
    if (term === undefined) return;
    const data = encodeSnapshot(this.appliedDigest, this.stateMachine?.snapshot() ?? null);
    const pastOwnWrite = node.raft.log.stableIndex < index;
    if (!this.guard(() => node.compact(index, data, policy.keepEntries))) return;
    this.sinceSnapshot = 0;
    this.snapshots.taken++;
    if (pastOwnWrite) this.snapshots.pastOwnWrite++;
    const save = { meta: { index, term }, data };
    this.disk.write(null, [], () => {}, { save, compactTo: node.raft.log.snapshotIndex });
  }

  /**
   * hardStateToWrite is the hard state to write with `rd`: none when only the
   * commit index changed and there is nothing else to write (it waits for the
   * next write), the waiting one when `rd` has entries but no hard state of its own.
   */
  private hardStateToWrite(rd: Ready): HardState | null {
    const hs = rd.hardState ?? this.deferredHardState;
    if (hs === null) return null;
    const stored = this.storedHardState;
    const commitOnly = stored !== null && hs.term === stored.term && hs.vote === stored.vote;
    if (commitOnly && rd.entries.length === 0) {
      this.deferredHardState = hs;
      return null;
    }
    this.deferredHardState = null;
    this.storedHardState = hs;
    return hs;
  }

  private apply(entries: readonly Entry[]): void {
    this.env.observer.onApply(this, entries);
    for (const e of entries) this.applyEntry(e);
    if (this.confirmedReads.length > 0) this.serveReads();
  }

  // ---- the state machine: everything the host does with it is in these two methods ----

  /**
   * resetStateMachine starts an incarnation's state machine empty, at index 0
   * (a boot or a restart: a crash lost the previous one); the latest snapshot
   * and the committed entries the node hands out again rebuild it.
   */
  private resetStateMachine(): void {
    this.applied = 0;
    this.appliedDigest = EMPTY_DIGEST;
    this.sinceSnapshot = 0;
    this.stateMachine = this.env.stateMachine?.(this.id) ?? null;
  }

  /** restoreSnapshot replaces the state machine with a snapshot's (§7): at a restart, or installed from the leader. */
  private restoreSnapshot(snapshot: Snapshot): void {
    const { digest, state } = decodeSnapshot(snapshot.data);
    this.stateMachine?.restore(state);
    this.applied = snapshot.meta.index;
    this.appliedDigest = digest;
    this.sinceSnapshot = 0;
    this.env.observer.onRestore(this, snapshot.meta.index, digest);
    this.service?.restored?.(snapshot.meta.index);
    if (this.confirmedReads.length > 0) this.serveReads();
  }

  /** applyEntry applies one committed entry, in log order (§5.3), and hands its result to the service. */
  private applyEntry(e: Entry): void {
    this.appliedDigest = digestEntry(this.appliedDigest, e);
    this.applied = e.index;
    this.sinceSnapshot++;
    const sm = this.stateMachine;
    const result = sm !== null && e.type === 'normal' ? sm.apply(e.data, e.index) : undefined;
    this.service?.applied(e, result);
  }

  /** serveReads serves every confirmed read whose index the state machine has applied. */
  private serveReads(): void {
    const waiting: ReadState[] = [];
    for (const rs of this.confirmedReads) {
      if (rs.index > this.applied) {
        waiting.push(rs);
        continue;
      }
      this.env.observer.onReadServed(this, {
        ctx: rs.ctx,
        index: rs.index,
        applied: this.applied,
        digest: this.appliedDigest,
      });
      this.service?.readServed(rs.ctx);
    }
    this.confirmedReads = waiting;
  }

  /** guard runs a call into the core, turning a throw into a reported error; true when it returned. */
  private guard(fn: () => void): boolean {
    try {
      fn();
      return true;
    } catch (err) {
      this.env.observer.onError(this, err);
      return false;
    }
  }
}

function isGrantTo(m: Message, request: RequestVote | PreVote): boolean {
  if (m.to !== request.from || m.term !== request.term) return false;
  if (m.type === 'RequestVoteResponse') return m.granted && request.type === 'RequestVote';
  if (m.type === 'PreVoteResponse') return m.granted && request.type === 'PreVote';
  return false;
}
