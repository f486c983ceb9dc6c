#!/usr/bin/env node
import { spawnSync } from 'node:child_process';
import { cpSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
// What a single flipped bit in a node's stored log does, for the two engines of
// bench/append.mjs: lmdb (one record per entry, each with its own crc32c) and
// DiskStorage's log. Each trial copies a log of N entries, flips one random bit
// at a random byte of its files, and reads everything back in a child process
// (a crash there must not end the benchmark), classifying the outcome:
//   refused    the read stopped with an error (checksum, key order, engine error)
//   repaired   DiskStorage only: the bit was in the final write, dropped as a torn tail
//   crashed    the reading process died (e.g. SIGSEGV): in xraft, every node in that process
//   lost       the read succeeded but returned fewer entries, with no error: acknowledged data gone
//   no effect  the bit was in bytes nothing reads (free pages, padding)
//
// Run: `pnpm build && node packages/storage/bench/bitflip.mjs [--trials 200] [--seed 1] [--json out.json]`
import { crc32c } from '@node-rs/crc32';
import { open as openLmdb } from 'lmdb';

const here = path.dirname(fileURLToPath(import.meta.url));
const N = 20_000;
const BATCH = 100;

function value(i) {
  const v = Buffer.alloc(4 + 120, i & 0xff);
  v.writeUInt32LE(crc32c(v.subarray(4)), 0);
  return v;
}

async function makeLmdb(dir) {
  const env = openLmdb({ path: dir, overlappingSync: false });
  const db = env.openDB({ name: 'log', encoding: 'binary' });
  for (let i = 1; i <= N; i += BATCH) {
    let p;
    for (let k = i; k < i + BATCH; k++) p = db.put(k, value(k));
    await p;
  }
  await env.close();
}

async function makeDisk(dir) {
  const { DiskStorage } = await import(path.join(here, '..', 'dist', 'index.js'));
  const s = await DiskStorage.open(dir, { segmentBytes: 1024 * 1024, warn: () => {} });
  await s.load();
  for (let i = 1; i <= N; i += BATCH) {
    const entries = [];
    for (let k = i; k < i + BATCH; k++) entries.push({ index: k, term: 1, type: 'normal', data: value(k) });
    await s.persist({ term: 1, vote: 'n1', commit: i - 1 }, entries);
  }
  await s.close();
}

/** The child: read everything back, exit 0 with the entry count, or 2 with an error message. */
async function readBack(engine, dir) {
  try {
    let n = 0;
    if (engine === 'lmdb') {
      const env = openLmdb({ path: dir, overlappingSync: false });
      const db = env.openDB({ name: 'log', encoding: 'binary' });
      for (const { key, value: v } of db.getRange({})) {
        n++;
        if (key !== n) throw new Error(`key order: ${key} where ${n} belongs`);
        if (v.readUInt32LE(0) !== crc32c(v.subarray(4))) throw new Error(`checksum of entry ${key}`);
      }
    } else {
      const { DiskStorage } = await import(path.join(here, '..', 'dist', 'index.js'));
      const warnings = [];
      const s = await DiskStorage.open(dir, { warn: (m) => warnings.push(m) });
      const st = await s.load();
      n = st.entries.length;
      for (const e of st.entries)
        if (!value(e.index).equals(Buffer.from(e.data))) throw new Error(`entry ${e.index} differs`);
      if (warnings.length > 0) {
        console.log(JSON.stringify({ n, repaired: true }));
        process.exit(0);
      }
    }
    console.log(JSON.stringify({ n }));
    process.exit(0);
  } catch (err) {
    console.log(JSON.stringify({ error: String(err.message).slice(0, 120) }));
    process.exit(2);
  }
}

function rng(seed) {
  let s = seed >>> 0;
  return () => {
    s = (s + 0x6d2b79f5) >>> 0;
    let t = s;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

async function trials(engine, count, rnd) {
  const base = mkdtempSync(path.join(os.tmpdir(), `xraft-bitflip-${engine}-`));
  try {
    const clean = path.join(base, 'clean');
    await (engine === 'lmdb' ? makeLmdb(clean) : makeDisk(clean));
    const files = readdirSync(clean)
      .filter((f) => f !== 'lock.mdb')
      .map((f) => ({ f, size: statSync(path.join(clean, f)).size }));
    const total = files.reduce((s, x) => s + x.size, 0);
    const tally = {};
    for (let t = 0; t < count; t++) {
      const dir = path.join(base, `t${t}`);
      cpSync(clean, dir, { recursive: true });
      let at = Math.floor(rnd() * total);
      let file = files[0];
      for (const x of files) {
        file = x;
        if (at < x.size) break;
        at -= x.size;
      }
      const p = path.join(dir, file.f);
      const buf = readFileSync(p);
      buf[at] ^= 1 << Math.floor(rnd() * 8);
      writeFileSync(p, buf);
      const r = spawnSync(process.execPath, [fileURLToPath(import.meta.url), '--read', engine, dir], {
        encoding: 'utf8',
        timeout: 60_000,
      });
      let kind;
      if (r.signal) kind = `crashed (${r.signal})`;
      else {
        const out = JSON.parse(r.stdout.trim().split('\n').at(-1) || '{}');
        if (out.error !== undefined) kind = `refused (${out.error.replace(/[0-9]+/g, '#').slice(0, 60)})`;
        else if (out.repaired) kind = 'repaired (final write dropped)';
        else if (out.n < N) kind = 'lost (entries missing, no error)';
        else kind = 'no effect';
      }
      tally[kind] = (tally[kind] ?? 0) + 1;
      rmSync(dir, { recursive: true, force: true });
    }
    return { engine, bytes: total, trials: count, outcomes: tally };
  } finally {
    rmSync(base, { recursive: true, force: true });
  }
}

const args = process.argv.slice(2);
if (args[0] === '--read') {
  await readBack(args[1], args[2]);
} else {
  const arg = (name, dflt) => {
    const i = args.indexOf(`--${name}`);
    return i >= 0 ? args[i + 1] : dflt;
  };
  const count = Number(arg('trials', '200'));
  const seed = Number(arg('seed', String(Date.now() % 1e9)));
  const json = arg('json', undefined);
  const machine = `${os.cpus()[0]?.model ?? 'cpu'} x${os.cpus().length}, ${os.platform()} ${os.release()}, Node ${process.version}`;
  console.log(
    `@xraft/storage bit-flip benchmark — ${machine}; seed ${seed}; ${N} entries, one flipped bit per trial\n`,
  );
  const results = [];
  for (const engine of ['lmdb', 'DiskStorage']) {
    const r = await trials(engine, count, rng(seed));
    results.push(r);
    console.log(`${engine} (${r.bytes.toLocaleString('en')} bytes on disk), ${count} trials:`);
    for (const [k, v] of Object.entries(r.outcomes).sort((a, b) => b[1] - a[1])) {
      console.log(`  ${String(v).padStart(5)}  ${k}`);
    }
    console.log();
  }
  if (json) writeFileSync(json, JSON.stringify({ machine, seed, entries: N, results }, null, 2));
}
