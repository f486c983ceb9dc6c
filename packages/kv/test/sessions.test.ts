// Client sessions (thesis §6.3): exactly-once application of retried
// requests, discarding acknowledged results, and expiry rules that every
// replica evaluates identically from the log. Replay with XRAFT_SEED=<seed>.
import { describe, expect, test } from 'vitest';
import { encodeEntry } from '../src/codec.js';
import type { KvEntry, KvOp } from '../src/commands.js';
import { SessionResults } from '../src/sessions.js';
import { KvStateMachine } from '../src/state-machine.js';
import { append, cas, int, put, Replica, randomOp, seededRandom, testSeed } from './helpers.js';

const seed = testSeed();

describe('§6.3 exactly-once', () => {
  test('register answers the log index of its entry as the client id', () => {
    const r = new Replica();
    r.skip(4);
    expect(r.apply({ type: 'register' })).toEqual({ type: 'registered', clientId: 5 });
    expect(r.sm.session(5)).toEqual({ lastActive: 5, ackedSeq: 0, storedResults: 0 });
  });

  test('a retried request returns the original result and is not applied again', () => {
    const r = new Replica();
    const id = r.register();
    const first = r.results(id, 1, [1, append('k', 'x')], [2, cas('c', undefined, 'won')]);
    r.results(id, 1, [3, put('c', 'changed')]); // state moves on meanwhile
    const retry = r.results(id, 1, [1, append('k', 'x')], [2, cas('c', undefined, 'won')]);
    expect(retry).toEqual(first);
    expect(retry[1]).toEqual({ seq: 2, type: 'cas', swapped: true }); // the original answer, not a re-evaluation
    expect(r.get('k')).toBe('x');
    expect(r.get('c')).toBe('changed');
  });

  test('a retry mixed with new commands applies only the new ones', () => {
    const r = new Replica();
    const id = r.register();
    r.results(id, 1, [1, append('k', 'a')]);
    r.results(id, 1, [1, append('k', 'a')], [2, append('k', 'b')]);
    expect(r.get('k')).toBe('ab');
  });

  test('exactly-once survives snapshot and restore on another replica', () => {
    const r = new Replica();
    const id = r.register();
    const first = r.results(id, 1, [1, append('k', 'x')], [2, append('k', 'y')]);
    const other = new Replica();
    other.sm.restore(r.sm.snapshot());
    other.index = r.index;
    expect(other.results(id, 1, [1, append('k', 'x')], [2, append('k', 'y')])).toEqual(first);
    expect(other.get('k')).toBe('xy');
    expect(other.sm.session(id)).toMatchObject({ ackedSeq: 1, storedResults: 2 });
  });

  test('two clients with the same seq are independent', () => {
    const r = new Replica();
    const a = r.register();
    const b = r.register();
    r.results(a, 1, [1, append('k', 'a')]);
    r.results(b, 1, [1, append('k', 'b')]);
    expect(r.get('k')).toBe('ab');
  });
});

describe('§6.3 discarding acknowledged results (ackedSeq)', () => {
  test('results below ackedSeq are dropped; a request below it is stale and never applied', () => {
    const r = new Replica();
    const id = r.register();
    r.results(id, 1, [1, append('k', '1')], [2, append('k', '2')], [3, append('k', '3')]);
    expect(r.sm.session(id)).toMatchObject({ ackedSeq: 1, storedResults: 3 });
    r.results(id, 3, [4, append('k', '4')]);
    expect(r.sm.session(id)).toMatchObject({ ackedSeq: 3, storedResults: 2 });
    expect(r.results(id, 3, [2, append('k', '2')])).toEqual([{ seq: 2, type: 'stale' }]);
    expect(r.get('k')).toBe('1234');
    expect(r.results(id, 3, [3, append('k', '3')])).toEqual([{ seq: 3, type: 'ok' }]); // still held: the original
    expect(r.get('k')).toBe('1234');
  });

  test('ackedSeq only grows: a delayed request with an older ackedSeq does not revive results', () => {
    const r = new Replica();
    const id = r.register();
    r.results(id, 1, [1, append('k', 'a')], [2, append('k', 'b')]);
    r.results(id, 3, [3, append('k', 'c')]);
    expect(r.results(id, 1, [1, append('k', 'a')])).toEqual([{ seq: 1, type: 'stale' }]);
    expect(r.sm.session(id)?.ackedSeq).toBe(3);
    expect(r.get('k')).toBe('abc');
  });

  test('an empty batch refreshes the session and trims its results', () => {
    const r = new Replica();
    const id = r.register();
    r.results(id, 1, [1, put('k', 'v')]);
    r.skip(5);
    expect(r.batch(id, 2)).toEqual({ type: 'applied', clientId: id, results: [] });
    expect(r.sm.session(id)).toEqual({ lastActive: r.index, ackedSeq: 2, storedResults: 0 });
  });
});

