import { describe, expect, test } from 'vitest';
import { checkHistory, type KvInput, type KvOutput, kvModel, kvText, type Operation } from '../src/index.js';
import { append, cas, del, get, ok, put, unknown } from './support.js';

type Op = Operation<KvInput, KvOutput>;
const check = (ops: Op[]) => checkHistory(kvModel, ops).result;

describe('kv: put and get', () => {
  test('the empty history is linearizable', () => {
    expect(checkHistory(kvModel, [])).toMatchObject({ result: 'ok', partitions: [] });
  });

  test('a missing key reads as absent, then as what was put', () => {
    expect(
      check([
        ok(1, get('x'), undefined, 0, 10),
        ok(1, put('x', 'a'), undefined, 20, 30),
        ok(2, get('x'), 'a', 40, 50),
      ]),
    ).toBe('ok');
  });

  test('a stale read on one key fails that key alone', () => {
    const r = checkHistory(kvModel, [
      ok(1, put('x', 'a'), undefined, 0, 10),
      ok(1, put('y', 'a'), undefined, 0, 10),
      ok(2, put('y', 'b'), undefined, 20, 30),
      ok(3, get('x'), 'a', 40, 50),
      ok(3, get('y'), 'a', 40, 50),
    ]);
    expect(r.result).toBe('illegal');
    expect(r.partitions.map((p) => [p.key, p.ops, p.result])).toEqual([
      ['x', 2, 'ok'],
      ['y', 3, 'illegal'],
    ]);
    expect(r.explanation?.key).toBe('y');
  });

  test('bytes compare as latin1 strings', () => {
    const bytes = (s: string) => new TextEncoder().encode(s);
    expect(kvText(bytes('hi'))).toBe('hi');
    expect(kvText(new Uint8Array([0xff, 0x00]))).toBe('\u00ff\u0000');
    const ops: Op[] = [
      ok(1, { op: 'put', key: bytes('k'), value: bytes('v1') }, undefined, 0, 10),
      ok(2, get('k'), bytes('v1'), 20, 30),
      ok(2, get('k'), 'v1', 40, 50),
    ];
    expect(check(ops)).toBe('ok');
    expect(check([...ops, ok(2, get('k'), bytes('v2'), 60, 70)])).toBe('illegal');
  });
});

describe('kv: append', () => {
  test('appending to a missing key starts from the empty string', () => {
    expect(check([ok(1, append('x', 'a'), undefined, 0, 10), ok(2, get('x'), 'a', 20, 30)])).toBe('ok');
  });

  test('concurrent appends land in either order', () => {
    const both = [ok(1, append('x', 'a'), undefined, 0, 50), ok(2, append('x', 'b'), undefined, 0, 50)];
    expect(check([...both, ok(3, get('x'), 'ab', 60, 70)])).toBe('ok');
    expect(check([...both, ok(3, get('x'), 'ba', 60, 70)])).toBe('ok');
  });

  test('an append that appears twice is illegal', () => {
    expect(
      check([
        ok(1, append('x', 'a'), undefined, 0, 10),
        ok(2, append('x', 'b'), undefined, 0, 10),
        ok(3, get('x'), 'aab', 20, 30),
      ]),
    ).toBe('illegal');
  });

  test('appends out of real-time order are illegal', () => {
    expect(
      check([
        ok(1, append('x', 'a'), undefined, 0, 10),
        ok(1, append('x', 'b'), undefined, 20, 30),
        ok(2, get('x'), 'ba', 40, 50),
      ]),
    ).toBe('illegal');
  });

  test('an unknown append is seen at most once', () => {
    const base = [ok(1, put('x', ''), undefined, 0, 5), unknown(1, append('x', 'z'), 10)];
    expect(check([...base, ok(2, get('x'), 'z', 50, 60)])).toBe('ok');
    expect(check([...base, ok(2, get('x'), '', 50, 60)])).toBe('ok');
    expect(check([...base, ok(2, get('x'), 'zz', 50, 60)])).toBe('illegal');
  });
});

