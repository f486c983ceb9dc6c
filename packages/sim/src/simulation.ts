import { DEFAULT_CONFIG, type Entry, type Message, type NodeId, type RaftOptions } from '@xraft/core';
import { KvStateMachine, type Value } from '@xraft/kv';
import { FAST_DISK } from './disk.js';
import {
  FAULT_PROFILES,
  FAULTS_OPTIONS,
  type FaultProfileName,
  type FaultsOption,
  profileFor,
} from './faults.js';
import { decodeSnapshot, type HostEnv, type HostObserver, NodeHost, type SnapshotPolicy } from './host.js';
import { checkKv, type KvCheckSummary } from './kv-check.js';
import { describeEntry } from './kv-server.js';
import { DEFAULT_KV_WORKLOAD, KvWorkload, type KvWorkloadOptions, type SimKvStats } from './kv-workload.js';
import { Monitor, type MonitorOptions, type Violation } from './monitors.js';
import { Nemesis, type NemesisStats } from './nemesis.js';
import { Network, type NetworkStats, RELIABLE_NETWORK } from './network.js';
import { ReadMonitor } from './reads.js';
import { mixSeed, Rng } from './rng.js';
import { Scheduler } from './scheduler.js';
import { type SimEvent, Trace } from './trace.js';
import { DEFAULT_WORKLOAD, Workload, type WorkloadOptions } from './workload.js';

/** The core options a simulation may set (everything but id and voters). */
export type SimRaftOptions = Omit<Partial<RaftOptions>, 'id' | 'voters'>;

/** SimOptions configures one simulated run. Every field has a default. */
export interface SimOptions {
  /** Cluster size, 1–9 (default 5). */
  readonly nodes?: number;
  /** Fault intensity (default `mixed`: each seed draws none, light or heavy). */
  readonly faults?: FaultsOption;
  /** Virtual milliseconds of faults and client traffic before everything heals (default 10 000). */
  readonly durationMs?: number;
  /** Virtual milliseconds the healed cluster has to elect a leader and commit (default 10 000). */
  readonly livenessTimeoutMs?: number;
  /** Run the liveness check after healing (default true). */
  readonly liveness?: boolean;
  /**
   * Draw PreVote, CheckQuorum, flow-control limits and the clock-drift bound
   * of lease reads from the seed (default true), so that seeds cover the
   * core's configurations; `raft` overrides.
   */
  readonly varyConfig?: boolean;
  /** Core options for every node, applied over the drawn ones. */
  readonly raft?: SimRaftOptions;
  /**
   * When servers snapshot their state machines and compact their logs (§7):
   * never with false; by default drawn from the seed with `varyConfig`
   * (never in some seeds), else never.
   */
  readonly snapshots?: false | SnapshotPolicy;
  /**
   * Client traffic of opaque commands and reads (default {@link
   * DEFAULT_WORKLOAD}; in the KV workload, none unless asked for here).
   */
  readonly workload?: Partial<WorkloadOptions>;
  /**
   * The KV workload (default off): every server runs the KV state machine and
   * a KV server, KV clients call it concurrently through the simulated
   * network, and the run's history is checked for linearizability and
   * exactly-once at the end (kv-workload.ts). `true` for the defaults ({@link
   * DEFAULT_KV_WORKLOAD}), or the options to change.
   */
  readonly kv?: boolean | Partial<KvWorkloadOptions>;
  /** Events the trace ring keeps (default 2000). */
  readonly traceCapacity?: number;
  /** Trace lines included in a result: always on failure, and on success when `keepTrace` (default 40). */
  readonly traceLines?: number;
  /** Include trace lines in a successful result too (default false). */
  readonly keepTrace?: boolean;
  /** Steps of one node between full log comparisons by the monitors (default 64). */
  readonly deepCheckEvery?: number;
  /** Stop the run at the first violation (default true). */
  readonly stopOnViolation?: boolean;
  /**
   * Check the rules of Figure 2 directly, not only the five safety properties
   * (default true); see {@link MonitorOptions.rules}.
   */
  readonly rules?: boolean;
  /** Receives every event of the run as it happens: elections, commits, faults, messages. */
  readonly onEvent?: (e: SimEvent) => void;
}

