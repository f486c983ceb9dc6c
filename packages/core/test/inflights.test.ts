// Inflights (inflights.ts): the window of AppendEntries in flight to one
// follower, bounded by count and by bytes; checked against a plain array.
import { describe, expect, test } from 'vitest';
import { Inflights, seededRandom } from '../src/index.js';
import { testSeed } from './harness.js';

describe('§10.2.2 Inflights', () => {
  test('it is full at maxMessages messages', () => {
    const f = new Inflights(3, 1000);
    f.add(1, 1);
    f.add(2, 1);
    expect(f.full()).toBe(false);
    f.add(3, 1);
    expect(f.full()).toBe(true);
    expect(f.count()).toBe(3);
  });

  test('it is full once maxBytes are in flight', () => {
    const f = new Inflights(100, 100);
    f.add(1, 60);
    expect(f.full()).toBe(false);
    f.add(2, 40);
    expect(f.full()).toBe(true);
    expect(f.bytes).toBe(100);
  });

  test('freeLE frees every message up to an acknowledged index, and no further', () => {
    const f = new Inflights(10, 1000);
    for (const [last, size] of [
      [3, 10],
      [5, 20],
      [9, 30],
    ] as const)
      f.add(last, size);
    f.freeLE(4);
    expect([f.count(), f.bytes]).toEqual([2, 50]);
    f.freeLE(5);
    expect([f.count(), f.bytes]).toEqual([1, 30]);
    f.freeLE(2); // old news
    expect([f.count(), f.bytes]).toEqual([1, 30]);
    f.freeLE(100);
    expect([f.count(), f.bytes]).toEqual([0, 0]);
  });

  test('freeFirstOne frees the oldest message only; reset frees all', () => {
    const f = new Inflights(2, 1000);
    f.add(3, 10);
    f.add(5, 20);
    f.freeFirstOne();
    expect([f.count(), f.bytes, f.full()]).toEqual([1, 20, false]);
    f.freeFirstOne();
    f.freeFirstOne(); // on an empty window: nothing
    expect([f.count(), f.bytes]).toEqual([0, 0]);
    f.add(7, 5);
    f.reset();
    expect([f.count(), f.bytes]).toEqual([0, 0]);
  });

  const seed = testSeed();
  test(`a long random run agrees with a plain array (seed ${seed}; XRAFT_SEED=${seed})`, () => {
    const random = seededRandom(seed);
    const f = new Inflights(5000, 1 << 30);
    let ref: { last: number; size: number }[] = [];
    let last = 0;
    for (let step = 0; step < 20_000; step++) {
      const r = random();
      // Acknowledgements lag the sends, so the window rarely empties and the queue's compaction runs.
      if (r < 0.5) {
        last += 1 + Math.floor(random() * 3);
        const size = Math.floor(random() * 100);
        f.add(last, size);
        ref.push({ last, size });
      } else if (r < 0.9) {
        const upTo = last - 5 - Math.floor(random() * 40);
        f.freeLE(upTo);
        ref = ref.filter((m) => m.last > upTo);
      } else if (r < 0.999) {
        f.freeFirstOne();
        ref.shift();
      } else {
        f.reset();
        ref = [];
      }
      const bytes = ref.reduce((sum, m) => sum + m.size, 0);
      expect([f.count(), f.bytes], `seed ${seed} step ${step}`).toEqual([ref.length, bytes]);
    }
  });
});
