// Shared generators for the kv tests: random keys, values, commands and
// messages drawn from a seeded PRNG (every random test prints its seed;
// XRAFT_SEED=<seed> replays it).
import { type Random, seededRandom } from '@xraft/core';
import { testSeed } from '../../../tools/testing/seed.js';
import { encodeEntry } from '../src/codec.js';
import type {
  KvApplyResult,
  KvCommand,
  KvCommandResult,
  KvEntry,
  KvOp,
  KvPair,
  KvQuery,
  KvQueryResult,
  Value,
} from '../src/commands.js';
import type { KvRequest, KvResponse } from '../src/protocol.js';
import { KvStateMachine } from '../src/state-machine.js';

export { type Random, seededRandom, testSeed };

/** int is a uniform integer in [0, n). */
export const int = (random: Random, n: number): number => Math.floor(random() * n);
/** pick is a uniform element of `items`. */
export const pick = <T>(random: Random, items: readonly T[]): T => items[int(random, items.length)]!;

/** Characters of 1 to 4 UTF-8 bytes (😀 is a surrogate pair in UTF-16; U+FEFF looks like a byte order mark). */
const CHARS = ['a', 'b', 'z', '/', '0', ' ', 'é', 'ß', '中', '€', '😀', '\u0000', '\uffff', '\ufeff'];

/** randomString is a well-formed string of up to `max` characters mixing 1- to 4-byte UTF-8. */
export function randomString(random: Random, max = 12): string {
  let s = '';
  for (let n = int(random, max + 1); n > 0; n--) s += pick(random, CHARS);
  return s;
}

/** randomBytes is up to `max` random bytes. */
export function randomBytes(random: Random, max = 12): Uint8Array {
  const out = new Uint8Array(int(random, max + 1));
  for (let i = 0; i < out.length; i++) out[i] = int(random, 256);
  return out;
}

/** randomValue is a string or bytes, evenly. */
export function randomValue(random: Random, max = 12): Value {
  return random() < 0.5 ? randomString(random, max) : randomBytes(random, max);
}

/** randomKey draws from a small key space (so operations collide) with shared prefixes. */
export function randomKey(random: Random): string {
  return `${pick(random, ['a', 'ab', 'b', 'é', '😀'])}${int(random, 6)}`;
}

/** randomOp is one mutating operation on a random key. */
export function randomOp(random: Random, key = randomKey(random)): KvOp {
  switch (int(random, 4)) {
    case 0:
      return { type: 'put', key, value: randomValue(random) };
    case 1:
      return { type: 'delete', key };
    case 2:
      return { type: 'append', key, suffix: randomValue(random, 4) };
    default:
      return {
        type: 'cas',
        key,
        expected: random() < 0.3 ? undefined : randomValue(random, 2),
        value: randomValue(random),
      };
  }
}

/** randomEntry is a register entry or a batch of random commands. */
export function randomEntry(random: Random): KvEntry {
  if (random() < 0.1) return { type: 'register' };
  const commands: KvCommand[] = [];
  for (let n = int(random, 6); n > 0; n--)
    commands.push({ ...randomOp(random, randomString(random)), seq: bigish(random) });
  return { type: 'batch', clientId: bigish(random), ackedSeq: bigish(random), commands };
}

/** randomQuery is a get or a list. */
export function randomQuery(random: Random): KvQuery {
  return random() < 0.5
    ? { type: 'get', key: randomString(random) }
    : { type: 'list', prefix: randomString(random), limit: random() < 0.5 ? undefined : bigish(random) };
}

/** randomRequest is any client request. */
export function randomRequest(random: Random): KvRequest {
  if (random() < 0.6) return randomEntry(random);
  const queries: KvQuery[] = [];
  for (let n = int(random, 5); n > 0; n--) queries.push(randomQuery(random));
  return {
    type: 'read',
    mode: pick(random, ['linearizable', 'lease', 'stale'] as const),
    leaseClockDriftMs: bigish(random),
    queries,
  };
}

function randomQueryResult(random: Random): KvQueryResult {
  if (random() < 0.5) return { type: 'value', value: random() < 0.3 ? undefined : randomValue(random) };
  const pairs = [];
  for (let n = int(random, 4); n > 0; n--)
    pairs.push({ key: randomString(random), value: randomValue(random) });
  return { type: 'pairs', pairs };
}

