#!/usr/bin/env node
// Linearizability checker benchmark: generates long linearizable KV histories
// from a simulated execution (many clients, many keys, each operation taking
// effect at a random instant inside its call..return interval) and reports
// operations checked per second, serial (checkHistory) against parallel
// (checkHistoryParallel, worker threads), as the median of a few runs.
// Run after `pnpm build`: node packages/check/bench/check.mjs [--ops 100000]
// [--keys 50] [--clients 16] [--unknown 0,0.01] [--values 0] [--runs 5] [--threads N] [--json]
// (--unknown: the share of operations with an unknown outcome, one scenario
// each; --values: how many distinct values are written, 0 for all unique).
import os from 'node:os';
import { parseArgs } from 'node:util';
import { CheckerPool, checkHistory, checkHistoryParallel, kvModel } from '../dist/index.js';

const { values: flags } = parseArgs({
  options: {
    ops: { type: 'string', default: '100000' },
    keys: { type: 'string', default: '50' },
    clients: { type: 'string', default: '16' },
    unknown: { type: 'string', default: '0,0.01' },
    values: { type: 'string', default: '0' },
    runs: { type: 'string', default: '5' },
    threads: { type: 'string', default: String(os.availableParallelism()) },
    seed: { type: 'string', default: '1' },
    json: { type: 'boolean', default: false },
  },
});
const o = {
  ops: Number(flags.ops),
  keys: Number(flags.keys),
  clients: Number(flags.clients),
  unknown: flags.unknown.split(',').map(Number),
  values: Number(flags.values),
  runs: Number(flags.runs),
  threads: Number(flags.threads),
  seed: Number(flags.seed),
};

