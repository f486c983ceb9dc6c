import { getHeapStatistics } from 'node:v8';
import {
  type Clock,
  type Entry,
  type HardState,
  type Message,
  type NodeId,
  type PersistedState,
  type ProposeResult,
  type RaftConfig,
  RaftNode,
  type Random,
  type ReadMode,
  type Ready,
} from '@xraft/core';
import type { Storage } from '@xraft/storage';
import type { InspectionEvent } from 'xstate';
import type { NodeReport } from './control.js';
import type { Mailbox } from './mailbox.js';
import type { AppliedCommand } from './protocol.js';
import type { SnapshotPolicy } from './snapshot-policy.js';
import type { StateMachine } from './state-machine.js';
import type { StatusCell } from './status.js';

/** NodeHostOptions configures a {@link NodeHost}. */
export interface NodeHostOptions
  extends Pick<RaftConfig, 'id' | 'voters' | 'electionTimeoutMs' | 'heartbeatIntervalMs'>,
    Partial<Pick<RaftConfig, 'maxClockDriftMs'>> {
  readonly storage: Storage;
  readonly stateMachine: StateMachine;
  /** When to snapshot the state machine and compact the log (§7). */
  readonly snapshotPolicy: SnapshotPolicy;
  readonly mailbox: Mailbox;
  /** The election-timeout randomness (seeded from `crypto` by the worker). */
  readonly random: Random;
  readonly seed: number;
  readonly incarnation: number;
  /** Where the host publishes its status after every turn. */
  readonly status: StatusCell;
  /** Whether anyone listens to applies: {@link onApplied} is called only then. */
  readonly watchingApplies: () => boolean;
  /** Receives the command entries applied in one turn, in log order. */
  readonly onApplied: (commands: AppliedCommand[]) => void;
  /**
   * Called after a turn or timer that changed the leader this node knows of
   * (itself when it leads; null during an election): the KV server holds
   * requests while it is null (thesis §6.2). None by default.
   */
  readonly onLeaderChange?: (leaderId: NodeId | null) => void;
  /** XState inspection observer of the node's statechart (inspection.ts); none by default. */
  readonly inspect?: (event: InspectionEvent) => void;
  /** Called when the node cannot go on (a failed write, an impossible state): it must end the worker. */
  readonly onFatal: (error: unknown) => void;
}

interface Proposal {
  readonly command: Uint8Array;
  resolve(result: ProposeResult): void;
  reject(error: unknown): void;
  /** Set by {@link NodeHost.propose}: the caller waits for the entry's apply result. */
  readonly applied?: Waiter<unknown>;
}

interface Waiter<T> {
  resolve(value: T): void;
  reject(error: unknown): void;
}

/** AwaitedEntry is a proposed entry whose proposer waits for its apply result. */
interface AwaitedEntry extends Waiter<unknown> {
  readonly term: number;
}

/** A batch of reads confirmed at `index`, waiting for the state machine to apply it. */
interface ConfirmedReads {
  readonly index: number;
  readonly waiters: readonly Waiter<void>[];
}

/** NotLeaderError: this node cannot serve the request as leader (not leader, or leadership lost). */
export class NotLeaderError extends Error {
  constructor(
    readonly node: NodeId,
    readonly leaderId: NodeId | null,
    what: string,
  ) {
    super(`${node} ${what}${leaderId === null ? '' : ` (leader: ${leaderId})`}`);
    this.name = 'NotLeaderError';
  }
}

