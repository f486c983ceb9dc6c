// A node that knows no leader holds client requests until it learns one
// (thesis §6.2: it has no redirect to give): handleKvRequest over a
// KvNode.awaitLeader, and LeaderWait, the hold with its bound, cap and release.
import { afterEach, describe, expect, test, vi } from 'vitest';
import { decodeResponse, encodeRequest } from '../src/codec.js';
import type { KvRequest, KvResponse } from '../src/protocol.js';
import { handleKvRequest, type KvNode, LeaderWait } from '../src/server.js';
import { KvStateMachine } from '../src/state-machine.js';

/** electingNode is a KvNode in an election: it knows no leader until `learn` says who leads (`lose`: none again). */
function electingNode(wait: LeaderWait) {
  const sm = new KvStateMachine();
  let leader: string | null = null;
  let index = 0;
  const node = {
    stateMachine: sm,
    isLeader: () => leader === 'self',
    leaderHint: () => leader,
    propose: vi.fn(async (entry: Uint8Array) => sm.apply(entry, ++index)),
    readIndex: vi.fn(async () => {}),
    awaitLeader: vi.fn(() => wait.wait()),
  } satisfies KvNode;
  const learn = (who: string) => {
    leader = who;
    wait.leaderKnown();
  };
  const lose = () => {
    leader = null;
    wait.leaderLost();
  };
  return { node, learn, lose };
}

/** pending starts a request and reports its answer once there is one. */
function pending(node: KvNode, request: KvRequest) {
  let answer: KvResponse | undefined;
  const done = handleKvRequest(encodeRequest(request), node).then((bytes) => {
    answer = decodeResponse(bytes);
    return answer;
  });
  return { done, answer: () => answer };
}

const linearizableGet: KvRequest = {
  type: 'read',
  mode: 'linearizable',
  leaseClockDriftMs: 0,
  queries: [{ type: 'get', key: 'k' }],
};

afterEach(() => {
  vi.useRealTimers();
});

describe('handleKvRequest at a node that knows no leader (§6.2)', () => {
  test('holds a write and a read until the node learns the leader, then redirects to it', async () => {
    const wait = new LeaderWait({ maxWaitMs: 10_000 });
    const { node, learn } = electingNode(wait);
    const write = pending(node, { type: 'register' });
    const read = pending(node, linearizableGet);
    await vi.waitFor(() => expect(wait.size).toBe(2));
    expect(write.answer()).toBeUndefined();
    expect(read.answer()).toBeUndefined();
    learn('n3');
    expect(await write.done).toEqual({ type: 'notLeader', leaderHint: 'n3' });
    expect(await read.done).toEqual({ type: 'notLeader', leaderHint: 'n3' });
    expect(node.propose).not.toHaveBeenCalled();
  });

  test('serves a held request if the node itself became the leader', async () => {
    const wait = new LeaderWait({ maxWaitMs: 10_000 });
    const { node, learn } = electingNode(wait);
    const write = pending(node, { type: 'register' });
    await vi.waitFor(() => expect(wait.size).toBe(1));
    learn('self');
    expect(await write.done).toEqual({ type: 'registered', clientId: 1 });
    expect(node.propose).toHaveBeenCalledTimes(1);
  });

  test('does not hold when it knows a leader, nor stale reads, nor without awaitLeader', async () => {
    const wait = new LeaderWait({ maxWaitMs: 10_000 });
    const { node, learn } = electingNode(wait);
    const stale = await pending(node, { ...linearizableGet, mode: 'stale' }).done;
    expect(stale).toEqual({ type: 'read', results: [{ type: 'value', value: undefined }] });
    learn('n2');
    expect(await pending(node, { type: 'register' }).done).toEqual({ type: 'notLeader', leaderHint: 'n2' });
    expect(node.awaitLeader).not.toHaveBeenCalled();
    const { awaitLeader: _, ...plain } = electingNode(wait).node;
    expect(await pending(plain, { type: 'register' }).done).toEqual({ type: 'notLeader', leaderHint: null });
  });
});

describe('LeaderWait', () => {
  test('answers a held request as before (no hint) once maxWaitMs passes without a leader', async () => {
    vi.useFakeTimers();
    const wait = new LeaderWait({ maxWaitMs: 300 });
    const { node } = electingNode(wait);
    const write = pending(node, { type: 'register' });
    await vi.advanceTimersByTimeAsync(299);
    expect(wait.size).toBe(1);
    expect(write.answer()).toBeUndefined();
    await vi.advanceTimersByTimeAsync(1);
    expect(await write.done).toEqual({ type: 'notLeader', leaderHint: null });
    expect(wait.size).toBe(0);
  });

  test('holds requests only within maxWaitMs of losing the leader: a node leaderless longer answers at once', async () => {
    vi.useFakeTimers();
    const wait = new LeaderWait({ maxWaitMs: 300 });
    const { node, learn, lose } = electingNode(wait);
    learn('n2');
    lose();
    await vi.advanceTimersByTimeAsync(200);
    const late = pending(node, { type: 'register' });
    await vi.advanceTimersByTimeAsync(99);
    expect(late.answer()).toBeUndefined();
    await vi.advanceTimersByTimeAsync(1); // 300 ms after the loss, not after the request
    expect(await late.done).toEqual({ type: 'notLeader', leaderHint: null });
    // Still no leader: most likely no quorum; answered at once, so clients' leader search ends as before.
    await vi.advanceTimersByTimeAsync(5_000);
    expect(await pending(node, { type: 'register' }).done).toEqual({ type: 'notLeader', leaderHint: null });
    expect(wait.size).toBe(0);
    // A leader comes and goes: a new stretch without one, during which requests are held again.
    learn('n3');
    lose();
    const next = pending(node, { type: 'register' });
    await vi.advanceTimersByTimeAsync(0);
    expect(wait.size).toBe(1);
    learn('n1');
    expect(await next.done).toEqual({ type: 'notLeader', leaderHint: 'n1' });
  });

  test('holds at most maxHeld requests; the others are answered at once', async () => {
    const wait = new LeaderWait({ maxWaitMs: 10_000, maxHeld: 2 });
    const { node, learn } = electingNode(wait);
    const held = [pending(node, { type: 'register' }), pending(node, { type: 'register' })];
    await vi.waitFor(() => expect(wait.size).toBe(2));
    expect(await pending(node, { type: 'register' }).done).toEqual({ type: 'notLeader', leaderHint: null });
    expect(held.map((h) => h.answer())).toEqual([undefined, undefined]);
    learn('n1');
    for (const h of held) expect(await h.done).toEqual({ type: 'notLeader', leaderHint: 'n1' });
  });

  test('close releases every held request and holds no more (the node stops)', async () => {
    const wait = new LeaderWait({ maxWaitMs: 10_000 });
    const { node } = electingNode(wait);
    const held = pending(node, { type: 'register' });
    await vi.waitFor(() => expect(wait.size).toBe(1));
    wait.close();
    expect(await held.done).toEqual({ type: 'notLeader', leaderHint: null });
    expect(wait.size).toBe(0);
    await wait.wait(); // resolves at once
    expect(wait.size).toBe(0);
  });

  test('rejects a negative bound or cap', () => {
    expect(() => new LeaderWait({ maxWaitMs: -1 })).toThrow(RangeError);
    expect(() => new LeaderWait({ maxWaitMs: 1, maxHeld: 1.5 })).toThrow(RangeError);
  });
});