describe('kv: compare-and-set', () => {
  test('cas with expected absent creates the key, once', () => {
    expect(
      check([
        ok(1, cas('x', undefined, 'a'), true, 0, 10),
        ok(2, cas('x', undefined, 'b'), false, 20, 30),
        ok(2, get('x'), 'a', 40, 50),
      ]),
    ).toBe('ok');
    expect(
      check([ok(1, cas('x', undefined, 'a'), true, 0, 10), ok(2, cas('x', undefined, 'b'), true, 0, 10)]),
    ).toBe('illegal');
  });

  test('a cas chain across clients', () => {
    const chain = [
      ok(1, put('x', '0'), undefined, 0, 10),
      ok(2, cas('x', '1', '2'), true, 20, 60),
      ok(3, cas('x', '0', '1'), true, 20, 60),
      ok(1, cas('x', '2', '3'), true, 25, 70),
    ];
    expect(check([...chain, ok(4, get('x'), '3', 80, 90)])).toBe('ok');
    // A link that claims to succeed from a value the chain had already left.
    expect(check([...chain, ok(4, cas('x', '1', '9'), true, 80, 90)])).toBe('illegal');
  });

  test('a cas on an absent key fails unless it expects absence', () => {
    expect(check([ok(1, cas('x', 'a', 'b'), false, 0, 10), ok(1, get('x'), undefined, 20, 30)])).toBe('ok');
    expect(check([ok(1, cas('x', 'a', 'b'), true, 0, 10)])).toBe('illegal');
  });
});

describe('kv: delete', () => {
  test('delete reports whether the key existed', () => {
    const put1 = ok(1, put('x', 'a'), undefined, 0, 10);
    expect(check([put1, ok(2, del('x'), true, 20, 30), ok(2, get('x'), undefined, 40, 50)])).toBe('ok');
    expect(check([put1, ok(2, del('x'), false, 20, 30)])).toBe('illegal');
    expect(check([ok(2, del('x'), true, 0, 10)])).toBe('illegal');
    expect(check([ok(2, del('x'), false, 0, 10)])).toBe('ok');
  });

  test('a delete concurrent with the put may come first', () => {
    expect(
      check([
        ok(1, put('x', 'a'), undefined, 0, 50),
        ok(2, del('x'), false, 10, 20),
        ok(3, get('x'), 'a', 60, 70),
      ]),
    ).toBe('ok');
    expect(
      check([
        ok(1, put('x', 'a'), undefined, 0, 50),
        ok(2, del('x'), false, 10, 20),
        ok(3, get('x'), undefined, 60, 70),
      ]),
    ).toBe('illegal');
  });

  test('an unknown delete may have happened or not', () => {
    const base = [ok(1, put('x', 'a'), undefined, 0, 10), unknown(2, del('x'), 20)];
    expect(check([...base, ok(3, get('x'), undefined, 40, 50)])).toBe('ok');
    expect(check([...base, ok(3, get('x'), 'a', 40, 50)])).toBe('ok');
    expect(check([...base, ok(3, get('x'), undefined, 40, 50), ok(3, get('x'), 'a', 60, 70)])).toBe(
      'illegal',
    );
  });
});

describe('kv: unknown outcomes and validation', () => {
  test('an unknown put whose effect is seen later, or never', () => {
    expect(check([unknown(1, put('x', 'a'), 0), ok(2, get('x'), 'a', 1000, 1010)])).toBe('ok');
    expect(check([unknown(1, put('x', 'a'), 0), ok(2, get('x'), undefined, 1000, 1010)])).toBe('ok');
  });

  test('malformed records are rejected with the operation named', () => {
    expect(() => check([ok(1, get('x'), undefined, 10, 5)])).toThrow(
      /operation 0 .*returns \(5\) before its call/,
    );
    const failed = { status: 'fail', clientId: 1, input: get('x'), call: 0 } as unknown as Op;
    expect(() => check([failed])).toThrow(/status must be 'ok' or 'unknown'/);
    expect(() => checkHistory(kvModel, [], { timeoutMs: 0 })).toThrow(/timeoutMs must be a positive number/);
  });
});