/** ResolvedSimOptions is {@link SimOptions} with the defaults filled in and the seed's draws made. */
export interface ResolvedSimOptions {
  readonly nodes: number;
  readonly faults: FaultsOption;
  readonly profile: FaultProfileName;
  readonly durationMs: number;
  readonly livenessTimeoutMs: number;
  readonly liveness: boolean;
  readonly varyConfig: boolean;
  readonly raft: SimRaftOptions;
  /** The snapshot policy of every server, or null: none taken. */
  readonly snapshots: SnapshotPolicy | null;
  readonly workload: WorkloadOptions;
  /** The KV workload, or null when off. */
  readonly kv: KvWorkloadOptions | null;
  readonly traceCapacity: number;
  readonly traceLines: number;
  readonly keepTrace: boolean;
  readonly deepCheckEvery: number;
  readonly stopOnViolation: boolean;
  readonly rules: boolean;
}

/** SimStats is what one run did. */
export interface SimStats {
  /** Virtual milliseconds simulated. */
  virtualMs: number;
  /** Scheduler tasks run: deliveries, timers, disk completions, client requests, faults. */
  steps: number;
  /** Events fed to the Raft cores (each one XState event or more). */
  coreEvents: number;
  /** Terms that had a leader. */
  elections: number;
  /** Entries committed (the highest committed index). */
  committed: number;
  /** Client requests, accepted and rejected. */
  proposals: number;
  accepted: number;
  reads: SimReadStats;
  messages: NetworkStats;
  /** Disk writes made durable. */
  writes: number;
  /** Snapshots taken (`pastOwnWrite`: past the node's own write in flight) and installed from a leader (§7). */
  snapshots: { taken: number; pastOwnWrite: number; installed: number };
  faults: NemesisStats;
  /** Virtual milliseconds from healing to a committed and applied fresh command (liveness), or -1. */
  recoveryMs: number;
  /** What the KV clients did (null without the KV workload). */
  kv: SimKvStats | null;
}

/** SimReadStats counts the client reads of a run (ReadIndex and lease reads, thesis §6.4). */
export interface SimReadStats {
  /** Reads clients sent. */
  issued: number;
  /** Answered ok and served from a state machine: each one checked for linearizability. */
  served: number;
  /** Answered not ok (not the leader, or leadership lost before confirming). */
  refused: number;
  /** Served lease reads that skipped the heartbeat round (thesis §6.4.1). */
  leased: number;
  /** Neither served nor refused: the server was down or crashed first, or the run ended. */
  unanswered: number;
}

/** SimResult is the outcome of one run. */
export interface SimResult {
  readonly seed: number;
  readonly ok: boolean;
  readonly violations: readonly Violation[];
  readonly stats: SimStats;
  readonly options: ResolvedSimOptions;
  /** Digest of every event of the run: equal for two runs of the same seed and options. */
  readonly traceHash: number;
  /** The last trace lines, readable (on failure, or when `keepTrace`). */
  readonly trace: readonly string[];
  /**
   * The linearizability check of the KV workload's history (null without the
   * KV workload, or when the run stopped before its end). Its times are wall
   * clock, so it stays out of `stats` and of the determinism check.
   */
  readonly kvCheck: KvCheckSummary | null;
}

/** MAX_NODES is the largest cluster a simulation runs. */
export const MAX_NODES = 9;

