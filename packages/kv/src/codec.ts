/**
 * The binary codec of the KV store: one format for log entries and for the
 * client wire, so a write request's bytes are proposed as the log entry
 * unchanged (no re-encoding on the leader's hot path).
 *
 * Every message starts with `FORMAT_VERSION` then a kind byte. Integers are
 * unsigned LEB128 varuints, strings a varuint length then UTF-8, values a tag
 * byte (0 string, 1 bytes) then a length-prefixed body, so a value comes back
 * as the kind it was written as.
 *
 * ```
 * entry/request  = version kind body
 *   register     = (empty)
 *   batch        = clientId ackedSeq count command*
 *   command      = op seq key (put: value | delete: - | append: value | cas: hasExpected [value] value)
 *   read         = mode leaseClockDriftMs count query*
 *   query        = 1 key | 2 prefix (limit + 1, 0 = no limit)
 * response       = version kind body
 *   registered   = clientId
 *   applied      = clientId count (seq resultTag [bool])*
 *   sessionExpired = clientId;  rejected / unavailable = reason;  notLeader = hasHint [hint]
 *   read         = count (1 hasValue [value] | 2 count (key value)*)*
 * ```
 *
 * Decoding validates everything and throws {@link CodecError} on malformed
 * input; it never returns a partial message.
 */
import { assertNever } from '@xraft/core';
import { ByteReader, ByteWriter } from './binary.js';
import type {
  KvCommand,
  KvCommandResult,
  KvEntry,
  KvPair,
  KvQuery,
  KvQueryResult,
  ReadMode,
  Value,
} from './commands.js';
import type { KvRequest, KvResponse } from './protocol.js';

/** FORMAT_VERSION is the first byte of every message; a decoder refuses any other. */
export const FORMAT_VERSION = 1;

const ENTRY_KIND = { register: 1, batch: 2, read: 3 } as const;
const OP = { put: 1, delete: 2, append: 3, cas: 4 } as const;
const RESPONSE_KIND = {
  registered: 16,
  applied: 17,
  sessionExpired: 18,
  rejected: 19,
  notLeader: 20,
  read: 21,
  unavailable: 22,
} as const;
const RESULT = { ok: 1, deleted: 2, cas: 3, stale: 4 } as const;
const VALUE = { string: 0, bytes: 1 } as const;
const QUERY = { get: 1, list: 2 } as const;
const QUERY_RESULT = { value: 1, pairs: 2 } as const;
const READ_MODES: readonly ReadMode[] = ['linearizable', 'lease', 'stale'];

/** Smallest encodings, for checking counts against the bytes left: op+seq+key length; tag+key length. */
const MIN_COMMAND = 3;
const MIN_QUERY = 2;
const MIN_RESULT = 2;

// ---- values and results (shared with the snapshot format) ----

/** writeValue writes a tagged {@link Value}. */
export function writeValue(w: ByteWriter, value: Value): void {
  if (typeof value === 'string') {
    w.u8(VALUE.string);
    w.string(value);
  } else {
    w.u8(VALUE.bytes);
    w.bytes(value);
  }
}

/** readValue reads a tagged {@link Value}. */
export function readValue(r: ByteReader, field: string): Value {
  const at = r.offset;
  const tag = r.u8(`${field} tag`);
  if (tag === VALUE.string) return r.string(field);
  if (tag === VALUE.bytes) return r.bytes(field);
  return r.fail(`${field}: unknown value tag ${tag}`, at);
}

/** writeCommandResult writes one {@link KvCommandResult}. */
export function writeCommandResult(w: ByteWriter, result: KvCommandResult): void {
  w.varuint(result.seq);
  switch (result.type) {
    case 'ok':
      w.u8(RESULT.ok);
      return;
    case 'deleted':
      w.u8(RESULT.deleted);
      w.bool(result.existed);
      return;
    case 'cas':
      w.u8(RESULT.cas);
      w.bool(result.swapped);
      return;
    case 'stale':
      w.u8(RESULT.stale);
      return;
    default:
      assertNever(result, 'command result');
  }
}

