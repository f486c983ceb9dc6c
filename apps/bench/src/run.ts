/**
 * One run of the throughput benchmark: a fresh cluster on worker threads,
 * load from piscina generator threads through client endpoints, and what the
 * process, the node workers and the generators used during the window.
 */
import { existsSync, readFileSync } from 'node:fs';
import { performance } from 'node:perf_hooks';
import { fileURLToPath } from 'node:url';
import { Cluster, type NodeUsage } from '@xraft/runtime';
import { Piscina } from 'piscina';
import { absNow, type GeneratorResult, type GeneratorTask } from './generator.js';
import { encodeHistogram, type LatencySummary, mergeHistograms, summarize } from './histogram.js';
import { onInterrupt } from './interrupt.js';
import { availableCores, configLabel, type RunConfig } from './options.js';

/** NodeFigures are one node worker's figures over the window. */
export interface NodeFigures {
  readonly id: string;
  /** Its role at the end of the run. */
  readonly role: string;
  /** Event-loop utilization over the window, 0..1. */
  readonly elu: number;
  /** V8 heap in use at the end of the window (its own isolate). */
  readonly heapUsedBytes: number;
}

/** RunResult is everything one run measured. */
export interface RunResult {
  readonly label: string;
  readonly config: RunConfig;
  /** The core count the process was limited to (taskset), or null when not limited. */
  readonly cores: number | null;
  /** Cores the process could use (its CPU affinity). */
  readonly coresAvailable: number;
  readonly startedAt: string;
  readonly throughput: {
    /** Successful operations answered inside the window, per second (achieved, also in open loop). */
    readonly opsPerSec: number;
    /** Successful operations answered inside the window. */
    readonly ok: number;
    /** Reads and writes in the latency histogram (open loop: those due in the window). */
    readonly reads: number;
    readonly writes: number;
    /** Failed operations by error name. */
    readonly errors: Record<string, number>;
    /** Open loop: operations due in the window that were never sent. */
    readonly missed: number;
    readonly targetRate: number | null;
    readonly windowS: number;
  };
  /** Latency of the successful operations (open loop: from when each was due). */
  readonly latencyMs: LatencySummary;
  /** The merged HdrHistogram (µs), compressed base64, for re-analysis. */
  readonly histogram: string;
  readonly process: {
    /** CPU time of the whole process (every thread) over the window, in % of one core. */
    readonly cpuPercent: number;
    /** Resident set size of the process, sampled every 100 ms: every thread shares it. */
    readonly rssMaxBytes: number;
    /** The main thread's event-loop utilization over the window (supervisor, sampling). */
    readonly mainThreadElu: number;
    /**
     * CPU time other processes used over the window on every CPU, in % of one
     * core (Linux /proc/stat less this process): how much this run had to
     * share the machine. null where /proc/stat is missing.
     */
    readonly otherCpuPercent: number | null;
  };
  /**
   * What Raft did over the window: log entries the cluster committed per
   * second (the highest commit index of any node), the writes per entry (the
   * batching of one client's concurrent calls: a KvClient request is one
   * entry), entries per RPC the leader sent each follower (the batching of many
   * clients' entries into one AppendEntries; heartbeats count as RPCs too;
   * null with one node), and the nodes' RPCs, `postMessage` batches and bytes per second.
   */
  readonly raft: {
    readonly entriesPerSec: number;
    readonly writesPerEntry: number;
    readonly entriesPerLeaderRpc: number | null;
    readonly rpcsPerSec: number;
    readonly batchesPerSec: number;
    readonly bytesPerSec: number;
  };
  readonly nodes: readonly NodeFigures[];
  /** Each load-generator thread's event-loop utilization over the window (near 1: the client side limits). */
  readonly generators: readonly { readonly elu: number; readonly clients: number }[];
}

/** RunHooks report progress and log lines of a run. */
export interface RunHooks {
  /** Called every ~100 ms with the fraction of the run's load time elapsed. */
  readonly progress?: (fraction: number) => void;
  readonly log?: (line: string) => void;
}

/** generatorUrl is the generator's built module (piscina threads run JavaScript, also under vitest). */
export function generatorUrl(): URL {
  const here = import.meta.url;
  const url = here.endsWith('.ts') ? new URL('../dist/generator.js', here) : new URL('./generator.js', here);
  if (!existsSync(url)) {
    throw new Error(`the load generator ${fileURLToPath(url)} does not exist: run \`pnpm build\` first`);
  }
  return url;
}

