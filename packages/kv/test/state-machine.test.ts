// KvStateMachine: the semantics of every operation and query, one test per
// claim, plus the determinism rules of apply (log order, malformed entries).
import { describe, expect, test } from 'vitest';
import { encodeRequest } from '../src/codec.js';
import type { KvOp } from '../src/commands.js';
import { createStateMachine } from '../src/machine-module.js';
import { KvStateMachine } from '../src/state-machine.js';
import { append, bytes, cas, del, put, Replica } from './helpers.js';

/** withSession is a fresh replica with one registered client. */
function withSession(): { r: Replica; id: number } {
  const r = new Replica();
  return { r, id: r.register() };
}

describe('KvStateMachine operations', () => {
  test('put stores a value and get returns it as the same kind', () => {
    const { r, id } = withSession();
    expect(r.results(id, 1, [1, put('s', 'text')], [2, put('b', bytes('text'))], [3, put('e', '')])).toEqual([
      { seq: 1, type: 'ok' },
      { seq: 2, type: 'ok' },
      { seq: 3, type: 'ok' },
    ]);
    expect(r.get('s')).toBe('text');
    expect(r.get('b')).toStrictEqual(bytes('text'));
    expect(r.get('e')).toBe('');
    expect(r.get('missing')).toBeUndefined();
    r.results(id, 4, [4, put('s', bytes('now bytes'))]);
    expect(r.get('s')).toStrictEqual(bytes('now bytes'));
  });

  test('delete reports whether the key existed', () => {
    const { r, id } = withSession();
    r.results(id, 1, [1, put('k', 'v')]);
    expect(r.results(id, 2, [2, del('k')], [3, del('k')])).toEqual([
      { seq: 2, type: 'deleted', existed: true },
      { seq: 3, type: 'deleted', existed: false },
    ]);
    expect(r.get('k')).toBeUndefined();
    expect(r.sm.size).toBe(0);
  });

  test("append appends to a missing key as to ''; bytes if either side is bytes", () => {
    const { r, id } = withSession();
    r.results(id, 1, [1, append('s', 'ab')], [2, append('s', 'cd')]);
    expect(r.get('s')).toBe('abcd');
    r.results(id, 3, [3, append('b', bytes('x'))]);
    expect(r.get('b')).toStrictEqual(bytes('x'));
    r.results(id, 4, [4, append('s', bytes('!'))], [5, append('b', 'é')]);
    expect(r.get('s')).toStrictEqual(bytes('abcd!'));
    expect(r.get('b')).toStrictEqual(bytes('xé'));
  });

  test('cas swaps only on a value of the same kind and content; expected undefined means absent', () => {
    const { r, id } = withSession();
    expect(r.results(id, 1, [1, cas('k', undefined, 'v1')], [2, cas('k', undefined, 'v2')])).toEqual([
      { seq: 1, type: 'cas', swapped: true },
      { seq: 2, type: 'cas', swapped: false },
    ]);
    expect(r.get('k')).toBe('v1');
    expect(r.results(id, 3, [3, cas('k', 'nope', 'x')], [4, cas('k', bytes('v1'), 'x')])).toEqual([
      { seq: 3, type: 'cas', swapped: false },
      { seq: 4, type: 'cas', swapped: false },
    ]);
    expect(r.results(id, 5, [5, cas('k', 'v1', bytes('v2'))], [6, cas('k', bytes('v2'), 'v3')])).toEqual([
      { seq: 5, type: 'cas', swapped: true },
      { seq: 6, type: 'cas', swapped: true },
    ]);
    expect(r.get('k')).toBe('v3');
    expect(r.results(id, 7, [7, cas('absent', 'x', 'y')])).toEqual([{ seq: 7, type: 'cas', swapped: false }]);
    expect(r.get('absent')).toBeUndefined();
  });

  test('commands of one batch apply in order', () => {
    const { r, id } = withSession();
    r.results(id, 1, [1, put('k', 'a')], [2, append('k', 'b')], [3, del('k')], [4, append('k', 'c')]);
    expect(r.get('k')).toBe('c');
  });

  test('list returns the keys with a prefix in key order, at most limit of them', () => {
    const { r, id } = withSession();
    const keys = ['b/2', 'a', 'b/10', 'b/1', 'ba', 'b', 'c/1', 'b/é', 'b/😀'];
    r.results(id, 1, ...keys.map((k, i): [number, KvOp] => [i + 1, put(k, k.toUpperCase())]));
    expect(r.list('b/').map((p) => p.key)).toEqual(['b/1', 'b/10', 'b/2', 'b/é', 'b/😀']);
    expect(r.list('b/', 2)).toEqual([
      { key: 'b/1', value: 'B/1' },
      { key: 'b/10', value: 'B/10' },
    ]);
    expect(r.list('').map((p) => p.key)).toEqual([...keys].sort());
    expect(r.list('b/', 0)).toEqual([]);
    expect(r.list('zzz')).toEqual([]);
  });
});

describe('KvStateMachine apply rules', () => {
  test('a malformed entry is rejected alike on every replica and changes nothing but the applied index', () => {
    const a = new Replica();
    const b = new Replica();
    for (const garbage of [new Uint8Array(), new Uint8Array([1, 99]), new Uint8Array([7, 1])]) {
      const ra = a.sm.apply(garbage, ++a.index);
      const rb = b.sm.apply(garbage, ++b.index);
      expect(ra.type).toBe('rejected');
      expect(ra).toEqual(rb);
    }
    expect(a.sm.lastApplied).toBe(3);
    expect(a.sm.snapshot()).toStrictEqual(b.sm.snapshot());
  });

  test('a read request in the log is rejected, not executed', () => {
    const r = new Replica();
    const read = encodeRequest({ type: 'read', mode: 'stale', leaseClockDriftMs: 0, queries: [] });
    expect(r.sm.apply(read, 1)).toMatchObject({
      type: 'rejected',
      reason: expect.stringMatching(/not a log entry/),
    });
  });

  test('entries must come at strictly increasing indexes (an impossible state throws)', () => {
    const r = new Replica();
    r.register();
    expect(() => r.sm.apply(encodeRequest({ type: 'register' }), 1)).toThrow(/entry 1 applied after 1/);
    expect(() => r.sm.apply(encodeRequest({ type: 'register' }), 1.5)).toThrow(/log order/);
    r.skip(10);
    expect(r.register()).toBe(12);
  });

  test('the module factory makes a KvStateMachine with the default limits', () => {
    const sm = createStateMachine();
    expect(sm).toBeInstanceOf(KvStateMachine);
    expect(() => new KvStateMachine({ maxSessions: 0 })).toThrow(/maxSessions must be a positive integer/);
  });
});