describe('§6.3 session expiry, by the log alone', () => {
  test('a session inactive for more than sessionTimeoutEntries indexes expires; its requests are never applied', () => {
    const r = new Replica(new KvStateMachine({ sessionTimeoutEntries: 10 }));
    const id = r.register(); // index 1
    r.results(id, 1, [1, append('k', 'a')]); // index 2: active
    r.skip(9); // the next entry is index 12: 10 after the last activity, still alive
    r.results(id, 1, [2, append('k', 'b')]);
    r.skip(10); // index 23: 11 after index 12
    expect(r.batch(id, 1, [3, append('k', 'c')])).toEqual({ type: 'sessionExpired', clientId: id });
    expect(r.batch(id, 1, [2, append('k', 'b')])).toEqual({ type: 'sessionExpired', clientId: id });
    expect(r.get('k')).toBe('ab');
    expect(r.sm.session(id)).toBeUndefined();
    expect(r.sm.sessionCount).toBe(0);
  });

  test('an unknown client id gets sessionExpired and nothing is applied', () => {
    const r = new Replica();
    expect(r.batch(42, 1, [1, put('k', 'v')])).toEqual({ type: 'sessionExpired', clientId: 42 });
    expect(r.get('k')).toBeUndefined();
  });

  test('past maxSessions, opening a session evicts the least recently active one', () => {
    const r = new Replica(new KvStateMachine({ maxSessions: 2 }));
    const a = r.register();
    const b = r.register();
    r.results(a, 1, [1, put('a', '1')]); // a is now more recently active than b
    const c = r.register();
    expect(r.sm.session(b)).toBeUndefined();
    expect(r.sm.session(a)).toBeDefined();
    expect(r.sm.session(c)).toBeDefined();
    expect(r.batch(b, 1, [1, put('b', '1')]).type).toBe('sessionExpired');
  });

  test(`replicas applying the same random log end identical, even via a snapshot midway (seed ${seed}; replay with XRAFT_SEED=${seed})`, () => {
    const random = seededRandom(seed);
    const options = { sessionTimeoutEntries: 40, maxSessions: 6 };
    const log: Array<{ index: number; entry: KvEntry }> = [];
    const clients: Array<{ id: number; seq: number; acked: number; sent: Array<[number, KvOp]> }> = [];
    let index = 0;
    for (let step = 0; step < 3000; step++) {
      index += random() < 0.1 ? 1 + int(random, 20) : 1; // gaps: no-ops, configuration entries
      if (clients.length === 0 || random() < 0.05) {
        log.push({ index, entry: { type: 'register' } });
        clients.push({ id: index, seq: 1, acked: 1, sent: [] });
        continue;
      }
      const c = clients[int(random, clients.length)]!;
      const commands: Array<[number, KvOp]> = [];
      if (c.sent.length > 0 && random() < 0.3) commands.push(...c.sent); // a retry of the last batch
      for (let n = int(random, 4); n > 0; n--) commands.push([c.seq++, randomOp(random)]);
      if (random() < 0.5) c.acked = c.seq; // the answers came back
      c.sent = commands;
      log.push({
        index,
        entry: {
          type: 'batch',
          clientId: c.id,
          ackedSeq: c.acked,
          commands: commands.map(([seq, op]) => ({ ...op, seq })),
        },
      });
    }
    const a = new KvStateMachine(options);
    const b = new KvStateMachine(options);
    const half = Math.floor(log.length / 2);
    const restored = new KvStateMachine(options);
    const outcomes = new Set<string>();
    for (const [i, { index, entry }] of log.entries()) {
      const bytes = encodeEntry(entry);
      const ra = a.apply(bytes, index);
      expect(b.apply(bytes, index), `entry ${index}`).toEqual(ra);
      if (i === half) restored.restore(a.snapshot());
      if (i > half) expect(restored.apply(bytes, index), `entry ${index} after restore`).toEqual(ra);
      outcomes.add(ra.type);
    }
    expect(b.snapshot()).toStrictEqual(a.snapshot());
    expect(restored.snapshot()).toStrictEqual(a.snapshot());
    // The log exercised every outcome, expiry included.
    expect([...outcomes].sort()).toEqual(['applied', 'registered', 'sessionExpired']);
  });
});

describe('SessionResults', () => {
  const ok = (seq: number) => ({ seq, type: 'ok' as const });

  test('keeps results in seq order whatever order they are stored in, and drops a prefix', () => {
    const random = seededRandom(seed);
    const results = new SessionResults();
    const seqs = Array.from({ length: 40 }, (_, i) => i + 1).sort(() => random() - 0.5);
    for (const seq of seqs) results.set(ok(seq));
    results.set({ seq: 7, type: 'deleted', existed: true }); // the same seq again replaces
    expect([...results.values()].map((r) => r.seq)).toEqual(Array.from({ length: 40 }, (_, i) => i + 1));
    expect(results.get(7)).toEqual({ seq: 7, type: 'deleted', existed: true });
    expect(results.get(41)).toBeUndefined();
    results.dropBelow(10);
    expect(results.size).toBe(31);
    expect(results.get(9)).toBeUndefined();
    expect(results.has(10)).toBe(true);
    results.dropBelow(100);
    expect(results.size).toBe(0);
    results.set(ok(200));
    expect([...results.values()]).toEqual([ok(200)]);
  });
});