/** makePool makes the piscina pool of load generators: `threads` threads, one task each at a time. */
export function makePool(threads: number): Piscina {
  return new Piscina({
    filename: generatorUrl().href,
    minThreads: threads,
    maxThreads: threads,
    concurrentTasksPerWorker: 1,
    idleTimeout: 60_000,
  });
}

/** Time the generators get to receive their tasks and endpoint ports before the load starts. */
const START_DELAY_MS = 300;
/** How long past the window open-loop clients may still send operations due in it. */
const DRAIN_MS = 2_000;

/**
 * runOnce starts a cluster for `config`, fills the key space for reads,
 * runs the load on `pool` (at least `config.generators` threads), and stops
 * the cluster. `cores` is recorded as is (the parent limited the process).
 */
export async function runOnce(
  config: RunConfig,
  pool: Piscina,
  cores: number | null,
  hooks: RunHooks = {},
): Promise<RunResult> {
  const startedAt = new Date().toISOString();
  const cluster = await Cluster.start({
    nodes: config.nodes,
    storage: config.storage,
    log: (e) => {
      if (e.level === 'error') hooks.log?.(`${e.node ?? 'cluster'}: ${e.message}`);
    },
  });
  const timers: ReturnType<typeof setTimeout>[] = [];
  const forget = onInterrupt(() => cluster.stop());
  try {
    await cluster.leader(20_000);
    if (config.readRatio > 0) await prefill(cluster, config);

    const g = config.generators;
    const startAt = absNow() + START_DELAY_MS;
    const warmupMs = config.warmupS * 1000;
    const durationMs = config.durationS * 1000;
    const from = startAt + warmupMs;
    const to = from + durationMs;
    const tasks = Array.from({ length: g }, (_, i): GeneratorTask => {
      const first = Math.floor((i * config.clients) / g);
      const next = Math.floor(((i + 1) * config.clients) / g);
      return {
        endpoint: cluster.clientEndpoint(),
        clients: next - first,
        firstClient: first,
        totalClients: config.clients,
        workload: config.workload,
        readRatio: config.readRatio,
        valueBytes: config.valueBytes,
        keys: config.keys,
        rate: config.rate,
        startAt,
        warmupMs,
        durationMs,
        drainMs: DRAIN_MS,
        timeoutMs: config.timeoutMs,
        seed: (Math.random() * 2 ** 32) >>> 0,
      };
    });

    // What the process and the node workers use over the window.
    let rssMax = process.memoryUsage.rss();
    const rssTimer = setInterval(() => {
      rssMax = Math.max(rssMax, process.memoryUsage.rss());
      hooks.progress?.(Math.min(1, Math.max(0, (absNow() - startAt) / (to - startAt))));
    }, 100);
    timers.push(rssTimer);
    const sample = async () => ({
      at: performance.now(),
      cpu: process.cpuUsage(),
      machineBusyMs: machineBusyMs(),
      elu: performance.eventLoopUtilization(),
      stats: cluster.stats(),
      commit: Math.max(...cluster.ids.map((id) => cluster.state(id).commitIndex)),
      nodes: await Promise.all(cluster.ids.map((id) => cluster.nodeUsage(id).catch(() => null))),
    });
    const at = (t: number) =>
      new Promise<Awaited<ReturnType<typeof sample>>>((resolve, reject) => {
        timers.push(setTimeout(() => sample().then(resolve, reject), Math.max(0, t - absNow())));
      });
    const before = at(from);
    const after = at(to);

    const results: GeneratorResult[] = await Promise.all(
      tasks.map((task) => pool.run(task, { transferList: [task.endpoint.port] }) as Promise<GeneratorResult>),
    );
    const [b, a] = await Promise.all([before, after]);
    clearInterval(rssTimer);
    hooks.progress?.(1);

    const windowMs = a.at - b.at;
    const cpuMicros = a.cpu.user - b.cpu.user + (a.cpu.system - b.cpu.system);
    const histogram = mergeHistograms(results.map((r) => r.histogram));
    const errors: Record<string, number> = {};
    for (const r of results) for (const [k, n] of Object.entries(r.errors)) errors[k] = (errors[k] ?? 0) + n;
    const ok = sum(results.map((r) => r.ok));
    return {
      label: configLabel(config),
      config,
      cores,
      coresAvailable: availableCores(),
      startedAt,
      throughput: {
        opsPerSec: round1(ok / (durationMs / 1000)),
        ok,
        reads: sum(results.map((r) => r.reads)),
        writes: sum(results.map((r) => r.writes)),
        errors,
        missed: sum(results.map((r) => r.missed)),
        targetRate: config.rate,
        windowS: config.durationS,
      },
      latencyMs: summarize(histogram),
      histogram: encodeHistogram(histogram),
      process: {
        cpuPercent: round1((cpuMicros / 1000 / windowMs) * 100),
        rssMaxBytes: rssMax,
        mainThreadElu: round3(performance.eventLoopUtilization(a.elu, b.elu).utilization),
        otherCpuPercent:
          a.machineBusyMs === null || b.machineBusyMs === null
            ? null
            : round1(Math.max(0, ((a.machineBusyMs - b.machineBusyMs - cpuMicros / 1000) / windowMs) * 100)),
      },
      raft: {
        entriesPerSec: round1(((a.commit - b.commit) * 1000) / windowMs),
        writesPerEntry:
          a.commit > b.commit ? round1(sum(results.map((r) => r.writes)) / (a.commit - b.commit)) : 0,
        entriesPerLeaderRpc: leaderRpcsPerPeer(cluster, b.stats.rpcs, a.stats.rpcs, a.commit - b.commit),
        rpcsPerSec: round1(
          ((sum(Object.values(a.stats.rpcs)) - sum(Object.values(b.stats.rpcs))) * 1000) / windowMs,
        ),
        batchesPerSec: round1(((a.stats.batches - b.stats.batches) * 1000) / windowMs),
        bytesPerSec: Math.round(((a.stats.bytes - b.stats.bytes) * 1000) / windowMs),
      },
      nodes: cluster.ids.map((id, i) => ({
        id,
        role: cluster.state(id).alive ? cluster.state(id).role : 'down',
        elu: round3(nodeElu(b.nodes[i] ?? null, a.nodes[i] ?? null)),
        heapUsedBytes: a.nodes[i]?.heapUsedBytes ?? 0,
      })),
      generators: results.map((r, i) => ({ elu: round3(r.elu), clients: tasks[i]!.clients })),
    };
  } finally {
    for (const t of timers) clearTimeout(t);
    await cluster.stop();
    forget();
  }
}

