import { CodecError } from './errors.js';

const encoder = new TextEncoder();
/**
 * `fatal`: invalid UTF-8 throws instead of decoding to U+FFFD (rethrown as a CodecError);
 * `ignoreBOM`: a leading U+FEFF is part of the string, not a byte order mark to strip.
 */
const decoder = new TextDecoder('utf-8', { fatal: true, ignoreBOM: true });

/** Values a varuint may carry: the safe integers, so every one survives a round trip through a JS number. */
const MAX_VARUINT = Number.MAX_SAFE_INTEGER;
/** A safe integer takes at most 8 LEB128 bytes (53 bits / 7). */
const MAX_VARUINT_BYTES = 8;
/** The largest buffer {@link ByteWriter.reset} keeps. */
const MAX_KEPT_BYTES = 64 * 1024;
/**
 * Strings up to this long are tried as ASCII first, written byte by byte:
 * below it that beats TextEncoder.encodeInto's fixed cost (~55 ns a call on
 * Node 20; a byte-by-byte loop costs ~2 ns a character).
 */
const SHORT_STRING = 24;
/** The size of the buffers {@link ByteWriter.copyShared} carves copies from. */
const SLAB_BYTES = 8 * 1024;
let slab = new Uint8Array(SLAB_BYTES);
let slabUsed = 0;

/**
 * ByteWriter builds a binary message in one growable buffer (doubling, so
 * writing n bytes costs O(n) however they arrive). Integers are unsigned
 * LEB128 varuints; strings are a varuint byte length then UTF-8.
 */
export class ByteWriter {
  private buf: Uint8Array;
  private view: DataView;
  /** Bytes written so far. Invariant: pos <= buf.length. */
  private pos = 0;

  constructor(initialCapacity = 256) {
    this.buf = new Uint8Array(Math.max(16, initialCapacity));
    this.view = new DataView(this.buf.buffer);
  }

  /** length is the number of bytes written. */
  get length(): number {
    return this.pos;
  }

  /** u8 writes one byte. */
  u8(value: number): void {
    this.reserve(1);
    this.buf[this.pos++] = value;
  }

  /** u32 writes a big-endian uint32. */
  u32(value: number): void {
    this.reserve(4);
    this.view.setUint32(this.pos, value);
    this.pos += 4;
  }

  /** u32At overwrites a big-endian uint32 already written at `offset` (headers patched at the end). */
  u32At(offset: number, value: number): void {
    if (offset < 0 || offset + 4 > this.pos)
      throw new RangeError(`u32At(${offset}) outside the ${this.pos} bytes written`);
    this.view.setUint32(offset, value);
  }

  /** varuint writes a non-negative safe integer as unsigned LEB128. */
  varuint(value: number): void {
    if (!Number.isSafeInteger(value) || value < 0) {
      throw new RangeError(`varuint: ${value} is not a non-negative safe integer`);
    }
    this.reserve(MAX_VARUINT_BYTES);
    this.putVaruint(value);
  }

  /** bool writes 1 or 0. */
  bool(value: boolean): void {
    this.u8(value ? 1 : 0);
  }

  /** bytes writes a varuint length then the bytes. */
  bytes(value: Uint8Array): void {
    this.varuint(value.length);
    this.raw(value);
  }

  /** raw writes bytes with no length prefix. */
  raw(value: Uint8Array): void {
    this.reserve(value.length);
    this.buf.set(value, this.pos);
    this.pos += value.length;
  }