/** randomResponse is any node response. */
export function randomResponse(random: Random): KvResponse {
  const seq = () => bigish(random);
  switch (int(random, 7)) {
    case 0:
      return { type: 'registered', clientId: bigish(random) };
    case 1: {
      const results = [];
      for (let n = int(random, 5); n > 0; n--) {
        results.push(
          pick(random, [
            { seq: seq(), type: 'ok' as const },
            { seq: seq(), type: 'deleted' as const, existed: random() < 0.5 },
            { seq: seq(), type: 'cas' as const, swapped: random() < 0.5 },
            { seq: seq(), type: 'stale' as const },
          ]),
        );
      }
      return { type: 'applied', clientId: bigish(random), results };
    }
    case 2:
      return { type: 'sessionExpired', clientId: bigish(random) };
    case 3:
      return { type: 'rejected', reason: randomString(random, 30) };
    case 4:
      return { type: 'unavailable', reason: randomString(random, 30) };
    case 5:
      return { type: 'notLeader', leaderHint: random() < 0.3 ? null : randomString(random, 5) };
    default: {
      const results: KvQueryResult[] = [];
      for (let n = int(random, 4); n > 0; n--) results.push(randomQueryResult(random));
      return { type: 'read', results };
    }
  }
}

/** bigish is a non-negative integer of any magnitude up to 2^53-1, weighted to small ones. */
export function bigish(random: Random): number {
  const r = random();
  if (r < 0.5) return int(random, 200);
  if (r < 0.9) return int(random, 2 ** 32);
  return Math.min(Number.MAX_SAFE_INTEGER, Math.floor(random() * 2 ** 53));
}

const utf8 = new TextEncoder();
/** bytes is the UTF-8 of `s`. */
export const bytes = (s: string): Uint8Array => utf8.encode(s);

/**
 * Replica drives one KvStateMachine the way a node does: encoded entries at
 * increasing log indexes (skip() leaves gaps, as no-op and configuration
 * entries do, which the host never hands to the state machine).
 */
export class Replica {
  index = 0;
  constructor(readonly sm: KvStateMachine = new KvStateMachine()) {}

  apply(entry: KvEntry): KvApplyResult {
    return this.sm.apply(encodeEntry(entry), ++this.index);
  }

  /** register opens a session and returns its client id. */
  register(): number {
    const r = this.apply({ type: 'register' });
    if (r.type !== 'registered') throw new Error(`register answered ${r.type}`);
    return r.clientId;
  }

  /** batch applies one batch of `clientId`; commands are [seq, op]. */
  batch(clientId: number, ackedSeq: number, ...commands: Array<[number, KvOp]>): KvApplyResult {
    return this.apply({
      type: 'batch',
      clientId,
      ackedSeq,
      commands: commands.map(([seq, op]) => ({ ...op, seq })),
    });
  }

  /** results is the per-command results of an applied batch (throws for any other outcome). */
  results(clientId: number, ackedSeq: number, ...commands: Array<[number, KvOp]>): KvCommandResult[] {
    const r = this.batch(clientId, ackedSeq, ...commands);
    if (r.type !== 'applied') throw new Error(`batch answered ${JSON.stringify(r)}`);
    return [...r.results];
  }

  skip(n: number): void {
    this.index += n;
  }

  get(key: string): Value | undefined {
    const r = this.sm.query({ type: 'get', key });
    if (r.type !== 'value') throw new Error('get answered pairs');
    return r.value;
  }

  list(prefix: string, limit?: number): KvPair[] {
    const r = this.sm.query({ type: 'list', prefix, limit });
    if (r.type !== 'pairs') throw new Error('list answered a value');
    return [...r.pairs];
  }
}

export const put = (key: string, value: Value): KvOp => ({ type: 'put', key, value });
export const del = (key: string): KvOp => ({ type: 'delete', key });
export const append = (key: string, suffix: Value): KvOp => ({ type: 'append', key, suffix });
export const cas = (key: string, expected: Value | undefined, value: Value): KvOp => ({
  type: 'cas',
  key,
  expected,
  value,
});

/** sameBytes compares two byte arrays fast (vitest's deep equality walks large arrays element by element). */
export function sameBytes(a: Uint8Array, b: Uint8Array): boolean {
  return Buffer.from(a.buffer, a.byteOffset, a.byteLength).equals(
    Buffer.from(b.buffer, b.byteOffset, b.byteLength),
  );
}
