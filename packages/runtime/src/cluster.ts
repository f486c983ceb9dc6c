import { existsSync, mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { MessageChannel, type MessagePort, type ResourceLimits } from 'node:worker_threads';
import {
  assertNever,
  type NodeId,
  type ProposeResult,
  type Role,
  raftMachine,
  resolveConfig,
} from '@xraft/core';
import { KvClient, type KvClientOptions, type KvTransport } from '@xraft/kv';
import { MemoryStorage } from '@xraft/storage';
import { transfer } from 'comlink';
import type { ClientEndpoint, EndpointMessage } from './client-endpoint.js';
import { ClientPorts } from './client-port.js';
import {
  ControlTimeoutError,
  type KillMode,
  type NodeReport,
  type NodeUsage,
  WorkerExitedError,
} from './control.js';
import { forwardInspection, type InspectionRecord, type InspectorLike } from './inspection.js';
import {
  type InspectorServer,
  type InspectorServerOptions,
  startInspectorServer,
} from './inspector-server.js';
import { checkLinkSettings, type LinkSettings } from './link.js';
import type { LogLevel, StorageSpec, WorkerToMain } from './protocol.js';
import { serveStorage } from './remote-storage.js';
import { DEFAULT_SNAPSHOT_POLICY, resolveSnapshotPolicy, type SnapshotPolicy } from './snapshot-policy.js';
import {
  type BootSpec,
  DEFAULT_RESTART_POLICY,
  type RestartPolicy,
  Supervisor,
  type SupervisorEvent,
  type WorkerPhase,
} from './supervisor.js';

/** ClusterOptions configures {@link Cluster.start}; every field is optional. */
export interface ClusterOptions {
  /** Number of nodes, named `n1`…`nN` (default 3). */
  readonly nodes?: number;
  /**
   * Where nodes keep their Raft state (default `'disk'`): `'disk'` is
   * `DiskStorage` under `<dataDir>/<id>/`; `'memory'` is a `MemoryStorage` per
   * node held by the main thread, which survives worker crashes and restarts
   * (not the process).
   */
  readonly storage?: 'disk' | 'memory';
  /** Directory of the nodes' data (disk storage); default a new directory under the OS temp dir, removed by stop(). */
  readonly dataDir?: string;
  /** Randomized election timeout range (§5.2), default [150, 300]. */
  readonly electionTimeoutMs?: readonly [number, number];
  /** Leader heartbeat interval, default 50; below the minimum election timeout. */
  readonly heartbeatIntervalMs?: number;
  /** Restart crashed workers (default true). */
  readonly autoRestart?: boolean;
  /** The restart strategy (supervisor.ts); unspecified fields take their defaults. */
  readonly restartPolicy?: Partial<RestartPolicy>;
  /** `resourceLimits` of every node worker (e.g. a small `maxOldGenerationSizeMb`). */
  readonly resourceLimits?: ResourceLimits;
  /** Timeout of every control call (submit, status, link settings, pause), default 5000 ms. */
  readonly controlTimeoutMs?: number;
  /** URL of a module exporting `createStateMachine()` (state-machine.ts); default the LogRecorder. */
  readonly stateMachine?: string | URL;
  /** Receives log lines of the cluster and its workers; default: warnings and errors to stderr. */
  readonly log?: (entry: LogEntry) => void;
  /**
   * Inspect every node's statechart (inspection.ts); off by default, and free when off.
   * `true` or server options: serve the Stately inspector bridge on 127.0.0.1
   * (port 8080 by default; see {@link Cluster.inspector}). An `@statelyai/inspect`
   * inspector (anything with `actor`, `event` and `snapshot`): forward to it.
   */
  readonly inspect?: boolean | InspectorServerOptions | InspectorLike;
  /**
   * The bound on clock drift between nodes over an election timeout that
   * lease reads rely on (thesis §6.4.1); default null: `read: 'lease'` is
   * served as a ReadIndex read. Must be below the minimum election timeout.
   */
  readonly maxClockDriftMs?: number | null;
  /**
   * When each node snapshots its state machine and compacts its log (§7):
   * after `entries` applied entries (default 100,000) or `bytes` of their
   * payload (default 16 MiB), keeping `keepEntries` entries before the
   * snapshot (default min(1000, entries / 2)). Followers too far behind get
   * the snapshot by InstallSnapshot.
   */
  readonly snapshotThreshold?: Partial<SnapshotPolicy>;
}

/** LogEntry is one log line of the cluster (`node` null) or of a node worker. */
export interface LogEntry {
  readonly node: NodeId | null;
  readonly level: LogLevel;
  readonly message: string;
}

/** NodeState is what {@link Cluster.state} reports of one node. */
export interface NodeState {
  readonly id: NodeId;
  /** Whether the node's worker is running (booted); when false the other fields mean nothing. */
  readonly alive: boolean;
  readonly role: Role;
  readonly term: number;
  readonly leaderId: NodeId | null;
  readonly commitIndex: number;
  readonly lastApplied: number;
  readonly lastLogIndex: number;
  /** Where the node's worker is in its life (supervisor.ts). */
  readonly worker: WorkerPhase;
}

/** NetworkSettings are the conditions {@link Cluster.setNetwork} puts on every link; omitted fields mean reliable. */
export interface NetworkSettings {
  /** Probability in [0, 1] that a message is lost. */
  readonly dropRate?: number;
  /** Each batch is delayed by a uniform draw in [min, max] ms (FIFO kept). */
  readonly delayMs?: readonly [number, number];
  /** Reorder batches: true (a quarter of batches) or the fraction in [0, 1] that take a random extra delay. */
  readonly reorder?: boolean | number;
}

/** ClusterStats are traffic counters, summed over every incarnation of every node. */
export interface ClusterStats {
  /** Raft RPCs each node posted to a peer (after its links' drops). */
  readonly rpcs: Record<NodeId, number>;
  /**
   * Approximate bytes of every batch posted by all nodes: the structured-clone
   * size estimated per envelope and per message type, plus the packed entries
   * and snapshot chunks (wire.ts `estimateBytes`).
   */
  readonly bytes: number;
  /** `postMessage` calls (batches), all nodes. */
  readonly batches: number;
  /** RPCs each node's links dropped (down or drop rate). */
  readonly dropped: Record<NodeId, number>;
  /** Malformed input each node dropped (wire.ts). */
  readonly malformed: Record<NodeId, number>;
}

/** ApplyListener receives each command entry a node applied, in log order per node. */
export type ApplyListener = (id: NodeId, index: number, command: Uint8Array) => void;

/** SubmitResult is Raft's Start() answer (`leaderId` added: who the node believes leads). */
export type SubmitResult = ProposeResult;

/** The reorder fraction `reorder: true` stands for. */
const REORDER_DEFAULT = 0.25;
/** Poll period of {@link Cluster.leader}, in ms. */
const POLL_MS = 10;

interface Resolved {
  readonly nodes: number;
  readonly storage: 'disk' | 'memory';
  readonly dataDir: string | null;
  readonly ownDataDir: boolean;
  readonly electionTimeoutMs: readonly [number, number];
  readonly heartbeatIntervalMs: number;
  readonly autoRestart: boolean;
  readonly policy: RestartPolicy;
  readonly resourceLimits: ResourceLimits | undefined;
  readonly controlTimeoutMs: number;
  readonly stateMachine: string | undefined;
  readonly log: (entry: LogEntry) => void;
  readonly inspect: false | InspectorServerOptions | InspectorLike;
  readonly maxClockDriftMs: number | null;
  readonly snapshotPolicy: SnapshotPolicy;
}

/**
 * Cluster is a Raft cluster in this process: one node worker per server,
 * talking over a full mesh of `MessagePort`s, watched by a {@link Supervisor}.
 *
 * ```ts
 * const c = await Cluster.start({ nodes: 5, storage: 'memory' });
 * const leader = await c.leader();
 * await c.submit(leader, new TextEncoder().encode('x'));
 * await c.stop();
 * ```
 *
 * `state()` and `stats()` are synchronous: each worker publishes its status
 * into a SharedArrayBuffer after every turn of its Ready loop and after every
 * timer, so polling is cheap and as fresh as the worker itself.
 */
export class Cluster {
  /** The node ids, `n1`…`nN`. */
  readonly ids: readonly NodeId[];
  /** Where disk storage keeps each node's data (`<dataDir>/<id>/`); null with memory storage. */
  readonly dataDir: string | null;
  private readonly supervisor: Supervisor;
  /** linkUp[i][j]: the link from ids[i] to ids[j] is up as far as partitions and setLink go. */
  private readonly linkUp: boolean[][];
  /** connected[i]: ids[i] is connected to the network (disconnect/connect). */
  private readonly connected: boolean[];
  private network: Omit<LinkSettings, 'up'> = { dropRate: 0, delayMs: [0, 0], reorder: 0 };
  private readonly memory = new Map<NodeId, MemoryStorage>();
  private readonly applyListeners = new Set<ApplyListener>();
  /** Shared with every worker: [0] is 1 while an apply listener exists (workers post applies only then). */
  private readonly watchApplies = new Int32Array(new SharedArrayBuffer(4));
  private readonly supervisorListeners = new Set<(e: SupervisorEvent) => void>();
  private readonly logListeners = new Set<(e: LogEntry) => void>();
  private readonly inspectListeners = new Set<(records: readonly InspectionRecord[]) => void>();
  private inspectorServer: InspectorServer | null = null;
  private inspectTarget: InspectorLike | null = null;
  private readonly clientPorts: ClientPorts;
  /** The main ends of every open {@link clientEndpoint}. */
  private readonly endpoints = new Set<MessagePort>();
  /**
   * The main ends of the client ports of workers still booting: attached at
   * READY, so a client's request to a booting node fails at once as
   * undelivered (the client tries the next node) instead of waiting, unread,
   * for the boot (thesis §6.2: a client must be able to find the leader).
   */
  private readonly bootingClientPorts = new Map<NodeId, MessagePort>();
  /**
   * The main-thread ends of ports this cluster made that have not closed yet.
   * A port lingers as an active handle until its close completes, a turn of
   * the event loop after `close()`: stop() closes these and waits for them,
   * so it leaves nothing of ours open when it resolves.
   */
  private readonly openPorts = new Set<MessagePort>();
  private stopped: Promise<void> | null = null;

  private constructor(
    private readonly o: Resolved,
    workerUrl: URL,
  ) {
    this.ids = Object.freeze(Array.from({ length: o.nodes }, (_, i) => `n${i + 1}`));
    this.dataDir = o.dataDir;
    this.linkUp = this.ids.map(() => this.ids.map(() => true));
    this.connected = this.ids.map(() => true);
    this.clientPorts = new ClientPorts(this.ids);
    if (o.storage === 'memory') for (const id of this.ids) this.memory.set(id, new MemoryStorage());
    if (o.dataDir !== null) for (const id of this.ids) mkdirSync(join(o.dataDir, id), { recursive: true });
    this.supervisor = new Supervisor({
      ids: this.ids,
      workerUrl,
      policy: o.policy,
      autoRestart: o.autoRestart,
      controlTimeoutMs: o.controlTimeoutMs,
      ...(o.resourceLimits ? { resourceLimits: o.resourceLimits } : {}),
      boot: (id) => this.boot(id),
      onMessage: (id, m) => this.onWorkerMessage(id, m),
      onEvent: (e) => this.onSupervisorEvent(e),
    });
  }

  /** start validates `options`, starts every node and resolves once each has booted (READY). */
  static async start(options: ClusterOptions = {}): Promise<Cluster> {
    const url = workerUrl();
    const o = resolveOptions(options);
    const c = new Cluster(o, url);
    try {
      await c.startInspection();
      await c.supervisor.start();
    } catch (err) {
      await c.stop();
      throw err;
    }
    return c;
  }

  /**
   * inspector is where the local inspector server serves (`url`: the page for
   * a browser; `wsUrl`: the JSON event stream); null unless started with
   * `inspect: true` or server options.
   */
  get inspector(): { readonly url: string; readonly wsUrl: string } | null {
    const s = this.inspectorServer;
    return s === null ? null : { url: s.url, wsUrl: s.wsUrl };
  }

  /** state is `id`'s latest published status; `alive: false` (and zeros) while its worker is not running. */
  state(id: NodeId): NodeState {
    const phase = this.supervisor.phase(id);
    const s = this.supervisor.status(id)?.read() ?? null;
    if (phase !== 'running' || s === null) {
      return {
        id,
        alive: false,
        role: 'follower',
        term: 0,
        leaderId: null,
        commitIndex: 0,
        lastApplied: 0,
        lastLogIndex: 0,
        worker: phase,
      };
    }
    return {
      id,
      alive: true,
      role: s.role,
      term: s.term,
      leaderId: s.leader >= 0 ? (this.ids[s.leader] ?? null) : null,
      commitIndex: s.commitIndex,
      lastApplied: s.lastApplied,
      lastLogIndex: s.lastLogIndex,
      worker: phase,
    };
  }

  /**
   * leader resolves with the leader's id once exactly one connected, alive
   * node leads the highest term among connected, alive nodes (Election Safety,
   * §5.2, allows at most one per term). A node counts as connected when links
   * up in both directions join it to a majority of alive nodes (itself
   * included). Rejects after `timeoutMs` (default 10 s).
   */
  async leader(timeoutMs = 10_000): Promise<NodeId> {
    checkTimeout(timeoutMs, 'leader(timeoutMs)');
    const deadline = performance.now() + timeoutMs;
    for (;;) {
      const found = this.currentLeader();
      if (found !== null) return found;
      if (performance.now() >= deadline) {
        const states = this.ids.map((id) => {
          const s = this.state(id);
          return s.alive ? `${id}: ${s.role} of term ${s.term}` : `${id}: ${s.worker}`;
        });
        throw new Error(`no single leader within ${timeoutMs} ms (${states.join('; ')})`);
      }
      await sleep(POLL_MS);
    }
  }

  /**
   * submit is Raft's Start() on `id` (§5.3): resolves at once, before the
   * command commits, with where it will sit if it commits. A node that is not
   * the leader answers `isLeader: false` (and whom it believes leads). So does
   * a node that is down, as Start() on a dead server in MIT 6.5840's labs; a
   * node that dies while the call is in flight answers the same, though it may
   * have appended the command before dying (a client never knows what a
   * crashed server did). Rejects with {@link ControlTimeoutError} when a
   * running node does not answer in time (e.g. paused).
   */
  async submit(id: NodeId, command: Uint8Array): Promise<SubmitResult> {
    if (!(command instanceof Uint8Array)) {
      throw new TypeError(`submit(${JSON.stringify(id)}, command): command must be a Uint8Array`);
    }
    if (this.stopped !== null) throw new WorkerExitedError(id, 'the cluster is stopped');
    const down: SubmitResult = { isLeader: false, term: 0, index: 0, leaderId: null };
    if (this.supervisor.phase(id) !== 'running') return down;
    try {
      return await this.supervisor.control(id).call('submit', [command]);
    } catch (err) {
      if (err instanceof WorkerExitedError && this.stopped === null) return down;
      throw err;
    }
  }

  /**
   * onApply calls `listener` for every command entry any node applies, in log
   * order per node (no-ops are not reported); a restarted node reports again
   * what it re-applies. Returns the unsubscribe function.
   */
  onApply(listener: ApplyListener): () => void {
    this.applyListeners.add(listener);
    // Set before anything the caller sends next: a worker that takes a later request sees it.
    Atomics.store(this.watchApplies, 0, 1);
    return () => {
      this.applyListeners.delete(listener);
      if (this.applyListeners.size === 0) Atomics.store(this.watchApplies, 0, 0);
    };
  }

  /** on subscribes to supervisor events (`crashed`, `restarted`, `gave-up`) or log lines; returns the unsubscribe function. */
  on(event: 'supervisor', listener: (e: SupervisorEvent) => void): () => void;
  on(event: 'log', listener: (e: LogEntry) => void): () => void;
  /** Batches of statechart inspection records, as nodes post them (only with the `inspect` option). */
  on(event: 'inspect', listener: (records: readonly InspectionRecord[]) => void): () => void;
  on(
    event: 'supervisor' | 'log' | 'inspect',
    listener:
      | ((e: SupervisorEvent) => void)
      | ((e: LogEntry) => void)
      | ((records: readonly InspectionRecord[]) => void),
  ): () => void {
    let set: Set<unknown>;
    if (event === 'supervisor') set = this.supervisorListeners;
    else if (event === 'log') set = this.logListeners;
    else if (event === 'inspect') {
      if (this.o.inspect === false) {
        throw new RangeError("on('inspect'): the cluster was started without the inspect option");
      }
      set = this.inspectListeners;
    } else
      throw new RangeError(
        `on(${JSON.stringify(event)}): unknown event; use 'supervisor', 'log' or 'inspect'`,
      );
    set.add(listener);
    return () => {
      set.delete(listener);
    };
  }

  /**
   * client makes a KV client of this cluster (DESIGN.md "The KvClient
   * contract"): it finds the leader, retries with exactly-once semantics and
   * reads linearizably by default. Close it with `close()`; `stop()` fails
   * whatever it still has in flight.
   */
  client(options?: KvClientOptions): KvClient {
    if (this.stopped !== null) throw new Error('client(): the cluster is stopped');
    return new KvClient(this.clientTransport(), options);
  }

  /**
   * clientTransport is the transport `client()` builds on: one request to one
   * node's worker over its client port. Wrap it to build a `KvClient` that
   * sees the cluster differently (cut off from some nodes, over a lossy
   * link), as fault-injection tests do: a wrapper builds a new transport
   * from `nodes` and its own `send` (copying `dispatch` along would let the
   * client go around the wrapper).
   */
  clientTransport(): KvTransport {
    const ports = this.clientPorts;
    return {
      nodes: this.ids,
      send: (node, request, timeoutMs) => ports.send(node, request, timeoutMs),
      dispatch: (node, request, timeoutMs, target) => ports.dispatch(node, request, timeoutMs, target),
    };
  }

  /**
   * clientEndpoint makes a remote-client endpoint (client-endpoint.ts): post
   * it to another thread (its `port` in the transfer list), where
   * `new ClientEndpointTransport(endpoint)` is a `KvTransport` whose requests
   * go straight to the node workers. This cluster hands that thread a client
   * port to every running node and to every new incarnation after a restart;
   * stop() (or the other side closing) ends the endpoint.
   */
  clientEndpoint(): ClientEndpoint {
    if (this.stopped !== null) throw new Error('clientEndpoint(): the cluster is stopped');
    const { port1, port2 } = new MessageChannel();
    this.track(port1);
    this.endpoints.add(port1);
    port1.once('close', () => this.endpoints.delete(port1));
    port1.unref();
    for (const id of this.ids) if (this.supervisor.phase(id) === 'running') this.attachEndpoint(port1, id);
    return { nodes: this.ids, port: port2 };
  }

  /**
   * nodeUsage is what `id`'s worker uses: its event loop's cumulative idle and
   * active time (`performance.eventLoopUtilization()` inside the worker) and
   * its V8 heap. RSS is not per worker: worker threads share the process.
   */
  async nodeUsage(id: NodeId): Promise<NodeUsage> {
    return this.control(id).call('usage', []);
  }

  /** attachEndpoint gives `id`'s running worker a new client port and the endpoint's thread its other end. */
  private attachEndpoint(endpoint: MessagePort, id: NodeId): void {
    const { port1, port2 } = new MessageChannel();
    this.track(port1);
    this.supervisor
      .control(id)
      .call('attachClientPort', [transfer(port2, [port2])])
      .then(
        () => {
          if (!this.endpoints.has(endpoint)) return port1.close();
          this.openPorts.delete(port1); // it leaves this thread
          endpoint.postMessage({ kind: 'attach', node: id, port: port1 } satisfies EndpointMessage, [port1]);
        },
        // The worker ended (its next incarnation gets a port when READY) or did not answer.
        () => port1.close(),
      );
  }

  /** crash terminates `id`'s worker abruptly, as a killed process; it stays down (no restart) until {@link restart}. */
  async crash(id: NodeId): Promise<void> {
    await this.supervisor.crash(id);
  }

  /** restart starts `id` afresh from its storage (ending its current worker first, if any); resolves on READY. */
  async restart(id: NodeId): Promise<void> {
    await this.supervisor.restart(id);
  }

  /**
   * disconnect cuts `id` off the network: every link of it, both directions,
   * delivers nothing until {@link connect} (or {@link heal}).
   */
  async disconnect(id: NodeId): Promise<void> {
    return this.setConnected(id, false);
  }

  /**
   * connect puts `id` back on the network: its links to every connected node
   * work again, both directions, unless a partition or setLink cuts them
   * (a link works only when both its ends are connected, as in MIT 6.5840's labs).
   */
  async connect(id: NodeId): Promise<void> {
    return this.setConnected(id, true);
  }

  /**
   * partition splits the cluster: links inside a group are up, links between
   * groups down (replacing earlier partitions and setLink). Nodes not named
   * form one more group together. Disconnected nodes stay disconnected.
   */
  async partition(...groups: string[][]): Promise<void> {
    const group = new Map<NodeId, number>();
    groups.forEach((g, gi) => {
      if (!Array.isArray(g))
        throw new TypeError('partition(...groups): every group must be an array of node ids');
      for (const id of g) {
        this.index(id);
        if (group.has(id)) throw new RangeError(`partition: ${id} is in more than one group`);
        group.set(id, gi);
      }
    });
    for (const id of this.ids) if (!group.has(id)) group.set(id, groups.length);
    this.ids.forEach((a, i) => {
      this.ids.forEach((b, j) => {
        this.linkUp[i]![j] = group.get(a) === group.get(b);
      });
    });
    return this.pushLinks(this.ids);
  }

  /** heal reconnects every node and brings every link up (conditions set by {@link setNetwork} stay). */
  async heal(): Promise<void> {
    for (const row of this.linkUp) row.fill(true);
    this.connected.fill(true);
    return this.pushLinks(this.ids);
  }

  /** setLink brings the one directed link `from` → `to` up or down (it works only while both ends are connected). */
  async setLink(from: NodeId, to: NodeId, up: boolean): Promise<void> {
    if (typeof up !== 'boolean') throw new TypeError('setLink(from, to, up): up must be a boolean');
    const i = this.index(from);
    const j = this.index(to);
    if (i === j) throw new RangeError(`setLink: ${from} has no link to itself`);
    this.linkUp[i]![j] = up;
    return this.pushLinks([from]);
  }

  /** setNetwork sets the conditions of every link; `setNetwork({})` makes the network reliable again. */
  async setNetwork(settings: NetworkSettings): Promise<void> {
    const reorder =
      settings.reorder === true ? REORDER_DEFAULT : settings.reorder === false ? 0 : settings.reorder;
    const next = {
      dropRate: settings.dropRate ?? 0,
      delayMs: settings.delayMs ?? ([0, 0] as const),
      reorder: reorder ?? 0,
    };
    checkLinkSettings({ up: true, ...next });
    this.network = next;
    return this.pushLinks(this.ids);
  }

  /** pause freezes `id`'s event loop for `ms` (a process pause, e.g. a long GC); resolves once it has begun. */
  async pause(id: NodeId, ms: number): Promise<void> {
    if (!(Number.isFinite(ms) && ms > 0 && ms <= 600_000)) {
      throw new RangeError(`pause(${JSON.stringify(id)}, ms): ms must be in (0, 600000], got ${ms}`);
    }
    const before = this.supervisor.pausesBegun(id);
    await this.control(id).call('pause', [ms]);
    // The worker blocks just after answering: wait until it has, so callers see a paused node.
    const deadline = performance.now() + this.o.controlTimeoutMs;
    while (this.supervisor.pausesBegun(id) === before && this.supervisor.hasWorker(id)) {
      if (performance.now() > deadline) throw new ControlTimeoutError(id, 'pause', this.o.controlTimeoutMs);
      await sleep(1);
    }
  }

  /** stats are the traffic counters of every node, summed over restarts. */
  stats(): ClusterStats {
    const rpcs: Record<NodeId, number> = {};
    const dropped: Record<NodeId, number> = {};
    const malformed: Record<NodeId, number> = {};
    let bytes = 0;
    let batches = 0;
    for (const id of this.ids) {
      const c = this.supervisor.counters(id);
      rpcs[id] = c.get('rpcs');
      dropped[id] = c.get('dropped');
      malformed[id] = c.get('malformed');
      bytes += c.get('bytes');
      batches += c.get('batches');
    }
    return { rpcs, bytes, batches, dropped, malformed };
  }

  /** status fetches `id`'s full report over the control plane (wire errors, seed, in-flight writes…). */
  async status(id: NodeId): Promise<NodeReport> {
    return this.control(id).call('status', []);
  }

  /** transferLeadership asks `from`, if it leads, to hand leadership to `to` (thesis §3.10). */
  async transferLeadership(from: NodeId, to: NodeId): Promise<void> {
    this.index(to);
    await this.control(from).call('transferLeadership', [to]);
  }

  /**
   * kill makes `id`'s worker die the given way, for tests of supervision: the
   * supervisor sees an unplanned death and restarts it (unless autoRestart is
   * off). `'oom'` needs `resourceLimits.maxOldGenerationSizeMb`.
   */
  async kill(id: NodeId, how: KillMode): Promise<void> {
    if (how === 'terminate') return this.supervisor.terminate(id);
    if (how === 'oom' && this.o.resourceLimits?.maxOldGenerationSizeMb === undefined) {
      throw new RangeError(
        "kill(id, 'oom') needs Cluster.start({ resourceLimits: { maxOldGenerationSizeMb } }): without a limit the worker would take the whole process down",
      );
    }
    if (!['throw', 'rejection', 'exit', 'oom'].includes(how))
      throw new RangeError(`unknown kill mode ${how}`);
    const control = this.control(id);
    // The worker dies just after answering; its death may overtake the answer.
    await control.call('kill', [how]).catch((err: unknown) => {
      if (!(err instanceof WorkerExitedError)) throw err;
    });
  }

  /**
   * crashLoop restarts `id` with a worker that throws during bootstrap, every
   * time, until {@link restart}: the supervisor's crash-loop guard must give
   * up. The promise rejects once it has (or resolves, should a boot succeed).
   */
  crashLoop(id: NodeId): Promise<void> {
    return this.supervisor.restart(id, 'throw');
  }

  /** sendRaw posts `payload` from `from` to `to` as is, bypassing codec and link (tests of input validation). */
  async sendRaw(from: NodeId, to: NodeId, payload: unknown): Promise<void> {
    this.index(to);
    await this.control(from).call('sendRaw', [to, payload]);
  }

  /** stop ends every worker (gracefully when it answers), closes every port and timer, and removes a default dataDir. */
  stop(): Promise<void> {
    this.stopped ??= (async () => {
      this.clientPorts.close();
      for (const endpoint of this.endpoints) endpoint.close();
      this.endpoints.clear();
      await this.supervisor.stop();
      await this.inspectorServer?.close();
      for (const m of this.memory.values()) await m.close();
      const open = [...this.openPorts];
      const closed = open.map((port) => new Promise<void>((resolve) => port.once('close', () => resolve())));
      for (const port of open) port.close();
      await Promise.all(closed);
      if (this.o.ownDataDir && this.o.dataDir !== null)
        rmSync(this.o.dataDir, { recursive: true, force: true });
    })();
    return this.stopped;
  }

  /** startInspection starts the local inspector server or takes the given inspector (option `inspect`). */
  private async startInspection(): Promise<void> {
    const inspect = this.o.inspect;
    if (inspect === false) return;
    if (isInspectorLike(inspect)) {
      this.inspectTarget = inspect;
      return;
    }
    this.inspectorServer = await startInspectorServer(inspect);
    this.inspectTarget = this.inspectorServer.inspector;
    this.emitLog({
      node: null,
      level: 'info',
      message: `inspector: open ${this.inspectorServer.url} (events at ${this.inspectorServer.wsUrl})`,
    });
  }

  /** track records a main-thread port end for {@link stop} to see closed. */
  private track(port: MessagePort): void {
    this.openPorts.add(port);
    port.once('close', () => this.openPorts.delete(port));
  }

  private control(id: NodeId) {
    if (this.stopped !== null) throw new WorkerExitedError(id, 'the cluster is stopped');
    return this.supervisor.control(id);
  }

  private currentLeader(): NodeId | null {
    const states = this.ids.map((id) => this.state(id));
    const alive = states.map((s) => s.alive);
    const majority = Math.floor(this.ids.length / 2) + 1;
    const connected = states.filter((s, i) => {
      if (!s.alive) return false;
      let reach = 1;
      for (let j = 0; j < states.length; j++) {
        if (j !== i && alive[j] && this.isUp(i, j) && this.isUp(j, i)) reach++;
      }
      return reach >= majority;
    });
    if (connected.length === 0) return null;
    const top = Math.max(...connected.map((s) => s.term));
    const leaders = connected.filter((s) => s.role === 'leader' && s.term === top);
    return leaders.length === 1 ? leaders[0]!.id : null;
  }

  private setConnected(id: NodeId, connected: boolean): Promise<void> {
    this.connected[this.index(id)] = connected;
    return this.pushLinks(this.ids);
  }

  /** isUp tells whether the link ids[i] → ids[j] delivers: both ends connected and no partition or setLink between. */
  private isUp(i: number, j: number): boolean {
    return this.connected[i]! && this.connected[j]! && this.linkUp[i]![j]!;
  }

  /** links is the settings of every outgoing link of `id`. */
  private links(id: NodeId): Record<NodeId, LinkSettings> {
    const i = this.index(id);
    const out: Record<NodeId, LinkSettings> = {};
    this.ids.forEach((peer, j) => {
      if (j !== i) out[peer] = { up: this.isUp(i, j), ...this.network };
    });
    return out;
  }

  /** pushLinks sends the link settings of `from` nodes to their workers; booting ones got them in their boot data. */
  private async pushLinks(from: readonly NodeId[]): Promise<void> {
    await Promise.all(
      from.map(async (id) => {
        if (this.stopped !== null || !this.supervisor.hasWorker(id)) return;
        try {
          await this.supervisor.control(id).call('setLinks', [this.links(id)]);
        } catch (err) {
          // A worker that died meanwhile gets the settings when it boots again; one that timed
          // out (paused, busy) still applies them when it gets to the call. Never reject: callers
          // may not await network changes.
          if (!(err instanceof WorkerExitedError)) {
            this.emitLog({
              node: id,
              level: 'warn',
              message: `link settings for ${id}: ${(err as Error).message}`,
            });
          }
        }
      }),
    );
  }

  private boot(id: NodeId): BootSpec {
    const o = this.o;
    let storage: StorageSpec;
    const client = new MessageChannel();
    this.track(client.port1);
    this.bootingClientPorts.set(id, client.port1);
    let releaseStorage: (() => void) | undefined;
    const transfer: Array<MessagePort> = [client.port2];
    if (o.storage === 'memory') {
      const channel = new MessageChannel();
      this.track(channel.port1);
      releaseStorage = serveStorage(this.memory.get(id)!, channel.port1);
      storage = { kind: 'memory', port: channel.port2 };
      transfer.push(channel.port2);
    } else {
      storage = { kind: 'disk', dir: join(o.dataDir!, id) };
    }
    return {
      data: {
        id,
        voters: this.ids,
        electionTimeoutMs: o.electionTimeoutMs,
        heartbeatIntervalMs: o.heartbeatIntervalMs,
        storage,
        links: this.links(id),
        ...(o.stateMachine !== undefined ? { stateMachine: o.stateMachine } : {}),
        inspect: o.inspect !== false,
        client: client.port2,
        maxClockDriftMs: o.maxClockDriftMs,
        snapshotPolicy: o.snapshotPolicy,
        watchApplies: this.watchApplies.buffer as SharedArrayBuffer,
      },
      transfer,
      release: () => {
        this.bootingClientPorts.get(id)?.close();
        this.bootingClientPorts.delete(id);
        this.clientPorts.detach(id, 'exited');
        for (const endpoint of this.endpoints)
          endpoint.postMessage({ kind: 'detach', node: id } satisfies EndpointMessage);
        releaseStorage?.();
      },
    };
  }

  private onWorkerMessage(id: NodeId, m: WorkerToMain): void {
    switch (m.kind) {
      case 'applied':
        for (const { index, command } of m.commands) {
          for (const listener of this.applyListeners) listener(id, index, command);
        }
        break;
      case 'log':
        this.emitLog({ node: id, level: m.level, message: m.message });
        break;
      case 'inspect':
        if (this.inspectTarget !== null) forwardInspection(this.inspectTarget, raftMachine, m.records);
        for (const l of this.inspectListeners) l(m.records);
        break;
      case 'ready': {
        const port = this.bootingClientPorts.get(id);
        this.bootingClientPorts.delete(id);
        if (port !== undefined) this.clientPorts.attach(id, port);
        for (const endpoint of this.endpoints) this.attachEndpoint(endpoint, id);
        this.emitLog({
          node: id,
          level: 'info',
          message: `${id} ready (incarnation ${m.incarnation}, seed ${m.seed}): recovered term ${m.recovered.term}, commit ${m.recovered.commit}, last index ${m.recovered.lastIndex}`,
        });
        break;
      }
      default:
        assertNever(m, 'message from a node worker');
    }
  }

  private onSupervisorEvent(e: SupervisorEvent): void {
    if (e.type === 'crashed') {
      const next = e.restartInMs === null ? 'not restarting' : `restarting in ${e.restartInMs} ms`;
      this.emitLog({
        node: e.id,
        level: 'warn',
        message: `${e.id} crashed during ${e.during} (exit ${e.exitCode}): ${firstLine(e.error)}; ${next}`,
      });
    } else if (e.type === 'gave-up') {
      this.emitLog({
        node: e.id,
        level: 'error',
        message: `${e.id} crashed ${e.crashes} times within ${e.windowMs} ms: given up, the node stays down (c.restart(id) tries again)`,
      });
    }
    for (const l of this.supervisorListeners) l(e);
  }

  private emitLog(entry: LogEntry): void {
    this.o.log(entry);
    for (const l of this.logListeners) l(entry);
  }

  private index(id: NodeId): number {
    const i = this.ids.indexOf(id);
    if (i < 0) {
      throw new RangeError(`unknown node ${JSON.stringify(id)}: the cluster has ${this.ids.join(', ')}`);
    }
    return i;
  }
}

const OPTION_KEYS: ReadonlySet<string> = new Set([
  'nodes',
  'storage',
  'dataDir',
  'electionTimeoutMs',
  'heartbeatIntervalMs',
  'autoRestart',
  'restartPolicy',
  'resourceLimits',
  'controlTimeoutMs',
  'stateMachine',
  'log',
  'inspect',
  'maxClockDriftMs',
  'snapshotThreshold',
]);

/** resolveOptions validates {@link ClusterOptions} and fills in defaults, with errors that say what to pass. */
function resolveOptions(options: ClusterOptions): Resolved {
  const fail = (what: string): never => {
    throw new RangeError(`Cluster.start: ${what}`);
  };
  if (typeof options !== 'object' || options === null) fail('options must be an object');
  for (const key of Object.keys(options)) {
    if (!OPTION_KEYS.has(key))
      fail(`unknown option ${JSON.stringify(key)} (known: ${[...OPTION_KEYS].join(', ')})`);
  }
  const nodes = options.nodes ?? 3;
  if (!(Number.isInteger(nodes) && nodes >= 1 && nodes <= 64)) {
    fail(`nodes must be an integer from 1 to 64, got ${nodes}`);
  }
  const storage = options.storage ?? 'disk';
  if (storage !== 'disk' && storage !== 'memory') {
    fail(`storage must be 'disk' or 'memory', got ${JSON.stringify(storage)}`);
  }
  if (options.dataDir !== undefined && (typeof options.dataDir !== 'string' || options.dataDir === '')) {
    fail('dataDir must be a non-empty string (a directory path)');
  }
  const electionTimeoutMs = options.electionTimeoutMs ?? ([150, 300] as const);
  const heartbeatIntervalMs = options.heartbeatIntervalMs ?? 50;
  if (!Array.isArray(electionTimeoutMs) || electionTimeoutMs.length !== 2) {
    fail(`electionTimeoutMs must be [min, max], got ${JSON.stringify(electionTimeoutMs)}`);
  }
  const maxClockDriftMs = options.maxClockDriftMs ?? null;
  try {
    resolveConfig({ id: 'n1', voters: ['n1'], electionTimeoutMs, heartbeatIntervalMs, maxClockDriftMs });
  } catch (err) {
    fail((err as Error).message.replace(/^invalid Raft config for "n1": /, ''));
  }
  let snapshotPolicy = DEFAULT_SNAPSHOT_POLICY;
  try {
    snapshotPolicy = resolveSnapshotPolicy(options.snapshotThreshold);
  } catch (err) {
    fail((err as Error).message);
  }
  const autoRestart = options.autoRestart ?? true;
  if (typeof autoRestart !== 'boolean') fail(`autoRestart must be a boolean, got ${String(autoRestart)}`);
  const policy: RestartPolicy = { ...DEFAULT_RESTART_POLICY, ...options.restartPolicy };
  if (!(Number.isInteger(policy.maxRestarts) && policy.maxRestarts >= 0)) {
    fail('restartPolicy.maxRestarts must be an integer >= 0');
  }
  if (!(policy.windowMs > 0)) fail('restartPolicy.windowMs must be > 0');
  const [b0, b1] = policy.backoffMs;
  if (!(b0 !== undefined && b1 !== undefined && b0 >= 0 && b0 <= b1)) {
    fail('restartPolicy.backoffMs must be [initial, max] with 0 <= initial <= max');
  }
  if (!(policy.bootTimeoutMs > 0)) fail('restartPolicy.bootTimeoutMs must be > 0');
  const controlTimeoutMs = options.controlTimeoutMs ?? 5_000;
  checkTimeout(controlTimeoutMs, 'controlTimeoutMs');
  if (options.log !== undefined && typeof options.log !== 'function') fail('log must be a function');
  const sm = options.stateMachine;
  let stateMachine: string | undefined;
  if (sm !== undefined) {
    try {
      stateMachine = new URL(String(sm)).href;
    } catch {
      fail(`stateMachine must be a module URL (e.g. pathToFileURL(path).href), got ${String(sm)}`);
    }
  }
  const inspect = options.inspect ?? false;
  if (!(typeof inspect === 'boolean' || (typeof inspect === 'object' && inspect !== null))) {
    fail('inspect must be a boolean, inspector server options ({ port, host }) or an inspector');
  }
  let dataDir: string | null = null;
  let ownDataDir = false;
  if (storage === 'disk') {
    if (options.dataDir !== undefined) dataDir = options.dataDir;
    else {
      dataDir = mkdtempSync(join(tmpdir(), 'xraft-'));
      ownDataDir = true;
    }
  }
  return {
    nodes,
    storage,
    dataDir,
    ownDataDir,
    electionTimeoutMs,
    heartbeatIntervalMs,
    autoRestart,
    policy,
    resourceLimits: options.resourceLimits,
    controlTimeoutMs,
    stateMachine,
    log: options.log ?? defaultLog,
    inspect: inspect === true ? {} : inspect,
    maxClockDriftMs,
    snapshotPolicy,
  };
}

/**
 * workerUrl locates the node worker's entry: `worker.js` beside this module
 * when running from `dist/`, `../dist/worker.js` when this module runs from
 * `src/` (vitest): the worker always runs as built JavaScript.
 */
function workerUrl(): URL {
  const here = import.meta.url;
  const url = here.endsWith('.ts') ? new URL('../dist/worker.js', here) : new URL('./worker.js', here);
  if (!existsSync(url)) {
    throw new Error(
      `the node worker ${fileURLToPath(url)} does not exist: run \`pnpm build\` first (workers run built JavaScript, also under vitest)`,
    );
  }
  return url;
}

function isInspectorLike(x: object): x is InspectorLike {
  const i = x as Partial<InspectorLike>;
  return typeof i.actor === 'function' && typeof i.event === 'function' && typeof i.snapshot === 'function';
}

function defaultLog(entry: LogEntry): void {
  if (entry.level === 'info') return;
  process.stderr.write(`xraft ${entry.level}${entry.node ? ` [${entry.node}]` : ''}: ${entry.message}\n`);
}

function checkTimeout(ms: number, what: string): void {
  if (!(Number.isFinite(ms) && ms > 0))
    throw new RangeError(`${what} must be a positive number of ms, got ${ms}`);
}

function firstLine(s: string | null): string {
  return s === null ? 'no error reported' : (s.split('\n')[0] ?? s);
}

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}
