import {
  type AppendEntries,
  type Entry,
  MESSAGE_TYPES,
  type Message,
  type MessageType,
  type NodeId,
} from '@xraft/core';
import { packEntries, unpackEntries } from './packed-entries.js';

/** WIRE_VERSION is the version every peer envelope carries in its `v` field; others are dropped. */
export const WIRE_VERSION = 2;

/** WireMessage is a Raft RPC as it travels: an AppendEntries carries its entries packed (packed-entries.ts). */
export type WireMessage =
  | Exclude<Message, AppendEntries>
  | (Omit<AppendEntries, 'entries'> & { readonly entries: Uint8Array });

/**
 * RaftBatch carries every Raft RPC one node sends one peer in one turn of its
 * Ready loop (DESIGN.md: one `postMessage` per peer per Ready). Messages are
 * plain objects sent by structured clone, AppendEntries with their entries
 * packed into one buffer; other payloads stay `Uint8Array`s.
 */
export interface RaftBatch {
  readonly v: typeof WIRE_VERSION;
  readonly kind: 'raft';
  /** The sending node; must be the peer the port belongs to. */
  readonly from: NodeId;
  /** One or more RPCs, all `from` the sender and `to` the receiver, in send order. */
  readonly messages: readonly WireMessage[];
}

/** PeerEnvelope is everything that travels on a node-to-node port (a discriminated union on `kind`). */
export type PeerEnvelope = RaftBatch;

/** raftBatch builds the envelope for `messages` from `from`. */
export function raftBatch(from: NodeId, messages: readonly Message[]): RaftBatch {
  return {
    v: WIRE_VERSION,
    kind: 'raft',
    from,
    messages: messages.map((m) =>
      m.type === 'AppendEntries' ? { ...m, entries: packEntries(m.entries) } : m,
    ),
  };
}

/**
 * WireErrorKind names what was wrong with a dropped envelope or message:
 *
 * - `not-an-object`: the envelope is not a plain object;
 * - `bad-version`: `v` is missing or not {@link WIRE_VERSION};
 * - `unknown-kind`: `kind` is not one this version knows;
 * - `bad-sender`: `from` is not the peer that owns the port;
 * - `bad-batch`: `messages` is not a non-empty array;
 * - `unknown-message-type`: a message's `type` is not a Raft RPC;
 * - `bad-field`: a message field is missing or of the wrong type (terms and indexes are non-negative integers);
 * - `bad-entry`: the packed entries of an AppendEntries are not a Uint8Array or malformed (bad term or type, truncated);
 * - `misrouted`: a message is not from the envelope's sender or not to this node.
 */
export type WireErrorKind =
  | 'not-an-object'
  | 'bad-version'
  | 'unknown-kind'
  | 'bad-sender'
  | 'bad-batch'
  | 'unknown-message-type'
  | 'bad-field'
  | 'bad-entry'
  | 'misrouted';

/** WireError is one rejected envelope or message and why. */
export interface WireError {
  readonly kind: WireErrorKind;
  readonly detail: string;
}

/** DecodedBatch is what survived validation of one envelope, and what did not. */
export interface DecodedBatch {
  /** Valid messages, in the order sent. */
  readonly messages: Message[];
  /** One error per dropped envelope (then `messages` is empty) or per dropped message. */
  readonly errors: WireError[];
}

type FieldKind = 'uint' | 'bool' | 'entries' | 'bytes';

