import type { Entry } from '@xraft/core';

/**
 * The entries of an AppendEntries travel packed into one buffer instead of as
 * an array of objects: structured clone then copies one ArrayBuffer per batch
 * instead of serializing every entry's fields and allocating an ArrayBuffer
 * per entry on the receiving side. Each entry is its term (varuint), its type
 * (one byte: 0 normal, 1 noop) and its data (varuint length, then the bytes);
 * indexes are implicit, contiguous after prevLogIndex (§5.3).
 */
const TYPE_CODES = { normal: 0, noop: 1 } as const;
const TYPES = ['normal', 'noop'] as const;
/** A safe integer takes at most 8 LEB128 bytes (53 bits / 7). */
const MAX_VARUINT_BYTES = 8;

/**
 * The last batch packed: a leader sends the same entries to every follower
 * that is up to date, so they are packed once per Ready, not once per peer.
 */
let last: { first: Entry; end: Entry; count: number; bytes: Uint8Array } | null = null;

/** packEntries packs `entries` into one buffer (the same one for the same entries sent to several peers). */
export function packEntries(entries: readonly Entry[]): Uint8Array {
  const count = entries.length;
  if (count === 0) return new Uint8Array(0);
  const first = entries[0]!;
  const end = entries[count - 1]!;
  if (last !== null && last.first === first && last.end === end && last.count === count) return last.bytes;
  let size = 0;
  for (const e of entries) size += 1 + 2 * MAX_VARUINT_BYTES + e.data.byteLength;
  const buf = new Uint8Array(size);
  let pos = 0;
  const varuint = (value: number): void => {
    let v = value;
    while (v >= 0x80) {
      buf[pos++] = (v % 0x80) | 0x80;
      v = Math.floor(v / 0x80);
    }
    buf[pos++] = v;
  };
  for (const e of entries) {
    varuint(e.term);
    buf[pos++] = TYPE_CODES[e.type];
    varuint(e.data.byteLength);
    buf.set(e.data, pos);
    pos += e.data.byteLength;
  }
  const bytes = buf.slice(0, pos);
  last = { first, end, count, bytes };
  return bytes;
}

/**
 * unpackEntries reads what {@link packEntries} wrote, trusting nothing: the
 * entries (their data views into `bytes`) or why they are malformed. They must
 * be contiguous after `prevLogIndex`, with terms at least `prevLogTerm`, never
 * decreasing and never above the leader's `term` (Log Matching, §5.3).
 */
export function unpackEntries(
  bytes: Uint8Array,
  prevLogIndex: number,
  prevLogTerm: number,
  term: number,
): Entry[] | string {
  const entries: Entry[] = [];
  let pos = 0;
  let lastTerm = prevLogTerm;
  const varuint = (): number | null => {
    let value = 0;
    let scale = 1;
    for (let i = 0; i < MAX_VARUINT_BYTES && pos < bytes.length; i++) {
      const b = bytes[pos++]!;
      value += (b & 0x7f) * scale;
      if (b < 0x80) return Number.isSafeInteger(value) ? value : null;
      scale *= 0x80;
    }
    return null;
  };
  while (pos < bytes.length) {
    const index = prevLogIndex + entries.length + 1;
    const entryTerm = varuint();
    if (entryTerm === null) return `entry ${index} has a malformed term at byte ${pos}`;
    if (entryTerm < lastTerm || entryTerm > term) {
      return `entry ${index} has term ${entryTerm} outside [${lastTerm}, ${term}]`;
    }
    const type = TYPES[bytes[pos++] ?? -1];
    if (type === undefined) return `entry ${index} has type code ${bytes[pos - 1]}`;
    const length = varuint();
    if (length === null || pos + length > bytes.length) {
      return `entry ${index} has data past the end of the ${bytes.length} bytes`;
    }
    entries.push({ index, term: entryTerm, type, data: bytes.subarray(pos, pos + length) });
    pos += length;
    lastTerm = entryTerm;
  }
  return entries;
}
