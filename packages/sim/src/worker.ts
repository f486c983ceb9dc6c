import type { FaultProfileName } from './faults.js';
import { type RunSeedOptions, runSeed, type SimResult } from './simulation.js';

/** BatchTask is one piscina task: a list of seeds to run with the same options. */
export interface BatchTask {
  readonly seeds: readonly number[];
  /** Options for every seed; must be structured-cloneable (no `onEvent`). */
  readonly options: Omit<RunSeedOptions, 'onEvent'>;
}

/** BatchResult sums up a batch: totals over every seed, and the full result of each failing seed. */
export interface BatchResult {
  seeds: number;
  virtualMs: number;
  steps: number;
  coreEvents: number;
  elections: number;
  committed: number;
  /** Client reads sent, served (each checked for linearizability), refused, and served by lease. */
  reads: number;
  readsServed: number;
  readsRefused: number;
  readsLeased: number;
  messages: number;
  dropped: number;
  writes: number;
  /** Snapshots taken (past the node's own write in flight: `snapshotsPastOwnWrite`) and installed (§7). */
  snapshotsTaken: number;
  snapshotsPastOwnWrite: number;
  snapshotsInstalled: number;
  crashes: number;
  partitions: number;
  pauses: number;
  /** Seeds run per fault profile (`mixed` draws one per seed). */
  profiles: Record<FaultProfileName, number>;
  /** Slowest recovery after healing, in virtual milliseconds. */
  maxRecoveryMs: number;
  /** Seeds run with the KV workload, and their clients' calls: invoked, ok, surely not applied, unknown. */
  kvSeeds: number;
  kvCalls: number;
  kvOk: number;
  kvFailed: number;
  kvUnknown: number;
  /** Operations given to the linearizability checker (calls not surely failed, plus the final reads). */
  kvChecked: number;
  /** Seeds whose history was not linearizable; seeds whose appends were not applied exactly once. */
  kvIllegal: number;
  kvExactlyOnce: number;
  /** Seeds whose history the checker could not decide within its budget (verdict `unknown`). */
  kvUndecided: number;
  /** Wall milliseconds spent checking histories, in all and at most for one seed. */
  kvCheckMs: number;
  kvMaxCheckMs: number;
  /** Wall milliseconds spent running the batch. */
  wallMs: number;
  failures: SimResult[];
}

/** emptyBatchResult is the zero of {@link addBatchResult}. */
export function emptyBatchResult(): BatchResult {
  return {
    seeds: 0,
    virtualMs: 0,
    steps: 0,
    coreEvents: 0,
    elections: 0,
    committed: 0,
    reads: 0,
    readsServed: 0,
    readsRefused: 0,
    readsLeased: 0,
    messages: 0,
    dropped: 0,
    writes: 0,
    snapshotsTaken: 0,
    snapshotsPastOwnWrite: 0,
    snapshotsInstalled: 0,
    crashes: 0,
    partitions: 0,
    pauses: 0,
    profiles: { none: 0, light: 0, heavy: 0 },
    maxRecoveryMs: 0,
    kvSeeds: 0,
    kvCalls: 0,
    kvOk: 0,
    kvFailed: 0,
    kvUnknown: 0,
    kvChecked: 0,
    kvIllegal: 0,
    kvExactlyOnce: 0,
    kvUndecided: 0,
    kvCheckMs: 0,
    kvMaxCheckMs: 0,
    wallMs: 0,
    failures: [],
  };
}

/** addBatchResult adds `b` into `into`. */
export function addBatchResult(into: BatchResult, b: BatchResult): BatchResult {
  into.seeds += b.seeds;
  into.virtualMs += b.virtualMs;
  into.steps += b.steps;
  into.coreEvents += b.coreEvents;
  into.elections += b.elections;
  into.committed += b.committed;
  into.reads += b.reads;
  into.readsServed += b.readsServed;
  into.readsRefused += b.readsRefused;
  into.readsLeased += b.readsLeased;
  into.messages += b.messages;
  into.dropped += b.dropped;
  into.writes += b.writes;
  into.snapshotsTaken += b.snapshotsTaken;
  into.snapshotsPastOwnWrite += b.snapshotsPastOwnWrite;
  into.snapshotsInstalled += b.snapshotsInstalled;
  into.crashes += b.crashes;
  into.partitions += b.partitions;
  into.pauses += b.pauses;
  for (const k of Object.keys(into.profiles) as FaultProfileName[]) into.profiles[k] += b.profiles[k];
  into.maxRecoveryMs = Math.max(into.maxRecoveryMs, b.maxRecoveryMs);
  into.kvSeeds += b.kvSeeds;
  into.kvCalls += b.kvCalls;
  into.kvOk += b.kvOk;
  into.kvFailed += b.kvFailed;
  into.kvUnknown += b.kvUnknown;
  into.kvChecked += b.kvChecked;
  into.kvIllegal += b.kvIllegal;
  into.kvExactlyOnce += b.kvExactlyOnce;
  into.kvUndecided += b.kvUndecided;
  into.kvCheckMs += b.kvCheckMs;
  into.kvMaxCheckMs = Math.max(into.kvMaxCheckMs, b.kvMaxCheckMs);
  into.wallMs += b.wallMs;
  into.failures.push(...b.failures);
  return into;
}

/** runBatch runs seeds one after another and sums them up (the body of a worker task; usable in-process). */
export function runBatch(task: BatchTask): BatchResult {
  const out = emptyBatchResult();
  const t0 = performance.now();
  for (const seed of task.seeds) {
    const r = runSeed(seed, task.options);
    const s = r.stats;
    out.seeds++;
    out.virtualMs += s.virtualMs;
    out.steps += s.steps;
    out.coreEvents += s.coreEvents;
    out.elections += s.elections;
    out.committed += s.committed;
    out.reads += s.reads.issued;
    out.readsServed += s.reads.served;
    out.readsRefused += s.reads.refused;
    out.readsLeased += s.reads.leased;
    out.messages += s.messages.sent;
    out.dropped += s.messages.dropped;
    out.writes += s.writes;
    out.snapshotsTaken += s.snapshots.taken;
    out.snapshotsPastOwnWrite += s.snapshots.pastOwnWrite;
    out.snapshotsInstalled += s.snapshots.installed;
    out.crashes += s.faults.crashes;
    out.partitions += s.faults.partitions;
    out.pauses += s.faults.pauses;
    out.profiles[r.options.profile]++;
    out.maxRecoveryMs = Math.max(out.maxRecoveryMs, s.recoveryMs);
    if (s.kv !== null) addKv(out, r);
    if (!r.ok) out.failures.push(r);
  }
  out.wallMs = performance.now() - t0;
  return out;
}

function addKv(out: BatchResult, r: SimResult): void {
  const k = r.stats.kv!;
  out.kvSeeds++;
  out.kvCalls += k.calls;
  out.kvOk += k.ok;
  out.kvFailed += k.failed;
  out.kvUnknown += k.unknown;
  if (r.violations.some((v) => v.property === 'Linearizability')) out.kvIllegal++;
  if (r.violations.some((v) => v.property === 'Exactly Once')) out.kvExactlyOnce++;
  const c = r.kvCheck;
  if (c === null) return;
  out.kvChecked += c.ops;
  if (c.verdict === 'unknown') out.kvUndecided++;
  out.kvCheckMs += c.ms;
  out.kvMaxCheckMs = Math.max(out.kvMaxCheckMs, c.ms);
}

/** The piscina entry point: one {@link BatchTask} in, one {@link BatchResult} out. */
export default function task(t: BatchTask): BatchResult {
  return runBatch(t);
}
