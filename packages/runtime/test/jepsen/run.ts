// One Jepsen run against a real worker-thread cluster: clients and nemesis
// concurrently, then heal, recover, final reads, and the checks.
import { setTimeout as sleep } from 'node:timers/promises';
import { seededRandom } from '@xraft/core';
import { onTestFinished } from 'vitest';
import { testSeed } from '../../../../tools/testing/seed.js';
import { Cluster, type ClusterOptions, type KvClient } from '../../src/index.js';
import { type FaultKind, Nemesis, type NemesisOptions } from './nemesis.js';
import { Recorder } from './recorder.js';
import { appendViolations, checkLinearizable, watchApplies } from './verify.js';
import { Workload } from './workload.js';

/** JepsenOptions describe one run. */
export interface JepsenOptions {
  readonly name: string;
  readonly nodes: number;
  readonly storage: 'memory' | 'disk';
  readonly faults: readonly FaultKind[];
  /** More cluster options (e.g. a small snapshot threshold, so restarted nodes catch up from snapshots). */
  readonly cluster?: Omit<ClusterOptions, 'nodes' | 'storage' | 'log'>;
  /** Concurrent clients (default 6). */
  readonly clients?: number;
  /** How long the nemesis injects faults, ms (default 12 s). */
  readonly durationMs?: number;
  /** How long clients go on once the healed cluster serves again, ms (default 1 s). */
  readonly settleMs?: number;
  /** Each client call's overall timeout, ms (default 1000): a modest one, so calls in doubt end as `unknown`. */
  readonly clientTimeoutMs?: number;
  /** Pause between one client's calls, [min, max] ms (default [0, 20]). */
  readonly thinkMs?: readonly [number, number];
  readonly nemesis?: Pick<NemesisOptions, 'holdMs' | 'quietMs' | 'combine' | 'maxPauseMs'>;
  /** The linearizability checker's budget, ms (default 30 s); running out of it fails the run. */
  readonly checkTimeoutMs?: number;
}

/** JepsenReport is what a run measured. */
export interface JepsenReport {
  readonly seed: number;
  readonly ops: number;
  readonly ok: number;
  readonly fail: number;
  readonly unknown: number;
  readonly faults: ReadonlyMap<FaultKind, number>;
  readonly checkMs: number;
}

const APPEND_KEYS = ['a0', 'a1'];
const REGISTER_KEYS = ['r0', 'r1', 'r2'];
/** Deadline for the healed cluster to elect a leader and commit a write. */
const RECOVERY_MS = 20_000;

/**
 * runJepsen runs one Jepsen-style test inside the current vitest test: it
 * starts a cluster, runs the clients and the nemesis concurrently, heals,
 * waits for the cluster to serve again, lets the clients finish, reads every
 * key linearizably, and fails unless (a) the history is linearizable (decided
 * within the budget), (b) every acknowledged append is in the final value
 * exactly once and in order per client, appends in doubt at most once,
 * failed appends not at all, (c) no two nodes applied different commands at
 * one index, and (d) no client saw an error its contract does not allow.
 * The seed is printed first and named in every failure; XRAFT_SEED replays
 * the choices (clients' operations, faults and their targets).
 */