  /** string writes a varuint UTF-8 byte length then the UTF-8 (encoded in place, no intermediate copy). */
  string(value: string): void {
    const n = value.length;
    if (n <= SHORT_STRING) {
      this.reserve(1 + n);
      const buf = this.buf;
      let at = this.pos + 1;
      let i = 0;
      for (; i < n; i++) {
        const c = value.charCodeAt(i);
        if (c >= 0x80) break;
        buf[at++] = c;
      }
      if (i === n) {
        buf[this.pos] = n;
        this.pos = at;
        return;
      }
    }
    // UTF-8 takes at most 3 bytes per UTF-16 code unit; reserve that much, encode in place after a
    // provisional length, and move the bytes only when the real length needs a different varuint width.
    const max = value.length * 3;
    const lenBytes = varuintSize(max);
    this.reserve(lenBytes + max);
    const start = this.pos + lenBytes;
    const { written } = encoder.encodeInto(value, this.buf.subarray(start));
    const actual = varuintSize(written);
    if (actual !== lenBytes) this.buf.copyWithin(this.pos + actual, start, start + written);
    this.putVaruint(written); // No reserve: the space is already there, and growing now would drop the UTF-8.
    this.pos += written;
  }

  /** written is a view of the bytes written so far, valid until the next write. */
  written(): Uint8Array {
    return this.buf.subarray(0, this.pos);
  }

  /**
   * finish returns the bytes written, in an ArrayBuffer of exactly their size
   * (structured clone and `postMessage` copy a view's whole buffer, slack included).
   */
  finish(): Uint8Array {
    return this.pos === this.buf.length ? this.buf : this.buf.slice(0, this.pos);
  }

  /** copy returns a copy of the bytes written, in an ArrayBuffer of exactly their size. */
  copy(): Uint8Array {
    return this.buf.slice(0, this.pos);
  }

  /**
   * copyShared is {@link copy} for small messages that are only read (copied
   * into a frame, decoded), never posted or transferred as they are: the copy
   * is a view into a buffer shared with other such messages, which costs
   * less than an ArrayBuffer of its own. Posting it would clone the whole
   * shared buffer.
   */
  copyShared(): Uint8Array {
    const n = this.pos;
    if (n > SLAB_BYTES / 8) return this.copy();
    if (slabUsed + n > SLAB_BYTES) {
      slab = new Uint8Array(SLAB_BYTES);
      slabUsed = 0;
    }
    slab.set(this.buf.subarray(0, n), slabUsed);
    const out = slab.subarray(slabUsed, slabUsed + n);
    slabUsed += n;
    return out;
  }

  /**
   * reset forgets what was written, keeping the buffer (up to
   * {@link MAX_KEPT_BYTES}), so one writer reused for many messages
   * allocates only when a message is larger than any before.
   */
  reset(): void {
    this.pos = 0;
    if (this.buf.length > MAX_KEPT_BYTES) {
      this.buf = new Uint8Array(MAX_KEPT_BYTES);
      this.view = new DataView(this.buf.buffer);
    }
  }

  /** putVaruint writes LEB128 without reserving: the caller has. */
  private putVaruint(value: number): void {
    let v = value;
    while (v >= 0x80) {
      this.buf[this.pos++] = (v % 0x80) | 0x80;
      v = Math.floor(v / 0x80);
    }
    this.buf[this.pos++] = v;
  }

  private reserve(n: number): void {
    const need = this.pos + n;
    if (need <= this.buf.length) return;
    let size = this.buf.length * 2;
    while (size < need) size *= 2;
    const next = new Uint8Array(size);
    next.set(this.buf.subarray(0, this.pos));
    this.buf = next;
    this.view = new DataView(next.buffer);
  }
}

/** varuintSize is the number of bytes {@link ByteWriter.varuint} takes for `value`. */
export function varuintSize(value: number): number {
  let n = 1;
  for (let v = value; v >= 0x80; v = Math.floor(v / 0x80)) n++;
  return n;
}

/**
 * ByteReader decodes what a {@link ByteWriter} wrote. Every read is bounds
 * checked: malformed input throws a {@link CodecError} naming `what` is being
 * decoded and the offset, never a RangeError or a value read past the end.
 */
export class ByteReader {
  /** A view for the multi-byte reads, made on first use (most messages have none). */
  private view: DataView | null = null;
  /** Next byte to read. Invariant: 0 <= pos <= bytes.length. */
  private pos = 0;

  constructor(
    private readonly buf: Uint8Array,
    /** What is being decoded, for error messages ("kv request", "kv snapshot"). */
    readonly what: string,
  ) {}

