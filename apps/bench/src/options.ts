/**
 * The benchmark's options: parsers for commander (list flags take comma
 * lists), the resolved options of a throughput benchmark, and the cross
 * product of its lists into {@link RunConfig}s.
 */
import os from 'node:os';
import { InvalidArgumentError } from 'commander';

/** Workload is what each operation does: a put, a linearizable get, or either (`--read-ratio`). */
export type Workload = 'put' | 'get' | 'mixed';
/** WORKLOADS are the values of `--workload`. */
export const WORKLOADS: readonly Workload[] = ['put', 'get', 'mixed'];
/** StorageKind is the cluster's storage (`Cluster.start({ storage })`). */
export type StorageKind = 'disk' | 'memory';
/** STORAGES are the values of `--storage`. */
export const STORAGES: readonly StorageKind[] = ['disk', 'memory'];

/** ThroughputOptions are the resolved options of `pnpm bench` (the throughput/latency benchmark). */
export interface ThroughputOptions {
  readonly workloads: readonly Workload[];
  /** Fraction of gets in the mixed workload. */
  readonly readRatio: number;
  /** Value sizes in bytes. */
  readonly values: readonly number[];
  /** Client sessions (each an independent KvClient with one operation outstanding at a time). */
  readonly clients: readonly number[];
  readonly nodes: readonly number[];
  readonly storages: readonly StorageKind[];
  /** Target rates in ops/s (open loop), or null: closed loop. */
  readonly rates: readonly number[] | null;
  readonly durationS: number;
  readonly warmupS: number;
  /** Distinct keys the operations draw from (uniformly). */
  readonly keys: number;
  /** Load-generator threads, or 'auto' (a quarter of the cores available, at least 1, at most one per client). */
  readonly generators: number | 'auto';
  /** Timeout of every KvClient call, in ms. */
  readonly timeoutMs: number;
  /** Core counts to repeat every run under (taskset), 'all' (1, 2, 4, … and every core), or 'off'. */
  readonly cores: readonly number[] | 'all' | 'off';
  /** Directory of the results. */
  readonly out: string;
  readonly quick: boolean;
}

/** RunConfig is one point of the cross product: one cluster, one load, one measurement. */
export interface RunConfig {
  readonly workload: Workload;
  /** Fraction of gets (1 for `get`, 0 for `put`). */
  readonly readRatio: number;
  readonly valueBytes: number;
  readonly clients: number;
  readonly nodes: number;
  readonly storage: StorageKind;
  /** Target ops/s over all clients (open loop), or null (closed loop). */
  readonly rate: number | null;
  readonly durationS: number;
  readonly warmupS: number;
  readonly keys: number;
  /** Load-generator threads (piscina workers) sharing the clients. */
  readonly generators: number;
  readonly timeoutMs: number;
}

/** QUICK is the small matrix of `--quick` (flags given explicitly still win). */
export const QUICK = {
  workloads: ['put'] as Workload[],
  values: [100],
  clients: [1, 16],
  nodes: [3],
  storages: ['memory'] as StorageKind[],
  durationS: 2,
  warmupS: 0.5,
};

/** parseIntIn is a commander parser for one integer within [min, max]. */
export function parseIntIn(min: number, max: number) {
  return (value: string): number => {
    const n = Number(value);
    if (value.trim() === '' || !Number.isInteger(n) || n < min || n > max) {
      throw new InvalidArgumentError(`expected an integer from ${min} to ${max}, got "${value}"`);
    }
    return n;
  };
}

/** parsePositive is a commander parser for a finite number > 0. */
export function parsePositive(value: string): number {
  const n = Number(value);
  if (value.trim() === '' || !Number.isFinite(n) || n <= 0) {
    throw new InvalidArgumentError(`expected a positive number, got "${value}"`);
  }
  return n;
}

/** parseNonNegative is a commander parser for a finite number >= 0. */
export function parseNonNegative(value: string): number {
  const n = Number(value);
  if (value.trim() === '' || !Number.isFinite(n) || n < 0) {
    throw new InvalidArgumentError(`expected a number >= 0, got "${value}"`);
  }
  return n;
}

