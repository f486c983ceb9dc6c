import {
  type Actor,
  type ActorOptions,
  type AnyActorLogic,
  createActor,
  type InspectionEvent,
  type Observer,
} from 'xstate';
import { type RaftOptions, resolveConfig } from './config.js';
import { type RaftEvent, raftMachine } from './machine.js';
import type { Message } from './messages.js';
import { type PersistedState, type ProposeResult, Raft } from './raft.js';
import type { Random } from './random.js';
import type { ReadMode } from './read-index.js';
import type { Ready } from './ready.js';
import type { HardState, NodeId, Role } from './types.js';

/** Clock is the timer source the statechart's delayed transitions run on (XState's `clock` option). */
export type Clock = NonNullable<ActorOptions<AnyActorLogic>['clock']>;

/** RaftNodeOptions configures a {@link RaftNode}. */
export interface RaftNodeOptions extends RaftOptions {
  /** Timers: a real clock in the runtime, virtual time in the simulator. */
  readonly clock: Clock;
  /** Randomness for election timeouts: seeded in the simulator. */
  readonly random: Random;
  /** What the server finds in its storage; omitted for a brand-new server. */
  readonly persisted?: PersistedState;
  /** Called when a timer fired and left work for the host (a Ready); never inside the host's own calls. */
  readonly onReady?: () => void;
  /** The host's clock in ms (monotonic), for lease reads (§6.4.1) only; virtual time in the simulator. */
  readonly now?: () => number;
  /** XState inspection observer; off by default, and free when off. */
  readonly inspect?: Observer<InspectionEvent> | ((event: InspectionEvent) => void);
}

/** NodeStatus is a snapshot of one server for display and tests. */
export interface NodeStatus {
  readonly id: NodeId;
  readonly role: Role;
  readonly term: number;
  readonly vote: NodeId | null;
  readonly leaderId: NodeId | null;
  readonly commitIndex: number;
  readonly lastApplied: number;
  readonly lastLogIndex: number;
  readonly lastLogTerm: number;
  readonly stableIndex: number;
  /** The last index the latest snapshot covers (0: none). */
  readonly snapshotIndex: number;
  /** The first index the log holds in memory; older ones are compacted (§7). */
  readonly firstLogIndex: number;
}

/**
 * RaftNode is the host's handle on one Raft server: it feeds events into the
 * role statechart and hands back {@link Ready} values (etcd-io/raft's `Node`,
 * synchronous). It performs no I/O; the host persists, sends and applies.
 *
 * ```ts
 * const node = new RaftNode({ id: 'n1', voters, clock, random, onReady: drain });
 * node.start();
 * node.step(message);            // one event per RPC
 * while (node.hasReady()) { const rd = node.ready(); ...; node.advance(rd); }
 * ```
 */
export class RaftNode {
  /** The protocol state; read-only for hosts (monitors, status displays). */
  readonly raft: Raft;
  private readonly actor: Actor<typeof raftMachine>;
  private failure_: unknown = null;
  /** True while the host is feeding an event in: it drains afterwards by itself. */
  private stepping = false;

  constructor(options: RaftNodeOptions) {
    const config = resolveConfig(options);
    this.raft = new Raft(config, options.random, options.persisted, options.now);
    const onReady = options.onReady;
    this.actor = createActor(raftMachine, {
      input: { raft: this.raft },
      clock: options.clock,
      ...(options.inspect ? { inspect: options.inspect } : {}),
    });
    this.actor.subscribe({
      // A step the host did not feed in was a timer firing: tell the host if it left work.
      next: () => {
        if (!this.stepping && onReady !== undefined && this.hasReady()) onReady();
      },
      error: (err) => {
        this.failure_ = err;
      },
    });
  }

  /** id is this server's id. */
  get id(): NodeId {
    return this.raft.id;
  }

  /** start enters the follower state and starts its election timer; the host drains any Ready after it. */
  start(): this {
    this.stepping = true;
    try {
      this.actor.start();
    } finally {
      this.stepping = false;
    }
    this.check();
    return this;
  }

  /** stop halts the statechart and cancels its timers; the node takes no more events. */
  stop(): void {
    this.actor.stop();
  }

  /** step delivers one RPC (§5). Messages addressed to another server are refused. */
  step(m: Message): void {
    if (m.to !== this.raft.id) throw new Error(`message for ${m.to} delivered to ${this.raft.id}`);
    this.send(m);
  }

  /**
   * propose is Raft's Start(): on the leader, append the commands as one batch
   * and begin replicating them; returns at once, before they commit.
   */
  propose(commands: readonly Uint8Array[]): ProposeResult {
    if (commands.length === 0) throw new RangeError('propose needs at least one command');
    if (this.actor.getSnapshot().status !== 'active') throw new Error(`${this.raft.id} is stopped`);
    this.raft.lastProposal = null;
    this.send({ type: 'Propose', commands });
    return this.raft.lastProposal!;
  }

  /** transferLeadership asks the leader to hand over to `to` once it is caught up (§3.10). */
  transferLeadership(to: NodeId): void {
    this.send({ type: 'TransferLeadership', to });
  }

