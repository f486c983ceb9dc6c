import { crc32c } from '@node-rs/crc32';
import type { Entry, HardState } from '@xraft/core';

/**
 * The write-ahead log's on-disk format. A node's log is a sequence of segment
 * files `<seq>.wal` (seq: 16 decimal digits, consecutive). A segment is a
 * sequence of groups, one per group commit (one `writev` + `fdatasync`), each
 * a sequence of records:
 *
 * ```
 * record  = length u32 LE | crc32c(payload) u32 LE | payload (length bytes)
 * payload = kind u8 | body
 * group   = Begin record (body: the group's length in bytes, itself included)
 *         | the records of one or more persists, each its hard state first, then its entries
 * ```
 *
 * Replay applies a group only when every record of it is whole and verified,
 * so a group cut short by a crash is never half-applied, and a persist (which
 * never spans groups) is atomic. A Begin record after damaged bytes proves a
 * later group was written, hence that the damage is not a torn final write.
 * Every segment starts with a group `[Begin][Header][HardState]` carrying the
 * compaction point and hard state at the time the segment was started, so
 * older segments can be deleted after compaction (§7). A segment started by
 * installing a leader's snapshot adds an `Install` record to that group: the
 * commit point of the install (`DiskStorage.installSnapshot`).
 *
 * Numbers are float64 LE: indexes and terms are JavaScript safe integers.
 */

/** RecordKind tells what a record's body holds. */
export const RecordKind = {
  /** First record of every segment after its Begin: format magic, segment seq, compaction point (index, term). */
  Header: 1,
  /** The hard state (term, commit, vote). */
  HardState: 2,
  /** One log entry (index, term, type, data). */
  Entry: 3,
  /** First record of every group: the group's total length. */
  Begin: 4,
  /** A snapshot from the leader was installed (§7): compaction point (index, term), entries after `last` discarded. */
  Install: 5,
} as const;
export type RecordKind = (typeof RecordKind)[keyof typeof RecordKind];

/** HEADER_BYTES is the size of a record's length and checksum. */
export const HEADER_BYTES = 8;
/** MAX_PAYLOAD is the largest payload accepted, so that a corrupt length cannot make a reader allocate gigabytes. */
export const MAX_PAYLOAD = 64 * 1024 * 1024;
/** MAGIC identifies the format in every segment header ("xraftWAL", format version 1). */
const MAGIC = 0x7872_6166_7457_414cn;
const FORMAT_VERSION = 1;

const ENTRY_BODY = 1 + 1 + 8 + 8; // kind, type, index, term
const HARDSTATE_BODY = 1 + 8 + 8 + 1; // kind, term, commit, vote present
const HEADER_BODY = 1 + 8 + 2 + 8 + 8 + 8; // kind, magic, version, seq, offset, offsetTerm
const BEGIN_BODY = 1 + 8; // kind, group length
const INSTALL_BODY = 1 + 8 + 8 + 8; // kind, index, term, last
/** BEGIN_BYTES is the size of a group's Begin record. */
export const BEGIN_BYTES = HEADER_BYTES + BEGIN_BODY;

/** SegmentHeader is the body of a Header record. */
export interface SegmentHeader {
  readonly seq: number;
  /** The compaction point when the segment was started. */
  readonly offset: number;
  readonly offsetTerm: number;
}

/**
 * InstallRecord is the body of an Install record: the snapshot covering the log
 * through `index` (whose entry has `term`) became the server's state (§7);
 * entries after `last` are discarded, entries through `index` compacted.
 * `last` is `index` when the whole log was discarded, or the last stored
 * entry when the log held the snapshot's last entry and its suffix was kept.
 */
export interface InstallRecord {
  readonly index: number;
  readonly term: number;
  readonly last: number;
}

/** WalRecord is one decoded record. */
export type WalRecord =
  | { readonly kind: typeof RecordKind.Header; readonly header: SegmentHeader }
  | { readonly kind: typeof RecordKind.Install; readonly install: InstallRecord }
  | { readonly kind: typeof RecordKind.HardState; readonly hardState: HardState }
  | { readonly kind: typeof RecordKind.Entry; readonly entry: Entry }
  | { readonly kind: typeof RecordKind.Begin; readonly groupBytes: number };

const encoder = new TextEncoder();
const decoder = new TextDecoder('utf-8', { fatal: true });

/**
 * encodeWrite encodes one persist as records, the hard state first, then
 * the entries; a group commit frames one or more of them with
 * {@link encodeBegin}. Returns null for an empty write.
 */
