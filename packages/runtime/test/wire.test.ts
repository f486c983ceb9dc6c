import { serialize } from 'node:v8';
import type { Message } from '@xraft/core';
import { describe, expect, it } from 'vitest';
import { decodeEnvelope, estimateBytes, raftBatch, WIRE_VERSION, type WireErrorKind } from '../src/index.js';
import { Harness, waitFor } from './harness.js';

const heartbeat = { type: 'Heartbeat', from: 'n1', to: 'n2', term: 3, commit: 4, readRound: 0 } as const;
const append = {
  type: 'AppendEntries',
  from: 'n1',
  to: 'n2',
  term: 3,
  prevLogIndex: 4,
  prevLogTerm: 2,
  leaderCommit: 4,
  entries: [
    { index: 5, term: 2, type: 'normal', data: new Uint8Array([1]) },
    { index: 6, term: 3, type: 'noop', data: new Uint8Array(0) },
  ],
} as const;
const chunk = {
  type: 'InstallSnapshot',
  from: 'n1',
  to: 'n2',
  term: 2,
  lastIncludedIndex: 5,
  lastIncludedTerm: 2,
  size: 10,
  offset: 0,
  data: new Uint8Array(4),
} as const;
const envelope = (messages: unknown[]) => ({ v: WIRE_VERSION, kind: 'raft', from: 'n1', messages });
/** packed is `append` as it travels, its entries as bytes (term, type code, data length, data per entry). */
const packed = (...bytes: number[]) => ({ ...append, entries: new Uint8Array(bytes) });

/** Every kind of bad input, as the receiver n2 would get it on its port from n1. */
const BAD: ReadonlyArray<[WireErrorKind, string, unknown]> = [
  ['not-an-object', 'a string', 'hello'],
  ['not-an-object', 'null', null],
  ['not-an-object', 'an array', [heartbeat]],
  ['bad-version', 'no version', { kind: 'raft', from: 'n1', messages: [heartbeat] }],
  ['bad-version', 'a future version', { ...envelope([heartbeat]), v: WIRE_VERSION + 1 }],
  ['bad-version', 'the previous version', { ...envelope([heartbeat]), v: WIRE_VERSION - 1 }],
  ['unknown-kind', 'an unknown kind', { ...envelope([heartbeat]), kind: 'gossip' }],
  ['bad-sender', 'a forged sender', { ...envelope([heartbeat]), from: 'n3' }],
  ['bad-batch', 'no messages', { ...envelope([]), messages: undefined }],
  ['bad-batch', 'an empty batch', envelope([])],
  ['bad-field', 'a message that is a number', envelope([42])],
  ['unknown-message-type', 'an unknown RPC', envelope([{ ...heartbeat, type: 'JoinCluster' }])],
  ['unknown-message-type', 'no type', envelope([{ ...heartbeat, type: undefined }])],
  ['misrouted', 'a message to another node', envelope([{ ...heartbeat, to: 'n3' }])],
  ['misrouted', 'a message from another node', envelope([{ ...heartbeat, from: 'n3' }])],
  ['bad-field', 'a string term', envelope([{ ...heartbeat, term: '3' }])],
  ['bad-field', 'a negative term', envelope([{ ...heartbeat, term: -1 }])],
  ['bad-field', 'a fractional commit', envelope([{ ...heartbeat, commit: 1.5 }])],
  ['bad-field', 'a NaN index', envelope([{ ...append, prevLogIndex: Number.NaN }])],
  ['bad-field', 'a missing field', envelope([{ ...heartbeat, commit: undefined }])],
  [
    'bad-field',
    'a non-boolean grant',
    envelope([{ type: 'RequestVoteResponse', from: 'n1', to: 'n2', term: 1, granted: 1 }]),
  ],
  ['bad-entry', 'entries a string', envelope([{ ...append, entries: 'x' }])],
  ['bad-entry', 'entries an ArrayBuffer', envelope([{ ...append, entries: new ArrayBuffer(1) }])],
  ['bad-entry', 'entries an array of objects (wire version 1)', envelope([append])],
  ['bad-entry', 'an entry of a future term', envelope([packed(9, 0, 0)])],
  ['bad-entry', 'an entry older than prevLogTerm', envelope([packed(1, 0, 0)])],
  ['bad-entry', 'terms going down', envelope([packed(3, 0, 0, 2, 0, 0)])],
  ['bad-entry', 'an entry of unknown type', envelope([packed(2, 7, 0)])],
  ['bad-entry', 'an entry without its type', envelope([packed(2)])],
  ['bad-entry', 'a term past the end', envelope([packed(0x82)])],
  ['bad-entry', 'data past the end', envelope([packed(2, 0, 3, 1, 2)])],
  ['bad-entry', 'a varuint longer than a safe integer', envelope([packed(...Array(9).fill(0xff), 0)])],
  ['bad-field', 'snapshot data a string', envelope([{ ...chunk, data: 'abc' }])],
  ['bad-field', 'a chunk past the snapshot’s end', envelope([{ ...chunk, offset: 9 }])],
  ['bad-field', 'a snapshot too large to allocate', envelope([{ ...chunk, size: 2 ** 40 }])],
];