/** resolveOptions fills in defaults, draws the seed's configuration, and rejects bad options with a clear message. */
export function resolveOptions(seed: number, options: SimOptions = {}): ResolvedSimOptions {
  const nodes = options.nodes ?? 5;
  if (!Number.isInteger(nodes) || nodes < 1 || nodes > MAX_NODES) {
    throw new RangeError(`nodes must be an integer from 1 to ${MAX_NODES}, got ${nodes}`);
  }
  const faults = options.faults ?? 'mixed';
  if (!FAULTS_OPTIONS.includes(faults)) {
    throw new RangeError(`faults must be one of ${FAULTS_OPTIONS.join(', ')}, got ${String(faults)}`);
  }
  const durationMs = options.durationMs ?? 10_000;
  if (!(Number.isFinite(durationMs) && durationMs >= 0))
    throw new RangeError(`durationMs must be >= 0, got ${durationMs}`);
  const livenessTimeoutMs = options.livenessTimeoutMs ?? 10_000;
  if (!(Number.isFinite(livenessTimeoutMs) && livenessTimeoutMs > 0)) {
    throw new RangeError(`livenessTimeoutMs must be > 0, got ${livenessTimeoutMs}`);
  }
  if (!Number.isInteger(seed) || seed < 0 || seed > 0xffffffff) {
    throw new RangeError(`seed must be an integer from 0 to ${0xffffffff}, got ${seed}`);
  }
  const draw = new Rng(mixSeed(seed, 6));
  const profile = profileFor(faults, draw.next()).name;
  const varyConfig = options.varyConfig ?? true;
  const drawn: SimRaftOptions = varyConfig
    ? {
        preVote: draw.chance(0.75),
        checkQuorum: draw.chance(0.75),
        maxInflightMessages: draw.pick([256, 256, 4, 1]),
        maxMessageBytes: draw.pick([1024 * 1024, 1024 * 1024, 16]),
      }
    : {};
  let raft: SimRaftOptions = { ...drawn, ...options.raft };
  if (varyConfig) {
    // Lease reads (thesis §6.4.1) in some runs: a drift bound of a fraction of the minimum election
    // timeout (0: the boundary, sound only with the simulator's perfect clocks); they need CheckQuorum.
    const share = draw.pick([null, null, 0, 0.1, 0.5]);
    const minTimeout = (raft.electionTimeoutMs ?? DEFAULT_CONFIG.electionTimeoutMs)[0];
    if (share !== null && raft.checkQuorum !== false && options.raft?.maxClockDriftMs === undefined) {
      raft = { ...raft, maxClockDriftMs: Math.floor(minTimeout * share) };
    }
  }
  let snapshots: SnapshotPolicy | null = null;
  if (options.snapshots !== undefined) {
    snapshots = options.snapshots === false ? null : options.snapshots;
  } else if (varyConfig) {
    // Its own stream, so the draws above stay what they were for every seed.
    const sd = new Rng(mixSeed(seed, 10));
    const entries = sd.pick([0, 10, 30, 100]);
    if (entries > 0) snapshots = { entries, keepEntries: sd.pick([0, 0, 3, 20]) };
  }
  if (snapshots !== null && !(Number.isInteger(snapshots.entries) && snapshots.entries >= 1)) {
    throw new RangeError(`snapshots.entries must be a positive integer, got ${snapshots.entries}`);
  }
  if (snapshots !== null && !(Number.isInteger(snapshots.keepEntries) && snapshots.keepEntries >= 0)) {
    throw new RangeError(`snapshots.keepEntries must be an integer >= 0, got ${snapshots.keepEntries}`);
  }
  const kv = resolveKv(seed, options.kv, varyConfig);
  // The KV clients replace the opaque traffic, unless it is asked for.
  const quiet: Partial<WorkloadOptions> = kv ? { meanIntervalMs: Infinity, readIntervalMs: Infinity } : {};
  return {
    nodes,
    faults,
    profile,
    durationMs,
    livenessTimeoutMs,
    liveness: options.liveness ?? true,
    varyConfig,
    raft,
    snapshots,
    workload: { ...DEFAULT_WORKLOAD, ...quiet, ...options.workload },
    kv,
    traceCapacity: options.traceCapacity ?? 2000,
    traceLines: options.traceLines ?? 40,
    keepTrace: options.keepTrace ?? false,
    deepCheckEvery: options.deepCheckEvery ?? 64,
    stopOnViolation: options.stopOnViolation ?? true,
    rules: options.rules ?? true,
  };
}

/**
 * resolveKv fills in the KV workload's options: unless given, the number of
 * keys grows with the number of clients (3 + 2 for up to 5 clients); with `varyConfig`, unless the
 * session limits are given, a seed in four draws a short session timeout and
 * one in four a session cap just above the number of clients, so that
 * sessions expire and get evicted (thesis §6.3) in some runs.
 */
function resolveKv(seed: number, option: SimOptions['kv'], varyConfig: boolean): KvWorkloadOptions | null {
  if (option === undefined || option === false) return null;
  const given: Partial<KvWorkloadOptions> = option === true ? {} : option;
  const clients = given.clients ?? DEFAULT_KV_WORKLOAD.clients;
  if (!(Number.isInteger(clients) && clients >= 1 && clients <= 100)) {
    throw new RangeError(`kv clients must be an integer from 1 to 100, got ${clients}`);
  }
  // Keys grow with the clients, about two clients per key: the check's cost grows fast with the
  // concurrency on one key (appends most of all), and a key is checked on its own.
  const keys = {
    keys: Math.max(DEFAULT_KV_WORKLOAD.keys, Math.round(clients * 0.6)),
    appendKeys: Math.max(DEFAULT_KV_WORKLOAD.appendKeys, Math.round(clients * 0.4)),
  };
  const o: KvWorkloadOptions = { ...DEFAULT_KV_WORKLOAD, ...keys, ...given };
  if (!varyConfig || (option !== true && option.sessionLimits !== undefined)) return o;
  const draw = new Rng(mixSeed(seed, 9));
  const timeout = draw.chance(0.25) ? { sessionTimeoutEntries: 400 } : {};
  const cap = draw.chance(0.25) ? { maxSessions: o.clients + 1 } : {};
  return { ...o, sessionLimits: { ...timeout, ...cap } };
}