/** mulberry32: a seeded PRNG. */
function random(seed) {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/**
 * history simulates `ops` operations by `clients` sequential clients over
 * `keys` keys: each operation takes effect at a random instant between its
 * call and return (an unknown-outcome one, at any later instant or never),
 * and outputs come from applying them in that order. Written values are
 * unique unless --values says otherwise; cas expects one of the key's recent
 * values, so some succeed.
 */
function history(seed, unknownRate) {
  const rnd = random(seed);
  const int = (lo, hi) => lo + Math.floor(rnd() * (hi - lo + 1));
  const recent = Array.from({ length: o.keys }, () => []);
  const clock = Array.from({ length: o.clients }, () => int(0, 1000));
  const planned = [];
  for (let n = 0; n < o.ops; n++) {
    const c = n % o.clients;
    const k = int(0, o.keys - 1);
    const key = `key${k}`;
    const x = rnd();
    const value = o.values > 0 ? `v${int(1, o.values)}` : `v${n}`;
    let input;
    if (x < 0.3) input = { op: 'get', key };
    else if (x < 0.55) input = { op: 'put', key, value };
    else if (x < 0.7) input = { op: 'append', key, suffix: `+${n}` };
    else if (x < 0.9) {
      const r = recent[k];
      input = { op: 'cas', key, expected: r.length > 0 ? r[int(0, r.length - 1)] : undefined, value };
    } else input = { op: 'delete', key };
    if (input.op === 'put' || input.op === 'cas') {
      recent[k].push(value);
      if (recent[k].length > 3) recent[k].shift();
    }
    // Times in ns: think time, then a latency of 0.1-2 ms, effect somewhere inside.
    const call = clock[c] + int(0, 200_000);
    const ret = call + int(100_000, 2_000_000);
    const unknown = rnd() < unknownRate;
    const at = unknown ? (rnd() < 0.5 ? call + int(0, 20_000_000) : undefined) : int(call, ret);
    clock[c] = ret;
    planned.push({ clientId: c, input, call, ret, at, unknown });
  }
  const state = new Map();
  const outputs = new Array(planned.length);
  const order = planned.map((_, i) => i).filter((i) => planned[i].at !== undefined);
  order.sort((a, b) => planned[a].at - planned[b].at || a - b);
  for (const i of order) {
    const { input } = planned[i];
    const cur = state.get(input.key);
    switch (input.op) {
      case 'get':
        outputs[i] = cur;
        break;
      case 'put':
        state.set(input.key, input.value);
        break;
      case 'append':
        state.set(input.key, (cur ?? '') + input.suffix);
        break;
      case 'cas':
        outputs[i] = cur === input.expected;
        if (outputs[i]) state.set(input.key, input.value);
        break;
      case 'delete':
        outputs[i] = cur !== undefined;
        state.delete(input.key);
        break;
    }
  }
  return planned.map((p, i) =>
    p.unknown
      ? { status: 'unknown', clientId: p.clientId, input: p.input, call: p.call }
      : {
          status: 'ok',
          clientId: p.clientId,
          input: p.input,
          output: outputs[i],
          call: p.call,
          return: p.ret,
        },
  );
}

const expectOk = (what, r) => {
  if (r.result === 'ok') return;
  console.error(`bench: expected a linearizable history, got ${r.result} from the ${what} checker`);
  process.exit(1);
};
const time = async (fn) => {
  const t = performance.now();
  await fn();
  return performance.now() - t;
};
const median = (xs) => {
  const s = [...xs].sort((a, b) => a - b);
  return s.length % 2 ? s[(s.length - 1) / 2] : (s[s.length / 2 - 1] + s[s.length / 2]) / 2;
};
const summary = (n, ms) => ({
  medianMs: +median(ms).toFixed(1),
  minMs: +Math.min(...ms).toFixed(1),
  maxMs: +Math.max(...ms).toFixed(1),
  opsPerSec: Math.round(n / (median(ms) / 1000)),
});

// Per scenario: serial in this thread; parallel on a fresh pool per check
// (cold workers, as checkHistoryParallel does); parallel on one warm CheckerPool.
const scenarios = [];
const pool = new CheckerPool({ threads: o.threads });
for (const unknownRate of o.unknown) {
  const ops = history(o.seed, unknownRate);
  const ms = { serial: [], parallel: [], pooled: [] };
  expectOk('serial', checkHistory(kvModel, ops)); // warm-up
  expectOk('pooled', await pool.check('kv', ops));
  let steps = 0;
  for (let run = 0; run < o.runs; run++) {
    ms.serial.push(
      await time(() => {
        const r = checkHistory(kvModel, ops);
        expectOk('serial', r);
        steps = r.partitions.reduce((n, p) => n + p.steps, 0);
      }),
    );
    ms.parallel.push(
      await time(async () =>
        expectOk('parallel', await checkHistoryParallel('kv', ops, { threads: o.threads })),
      ),
    );
    ms.pooled.push(await time(async () => expectOk('pooled', await pool.check('kv', ops))));
  }
  scenarios.push({
    unknownRate,
    searchSteps: steps,
    serial: summary(ops.length, ms.serial),
    parallelFreshPool: summary(ops.length, ms.parallel),
    parallelWarmPool: summary(ops.length, ms.pooled),
  });
}
await pool.destroy();

const result = {
  bench: 'check',
  machine: {
    cpu: os.cpus()[0]?.model ?? 'unknown',
    cores: os.availableParallelism(),
    node: process.version,
    loadavg: os.loadavg().map((x) => +x.toFixed(2)),
  },
  options: o,
  scenarios,
};

if (flags.json) console.log(JSON.stringify(result, null, 2));
else {
  const n = (x) => x.toLocaleString('en-US');
  const m = result.machine;
  console.log(`${m.cpu}, ${m.cores} cores, Node ${m.node}, load average ${m.loadavg.join(' ')}`);
  console.log(
    `history: ${n(o.ops)} ops, ${o.keys} keys, ${o.clients} clients, ${o.values > 0 ? `${o.values} distinct values` : 'unique values'}; median of ${o.runs} runs; parallel on ${o.threads} threads\n`,
  );
  console.log('unknown  checker                median ms    min ms    max ms       ops/s');
  for (const sc of scenarios) {
    for (const [name, r] of [
      ['serial', sc.serial],
      ['parallel, fresh pool', sc.parallelFreshPool],
      ['parallel, warm pool', sc.parallelWarmPool],
    ]) {
      console.log(
        `${`${sc.unknownRate * 100}%`.padEnd(8)} ${name.padEnd(21)} ${String(r.medianMs).padStart(10)} ${String(r.minMs).padStart(9)} ${String(r.maxMs).padStart(9)} ${n(r.opsPerSec).padStart(11)}`,
      );
    }
  }
}
