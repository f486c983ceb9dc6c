/**
 * Argument checks of the KvClient: errors a caller can make are refused
 * before anything is sent, with a message that says what to pass instead.
 */
import type { Value } from './commands.js';

/** checkKey refuses a key that is not a string UTF-8 can carry. */
export function checkKey(op: string, key: unknown): void {
  if (typeof key !== 'string') throw new TypeError(`${op}: keys must be strings, got ${typeof key}`);
  if (!isWellFormed(key))
    throw new TypeError(`${op}: the key has a lone UTF-16 surrogate, which UTF-8 cannot carry`);
}

/**
 * own checks a value and takes it over: bytes are copied, so changing the
 * caller's array after the call (the request is encoded later) cannot change the write.
 */
export function own(op: string, name: string, value: unknown): Value {
  if (typeof value === 'string') {
    if (!isWellFormed(value)) {
      throw new TypeError(
        `${op}: ${name} has a lone UTF-16 surrogate, which UTF-8 cannot carry; pass bytes instead`,
      );
    }
    return value;
  }
  if (value instanceof Uint8Array) return new Uint8Array(value);
  throw new TypeError(
    `${op}: ${name} must be a string or a Uint8Array, got ${value === null ? 'null' : typeof value}`,
  );
}

/** isWellFormed: no lone surrogates, so UTF-8 round-trips the string (String.prototype.isWellFormed, Node 20+). */
function isWellFormed(s: string): boolean {
  return (s as string & { isWellFormed(): boolean }).isWellFormed();
}

/** show is a key as error messages quote it (cut to 40 characters). */
export function show(key: unknown): string {
  if (typeof key !== 'string') return String(key);
  return JSON.stringify(key.length > 40 ? `${key.slice(0, 40)}…` : key);
}