/**
 * Simulation runs one whole cluster of real `@xraft/core` servers in one
 * thread on virtual time, with a seeded fault schedule, client traffic and
 * invariant monitors checked after every step. Everything random is drawn
 * from streams derived from the seed, and every event happens at a
 * (time, seq) the scheduler orders, so a run is a pure function of
 * (seed, options): any failure replays exactly.
 *
 * A run has three phases: faults and traffic for `durationMs`; heal (every
 * server up, every link up, calm network and disks); then liveness: within
 * `livenessTimeoutMs` a single leader must commit an entry of its own term and
 * a fresh command must be applied on every server.
 *
 * ```ts
 * const result = new Simulation(42, { nodes: 5, faults: 'heavy' }).run();
 * if (!result.ok) console.log(result.violations, result.trace.join('\n'));
 * ```
 *
 * For a live display, drive it in slices instead: `start()`, then
 * `runUntil(t)` as wall time passes, with `onEvent` printing what happens.
 */
export class Simulation {
  readonly options: ResolvedSimOptions;
  readonly scheduler = new Scheduler();
  readonly trace: Trace;
  readonly network: Network;
  readonly hosts: readonly NodeHost[];
  readonly monitor: Monitor;
  readonly reads: ReadMonitor;
  readonly workload: Workload;
  /** The KV workload, or null when off. */
  readonly kv: KvWorkload | null;
  readonly nemesis: Nemesis;
  private readonly byId = new Map<NodeId, NodeHost>();
  private kvCheck: KvCheckSummary | null = null;
  private started = false;
  private healedAt = -1;
  private recoveredAt = -1;

  constructor(
    readonly seed: number,
    options: SimOptions = {},
  ) {
    const o = resolveOptions(seed, options);
    this.options = o;
    const profile = FAULT_PROFILES[o.profile];
    this.trace = new Trace(o.traceCapacity, options.onEvent);
    const record = (e: SimEvent) => this.trace.record(e);
    const ids = Array.from({ length: o.nodes }, (_, i) => `n${i + 1}`);
    this.network = new Network(
      ids,
      this.scheduler,
      new Rng(mixSeed(seed, 1)),
      (m) => this.byId.get(m.to)!.receive(m),
      profile.network,
      record,
    );
    const env: HostEnv = {
      scheduler: this.scheduler,
      voters: ids,
      raftOptions: o.raft,
      random: (id, incarnation) => new Rng(mixSeed(seed, 3, ids.indexOf(id), incarnation)).next,
      diskConditions: profile.disk,
      send: (m) => this.network.send(m),
      observer: this.observer(),
      ...(o.kv ? { stateMachine: () => new KvStateMachine(o.kv!.sessionLimits) } : {}),
      ...(o.snapshots !== null ? { snapshotPolicy: o.snapshots } : {}),
    };
    this.hosts = ids.map((id, i) => new NodeHost(id, env, new Rng(mixSeed(seed, 2, i))));
    for (const h of this.hosts) this.byId.set(h.id, h);
    this.monitor = new Monitor(this.hosts, {
      now: () => this.scheduler.now,
      record,
      deepCheckEvery: o.deepCheckEvery,
      rules: o.rules,
    });
    this.reads = new ReadMonitor(this.monitor, { now: () => this.scheduler.now, nodes: o.nodes, record });
    this.workload = new Workload(
      this.byId,
      this.scheduler,
      new Rng(mixSeed(seed, 4)),
      o.workload,
      (host, commands, result) => this.monitor.onProposeAccepted(host, commands, result),
      record,
      {
        rng: new Rng(mixSeed(seed, 7)),
        take: (host, read) => this.reads.take(host, read, () => host.read(read.ctx, read.mode)),
      },
    );
    this.kv = o.kv === null ? null : this.kvWorkload(o.kv);
    this.nemesis = new Nemesis(
      this.hosts,
      this.scheduler,
      this.network,
      this.workload,
      new Rng(mixSeed(seed, 5)),
      profile,
      record,
    );
  }

