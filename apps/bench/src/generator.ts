/**
 * The load generator: a piscina task that runs its share of a run's clients
 * in its own thread, straight to the node workers over a client endpoint
 * (`Cluster.clientEndpoint()`), and returns its latency histogram and counts.
 *
 * Every client is an independent `KvClient` session with one operation
 * outstanding at a time. Closed loop: a client sends its next operation as
 * soon as the last one is answered; latency is send → answer, and the
 * operations answered inside the measurement window count. Open loop: the run's
 * rate is a schedule, operation k due at start + k / rate, dealt round-robin
 * to the clients; a client that falls behind sends late, and latency is
 * measured from the time the operation was due, not from when it was sent,
 * so a stalled cluster shows in the percentiles instead of slowing the load
 * down (no coordinated omission). Operations due inside the window count,
 * whenever they finish, in the latency histogram; those still unsent when the
 * run ends are reported as missed. Throughput, in both loops, is the
 * successful operations answered inside the window.
 */
import { performance } from 'node:perf_hooks';
import { type ClientEndpoint, ClientEndpointTransport, KvClient } from '@xraft/runtime';
import { encodeHistogram, newHistogram } from './histogram.js';
import type { Workload } from './options.js';

/** GeneratorTask is one generator's share of a run. Times are epoch ms (`performance.timeOrigin + now()`). */
export interface GeneratorTask {
  readonly endpoint: ClientEndpoint;
  /** This generator's clients, and the index of its first one among the run's. */
  readonly clients: number;
  readonly firstClient: number;
  /** The run's clients over every generator (deals the open-loop schedule). */
  readonly totalClients: number;
  readonly workload: Workload;
  readonly readRatio: number;
  readonly valueBytes: number;
  readonly keys: number;
  /** The run's target rate over every client (open loop), or null (closed loop). */
  readonly rate: number | null;
  readonly startAt: number;
  readonly warmupMs: number;
  readonly durationMs: number;
  /** How long past the window open-loop clients may still send operations due in it. */
  readonly drainMs: number;
  readonly timeoutMs: number;
  readonly seed: number;
}

/** GeneratorResult is what one generator measured inside the window. */
export interface GeneratorResult {
  /** Latencies of the counted successful operations, µs, compressed base64 HdrHistogram. */
  readonly histogram: string;
  /** Successful operations answered inside the window (the throughput, in both loops). */
  readonly ok: number;
  /** Of the operations in the histogram (closed loop: answered in the window; open loop: due in it). */
  readonly reads: number;
  readonly writes: number;
  /** Failed operations by error name (TimeoutError: outcome unknown; NotLeaderError: not applied…). */
  readonly errors: Record<string, number>;
  /** Open loop: operations due in the window never sent (the clients were that far behind). */
  readonly missed: number;
  /** This thread's event-loop utilization over the window. */
  readonly elu: number;
}

/** absNow is epoch ms with sub-ms resolution, comparable across threads. */
export function absNow(): number {
  return performance.timeOrigin + performance.now();
}

const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, Math.max(0, ms)));

/** xorshift32 is a small seeded PRNG in [0, 1) (key choice and read/write mix, not security). */
function xorshift32(seed: number): () => number {
  let x = seed >>> 0 || 0x9e3779b9;
  return () => {
    x ^= x << 13;
    x >>>= 0;
    x ^= x >>> 17;
    x ^= x << 5;
    x >>>= 0;
    return x / 0x1_0000_0000;
  };
}

