import { EMPTY_HARD_STATE, type HardState } from '@xraft/core';
import type { Snapshot, Storage } from '@xraft/storage';
import { afterEach, beforeEach, describe, expect, test } from 'vitest';
import { entries, entry } from './helpers.js';

/**
 * StorageHarness is one Storage under test, already loaded, and the ways a
 * restarting server would find it again.
 */
export interface StorageHarness {
  readonly storage: Storage;
  /**
   * reopen closes `storage` and returns what a restarted server opens and
   * loads: for DiskStorage a fresh instance on the same directory; for
   * MemoryStorage the same instance (load() again).
   */
  reopen(): Promise<Storage>;
  /**
   * crashReopen returns what a server restarted right now would load,
   * without closing `storage` first (nothing is flushed on the way out): only
   * writes whose promises resolved may be counted on.
   */
  crashReopen(): Promise<Storage>;
  /** cleanup closes everything the harness opened and removes its files. */
  cleanup(): Promise<void>;
}

/** StorageFactory makes a fresh, empty, loaded harness for each test. */
export type StorageFactory = () => Promise<StorageHarness>;

const hs = (term: number, vote: string | null, commit: number): HardState => ({ term, vote, commit });
/** expectSnapshot compares snapshots; large data byte-wise, since toEqual walks arrays slowly. */
function expectSnapshot(actual: Snapshot | null, expected: Snapshot): void {
  expect(actual?.meta).toEqual(expected.meta);
  expect(actual !== null && Buffer.from(actual.data).equals(Buffer.from(expected.data))).toBe(true);
}

const snap = (index: number, term: number, size = 64): Snapshot => {
  const data = new Uint8Array(size);
  for (let i = 0; i < size; i++) data[i] = (index * 7 + i) & 0xff;
  return { meta: { index, term }, data };
};

/**
 * runStorageConformance is the suite every Storage passes (the Storage
 * contract in src/storage.ts): MemoryStorage and DiskStorage alike.
 */