  /** now is the current virtual time in milliseconds. */
  get now(): number {
    return this.scheduler.now;
  }

  /** failed tells whether a violation was found. */
  get failed(): boolean {
    return this.monitor.failed;
  }

  /** host returns the server with the given id. */
  host(id: NodeId): NodeHost {
    const h = this.byId.get(id);
    if (!h) throw new RangeError(`unknown server ${id}`);
    return h;
  }

  /** leader is the running server leading the highest term, if any. */
  leader(): NodeHost | null {
    return this.nemesis.leader();
  }

  /** start boots every server and starts the clients and the nemesis. */
  start(): void {
    if (this.started) return;
    this.started = true;
    const o = this.options;
    this.note(
      `start: ${o.nodes} nodes, faults ${o.profile}, preVote=${o.raft.preVote ?? true} checkQuorum=${o.raft.checkQuorum ?? true} maxInflight=${o.raft.maxInflightMessages ?? 256} maxMessageBytes=${o.raft.maxMessageBytes ?? 1048576} maxClockDriftMs=${o.raft.maxClockDriftMs ?? null}`,
    );
    this.guard(() => {
      for (const h of this.hosts) h.start();
      this.workload.start();
      this.kv?.start();
      this.nemesis.start();
    });
  }

  /** runUntil advances virtual time to `time`, running every task due, unless a violation stops the run. */
  runUntil(time: number): void {
    this.start();
    const stop = this.options.stopOnViolation ? () => this.monitor.failed : undefined;
    this.guard(() => this.scheduler.runUntil(time, stop));
  }

  /** heal ends the fault phase: clients stop, every fault ends, the network and disks calm down. */
  heal(): void {
    this.start();
    if (this.healedAt >= 0) return;
    this.healedAt = this.scheduler.now;
    this.guard(() => {
      this.workload.stop();
      this.kv?.stop();
      this.nemesis.healAll();
      this.network.conditions = RELIABLE_NETWORK;
      for (const h of this.hosts) h.disk.conditions = FAST_DISK;
    });
    this.note('healed: all servers up, all links up, reliable network, fast disks');
  }

  /**
   * checkLiveness waits, after {@link heal}, for a single leader that has
   * committed an entry of its own term (its no-op, §8), then for a fresh
   * command to be applied on every server; reports a Liveness violation if
   * that takes longer than `livenessTimeoutMs`.
   */
  checkLiveness(): void {
    this.heal();
    const deadline = this.healedAt + this.options.livenessTimeoutMs;
    const stop = () => this.monitor.failed && this.options.stopOnViolation;
    const attempts: { index: number; command: Uint8Array }[] = [];
    let lastSubmit = Number.NEGATIVE_INFINITY;
    let inFlight = false;
    let done = false;
    const poll = () => {
      if (attempts.some((a) => this.appliedEverywhere(a.index, a.command))) {
        done = true;
        this.recoveredAt = this.scheduler.now;
        this.note('liveness: a fresh command is committed and applied on every server');
        return;
      }
      // Submit a fresh command to the stable leader; again if the last one has not made it within a second.
      const leader = this.stableLeader();
      if (leader !== null && !inFlight && this.scheduler.now - lastSubmit >= 1000) {
        const command = this.workload.command();
        inFlight = true;
        lastSubmit = this.scheduler.now;
        this.workload.submit(leader.id, [command], (r) => {
          inFlight = false;
          if (r?.isLeader) attempts.push({ index: r.index, command });
          else lastSubmit = Number.NEGATIVE_INFINITY;
        });
      }
      this.scheduler.after(5, poll);
    };
    this.guard(() => {
      this.scheduler.after(0, poll);
      this.scheduler.runUntil(deadline, () => done || stop());
    });
    if (!done && !stop()) {
      this.monitor.report(
        'Liveness',
        null,
        `${this.options.livenessTimeoutMs} ms after healing, ${attempts.length === 0 ? 'no single leader had committed an entry of its own term' : `none of ${attempts.length} fresh command(s) was applied on every server`}; ${this.describeCluster()}`,
      );
    }
  }

