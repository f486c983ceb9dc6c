// Snapshots (snapshot.ts; log compaction, thesis §5): a large store round-trips
// quickly and exactly, sessions included; corrupt bytes are refused with a
// clear error and leave the state machine untouched.
import { describe, expect, test } from 'vitest';
import { ByteWriter } from '../src/binary.js';
import { crc32 } from '../src/crc32.js';
import { SnapshotError } from '../src/errors.js';
import { SNAPSHOT_VERSION } from '../src/snapshot.js';
import { KvStateMachine } from '../src/state-machine.js';
import { append, bytes, put, Replica, sameBytes } from './helpers.js';

/** store is a replica with `n` keys (alternating string and bytes values) and two sessions. */
function store(n: number): Replica {
  const r = new Replica();
  const a = r.register();
  const b = r.register();
  const BATCH = 1000;
  for (let i = 0; i < n; i += BATCH) {
    const commands: Array<[number, ReturnType<typeof put>]> = [];
    for (let j = i; j < Math.min(n, i + BATCH); j++) {
      const key = `key/${(j * 7919) % n}`; // out of order on purpose
      commands.push([j + 1, put(key, j % 2 === 0 ? `value ${j}` : bytes(`bytes ${j}`))]);
    }
    r.results(a, i + 1, ...commands);
  }
  r.results(b, 1, [1, append('log', 'x')], [2, append('log', 'y')]);
  return r;
}

describe('kv snapshots', () => {
  test('a 100 000-key store round-trips exactly, sessions and their results included, quickly', () => {
    const r = store(100_000);
    const t0 = performance.now();
    const snap = r.sm.snapshot();
    const t1 = performance.now();
    const other = new KvStateMachine();
    other.restore(snap);
    const t2 = performance.now();
    expect(other.size).toBe(100_001);
    expect(other.lastApplied).toBe(r.sm.lastApplied);
    expect(sameBytes(other.snapshot(), snap)).toBe(true);
    expect(other.query({ type: 'list', prefix: 'key/9999', limit: 3 })).toEqual(
      r.sm.query({ type: 'list', prefix: 'key/9999', limit: 3 }),
    );
    for (const key of ['key/0', 'key/1', 'key/99999', 'log']) {
      expect(other.query({ type: 'get', key })).toStrictEqual(r.sm.query({ type: 'get', key }));
    }
    expect(other.sessionCount).toBe(2);
    expect(other.session(2)).toEqual(r.sm.session(2));
    // Generous bounds (CI machines vary); a quadratic encoder or restore would take minutes.
    expect(t1 - t0, 'snapshot ms').toBeLessThan(2000);
    expect(t2 - t1, 'restore ms').toBeLessThan(2000);
  });

  test('restore replaces the whole state: keys and sessions not in the snapshot are gone', () => {
    const small = new Replica();
    const id = small.register();
    small.results(id, 1, [1, put('kept', 'v')]);
    const snap = small.sm.snapshot();
    const big = store(50);
    big.sm.restore(snap);
    expect(big.sm.size).toBe(1);
    expect(big.sm.sessionCount).toBe(1);
    expect(big.get('kept')).toBe('v');
    expect(big.get('log')).toBeUndefined();
  });

  test('an empty state machine snapshots and restores', () => {
    const sm = new KvStateMachine();
    const other = store(3).sm;
    other.restore(sm.snapshot());
    expect(other.size).toBe(0);
    expect(other.sessionCount).toBe(0);
    expect(other.lastApplied).toBe(0);
  });

  test('every kind of corruption is refused with a SnapshotError and leaves the state untouched', () => {
    const good = store(200).sm.snapshot();
    const victim = store(10);
    const before = victim.sm.snapshot();
    const corrupt: Array<[string, Uint8Array, RegExp]> = [
      ['truncated', good.subarray(0, good.length - 1), /header says \d+ body bytes/],
      ['too short', good.subarray(0, 10), /shorter than the 20-byte frame/],
      ['empty', new Uint8Array(), /shorter than/],
      ['bit flip in the body', flip(good, 100), /checksum mismatch/],
      ['bit flip in the checksum', flip(good, good.length - 1), /checksum mismatch/],
      ['wrong magic', flip(good, 0), /bad magic/],
      ['another version', withByte(good, 4, SNAPSHOT_VERSION + 1), /version 2; this build reads version 1/],
      ['reserved byte set', withByte(good, 6, 1), /reserved header bytes/],
    ];
    for (const [what, b, message] of corrupt) {
      expect(() => victim.sm.restore(b), what).toThrow(SnapshotError);
      expect(() => victim.sm.restore(b), what).toThrow(message);
      expect(victim.sm.snapshot(), what).toStrictEqual(before);
    }
  });

  test('a well-framed snapshot that breaks an invariant is refused too', () => {
    const victim = store(10);
    const before = victim.sm.snapshot();
    // Keys out of order.
    expect(() =>
      victim.sm.restore(
        frame((w) =>
          body(
            w,
            5,
            [
              ['b', 'x'],
              ['a', 'y'],
            ],
            [],
          ),
        ),
      ),
    ).toThrow(/invalid kv snapshot: keys out of order: "a" after "b"/);
    // A session active after the last applied index.
    expect(() => victim.sm.restore(frame((w) => body(w, 5, [], [[1, 9, 0]])))).toThrow(
      /active at 9 > lastApplied 5/,
    );
    // Sessions out of activity order.
    expect(() =>
      victim.sm.restore(
        frame((w) =>
          body(
            w,
            9,
            [],
            [
              [1, 5, 0],
              [2, 3, 0],
            ],
          ),
        ),
      ),
    ).toThrow(/out of activity order/);
    // Body bytes that do not parse.
    expect(() => victim.sm.restore(frame((w) => w.u8(0x80)))).toThrow(
      /invalid kv snapshot: malformed kv snapshot body/,
    );
    expect(victim.sm.snapshot()).toStrictEqual(before);
  });

  test('crc32 is the standard CRC-32 (the check value of "123456789")', () => {
    expect(crc32(bytes('123456789'))).toBe(0xcbf43926);
    expect(crc32(new Uint8Array())).toBe(0);
    expect(crc32(bytes('The quick brown fox jumps over the lazy dog'))).toBe(0x414fa339);
  });
});

function flip(b: Uint8Array, at: number): Uint8Array {
  const out = b.slice();
  out[at]! ^= 0x01;
  return out;
}

function withByte(b: Uint8Array, at: number, value: number): Uint8Array {
  const out = b.slice();
  out[at] = value;
  return out;
}

/** body writes a snapshot body: lastApplied, string pairs, sessions as [clientId, lastActive, ackedSeq] with no results. */
function body(
  w: ByteWriter,
  lastApplied: number,
  pairs: Array<[string, string]>,
  sessions: Array<[number, number, number]>,
): void {
  w.varuint(lastApplied);
  w.varuint(pairs.length);
  for (const [k, v] of pairs) {
    w.string(k);
    w.u8(0);
    w.string(v);
  }
  w.varuint(sessions.length);
  for (const [id, lastActive, acked] of sessions) {
    w.varuint(id);
    w.varuint(lastActive);
    w.varuint(acked);
    w.varuint(0);
  }
}

/** frame wraps a hand-written body in a valid header and checksum. */
function frame(write: (w: ByteWriter) => void): Uint8Array {
  const w = new ByteWriter();
  for (const b of [0x58, 0x4b, 0x56, 0x53, SNAPSHOT_VERSION, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0]) w.u8(b);
  write(w);
  w.u32At(12, w.length - 16);
  w.u32(crc32(w.written()));
  return w.finish();
}
