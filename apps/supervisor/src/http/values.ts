/**
 * Values in JSON. The KV store holds strings or bytes (`Value`); JSON carries
 * strings, so bytes travel base64-encoded with `"encoding": "base64"` beside
 * them, both ways.
 */
import type { Value } from '@xraft/kv';
import { HttpError } from './errors.js';

/** Encoding is how a value is written in a JSON body: plain text (default) or base64 bytes. */
export type Encoding = 'utf8' | 'base64';

/** ENCODINGS are the accepted values of a body's `encoding` field. */
export const ENCODINGS: readonly Encoding[] = ['utf8', 'base64'];

const BASE64 = /^(?:[A-Za-z0-9+/]{4})*(?:[A-Za-z0-9+/]{2}==|[A-Za-z0-9+/]{3}=)?$/;

/** decodeValue reads the body field `field` as the store will hold it: a string, or bytes if base64. */
export function decodeValue(field: string, text: string, encoding: Encoding | undefined): Value {
  if (encoding !== 'base64') return text;
  if (!BASE64.test(text)) {
    throw new HttpError(400, `body.${field} is not valid base64 (with "encoding": "base64")`);
  }
  return new Uint8Array(Buffer.from(text, 'base64'));
}

/** encodeValue writes a stored value for JSON: strings as they are, bytes as base64 with `encoding`. */
export function encodeValue(value: Value): { value: string; encoding?: 'base64' } {
  if (typeof value === 'string') return { value };
  return {
    value: Buffer.from(value.buffer, value.byteOffset, value.byteLength).toString('base64'),
    encoding: 'base64',
  };
}