/** readCommandResult reads one {@link KvCommandResult}. */
export function readCommandResult(r: ByteReader): KvCommandResult {
  const seq = r.varuint('result seq');
  const at = r.offset;
  const tag = r.u8('result tag');
  switch (tag) {
    case RESULT.ok:
      return { seq, type: 'ok' };
    case RESULT.deleted:
      return { seq, type: 'deleted', existed: r.bool('existed') };
    case RESULT.cas:
      return { seq, type: 'cas', swapped: r.bool('swapped') };
    case RESULT.stale:
      return { seq, type: 'stale' };
    default:
      return r.fail(`unknown result tag ${tag}`, at);
  }
}

// ---- entries and requests ----

/**
 * SCRATCH is the writer every request and response is encoded in (encoding is
 * synchronous and never nested), so that one message costs one allocation:
 * the copy {@link ByteWriter.copy} returns.
 */
const SCRATCH = new ByteWriter(4096);

function scratch(): ByteWriter {
  SCRATCH.reset();
  return SCRATCH;
}

/** encodeEntry encodes a log entry (the same bytes as the request that carries it). */
export function encodeEntry(entry: KvEntry): Uint8Array {
  return encodeRequest(entry);
}

/** encodeRequest encodes a client request; for `register`/`batch` the bytes are the log entry. */
export function encodeRequest(request: KvRequest): Uint8Array {
  const w = scratch();
  switch (request.type) {
    case 'register':
      writeRegister(w);
      break;
    case 'batch':
      writeBatch(w, request.clientId, request.ackedSeq, request.commands);
      break;
    case 'read':
      writeRead(w, request.mode, request.leaseClockDriftMs, request.queries);
      break;
    default:
      assertNever(request, 'kv request');
  }
  return w.copy();
}

/*
 * The encoders a client sends with: the same bytes as encodeRequest, in a
 * buffer shared with other requests (ByteWriter.copyShared): to be read
 * (copied into a frame, decoded), not posted or transferred as they are.
 */

/** encodeRegister encodes a `register` request. */
export function encodeRegister(): Uint8Array {
  const w = scratch();
  writeRegister(w);
  return w.copyShared();
}

/**
 * CommandFields is what {@link encodeBatch} reads of a command: a
 * {@link KvCommand}, or any object with its fields (the client encodes its
 * calls as they are, without building commands).
 */
export interface CommandFields {
  readonly type: KvCommand['type'];
  readonly seq: number;
  readonly key: string;
  /** put and cas: the new value. */
  readonly value?: Value | undefined;
  /** append: the suffix. */
  readonly suffix?: Value | undefined;
  /** cas: the value expected, undefined for "absent". */
  readonly expected?: Value | undefined;
}

/** encodeBatch encodes a `batch` request of `commands`. */
export function encodeBatch(
  clientId: number,
  ackedSeq: number,
  commands: readonly CommandFields[],
): Uint8Array {
  const w = scratch();
  writeBatch(w, clientId, ackedSeq, commands);
  return w.copyShared();
}

/** QueryFields is what {@link encodeRead} reads of a query: a {@link KvQuery}, or any object with its fields. */
export interface QueryFields {
  readonly type: KvQuery['type'];
  /** get: the key. */
  readonly key?: string;
  /** list: the prefix and the limit (undefined: none). */
  readonly prefix?: string;
  readonly limit?: number | undefined;
}

/** encodeRead encodes a `read` request of `queries` under `mode`. */
export function encodeRead(
  mode: ReadMode,
  leaseClockDriftMs: number,
  queries: readonly QueryFields[],
): Uint8Array {
  const w = scratch();
  writeRead(w, mode, leaseClockDriftMs, queries);
  return w.copyShared();
}

function writeRegister(w: ByteWriter): void {
  w.u8(FORMAT_VERSION);
  w.u8(ENTRY_KIND.register);
}

function writeBatch(
  w: ByteWriter,
  clientId: number,
  ackedSeq: number,
  commands: readonly CommandFields[],
): void {
  w.u8(FORMAT_VERSION);
  w.u8(ENTRY_KIND.batch);
  w.varuint(clientId);
  w.varuint(ackedSeq);
  w.varuint(commands.length);
  for (let i = 0; i < commands.length; i++) writeCommand(w, commands[i]!);
}