export function encodeWrite(hardState: HardState | null, entries: readonly Entry[]): Buffer | null {
  if (hardState !== null && (!isCount(hardState.term) || !isCount(hardState.commit))) {
    throw new RangeError(
      `persist: hard state term ${hardState.term} and commit ${hardState.commit} must be non-negative integers`,
    );
  }
  const vote = hardState?.vote != null ? encoder.encode(hardState.vote) : null;
  let size = 0;
  if (hardState !== null) size += HEADER_BYTES + HARDSTATE_BODY + (vote?.length ?? 0);
  for (const e of entries) {
    if (!isCount(e.index) || e.index < 1 || !isCount(e.term) || (e.type !== 'normal' && e.type !== 'noop')) {
      throw new RangeError(
        `persist: entry index ${e.index}, term ${e.term}, type ${JSON.stringify(e.type)} is not a log entry`,
      );
    }
    if (e.data.length > MAX_PAYLOAD - ENTRY_BODY) {
      throw new RangeError(
        `persist: entry ${e.index} holds ${e.data.length} bytes, more than the ${MAX_PAYLOAD - ENTRY_BODY} a log record can`,
      );
    }
    size += HEADER_BYTES + ENTRY_BODY + e.data.length;
  }
  if (size === 0) return null;
  const buf = Buffer.allocUnsafe(size);
  let at = 0;
  if (hardState !== null) at = putHardState(buf, at, hardState, vote);
  for (const e of entries) at = putEntry(buf, at, e);
  return buf;
}

/** encodeBegin encodes the Begin record of a group whose other records take `bytes` bytes. */
export function encodeBegin(bytes: number): Buffer {
  const buf = Buffer.allocUnsafe(BEGIN_BYTES);
  buf[HEADER_BYTES] = RecordKind.Begin;
  buf.writeDoubleLE(BEGIN_BYTES + bytes, HEADER_BYTES + 1);
  seal(buf, 0, BEGIN_BODY);
  return buf;
}

/**
 * encodeSegmentStart encodes the group that starts a segment: Begin, its
 * header, the hard state, and the Install record of the snapshot installed
 * when the segment starts for one.
 */
export function encodeSegmentStart(
  header: SegmentHeader,
  hardState: HardState,
  install: InstallRecord | null = null,
): Buffer {
  const vote = hardState.vote !== null ? encoder.encode(hardState.vote) : null;
  const size =
    HEADER_BYTES +
    HEADER_BODY +
    HEADER_BYTES +
    HARDSTATE_BODY +
    (vote?.length ?? 0) +
    (install === null ? 0 : HEADER_BYTES + INSTALL_BODY);
  const buf = Buffer.allocUnsafe(BEGIN_BYTES + size);
  encodeBegin(size).copy(buf, 0);
  let at = BEGIN_BYTES + HEADER_BYTES;
  buf[at] = RecordKind.Header;
  buf.writeBigUInt64LE(MAGIC, at + 1);
  buf.writeUInt16LE(FORMAT_VERSION, at + 9);
  buf.writeDoubleLE(header.seq, at + 11);
  buf.writeDoubleLE(header.offset, at + 19);
  buf.writeDoubleLE(header.offsetTerm, at + 27);
  at = seal(buf, BEGIN_BYTES, HEADER_BODY);
  at = putHardState(buf, at, hardState, vote);
  if (install !== null) {
    const p = at + HEADER_BYTES;
    buf[p] = RecordKind.Install;
    buf.writeDoubleLE(install.index, p + 1);
    buf.writeDoubleLE(install.term, p + 9);
    buf.writeDoubleLE(install.last, p + 17);
    seal(buf, at, INSTALL_BODY);
  }
  return buf;
}

function putHardState(buf: Buffer, at: number, hs: HardState, vote: Uint8Array | null): number {
  const p = at + HEADER_BYTES;
  buf[p] = RecordKind.HardState;
  buf.writeDoubleLE(hs.term, p + 1);
  buf.writeDoubleLE(hs.commit, p + 9);
  buf[p + 17] = vote === null ? 0 : 1;
  if (vote !== null) buf.set(vote, p + 18);
  return seal(buf, at, HARDSTATE_BODY + (vote?.length ?? 0));
}

function putEntry(buf: Buffer, at: number, e: Entry): number {
  const p = at + HEADER_BYTES;
  buf[p] = RecordKind.Entry;
  buf[p + 1] = e.type === 'noop' ? 1 : 0;
  buf.writeDoubleLE(e.index, p + 2);
  buf.writeDoubleLE(e.term, p + 10);
  buf.set(e.data, p + ENTRY_BODY);
  return seal(buf, at, ENTRY_BODY + e.data.length);
}

/** seal writes the length and checksum of the payload at `at + 8`; returns the offset after the record. */
function seal(buf: Buffer, at: number, length: number): number {
  const p = at + HEADER_BYTES;
  buf.writeUInt32LE(length, at);
  buf.writeUInt32LE(crc32c(buf.subarray(p, p + length)), at + 4);
  return p + length;
}

/** ReadResult is what readRecord finds at an offset. */
export type ReadResult =
  | { readonly ok: true; readonly record: WalRecord; readonly next: number }
  | {
      readonly ok: false;
      /** The record runs past the end of the file: a write cut short, or a corrupt length. */
      readonly incomplete: boolean;
      readonly detail: string;
    };

/**
 * readRecord decodes and verifies the record at `at`, which must end by
 * `end` (the end of the file, or of its group): its length is sane, its
 * checksum matches, its body is well formed. Never throws on bad bytes.
 */
