/**
 * The KV store's snapshot format (log compaction, thesis §5): the whole map
 * and every client session (§6.3: sessions must survive compaction, or a
 * retried request could be applied twice).
 *
 * ```
 * header  = magic "XKVS" | version u8 | 3 zero bytes | body length u32 hi | u32 lo   (16 bytes)
 * body    = lastApplied | keyCount | (key value)* in key order
 *         | sessionCount | (clientId lastActive ackedSeq resultCount result*)* least recently active first
 * trailer = crc32(header + body) u32
 * ```
 *
 * Integers in the body are varuints and values use the codec's encoding
 * (codec.ts). Writing is one pass into a doubling buffer (O(n)); reading
 * rebuilds the ordered map from the already sorted keys (O(n), no sort).
 */
import { ByteReader, ByteWriter } from './binary.js';
import { readCommandResult, readValue, writeCommandResult, writeValue } from './codec.js';
import type { Value } from './commands.js';
import { crc32 } from './crc32.js';
import { CodecError, SnapshotError } from './errors.js';
import { OrderedMap } from './ordered-map.js';
import { Session, SessionResults } from './sessions.js';

/** SNAPSHOT_VERSION is the version byte this build writes and the only one it reads. */
export const SNAPSHOT_VERSION = 1;
const MAGIC = [0x58, 0x4b, 0x56, 0x53]; // "XKVS"
const HEADER = 16;
const TRAILER = 4;
const TWO_32 = 0x1_0000_0000;

/** KvSnapshotState is what a snapshot holds. */
export interface KvSnapshotState {
  /** Log index of the last entry applied before the snapshot. */
  readonly lastApplied: number;
  readonly data: OrderedMap<Value>;
  /** Least recently active first. */
  readonly sessions: Iterable<Session>;
}

/** encodeSnapshot serializes the state (see the format above). */
export function encodeSnapshot(state: KvSnapshotState): Uint8Array {
  const w = new ByteWriter(HEADER + TRAILER + state.data.size * 24);
  for (const b of MAGIC) w.u8(b);
  w.u8(SNAPSHOT_VERSION);
  for (let i = 0; i < 3; i++) w.u8(0);
  w.u32(0); // body length, patched below
  w.u32(0);
  w.varuint(state.lastApplied);
  w.varuint(state.data.size);
  for (const [key, value] of state.data.entries()) {
    w.string(key);
    writeValue(w, value);
  }
  const sessions = [...state.sessions];
  w.varuint(sessions.length);
  for (const s of sessions) {
    w.varuint(s.clientId);
    w.varuint(s.lastActive);
    w.varuint(s.ackedSeq);
    w.varuint(s.results.size);
    for (const result of s.results.values()) writeCommandResult(w, result);
  }
  const bodyLength = w.length - HEADER;
  w.u32At(8, Math.floor(bodyLength / TWO_32));
  w.u32At(12, bodyLength >>> 0);
  w.u32(crc32(w.written()));
  return w.finish();
}

/**
 * decodeSnapshot parses and validates a snapshot: framing, checksum, then
 * every field and invariant. Throws a {@link SnapshotError} saying what is wrong.
 */
export function decodeSnapshot(bytes: Uint8Array, load?: number): KvSnapshotState {
  if (bytes.length < HEADER + TRAILER) {
    throw new SnapshotError(`${bytes.length} bytes is shorter than the ${HEADER + TRAILER}-byte frame`);
  }
  if (MAGIC.some((b, i) => bytes[i] !== b)) throw new SnapshotError('bad magic (not a kv snapshot)');
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const version = bytes[4]!;
  if (version !== SNAPSHOT_VERSION) {
    throw new SnapshotError(`version ${version}; this build reads version ${SNAPSHOT_VERSION}`);
  }
  if (bytes[5] !== 0 || bytes[6] !== 0 || bytes[7] !== 0)
    throw new SnapshotError('reserved header bytes are not zero');
  const bodyLength = view.getUint32(8) * TWO_32 + view.getUint32(12);
  if (HEADER + bodyLength + TRAILER !== bytes.length) {
    throw new SnapshotError(
      `header says ${bodyLength} body bytes but ${bytes.length - HEADER - TRAILER} are there (truncated or padded)`,
    );
  }
  const stored = view.getUint32(bytes.length - TRAILER);
  const actual = crc32(bytes.subarray(0, bytes.length - TRAILER));
  if (stored !== actual) {
    throw new SnapshotError(`checksum mismatch (stored ${hex(stored)}, computed ${hex(actual)})`);
  }
  const r = new ByteReader(bytes.subarray(HEADER, HEADER + bodyLength), 'kv snapshot body');
  try {
    return readBody(r, load);
  } catch (err) {
    if (err instanceof CodecError || err instanceof RangeError) throw new SnapshotError(err.message);
    throw err;
  }
}

function readBody(r: ByteReader, load: number | undefined): KvSnapshotState {
  const lastApplied = r.varuint('lastApplied');
  const keyCount = r.count('key count', 3);
  const data = new OrderedMap<Value>(load);
  data.loadSorted(
    (function* pairs(): Generator<[string, Value]> {
      for (let i = 0; i < keyCount; i++) yield [r.string('key'), readValue(r, 'value')];
    })(),
  );
  const sessionCount = r.count('session count', 4);
  const sessions: Session[] = [];
  for (let i = 0; i < sessionCount; i++) {
    const at = r.offset;
    const clientId = r.varuint('clientId');
    const lastActive = r.varuint('lastActive');
    const ackedSeq = r.varuint('ackedSeq');
    const n = r.count('result count', 2);
    const results = new SessionResults();
    for (let j = 0; j < n; j++) {
      const result = readCommandResult(r);
      if (result.seq < ackedSeq || results.has(result.seq)) {
        r.fail(
          `session ${clientId}: result for seq ${result.seq} is duplicate or below ackedSeq ${ackedSeq}`,
          at,
        );
      }
      results.set(result);
    }
    if (lastActive > lastApplied)
      r.fail(`session ${clientId} active at ${lastActive} > lastApplied ${lastApplied}`, at);
    sessions.push(new Session(clientId, lastActive, ackedSeq, results));
  }
  r.end();
  return { lastApplied, data, sessions };
}

function hex(n: number): string {
  return `0x${n.toString(16).padStart(8, '0')}`;
}