  /** offset is the position of the next byte to read. */
  get offset(): number {
    return this.pos;
  }

  /** remaining is the number of bytes left. */
  get remaining(): number {
    return this.buf.length - this.pos;
  }

  /** fail throws a CodecError at `offset` (default: the current position). */
  fail(detail: string, offset = this.pos): never {
    throw new CodecError(this.what, offset, detail);
  }

  /** u8 reads one byte. */
  u8(field: string): number {
    if (this.pos >= this.buf.length) this.fail(`truncated: ${field} missing`);
    return this.buf[this.pos++]!;
  }

  /** u32 reads a big-endian uint32. */
  u32(field: string): number {
    this.need(4, field);
    this.view ??= new DataView(this.buf.buffer, this.buf.byteOffset, this.buf.byteLength);
    const v = this.view.getUint32(this.pos);
    this.pos += 4;
    return v;
  }

  /** varuint reads an unsigned LEB128 safe integer (at most 8 bytes, no overlong zero padding). */
  varuint(field: string): number {
    const start = this.pos;
    let value = 0;
    let scale = 1;
    for (let i = 0; i < MAX_VARUINT_BYTES; i++) {
      if (this.pos >= this.buf.length) this.fail(`truncated: ${field} (varuint) cut short`, start);
      const b = this.buf[this.pos++]!;
      value += (b & 0x7f) * scale;
      if ((b & 0x80) === 0) {
        if (b === 0 && i > 0) this.fail(`${field}: overlong varuint`, start);
        if (value > MAX_VARUINT) this.fail(`${field}: varuint ${value} exceeds 2^53-1`, start);
        return value;
      }
      scale *= 0x80;
    }
    return this.fail(`${field}: varuint longer than ${MAX_VARUINT_BYTES} bytes`, start);
  }

  /** bool reads a byte that must be 0 or 1. */
  bool(field: string): boolean {
    const b = this.u8(field);
    if (b > 1) this.fail(`${field}: boolean byte ${b} is neither 0 nor 1`, this.pos - 1);
    return b === 1;
  }

  /** count reads a varuint element count, checked against the bytes left (each element takes at least `minSize`). */
  count(field: string, minSize = 1): number {
    const start = this.pos;
    const n = this.varuint(field);
    if (n * minSize > this.remaining) {
      this.fail(`${field}: count ${n} needs at least ${n * minSize} bytes, ${this.remaining} left`, start);
    }
    return n;
  }

  /** bytes reads a varuint length then that many bytes, as a fresh copy (it does not pin the input buffer). */
  bytes(field: string): Uint8Array {
    const n = this.length(field);
    const out = this.buf.slice(this.pos, this.pos + n);
    this.pos += n;
    return out;
  }

  /** raw returns the next `n` bytes as a view of the input (no copy). */
  raw(n: number, field: string): Uint8Array {
    this.need(n, field);
    const out = this.buf.subarray(this.pos, this.pos + n);
    this.pos += n;
    return out;
  }

  /** string reads a varuint length then that many bytes of well-formed UTF-8. */
  string(field: string): string {
    const start = this.pos;
    const n = this.length(field);
    let s: string;
    try {
      s = decoder.decode(this.buf.subarray(this.pos, this.pos + n));
    } catch {
      return this.fail(`${field}: invalid UTF-8`, start);
    }
    this.pos += n;
    return s;
  }

  /** end checks that every byte was consumed. */
  end(): void {
    if (this.pos !== this.buf.length) this.fail(`${this.remaining} trailing bytes`);
  }

  private length(field: string): number {
    const start = this.pos;
    const n = this.varuint(`${field} length`);
    if (n > this.remaining) this.fail(`truncated: ${field} is ${n} bytes, ${this.remaining} left`, start);
    return n;
  }

  private need(n: number, field: string): void {
    if (n > this.remaining) this.fail(`truncated: ${field} needs ${n} bytes, ${this.remaining} left`);
  }
}