export function readRecord(buf: Buffer, at: number, end = buf.length): ReadResult {
  if (at + HEADER_BYTES > end) {
    return { ok: false, incomplete: true, detail: `${end - at} bytes, less than a record header` };
  }
  const length = buf.readUInt32LE(at);
  if (length < 1 || length > MAX_PAYLOAD) {
    return { ok: false, incomplete: false, detail: `record length ${length} is impossible` };
  }
  const p = at + HEADER_BYTES;
  if (p + length > end) {
    return {
      ok: false,
      incomplete: true,
      detail: `record of ${length} bytes runs past the end of its ${end === buf.length ? 'file' : 'group'} (${end - p} bytes left)`,
    };
  }
  const stored = buf.readUInt32LE(at + 4);
  const payload = buf.subarray(p, p + length);
  const computed = crc32c(payload);
  if (stored !== computed) {
    return {
      ok: false,
      incomplete: false,
      detail: `record checksum mismatch (stored 0x${hex(stored)}, computed 0x${hex(computed)})`,
    };
  }
  const record = decodePayload(payload);
  if (typeof record === 'string') return { ok: false, incomplete: false, detail: record };
  return { ok: true, record, next: p + length };
}

/** decodePayload parses a checksummed payload; returns a description of what is wrong instead of throwing. */
function decodePayload(p: Buffer): WalRecord | string {
  const kind = p[0]!;
  switch (kind) {
    case RecordKind.Entry: {
      if (p.length < ENTRY_BODY) return `entry record of ${p.length} bytes is too short`;
      const type = p[1];
      if (type !== 0 && type !== 1) return `entry record has unknown type ${type}`;
      const index = p.readDoubleLE(2);
      const term = p.readDoubleLE(10);
      if (!isCount(index) || index < 1 || !isCount(term))
        return `entry record has index ${index}, term ${term}`;
      const data = new Uint8Array(p.length - ENTRY_BODY);
      data.set(p.subarray(ENTRY_BODY));
      return { kind, entry: { index, term, type: type === 1 ? 'noop' : 'normal', data } };
    }
    case RecordKind.HardState: {
      if (p.length < HARDSTATE_BODY) return `hard-state record of ${p.length} bytes is too short`;
      const term = p.readDoubleLE(1);
      const commit = p.readDoubleLE(9);
      if (!isCount(term) || !isCount(commit)) return `hard-state record has term ${term}, commit ${commit}`;
      let vote: string | null = null;
      if (p[17] === 1) {
        try {
          vote = decoder.decode(p.subarray(HARDSTATE_BODY));
        } catch {
          return 'hard-state record has a vote that is not UTF-8';
        }
      } else if (p[17] !== 0 || p.length !== HARDSTATE_BODY) {
        return 'hard-state record has a malformed vote';
      }
      return { kind, hardState: { term, vote, commit } };
    }
    case RecordKind.Header: {
      if (p.length !== HEADER_BODY) return `segment header record of ${p.length} bytes has the wrong size`;
      if (p.readBigUInt64LE(1) !== MAGIC) return 'segment header has the wrong magic number';
      const version = p.readUInt16LE(9);
      if (version !== FORMAT_VERSION) {
        return `segment format version ${version} is not ${FORMAT_VERSION}, the one this build reads`;
      }
      const seq = p.readDoubleLE(11);
      const offset = p.readDoubleLE(19);
      const offsetTerm = p.readDoubleLE(27);
      if (!isCount(seq) || !isCount(offset) || !isCount(offsetTerm)) return 'segment header has bad numbers';
      return { kind, header: { seq, offset, offsetTerm } };
    }
    case RecordKind.Install: {
      if (p.length !== INSTALL_BODY) return `install record of ${p.length} bytes has the wrong size`;
      const index = p.readDoubleLE(1);
      const term = p.readDoubleLE(9);
      const last = p.readDoubleLE(17);
      if (!isCount(index) || index < 1 || !isCount(term) || !isCount(last) || last < index)
        return `install record has index ${index}, term ${term}, last ${last}`;
      return { kind, install: { index, term, last } };
    }
    case RecordKind.Begin: {
      if (p.length !== BEGIN_BODY) return `group begin record of ${p.length} bytes has the wrong size`;
      const groupBytes = p.readDoubleLE(1);
      if (!isCount(groupBytes) || groupBytes < BEGIN_BYTES) return `group length ${groupBytes} is impossible`;
      return { kind, groupBytes };
    }
    default:
      return `unknown record kind ${kind}`;
  }
}

/**
 * findGroupBegin looks for any offset in [from, buf.length) where a whole,
 * checksummed Begin record starts. Used to tell a torn tail (no later group
 * after the damage) from damage in the middle (a later group follows).
 */
export function findGroupBegin(buf: Buffer, from: number): number {
  for (let q = from; q + BEGIN_BYTES <= buf.length; q++) {
    if (buf.readUInt32LE(q) !== BEGIN_BODY || buf[q + HEADER_BYTES] !== RecordKind.Begin) continue;
    if (readRecord(buf, q).ok) return q;
  }
  return -1;
}

function isCount(n: number): boolean {
  return Number.isSafeInteger(n) && n >= 0;
}

function hex(n: number): string {
  return n.toString(16).padStart(8, '0');
}