/**
 * NodeHost runs one Raft server inside a node worker with real I/O, following
 * the Ready contract of `@xraft/core` (ready.ts) as the simulator's host does:
 *
 * 1. send `earlyMessages` at once (the leader's replication, thesis §10.2.1);
 * 2. hand `hardState` + `entries` to storage as one write, issued in Ready
 *    order; storage group-commits writes issued while a sync is in flight, so
 *    several Readies may be in flight at once. A hard state that differs
 *    only in its commit index is not written alone: the commit index is
 *    volatile state (Figure 2), so it rides along with the next write;
 * 3. apply `committed` in order at the end of the turn, once its messages
 *    are out (§5.3): a committed entry is durable on a majority already, so
 *    applying it need not wait for this node's write (etcd-io/raft's
 *    asynchronous storage writes); only a snapshot from the leader, and every
 *    Ready behind it, applies after the install is durable;
 * 4. once that write (and every earlier one) is durable: send `messages`
 *    (votes and acknowledgements promise durable state, §5.2/§5.3), then `advance`.
 *
 * A turn (an input batch, a timer, a completed write, a batch of proposals)
 * drains every Ready the node has, then flushes the mailbox, so each peer gets
 * at most one `postMessage` per turn, and publishes the status.
 */
export class NodeHost {
  /** The running server, once {@link start} has loaded storage. */
  node: RaftNode | null = null;
  /** Highest index the state machine reflects (restored from the latest snapshot on restart, then replayed). */
  applied = 0;
  /** Entries and payload bytes applied since the latest snapshot: what the next compaction would free. */
  private sinceSnapshot = { entries: 0, bytes: 0 };
  /** Snapshots taken and installed by this incarnation. */
  snapshots = { taken: 0, installed: 0 };
  /** Readies handed to storage whose completion has not run yet. */
  private inflight = 0;
  /** Completion of the last Ready handed out: each waits for the previous one (writes resolve in order). */
  private chain: Promise<void> = Promise.resolve();
  /** A commit-only hard state not written yet: it goes with the next write (step 2). */
  private deferredHardState: HardState | null = null;
  /** The term and vote last handed to storage. */
  private storedHardState: HardState | null = null;
  /** Readies carrying a snapshot from the leader not yet installed: later Readies apply after them. */
  private installing = 0;
  /** Committed entries of this turn's Readies, applied once its messages are out (step 3). */
  private readonly committed: Array<readonly Entry[]> = [];
  private proposals: Proposal[] = [];
  /** Proposed entries whose proposers wait for their apply result, by index. */
  private readonly awaited = new Map<number, AwaitedEntry>();
  /** Reads gathered this turn, per mode: one ReadIndex request each. */
  private readonly gathered: Record<ReadMode, Waiter<void>[]> = { safe: [], lease: [] };
  private readScheduled = false;
  private lastReadCtx = 0;
  /** ReadIndex requests sent to the core, by ctx. */
  private readonly readBatches = new Map<number, Waiter<void>[]>();
  /** Reads confirmed by the leader, waiting for the state machine to catch up, in index order. */
  private confirmed: ConfirmedReads[] = [];
  private turnScheduled = false;
  private inTurn = false;
  private stopped = false;
  private readonly clock: Clock;
  /** The leader last reported to {@link NodeHostOptions.onLeaderChange}. */
  private knownLeader: NodeId | null = null;

  constructor(private readonly options: NodeHostOptions) {
    // The real clock of the worker; after each timer, rethrow a failure of the statechart and publish
    // the status (a timer can change the role without leaving a Ready, e.g. CheckQuorum's step-down).
    this.clock = {
      setTimeout: (fn: (...args: unknown[]) => void, ms: number) =>
        setTimeout(() => {
          fn();
          this.afterTimer();
        }, ms),
      clearTimeout: (t: ReturnType<typeof setTimeout>) => clearTimeout(t),
    };
  }

