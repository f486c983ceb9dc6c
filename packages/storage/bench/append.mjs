#!/usr/bin/env node
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import fs from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { isMainThread, parentPort, Worker, workerData } from 'node:worker_threads';
// Storage engine benchmark: durable appends of Raft log entries, the workload of
// DiskStorage. It compares
//   lmdb        the `lmdb` package (v3): one record per entry ([crc32c][term][type][data]),
//               the hard state in the same transaction, one synced commit per batch
//               (overlappingSync off: the write promise resolves once the commit is synced);
//   lmdb-ovl    the same with lmdb's default overlappingSync, awaiting `db.flushed`;
//   log         a minimal segmented append-only log: records [length][crc32c][payload],
//               one positional writev + fdatasync per group commit through fs/promises
//               (both run on the libuv threadpool, off the event loop);
//   DiskStorage the package's own DiskStorage from dist/ (run `pnpm build` first).
// Scenarios: one 100-entry batch at a time (latency of a durable batch: p50/p99),
// 1000-entry batches, 8 concurrent 100-entry batches (group commit), single entries, and
// 3 or 7 nodes, each in its own worker thread with its own directory, writing 100-entry
// batches (entries/s and latency per node; CPU per entry over all nodes).
//
// Run: `pnpm build && node packages/storage/bench/append.mjs [--seconds 2] [--json out.json]`
import { crc32c } from '@node-rs/crc32';
import { open as openLmdb } from 'lmdb';

const here = path.dirname(fileURLToPath(import.meta.url));
const COMMAND_BYTES = 120;

// ---------------------------------------------------------------- engines

const f64 = new Float64Array(1);
const f64b = new Uint8Array(f64.buffer);

/** lmdb: one key per entry, value [crc32c of the rest][term f64][type u8][data]. */
async function lmdbEngine(dir, { overlapping }) {
  const env = openLmdb({ path: dir, overlappingSync: overlapping, noReadAhead: true });
  const log = env.openDB({ name: 'log', encoding: 'binary' });
  const meta = env.openDB({ name: 'meta', encoding: 'binary' });
  let last = 0;
  const encode = (e) => {
    const v = Buffer.allocUnsafe(13 + e.data.length);
    f64[0] = e.term;
    v.set(f64b, 4);
    v[12] = e.type === 'noop' ? 1 : 0;
    v.set(e.data, 13);
    v.writeUInt32LE(crc32c(v.subarray(4)), 0);
    return v;
  };
  return {
    persist(hs, entries) {
      // All writes of one event turn share one lmdb transaction (eventTurnBatching).
      let p;
      const first = entries[0];
      if (first !== undefined) {
        for (let i = first.index; i <= last; i++) log.remove(i);
        for (const e of entries) p = log.put(e.index, encode(e));
        last = entries[entries.length - 1].index;
      }
      if (hs !== null) p = meta.put('hs', Buffer.from(JSON.stringify(hs)));
      return overlapping ? p.then(() => env.flushed) : p;
    },
    async close() {
      await env.close();
    },
  };
}

