// The codec (codec.ts, binary.ts): random messages round-trip exactly, values
// keep their kind, and a write request's bytes are its log entry.
// A fresh seed each run; replay one with XRAFT_SEED=<seed>.
import { describe, expect, test } from 'vitest';
import { ByteReader, ByteWriter, varuintSize } from '../src/binary.js';
import {
  decodeEntry,
  decodeRequest,
  decodeResponse,
  encodeEntry,
  encodeRequest,
  encodeResponse,
  FORMAT_VERSION,
} from '../src/codec.js';
import type { KvEntry } from '../src/commands.js';
import { CodecError } from '../src/errors.js';
import { randomEntry, randomRequest, randomResponse, seededRandom, testSeed } from './helpers.js';

const seed = testSeed();
const RUNS = 3000;

describe(`kv codec round trips (seed ${seed}; replay with XRAFT_SEED=${seed})`, () => {
  test('random log entries decode to what was encoded', () => {
    const random = seededRandom(seed);
    for (let i = 0; i < RUNS; i++) {
      const entry = randomEntry(random);
      expect(decodeEntry(encodeEntry(entry)), `run ${i}`).toStrictEqual(entry);
    }
  });

  test('random requests and responses decode to what was encoded', () => {
    const random = seededRandom(seed + 1);
    for (let i = 0; i < RUNS; i++) {
      const request = randomRequest(random);
      expect(decodeRequest(encodeRequest(request)), `request ${i}`).toStrictEqual(request);
      const response = randomResponse(random);
      expect(decodeResponse(encodeResponse(response)), `response ${i}`).toStrictEqual(response);
    }
  });

  test('a string stays a string and bytes stay bytes, empty ones included', () => {
    const entry: KvEntry = {
      type: 'batch',
      clientId: 7,
      ackedSeq: 1,
      commands: [
        { type: 'put', seq: 1, key: 's', value: '' },
        { type: 'put', seq: 2, key: 'b', value: new Uint8Array() },
        { type: 'put', seq: 3, key: 'digits', value: '123' },
        { type: 'put', seq: 4, key: 'raw', value: new Uint8Array([0x31, 0x32, 0x33]) },
        { type: 'cas', seq: 5, key: '', expected: undefined, value: 'x' },
        { type: 'cas', seq: 6, key: 'k', expected: '', value: new Uint8Array([0]) },
      ],
    };
    const back = decodeEntry(encodeEntry(entry));
    expect(back).toStrictEqual(entry);
    if (back.type !== 'batch') throw new Error('not a batch');
    expect(back.commands.map((c) => (c.type === 'put' ? typeof c.value : null))).toEqual([
      'string',
      'object',
      'string',
      'object',
      null,
      null,
    ]);
  });

  test('a write request is byte for byte its log entry; a read request is not an entry', () => {
    const random = seededRandom(seed + 2);
    for (let i = 0; i < 200; i++) {
      const entry = randomEntry(random);
      expect(encodeRequest(entry)).toStrictEqual(encodeEntry(entry));
    }
    const read = encodeRequest({ type: 'read', mode: 'stale', leaseClockDriftMs: 0, queries: [] });
    expect(() => decodeEntry(read)).toThrow(/a read request is not a log entry/);
  });

  test('every message starts with the format version; another version is refused', () => {
    const bytes = encodeEntry({ type: 'register' });
    expect(bytes[0]).toBe(FORMAT_VERSION);
    bytes[0] = FORMAT_VERSION + 1;
    expect(() => decodeEntry(bytes)).toThrow(CodecError);
    expect(() => decodeEntry(bytes)).toThrow(/format version 2, this build reads 1/);
  });

  test('encoded messages own exactly their bytes (postMessage copies a whole ArrayBuffer)', () => {
    const random = seededRandom(seed + 3);
    for (let i = 0; i < 100; i++) {
      const b = encodeRequest(randomRequest(random));
      expect(b.byteOffset).toBe(0);
      expect(b.buffer.byteLength).toBe(b.byteLength);
    }
  });
});

describe('binary primitives', () => {
  test('varuints round-trip at every width boundary up to 2^53-1', () => {
    const values = [
      0,
      1,
      127,
      128,
      16383,
      16384,
      2 ** 21 - 1,
      2 ** 21,
      2 ** 32,
      2 ** 49,
      Number.MAX_SAFE_INTEGER,
    ];
    const w = new ByteWriter();
    for (const v of values) w.varuint(v);
    const r = new ByteReader(w.finish(), 'test');
    for (const v of values) expect(r.varuint('v')).toBe(v);
    r.end();
    expect(values.map(varuintSize)).toEqual([1, 1, 1, 2, 2, 3, 3, 4, 5, 8, 8]);
  });

  test('the writer refuses what a varuint cannot carry', () => {
    const w = new ByteWriter();
    for (const bad of [-1, 1.5, Number.NaN, 2 ** 53]) expect(() => w.varuint(bad)).toThrow(RangeError);
  });

  test('strings of every length around the varuint width changes, in 1- to 4-byte UTF-8', () => {
    const w = new ByteWriter(1);
    const strings: string[] = [];
    for (const ch of ['a', 'é', '中', '😀']) for (let n = 0; n < 200; n += 7) strings.push(ch.repeat(n));
    strings.push('x'.repeat(20_000), '\ufeff', '\ufeffleading BOM kept', '\u0000');
    for (const s of strings) w.string(s);
    const r = new ByteReader(w.finish(), 'test');
    for (const s of strings) expect(r.string('s')).toBe(s);
    r.end();
  });

  test('the reader refuses overlong varuints, non-boolean bytes and invalid UTF-8, naming the offset', () => {
    const overlong = new ByteReader(new Uint8Array([0x80, 0x00]), 'test');
    expect(() => overlong.varuint('n')).toThrow(/malformed test at byte offset 0: n: overlong varuint/);
    expect(() => new ByteReader(new Uint8Array([2]), 'test').bool('flag')).toThrow(/flag: boolean byte 2/);
    const badUtf8 = new ByteReader(new Uint8Array([2, 0xc3, 0x28]), 'test');
    expect(() => badUtf8.string('key')).toThrow(/key: invalid UTF-8/);
    const tooLong = new ByteReader(new Uint8Array(9).fill(0xff), 'test');
    expect(() => tooLong.varuint('n')).toThrow(/longer than 8 bytes/);
  });
});
