// Decoding hostile bytes: every truncation, random bytes and random mutations
// of valid messages either decode (and then re-encode to the very same bytes:
// the format is canonical) or throw a CodecError with an offset inside the
// input, never a RangeError, a TypeError or garbage.
// A fresh seed each run; replay one with XRAFT_SEED=<seed>.
import { describe, expect, test } from 'vitest';
import { decodeRequest, decodeResponse, encodeRequest, encodeResponse } from '../src/codec.js';
import { CodecError } from '../src/errors.js';
import { int, type Random, randomRequest, randomResponse, seededRandom, testSeed } from './helpers.js';

const seed = testSeed();

type Codec = {
  name: string;
  encode(random: Random): Uint8Array;
  decode(b: Uint8Array): unknown;
  reencode(m: unknown): Uint8Array;
};
const codecs: Codec[] = [
  {
    name: 'request',
    encode: (random) => encodeRequest(randomRequest(random)),
    decode: decodeRequest,
    reencode: (m) => encodeRequest(m as Parameters<typeof encodeRequest>[0]),
  },
  {
    name: 'response',
    encode: (random) => encodeResponse(randomResponse(random)),
    decode: decodeResponse,
    reencode: (m) => encodeResponse(m as Parameters<typeof encodeResponse>[0]),
  },
];

/** decodeOrCodecError decodes `b`, or checks that the failure is a CodecError at an offset within `b`. */
function decodeOrCodecError(codec: Codec, b: Uint8Array, what: string): unknown {
  try {
    return codec.decode(b);
  } catch (err) {
    if (!(err instanceof CodecError)) throw new Error(`${what}: ${String(err)} is not a CodecError`);
    expect(err.offset, what).toBeGreaterThanOrEqual(0);
    expect(err.offset, what).toBeLessThanOrEqual(b.length);
    return undefined;
  }
}

describe.each(codecs)(
  `decoding malformed kv $name bytes (seed ${seed}; replay with XRAFT_SEED=${seed})`,
  (codec) => {
    test('every strict prefix of a valid message throws a CodecError', () => {
      const random = seededRandom(seed);
      for (let i = 0; i < 300; i++) {
        const b = codec.encode(random);
        for (let cut = 0; cut < b.length; cut++) {
          expect(() => codec.decode(b.subarray(0, cut)), `message ${i} cut at ${cut}`).toThrow(CodecError);
        }
      }
    });

    test('trailing bytes after a valid message are refused', () => {
      const random = seededRandom(seed + 1);
      for (let i = 0; i < 100; i++) {
        const b = codec.encode(random);
        const padded = new Uint8Array(b.length + 1);
        padded.set(b);
        expect(() => codec.decode(padded)).toThrow(/trailing bytes/);
      }
    });

    test('random bytes: a CodecError or a message that re-encodes to the same bytes', () => {
      const random = seededRandom(seed + 2);
      for (let i = 0; i < 20_000; i++) {
        const b = new Uint8Array(int(random, 40));
        for (let j = 0; j < b.length; j++) b[j] = int(random, 256);
        if (random() < 0.8 && b.length > 0) b[0] = 1; // mostly past the version byte, to reach deeper fields
        const m = decodeOrCodecError(codec, b, `random ${i}`);
        if (m !== undefined) expect(codec.reencode(m), `random ${i}`).toStrictEqual(b);
      }
    });

    test('mutated valid messages: a CodecError or a message that re-encodes to the same bytes', () => {
      const random = seededRandom(seed + 3);
      for (let i = 0; i < 5000; i++) {
        const b = codec.encode(random).slice();
        if (b.length === 0) continue;
        for (let flips = 1 + int(random, 3); flips > 0; flips--) {
          const at = int(random, b.length);
          b[at] = random() < 0.5 ? b[at]! ^ (1 << int(random, 8)) : int(random, 256);
        }
        const m = decodeOrCodecError(codec, b, `mutation ${i}`);
        if (m !== undefined) expect(codec.reencode(m), `mutation ${i}`).toStrictEqual(b);
      }
    });
  },
);

test('a huge count in a few bytes is refused before anything is allocated', () => {
  // version, batch kind, clientId 1, ackedSeq 0, count 2^53-1.
  const b = new Uint8Array([1, 2, 1, 0, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x0f]);
  expect(() => decodeRequest(b)).toThrow(/command count: count \d+ needs at least/);
});
