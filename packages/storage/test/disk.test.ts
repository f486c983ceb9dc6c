import { existsSync, readdirSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { CorruptionError, DiskStorage } from '@xraft/storage';
import { afterAll, describe, expect, test } from 'vitest';
import { entries, TempDirs } from './helpers.js';

const temps = new TempDirs();
afterAll(() => temps.cleanup());

const walFiles = (dir: string) => readdirSync(dir).filter((n) => n.endsWith('.wal'));

describe('DiskStorage', () => {
  test('open creates <dataDir>/<nodeId>/ and nothing is read or written before load()', async () => {
    const dataDir = join(temps.make(), 'data');
    const s = await DiskStorage.open(join(dataDir, 'n1'));
    expect(existsSync(join(dataDir, 'n1'))).toBe(true);
    expect(readdirSync(join(dataDir, 'n1'))).toEqual([]);
    await expect(s.persist(null, entries(1, 1, 1))).rejects.toThrow(/call load\(\) first/);
    await s.load();
    expect(walFiles(join(dataDir, 'n1'))).toEqual(['0000000000000001.wal']);
    await s.close();
  });

  test('load reads the disk once; later calls return the current state', async () => {
    const dir = join(temps.make(), 'n1');
    const s = await DiskStorage.open(dir);
    const [a, b] = await Promise.all([s.load(), s.load()]);
    expect(a).toEqual(b);
    await s.persist({ term: 1, vote: 'n1', commit: 0 }, entries(1, 2, 1));
    expect((await s.load()).entries).toEqual(entries(1, 2, 1));
    expect(walFiles(dir)).toHaveLength(1);
    await s.close();
  });

  test('concurrent persists share group commits: far fewer fdatasyncs than writes', async () => {
    const dir = join(temps.make(), 'n1');
    const s = await DiskStorage.open(dir);
    await s.load();
    const writes = [];
    for (let k = 0; k < 500; k++)
      writes.push(s.persist({ term: 1, vote: null, commit: k }, entries(k + 1, k + 1, 1)));
    await Promise.all(writes);
    const { groupCommits, lastIndex, queued } = s.status();
    expect(lastIndex).toBe(500);
    expect(queued).toBe(0);
    // Each group commit takes everything queued while the previous sync ran.
    expect(groupCommits).toBeLessThan(50);
    await s.close();
  });

  test('compaction deletes the segments that hold only compacted entries, and the log still loads', async () => {
    const dir = join(temps.make(), 'n1');
    const s = await DiskStorage.open(dir, { segmentBytes: 1024 });
    await s.load();
    for (let k = 0; k < 40; k++)
      await s.persist({ term: 1, vote: null, commit: 0 }, entries(k * 5 + 1, k * 5 + 5, 1));
    const before = walFiles(dir).length;
    expect(before).toBeGreaterThan(5);
    await s.saveSnapshot({ meta: { index: 150, term: 1 }, data: new Uint8Array([1, 2, 3]) });
    await s.compact(150);
    const after = walFiles(dir);
    expect(after.length).toBeLessThan(before / 2);
    expect(readdirSync(dir).filter((n) => n.endsWith('.snap'))).toEqual(['snap-0000000000000150.snap']);
    await s.close();
    const r = await DiskStorage.open(dir);
    expect(await r.load()).toEqual({
      hardState: { term: 1, vote: null, commit: 0 },
      entries: entries(151, 200, 1),
      snapshot: { index: 150, term: 1 },
    });
    await r.close();
  });

  test('installSnapshot leaves one snapshot file and deletes the segments of the log it replaced', async () => {
    const dir = join(temps.make(), 'n1');
    const s = await DiskStorage.open(dir, { segmentBytes: 1024 });
    await s.load();
    for (let k = 0; k < 40; k++)
      await s.persist({ term: 1, vote: null, commit: 0 }, entries(k * 5 + 1, k * 5 + 5, 1));
    await s.saveSnapshot({ meta: { index: 20, term: 1 }, data: new Uint8Array([1]) });
    const before = walFiles(dir).length;
    // Matching entry 150: the segments holding entries after it stay.
    await s.installSnapshot({ meta: { index: 150, term: 1 }, data: new Uint8Array([2]) });
    const kept = walFiles(dir).length;
    expect(kept).toBeLessThan(before);
    expect(kept).toBeGreaterThan(2);
    expect(readdirSync(dir).filter((n) => !n.endsWith('.wal'))).toEqual(['snap-0000000000000150.snap']);
    // From a newer term: nothing is kept, so only the install's own segment remains.
    await s.installSnapshot({ meta: { index: 160, term: 2 }, data: new Uint8Array([3]) });
    expect(walFiles(dir)).toHaveLength(1);
    expect(readdirSync(dir).filter((n) => !n.endsWith('.wal'))).toEqual(['snap-0000000000000160.snap']);
    expect(s.status()).toMatchObject({ compactedIndex: 160, lastIndex: 160, segments: 1 });
    await s.persist(null, entries(161, 161, 2));
    await s.close();
    const r = await DiskStorage.open(dir);
    expect(await r.load()).toEqual({
      hardState: { term: 1, vote: null, commit: 0 },
      entries: entries(161, 161, 2),
      snapshot: { index: 160, term: 2 },
    });
    expect(r.repairs).toEqual([]);
    await r.close();
  });

  test('an install whose kept entries a later compaction deleted still loads, its segment now the first', async () => {
    const dir = join(temps.make(), 'n1');
    const s = await DiskStorage.open(dir, { segmentBytes: 1024 });
    await s.load();
    for (let k = 0; k < 20; k++)
      await s.persist({ term: 1, vote: null, commit: 0 }, entries(k * 10 + 1, k * 10 + 10, 1));
    await s.installSnapshot({ meta: { index: 100, term: 1 }, data: new Uint8Array([1]) }); // keeps 101..200
    const installSegment = s.status().segment;
    for (let k = 20; k < 40; k++) await s.persist(null, entries(k * 10 + 1, k * 10 + 10, 1));
    await s.saveSnapshot({ meta: { index: 205, term: 1 }, data: new Uint8Array([2]) });
    await s.compact(205); // deletes the segments holding 101..200, not the install's (it holds 201..)
    expect(join(dir, walFiles(dir).sort()[0]!)).toBe(installSegment);
    await s.close();
    const r = await DiskStorage.open(dir);
    expect(await r.load()).toEqual({
      hardState: { term: 1, vote: null, commit: 0 },
      entries: entries(206, 400, 1),
      snapshot: { index: 205, term: 1 },
    });
    await r.close();
  });

  test('a newer snapshot replaces the older file', async () => {
    const dir = join(temps.make(), 'n1');
    const s = await DiskStorage.open(dir);
    await s.load();
    await s.persist(null, entries(1, 10, 1));
    await s.saveSnapshot({ meta: { index: 4, term: 1 }, data: new Uint8Array([4]) });
    await s.saveSnapshot({ meta: { index: 9, term: 1 }, data: new Uint8Array([9]) });
    expect(readdirSync(dir).filter((n) => n.endsWith('.snap'))).toEqual(['snap-0000000000000009.snap']);
    await s.close();
  });

  test('a snapshot with no log segments beside it means the log was lost: refused', async () => {
    const dir = join(temps.make(), 'n1');
    const s = await DiskStorage.open(dir);
    await s.load();
    await s.persist(null, entries(1, 3, 1));
    await s.saveSnapshot({ meta: { index: 2, term: 1 }, data: new Uint8Array([2]) });
    await s.close();
    for (const n of walFiles(dir)) rmSync(join(dir, n));
    const r = await DiskStorage.open(dir);
    await expect(r.load()).rejects.toThrow(CorruptionError);
    await expect(r.load()).rejects.toThrow(/log segments are missing/);
    await r.close();
  });

  test('entries of any size round-trip, and a record too large for the format is refused up front', async () => {
    const dir = join(temps.make(), 'n1');
    const s = await DiskStorage.open(dir);
    await s.load();
    const big = { index: 1, term: 1, type: 'normal' as const, data: new Uint8Array(3_000_000).fill(7) };
    await s.persist(null, [big]);
    const huge = { index: 2, term: 1, type: 'normal' as const, data: new Uint8Array(65 * 1024 * 1024) };
    await expect(s.persist(null, [huge])).rejects.toThrow(RangeError);
    expect(s.status().lastIndex).toBe(1);
    await s.close();
    const r = await DiskStorage.open(dir);
    const loaded = await r.load();
    expect(loaded.entries).toHaveLength(1);
    expect(Buffer.from(loaded.entries[0]!.data).equals(Buffer.from(big.data))).toBe(true);
    await r.close();
  });

  test('bad input is refused with RangeError before anything is stored, so it cannot poison the next start', async () => {
    const dir = join(temps.make(), 'n1');
    const s = await DiskStorage.open(dir);
    await s.load();
    await s.persist({ term: 1, vote: null, commit: 0 }, entries(1, 2, 1));
    const bad = [
      s.persist({ term: Number.NaN, vote: null, commit: 0 }, []),
      s.persist(null, [{ index: 3, term: -1, type: 'normal', data: new Uint8Array(0) }]),
      s.persist(null, [{ index: 3, term: 1, type: 'bogus' as 'normal', data: new Uint8Array(0) }]),
      s.persist(null, [{ index: 2.5, term: 1, type: 'normal', data: new Uint8Array(0) }]),
      s.saveSnapshot({ meta: { index: -1, term: 0 }, data: new Uint8Array(0) }),
    ];
    for (const p of bad) await expect(p).rejects.toThrow(RangeError);
    await s.close();
    const r = await DiskStorage.open(dir);
    expect(await r.load()).toEqual({
      hardState: { term: 1, vote: null, commit: 0 },
      entries: entries(1, 2, 1),
      snapshot: { index: 0, term: 0 },
    });
    await r.close();
  });

  test('segmentBytes must be a positive integer', async () => {
    await expect(DiskStorage.open(temps.make(), { segmentBytes: 0 })).rejects.toThrow(RangeError);
  });
});