/** parseFraction is a commander parser for a number in [0, 1]. */
export function parseFraction(value: string): number {
  const n = Number(value);
  if (value.trim() === '' || !(n >= 0 && n <= 1)) {
    throw new InvalidArgumentError(`expected a number from 0 to 1, got "${value}"`);
  }
  return n;
}

/** parseList makes a commander parser of a comma list whose items `item` parses; duplicates are dropped. */
export function parseList<T>(item: (value: string) => T) {
  return (value: string): T[] => {
    const parts = value.split(',').map((s) => s.trim());
    if (parts.length === 0 || parts.some((p) => p === '')) {
      throw new InvalidArgumentError(`expected a comma-separated list without empty items, got "${value}"`);
    }
    const out: T[] = [];
    for (const p of parts) {
      let v: T;
      try {
        v = item(p);
      } catch (err) {
        throw new InvalidArgumentError(`in "${value}": ${(err as Error).message}`);
      }
      if (!out.includes(v)) out.push(v);
    }
    return out;
  };
}

/** parseChoice is a commander parser for one of `choices`. */
export function parseChoice<T extends string>(choices: readonly T[]) {
  return (value: string): T => {
    if (!(choices as readonly string[]).includes(value)) {
      throw new InvalidArgumentError(`expected one of ${choices.join(', ')}, got "${value}"`);
    }
    return value as T;
  };
}

/** parseCores parses `--cores`: `all`, `off`, or a comma list of core counts. */
export function parseCores(value: string): number[] | 'all' | 'off' {
  if (value === 'all' || value === 'off') return value;
  const list = parseList(parseIntIn(1, 4096))(value);
  return list.sort((a, b) => a - b);
}

/** availableCores is how many cores this process may run on (its CPU affinity, so taskset counts). */
export function availableCores(): number {
  return os.availableParallelism();
}

/**
 * coreCounts resolves `--cores` against the `available` cores: `all` is 1, 2,
 * 4, … (powers of two) and `available` itself; a list must not exceed it.
 */
export function coreCounts(cores: readonly number[] | 'all', available: number): number[] {
  if (cores === 'all') {
    const out: number[] = [];
    for (let k = 1; k < available; k *= 2) out.push(k);
    out.push(available);
    return out;
  }
  const over = cores.filter((k) => k > available);
  if (over.length > 0) {
    throw new RangeError(
      `--cores ${cores.join(',')}: this machine lets the process use ${available} core${available === 1 ? '' : 's'}; ask for at most that`,
    );
  }
  return [...cores];
}

/** autoGenerators is the number of load-generator threads `--generators auto` picks for `clients` clients. */
export function autoGenerators(clients: number, cores = availableCores()): number {
  return Math.max(1, Math.min(clients, Math.ceil(cores / 4)));
}

/** expand is the cross product of the options' lists, in a stable order (clients vary fastest). */
export function expand(o: ThroughputOptions, cores = availableCores()): RunConfig[] {
  const out: RunConfig[] = [];
  for (const storage of o.storages)
    for (const nodes of o.nodes)
      for (const workload of o.workloads)
        for (const valueBytes of o.values)
          for (const rate of o.rates ?? [null])
            for (const clients of o.clients) {
              const generators =
                o.generators === 'auto' ? autoGenerators(clients, cores) : Math.min(o.generators, clients);
              out.push({
                workload,
                readRatio: workload === 'put' ? 0 : workload === 'get' ? 1 : o.readRatio,
                valueBytes,
                clients,
                nodes,
                storage,
                rate,
                durationS: o.durationS,
                warmupS: o.warmupS,
                keys: o.keys,
                generators,
                timeoutMs: o.timeoutMs,
              });
            }
  return out;
}

/** configLabel names a run's configuration in tables and charts, e.g. `put 100B 16c 3n disk`. */
export function configLabel(c: RunConfig, parts: { clients?: boolean } = {}): string {
  const load = c.workload === 'mixed' ? `mixed(${Math.round(c.readRatio * 100)}% get)` : c.workload;
  const rate = c.rate === null ? '' : ` @${c.rate}/s`;
  const clients = parts.clients === false ? '' : ` ${c.clients}c`;
  return `${load} ${c.valueBytes}B${clients} ${c.nodes}n ${c.storage}${rate}`;
}
