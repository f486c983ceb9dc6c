/**
 * The vocabulary of the KV store: values, commands, queries and their results.
 * Commands change state and go through the Raft log (§5.3); queries only read
 * and are answered after ReadIndex without touching the log (thesis §6.4).
 * Every result is a plain object, so it survives `structuredClone` /
 * `postMessage` between a node worker and whoever proposed the command.
 */

/** Value is what a key holds. It comes back as the kind it was written as: a string stays a string, bytes stay bytes. */
export type Value = string | Uint8Array;

/** KvOp is one mutating operation on one key. */
export type KvOp =
  | { readonly type: 'put'; readonly key: string; readonly value: Value }
  | { readonly type: 'delete'; readonly key: string }
  /** Appends to the current value; a missing key counts as ''. Bytes if either side is bytes, else a string. */
  | { readonly type: 'append'; readonly key: string; readonly suffix: Value }
  /** Compare-and-swap: `expected` undefined means "key absent"; values are equal when of the same kind and content. */
  | {
      readonly type: 'cas';
      readonly key: string;
      readonly expected: Value | undefined;
      readonly value: Value;
    };

/** KvCommand is a {@link KvOp} with the client's per-request sequence number (thesis §6.3). */
export type KvCommand = KvOp & { readonly seq: number };

/**
 * KvEntry is one log entry of the KV store (thesis §6.3):
 * - `register` opens a client session; the entry's log index becomes the client id.
 * - `batch` carries the commands one client sent in one round trip, applied in
 *   order, each exactly once. `ackedSeq` is the lowest sequence number the
 *   client has not yet had an answer for: results below it may be discarded.
 *   An empty batch only refreshes the session and trims its results.
 */
export type KvEntry =
  | { readonly type: 'register' }
  | {
      readonly type: 'batch';
      readonly clientId: number;
      readonly ackedSeq: number;
      readonly commands: readonly KvCommand[];
    };

/** KvCommandResult is the outcome of one command of a batch, tagged with its `seq`. */
export type KvCommandResult =
  /** A put or an append took effect. */
  | { readonly seq: number; readonly type: 'ok' }
  /** A delete took effect; `existed` tells whether the key was there. */
  | { readonly seq: number; readonly type: 'deleted'; readonly existed: boolean }
  /** A cas ran; `swapped` tells whether the value was replaced. */
  | { readonly seq: number; readonly type: 'cas'; readonly swapped: boolean }
  /**
   * `seq` is below the session's `ackedSeq` and its result is gone: the client
   * had already given up on it, so it was not applied (a delayed duplicate).
   */
  | { readonly seq: number; readonly type: 'stale' };

/**
 * KvApplyResult is what `KvStateMachine.apply` returns for one entry; it goes
 * back to the proposer and, encoded, to the client.
 */
export type KvApplyResult =
  /** A session was opened; its id is the entry's log index (thesis §6.3). */
  | { readonly type: 'registered'; readonly clientId: number }
  /** The batch ran; one result per command, in order. */
  | { readonly type: 'applied'; readonly clientId: number; readonly results: readonly KvCommandResult[] }
  /** The batch's session is unknown or expired: nothing in it was applied. */
  | { readonly type: 'sessionExpired'; readonly clientId: number }
  /** The entry is not a valid KV entry: nothing was applied (every replica decides so alike). */
  | { readonly type: 'rejected'; readonly reason: string };

/** KvQuery is one read-only query, answered by `KvStateMachine.query`. */
export type KvQuery =
  | { readonly type: 'get'; readonly key: string }
  /** Keys starting with `prefix`, sorted; at most `limit` of them (undefined: all). */
  | { readonly type: 'list'; readonly prefix: string; readonly limit: number | undefined };

/** KvPair is one key and its value, as `list` returns them. */
export interface KvPair {
  readonly key: string;
  readonly value: Value;
}

/** KvQueryResult answers one {@link KvQuery}. */
export type KvQueryResult =
  | { readonly type: 'value'; readonly value: Value | undefined }
  | { readonly type: 'pairs'; readonly pairs: readonly KvPair[] };

/**
 * ReadMode chooses how a read is made linearizable (thesis §6.4):
 * - `linearizable`: ReadIndex: the leader confirms it still leads with a
 *   heartbeat round and waits until it has applied its commit index (§6.4).
 * - `lease`: the leader skips the heartbeat round while it holds a lease, which
 *   is only safe under a stated bound on clock drift between nodes (§6.4.1).
 * - `stale`: any node answers from what it has applied; may miss recent writes.
 */
export type ReadMode = 'linearizable' | 'lease' | 'stale';

/** valuesEqual is the equality `cas` uses: same kind and same content. */
export function valuesEqual(a: Value, b: Value): boolean {
  if (typeof a === 'string' || typeof b === 'string') return a === b;
  if (a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false;
  return true;
}

const utf8 = new TextEncoder();

/** concatValues is `append`: a string if both are strings, else the UTF-8 of a string side followed by the bytes. */
export function concatValues(current: Value, suffix: Value): Value {
  if (typeof current === 'string' && typeof suffix === 'string') return current + suffix;
  const a = typeof current === 'string' ? utf8.encode(current) : current;
  const b = typeof suffix === 'string' ? utf8.encode(suffix) : suffix;
  const out = new Uint8Array(a.length + b.length);
  out.set(a, 0);
  out.set(b, a.length);
  return out;
}

/** isValue tells whether `v` is a {@link Value}. */
export function isValue(v: unknown): v is Value {
  return typeof v === 'string' || v instanceof Uint8Array;
}
