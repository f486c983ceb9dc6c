import { type Random, seededRandom } from '@xraft/core';

/**
 * mixSeed derives an independent 32-bit seed from a seed and some salts
 * (murmur3's finalizer over each word). Each concern of a run (network, disk,
 * faults, workload, each node's election timeouts) draws from its own stream,
 * so a change in one does not reshuffle the others.
 */
export function mixSeed(seed: number, ...salts: number[]): number {
  let h = (seed ^ 0x5bd1e995) >>> 0;
  for (const s of [...salts, salts.length]) {
    h = Math.imul(h ^ (s >>> 0), 0xcc9e2d51);
    h = (h << 15) | (h >>> 17);
    h = Math.imul(h, 0x1b873593);
    h ^= h >>> 16;
    h = Math.imul(h, 0x85ebca6b);
    h ^= h >>> 13;
    h = Math.imul(h, 0xc2b2ae35);
    h ^= h >>> 16;
  }
  return h >>> 0;
}

/** Rng is a seeded random stream (the core's `seededRandom`) with the draws a simulation needs. */
export class Rng {
  /** The underlying stream, in [0, 1). */
  readonly next: Random;

  constructor(seed: number) {
    this.next = seededRandom(seed);
  }

  /** float draws uniformly from [min, max). */
  float(min: number, max: number): number {
    return min + this.next() * (max - min);
  }

  /** int draws uniformly from the integers in [min, max]. */
  int(min: number, max: number): number {
    return min + Math.floor(this.next() * (max - min + 1));
  }

  /** chance is true with probability `p`. */
  chance(p: number): boolean {
    return p > 0 && this.next() < p;
  }

  /** pick draws one element; the array must not be empty. */
  pick<T>(items: readonly T[]): T {
    if (items.length === 0) throw new RangeError('pick from an empty list');
    return items[Math.floor(this.next() * items.length)]!;
  }

  /** exp draws an exponentially distributed interval with the given mean (a Poisson process). */
  exp(mean: number): number {
    return -Math.log(1 - this.next()) * mean;
  }

  /** weighted draws a key with probability proportional to its weight; weights must not all be zero. */
  weighted<K extends string>(weights: Readonly<Record<K, number>>): K {
    let total = 0;
    for (const k in weights) total += weights[k];
    let x = this.next() * total;
    let last: K | undefined;
    for (const k in weights) {
      if (weights[k] <= 0) continue;
      last = k;
      x -= weights[k];
      if (x < 0) return k;
    }
    if (last === undefined) throw new RangeError('weighted draw with no positive weight');
    return last;
  }

  /** shuffle returns a shuffled copy (Fisher–Yates). */
  shuffle<T>(items: readonly T[]): T[] {
    const out = items.slice();
    for (let i = out.length - 1; i > 0; i--) {
      const j = Math.floor(this.next() * (i + 1));
      const t = out[i]!;
      out[i] = out[j]!;
      out[j] = t;
    }
    return out;
  }
}
