import { Buffer } from 'node:buffer';
import { type Model, type Partition, type StepResult, UNKNOWN } from '../model.js';
import type { Operation } from '../operation.js';

/**
 * KvBytes is a key or value of the KV store: a string, or bytes. Bytes are
 * compared as their latin1 (binary) string, one character per byte, so
 * `Uint8Array [0x68, 0x69]` equals `'hi'`; use one form per history for
 * anything beyond ASCII.
 */
export type KvBytes = string | Uint8Array;

/** KvInput is one KV store operation; each touches exactly one key. */
export type KvInput =
  | { readonly op: 'put'; readonly key: KvBytes; readonly value: KvBytes }
  | { readonly op: 'get'; readonly key: KvBytes }
  /** Appends `suffix` to the value; a missing key counts as `''`. */
  | { readonly op: 'append'; readonly key: KvBytes; readonly suffix: KvBytes }
  /** Sets `value` if the current value is `expected` (`undefined`: if the key is absent). */
  | {
      readonly op: 'cas';
      readonly key: KvBytes;
      readonly expected: KvBytes | undefined;
      readonly value: KvBytes;
    }
  | { readonly op: 'delete'; readonly key: KvBytes };

/**
 * KvOutput is a KV response: `get` gives the value or `undefined` when the
 * key is absent; `cas` whether it set the value; `delete` whether the key
 * existed; `put` and `append` give `undefined`.
 */
export type KvOutput = KvBytes | boolean | undefined;

/** KvState is the value of one key (the model is partitioned per key); `undefined` when absent. */
export type KvState = string | undefined;

/** kvText is the comparable string form of a key or value (bytes as latin1). */
export function kvText(b: KvBytes): string {
  return typeof b === 'string' ? b : Buffer.from(b.buffer, b.byteOffset, b.byteLength).toString('latin1');
}

/**
 * kvModel is a key-value store with put, get, append, cas and delete,
 * partitioned per key: each key is an independent register-like object, so
 * every key is checked on its own (P-compositionality), as in Porcupine's
 * KV example.
 */
export const kvModel: Model<KvState, KvInput, KvOutput> = {
  name: 'kv',
  init: () => undefined,
  step(state, input, output): StepResult<KvState> {
    switch (input.op) {
      case 'put':
        return { ok: true, state: kvText(input.value) };
      case 'get':
        return { ok: output === UNKNOWN || sameValue(output, state), state };
      case 'append':
        return { ok: true, state: (state ?? '') + kvText(input.suffix) };
      case 'cas': {
        const matches = input.expected === undefined ? state === undefined : state === kvText(input.expected);
        const ok = output === UNKNOWN || output === matches;
        return { ok, state: ok && matches ? kvText(input.value) : state };
      }
      case 'delete':
        return { ok: output === UNKNOWN || output === (state !== undefined), state: undefined };
    }
  },
  key: (state) => (state === undefined ? '' : `=${state}`),
  partition(ops) {
    const byKey = new Map<string, Operation<KvInput, KvOutput>[]>();
    for (const op of ops) {
      const key = kvText(op.input.key);
      const list = byKey.get(key);
      if (list === undefined) byKey.set(key, [op]);
      else list.push(op);
    }
    const out: Partition<KvInput, KvOutput>[] = [];
    for (const [key, list] of byKey) out.push({ key, ops: list });
    return out;
  },
  describe(input, output) {
    const k = show(input.key);
    const out = output === UNKNOWN ? ' -> ?' : '';
    switch (input.op) {
      case 'put':
        return `put(${k}, ${show(input.value)})${out}`;
      case 'get':
        return `get(${k}) -> ${output === UNKNOWN ? '?' : showOutput(output)}`;
      case 'append':
        return `append(${k}, ${show(input.suffix)})${out}`;
      case 'cas':
        return `cas(${k}, ${input.expected === undefined ? 'absent' : show(input.expected)}, ${show(input.value)}) -> ${output === UNKNOWN ? '?' : showOutput(output)}`;
      case 'delete':
        return `delete(${k}) -> ${output === UNKNOWN ? '?' : showOutput(output)}`;
    }
  },
  describeState: (state) => (state === undefined ? 'absent' : show(state)),
  readOnly: (input) => input.op === 'get',
};

function sameValue(output: KvOutput, state: KvState): boolean {
  if (output === undefined || state === undefined) return output === state;
  return typeof output !== 'boolean' && kvText(output) === state;
}

const SHOW_MAX = 40;

/** show quotes a key or value for explanations, eliding the middle of long ones. */
function show(b: KvBytes): string {
  const s = kvText(b);
  if (s.length <= SHOW_MAX) return JSON.stringify(s);
  return `${JSON.stringify(s.slice(0, 16))}…(${s.length} chars)…${JSON.stringify(s.slice(-16))}`;
}

function showOutput(o: KvOutput): string {
  if (o === undefined) return 'absent';
  return typeof o === 'boolean' ? String(o) : show(o);
}