/** FIELDS lists, per RPC type, the fields beyond `from`, `to` and `term` (messages.ts). */
const FIELDS: Record<MessageType, Readonly<Record<string, FieldKind>>> = {
  PreVote: { lastLogIndex: 'uint', lastLogTerm: 'uint' },
  PreVoteResponse: { granted: 'bool' },
  RequestVote: { lastLogIndex: 'uint', lastLogTerm: 'uint', transfer: 'bool' },
  RequestVoteResponse: { granted: 'bool' },
  AppendEntries: { prevLogIndex: 'uint', prevLogTerm: 'uint', entries: 'entries', leaderCommit: 'uint' },
  AppendEntriesResponse: { success: 'bool', index: 'uint', hintIndex: 'uint', hintTerm: 'uint' },
  Heartbeat: { commit: 'uint', readRound: 'uint' },
  HeartbeatResponse: { readRound: 'uint' },
  InstallSnapshot: {
    lastIncludedIndex: 'uint',
    lastIncludedTerm: 'uint',
    size: 'uint',
    offset: 'uint',
    data: 'bytes',
  },
  InstallSnapshotResponse: { lastIncludedIndex: 'uint', lastIncludedTerm: 'uint', received: 'uint' },
  TimeoutNow: {},
};

const KNOWN_TYPES: ReadonlySet<string> = new Set(MESSAGE_TYPES);

/**
 * decodeEnvelope validates what arrived on the port from `peer` to `self`.
 * Nothing received is trusted: a bad envelope is dropped whole, a bad message
 * inside a good envelope is dropped alone, and the node keeps running.
 */
export function decodeEnvelope(raw: unknown, self: NodeId, peer: NodeId): DecodedBatch {
  const fail = (kind: WireErrorKind, detail: string): DecodedBatch => ({
    messages: [],
    errors: [{ kind, detail }],
  });
  if (!isRecord(raw)) return fail('not-an-object', `envelope is ${describe(raw)}`);
  if (raw.v !== WIRE_VERSION) return fail('bad-version', `v is ${describe(raw.v)}, expected ${WIRE_VERSION}`);
  if (raw.kind !== 'raft') return fail('unknown-kind', `kind ${describe(raw.kind)}`);
  if (raw.from !== peer) return fail('bad-sender', `from ${describe(raw.from)} on the port of ${peer}`);
  const list = raw.messages;
  if (!Array.isArray(list) || list.length === 0) return fail('bad-batch', `messages is ${describe(list)}`);
  const messages: Message[] = [];
  const errors: WireError[] = [];
  for (const m of list) {
    const decoded = decodeMessage(m, self, peer);
    if ('type' in decoded) messages.push(decoded);
    else errors.push(decoded);
  }
  return { messages, errors };
}

/** decodeMessage validates one RPC: the message (AppendEntries entries unpacked), or why it is malformed. */
function decodeMessage(m: unknown, self: NodeId, peer: NodeId): Message | WireError {
  if (!isRecord(m)) return { kind: 'bad-field', detail: `message is ${describe(m)}` };
  const type = m.type;
  if (typeof type !== 'string' || !KNOWN_TYPES.has(type)) {
    return { kind: 'unknown-message-type', detail: `type ${describe(type)}` };
  }
  if (m.from !== peer || m.to !== self) {
    return { kind: 'misrouted', detail: `${type} from ${describe(m.from)} to ${describe(m.to)}` };
  }
  if (!isUint(m.term)) return { kind: 'bad-field', detail: `${type}.term is ${describe(m.term)}` };
  const fields = FIELDS[type as MessageType];
  let unpacked: Entry[] | undefined;
  for (const name in fields) {
    const value = m[name];
    const kind = fields[name]!;
    if (kind === 'uint' && !isUint(value)) {
      return { kind: 'bad-field', detail: `${type}.${name} is ${describe(value)}` };
    }
    if (kind === 'bool' && typeof value !== 'boolean') {
      return { kind: 'bad-field', detail: `${type}.${name} is ${describe(value)}` };
    }
    if (kind === 'entries') {
      if (!(value instanceof Uint8Array)) {
        return { kind: 'bad-entry', detail: `${type}.${name} is ${describe(value)}, not a Uint8Array` };
      }
      const entries = unpackEntries(
        value,
        m.prevLogIndex as number,
        m.prevLogTerm as number,
        m.term as number,
      );
      if (typeof entries === 'string') return { kind: 'bad-entry', detail: `${type}.${name}: ${entries}` };
      unpacked = entries;
    }
    if (kind === 'bytes' && !(value instanceof Uint8Array)) {
      return { kind: 'bad-field', detail: `${type}.${name} is ${describe(value)}, not a Uint8Array` };
    }
  }
  if (type === 'InstallSnapshot') {
    const { offset, size, data } = m as { offset: number; size: number; data: Uint8Array };
    if (offset + data.byteLength > size || size > MAX_SNAPSHOT_BYTES) {
      return {
        kind: 'bad-field',
        detail: `InstallSnapshot chunk [${offset}, ${offset + data.byteLength}) does not fit a snapshot of ${size} bytes (at most ${MAX_SNAPSHOT_BYTES})`,
      };
    }
  }
  return (unpacked === undefined ? m : { ...m, entries: unpacked }) as unknown as Message;
}