/** log: segments of records [u32 length][u32 crc32c(payload)][payload], one writev + fdatasync per group. */
async function logEngine(dir) {
  const SEGMENT = 64 * 1024 * 1024;
  let seq = 0;
  let fh = await fs.open(path.join(dir, `${String(seq).padStart(16, '0')}.log`), 'w');
  let pos = 0;
  let queue = [];
  let writing = false;
  const encodeEntry = (e) => {
    const rec = Buffer.allocUnsafe(8 + 17 + e.data.length);
    rec.writeUInt32LE(17 + e.data.length, 0);
    f64[0] = e.index;
    rec.set(f64b, 8);
    f64[0] = e.term;
    rec.set(f64b, 16);
    rec[24] = e.type === 'noop' ? 1 : 0;
    rec.set(e.data, 25);
    rec.writeUInt32LE(crc32c(rec.subarray(8)), 4);
    return rec;
  };
  const flush = async () => {
    writing = true;
    while (queue.length > 0) {
      const batch = queue;
      queue = [];
      const bufs = [];
      for (const w of batch) for (const b of w.bufs) bufs.push(b);
      const len = bufs.reduce((n, b) => n + b.length, 0);
      if (pos + len > SEGMENT && pos > 0) {
        await fh.datasync();
        await fh.close();
        fh = await fs.open(path.join(dir, `${String(++seq).padStart(16, '0')}.log`), 'w');
        pos = 0;
      }
      // writev takes at most IOV_MAX (1024) buffers per call.
      for (let i = 0; i < bufs.length; i += 1024) {
        const part = bufs.slice(i, i + 1024);
        await fh.writev(part, pos);
        pos += part.reduce((n, b) => n + b.length, 0);
      }
      await fh.datasync();
      for (const w of batch) w.resolve();
    }
    writing = false;
  };
  return {
    persist(hs, entries) {
      const bufs = entries.map(encodeEntry);
      if (hs !== null) {
        const p = Buffer.from(JSON.stringify(hs));
        const rec = Buffer.allocUnsafe(8 + p.length);
        rec.writeUInt32LE(p.length, 0);
        rec.writeUInt32LE(crc32c(p), 4);
        rec.set(p, 8);
        bufs.push(rec);
      }
      return new Promise((resolve) => {
        queue.push({ bufs, resolve });
        if (!writing) void flush();
      });
    },
    async close() {
      await fh.close();
    },
  };
}

/** DiskStorage from dist/. */
async function diskEngine(dir) {
  const { DiskStorage } = await import(path.join(here, '..', 'dist', 'index.js'));
  const s = await DiskStorage.open(dir);
  await s.load();
  return { persist: (hs, entries) => s.persist(hs, entries), close: () => s.close() };
}

const ENGINES = {
  lmdb: (dir) => lmdbEngine(dir, { overlapping: false }),
  'lmdb-ovl': (dir) => lmdbEngine(dir, { overlapping: true }),
  log: logEngine,
  DiskStorage: diskEngine,
};

// ---------------------------------------------------------------- scenarios

function makeEntries(from, n, term) {
  const out = new Array(n);
  for (let i = 0; i < n; i++) {
    const data = new Uint8Array(COMMAND_BYTES);
    data[0] = (from + i) & 0xff;
    out[i] = { index: from + i, term, type: 'normal', data };
  }
  return out;
}

const quantile = (sorted, q) => sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))] ?? 0;