export async function runJepsen(o: JepsenOptions): Promise<JepsenReport> {
  const seed = testSeed();
  const label = `jepsen ${o.name}, seed ${seed} (replay with XRAFT_SEED=${seed})`;
  const snapshots = o.cluster?.snapshotThreshold;
  console.log(
    `${label}: ${o.nodes} nodes, ${o.storage} storage${snapshots ? `, snapshots ${JSON.stringify(snapshots)}` : ''}, faults ${o.faults.join(', ')}`,
  );
  const t0 = performance.now();
  const trail: string[] = [];
  const verbose = process.env.XRAFT_JEPSEN_VERBOSE === '1';
  const note = (line: string) => {
    if (verbose) console.log(`${((performance.now() - t0) / 1000).toFixed(2)}s ${line}`);
    trail.push(`${((performance.now() - t0) / 1000).toFixed(2)}s ${line}`);
    if (trail.length > 120) trail.shift();
  };
  const c = await Cluster.start({
    ...o.cluster,
    nodes: o.nodes,
    storage: o.storage,
    log: (e) => {
      if (e.level !== 'info') note(`[${e.node ?? 'cluster'}] ${e.level}: ${e.message}`);
    },
  });
  const applyErrors = watchApplies(c);
  const recorder = new Recorder();
  const timeoutMs = o.clientTimeoutMs ?? 1_000;
  // Half the clients search for a leader only a few rounds: they give up during elections with
  // NotLeaderError (surely not applied), which puts that guarantee to the test too; the others
  // search until their timeout (TimeoutError, outcome unknown).
  const clientOptions = (i: number) => ({
    timeoutMs,
    attemptTimeoutMs: Math.min(400, timeoutMs / 2),
    maxLeaderSearchRounds: i % 2 === 0 ? 4 : 1_000,
  });
  const workload = new Workload(c, recorder, {
    clients: o.clients ?? 6,
    appendKeys: APPEND_KEYS,
    registerKeys: REGISTER_KEYS,
    thinkMs: o.thinkMs ?? [0, 20],
    clientOptions,
    seed,
  });
  const nemesis = new Nemesis(c, { ...o.nemesis, kinds: o.faults, random: seededRandom(seed), log: note });
  const opened: KvClient[] = [];
  onTestFinished(async () => {
    nemesis.stop();
    await workload.stop();
    await Promise.all(opened.map((kv) => kv.close()));
    await c.stop();
  });
  try {
    await c.leader(10_000);
    workload.start();
    await nemesis.run(o.durationMs ?? 12_000);
    note('nemesis: healed; waiting for the cluster to serve');
    const probe = c.client({ timeoutMs: 2_000 });
    opened.push(probe);
    const recoveredIn = await untilServing(c, probe);
    note(`serving again after ${recoveredIn} ms`);
    // Pacing, not a condition: clients go on against the healthy cluster for a while.
    await sleep(o.settleMs ?? 1_000);
    await workload.stop();
    const reader = c.client({ timeoutMs: 5_000 });
    opened.push(reader);
    const finals = new Map<string, string | undefined>();
    for (const key of [...APPEND_KEYS, ...REGISTER_KEYS])
      finals.set(key, await finalRead(recorder, reader, key));
    const faultsInjected = nemesis.summary();
    const reports = await Promise.all(c.ids.map((id) => c.status(id)));
    const taken = reports.reduce((n, r) => n + r.snapshotsTaken, 0);
    const installed = reports.reduce((n, r) => n + r.snapshotsInstalled, 0);
    const check = checkLinearizable(recorder.operations(), label, o.checkTimeoutMs ?? 30_000);
    const traced = [...recorder.appends.values()];
    console.log(
      [
        `${label}: ${recorder.summary()}; ${workload.sessions} client sessions`,
        `  faults: ${faultsInjected}; recovered in ${recoveredIn} ms after the last heal`,
        `  log: last index ${Math.max(...reports.map((r) => r.lastLogIndex))}; snapshots taken ${taken}, installed ${installed} (current incarnations)`,
        `  appends traced: ${traced.length} (ok ${traced.filter((a) => a.outcome === 'ok').length}, unknown ${traced.filter((a) => a.outcome === 'unknown').length}), final lengths ${APPEND_KEYS.map((k) => (finals.get(k) ?? '').split(',').length - 1).join('/')}`,
        `  linearizability: ok, ${check.ops} ops on ${check.keys} keys checked in ${check.ms} ms (${check.steps} steps); whole run ${((performance.now() - t0) / 1000).toFixed(1)} s`,
      ].join('\n'),
    );
    const problems = [
      ...appendViolations(recorder, new Map(APPEND_KEYS.map((k) => [k, finals.get(k)]))),
      ...applyErrors,
      ...recorder.unexpected.map((u) => `unexpected client error: ${u}`),
    ];
    if (problems.length > 0) throw new Error(`${label}:\n${problems.slice(0, 30).join('\n')}`);
    return {
      seed,
      ops: recorder.total,
      ...recorder.counts,
      faults: nemesis.counts,
      checkMs: check.ms,
    };
  } catch (err) {
    console.log(`${label} FAILED; the last events:\n${trail.join('\n')}`);
    if (err instanceof Error && !err.message.includes(`seed ${seed}`))
      err.message = `${label}: ${err.message}`;
    throw err;
  }
}

/**
 * untilServing waits until the cluster has a leader and commits a write (on
 * a key outside the checked ones), retrying until {@link RECOVERY_MS};
 * returns how long it took.
 */
async function untilServing(c: Cluster, kv: KvClient): Promise<number> {
  const start = performance.now();
  const deadline = start + RECOVERY_MS;
  let last: unknown = null;
  for (let i = 0; performance.now() < deadline; i++) {
    try {
      await c.leader(Math.max(1, deadline - performance.now()));
      await kv.put('probe', String(i));
      return Math.round(performance.now() - start);
    } catch (err) {
      last = err;
    }
  }
  throw new Error(`the healed cluster did not serve a write within ${RECOVERY_MS} ms: ${String(last)}`);
}

/** finalRead reads `key` linearizably as client `final` (recorded), retrying failed reads until it gets an answer. */
async function finalRead(recorder: Recorder, kv: KvClient, key: string): Promise<string | undefined> {
  const deadline = performance.now() + RECOVERY_MS;
  for (;;) {
    const r = await recorder.call('final', kv, { op: 'get', key });
    if (r.outcome === 'ok') return r.output as string | undefined;
    if (performance.now() > deadline) throw new Error(`final read of ${key} failed: ${String(r.error)}`);
  }
}
