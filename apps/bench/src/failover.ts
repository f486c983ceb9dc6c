/**
 * The leader-failover benchmark (`pnpm bench failover`): under a steady load
 * of KvClient puts, kill the leader's worker and measure
 * - elected: kill → a node of a later term leads;
 * - committed: kill → that leader commits its first entry (its commit index
 *   moves past where it stood when elected: by §5.4.2 only an entry of its own
 *   term can do that, the no-op it appends on taking office);
 * - unavailable: the longest gap between successive successful puts seen by
 *   the clients around the kill (the client-visible outage);
 * - caught up: kill → the killed node is restarted by the supervisor and has
 *   applied everything the new leader had committed when it came back;
 * over repeated trials, with median, p90 and max.
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import type { NodeId } from '@xraft/core';
import { Cluster, type KillMode, type KvClient } from '@xraft/runtime';
import Table from 'cli-table3';
import type { Io } from './bench.js';
import { onInterrupt } from './interrupt.js';
import { describeMachine, type Machine, machine } from './machine.js';
import type { StorageKind } from './options.js';
import { fmtInt, fmtMs } from './report.js';

/** FAILOVER_SCHEMA is the version of the failover JSON's shape. */
export const FAILOVER_SCHEMA = 'xraft-bench/failover/1';

/** FailoverOptions are the options of `pnpm bench failover`. */
export interface FailoverOptions {
  readonly trials: number;
  readonly nodes: number;
  readonly storage: StorageKind;
  readonly clients: number;
  readonly valueBytes: number;
  readonly kill: Exclude<KillMode, 'oom'>;
  /** Load under each leader before it is killed, in ms. */
  readonly settleMs: number;
  readonly out: string;
}

/** Trial is what one kill measured; times in ms from the kill. */
export interface Trial {
  readonly trial: number;
  readonly killed: NodeId;
  readonly oldTerm: number;
  readonly newLeader: NodeId;
  readonly newTerm: number;
  readonly electedMs: number;
  readonly committedMs: number;
  readonly unavailableMs: number;
  readonly caughtUpMs: number;
}

/** Stat is a figure's median, p90 and max over the trials (nearest rank). */
export interface Stat {
  readonly median: number;
  readonly p90: number;
  readonly max: number;
}

/** FailoverResults is the JSON written to `<out>/failover.json`. */
export interface FailoverResults {
  readonly schema: typeof FAILOVER_SCHEMA;
  readonly kind: 'failover';
  readonly startedAt: string;
  readonly finishedAt: string;
  readonly machine: Machine;
  /** The command line's arguments, to run the same again. */
  readonly argv: readonly string[];
  readonly options: FailoverOptions;
  readonly trials: readonly Trial[];
  readonly summary: Readonly<Record<'electedMs' | 'committedMs' | 'unavailableMs' | 'caughtUpMs', Stat>>;
  /** Puts that succeeded and failed (by error name) over the whole benchmark. */
  readonly load: { readonly ok: number; readonly errors: Record<string, number> };
}

/** Longest a trial may take to see a new leader commit, or the killed node catch up. */
const TRIAL_TIMEOUT_MS = 30_000;

/** stat is the median, p90 and max of `xs` (nearest rank). */
export function stat(xs: readonly number[]): Stat {
  const s = [...xs].sort((a, b) => a - b);
  const rank = (p: number) => s[Math.min(s.length - 1, Math.max(0, Math.ceil(p * s.length) - 1))] ?? 0;
  return { median: rank(0.5), p90: rank(0.9), max: s[s.length - 1] ?? 0 };
}

async function waitFor(what: string, cond: () => boolean, timeoutMs = TRIAL_TIMEOUT_MS): Promise<number> {
  const end = performance.now() + timeoutMs;
  while (!cond()) {
    if (performance.now() > end) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await sleep(1);
  }
  return performance.now();
}