/** run keeps `inflight` persists of `batch` entries going for `seconds`; returns entries/s and latency quantiles (ms). */
async function run(engineName, { batch, inflight, seconds }) {
  const dir = mkdtempSync(path.join(os.tmpdir(), `xraft-bench-${engineName}-`));
  try {
    const engine = await ENGINES[engineName](dir);
    let next = 1;
    let commit = 0;
    const lat = [];
    // Pre-build the batches so encoding of commands is not measured, only storage.
    const pool = Array.from({ length: 16 }, (_, k) => makeEntries(0, batch, 1 + k));
    const deadline = performance.now() + seconds * 1000;
    const t0 = performance.now();
    const cpu0 = process.cpuUsage();
    let done = 0;
    const lane = async () => {
      while (performance.now() < deadline) {
        const proto = pool[next % pool.length];
        const entries = proto.map((e, i) => ({ ...e, index: next + i }));
        next += batch;
        commit = next - 1;
        const start = performance.now();
        await engine.persist({ term: 1, vote: 'n1', commit }, entries);
        lat.push(performance.now() - start);
        done += batch;
      }
    };
    await Promise.all(Array.from({ length: inflight }, lane));
    const secs = (performance.now() - t0) / 1000;
    const cpu = process.cpuUsage(cpu0);
    await engine.close();
    lat.sort((a, b) => a - b);
    return {
      engine: engineName,
      batch,
      inflight,
      entriesPerSec: done / secs,
      p50ms: quantile(lat, 0.5),
      p99ms: quantile(lat, 0.99),
      // Process CPU (all threads: main, lmdb's writer, libuv's pool) per entry.
      cpuUsPerEntry: (cpu.user + cpu.system) / done,
      batches: lat.length,
    };
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

async function runNodes(engineName, nodes, opts) {
  const workers = Array.from(
    { length: nodes },
    () => new Worker(fileURLToPath(import.meta.url), { workerData: { engineName, opts } }),
  );
  const results = await Promise.all(
    workers.map(
      (w) =>
        new Promise((resolve, reject) => {
          w.once('message', resolve);
          w.once('error', reject);
        }),
    ),
  );
  await Promise.all(workers.map((w) => w.terminate()));
  const mean = (k) => results.reduce((s, r) => s + r[k], 0) / results.length;
  return {
    engine: engineName,
    batch: opts.batch,
    inflight: opts.inflight,
    nodes,
    entriesPerSec: mean('entriesPerSec'),
    p50ms: mean('p50ms'),
    p99ms: Math.max(...results.map((r) => r.p99ms)),
    // Each worker measured the whole process's CPU over its own entries: per entry of all nodes, divide.
    cpuUsPerEntry: mean('cpuUsPerEntry') / nodes,
    batches: results.reduce((s, r) => s + r.batches, 0),
  };
}

if (!isMainThread) {
  parentPort.postMessage(await run(workerData.engineName, workerData.opts));
} else {
  const args = process.argv.slice(2);
  const arg = (name, dflt) => {
    const i = args.indexOf(`--${name}`);
    return i >= 0 ? args[i + 1] : dflt;
  };
  const seconds = Number(arg('seconds', '2'));
  const engines = arg('engines', Object.keys(ENGINES).join(',')).split(',');
  const jsonOut = arg('json', undefined);
  const cpu = os.cpus()[0]?.model ?? 'cpu';
  const machine = `${cpu} x${os.cpus().length}, ${Math.round(os.totalmem() / 2 ** 30)} GiB, ${os.platform()} ${os.release()}, Node ${process.version}, tmpdir ${os.tmpdir()}`;
  console.log(`@xraft/storage append benchmark — ${machine}`);
  console.log(`${COMMAND_BYTES}-byte commands, every batch durable before it counts; ${seconds} s per row\n`);
  const scenarios = [
    { name: '1 x 100', batch: 100, inflight: 1, nodes: 1 },
    { name: '1 x 1000', batch: 1000, inflight: 1, nodes: 1 },
    { name: '8 x 100', batch: 100, inflight: 8, nodes: 1 },
    { name: '1 x 1', batch: 1, inflight: 1, nodes: 1 },
    { name: '3 nodes, 1 x 100', batch: 100, inflight: 1, nodes: 3 },
    { name: '7 nodes, 1 x 100', batch: 100, inflight: 1, nodes: 7 },
  ];
  const rows = [];
  console.log(
    `${'engine'.padEnd(12)} ${'scenario'.padEnd(18)} ${'entries/s'.padStart(11)} ${'p50 ms'.padStart(8)} ${'p99 ms'.padStart(8)} ${'CPU µs/entry'.padStart(13)}`,
  );
  for (const sc of scenarios) {
    for (const engine of engines) {
      const opts = { batch: sc.batch, inflight: sc.inflight, seconds };
      await run(engine, { ...opts, seconds: Math.min(0.3, seconds) }); // warm-up
      const r = sc.nodes === 1 ? await run(engine, opts) : await runNodes(engine, sc.nodes, opts);
      rows.push({ scenario: sc.name, nodes: sc.nodes, ...r });
      console.log(
        `${engine.padEnd(12)} ${sc.name.padEnd(18)} ${Math.round(r.entriesPerSec).toLocaleString('en').padStart(11)} ${r.p50ms.toFixed(2).padStart(8)} ${r.p99ms.toFixed(2).padStart(8)} ${r.cpuUsPerEntry.toFixed(2).padStart(13)}`,
      );
    }
  }
  if (jsonOut) writeFileSync(jsonOut, JSON.stringify({ machine, seconds, rows }, null, 2));
}