export function runStorageConformance(name: string, factory: StorageFactory): void {
  describe(`Storage conformance: ${name}`, () => {
    let h: StorageHarness;
    let s: Storage;
    beforeEach(async () => {
      h = await factory();
      s = h.storage;
    });
    afterEach(async () => {
      await h.cleanup();
    });

    test('an empty storage loads as a server that never ran', async () => {
      expect(await s.load()).toEqual({
        hardState: EMPTY_HARD_STATE,
        entries: [],
        snapshot: { index: 0, term: 0 },
      });
      expect(await s.loadSnapshot()).toBeNull();
      const again = await h.reopen();
      expect((await again.load()).entries).toEqual([]);
    });

    test('entries and hard state persisted come back after a restart', async () => {
      await s.persist(hs(1, 'n1', 0), entries(1, 3, 1));
      await s.persist(hs(2, 'n2', 2), [entry(4, 2, 'noop'), entry(5, 2, 'normal', 10_000)]);
      await s.persist(hs(2, null, 5), []);
      const expected = {
        hardState: hs(2, null, 5),
        entries: [...entries(1, 3, 1), entry(4, 2, 'noop'), entry(5, 2, 'normal', 10_000)],
        snapshot: { index: 0, term: 0 },
      };
      expect(await s.load()).toEqual(expected);
      const r = await h.reopen();
      expect(await r.load()).toEqual(expected);
    });

    test('votes survive as written, including non-ASCII ids; a hard state alone needs no entries', async () => {
      await s.persist(hs(3, 'nœud-✓', 0), []);
      const r = await h.reopen();
      expect((await r.load()).hardState).toEqual(hs(3, 'nœud-✓', 0));
    });

    test('a persist starting earlier cuts the conflicting suffix first (§5.3)', async () => {
      await s.persist(hs(1, 'n1', 0), entries(1, 6, 1));
      await s.persist(hs(2, 'n2', 2), entries(3, 4, 2));
      const want = [...entries(1, 2, 1), ...entries(3, 4, 2)];
      expect((await s.load()).entries).toEqual(want);
      expect(await s.entries(1, 5)).toEqual(want);
      await expect(s.entries(5, 6)).rejects.toThrow(RangeError);
      const r = await h.reopen();
      expect((await r.load()).entries).toEqual(want);
      // Cutting back to the very first entry, and then growing again.
      await r.persist(null, entries(1, 1, 3));
      await r.persist(null, entries(2, 3, 3));
      const r2 = await h.reopen();
      expect((await r2.load()).entries).toEqual(entries(1, 3, 3));
    });

    test('writes resolve in call order and are all durable when the last one resolves', async () => {
      const order: string[] = [];
      const a = s.persist(hs(1, 'n1', 0), entries(1, 3, 1)).then(() => order.push('a'));
      const b = s.persist(null, entries(4, 6, 1)).then(() => order.push('b'));
      const c = s.persist(hs(1, 'n1', 6), []).then(() => order.push('c'));
      await c;
      expect(order).toEqual(['a', 'b', 'c']);
      await Promise.all([a, b]);
      const r = await h.crashReopen();
      expect(await r.load()).toEqual({
        hardState: hs(1, 'n1', 6),
        entries: entries(1, 6, 1),
        snapshot: { index: 0, term: 0 },
      });
    });

    test('many concurrent persists (group commit) all land, in order', async () => {
      const writes: Promise<unknown>[] = [];
      const resolved: number[] = [];
      for (let k = 0; k < 200; k++) {
        const from = k * 5 + 1;
        const term = 1 + Math.floor(k / 50);
        writes.push(
          s.persist(hs(term, null, from - 1), entries(from, from + 4, term)).then(() => resolved.push(k)),
        );
      }
      // A conflicting rewrite queued behind them: it must win, being later.
      writes.push(s.persist(hs(9, 'n3', 990), entries(996, 1000, 9)).then(() => resolved.push(200)));
      await Promise.all(writes);
      expect(resolved).toEqual(Array.from({ length: 201 }, (_, k) => k));
      const want = [];
      for (let k = 0; k < 199; k++) want.push(...entries(k * 5 + 1, k * 5 + 5, 1 + Math.floor(k / 50)));
      want.push(...entries(996, 1000, 9));
      const r = await h.crashReopen();
      const loaded = await r.load();
      expect(loaded.hardState).toEqual(hs(9, 'n3', 990));
      expect(loaded.entries).toEqual(want);
    });

    test('an empty persist resolves, after the writes before it', async () => {
      let first = false;
      const a = s.persist(null, entries(1, 2, 1)).then(() => {
        first = true;
      });
      await s.persist(null, []);
      expect(first).toBe(true);
      await a;
    });

    test('entries(lo, hi) reads [lo, hi) and throws RangeError outside the stored log', async () => {
      await s.persist(null, entries(1, 10, 1));
      expect(await s.entries(1, 11)).toEqual(entries(1, 10, 1));
      expect(await s.entries(3, 6)).toEqual(entries(3, 5, 1));
      expect(await s.entries(4, 4)).toEqual([]);
      expect(await s.entries(11, 11)).toEqual([]);
      await expect(s.entries(0, 2)).rejects.toThrow(RangeError);
      await expect(s.entries(5, 12)).rejects.toThrow(RangeError);
      await expect(s.entries(6, 5)).rejects.toThrow(RangeError);
    });

    test('persist refuses a gap, a non-contiguous batch and a compacted index with RangeError, storing nothing', async () => {
      await s.persist(hs(1, null, 0), entries(1, 5, 1));
      await expect(s.persist(hs(5, null, 0), entries(7, 8, 1))).rejects.toThrow(RangeError);
      await expect(s.persist(null, [entry(6, 1), entry(8, 1)])).rejects.toThrow(RangeError);
      await s.saveSnapshot(snap(3, 1));
      await s.compact(3);
      await expect(s.persist(null, entries(2, 4, 2))).rejects.toThrow(RangeError);
      const r = await h.reopen();
      const loaded = await r.load();
      expect(loaded.hardState).toEqual(hs(1, null, 0));
      expect(loaded.entries).toEqual(entries(4, 5, 1));
    });

    test('a snapshot is saved, loaded, replaced by a newer one, and survives a restart; an older one is ignored', async () => {
      await s.persist(null, entries(1, 20, 1));
      const s5 = snap(5, 1);
      await s.saveSnapshot(s5);
      expectSnapshot(await s.loadSnapshot(), s5);
      const s10 = snap(10, 1, 200_000);
      await s.saveSnapshot(s10);
      expectSnapshot(await s.loadSnapshot(), s10);
      await s.saveSnapshot(snap(7, 1));
      expectSnapshot(await s.loadSnapshot(), s10);
      const r = await h.reopen();
      await r.load();
      expectSnapshot(await r.loadSnapshot(), s10);
      // Saving a snapshot compacts nothing by itself.
      expect((await r.load()).entries).toEqual(entries(1, 20, 1));
    });

    test('an empty snapshot is a snapshot', async () => {
      await s.persist(null, entries(1, 2, 1));
      await s.saveSnapshot({ meta: { index: 2, term: 1 }, data: new Uint8Array(0) });
      const r = await h.reopen();
      await r.load();
      expect(await r.loadSnapshot()).toEqual({ meta: { index: 2, term: 1 }, data: new Uint8Array(0) });
    });

    test('compact keeps the later entries; after a restart the log starts after the snapshot point (§7)', async () => {
      await s.persist(hs(2, 'n1', 8), [...entries(1, 4, 1), ...entries(5, 10, 2)]);
      await expect(s.compact(6)).rejects.toThrow(RangeError); // no snapshot covers it yet
      await s.saveSnapshot(snap(6, 2));
      await s.compact(4); // behind the snapshot: allowed, the term comes from the log
      expect((await s.load()).snapshot).toEqual({ index: 4, term: 1 });
      await s.compact(6);
      await s.compact(5); // already compacted: nothing to do
      expect(await s.entries(7, 11)).toEqual(entries(7, 10, 2));
      await expect(s.entries(6, 8)).rejects.toThrow(RangeError);
      const want = { hardState: hs(2, 'n1', 8), entries: entries(7, 10, 2), snapshot: { index: 6, term: 2 } };
      expect(await s.load()).toEqual(want);
      const r = await h.reopen();
      expect(await r.load()).toEqual(want);
      expect((await r.loadSnapshot())?.meta).toEqual({ index: 6, term: 2 });
      // The log goes on after a compaction, and a conflict can still cut it.
      await r.persist(hs(3, 'n2', 9), entries(9, 12, 3));
      const r2 = await h.reopen();
      expect(await r2.load()).toEqual({
        hardState: hs(3, 'n2', 9),
        entries: [...entries(7, 8, 2), ...entries(9, 12, 3)],
        snapshot: { index: 6, term: 2 },
      });
    });

    test('compacting to a snapshot past the end of the log (one installed from the leader) empties the log', async () => {
      await s.persist(hs(1, null, 0), entries(1, 3, 1));
      await s.saveSnapshot(snap(50, 4));
      await expect(s.compact(40)).rejects.toThrow(RangeError); // entry 40 is neither stored nor the snapshot's
      await s.compact(50);
      expect(await s.load()).toEqual({
        hardState: hs(1, null, 0),
        entries: [],
        snapshot: { index: 50, term: 4 },
      });
      await expect(s.persist(null, entries(50, 51, 4))).rejects.toThrow(RangeError);
      await s.persist(hs(4, null, 50), entries(51, 52, 4));
      const r = await h.reopen();
      expect(await r.load()).toEqual({
        hardState: hs(4, null, 50),
        entries: entries(51, 52, 4),
        snapshot: { index: 50, term: 4 },
      });
    });

    test('repeated compactions with writes in between keep exactly the uncompacted log', async () => {
      let last = 0;
      for (let round = 1; round <= 6; round++) {
        await s.persist(hs(round, null, last), entries(last + 1, last + 40, round));
        last += 40;
        const at = last - 15;
        await s.saveSnapshot(snap(at, round));
        await s.compact(at);
      }
      const r = await h.reopen();
      expect(await r.load()).toEqual({
        hardState: hs(6, null, 200),
        entries: entries(226, 240, 6),
        snapshot: { index: 225, term: 6 },
      });
    });

    describe('installSnapshot (§7)', () => {
      /** expectInstalled checks load(), loadSnapshot() and entries() agree on an installed snapshot, before and after a restart. */
      async function expectInstalled(
        storage: Storage,
        want: { hardState: HardState; entries: ReturnType<typeof entries>; snapshot: Snapshot },
      ): Promise<void> {
        const { index, term } = want.snapshot.meta;
        const check = async (st: Storage) => {
          expect(await st.load()).toEqual({
            hardState: want.hardState,
            entries: want.entries,
            snapshot: { index, term },
          });
          expectSnapshot(await st.loadSnapshot(), want.snapshot);
          const last = index + want.entries.length;
          expect(await st.entries(index + 1, last + 1)).toEqual(want.entries);
          await expect(st.entries(index, last + 1)).rejects.toThrow(RangeError); // compacted
          await expect(st.entries(index + 1, last + 2)).rejects.toThrow(RangeError); // past the end
        };
        await check(storage);
        s = await h.reopen();
        await check(s);
      }

      test('on an empty log: the snapshot is the state, the log empty', async () => {
        const s9 = snap(9, 3);
        await s.installSnapshot(s9);
        await expectInstalled(s, { hardState: EMPTY_HARD_STATE, entries: [], snapshot: s9 });
      });

      test('whose (index, term) matches a stored entry keeps the entries after it', async () => {
        await s.persist(hs(2, 'n1', 4), [...entries(1, 10, 1), ...entries(11, 20, 2)]);
        const s15 = snap(15, 2);
        await s.installSnapshot(s15);
        await expectInstalled(s, { hardState: hs(2, 'n1', 4), entries: entries(16, 20, 2), snapshot: s15 });
      });

      test('whose term differs from the stored entry at its index discards every entry', async () => {
        await s.persist(hs(2, 'n1', 4), [...entries(1, 10, 1), ...entries(11, 20, 2)]);
        const s15 = snap(15, 3);
        await s.installSnapshot(s15);
        await expectInstalled(s, { hardState: hs(2, 'n1', 4), entries: [], snapshot: s15 });
      });

      test('beyond the last stored entry discards every entry', async () => {
        await s.persist(hs(1, null, 2), entries(1, 5, 1));
        await s.saveSnapshot(snap(3, 1));
        await s.compact(3);
        const s50 = snap(50, 4, 100_000);
        await s.installSnapshot(s50);
        await expectInstalled(s, { hardState: hs(1, null, 2), entries: [], snapshot: s50 });
      });

      test('at its last entry: the log keeps nothing and still matches', async () => {
        await s.persist(null, entries(1, 6, 2));
        const s6 = snap(6, 2);
        await s.installSnapshot(s6);
        await expectInstalled(s, { hardState: EMPTY_HARD_STATE, entries: [], snapshot: s6 });
      });

      test('a snapshot at or before the stored one is ignored, and changes nothing', async () => {
        await s.persist(hs(3, 'n2', 8), entries(1, 30, 3));
        const s20 = snap(20, 3);
        await s.saveSnapshot(s20);
        await s.installSnapshot(snap(15, 3));
        await s.installSnapshot(snap(20, 4)); // the same index: ignored too, its term notwithstanding
        expectSnapshot(await s.loadSnapshot(), s20);
        expect(await s.load()).toEqual({
          hardState: hs(3, 'n2', 8),
          entries: entries(1, 30, 3),
          snapshot: { index: 0, term: 0 },
        });
        const s25 = snap(25, 3);
        await s.installSnapshot(s25);
        await s.installSnapshot(snap(24, 3));
        await s.saveSnapshot(snap(22, 3)); // older than the installed one: ignored as well
        await expectInstalled(s, { hardState: hs(3, 'n2', 8), entries: entries(26, 30, 3), snapshot: s25 });
      });

      test('a persist after it must start at index + 1: earlier is compacted, later leaves a gap', async () => {
        await s.persist(hs(1, null, 0), entries(1, 5, 1));
        await s.installSnapshot(snap(40, 2));
        await expect(s.persist(null, entries(40, 41, 2))).rejects.toThrow(RangeError);
        await expect(s.persist(null, entries(5, 6, 2))).rejects.toThrow(RangeError);
        await expect(s.persist(null, entries(42, 43, 2))).rejects.toThrow(RangeError);
        await s.persist(hs(2, 'n3', 40), entries(41, 43, 2));
        await expectInstalled(s, {
          hardState: hs(2, 'n3', 40),
          entries: entries(41, 43, 2),
          snapshot: snap(40, 2),
        });
        // And the log goes on: a conflict cuts the kept suffix as usual (§5.3).
        await s.persist(null, entries(42, 44, 3));
        await expect((await h.reopen()).load()).resolves.toMatchObject({
          entries: [...entries(41, 41, 2), ...entries(42, 44, 3)],
        });
      });

      test('a persist right after it, not awaited, lands after it; kept entries can be overwritten', async () => {
        await s.persist(null, entries(1, 20, 1));
        const order: string[] = [];
        const a = s.installSnapshot(snap(10, 1)).then(() => order.push('install'));
        const b = s.persist(hs(2, null, 10), entries(15, 16, 2)).then(() => order.push('persist'));
        await Promise.all([a, b]);
        expect(order).toEqual(['install', 'persist']);
        const r = await h.crashReopen();
        expect(await r.load()).toEqual({
          hardState: hs(2, null, 10),
          entries: [...entries(11, 14, 1), ...entries(15, 16, 2)],
          snapshot: { index: 10, term: 1 },
        });
      });

      test('leaves the hard state as it was', async () => {
        await s.persist(hs(7, 'nœud-✓', 12), entries(1, 12, 7));
        await s.installSnapshot(snap(30, 8));
        expect((await s.load()).hardState).toEqual(hs(7, 'nœud-✓', 12));
        expect((await h.reopen().then((r) => r.load())).hardState).toEqual(hs(7, 'nœud-✓', 12));
      });

      test('applies in call order with persist, saveSnapshot and compact, none awaited', async () => {
        const order: string[] = [];
        const track = (name: string, p: Promise<void>) => p.then(() => order.push(name));
        const calls = [
          track('persist 1..10', s.persist(hs(1, null, 0), entries(1, 10, 1))),
          track('save 5', s.saveSnapshot(snap(5, 1))),
          track('compact 5', s.compact(5)),
          track('install 20', s.installSnapshot(snap(20, 2))),
          track('persist 21..30', s.persist(hs(2, 'n1', 20), entries(21, 30, 2))),
          track('install 18', s.installSnapshot(snap(18, 2))), // older: ignored
          track('save 25', s.saveSnapshot(snap(25, 2))),
          track('compact 25', s.compact(25)), // covered by the save called just before
          track('install 28', s.installSnapshot(snap(28, 2))), // matches entry 28: keeps 29..30
          track('persist 31', s.persist(null, entries(31, 31, 2))),
        ];
        // What the calls did is visible at once, before any of them is durable.
        expect((await s.load()).snapshot).toEqual({ index: 28, term: 2 });
        expect(await s.entries(29, 32)).toEqual(entries(29, 31, 2));
        await Promise.all(calls);
        // Writes of the log resolve in call order (snapshot saves may finish sooner: they write their own files).
        const log = order.filter((n) => !n.startsWith('save'));
        expect(log).toEqual([
          'persist 1..10',
          'compact 5',
          'install 20',
          'persist 21..30',
          'install 18',
          'compact 25',
          'install 28',
          'persist 31',
        ]);
        await expectInstalled(s, {
          hardState: hs(2, 'n1', 20),
          entries: entries(29, 31, 2),
          snapshot: snap(28, 2),
        });
      });

      test('a snapshot saved just before, not awaited, makes a later install of an older one a no-op', async () => {
        await s.persist(null, entries(1, 40, 1));
        const saved = s.saveSnapshot(snap(30, 1));
        const installed = s.installSnapshot(snap(25, 5));
        await Promise.all([saved, installed]);
        expectSnapshot(await s.loadSnapshot(), snap(30, 1));
        expect((await s.load()).entries).toEqual(entries(1, 40, 1));
      });

      test('a crash right after it resolves finds it (it is durable)', async () => {
        await s.persist(hs(1, null, 0), entries(1, 8, 1));
        await s.installSnapshot(snap(100, 3, 5000));
        const r = await h.crashReopen();
        expect(await r.load()).toEqual({
          hardState: hs(1, null, 0),
          entries: [],
          snapshot: { index: 100, term: 3 },
        });
        expectSnapshot(await r.loadSnapshot(), snap(100, 3, 5000));
      });

      test('repeated installs with persists in between keep exactly the last one and the log after it', async () => {
        let last = 0;
        for (let round = 1; round <= 5; round++) {
          await s.persist(hs(round, null, last), entries(last + 1, last + 30, round));
          last += 30;
          // Alternately: a snapshot matching the log (suffix kept), and one from a newer term past its end.
          if (round % 2 === 1) await s.installSnapshot(snap(last - 10, round));
          else {
            last += 7;
            await s.installSnapshot(snap(last, round + 1));
          }
        }
        await expectInstalled(s, {
          hardState: hs(5, null, 134),
          entries: entries(155, 164, 5),
          snapshot: snap(154, 5),
        });
      });

      test('refuses an index or term that is not a non-negative integer with RangeError', async () => {
        await expect(
          s.installSnapshot({ meta: { index: -1, term: 1 }, data: new Uint8Array(0) }),
        ).rejects.toThrow(RangeError);
        await expect(
          s.installSnapshot({ meta: { index: 3, term: 1.5 }, data: new Uint8Array(0) }),
        ).rejects.toThrow(RangeError);
        expect(await s.loadSnapshot()).toBeNull();
      });
    });

    test('after close every call rejects', async () => {
      await s.persist(null, entries(1, 1, 1));
      await s.close();
      await expect(s.persist(null, entries(2, 2, 1))).rejects.toThrow(/closed/);
      await expect(s.entries(1, 2)).rejects.toThrow(/closed/);
      await expect(s.installSnapshot(snap(5, 1))).rejects.toThrow(/closed/);
      await expect(s.load()).rejects.toThrow(/closed/);
      await s.close(); // closing twice is harmless
    });
  });
}
