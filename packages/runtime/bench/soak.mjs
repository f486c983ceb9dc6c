#!/usr/bin/env node
// Bounded memory under continuous load (§7): a cluster on worker threads with
// disk storage takes puts from many KvClient calls for minutes, while every
// few seconds each node reports its log length, snapshot index, V8 heap and
// data directory size. Snapshots and compaction should keep all of them flat:
// the figures of the last samples are compared with the first ones after the
// warm-up. Run after `pnpm build`:
//   node packages/runtime/bench/soak.mjs [--minutes 3] [--nodes 3] [--clients 64] [--keys 1000]
import { readdirSync, statSync } from 'node:fs';
import os from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { parseArgs } from 'node:util';
import { Cluster } from '@xraft/runtime';

const { values } = parseArgs({
  options: {
    minutes: { type: 'string', default: '3' },
    nodes: { type: 'string', default: '3' },
    clients: { type: 'string', default: '64' },
    keys: { type: 'string', default: '1000' },
    'sample-s': { type: 'string', default: '10' },
  },
});
const minutes = Number(values.minutes);
const nodes = Number(values.nodes);
const clients = Number(values.clients);
const keys = Number(values.keys);
const sampleMs = Number(values['sample-s']) * 1000;
const valid =
  minutes > 0 &&
  Number.isInteger(nodes) &&
  nodes >= 1 &&
  nodes <= 9 &&
  Number.isInteger(clients) &&
  clients > 0 &&
  Number.isInteger(keys) &&
  keys > 0 &&
  sampleMs > 0;
if (!valid) {
  console.error(
    'usage: soak.mjs [--minutes M>0] [--nodes 1..9] [--clients N>0] [--keys N>0] [--sample-s S>0]',
  );
  process.exit(2);
}

const c = await Cluster.start({
  nodes,
  log: (e) => {
    if (e.level === 'error') console.error(`${e.node ?? 'cluster'}: ${e.message}`);
  },
});
const kv = c.client({ timeoutMs: 30_000 });
const value = 'v'.repeat(100);
let ops = 0;
let errors = 0;
let stop = false;
const workers = Array.from({ length: clients }, async (_, w) => {
  let i = w;
  while (!stop) {
    try {
      await kv.put(`key${i % keys}`, value);
      ops++;
    } catch {
      errors++;
    }
    i += clients;
  }
});

/** dirBytes is the size of every file under `dir`. */
function dirBytes(dir) {
  let total = 0;
  for (const e of readdirSync(dir, { withFileTypes: true })) {
    const p = join(dir, e.name);
    total += e.isDirectory() ? dirBytes(p) : statSync(p).size;
  }
  return total;
}

const MiB = 1024 * 1024;
const samples = [];
const t0 = performance.now();
const end = t0 + minutes * 60_000;
let lastOps = 0;
while (performance.now() < end) {
  await sleep(sampleMs);
  const s = { t: (performance.now() - t0) / 1000, opsPerSec: (ops - lastOps) / (sampleMs / 1000), nodes: {} };
  lastOps = ops;
  for (const id of c.ids) {
    const r = await c.status(id).catch(() => null);
    if (r === null) continue;
    s.nodes[id] = {
      logEntries: r.logEntries,
      snapshotIndex: r.snapshotIndex,
      heapMiB: r.heapUsedBytes / MiB,
      diskMiB: c.dataDir ? dirBytes(join(c.dataDir, id)) / MiB : 0,
    };
  }
  const mem = process.memoryUsage();
  s.rssMiB = mem.rss / MiB;
  // The main thread's own heap and array buffers, to tell where RSS goes (node heaps are per node below).
  s.mainHeapMiB = mem.heapUsed / MiB;
  s.arrayBuffersMiB = mem.arrayBuffers / MiB;
  samples.push(s);
  const n = s.nodes[c.ids[0]];
  console.log(
    `${s.t.toFixed(0)}s  ${s.opsPerSec.toFixed(0)} ops/s  rss ${s.rssMiB.toFixed(0)} MiB (main heap ${s.mainHeapMiB.toFixed(0)}, buffers ${s.arrayBuffersMiB.toFixed(0)})  ${c.ids[0]}: log ${n?.logEntries} entries, snapshot@${n?.snapshotIndex}, heap ${n?.heapMiB.toFixed(1)} MiB, disk ${n?.diskMiB.toFixed(1)} MiB`,
  );
}
stop = true;
await Promise.all(workers);
await kv.close();
await c.stop();

// Compare the second sample (after warm-up) with the mean of the last three.
const first = samples[Math.min(1, samples.length - 1)];
const tail = samples.slice(-3);
const mean = (f) => tail.reduce((a, s) => a + f(s), 0) / tail.length;
const rows = {};
const row = (name, f, digits) => {
  rows[name] = {
    'after warm-up': Number(f(first).toFixed(digits)),
    'at the end': Number(mean(f).toFixed(digits)),
    max: Number(Math.max(...samples.map(f)).toFixed(digits)),
  };
};
row('process RSS (MiB)', (s) => s.rssMiB, 0);
row('main thread heap (MiB)', (s) => s.mainHeapMiB, 1);
row('main thread array buffers (MiB)', (s) => s.arrayBuffersMiB, 1);
for (const id of c.ids) {
  row(`${id} log entries`, (s) => s.nodes[id]?.logEntries ?? 0, 0);
  row(`${id} heap (MiB)`, (s) => s.nodes[id]?.heapMiB ?? 0, 1);
  row(`${id} disk (MiB)`, (s) => s.nodes[id]?.diskMiB ?? 0, 1);
}
console.log(
  `\nsoak: ${minutes} min, ${nodes} nodes (disk), ${clients} concurrent puts of 100 B over ${keys} keys; ${ops} ops (${(ops / (minutes * 60)).toFixed(0)}/s), ${errors} errors`,
);
console.log(`machine: ${os.cpus()[0]?.model} × ${os.cpus().length}, Node ${process.version}`);
console.table(rows);