  /**
   * readIndex asks the leader to confirm a read (thesis §6.4): its answer
   * comes in a later Ready's `readStates` under `ctx`. One request may stand
   * for every read the host gathered in a turn. A follower answers `ok: false`.
   */
  readIndex(ctx: number, mode: ReadMode = 'safe'): void {
    this.send({ type: 'ReadIndex', ctx, mode });
  }

  /** hasReady tells whether the host has work: something to persist, send or apply. */
  hasReady(): boolean {
    const r = this.raft;
    return (
      r.messages.length > 0 ||
      r.earlyMessages.length > 0 ||
      r.log.hasUnpersisted() ||
      r.log.hasCommitted() ||
      r.readStates.length > 0 ||
      r.pendingSnapshot !== null ||
      r.hardStateChanged()
    );
  }

  /** ready collects the work accumulated since the last call; see {@link Ready} for the order to follow. */
  ready(): Ready {
    const r = this.raft;
    const rd: Ready = {
      hardState: r.takeHardState(),
      snapshot: r.pendingSnapshot,
      entries: r.log.takeUnpersisted(),
      earlyMessages: r.earlyMessages,
      messages: r.messages,
      committed: r.log.takeCommitted(),
      readStates: r.readStates,
    };
    r.earlyMessages = [];
    r.messages = [];
    r.readStates = [];
    r.pendingSnapshot = null;
    return rd;
  }

  /**
   * advance tells the core that `rd`'s hard state and entries are durable.
   * It costs an event only when that matters: new entries (a leader counts
   * its own copy towards commit) or a new term or vote (a candidate counts its
   * own vote); a hard state that differs only in its commit index is noted silently.
   */
  advance(rd: Ready): void {
    const r = this.raft;
    const hs = rd.hardState;
    const last = rd.entries[rd.entries.length - 1];
    if (last === undefined && (hs === null || (hs.term === r.durable.term && hs.vote === r.durable.vote))) {
      if (hs !== null) r.durable = hs;
      return;
    }
    this.send({ type: 'Persisted', index: last?.index ?? 0, term: last?.term ?? 0, hardState: hs });
  }

  /**
   * compact tells the core that the host saved `data`, a snapshot of the
   * state machine at applied index `index` (§7): the core keeps it to bring
   * lagging followers up to date (InstallSnapshot) and drops the entries up
   * to `index - keepEntries` from memory. Keeping some entries lets followers
   * that lag a little catch up by AppendEntries instead. The host compacts its
   * storage the same way. An older snapshot than the latest is ignored.
   */
  compact(index: number, data: Uint8Array, keepEntries = 0): void {
    const r = this.raft;
    const log = r.log;
    if (!Number.isInteger(index) || index < 0 || index > log.applied) {
      throw new RangeError(
        `compact(${index}): the snapshot must be at an applied index (applied ${log.applied})`,
      );
    }
    if (!(Number.isInteger(keepEntries) && keepEntries >= 0)) {
      throw new RangeError(`compact: keepEntries must be a non-negative integer, got ${keepEntries}`);
    }
    if (index <= (r.snapshot?.meta.index ?? 0)) return;
    const term = log.term(index);
    if (term === undefined) {
      throw new RangeError(
        `compact(${index}): entry ${index} is already compacted (at ${log.snapshotIndex})`,
      );
    }
    r.snapshot = { meta: { index, term }, data };
    log.compact(Math.max(log.snapshotIndex, index - keepEntries));
  }

  /** hardState is the current persistent state. */
  hardState(): HardState {
    return this.raft.hardState();
  }

  /** status is a snapshot of this server for display. */
  status(): NodeStatus {
    const r = this.raft;
    return {
      id: r.id,
      role: r.role,
      term: r.term,
      vote: r.vote,
      leaderId: r.leaderId,
      commitIndex: r.log.committed,
      lastApplied: r.log.applied,
      lastLogIndex: r.log.lastIndex(),
      lastLogTerm: r.log.lastTerm(),
      stableIndex: r.log.stableIndex,
      snapshotIndex: r.snapshot?.meta.index ?? 0,
      firstLogIndex: r.log.firstIndex(),
    };
  }

  /**
   * failure is the error that stopped the statechart (an impossible state,
   * such as two leaders in one term), or null while it runs normally. A failure
   * inside a timer cannot be thrown to the host, so hosts check it after timers.
   */
  failure(): unknown {
    return this.failure_;
  }

  /** stateValue is the statechart's current state (e.g. `{ follower: 'leaderRecent' }`). */
  stateValue(): unknown {
    return this.actor.getSnapshot().value;
  }

  private send(event: RaftEvent): void {
    this.check();
    this.stepping = true;
    try {
      this.actor.send(event);
    } finally {
      this.stepping = false;
    }
    this.check();
  }

  /** check rethrows a failure of the statechart (an impossible state), synchronously, to the host. */
  private check(): void {
    if (this.failure_ !== null) throw this.failure_;
  }
}
