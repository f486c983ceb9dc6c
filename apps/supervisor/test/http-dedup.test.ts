import { expect, test } from 'vitest';
import { RequestDedup } from '../src/http/dedup.js';

/** deferred is a promise with its resolve outside. */
function deferred<T>(): { promise: Promise<T>; resolve: (v: T) => void } {
  let resolve!: (v: T) => void;
  const promise = new Promise<T>((r) => {
    resolve = r;
  });
  return { promise, resolve };
}

test('a duplicate, concurrent or later, gets the first answer and runs nothing', async () => {
  const dedup = new RequestDedup<string>(10);
  let runs = 0;
  const gate = deferred<string>();
  const execute = () => {
    runs++;
    return gate.promise;
  };
  const first = dedup.run('a', 'PUT /kv/x', execute);
  const second = dedup.run('a', 'PUT /kv/x', execute);
  gate.resolve('done');
  expect(await first).toEqual({ kind: 'answer', value: 'done', replayed: false });
  expect(await second).toEqual({ kind: 'answer', value: 'done', replayed: true });
  expect(await dedup.run('a', 'PUT /kv/x', execute)).toEqual({
    kind: 'answer',
    value: 'done',
    replayed: true,
  });
  expect(runs).toBe(1);
});

test('an id reused for another request is a conflict and runs nothing', async () => {
  const dedup = new RequestDedup<string>(10);
  await dedup.run('a', 'PUT /kv/x\n{"value":"1"}', async () => 'one');
  let ran = false;
  const outcome = await dedup.run('a', 'PUT /kv/x\n{"value":"2"}', async () => {
    ran = true;
    return 'two';
  });
  expect(outcome).toEqual({ kind: 'conflict', previous: 'PUT /kv/x\n{"value":"1"}' });
  expect(ran).toBe(false);
});

test('answers that `keep` refuses (surely not applied) are forgotten, so a retry runs again', async () => {
  const dedup = new RequestDedup<string>(10, (answer) => answer !== 'no leader');
  let next = 'no leader';
  const execute = async () => next;
  expect(await dedup.run('a', 'f', execute)).toMatchObject({ value: 'no leader', replayed: false });
  next = 'applied';
  expect(await dedup.run('a', 'f', execute)).toMatchObject({ value: 'applied', replayed: false });
  next = 'again';
  expect(await dedup.run('a', 'f', execute)).toMatchObject({ value: 'applied', replayed: true });
});

test('past capacity the least recently used answered id is evicted; ids in flight never are', async () => {
  const dedup = new RequestDedup<number>(2);
  await dedup.run('a', 'f', async () => 1);
  await dedup.run('b', 'f', async () => 2);
  await dedup.run('a', 'f', async () => 99); // touches a: b is now the least recently used
  await dedup.run('c', 'f', async () => 3);
  expect(dedup.size).toBe(2);
  expect(await dedup.run('a', 'f', async () => 99)).toMatchObject({ value: 1, replayed: true });
  // b was evicted: it runs again.
  expect(await dedup.run('b', 'f', async () => 20)).toMatchObject({ value: 20, replayed: false });

  // Running requests stay even beyond capacity.
  const small = new RequestDedup<number>(1);
  const gates = [deferred<number>(), deferred<number>(), deferred<number>()];
  const running = gates.map((g, i) => small.run(`r${i}`, 'f', () => g.promise));
  expect(small.size).toBe(3);
  let reran = false;
  const dup = small.run('r0', 'f', async () => {
    reran = true;
    return -1;
  });
  gates.forEach((g, i) => {
    g.resolve(i);
  });
  await Promise.all(running);
  expect(await dup).toMatchObject({ value: 0, replayed: true });
  expect(reran).toBe(false);
  expect(small.size).toBe(1);
});

test('an execute that rejects is forgotten and its waiters see the rejection', async () => {
  const dedup = new RequestDedup<string>(10);
  await expect(dedup.run('a', 'f', () => Promise.reject(new Error('boom')))).rejects.toThrow('boom');
  expect(dedup.size).toBe(0);
  expect(() => new RequestDedup(0)).toThrow(/positive integer/);
});