function writeRead(
  w: ByteWriter,
  mode: ReadMode,
  leaseClockDriftMs: number,
  queries: readonly QueryFields[],
): void {
  w.u8(FORMAT_VERSION);
  w.u8(ENTRY_KIND.read);
  w.u8(READ_MODES.indexOf(mode));
  w.varuint(leaseClockDriftMs);
  w.varuint(queries.length);
  for (let i = 0; i < queries.length; i++) writeQuery(w, queries[i]!);
}

/** decodeEntry decodes a log entry; a read request is not an entry and is refused. */
export function decodeEntry(bytes: Uint8Array): KvEntry {
  const r = new ByteReader(bytes, 'kv entry');
  const request = readRequest(r);
  return request.type === 'read' ? r.fail('a read request is not a log entry', 1) : request;
}

/** decodeRequest decodes a client request. */
export function decodeRequest(bytes: Uint8Array): KvRequest {
  return readRequest(new ByteReader(bytes, 'kv request'));
}

function readRequest(r: ByteReader): KvRequest {
  readVersion(r);
  const at = r.offset;
  const kind = r.u8('kind');
  let request: KvRequest;
  switch (kind) {
    case ENTRY_KIND.register:
      request = { type: 'register' };
      break;
    case ENTRY_KIND.batch: {
      const clientId = r.varuint('clientId');
      const ackedSeq = r.varuint('ackedSeq');
      const n = r.count('command count', MIN_COMMAND);
      const commands: KvCommand[] = new Array(n);
      for (let i = 0; i < n; i++) commands[i] = readCommand(r);
      request = { type: 'batch', clientId, ackedSeq, commands };
      break;
    }
    case ENTRY_KIND.read: {
      const modeAt = r.offset;
      const modeByte = r.u8('read mode');
      const mode = READ_MODES[modeByte];
      if (mode === undefined) r.fail(`unknown read mode ${modeByte}`, modeAt);
      const leaseClockDriftMs = r.varuint('leaseClockDriftMs');
      const n = r.count('query count', MIN_QUERY);
      const queries: KvQuery[] = new Array(n);
      for (let i = 0; i < n; i++) queries[i] = readQuery(r);
      request = { type: 'read', mode, leaseClockDriftMs, queries };
      break;
    }
    default:
      return r.fail(`unknown kind ${kind}`, at);
  }
  r.end();
  return request;
}

function writeCommand(w: ByteWriter, c: CommandFields): void {
  w.u8(OP[c.type]);
  w.varuint(c.seq);
  w.string(c.key);
  switch (c.type) {
    case 'put':
      writeValue(w, c.value!);
      return;
    case 'delete':
      return;
    case 'append':
      writeValue(w, c.suffix!);
      return;
    case 'cas':
      w.bool(c.expected !== undefined);
      if (c.expected !== undefined) writeValue(w, c.expected);
      writeValue(w, c.value!);
      return;
    default:
      assertNever(c.type, 'kv command');
  }
}

function readCommand(r: ByteReader): KvCommand {
  const at = r.offset;
  const op = r.u8('op');
  const seq = r.varuint('seq');
  const key = r.string('key');
  switch (op) {
    case OP.put:
      return { type: 'put', seq, key, value: readValue(r, 'value') };
    case OP.delete:
      return { type: 'delete', seq, key };
    case OP.append:
      return { type: 'append', seq, key, suffix: readValue(r, 'suffix') };
    case OP.cas: {
      const expected = r.bool('cas hasExpected') ? readValue(r, 'expected') : undefined;
      return { type: 'cas', seq, key, expected, value: readValue(r, 'value') };
    }
    default:
      return r.fail(`unknown op ${op}`, at);
  }
}

function writeQuery(w: ByteWriter, q: QueryFields): void {
  switch (q.type) {
    case 'get':
      w.u8(QUERY.get);
      w.string(q.key!);
      return;
    case 'list':
      w.u8(QUERY.list);
      w.string(q.prefix!);
      w.varuint(q.limit === undefined ? 0 : q.limit + 1);
      return;
    default:
      assertNever(q.type, 'kv query');
  }
}

function readQuery(r: ByteReader): KvQuery {
  const at = r.offset;
  const tag = r.u8('query tag');
  switch (tag) {
    case QUERY.get:
      return { type: 'get', key: r.string('key') };
    case QUERY.list: {
      const prefix = r.string('prefix');
      const limit = r.varuint('limit');
      return { type: 'list', prefix, limit: limit === 0 ? undefined : limit - 1 };
    }
    default:
      return r.fail(`unknown query tag ${tag}`, at);
  }
}

