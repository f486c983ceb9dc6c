// OrderedMap against a deliberately dumb reference (a Map whose keys are
// sorted on every read), with chunk sizes small enough that random operations
// split and merge chunks all the time. Replay with XRAFT_SEED=<seed>.
import { describe, expect, test } from 'vitest';
import { OrderedMap } from '../src/ordered-map.js';
import { int, pick, type Random, seededRandom, testSeed } from './helpers.js';

const seed = testSeed();

/** refRange: the keys of `ref` that start with `prefix`, sorted, at most `limit`. */
function refRange(ref: Map<string, number>, prefix: string, limit?: number): Array<[string, number]> {
  const keys = [...ref.keys()].filter((k) => k.startsWith(prefix)).sort();
  return keys.slice(0, limit ?? keys.length).map((k) => [k, ref.get(k)!]);
}

const ALPHABET = ['a', 'b', 'c', 'é', '😀', '\uffff'];
function key(random: Random): string {
  let k = '';
  for (let n = int(random, 4); n > 0; n--) k += pick(random, ALPHABET);
  return k;
}

describe(`OrderedMap against a sorted reference (seed ${seed}; replay with XRAFT_SEED=${seed})`, () => {
  test.each([2, 3, 8, 512])('random set/delete/range with chunk load %i', (load) => {
    const random = seededRandom(seed + load);
    const map = new OrderedMap<number>(load);
    const ref = new Map<string, number>();
    for (let step = 0; step < 4000; step++) {
      const k = key(random);
      const r = random();
      if (r < 0.5) {
        map.set(k, step);
        ref.set(k, step);
      } else if (r < 0.85) {
        expect(map.delete(k), `step ${step}: delete ${k}`).toBe(ref.delete(k));
      } else {
        const limit = random() < 0.5 ? undefined : int(random, 5);
        const prefix = key(random).slice(0, 2);
        expect([...map.range(prefix, limit)], `step ${step}: range(${prefix}, ${limit})`).toEqual(
          refRange(ref, prefix, limit),
        );
      }
      expect(map.size).toBe(ref.size);
      expect(map.get(k)).toBe(ref.get(k));
    }
    expect([...map.entries()]).toEqual(refRange(ref, ''));
  });

  test('keys order by UTF-16 code units, as Array.prototype.sort does', () => {
    const keys = ['b', 'a', 'ab', '', 'é', '😀', '\uffff', 'A', 'a\u0000'];
    const map = new OrderedMap<boolean>(2);
    for (const k of keys) map.set(k, true);
    expect([...map.entries()].map(([k]) => k)).toEqual([...keys].sort());
  });

  test('loadSorted builds the map in one pass and refuses keys out of order', () => {
    const map = new OrderedMap<number>(4);
    const entries: Array<[string, number]> = Array.from({ length: 50 }, (_, i) => [
      `k${String(i).padStart(3, '0')}`,
      i,
    ]);
    map.loadSorted(entries);
    expect([...map.range('k01')]).toEqual(entries.slice(10, 20));
    map.set('k0105', -1); // still a working index after a bulk load
    expect([...map.range('k010', 2)]).toEqual([
      ['k010', 10],
      ['k0105', -1],
    ]);
    expect(() =>
      map.loadSorted([
        ['b', 1],
        ['a', 2],
      ]),
    ).toThrow(/keys out of order: "a" after "b"/);
    expect(() =>
      map.loadSorted([
        ['a', 1],
        ['a', 2],
      ]),
    ).toThrow(RangeError);
    expect(map.size).toBe(0);
  });

  test('range with limit 0 yields nothing; an empty map yields nothing', () => {
    const map = new OrderedMap<number>();
    expect([...map.range('')]).toEqual([]);
    map.set('a', 1);
    expect([...map.range('', 0)]).toEqual([]);
    expect([...map.range('b')]).toEqual([]);
  });
});
