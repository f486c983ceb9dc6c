import { describe, expect, test } from 'vitest';
import {
  checkHistory,
  type Operation,
  type RegisterInput,
  type RegisterOutput,
  registerModel,
} from '../src/index.js';
import { ok, rcas, read, unknown, write } from './support.js';

type Op = Operation<RegisterInput, RegisterOutput>;
const check = (ops: Op[]) => checkHistory(registerModel, ops).result;

describe('register: completed operations', () => {
  test('a read after a completed write sees it', () => {
    expect(check([ok(1, write(1), undefined, 0, 10), ok(2, read(), 1, 20, 30)])).toBe('ok');
  });

  test('a read of the initial value before any write', () => {
    expect(check([ok(2, read(), null, 0, 5), ok(1, write(1), undefined, 10, 20)])).toBe('ok');
  });

  test('a stale read after a completed write is illegal', () => {
    const r = checkHistory(registerModel, [
      ok(1, write(1), undefined, 0, 10),
      ok(1, write(2), undefined, 20, 30),
      ok(2, read(), 1, 40, 50),
    ]);
    expect(r.result).toBe('illegal');
    expect(r.explanation?.stuck).toEqual([2]);
  });

  test('concurrent writes where only one order explains the reads', () => {
    // w1 and w2 overlap; r2 during them forces w2 first, r1 afterwards forces w1 last.
    const ops = [
      ok(1, write(1), undefined, 0, 100),
      ok(2, write(2), undefined, 0, 100),
      ok(3, read(), 2, 10, 20),
      ok(3, read(), 1, 110, 120),
    ];
    expect(check(ops)).toBe('ok');
    // ...and reading 2 after both finished, then 1, needs a third write.
    expect(check([...ops.slice(0, 2), ok(3, read(), 2, 110, 120), ok(3, read(), 1, 130, 140)])).toBe(
      'illegal',
    );
  });

  test('reads that see a new value and then an older one are illegal', () => {
    const ops = [
      ok(1, write(1), undefined, 0, 10),
      ok(1, write(2), undefined, 20, 100),
      ok(2, read(), 2, 30, 40),
      ok(3, read(), 1, 50, 60),
    ];
    expect(check(ops)).toBe('illegal');
    // The same reads in the other order are fine: the write lands between them.
    expect(check([ops[0]!, ops[1]!, ok(2, read(), 1, 30, 40), ok(3, read(), 2, 50, 60)])).toBe('ok');
  });

  test('operations that touch at one instant are concurrent', () => {
    expect(check([ok(1, write(1), undefined, 0, 10), ok(2, read(), null, 10, 20)])).toBe('ok');
    expect(check([ok(1, write(1), undefined, 0, 10), ok(2, read(), null, 11, 20)])).toBe('illegal');
  });

  test('bigint times order as numbers do', () => {
    const big = (n: number) => 10n ** 18n + BigInt(n);
    const ops: Op[] = [
      { status: 'ok', clientId: 'a', input: write(1), call: big(0), return: big(10) },
      { status: 'ok', clientId: 'b', input: read(), output: null, call: big(20), return: big(30) },
    ];
    expect(check(ops)).toBe('illegal');
  });
});

describe('register: unknown outcomes', () => {
  test('an unknown write whose effect is seen later is legal', () => {
    expect(check([unknown(1, write(1), 0), ok(2, read(), 1, 500, 510)])).toBe('ok');
  });

  test('an unknown write never seen is legal', () => {
    expect(check([unknown(1, write(1), 0), ok(2, read(), null, 50, 60), ok(2, read(), null, 70, 80)])).toBe(
      'ok',
    );
  });

  test('an unknown write seen and then unseen is illegal', () => {
    expect(check([unknown(1, write(1), 0), ok(2, read(), 1, 50, 60), ok(2, read(), null, 70, 80)])).toBe(
      'illegal',
    );
  });

  test('an unknown write cannot take effect before its call', () => {
    expect(check([ok(2, read(), 1, 0, 10), unknown(1, write(1), 20)])).toBe('illegal');
  });

  test('an unknown write may take effect long after later operations', () => {
    expect(
      check([
        unknown(1, write(1), 0),
        ok(2, write(2), undefined, 10, 20),
        ok(2, read(), 2, 30, 40),
        ok(2, read(), 1, 50, 60),
      ]),
    ).toBe('ok');
  });

  test('an unknown read constrains nothing', () => {
    expect(check([ok(1, write(1), undefined, 0, 10), unknown(2, read(), 20)])).toBe('ok');
  });
});

describe('register: compare-and-set', () => {
  test('a cas chain whose concurrent links have one possible order', () => {
    expect(
      check([
        ok(1, write(0), undefined, 0, 10),
        ok(2, rcas(1, 2), true, 20, 100),
        ok(3, rcas(0, 1), true, 20, 100),
        ok(1, rcas(2, 3), true, 30, 110),
        ok(1, read(), 3, 120, 130),
      ]),
    ).toBe('ok');
  });

  test('two cas from the same value cannot both succeed', () => {
    expect(
      check([
        ok(1, write(0), undefined, 0, 10),
        ok(2, rcas(0, 1), true, 20, 30),
        ok(3, rcas(0, 2), true, 20, 30),
      ]),
    ).toBe('illegal');
  });

  test('a cas that fails although the value matches is illegal', () => {
    expect(check([ok(1, write(0), undefined, 0, 10), ok(2, rcas(0, 1), false, 20, 30)])).toBe('illegal');
  });

  test('a failed cas leaves the value alone', () => {
    expect(
      check([ok(1, write(0), undefined, 0, 10), ok(2, rcas(5, 1), false, 20, 30), ok(2, read(), 0, 40, 50)]),
    ).toBe('ok');
  });

  test('an unknown cas may or may not have succeeded', () => {
    const base = [ok(1, write(0), undefined, 0, 10), unknown(2, rcas(0, 1), 20)];
    expect(check([...base, ok(3, read(), 1, 40, 50)])).toBe('ok');
    expect(check([...base, ok(3, read(), 0, 40, 50)])).toBe('ok');
    expect(check([...base, ok(3, read(), 1, 40, 50), ok(3, read(), 0, 60, 70)])).toBe('illegal');
  });
});