// ---- responses ----

/** encodeResponse encodes a node's answer to a request. */
export function encodeResponse(response: KvResponse): Uint8Array {
  const w = scratch();
  w.u8(FORMAT_VERSION);
  w.u8(RESPONSE_KIND[response.type]);
  switch (response.type) {
    case 'registered':
    case 'sessionExpired':
      w.varuint(response.clientId);
      break;
    case 'applied':
      w.varuint(response.clientId);
      w.varuint(response.results.length);
      for (const result of response.results) writeCommandResult(w, result);
      break;
    case 'rejected':
    case 'unavailable':
      w.string(response.reason);
      break;
    case 'notLeader':
      w.bool(response.leaderHint !== null);
      if (response.leaderHint !== null) w.string(response.leaderHint);
      break;
    case 'read':
      w.varuint(response.results.length);
      for (const result of response.results) writeQueryResult(w, result);
      break;
    default:
      assertNever(response, 'kv response');
  }
  return w.copy();
}

/** decodeResponse decodes a node's answer. */
export function decodeResponse(bytes: Uint8Array): KvResponse {
  const r = new ByteReader(bytes, 'kv response');
  readVersion(r);
  const at = r.offset;
  const kind = r.u8('kind');
  let response: KvResponse;
  switch (kind) {
    case RESPONSE_KIND.registered:
      response = { type: 'registered', clientId: r.varuint('clientId') };
      break;
    case RESPONSE_KIND.sessionExpired:
      response = { type: 'sessionExpired', clientId: r.varuint('clientId') };
      break;
    case RESPONSE_KIND.applied: {
      const clientId = r.varuint('clientId');
      const n = r.count('result count', MIN_RESULT);
      const results: KvCommandResult[] = new Array(n);
      for (let i = 0; i < n; i++) results[i] = readCommandResult(r);
      response = { type: 'applied', clientId, results };
      break;
    }
    case RESPONSE_KIND.rejected:
      response = { type: 'rejected', reason: r.string('reason') };
      break;
    case RESPONSE_KIND.unavailable:
      response = { type: 'unavailable', reason: r.string('reason') };
      break;
    case RESPONSE_KIND.notLeader:
      response = { type: 'notLeader', leaderHint: r.bool('hasHint') ? r.string('leaderHint') : null };
      break;
    case RESPONSE_KIND.read: {
      const n = r.count('read result count', MIN_RESULT);
      const results: KvQueryResult[] = new Array(n);
      for (let i = 0; i < n; i++) results[i] = readQueryResult(r);
      response = { type: 'read', results };
      break;
    }
    default:
      return r.fail(`unknown kind ${kind}`, at);
  }
  r.end();
  return response;
}

function writeQueryResult(w: ByteWriter, result: KvQueryResult): void {
  switch (result.type) {
    case 'value':
      w.u8(QUERY_RESULT.value);
      w.bool(result.value !== undefined);
      if (result.value !== undefined) writeValue(w, result.value);
      return;
    case 'pairs':
      w.u8(QUERY_RESULT.pairs);
      w.varuint(result.pairs.length);
      for (const p of result.pairs) {
        w.string(p.key);
        writeValue(w, p.value);
      }
      return;
    default:
      assertNever(result, 'query result');
  }
}

function readQueryResult(r: ByteReader): KvQueryResult {
  const at = r.offset;
  const tag = r.u8('query result tag');
  switch (tag) {
    case QUERY_RESULT.value:
      return { type: 'value', value: r.bool('hasValue') ? readValue(r, 'value') : undefined };
    case QUERY_RESULT.pairs: {
      const n = r.count('pair count', 3);
      const pairs: KvPair[] = new Array(n);
      for (let i = 0; i < n; i++) pairs[i] = { key: r.string('key'), value: readValue(r, 'value') };
      return { type: 'pairs', pairs };
    }
    default:
      return r.fail(`unknown query result tag ${tag}`, at);
  }
}

function readVersion(r: ByteReader): void {
  const v = r.u8('format version');
  if (v !== FORMAT_VERSION) r.fail(`format version ${v}, this build reads ${FORMAT_VERSION}`, 0);
}