/** The largest snapshot a follower will allocate room for (a Uint8Array's limit on Node 20 is higher). */
const MAX_SNAPSHOT_BYTES = 2 ** 32;

/** WireErrorCounter counts dropped input per {@link WireErrorKind}, reporting only the first of each kind. */
export class WireErrorCounter {
  private readonly counts = new Map<WireErrorKind, number>();

  constructor(
    /** Called once per kind, with the first error of that kind and the peer it came from. */
    private readonly onFirst: (error: WireError, peer: NodeId) => void,
  ) {}

  /** add counts `error`, received from `peer`. */
  add(error: WireError, peer: NodeId): void {
    const n = this.counts.get(error.kind) ?? 0;
    this.counts.set(error.kind, n + 1);
    if (n === 0) this.onFirst(error, peer);
  }

  /** total is the number of errors counted so far. */
  total(): number {
    let sum = 0;
    for (const n of this.counts.values()) sum += n;
    return sum;
  }

  /** snapshot is the count of each kind seen so far. */
  snapshot(): Partial<Record<WireErrorKind, number>> {
    return Object.fromEntries(this.counts);
  }
}

/** ENVELOPE_BYTES and per-type message sizes calibrate {@link estimateBytes}. */
const ENVELOPE_BYTES = 47;
const MESSAGE_BYTES: Record<MessageType, number> = {
  PreVote: 75,
  PreVoteResponse: 62,
  RequestVote: 90,
  RequestVoteResponse: 66,
  AppendEntries: 109,
  AppendEntriesResponse: 102,
  Heartbeat: 70,
  HeartbeatResponse: 68,
  InstallSnapshot: 122,
  InstallSnapshotResponse: 115,
  TimeoutNow: 47,
};

/**
 * estimateBytes approximates the structured-clone size of a {@link RaftBatch}:
 * a fixed size per envelope and per message type, plus the packed entries
 * and snapshot chunks. The constants are `v8.serialize` sizes (the format
 * `postMessage` uses) of small representative messages with two-character node
 * ids, measured on Node 20; they are within a few bytes of the real size
 * when terms and indexes are small.
 */
export function estimateBytes(messages: readonly WireMessage[]): number {
  let bytes = ENVELOPE_BYTES;
  for (const m of messages) {
    bytes += MESSAGE_BYTES[m.type];
    if (m.type === 'AppendEntries') bytes += m.entries.byteLength;
    else if (m.type === 'InstallSnapshot') bytes += m.data.byteLength;
  }
  return bytes;
}

function isRecord(x: unknown): x is Record<string, unknown> {
  return typeof x === 'object' && x !== null && !Array.isArray(x);
}

function isUint(x: unknown): x is number {
  return typeof x === 'number' && Number.isSafeInteger(x) && x >= 0;
}

function describe(x: unknown): string {
  if (x === null) return 'null';
  if (Array.isArray(x)) return `an array of ${x.length}`;
  if (x instanceof Uint8Array) return `a ${x.constructor.name}`;
  if (typeof x === 'object') return `an object (${x.constructor?.name ?? 'no prototype'})`;
  if (typeof x === 'string') return JSON.stringify(x.length > 40 ? `${x.slice(0, 40)}…` : x);
  return `${typeof x} ${String(x)}`;
}