  /**
   * start loads storage, restores the state machine from the latest snapshot
   * (§7) and replays the committed entries after it (they come back in the
   * first Readies), starts the node and begins taking input from the mailbox.
   */
  async start(): Promise<PersistedState> {
    const o = this.options;
    const persisted = await o.storage.load();
    this.storedHardState = persisted.hardState;
    const compactedTo = persisted.snapshot?.index ?? 0;
    const snapshot = await o.storage.loadSnapshot();
    const snapshotIndex = snapshot?.meta.index ?? 0;
    if (snapshotIndex < compactedTo) {
      throw new Error(`${o.id}: the log starts after ${compactedTo} but no snapshot covers it`);
    }
    if (snapshot !== null) o.stateMachine.restore(snapshot.data);
    this.applied = snapshotIndex;
    const node = new RaftNode({
      id: o.id,
      voters: o.voters,
      electionTimeoutMs: o.electionTimeoutMs,
      heartbeatIntervalMs: o.heartbeatIntervalMs,
      clock: this.clock,
      now: () => performance.now(),
      random: o.random,
      ...(o.maxClockDriftMs !== undefined ? { maxClockDriftMs: o.maxClockDriftMs } : {}),
      persisted: {
        ...persisted,
        applied: snapshotIndex,
        ...(snapshot !== null ? { latestSnapshot: snapshot } : {}),
      },
      onReady: () => this.scheduleTurn(),
      ...(o.inspect ? { inspect: o.inspect } : {}),
    });
    this.node = node;
    this.guard(() => node.start());
    o.mailbox.listen((_from, messages) => this.receive(messages));
    this.turn();
    return persisted;
  }

  /** receive steps one batch of RPCs from a peer, one event each (§5: one event per RPC), then takes a turn. */
  receive(messages: readonly Message[]): void {
    const node = this.node;
    if (node === null || this.stopped) return;
    this.guard(() => {
      for (const m of messages) node.step(m);
    });
    this.turn();
  }

  /**
   * submit is Raft's Start() for one command. Commands submitted in the same
   * turn of the event loop go to the core as one Propose (one batch of entries).
   */
  submit(command: Uint8Array): Promise<ProposeResult> {
    if (this.node === null || this.stopped)
      return Promise.reject(new Error(`${this.options.id} is not running`));
    return new Promise((resolve, reject) => {
      this.proposals.push({ command, resolve, reject });
      if (this.proposals.length === 1) setImmediate(() => this.proposeBatch());
    });
  }

  /**
   * propose is Start() plus waiting (§5.3, thesis §6.3): the command's entry is
   * appended (batched with the turn's other proposals) and the promise
   * resolves with what the state machine's `apply` returned for it. It rejects
   * with {@link NotLeaderError} when this node does not lead, and with an error
   * when the entry was replaced by another leader's (it will never apply).
   */
  propose(command: Uint8Array): Promise<unknown> {
    if (this.node === null || this.stopped)
      return Promise.reject(new Error(`${this.options.id} is not running`));
    return new Promise((resolve, reject) => {
      this.proposals.push({
        command,
        resolve: (r) => {
          if (!r.isLeader) reject(new NotLeaderError(this.options.id, r.leaderId, 'is not the leader'));
        },
        reject,
        applied: { resolve, reject },
      });
      if (this.proposals.length === 1) setImmediate(() => this.proposeBatch());
    });
  }

  /**
   * read resolves once a read issued now may be served from the state
   * machine, linearizably (ReadIndex, thesis §6.4; `lease`: §6.4.1 within the
   * lease). Reads of one turn share one request. Rejects with
   * {@link NotLeaderError} when this node does not lead or loses leadership first.
   */
  read(mode: ReadMode): Promise<void> {
    if (this.node === null || this.stopped)
      return Promise.reject(new Error(`${this.options.id} is not running`));
    return new Promise((resolve, reject) => {
      this.gathered[mode].push({ resolve, reject });
      if (!this.readScheduled) {
        this.readScheduled = true;
        setImmediate(() => this.readBatch());
      }
    });
  }

  /** transferLeadership asks the node, if it leads, to hand over to `to` (§3.10). */
  transferLeadership(to: NodeId): void {
    const node = this.node;
    if (node === null || this.stopped) throw new Error(`${this.options.id} is not running`);
    this.guard(() => node.transferLeadership(to));
    this.turn();
  }