/** The piscina entry point: one {@link GeneratorTask} in, one {@link GeneratorResult} out. */
export default async function generate(task: GeneratorTask): Promise<GeneratorResult> {
  const transport = new ClientEndpointTransport(task.endpoint);
  const clients = Array.from(
    { length: task.clients },
    () => new KvClient(transport.shared(), { timeoutMs: task.timeoutMs }),
  );
  const histogram = newHistogram();
  const errors: Record<string, number> = {};
  let ok = 0;
  let reads = 0;
  let writes = 0;
  let missed = 0;
  const from = task.startAt + task.warmupMs;
  const to = from + task.durationMs;
  const value = 'v'.repeat(task.valueBytes);
  const random = xorshift32(task.seed);
  const open = task.rate !== null;
  const periodMs = open ? 1000 / task.rate! : 0;

  let eluFrom = performance.eventLoopUtilization();
  let elu = -1;
  const eluTimers = [
    setTimeout(() => {
      eluFrom = performance.eventLoopUtilization();
    }, from - absNow()),
    setTimeout(() => {
      elu = performance.eventLoopUtilization(eluFrom).utilization;
    }, to - absNow()),
  ];

  /** Keys are made once each (a cache as large as the key space, up to a bound), not per operation. */
  const keyCache: string[] = [];
  const keyCacheSize = Math.min(task.keys, 1 << 20);
  const nextKey = (): string => {
    const i = Math.floor(random() * task.keys);
    if (i >= keyCacheSize) return `k${i}`;
    let key = keyCache[i];
    if (key === undefined) keyCache[i] = key = `k${i}`;
    return key;
  };
  const nextIsRead = (): boolean =>
    task.workload === 'get' || (task.workload === 'mixed' && random() < task.readRatio);
  /** one sends one operation (key first, then read or write, from the seeded PRNG); the caller awaits it. */
  const one = (kv: KvClient, key: string, read: boolean): Promise<unknown> =>
    read ? kv.get(key) : kv.put(key, value);
  const count = (kind: 'read' | 'write', latencyMs: number) => {
    histogram.recordValue(Math.max(1, Math.round(latencyMs * 1000)));
    if (kind === 'read') reads++;
    else writes++;
  };
  const fail = (err: unknown) => {
    const name = err instanceof Error ? err.name : 'Error';
    errors[name] = (errors[name] ?? 0) + 1;
  };

  const closedLoop = async (kv: KvClient) => {
    let now = absNow();
    while (now < to) {
      const sent = now;
      const key = nextKey();
      const read = nextIsRead();
      try {
        await one(kv, key, read);
        now = absNow();
        if (now >= from && now < to) {
          ok++;
          count(read ? 'read' : 'write', now - sent);
        }
      } catch (err) {
        now = absNow();
        if (now >= from && now < to) fail(err);
      }
    }
  };

  const openLoop = async (kv: KvClient, client: number) => {
    // Operation k (over every client) is due at startAt + k * period; this client takes k ≡ client.
    for (let k = client; ; k += task.totalClients) {
      const due = task.startAt + k * periodMs;
      if (due >= to) return;
      const now = absNow();
      if (now > to + task.drainMs) {
        // Too far behind to finish: the rest of this client's window is missed.
        for (let j = k; task.startAt + j * periodMs < to; j += task.totalClients) {
          if (task.startAt + j * periodMs >= from) missed++;
        }
        return;
      }
      if (due > now) await sleep(due - now);
      const inWindow = due >= from;
      const key = nextKey();
      const read = nextIsRead();
      try {
        await one(kv, key, read);
        const done = absNow();
        if (done >= from && done < to) ok++;
        if (inWindow) count(read ? 'read' : 'write', done - due);
      } catch (err) {
        if (inWindow) fail(err);
      }
    }
  };

  try {
    await sleep(task.startAt - absNow());
    await Promise.all(clients.map((kv, i) => (open ? openLoop(kv, task.firstClient + i) : closedLoop(kv))));
    // Open-loop clients may be done early; the window (and its ELU) still ends at `to`.
    await sleep(to - absNow());
  } finally {
    for (const t of eluTimers) clearTimeout(t);
    if (elu < 0) elu = performance.eventLoopUtilization(eluFrom).utilization;
    await Promise.all(clients.map((kv) => kv.close()));
    transport.close();
  }
  return { histogram: encodeHistogram(histogram), ok, reads, writes, errors, missed, elu };
}
