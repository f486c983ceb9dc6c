// handleKvRequest, the node side of the client protocol (thesis §6.2–§6.4),
// against a scripted KvNode: redirects, verbatim proposals, ReadIndex before
// queries, lease reads with a fallback, and failures answered so the client
// retries safely.
import { describe, expect, test, vi } from 'vitest';
import { decodeResponse, encodeRequest } from '../src/codec.js';
import type { KvQuery } from '../src/commands.js';
import type { KvRequest } from '../src/protocol.js';
import { handleKvRequest, type KvNode } from '../src/server.js';
import { KvStateMachine } from '../src/state-machine.js';
import { put } from './helpers.js';

/** scriptedNode is a KvNode whose leader applies proposals at once to its own state machine. */
function scriptedNode(overrides: Partial<KvNode> = {}) {
  const sm = new KvStateMachine();
  let index = 0;
  const node = {
    stateMachine: sm,
    isLeader: () => true,
    leaderHint: () => 'n1',
    propose: vi.fn(async (entry: Uint8Array) => sm.apply(entry, ++index)),
    readIndex: vi.fn(async () => {}),
    ...overrides,
  } satisfies KvNode;
  return { node, sm };
}

const ask = async (node: KvNode, request: KvRequest) =>
  decodeResponse(await handleKvRequest(encodeRequest(request), node));
const get = (key: string): KvQuery => ({ type: 'get', key });
const read = (mode: 'linearizable' | 'lease' | 'stale', ...queries: KvQuery[]): KvRequest => ({
  type: 'read',
  mode,
  leaseClockDriftMs: mode === 'lease' ? 25 : 0,
  queries,
});

describe('handleKvRequest', () => {
  test('§6.2 a follower redirects writes and linearizable reads to its leader, without proposing', async () => {
    const { node } = scriptedNode({ isLeader: () => false, leaderHint: () => 'n3' });
    expect(await ask(node, { type: 'register' })).toEqual({ type: 'notLeader', leaderHint: 'n3' });
    expect(await ask(node, read('linearizable', get('k')))).toEqual({ type: 'notLeader', leaderHint: 'n3' });
    expect(await ask(node, read('lease', get('k')))).toEqual({ type: 'notLeader', leaderHint: 'n3' });
    expect(node.propose).not.toHaveBeenCalled();
    const leaderless = scriptedNode({ isLeader: () => false, leaderHint: () => null }).node;
    expect(await ask(leaderless, { type: 'register' })).toEqual({ type: 'notLeader', leaderHint: null });
  });

  test('the leader proposes the request bytes verbatim and answers with the entry result', async () => {
    const { node, sm } = scriptedNode();
    expect(await ask(node, { type: 'register' })).toEqual({ type: 'registered', clientId: 1 });
    const batch = encodeRequest({
      type: 'batch',
      clientId: 1,
      ackedSeq: 1,
      commands: [{ ...put('k', 'v'), seq: 1 }],
    });
    const response = decodeResponse(await handleKvRequest(batch, node));
    expect(response).toEqual({ type: 'applied', clientId: 1, results: [{ seq: 1, type: 'ok' }] });
    expect(node.propose).toHaveBeenLastCalledWith(batch);
    expect(sm.query(get('k'))).toEqual({ type: 'value', value: 'v' });
  });

  test('a request that does not decode is rejected and never proposed', async () => {
    const { node } = scriptedNode();
    const response = decodeResponse(await handleKvRequest(new Uint8Array([1, 2, 5]), node));
    expect(response).toMatchObject({
      type: 'rejected',
      reason: expect.stringMatching(/malformed kv request/),
    });
    expect(node.propose).not.toHaveBeenCalled();
  });

  test('a failed proposal is answered unavailable (the client retries with the same seqs)', async () => {
    const { node } = scriptedNode({ propose: async () => Promise.reject(new Error('leadership lost')) });
    expect(await ask(node, { type: 'register' })).toEqual({
      type: 'unavailable',
      reason: 'proposal not known to be committed: leadership lost',
    });
  });

  test("another entry's result is never passed off as this request's", async () => {
    const results: unknown[] = [
      { type: 'applied', clientId: 9, results: [{ seq: 1, type: 'ok' }] }, // another client
      { type: 'applied', clientId: 1, results: [{ seq: 2, type: 'ok' }] }, // another seq
      { type: 'registered', clientId: 5 }, // another kind of entry
      42,
    ];
    for (const result of results) {
      const { node } = scriptedNode({ propose: async () => result });
      const response = await ask(node, {
        type: 'batch',
        clientId: 1,
        ackedSeq: 1,
        commands: [{ ...put('k', 'v'), seq: 1 }],
      });
      expect(response.type, JSON.stringify(result)).toBe('unavailable');
    }
  });

  test('§6.4 a linearizable read waits for ReadIndex, then queries what is applied by then', async () => {
    const late = encodeRequest({
      type: 'batch',
      clientId: 1,
      ackedSeq: 1,
      commands: [{ ...put('k', 'late'), seq: 1 }],
    });
    // The write commits while ReadIndex runs: the read must see it.
    const readIndex = vi.fn(async () => {
      sm.apply(late, 2);
    });
    const { node, sm } = scriptedNode({ readIndex });
    await ask(node, { type: 'register' });
    expect(await ask(node, read('linearizable', get('k'), { type: 'list', prefix: '', limit: 5 }))).toEqual({
      type: 'read',
      results: [
        { type: 'value', value: 'late' },
        { type: 'pairs', pairs: [{ key: 'k', value: 'late' }] },
      ],
    });
    expect(readIndex).toHaveBeenCalledTimes(1);
  });

  test('a failed ReadIndex is answered unavailable', async () => {
    const { node } = scriptedNode({ readIndex: async () => Promise.reject(new Error('no quorum')) });
    expect(await ask(node, read('linearizable', get('k')))).toEqual({
      type: 'unavailable',
      reason: 'read not confirmed by a quorum: no quorum',
    });
  });

  test('§6.4.1 a lease read skips ReadIndex only while the leader holds a lease under the stated drift', async () => {
    const leaseRead = vi.fn(async (_drift: number) => true);
    const held = scriptedNode({ leaseRead });
    expect(await ask(held.node, read('lease', get('k')))).toEqual({
      type: 'read',
      results: [{ type: 'value', value: undefined }],
    });
    expect(leaseRead).toHaveBeenCalledWith(25);
    expect(held.node.readIndex).not.toHaveBeenCalled();

    const expired = scriptedNode({ leaseRead: async () => false });
    await ask(expired.node, read('lease', get('k')));
    expect(expired.node.readIndex).toHaveBeenCalledTimes(1);

    const noLeases = scriptedNode();
    await ask(noLeases.node, read('lease', get('k')));
    expect(noLeases.node.readIndex).toHaveBeenCalledTimes(1);
  });

  test('a stale read is answered by any node from its own state, with no ReadIndex', async () => {
    const { node } = scriptedNode({ isLeader: () => false, leaderHint: () => null });
    expect(await ask(node, read('stale', get('k')))).toEqual({
      type: 'read',
      results: [{ type: 'value', value: undefined }],
    });
    expect(node.readIndex).not.toHaveBeenCalled();
  });

  test('a state machine without query() is a wiring error, said plainly', async () => {
    const { node } = scriptedNode();
    const broken = {
      ...node,
      stateMachine: { apply: () => 0, snapshot: () => new Uint8Array(), restore: () => {} },
    };
    await expect(ask(broken, read('stale', get('k')))).rejects.toThrow(/no query\(\) method/);
  });
});