  /** report is this node's full status. */
  report(): NodeReport {
    const node = this.node;
    if (node === null) throw new Error(`${this.options.id} has not started`);
    return {
      ...node.status(),
      stateValue: node.stateValue(),
      incarnation: this.options.incarnation,
      seed: this.options.seed,
      applied: this.applied,
      logEntries: node.status().lastLogIndex - node.status().firstLogIndex + 1,
      snapshotsTaken: this.snapshots.taken,
      snapshotsInstalled: this.snapshots.installed,
      heapUsedBytes: getHeapStatistics().used_heap_size,
      wireErrors: this.options.mailbox.errors.snapshot(),
      inflightWrites: this.inflight,
    };
  }

  /** stop halts the node (no more input, timers or sends) and waits for writes in flight, then closes storage. */
  async stop(): Promise<void> {
    if (this.stopped) return;
    this.stopped = true;
    this.node?.stop();
    const stopping = new Error(`${this.options.id} is stopping`);
    for (const p of this.proposals.splice(0)) p.reject(stopping);
    this.failWaiters(stopping);
    await this.chain;
    await this.options.storage.close();
  }

  private proposeBatch(): void {
    const batch = this.proposals.splice(0);
    const node = this.node;
    if (batch.length === 0) return;
    if (node === null || this.stopped) {
      for (const p of batch) p.reject(new Error(`${this.options.id} is not running`));
      return;
    }
    let result: ProposeResult | null = null;
    this.guard(() => {
      result = node.propose(batch.map((p) => p.command));
    });
    const r = result as ProposeResult | null;
    if (r === null) {
      for (const p of batch) p.reject(new Error(`${this.options.id} failed`));
      return;
    }
    batch.forEach((p, i) => {
      if (r.isLeader && p.applied !== undefined)
        this.awaited.set(r.index + i, { term: r.term, ...p.applied });
      p.resolve(r.isLeader ? { ...r, index: r.index + i } : r);
    });
    this.turn();
  }

  private readBatch(): void {
    this.readScheduled = false;
    const node = this.node;
    for (const mode of ['safe', 'lease'] as const) {
      const waiters = this.gathered[mode].splice(0);
      if (waiters.length === 0) continue;
      if (node === null || this.stopped) {
        for (const w of waiters) w.reject(new Error(`${this.options.id} is not running`));
        continue;
      }
      const ctx = ++this.lastReadCtx;
      this.readBatches.set(ctx, waiters);
      this.guard(() => node.readIndex(ctx, mode));
    }
    this.turn();
  }

  /** answerReads takes the core's ReadStates: refused reads fail, confirmed ones wait for the apply index. */
  private answerReads(states: Ready['readStates']): void {
    for (const s of states) {
      const waiters = this.readBatches.get(s.ctx);
      if (waiters === undefined) continue;
      this.readBatches.delete(s.ctx);
      if (!s.ok) {
        const r = this.node!.raft;
        const error = new NotLeaderError(this.options.id, r.leaderId, 'could not confirm its leadership');
        for (const w of waiters) w.reject(error);
      } else this.confirmed.push({ index: s.index, waiters });
    }
    this.releaseReads();
  }

  /** releaseReads serves the confirmed reads whose index the state machine has applied. */
  private releaseReads(): void {
    let served = 0;
    for (const c of this.confirmed) {
      if (c.index > this.applied) break;
      for (const w of c.waiters) w.resolve();
      served++;
    }
    if (served > 0) this.confirmed.splice(0, served);
  }

  /** failWaiters rejects every proposer and reader still waiting. */
  private failWaiters(error: Error): void {
    for (const w of this.awaited.values()) w.reject(error);
    this.awaited.clear();
    for (const mode of ['safe', 'lease'] as const)
      for (const w of this.gathered[mode].splice(0)) w.reject(error);
    for (const waiters of this.readBatches.values()) for (const w of waiters) w.reject(error);
    this.readBatches.clear();
    for (const c of this.confirmed.splice(0)) for (const w of c.waiters) w.reject(error);
  }

  private scheduleTurn(): void {
    if (this.turnScheduled) return;
    this.turnScheduled = true;
    queueMicrotask(() => {
      this.turnScheduled = false;
      this.turn();
    });
  }

