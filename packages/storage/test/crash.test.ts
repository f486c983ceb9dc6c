import {
  appendFileSync,
  closeSync,
  existsSync,
  mkdirSync,
  openSync,
  readdirSync,
  readFileSync,
  rmSync,
  statSync,
  truncateSync,
  writeFileSync,
  writeSync,
} from 'node:fs';
import { basename, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { Worker } from 'node:worker_threads';
import { EMPTY_HARD_STATE, type Entry, type HardState, type Random, seededRandom } from '@xraft/core';
import { CorruptionError, DiskStorage, type Snapshot } from '@xraft/storage';
import { afterAll, describe, expect, test } from 'vitest';
import { BEGIN_BYTES, readRecord } from '../src/wal.js';
import { entries, TempDirs, testSeed } from './helpers.js';

const temps = new TempDirs();
afterAll(() => temps.cleanup());

const WRITER = fileURLToPath(new URL('./crash-writer.mjs', import.meta.url));
const DIST = fileURLToPath(new URL('../dist/index.js', import.meta.url));
const CYCLES = Number(process.env.XRAFT_CRASH_CYCLES ?? 60);

// ---------------------------------------------------------------------------
// The model: what the storage must hold after each operation of a plan.

type Op =
  | { kind: 'persist'; hardState: HardState | null; entries: Entry[] }
  | { kind: 'save'; meta: { index: number; term: number }; data: Uint8Array }
  | { kind: 'compact'; index: number }
  | { kind: 'install'; meta: { index: number; term: number }; data: Uint8Array };

interface ModelState {
  readonly hardState: HardState;
  /** The log after the compaction point. */
  readonly log: readonly Entry[];
  readonly offset: number;
  readonly offsetTerm: number;
  readonly snapshot: Snapshot | null;
  /** The highest term used so far, for the next conflicting write. */
  readonly term: number;
}

const EMPTY_MODEL: ModelState = {
  hardState: EMPTY_HARD_STATE,
  log: [],
  offset: 0,
  offsetTerm: 0,
  snapshot: null,
  term: 1,
};

function randomBytes(rnd: Random, n: number): Uint8Array {
  const b = new Uint8Array(n);
  for (let i = 0; i < n; i++) b[i] = Math.floor(rnd() * 256);
  return b;
}

function int(rnd: Random, lo: number, hi: number): number {
  return lo + Math.floor(rnd() * (hi - lo + 1));
}

/** installed is model state `m` after installing `snapshot` from a leader (the Storage contract, §7). */
function installed(m: ModelState, snapshot: Snapshot): ModelState {
  const { index, term } = snapshot.meta;
  if (index <= Math.max(m.offset, m.snapshot?.meta.index ?? 0)) return m; // older: ignored
  const at = m.log[index - m.offset - 1];
  const log = at !== undefined && at.term === term ? m.log.slice(index - m.offset) : [];
  return { ...m, log, offset: index, offsetTerm: term, snapshot, term: Math.max(m.term, term) };
}

/** makePlan draws a random run of operations from `start`, with the model state after each one. */
function makePlan(rnd: Random, start: ModelState): { ops: Op[]; states: ModelState[] } {
  const ops: Op[] = [];
  const states: ModelState[] = [];
  let m = start;
  const push = (op: Op, next: ModelState) => {
    ops.push(op);
    states.push(next);
    m = next;
  };
  const count = int(rnd, 10, 50);
  while (ops.length < count) {
    const last = m.offset + m.log.length;
    if (rnd() < 0.06) {
      // A snapshot from the leader (§7): matching a stored entry (the suffix is kept), conflicting
      // with one, past the end of the log, or older than the stored snapshot (ignored).
      const kind = rnd();
      const stored = m.snapshot?.meta.index ?? 0;
      let index = last + int(rnd, 1, 500);
      let term = m.term + int(rnd, 0, 1);
      if (kind < 0.35 && m.log.length > 0) {
        index = int(rnd, m.offset + 1, last);
        term = m.log[index - m.offset - 1]!.term;
      } else if (kind < 0.6 && m.log.length > 0) {
        index = int(rnd, m.offset + 1, last);
        term = m.term + 1;
      } else if (kind < 0.7 && stored > 0) {
        index = int(rnd, 1, stored);
      }
      const snapshot = { meta: { index, term }, data: randomBytes(rnd, int(rnd, 0, 3000)) };
      push({ kind: 'install', ...snapshot }, installed(m, snapshot));
      continue;
    }
    const r = rnd();
    if (r < 0.07 && m.log.length > 2) {
      // Snapshot and compact somewhere in the stored log (§7).
      const index = int(rnd, m.offset + 1, last);
      const term = m.log[index - m.offset - 1]!.term;
      const snapshot = { meta: { index, term }, data: randomBytes(rnd, int(rnd, 0, 3000)) };
      // Saving a snapshot older than the stored one changes nothing (the Storage contract).
      const kept = m.snapshot !== null && m.snapshot.meta.index > index ? m.snapshot : snapshot;
      push({ kind: 'save', ...snapshot }, { ...m, snapshot: kept });
      push(
        { kind: 'compact', index },
        { ...m, log: m.log.slice(index - m.offset), offset: index, offsetTerm: term },
      );
      continue;
    }
    let from = last + 1;
    let term = m.term;
    if (r < 0.2 && m.log.length > 0) {
      // A follower's conflict: a new term rewrites a suffix (§5.3).
      from = int(rnd, m.offset + 1, last);
      term = m.term + 1;
    }
    const size = rnd();
    const n = size < 0.7 ? int(rnd, 1, 20) : size < 0.95 ? int(rnd, 21, 300) : int(rnd, 301, 1000);
    const batch: Entry[] = [];
    for (let i = 0; i < n; i++) {
      const noop = rnd() < 0.05;
      batch.push({
        index: from + i,
        term,
        type: noop ? 'noop' : 'normal',
        data: noop ? new Uint8Array(0) : randomBytes(rnd, int(rnd, 0, 200)),
      });
    }
    const withHardState = term !== m.term || rnd() < 0.5;
    const hardState = withHardState
      ? { term, vote: rnd() < 0.5 ? null : `n${int(rnd, 1, 5)}`, commit: int(rnd, m.offset, from - 1) }
      : null;
    push(
      { kind: 'persist', hardState, entries: batch },
      {
        ...m,
        term,
        hardState: hardState ?? m.hardState,
        log: [...m.log.slice(0, from - m.offset - 1), ...batch],
      },
    );
  }
  return { ops, states };
}

function sameBytes(a: Uint8Array, b: Uint8Array): boolean {
  return Buffer.from(a.buffer, a.byteOffset, a.length).equals(Buffer.from(b.buffer, b.byteOffset, b.length));
}

/** matches tells whether what the storage loaded is exactly model state `m`. */
function matches(
  loaded: { hardState: HardState; entries: readonly Entry[]; snapshot?: { index: number; term: number } },
  snapshot: Snapshot | null,
  m: ModelState,
): boolean {
  const h = loaded.hardState;
  if (h.term !== m.hardState.term || h.vote !== m.hardState.vote || h.commit !== m.hardState.commit)
    return false;
  if (loaded.snapshot?.index !== m.offset || loaded.snapshot?.term !== m.offsetTerm) return false;
  if (loaded.entries.length !== m.log.length) return false;
  for (let i = 0; i < m.log.length; i++) {
    const a = loaded.entries[i]!;
    const b = m.log[i]!;
    if (a.index !== b.index || a.term !== b.term || a.type !== b.type || !sameBytes(a.data, b.data))
      return false;
  }
  if ((snapshot === null) !== (m.snapshot === null)) return false;
  if (snapshot !== null && m.snapshot !== null) {
    if (snapshot.meta.index !== m.snapshot.meta.index || snapshot.meta.term !== m.snapshot.meta.term)
      return false;
    if (!sameBytes(snapshot.data, m.snapshot.data)) return false;
  }
  return true;
}

function describeOp(op: Op): string {
  switch (op.kind) {
    case 'persist':
      return `persist ${op.entries[0]?.index}+${op.entries.length}`;
    case 'compact':
      return `compact ${op.index}`;
    case 'save':
    case 'install':
      return `${op.kind} ${op.meta.index}@${op.meta.term}`;
  }
}

/** explain describes how the loaded state differs from each model state, for a failure message. */
function explain(
  loaded: { hardState: HardState; entries: readonly Entry[]; snapshot?: { index: number; term: number } },
  snapshot: Snapshot | null,
  states: readonly ModelState[],
  ops: readonly Op[],
): string {
  const lines = [
    `loaded: hard state ${JSON.stringify(loaded.hardState)}, compacted ${JSON.stringify(loaded.snapshot)}, entries ${loaded.entries[0]?.index}..${loaded.entries.at(-1)?.index}, snapshot ${JSON.stringify(snapshot?.meta ?? null)}`,
  ];
  states.forEach((m, j) => {
    const diffs: string[] = [];
    if (JSON.stringify(m.hardState) !== JSON.stringify(loaded.hardState))
      diffs.push(`hard state ${JSON.stringify(m.hardState)}`);
    if (m.offset !== loaded.snapshot?.index || m.offsetTerm !== loaded.snapshot?.term)
      diffs.push(`compacted ${m.offset}@${m.offsetTerm}`);
    if (m.log.length !== loaded.entries.length)
      diffs.push(`entries ${m.log[0]?.index}..${m.log.at(-1)?.index}`);
    else {
      const i = m.log.findIndex((e, k) => {
        const a = loaded.entries[k]!;
        return a.index !== e.index || a.term !== e.term || a.type !== e.type || !sameBytes(a.data, e.data);
      });
      if (i >= 0) diffs.push(`entry ${m.log[i]!.index} differs`);
    }
    if (JSON.stringify(m.snapshot?.meta ?? null) !== JSON.stringify(snapshot?.meta ?? null))
      diffs.push(`snapshot ${JSON.stringify(m.snapshot?.meta ?? null)}`);
    const op = j === 0 ? 'start' : describeOp(ops[j - 1]!);
    lines.push(`  after op ${j - 1} (${op}): ${diffs.join(', ') || 'same'}`);
  });
  return lines.join('\n');
}

function lastSegment(dir: string): string | undefined {
  return readdirSync(dir)
    .filter((n) => n.endsWith('.wal'))
    .sort()
    .at(-1);
}

/**
 * tear damages what lies past the last durable byte the writer reported, as a
 * crash of the machine could: the file cut anywhere after it, its end
 * overwritten with garbage, garbage or zeros appended.
 */
function tear(rnd: Random, dir: string, segment: string, syncedBytes: number): string {
  const last = lastSegment(dir);
  if (last !== basename(segment)) return 'none (a newer segment was started)';
  const path = join(dir, last);
  const size = statSync(path).size;
  const at = int(rnd, syncedBytes, size);
  const mode = int(rnd, 0, 3);
  if (mode === 0) {
    truncateSync(path, at);
    return `cut ${last} at ${at} of ${size}`;
  }
  if (mode === 1) {
    const fd = openSync(path, 'r+');
    writeSync(fd, randomBytes(rnd, size - at), 0, size - at, at);
    closeSync(fd);
    return `garbage over ${last} [${at}, ${size})`;
  }
  if (mode === 2) {
    truncateSync(path, at);
    const n = int(rnd, 1, 300);
    appendFileSync(path, randomBytes(rnd, n));
    return `cut ${last} at ${at} of ${size}, then ${n} bytes of garbage`;
  }
  const n = int(rnd, 1, 4096);
  appendFileSync(path, new Uint8Array(n));
  return `${n} zero bytes appended to ${last}`;
}

describe('DiskStorage under a writer killed at random moments', () => {
  test(`every acknowledged write survives ${CYCLES} kills, with torn tails repaired (seed printed; XRAFT_SEED replays)`, async () => {
    if (!existsSync(DIST))
      throw new Error(
        `${DIST} is missing: run \`pnpm build\` first (the writer worker runs built JavaScript)`,
      );
    const seed = testSeed();
    console.log(`crash.test seed=${seed} (replay: XRAFT_SEED=${seed})`);
    const rnd = seededRandom(seed); // plans and kill points
    const damageRnd = seededRandom(seed + 1); // tail damage, drawn only when there is a tail to damage
    const modeRnd = seededRandom(seed + 2); // the writer's write mode: threadpool or blocking writev
    let blockingRuns = 0;
    const dir = join(temps.make(), 'n1');
    const segmentBytes = 16 * 1024;
    let model = EMPTY_MODEL;
    let acked = 0;
    let repairs = 0;
    let unacked = 0;
    let tears = 0;
    let installs = 0;
    let installRepairs = 0;
    let worker: Worker | null = null;
    try {
      for (let cycle = 0; cycle < CYCLES; cycle++) {
        const { ops, states } = makePlan(rnd, model);
        const inflight = int(rnd, 1, 8);
        const killEarly = rnd() < 0.1; // sometimes while the worker starts up or recovers
        const killAfter = int(rnd, 1, ops.length); // else after this many acknowledgements
        const delay = rnd();
        let lastAck = -1;
        let lastPos = null as { segment: string; syncedBytes: number } | null; // set in callbacks
        const blockingWrites = modeRnd() < 0.5;
        if (blockingWrites) blockingRuns++;
        const w = new Worker(WRITER, { workerData: { dir, segmentBytes, inflight, ops, blockingWrites } });
        worker = w;
        const earlyMs = int(rnd, 0, 60);
        const timers: NodeJS.Timeout[] = [];
        const immediates: NodeJS.Immediate[] = [];
        await new Promise<void>((resolve, reject) => {
          let killed = false;
          const kill = () => {
            if (killed) return;
            killed = true;
            // Terminate at once, after the pending I/O callbacks, or a little later: mid-batch, mid-sync.
            if (delay < 0.3) void w.terminate();
            else if (delay < 0.6) immediates.push(setImmediate(() => void w.terminate()));
            else timers.push(setTimeout(() => void w.terminate(), Math.floor(delay * 4)));
          };
          if (killEarly) timers.push(setTimeout(kill, earlyMs));
          w.on('message', (msg: { type: string; op?: number; segment?: string; syncedBytes?: number }) => {
            if (msg.type === 'ack') {
              if (msg.op !== lastAck + 1) reject(new Error(`ack ${msg.op} after ${lastAck}: out of order`));
              lastAck = msg.op!;
              lastPos = { segment: msg.segment!, syncedBytes: msg.syncedBytes! };
              if (lastAck + 1 >= killAfter) kill();
            } else if (msg.type === 'done') kill();
          });
          w.on('error', reject);
          w.on('exit', () => resolve());
        });
        for (const t of timers) clearTimeout(t);
        for (const i of immediates) clearImmediate(i);
        worker = null;
        acked += lastAck + 1;
        installs += ops.slice(0, lastAck + 1).filter((op) => op.kind === 'install').length;
        const damage =
          lastPos !== null && damageRnd() < 0.35
            ? tear(damageRnd, dir, lastPos.segment, lastPos.syncedBytes)
            : 'none';

        const warnings: string[] = [];
        const storage = await DiskStorage.open(dir, { warn: (m) => warnings.push(m), segmentBytes });
        const where = `seed ${seed}, cycle ${cycle}, acked ${lastAck + 1}/${ops.length}, damage: ${damage}`;
        try {
          const loaded = await storage.load();
          const snapshot = await storage.loadSnapshot();
          // The storage must hold the state after some operation at or after the last acknowledged one.
          const candidates = lastAck < 0 ? [model, ...states] : states.slice(lastAck);
          const j = candidates.findIndex((m) => matches(loaded, snapshot, m));
          const found = candidates[j];
          if (found === undefined) {
            throw new Error(
              `${where}: the recovered storage is not the state after any operation from the last acknowledged one on:\n${explain(loaded, snapshot, [model, ...states], ops)}`,
            );
          }
          model = found;
          repairs += warnings.length;
          installRepairs += warnings.filter((w) => w.includes('install')).length;
          if (j > 0) unacked++; // the kill hit while written operations waited for their acknowledgement
          if (damage !== 'none') tears++;
        } finally {
          await storage.close();
        }
      }
    } finally {
      await worker?.terminate();
    }
    console.log(
      `crash.test: ${CYCLES} kills (${blockingRuns} of writers with blocking writes), ${acked} acknowledged operations checked (${installs} installs); ${unacked} kills left durable but unacknowledged operations; ${tears} tails damaged, ${repairs} repairs (${installRepairs} of an install cut short); final log ${model.offset + 1}..${model.offset + model.log.length}`,
    );
  }, 120_000);
});

// ---------------------------------------------------------------------------
// Damage made by hand: torn tails are repaired, everything else is refused.

/** buildLog writes `writes` persists of a few entries each, returning the dir and each write's end offset in its segment. */
async function buildLog(writes: number, segmentBytes = 64 * 1024 * 1024) {
  const dir = join(temps.make(), 'n1');
  const s = await DiskStorage.open(dir, { segmentBytes });
  await s.load();
  const ends: { segment: string; end: number }[] = [];
  const states: Awaited<ReturnType<DiskStorage['load']>>[] = [];
  for (let k = 0; k < writes; k++) {
    const from = k * 3 + 1;
    await s.persist(
      { term: k + 1, vote: k % 2 ? 'n2' : null, commit: from - 1 },
      entries(from, from + 2, k + 1),
    );
    const st = s.status();
    ends.push({ segment: st.segment, end: st.syncedBytes });
    states.push(await s.load());
  }
  await s.close();
  return { dir, ends, states };
}

async function loadDir(dir: string) {
  const warnings: string[] = [];
  const s = await DiskStorage.open(dir, { warn: (m) => warnings.push(m) });
  try {
    return { state: await s.load(), warnings, snapshot: await s.loadSnapshot() };
  } finally {
    await s.close();
  }
}

async function expectCorruption(dir: string, file: string, offset: number | null, pattern?: RegExp) {
  const s = await DiskStorage.open(dir, { warn: () => {} });
  try {
    const err = await s.load().then(
      () => null,
      (e: unknown) => e,
    );
    expect(err, `load of ${dir} should refuse`).toBeInstanceOf(CorruptionError);
    const c = err as CorruptionError;
    expect(c.file).toBe(file);
    if (offset !== null) expect(c.offset).toBe(offset);
    expect(c.message).toContain(file);
    expect(c.message).toContain(`byte offset ${c.offset}`);
    if (pattern) expect(c.message).toMatch(pattern);
    return c;
  } finally {
    await s.close();
  }
}

/** recordStarts lists where each record of a segment file begins. */
function recordStarts(path: string): number[] {
  const buf = readFileSync(path);
  const starts: number[] = [];
  for (let at = 0; at < buf.length; ) {
    const r = readRecord(buf, at);
    if (!r.ok) throw new Error(`unreadable test segment ${path} at ${at}`);
    starts.push(at);
    at = r.next;
  }
  return starts;
}

describe('torn tails', () => {
  test('a final write cut at any byte is dropped with a warning naming file and offset; the rest is kept', async () => {
    const { dir, ends, states } = await buildLog(6);
    const seg = ends.at(-1)!.segment;
    const before = ends.at(-2)!.end;
    const full = readFileSync(seg);
    for (let cut = before; cut < full.length; cut++) {
      writeFileSync(seg, full.subarray(0, cut));
      const { state, warnings } = await loadDir(dir);
      expect(state, `cut at ${cut}`).toEqual(states.at(-2));
      if (cut > before) {
        expect(warnings).toHaveLength(1);
        expect(warnings[0]).toContain(`truncated ${seg} at byte offset ${before}`);
      } else {
        expect(warnings).toEqual([]);
      }
      expect(statSync(seg).size).toBe(before);
      // Each load starts a segment of its own: remove it so the next cut is again at the tail.
      for (const n of readdirSync(dir))
        if (join(dir, n) !== seg && n.endsWith('.wal') && n > basename(seg)) rmFile(join(dir, n));
    }
  });

  test('garbage or zeros after the last write are dropped; every write is kept', async () => {
    const seed = testSeed();
    const rnd = seededRandom(seed);
    for (const tail of [
      new Uint8Array(1),
      new Uint8Array(7),
      new Uint8Array(5000),
      randomBytes(rnd, 3),
      randomBytes(rnd, 999),
    ]) {
      const { dir, ends, states } = await buildLog(4);
      const seg = ends.at(-1)!.segment;
      appendFileSync(seg, tail);
      const { state, warnings } = await loadDir(dir);
      expect(state, `seed ${seed}`).toEqual(states.at(-1));
      expect(warnings).toHaveLength(1);
      expect(warnings[0]).toContain(`at byte offset ${ends.at(-1)!.end}`);
    }
  });

  test('a last segment whose first write was cut short is removed; the segments before it are kept', async () => {
    const { dir, states } = await buildLog(3);
    const next = join(dir, '0000000000000002.wal');
    writeFileSync(next, Buffer.from([40, 0, 0, 0, 1, 2])); // a header cut short
    const { state, warnings } = await loadDir(dir);
    expect(state).toEqual(states.at(-1));
    expect(warnings[0]).toContain(`removed ${next}`);
  });
});

describe('corruption is refused with the file and offset', () => {
  test('a bit flipped in any byte of the log, outside its final write, stops load at that record (seeded)', async () => {
    const seed = testSeed();
    const rnd = seededRandom(seed);
    // Four segments of a few writes each.
    const { dir, ends } = await buildLog(12, 300);
    const segments = [...new Set(ends.map((e) => e.segment))];
    expect(segments.length).toBeGreaterThanOrEqual(3);
    // Where the final write begins: after the write before it, or after the header write of its segment.
    const finalWrite =
      ends.at(-2)!.segment === ends.at(-1)!.segment
        ? ends.at(-2)!.end
        : recordStarts(ends.at(-1)!.segment)[3]!;
    let trials = 0;
    for (const seg of segments) {
      const starts = recordStarts(seg);
      const original = readFileSync(seg);
      const isLast = seg === segments.at(-1);
      const limit = isLast ? finalWrite : original.length;
      for (let pos = 0; pos < limit; pos++) {
        const bit = 1 << int(rnd, 0, 7);
        const fd = openSync(seg, 'r+');
        writeSync(fd, Buffer.from([original[pos]! ^ bit]), 0, 1, pos);
        closeSync(fd);
        const recordStart = starts.filter((s) => s <= pos).at(-1)!;
        await expectCorruption(dir, seg, recordStart).catch((e: Error) => {
          throw new Error(`seed ${seed}: bit ${bit} of byte ${pos} in ${seg}: ${e.message}`);
        });
        writeFileSync(seg, original);
        trials++;
      }
    }
    expect(trials).toBeGreaterThan(1000);
  }, 60_000);

  test('a bit flipped in the final write is indistinguishable from a torn write: that write is dropped with a warning', async () => {
    const { dir, ends, states } = await buildLog(4);
    const seg = ends.at(-1)!.segment;
    const original = readFileSync(seg);
    for (let pos = ends.at(-2)!.end; pos < original.length; pos += 7) {
      const damaged = Buffer.from(original);
      damaged[pos]! ^= 0x10;
      writeFileSync(seg, damaged);
      const { state, warnings } = await loadDir(dir);
      expect(state).toEqual(states.at(-2));
      expect(warnings).toHaveLength(1);
      writeFileSync(seg, original);
      for (const n of readdirSync(dir)) if (n.endsWith('.wal') && n > basename(seg)) rmFile(join(dir, n));
    }
  });

  test('a corrupt hard-state record names its file and offset', async () => {
    const { dir, ends } = await buildLog(3);
    const seg = ends[0]!.segment;
    const starts = recordStarts(seg);
    // Records: the segment's group (Begin, Header, HardState), then the first write's group (Begin, HardState, ...).
    const at = starts[4]!;
    const buf = readFileSync(seg);
    buf[at + 12]! ^= 0xff;
    writeFileSync(seg, buf);
    await expectCorruption(dir, seg, at, /checksum mismatch/);
  });

  test('a missing segment in the middle, or at the start of an uncompacted log, is refused', async () => {
    const a = await buildLog(12, 300);
    const segs = [...new Set(a.ends.map((e) => e.segment))];
    rmFile(segs[1]!);
    await expectCorruption(a.dir, segs[2]!, 0, /0000000000000002\.wal is missing/);
    const b = await buildLog(12, 300);
    const segsB = [...new Set(b.ends.map((e) => e.segment))];
    rmFile(segsB[0]!);
    await expectCorruption(b.dir, segsB[1]!, 0, /entries 1\.\.\d+ are missing/);
  });

  test('a file that is not a segment of this log is refused', async () => {
    const { dir, ends } = await buildLog(2);
    const seg = ends[0]!.segment;
    writeFileSync(join(dir, '0000000000000002.wal'), readFileSync(seg)); // a copy of segment 1 posing as 2
    await expectCorruption(dir, join(dir, '0000000000000002.wal'), BEGIN_BYTES, /misplaced/);
  });
});

// ---------------------------------------------------------------------------
// installSnapshot cut short after each of its steps on disk.

type Files = Map<string, Buffer>;

function readFiles(dir: string): Files {
  return new Map(readdirSync(dir).map((n) => [n, readFileSync(join(dir, n))]));
}

/** writeFiles makes a fresh node directory holding exactly `files`. */
function writeFiles(files: Files): string {
  const dir = join(temps.make(), 'n1');
  mkdirSync(dir);
  for (const [name, data] of files) writeFileSync(join(dir, name), data);
  return dir;
}

/**
 * installScenario stores a log over several segments with a compacted prefix and a saved snapshot,
 * then installs `meta`; it returns the directory's files right before and after, and the state
 * load() and loadSnapshot() gave at each point.
 */
async function installScenario(meta: { index: number; term: number }) {
  const dir = join(temps.make(), 'n1');
  const s = await DiskStorage.open(dir, { segmentBytes: 400 });
  await s.load();
  for (let k = 0; k < 10; k++) {
    const term = k < 6 ? 1 : 2;
    await s.persist({ term, vote: 'n2', commit: k * 4 }, entries(k * 4 + 1, k * 4 + 4, term));
  }
  await s.saveSnapshot({ meta: { index: 12, term: 1 }, data: new Uint8Array(300).fill(12) });
  await s.compact(12);
  const old = { state: await s.load(), snapshot: await s.loadSnapshot() };
  const before = readFiles(dir);
  await s.installSnapshot({ meta, data: new Uint8Array(5000).map((_, i) => (i * 31) & 0xff) });
  const now = { state: await s.load(), snapshot: await s.loadSnapshot() };
  await s.close();
  const after = readFiles(dir);
  const segment = [...after.keys()].filter((n) => n.endsWith('.wal') && !before.has(n));
  expect(segment).toHaveLength(1); // the install's own segment
  const snapName = snapshotName(meta.index);
  return {
    old,
    now,
    before,
    after,
    segment: segment[0]!,
    snapName,
    staged: snapName.replace(/\.snap$/, '.install'),
  };
}

function snapshotName(index: number): string {
  return `snap-${String(index).padStart(16, '0')}.snap`;
}

describe('installSnapshot cut short after any step', () => {
  // The install's first group has the same layout in each case: the first is cut at every byte, the others every 7th.
  for (const [what, meta, stride] of [
    ['matching entry 30 (the suffix kept)', { index: 30, term: 2 }, 1],
    ['conflicting with entry 30 (the log discarded)', { index: 30, term: 3 }, 7],
    ['past the end of the log', { index: 90, term: 3 }, 7],
  ] as const) {
    test(`${what}: the old state up to the log's commit record, the new one from it on`, async () => {
      const sc = await installScenario(meta);
      expect(sc.now.state.snapshot).toEqual(meta);
      const snapFile = sc.after.get(sc.snapName)!;
      const seg = sc.after.get(sc.segment)!;
      const expectState = async (files: Files, want: typeof sc.old, step: string, warning?: RegExp) => {
        const { state, snapshot, warnings } = await loadDir(writeFiles(files));
        expect(state, step).toEqual(want.state);
        expect(snapshot?.meta, step).toEqual(want.snapshot?.meta);
        expect(
          snapshot !== null && Buffer.from(snapshot.data).equals(Buffer.from(want.snapshot!.data)),
          step,
        ).toBe(true);
        if (warning === undefined) expect(warnings, step).toEqual([]);
        else
          expect(
            warnings.some((w) => warning.test(w)),
            `${step}: ${warnings.join('; ')}`,
          ).toBe(true);
      };
      const plus = (...more: [string, Buffer][]): Files => new Map([...sc.before, ...more]);

      // 1. The staged file being written (its .tmp), then written but not yet recorded by the log.
      await expectState(
        plus([`${sc.staged}.tmp`, snapFile.subarray(0, 100)]),
        sc.old,
        'tmp',
        /never finished/,
      );
      await expectState(plus([sc.staged, snapFile]), sc.old, 'staged', /before the log recorded it/);
      // 2. The install's segment cut inside its first group (it holds nothing else): not committed.
      const cuts: number[] = [];
      for (let cut = 1; cut < seg.length; cut += stride) cuts.push(cut);
      if (cuts.at(-1) !== seg.length - 1) cuts.push(seg.length - 1); // one byte short of whole
      for (const cut of cuts) {
        await expectState(
          plus([sc.staged, snapFile], [sc.segment, seg.subarray(0, cut)]),
          sc.old,
          `segment cut at ${cut}`,
          /before the log recorded it/,
        );
      }
      // An empty segment file (created, nothing written yet): still the old state.
      await expectState(
        plus([sc.staged, snapFile], [sc.segment, Buffer.alloc(0)]),
        sc.old,
        'empty segment',
        /before the log recorded it/,
      );
      // 3. Committed, the staged file not yet renamed: recovery finishes the install.
      await expectState(
        plus([sc.staged, snapFile], [sc.segment, seg]),
        sc.now,
        'committed',
        /finished installing/,
      );
      // 4. Renamed; the older snapshot and the segments of the old log not yet deleted, then deleted one by one.
      await expectState(plus([sc.snapName, snapFile], [sc.segment, seg]), sc.now, 'renamed');
      const stale = [...sc.before.keys()].filter((n) => n.endsWith('.wal') && !sc.after.has(n)).sort();
      if (meta.term === 3) expect(stale.length).toBeGreaterThan(1); // nothing kept: every older segment goes
      for (let k = 0; k <= stale.length; k++) {
        const files = plus([sc.snapName, snapFile], [sc.segment, seg]);
        for (const n of stale.slice(0, k)) files.delete(n);
        await expectState(files, sc.now, `${k} old segments deleted`);
      }
      // 5. Done.
      await expectState(sc.after, sc.now, 'after');
    });
  }

  test('a staged snapshot the log recorded but that is damaged is refused, naming it', async () => {
    const sc = await installScenario({ index: 30, term: 3 });
    const damaged = Buffer.from(sc.after.get(sc.snapName)!);
    damaged[2000]! ^= 4;
    const dir = writeFiles(
      new Map([...sc.before, [sc.staged, damaged], [sc.segment, sc.after.get(sc.segment)!]]),
    );
    await expectCorruption(dir, join(dir, sc.staged), 38, /data checksum mismatch/);
    // Not yet recorded by the log, the same damaged file was never acknowledged: it is removed.
    const { state } = await loadDir(writeFiles(new Map([...sc.before, [sc.staged, damaged]])));
    expect(state).toEqual(sc.old.state);
  });

  test('an installed snapshot damaged later, or missing, is refused, naming its file', async () => {
    const sc = await installScenario({ index: 90, term: 3 });
    const damaged = Buffer.from(sc.after.get(sc.snapName)!);
    damaged[4000]! ^= 1;
    const dir = writeFiles(new Map([...sc.after, [sc.snapName, damaged]]));
    await expectCorruption(dir, join(dir, sc.snapName), 38, /data checksum mismatch/);
    const gone = writeFiles(new Map([...sc.after].filter(([n]) => n !== sc.snapName)));
    await expectCorruption(gone, join(gone, sc.snapName), 0, /compacted through entry 90.*no snapshot/);
  });
});

describe('snapshot files', () => {
  async function withSnapshot(size: number) {
    const dir = join(temps.make(), 'n1');
    const s = await DiskStorage.open(dir);
    await s.load();
    await s.persist({ term: 2, vote: null, commit: 10 }, entries(1, 10, 2));
    const data = new Uint8Array(size).map((_, i) => (i * 13) & 0xff);
    await s.saveSnapshot({ meta: { index: 8, term: 2 }, data });
    await s.compact(8);
    await s.close();
    return { dir, file: join(dir, 'snap-0000000000000008.snap') };
  }

  test('a flipped byte in the header, in the data, or a cut file is refused, naming the file and offset', async () => {
    const { dir, file } = await withSnapshot(200_000);
    const original = readFileSync(file);
    const damage = (pos: number) => {
      const b = Buffer.from(original);
      b[pos]! ^= 1;
      writeFileSync(file, b);
    };
    damage(20); // the term, in the header
    await expectCorruption(dir, file, 0, /header checksum/);
    damage(38 + 70_000); // data chunk 1 (64 KiB chunks after a 38-byte header)
    await expectCorruption(dir, file, 38 + 65_536, /data checksum mismatch/);
    writeFileSync(file, original.subarray(0, original.length - 100));
    await expectCorruption(dir, file, null, /truncated or extended/);
    writeFileSync(file, original);
    const { state, snapshot } = await loadDir(dir);
    expect(state.snapshot).toEqual({ index: 8, term: 2 });
    expect(snapshot?.data.length).toBe(200_000);
  });

  test('a compacted log without its snapshot is refused', async () => {
    const { dir, file } = await withSnapshot(10);
    rmFile(file);
    await expectCorruption(dir, file, 0, /compacted through entry 8.*no snapshot/);
  });

  test('an unfinished snapshot write (a .tmp file) is removed with a warning', async () => {
    const { dir } = await withSnapshot(10);
    const tmp = join(dir, 'snap-0000000000000009.snap.tmp');
    writeFileSync(tmp, 'half a snapshot');
    const { state, warnings } = await loadDir(dir);
    expect(state.snapshot).toEqual({ index: 8, term: 2 });
    expect(warnings).toHaveLength(1);
    expect(warnings[0]).toContain(tmp);
    expect(existsSync(tmp)).toBe(false);
  });
});

function rmFile(path: string): void {
  rmSync(path, { force: true });
}