  /** run performs the whole run: faults and traffic, heal, liveness, final checks. */
  run(): SimResult {
    this.start();
    this.runUntil(this.options.durationMs);
    if (!(this.failed && this.options.stopOnViolation)) {
      this.heal();
      if (this.options.liveness) this.checkLiveness();
      if (this.kv !== null && !(this.failed && this.options.stopOnViolation)) this.checkKv();
      if (!(this.failed && this.options.stopOnViolation)) this.guard(() => this.monitor.finalCheck());
    }
    for (const h of this.hosts) h.stop();
    this.scheduler.clear();
    return this.result();
  }

  /** result summarizes the run so far. */
  result(): SimResult {
    const o = this.options;
    const ok = !this.monitor.failed;
    let coreEvents = 0;
    let writes = 0;
    const snapshots = { taken: 0, pastOwnWrite: 0, installed: 0 };
    for (const h of this.hosts) {
      coreEvents += h.coreEvents;
      writes += h.disk.writes;
      snapshots.taken += h.snapshots.taken;
      snapshots.pastOwnWrite += h.snapshots.pastOwnWrite;
      snapshots.installed += h.snapshots.installed;
    }
    return {
      seed: this.seed,
      ok,
      violations: this.monitor.violations.slice(),
      stats: {
        virtualMs: this.scheduler.now,
        steps: this.scheduler.steps,
        coreEvents,
        elections: this.monitor.leaders.size,
        committed: this.monitor.committedIndex,
        proposals: this.workload.requests,
        accepted: this.workload.accepted,
        reads: this.readStats(),
        messages: { ...this.network.stats },
        writes,
        snapshots,
        faults: { ...this.nemesis.stats },
        recoveryMs: this.recoveredAt >= 0 ? this.recoveredAt - this.healedAt : -1,
        kv: this.kv?.stats() ?? null,
      },
      options: o,
      traceHash: this.trace.hash,
      trace: !ok || o.keepTrace ? this.trace.lines(o.traceLines) : [],
      kvCheck: this.kvCheck,
    };
  }

  /**
   * checkKv ends the KV workload, after {@link heal}: the clients finish their
   * calls (each has at most its timeout left) and the cluster quiets down: a
   * stable leader whose whole log is committed, applied by every server.
   * Then every server's KV state machine must hold the same state, the final
   * values must hold every append exactly once, and the history, with one
   * final read per key, must be linearizable (`@xraft/check`'s kvModel).
   * A history the checker cannot decide within its budget is no violation:
   * its verdict stays `unknown`, for the summary to count.
   */
  checkKv(): void {
    const kv = this.kv;
    if (kv === null) return;
    this.heal();
    const deadline = this.scheduler.now + kv.options.timeoutMs + this.options.livenessTimeoutMs;
    let leader: NodeHost | null = null;
    const poll = () => {
      leader = kv.idle ? this.quietLeader() : null;
      if (leader === null) this.scheduler.after(5, poll);
    };
    const stop = () => this.monitor.failed && this.options.stopOnViolation;
    this.guard(() => {
      this.scheduler.after(0, poll);
      this.scheduler.runUntil(deadline, () => leader !== null || stop());
    });
    if (stop()) return;
    const quiet = leader as NodeHost | null;
    if (quiet === null) {
      const busy = kv.clients.filter((c) => !c.idle).map((c) => c.name);
      this.monitor.report(
        'Liveness',
        null,
        `the KV workload did not settle ${kv.options.timeoutMs + this.options.livenessTimeoutMs} ms after healing: ${busy.length > 0 ? `clients ${busy.join(', ')} still busy` : 'no stable leader with its whole log applied everywhere'}; ${this.describeCluster()}`,
      );
      return;
    }
    this.guard(() => {
      const finals = new Map<string, Value | undefined>();
      const sm = quiet.stateMachine as KvStateMachine;
      for (const key of kv.keys) {
        const r = sm.query({ type: 'get', key });
        finals.set(key, r.type === 'value' ? r.value : undefined);
      }
      const state = sm.snapshot();
      for (const h of this.hosts) {
        if (h !== quiet && !sameBytes((h.stateMachine as KvStateMachine).snapshot(), state)) {
          this.monitor.report(
            'State Machine Safety',
            h.id,
            `${h.id} and ${quiet.id} applied the same ${h.applied} entries but their KV state machines differ`,
          );
        }
      }
      const { summary, findings } = checkKv(
        kv.calls,
        finals,
        kv.appendKeys,
        this.scheduler.now,
        kv.options.checkTimeoutMs,
      );
      this.kvCheck = summary;
      // The verdict stays out of the trace: a check that runs out of its (wall-clock) budget is not a fault of the run.
      this.note(
        `kv check: ${kv.calls.length} calls; ${summary.ops} operations (with the final reads of ${finals.size} keys) checked for linearizability, appends for exactly-once`,
      );
      for (const f of findings) this.monitor.report(f.property, null, f.message);
    });
  }