  private afterTimer(): void {
    const node = this.node;
    if (node === null || this.stopped) return;
    const failure = node.failure();
    if (failure !== null) {
      this.fatal(failure);
      return;
    }
    this.publish();
  }

  /** turn drains every Ready, flushes the mailbox and publishes the status. */
  private turn(): void {
    const node = this.node;
    if (node === null || this.stopped || this.inTurn) return;
    this.inTurn = true;
    try {
      while (node.hasReady()) this.carryOut(node, node.ready());
      this.options.mailbox.flush();
      // After the flush: the commit index reaches the followers before anything is applied here.
      if (this.committed.length > 0) {
        for (const entries of this.committed.splice(0)) this.apply(entries);
        this.maybeSnapshot(node);
      }
      this.publish();
    } finally {
      this.inTurn = false;
    }
  }

  private carryOut(node: RaftNode, rd: Ready): void {
    const { mailbox, storage } = this.options;
    // ReadStates need no durability (thesis §6.4).
    if (rd.readStates.length > 0) this.answerReads(rd.readStates);
    // 1. Early messages may leave before the write (thesis §10.2.1).
    mailbox.post(rd.earlyMessages);
    const hardState = this.hardStateToWrite(rd);
    const writes = rd.snapshot !== null || hardState !== null || rd.entries.length > 0;
    // 3. committed entries apply at the end of this turn, unless behind a snapshot being installed;
    const applyNow = rd.snapshot === null && this.installing === 0;
    if (applyNow && rd.committed.length > 0) this.committed.push(rd.committed);
    if (!writes && this.inflight === 0) {
      // Nothing to wait for: carry it out in this turn, so its messages share this turn's batches.
      this.complete(node, rd, applyNow);
      return;
    }
    // 2. One write per Ready (a received snapshot's install first), issued in order;
    const install = rd.snapshot !== null ? storage.installSnapshot(rd.snapshot) : null;
    install?.catch(() => {});
    const persist =
      hardState !== null || rd.entries.length > 0 ? storage.persist(hardState, rd.entries) : null;
    const write: Promise<unknown> | null =
      install === null ? persist : persist === null ? install : Promise.all([install, persist]);
    write?.catch(() => {}); // Observed through the chain below; this only keeps it from counting as unhandled.
    if (!applyNow) this.installing++;
    // 4. completion strictly after every earlier one.
    this.inflight++;
    this.chain = this.chain
      .then(() => write)
      .then(
        () => {
          this.inflight--;
          if (this.stopped || this.node !== node) return;
          if (!applyNow) this.installing--;
          this.complete(node, rd, applyNow);
          this.turn();
        },
        (err: unknown) => this.fatal(err),
      );
  }

  /**
   * hardStateToWrite is the hard state to persist with `rd`: none when only
   * the commit index changed and there is nothing else to write (it is
   * deferred to the next write), the deferred one when `rd` has entries but
   * no hard state of its own.
   */
  private hardStateToWrite(rd: Ready): HardState | null {
    const hs = rd.hardState ?? this.deferredHardState;
    if (hs === null) return null;
    const stored = this.storedHardState;
    const commitOnly = stored !== null && hs.term === stored.term && hs.vote === stored.vote;
    if (commitOnly && rd.entries.length === 0 && rd.snapshot === null) {
      this.deferredHardState = hs;
      return null;
    }
    this.deferredHardState = null;
    this.storedHardState = hs;
    return hs;
  }

  /**
   * complete carries out `rd` once its `snapshot`, `hardState` and `entries`
   * are durable; `applying`: its committed entries are the turn's to apply.
   */
  private complete(node: RaftNode, rd: Ready, applying: boolean): void {
    this.options.mailbox.post(rd.messages);
    if (rd.snapshot !== null) this.restore(rd.snapshot);
    if (!applying) this.apply(rd.committed);
    this.guard(() => node.advance(rd));
    if (!applying) this.maybeSnapshot(node);
  }