describe('wire codec', () => {
  it('accepts well-formed batches as they were sent', () => {
    const empty = { ...append, entries: [] };
    const batch = raftBatch('n1', [heartbeat, append, chunk, empty] as Message[]);
    expect(decodeEnvelope(structuredClone(batch), 'n2', 'n1')).toEqual({
      messages: [heartbeat, append, chunk, empty],
      errors: [],
    });
  });

  it('packs the entries of an AppendEntries once for every peer it goes to', () => {
    const to = (peer: string) => raftBatch('n1', [{ ...append, to: peer }] as Message[]).messages[0]!;
    const [a, b] = [to('n2'), to('n3')];
    expect(a.type === 'AppendEntries' && b.type === 'AppendEntries' && a.entries === b.entries).toBe(true);
  });

  it.each(BAD)('drops %s: %s', (kind, _what, raw) => {
    const out = decodeEnvelope(raw, 'n2', 'n1');
    expect(out.messages).toEqual([]);
    expect(out.errors).toHaveLength(1);
    expect(out.errors[0]!.kind).toBe(kind);
    expect(out.errors[0]!.detail.length).toBeGreaterThan(0);
  });

  it('drops only the bad messages of a batch that also holds good ones', () => {
    const sent = raftBatch('n1', [append] as Message[]).messages[0];
    const odd = { ...heartbeat, kind: 'extra' };
    const out = decodeEnvelope(envelope([heartbeat, { ...heartbeat, term: 'x' }, sent, odd]), 'n2', 'n1');
    expect(out.messages).toEqual([heartbeat, append, odd]);
    expect(out.errors.map((e) => e.kind)).toEqual(['bad-field']);
  });

  it('estimates the structured-clone size of a batch within 10%', () => {
    const votes = [
      {
        type: 'RequestVote',
        from: 'n1',
        to: 'n2',
        term: 7,
        lastLogIndex: 40,
        lastLogTerm: 6,
        transfer: false,
      },
      { type: 'PreVoteResponse', from: 'n1', to: 'n2', term: 7, granted: true },
    ];
    const big = { ...append, entries: [{ ...append.entries[0], data: new Uint8Array(5_000) }] };
    const many = {
      ...append,
      entries: Array.from({ length: 100 }, (_, i) => ({ ...append.entries[0], index: 5 + i })),
    };
    const snapshot = [
      chunk,
      {
        type: 'InstallSnapshotResponse',
        from: 'n1',
        to: 'n2',
        term: 2,
        lastIncludedIndex: 5,
        lastIncludedTerm: 2,
        received: 4,
      },
    ];
    for (const messages of [
      [heartbeat],
      [append],
      votes,
      [big, heartbeat],
      [many],
      snapshot,
    ] as Message[][]) {
      const batch = raftBatch('n1', messages);
      const real = serialize(batch).byteLength;
      const estimate = estimateBytes(batch.messages);
      expect(Math.abs(estimate - real) / real, `${messages.map((m) => m.type)}`).toBeLessThan(0.1);
    }
  });

  it('a node counts and drops malformed input of every kind, logs each kind once, and keeps running', async () => {
    const h = await Harness.start({ nodes: 3 });
    const { c } = h;
    await h.replicate('before');
    for (const [, , raw] of BAD) await c.sendRaw('n1', 'n2', raw);
    for (const [, , raw] of BAD) await c.sendRaw('n3', 'n2', raw); // a second time, from another peer
    await waitFor(() => c.stats().malformed.n2 === 2 * BAD.length, 5_000, 'n2 to count the bad input');
    const report = await c.status('n2');
    // The second round comes on n3's port while claiming n1 as sender: mostly bad-sender there.
    expect(Object.values(report.wireErrors).reduce((a, b) => a + b, 0)).toBe(2 * BAD.length);
    for (const [kind] of BAD) expect(report.wireErrors[kind], kind).toBeGreaterThan(0);
    const warnings = h.logs.filter((l) => l.node === 'n2' && /malformed/.test(l.message));
    expect(warnings).toHaveLength(Object.keys(report.wireErrors).length); // once per kind
    expect(h.state('n2')).toMatchObject({ alive: true, worker: 'running' });
    expect(h.events).toEqual([]);
    await h.replicate('after');
    expect(h.texts('n2')).toEqual(['before', 'after']);
    h.assertSafe();
  });
});