  /**
   * quietLeader is the stable leader once the cluster is quiet: every server
   * running and not paused, the leader's whole log committed, and every
   * server's state machine at its last index; else null.
   */
  private quietLeader(): NodeHost | null {
    const leader = this.stableLeader();
    const r = leader?.raft;
    if (!leader || !r) return null;
    const last = r.log.lastIndex();
    if (r.log.committed !== last) return null;
    for (const h of this.hosts) {
      if (!h.alive || this.scheduler.isPaused(h.id) || h.applied !== last) return null;
    }
    return leader;
  }

  /** kvWorkload builds the KV workload over the hosts, with its clients' own random streams. */
  private kvWorkload(options: KvWorkloadOptions): KvWorkload {
    const seed = this.seed;
    return new KvWorkload(
      {
        scheduler: this.scheduler,
        network: this.network,
        hosts: this.hosts,
        clusterDriftMs: this.options.raft.maxClockDriftMs ?? null,
        clientRng: (i) => new Rng(mixSeed(seed, 10, i)),
        callRng: (i) => new Rng(mixSeed(seed, 11, i)),
        nextReadCtx: () => this.workload.nextReadCtx(),
        readIndex: (host, ctx, mode) => {
          this.reads.take(host, { ctx, mode, issuedAt: this.scheduler.now }, () => host.read(ctx, mode));
        },
        accepted: (host, bytes, entry, result) => {
          this.trace.record({
            kind: 'propose',
            time: this.scheduler.now,
            node: host.id,
            payload: describeEntry(entry),
            accepted: true,
            index: result.index,
            term: result.term,
          });
          this.monitor.onProposeAccepted(host, [bytes], result);
        },
        record: (e) => this.trace.record(e),
      },
      options,
    );
  }

  /** readStats sums up the client reads so far. */
  readStats(): SimReadStats {
    const r = this.reads.stats;
    const issued = this.workload.reads;
    return {
      issued,
      served: r.served,
      refused: r.refused,
      leased: r.leased,
      unanswered: issued - r.served - r.refused,
    };
  }

  /** describeCluster is a one-line account of every server, for liveness reports. */
  describeCluster(): string {
    return this.hosts
      .map((h) => {
        const r = h.raft;
        if (r === null) return `${h.id} down`;
        const paused = this.scheduler.isPaused(h.id) ? ' paused' : '';
        return `${h.id} ${r.role} t${r.term} last=${r.log.lastIndex()} commit=${r.log.committed} applied=${h.applied}${paused}`;
      })
      .join('; ');
  }

  /** stableLeader is the one leader of the highest term, once it has committed an entry of that term. */
  private stableLeader(): NodeHost | null {
    let leader: NodeHost | null = null;
    let maxTerm = 0;
    for (const h of this.hosts) {
      const r = h.raft;
      if (r === null) continue;
      if (r.term > maxTerm) maxTerm = r.term;
      if (r.role === 'leader') {
        if (leader !== null) return null;
        leader = h;
      }
    }
    const r = leader?.raft;
    if (!leader || !r || r.term < maxTerm) return null;
    const c = r.log.committed;
    return c > 0 && r.log.term(c) === r.term ? leader : null;
  }

  private appliedEverywhere(index: number, command: Uint8Array): boolean {
    if (this.committedEntry(index)?.data !== command) return false;
    for (const h of this.hosts) if (h.applied < index) return false;
    return true;
  }

  private committedEntry(index: number): Entry | undefined {
    return this.monitor.committedEntry(index);
  }

  private note(text: string): void {
    this.trace.record({ kind: 'note', time: this.scheduler.now, node: null, text });
  }

  /** guard turns an exception escaping the simulation (a disk anomaly, a bug here) into a violation. */
  private guard(fn: () => void): void {
    try {
      fn();
    } catch (err) {
      const e = err as Error;
      const where = e?.stack?.split('\n').slice(1, 4).join(' ').trim() ?? '';
      this.monitor.report('Simulation Error', null, `${e?.message ?? String(err)} ${where}`);
    }
  }

