import { describe, expect, test } from 'vitest';
import { ByteReader, ByteWriter } from '../src/binary.js';

describe('ByteWriter', () => {
  test('strings round-trip whatever their length and wherever a non-ASCII character is', () => {
    const strings = [
      '',
      'a',
      'k1',
      'é',
      'x'.repeat(126) + 'é',
      'x'.repeat(127),
      'x'.repeat(128),
      '日本'.repeat(70),
    ];
    for (let n = 0; n < 140; n += 13) strings.push('a'.repeat(n) + '€' + 'b'.repeat(n), 'c'.repeat(n));
    const w = new ByteWriter(16);
    for (const s of strings) w.string(s);
    const r = new ByteReader(w.copy(), 'test');
    for (const s of strings) expect(r.string('s')).toBe(s);
    r.end();
  });

  test('copyShared copies are independent of each other and of the writer, across many shared buffers', () => {
    const w = new ByteWriter();
    const copies: Array<[Uint8Array, number]> = [];
    for (let i = 0; i < 2000; i++) {
      w.reset();
      for (let j = 0; j < i % 300; j++) w.u8((i + j) & 0xff);
      copies.push([w.copyShared(), i]);
    }
    w.reset();
    w.u8(99); // Writing on must not change earlier copies.
    for (const [bytes, i] of copies) {
      expect(bytes.length).toBe(i % 300);
      for (let j = 0; j < bytes.length; j++) expect(bytes[j]).toBe((i + j) & 0xff);
    }
  });
});
