import { describe, expect, test } from 'vitest';
import {
  checkHistory,
  kvModel,
  type Operation,
  type RegisterInput,
  type RegisterOutput,
  registerModel,
} from '../src/index.js';
import { get, ok, put, read, seededRandom, simulateKv, testSeed, write } from './support.js';

/**
 * adversarial is Wing and Gong's worst case: `n` concurrent writes of
 * distinct values, then a read of a value never written. Refuting it means
 * trying every subset of the writes with every last writer: n·2^(n-1)
 * configurations, far beyond any budget for n = 40.
 */
function adversarial(n: number): Operation<RegisterInput, RegisterOutput>[] {
  const ops: Operation<RegisterInput, RegisterOutput>[] = [];
  for (let k = 0; k < n; k++) ops.push(ok(k, write(k), undefined, 0, 100));
  ops.push(ok(n, read(), -1, 200, 300));
  return ops;
}

describe('the time budget', () => {
  test('a huge adversarial history with a tiny budget comes back unknown, promptly', () => {
    const t0 = performance.now();
    const r = checkHistory(registerModel, adversarial(40), { timeoutMs: 50 });
    const ms = performance.now() - t0;
    expect(r.result).toBe('unknown');
    expect(r.partitions).toEqual([expect.objectContaining({ key: '', ops: 41, result: 'unknown' })]);
    expect(r.explanation).toBeUndefined();
    expect(ms).toBeLessThan(5_000); // the budget is honoured (loosely: CI machines stall)
  });

  test('the same shape, small enough, is refuted', () => {
    expect(checkHistory(registerModel, adversarial(8)).result).toBe('illegal');
  });

  test('an illegal partition outranks one that ran out of time', () => {
    // Key "a" is adversarial (40 concurrent puts, then an impossible get); key "b" has a stale read.
    const ops = [];
    for (let k = 0; k < 40; k++) ops.push(ok(k, put('a', `v${k}`), undefined, 0, 100));
    ops.push(ok(40, get('a'), 'never', 200, 300));
    ops.push(ok(41, put('b', '1'), undefined, 0, 10), ok(41, put('b', '2'), undefined, 20, 30));
    ops.push(ok(42, get('b'), '1', 40, 50));
    const r = checkHistory(kvModel, ops, { timeoutMs: 100 });
    expect(r.partitions.map((p) => [p.key, p.result])).toEqual([
      ['a', 'unknown'],
      ['b', 'illegal'],
    ]);
    expect(r.result).toBe('illegal');
    expect(r.explanation?.key).toBe('b');
  });
});

describe('performance sanity (not timed)', () => {
  test('a 10,000-operation, 10-key KV history with 5 concurrent clients is decided ok (seed printed)', () => {
    const seed = testSeed();
    console.log(`budget.test performance seed=${seed} (replay: XRAFT_SEED=${seed})`);
    const ops = simulateKv(seededRandom(seed), {
      ops: 10_000,
      clients: 5,
      keys: 10,
      values: 5,
      unknownRate: 0.01,
    });
    const r = checkHistory(kvModel, ops, { timeoutMs: 60_000 });
    expect(r.result).toBe('ok');
    expect(r.partitions).toHaveLength(10);
    expect(r.partitions.reduce((n, p) => n + p.ops, 0)).toBe(10_000);
  });
});