  /** checkSnapshot checks that a snapshot holds the state of the committed entries up to its index (§7). */
  private checkSnapshot(host: NodeHost, index: number, data: Uint8Array, what: string): void {
    this.checkSnapshotDigest(host, index, decodeSnapshot(data).digest, what);
  }

  private checkSnapshotDigest(host: NodeHost, index: number, digest: number, what: string): void {
    if (index > this.monitor.committedIndex) {
      this.monitor.report(
        'State Machine Safety',
        host.id,
        `${host.id} ${what} a snapshot at ${index}, beyond anything committed (${this.monitor.committedIndex})`,
      );
    } else if (this.reads.digestAt(index) !== digest) {
      this.monitor.report(
        'State Machine Safety',
        host.id,
        `${host.id} ${what} a snapshot at ${index} that is not the state of the committed entries 1..${index}`,
      );
    }
  }

  private observer(): HostObserver {
    const sim = this;
    return {
      record(e: SimEvent) {
        sim.trace.record(e);
      },
      onSend(host: NodeHost, m: Message) {
        sim.monitor.onSend(host, m);
        sim.nemesis.onSend(host, m);
      },
      onVoteGranted(host, request) {
        sim.monitor.onVoteGranted(host, request);
      },
      onDurable(host, w) {
        const last = w.entries[w.entries.length - 1];
        if (w.hardState !== null || last !== undefined || w.snapshot)
          sim.trace.record({
            kind: 'persist',
            time: sim.scheduler.now,
            node: host.id,
            hardState: w.hardState,
            first: w.entries[0]?.index ?? 0,
            entries: w.entries.length,
            lastIndex: last ? last.index : host.disk.lastIndex(),
            ...(w.snapshot
              ? { snapshotIndex: w.snapshot.meta.index, compactedTo: host.disk.compactedIndex() }
              : {}),
          });
        sim.monitor.onDurable(host, w);
        if (w.snapshot) sim.checkSnapshot(host, w.snapshot.meta.index, w.snapshot.data, 'stored');
      },
      onApply(host, entries) {
        sim.monitor.onApply(host, entries);
      },
      onRestore(host, index, digest) {
        sim.monitor.onRestore(host, index);
        sim.checkSnapshotDigest(host, index, digest, 'restored');
      },
      onReadState(host, state, cause) {
        sim.reads.onReadState(host, state, cause);
      },
      onReadServed(host, read) {
        sim.reads.onServed(host, read);
      },
      afterStep(host, cause) {
        sim.monitor.observe(host, cause);
        sim.reads.observe(host, cause);
      },
      onError(host, error) {
        const e = error as Error;
        sim.monitor.report('Core Error', host.id, `${host.id}: ${e?.message ?? String(error)}`);
      },
    };
  }
}

/** RunSeedOptions are {@link SimOptions} plus the determinism self-check. */
export interface RunSeedOptions extends SimOptions {
  /** Run the seed twice and compare trace hashes and stats (default false). */
  readonly checkDeterminism?: boolean;
}

/**
 * runSeed runs one seed to completion. With `checkDeterminism` it runs it a
 * second time and reports a Determinism violation unless both runs produced
 * the same trace hash and the same statistics.
 */
export function runSeed(seed: number, options: RunSeedOptions = {}): SimResult {
  const { checkDeterminism, ...simOptions } = options;
  const first = new Simulation(seed, simOptions).run();
  if (!checkDeterminism) return first;
  const second = new Simulation(seed, { ...simOptions, onEvent: undefined }).run();
  const a = JSON.stringify(first.stats);
  const b = JSON.stringify(second.stats);
  if (first.traceHash === second.traceHash && a === b) return first;
  const v: Violation = {
    property: 'Determinism',
    node: null,
    time: Math.min(first.stats.virtualMs, second.stats.virtualMs),
    message: `two runs of seed ${seed} differ: trace hash ${hex(first.traceHash)} vs ${hex(second.traceHash)}, stats ${a} vs ${b}`,
  };
  return { ...first, ok: false, violations: [...first.violations, v] };
}

function sameBytes(a: Uint8Array, b: Uint8Array): boolean {
  if (a.byteLength !== b.byteLength) return false;
  for (let i = 0; i < a.byteLength; i++) if (a[i] !== b[i]) return false;
  return true;
}

function hex(n: number): string {
  return `0x${n.toString(16).padStart(8, '0')}`;
}