/** failoverBench runs the trials of `o` and writes table and JSON; resolves with the exit code. */
export async function failoverBench(o: FailoverOptions, io: Io): Promise<number> {
  const startedAt = new Date().toISOString();
  const m = machine();
  io.err.write(
    `xraft bench failover: ${o.trials} trial${o.trials === 1 ? '' : 's'}, ${o.nodes} nodes, ${o.storage}, ${o.clients} clients, kill '${o.kill}' — ${describeMachine(m)}\n`,
  );
  // Every restart waits the same short backoff: repeated kills of one node would
  // otherwise back off longer or hit the restart-intensity limit.
  const c = await Cluster.start({
    nodes: o.nodes,
    storage: o.storage,
    restartPolicy: { maxRestarts: 1_000_000, windowMs: 1_000, backoffMs: [50, 50], bootTimeoutMs: 15_000 },
    log: (e) => {
      if (e.level === 'error') io.err.write(`${e.node ?? 'cluster'}: ${e.message}\n`);
    },
  });
  const successes: number[] = [];
  const errors: Record<string, number> = {};
  let stopLoad = false;
  const clients: KvClient[] = [];
  let loads: Promise<void>[] = [];
  const trials: Trial[] = [];
  const forget = onInterrupt(() => c.stop());
  try {
    await c.leader(20_000);
    const value = 'v'.repeat(o.valueBytes);
    for (let i = 0; i < o.clients; i++) clients.push(c.client({ timeoutMs: 30_000 }));
    loads = clients.map(async (kv, i) => {
      for (let k = 0; !stopLoad; k++) {
        try {
          await kv.put(`k${i}-${k % 64}`, value);
          successes.push(performance.now());
        } catch (err) {
          const name = err instanceof Error ? err.name : 'Error';
          errors[name] = (errors[name] ?? 0) + 1;
        }
      }
    });

    for (let t = 0; t < o.trials; t++) {
      const old = await c.leader(TRIAL_TIMEOUT_MS);
      await sleep(o.settleMs);
      const oldTerm = c.state(old).term;
      const killedAt = performance.now();
      await c.kill(old, o.kill);

      let leader: NodeId | null = null;
      let term = 0;
      let commitAtElection = 0;
      let electedAt = 0;
      const committedAt = await waitFor('a new leader to commit', () => {
        for (const id of c.ids) {
          if (id === old) continue;
          const s = c.state(id);
          if (!(s.alive && s.role === 'leader' && s.term > oldTerm)) continue;
          if (leader !== id || term !== s.term) {
            leader = id;
            term = s.term;
            commitAtElection = s.commitIndex;
            electedAt = performance.now();
            return false;
          }
          return s.commitIndex > commitAtElection;
        }
        return false;
      });
      const newLeader = leader as NodeId | null;
      if (newLeader === null) throw new Error('no new leader seen');
      // The client-visible outage ends with the first success after the new leader's commit.
      const firstAfter = successes.length;
      await waitFor('a client to succeed after the failover', () => successes.length > firstAfter);
      // The killed node comes back and applies all the new leader had committed then.
      let target = -1;
      const caughtUpAt = await waitFor(`${old} to restart and catch up`, () => {
        const s = c.state(old);
        if (!s.alive) return false;
        if (target < 0) target = c.state(newLeader).commitIndex;
        return s.lastApplied >= target;
      });
      // The outage: from the last success before the kill to the first after the new commit.
      const lastBefore = successes.findLastIndex((x) => x <= killedAt);
      const firstAfterCommit = successes.findIndex((x) => x > committedAt);
      let prev = lastBefore >= 0 ? successes[lastBefore]! : killedAt;
      let gap = 0;
      for (let i = lastBefore + 1; i <= firstAfterCommit && i < successes.length; i++) {
        gap = Math.max(gap, successes[i]! - prev);
        prev = successes[i]!;
      }
      const trial: Trial = {
        trial: t + 1,
        killed: old,
        oldTerm,
        newLeader,
        newTerm: term,
        electedMs: round1(electedAt - killedAt),
        committedMs: round1(committedAt - killedAt),
        unavailableMs: round1(gap),
        caughtUpMs: round1(caughtUpAt - killedAt),
      };
      trials.push(trial);
      io.err.write(
        `trial ${t + 1}/${o.trials}: ${old} killed, ${newLeader} leads term ${term}: elected ${fmtMs(trial.electedMs)} ms, committed ${fmtMs(trial.committedMs)} ms, clients saw no success for ${fmtMs(trial.unavailableMs)} ms, ${old} caught up ${fmtMs(trial.caughtUpMs)} ms\n`,
      );
      // Trim what no later trial looks at.
      if (successes.length > 100_000) successes.splice(0, successes.length - 10_000);
    }
  } finally {
    stopLoad = true;
    await Promise.all(loads);
    await Promise.all(clients.map((kv) => kv.close()));
    await c.stop();
    forget();
  }

  const summary = {
    electedMs: stat(trials.map((t) => t.electedMs)),
    committedMs: stat(trials.map((t) => t.committedMs)),
    unavailableMs: stat(trials.map((t) => t.unavailableMs)),
    caughtUpMs: stat(trials.map((t) => t.caughtUpMs)),
  };
  const results: FailoverResults = {
    schema: FAILOVER_SCHEMA,
    kind: 'failover',
    startedAt,
    finishedAt: new Date().toISOString(),
    machine: m,
    argv: process.argv.slice(2),
    options: o,
    trials,
    summary,
    load: { ok: successes.length, errors },
  };
  const table = new Table({
    head: ['leader killed →', 'median ms', 'p90 ms', 'max ms'],
    style: { head: [], border: [], compact: true },
  });
  const rows: Array<[string, Stat]> = [
    ['a later-term leader elected', summary.electedMs],
    ['it commits (first new commit)', summary.committedMs],
    ['longest gap without a successful put', summary.unavailableMs],
    ['killed node restarted and caught up', summary.caughtUpMs],
  ];
  for (const [name, s] of rows) table.push([name, fmtMs(s.median), fmtMs(s.p90), fmtMs(s.max)]);
  const errorText = Object.entries(errors)
    .map(([k, n]) => `${n} ${k}`)
    .join(', ');
  const text = [
    `xraft bench failover — ${o.nodes} nodes, ${o.storage} storage, ${o.clients} clients putting ${o.valueBytes} B values, ${o.trials} trial${o.trials === 1 ? '' : 's'}, kill '${o.kill}'`,
    describeMachine(m),
    table.toString(),
    `puts: ${fmtInt(results.load.ok)} ok${errorText === '' ? '' : `, failed: ${errorText}`}`,
  ].join('\n');
  const out = resolve(o.out);
  mkdirSync(out, { recursive: true });
  writeFileSync(join(out, 'failover.json'), `${JSON.stringify(results, null, 2)}\n`);
  writeFileSync(join(out, 'failover.txt'), `${text}\n`);
  io.out.write(`${text}\n\nresults: ${join(out, 'failover.json')}\n`);
  return 0;
}

const round1 = (x: number) => Math.round(x * 10) / 10;