  /**
   * restore replaces the state machine with a snapshot received from the
   * leader (§7). Proposers waiting for entries it covers cannot learn their
   * results: they fail, and a client retries with the same sequence number
   * (its session, in the snapshot, answers the retry).
   */
  private restore(snapshot: NonNullable<Ready['snapshot']>): void {
    const { index } = snapshot.meta;
    this.options.stateMachine.restore(snapshot.data);
    this.applied = index;
    this.sinceSnapshot = { entries: 0, bytes: 0 };
    this.snapshots.installed++;
    for (const [i, w] of this.awaited) {
      if (i > index) continue;
      this.awaited.delete(i);
      w.reject(new Error(`${this.options.id}: entry ${i} was overtaken by a snapshot from the leader`));
    }
    this.releaseReads();
  }

  /**
   * maybeSnapshot takes a snapshot at the applied index once the policy says
   * the log has grown enough (§7): it is saved, then storage and the core
   * drop the entries it covers (but the last `keepEntries`). Storage applies
   * writes in call order, so no wait is needed before compacting.
   */
  private maybeSnapshot(node: RaftNode): void {
    const policy = this.options.snapshotPolicy;
    const since = this.sinceSnapshot;
    if (since.entries < policy.entries && since.bytes < policy.bytes) return;
    const index = this.applied;
    const term = node.raft.log.term(index);
    if (term === undefined) return;
    const data = this.options.stateMachine.snapshot();
    const storage = this.options.storage;
    const saved = storage.saveSnapshot({ meta: { index, term }, data });
    this.guard(() => node.compact(index, data, policy.keepEntries));
    const compacted = storage.compact(node.raft.log.snapshotIndex);
    this.sinceSnapshot = { entries: 0, bytes: 0 };
    this.snapshots.taken++;
    Promise.all([saved, compacted]).catch((err: unknown) => this.fatal(err));
  }

  /** apply runs committed entries through the state machine in log order and reports the commands (§5.3). */
  private apply(entries: readonly Entry[]): void {
    if (entries.length === 0) return;
    const sm = this.options.stateMachine;
    const commands: AppliedCommand[] | null = this.options.watchingApplies() ? [] : null;
    for (const e of entries) {
      if (e.index !== this.applied + 1) {
        throw new Error(`${this.options.id}: entry ${e.index} to apply does not follow ${this.applied}`);
      }
      let result: unknown;
      if (e.type === 'normal') {
        result = sm.apply(e.data, e.index);
        commands?.push({ index: e.index, command: e.data });
      }
      this.applied = e.index;
      this.sinceSnapshot.entries++;
      this.sinceSnapshot.bytes += e.data.byteLength;
      const waiter = this.awaited.get(e.index);
      if (waiter !== undefined) {
        this.awaited.delete(e.index);
        if (waiter.term === e.term) waiter.resolve(result);
        else
          waiter.reject(new Error(`${this.options.id}: entry ${e.index} was replaced by a later leader's`));
      }
    }
    if (commands !== null && commands.length > 0) this.options.onApplied(commands);
    this.releaseReads();
  }

  private publish(): void {
    const r = this.node!.raft;
    if (r.leaderId !== this.knownLeader) {
      this.knownLeader = r.leaderId;
      this.options.onLeaderChange?.(r.leaderId);
    }
    this.options.status.write({
      role: r.role,
      term: r.term,
      leader: r.leaderId === null ? -1 : this.options.voters.indexOf(r.leaderId),
      commitIndex: r.log.committed,
      lastApplied: this.applied,
      lastLogIndex: r.log.lastIndex(),
    });
  }

  /** guard runs a call into the core; a throw means an impossible state, which ends the worker. */
  private guard(fn: () => void): void {
    try {
      fn();
    } catch (err) {
      this.fatal(err);
    }
  }

  private fatal(error: unknown): void {
    if (this.stopped) return;
    this.stopped = true;
    this.failWaiters(new Error(`${this.options.id} failed`));
    this.options.onFatal(error);
  }
}
