import type { Entry } from '@xraft/core';
import { describe, expect, test } from 'vitest';
import { Disk, type DurableWrite } from '../src/disk.js';
import { Rng } from '../src/rng.js';
import { Scheduler } from '../src/scheduler.js';
import { entry } from './fixtures.js';

function setup(fsyncMs: readonly [number, number] = [1, 10]) {
  const scheduler = new Scheduler();
  const writes: DurableWrite[] = [];
  const disk = new Disk('n1', scheduler, new Rng(3), { fsyncMs, stallRate: 0, stallMs: [0, 0] }, (w) =>
    writes.push(w),
  );
  return { scheduler, disk, writes };
}

describe('Disk', () => {
  test('writes become durable after an fsync delay, in the order issued', () => {
    const { scheduler, disk } = setup([1, 50]);
    const done: number[] = [];
    for (let i = 1; i <= 20; i++) disk.write(null, [entry(i, 1)], () => done.push(i));
    expect(disk.lastIndex()).toBe(0);
    expect(disk.pendingWrites()).toBe(20);
    scheduler.runUntil(10_000);
    expect(done).toEqual(Array.from({ length: 20 }, (_, i) => i + 1));
    expect(disk.lastIndex()).toBe(20);
    expect(scheduler.now).toBeGreaterThan(1);
  });

  test('a write with nothing to persist completes at once when the queue is empty, else behind it', () => {
    const { scheduler, disk } = setup();
    const done: string[] = [];
    disk.write(null, [], () => done.push('empty-now'));
    expect(done).toEqual(['empty-now']);
    disk.write({ term: 1, vote: 'n1', commit: 0 }, [], () => done.push('vote'));
    disk.write(null, [], () => done.push('empty-behind'));
    expect(done).toEqual(['empty-now']);
    scheduler.runUntil(100);
    expect(done).toEqual(['empty-now', 'vote', 'empty-behind']);
    expect(disk.hardState).toEqual({ term: 1, vote: 'n1', commit: 0 });
  });

  test('a batch overwrites the suffix from its first index (truncation) and reports it', () => {
    const { scheduler, disk, writes } = setup();
    const old: Entry[] = [entry(1, 1), entry(2, 1), entry(3, 1)];
    disk.write({ term: 1, vote: null, commit: 0 }, old, () => {});
    const fresh = [entry(2, 2)];
    disk.write({ term: 2, vote: null, commit: 1 }, fresh, () => {});
    scheduler.runUntil(100);
    expect(disk.persisted().entries).toEqual([old[0], fresh[0]]);
    expect(writes[1]!.overwritten).toEqual([old[1], old[2]]);
    expect(writes[1]!.previous).toEqual({ term: 1, vote: null, commit: 0 });
  });

  test('a crash loses every write not yet durable, and nothing that is', () => {
    const { scheduler, disk } = setup([10, 10]);
    const done: number[] = [];
    disk.write({ term: 1, vote: 'n1', commit: 0 }, [entry(1, 1)], () => done.push(1));
    scheduler.runUntil(10);
    disk.write(null, [entry(2, 1), entry(3, 1)], () => done.push(2));
    disk.write({ term: 2, vote: 'n2', commit: 1 }, [], () => done.push(3));
    expect(disk.crash()).toEqual({ lostWrites: 2, lostEntries: 2 });
    scheduler.runUntil(1000);
    expect(done).toEqual([1]);
    expect(disk.persisted()).toEqual({
      hardState: { term: 1, vote: 'n1', commit: 0 },
      entries: [expect.objectContaining({ index: 1 })],
      applied: 0,
    });
  });

  test('a batch that would leave a hole is refused loudly', () => {
    const { scheduler, disk } = setup();
    disk.write(null, [entry(3, 1)], () => {});
    expect(() => scheduler.runUntil(100)).toThrow(/a hole/);
  });

  test('a snapshot is stored, then the log compacted up to it (§7); a restart reads both back', () => {
    const { scheduler, disk, writes } = setup();
    const log = [entry(1, 1), entry(2, 1), entry(3, 2), entry(4, 2)];
    disk.write({ term: 2, vote: null, commit: 4 }, log, () => {});
    const save = { meta: { index: 3, term: 2 }, data: new Uint8Array([7]) };
    disk.write(null, [], () => {}, { save, compactTo: 2 });
    expect(disk.snapshot).toBeNull();
    scheduler.runUntil(100);
    expect(writes[1]!.snapshot).toBe(save);
    expect([disk.entry(2), disk.entry(3), disk.lastIndex()]).toEqual([undefined, log[2], 4]);
    expect(disk.persisted()).toEqual({
      hardState: { term: 2, vote: null, commit: 4 },
      entries: [log[2], log[3]],
      applied: 3,
      snapshot: { index: 2, term: 1 },
      latestSnapshot: save,
    });
    // Never past the snapshot, never behind the compaction point.
    disk.write(null, [], () => {}, { compactTo: 4 });
    scheduler.runUntil(200);
    expect(disk.persisted().snapshot).toEqual({ index: 3, term: 2 });
    disk.write(null, [entry(3, 3)], () => {});
    expect(() => scheduler.runUntil(300)).toThrow(/compacted up to 3/);
  });

  test('an installed snapshot keeps the entries after it only if the log holds its last entry (§7)', () => {
    const { scheduler, disk } = setup();
    const log = [entry(1, 1), entry(2, 1), entry(3, 1)];
    disk.write({ term: 1, vote: null, commit: 0 }, log, () => {});
    const matching = { meta: { index: 2, term: 1 }, data: new Uint8Array() };
    disk.write({ term: 1, vote: null, commit: 2 }, [], () => {}, { install: matching });
    scheduler.runUntil(100);
    expect(disk.persisted()).toMatchObject({ entries: [log[2]], snapshot: { index: 2, term: 1 } });
    const conflicting = { meta: { index: 5, term: 3 }, data: new Uint8Array() };
    disk.write({ term: 3, vote: null, commit: 5 }, [entry(6, 3)], () => {}, { install: conflicting });
    scheduler.runUntil(200);
    expect(disk.persisted()).toMatchObject({
      entries: [expect.objectContaining({ index: 6 })],
      snapshot: { index: 5, term: 3 },
      latestSnapshot: conflicting,
    });
    expect(disk.lastIndex()).toBe(6);
  });

  test('a crash loses a snapshot write not yet durable', () => {
    const { scheduler, disk } = setup([10, 10]);
    disk.write({ term: 1, vote: null, commit: 1 }, [entry(1, 1)], () => {});
    disk.write(null, [], () => {}, { save: { meta: { index: 1, term: 1 }, data: new Uint8Array() } });
    expect(disk.crash()).toEqual({ lostWrites: 2, lostEntries: 1 });
    scheduler.runUntil(1000);
    expect(disk.snapshot).toBeNull();
    expect(disk.lastIndex()).toBe(0);
  });

  test('completions are deferred while the process is paused, keeping their order', () => {
    const { scheduler, disk } = setup([1, 1]);
    const done: number[] = [];
    scheduler.pause('n1', 50);
    disk.write(null, [entry(1, 1)], () => done.push(scheduler.now));
    disk.write(null, [entry(2, 1)], () => done.push(scheduler.now));
    scheduler.runUntil(100);
    expect(done).toEqual([50, 50]);
    expect(disk.lastIndex()).toBe(2);
  });
});