/** prefill writes every key once so that gets read real values. */
async function prefill(cluster: Cluster, config: RunConfig): Promise<void> {
  const kv = cluster.client({ timeoutMs: 30_000 });
  const value = 'v'.repeat(config.valueBytes);
  try {
    const batch = 1000;
    for (let i = 0; i < config.keys; i += batch) {
      const n = Math.min(batch, config.keys - i);
      await Promise.all(Array.from({ length: n }, (_, j) => kv.put(`k${i + j}`, value)));
    }
  } finally {
    await kv.close();
  }
}

/** leaderRpcsPerPeer is the entries committed per RPC the (final) leader sent each follower, or null. */
function leaderRpcsPerPeer(
  cluster: Cluster,
  before: Record<string, number>,
  after: Record<string, number>,
  entries: number,
): number | null {
  const leader = cluster.ids.find((id) => cluster.state(id).alive && cluster.state(id).role === 'leader');
  if (leader === undefined || cluster.ids.length < 2) return null;
  const perPeer = ((after[leader] ?? 0) - (before[leader] ?? 0)) / (cluster.ids.length - 1);
  return perPeer > 0 ? round1(entries / perPeer) : null;
}

/** Linux's clock ticks per second in /proc/stat (USER_HZ, 100 on every mainstream architecture). */
const USER_HZ = 100;

/** machineBusyMs is the CPU time every process has used on every CPU since boot, from /proc/stat; null elsewhere. */
function machineBusyMs(): number | null {
  try {
    const line = readFileSync('/proc/stat', 'utf8').split('\n', 1)[0] ?? '';
    const f = line.trim().split(/\s+/).slice(1).map(Number);
    if (f.length < 8 || f.some((x) => !Number.isFinite(x))) return null;
    // user nice system idle iowait irq softirq steal: busy is all but idle and iowait.
    const busy = f[0]! + f[1]! + f[2]! + f[5]! + f[6]! + f[7]!;
    return (busy * 1000) / USER_HZ;
  } catch {
    return null;
  }
}

function nodeElu(before: NodeUsage | null, after: NodeUsage | null): number {
  if (before === null || after === null) return 0; // the worker restarted or was down
  const active = after.eventLoop.activeMs - before.eventLoop.activeMs;
  const idle = after.eventLoop.idleMs - before.eventLoop.idleMs;
  return active + idle > 0 && active >= 0 && idle >= 0 ? active / (active + idle) : 0;
}

function sum(xs: readonly number[]): number {
  return xs.reduce((a, b) => a + b, 0);
}
const round1 = (x: number) => Math.round(x * 10) / 10;
const round3 = (x: number) => Math.round(x * 1000) / 1000;
