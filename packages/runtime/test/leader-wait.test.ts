// A node worker that knows no leader holds client requests until it learns one
// (thesis §6.2: it has no redirect to give), for about one maximum election
// timeout at most, instead of answering at once without a hint.
import { decodeResponse, encodeRequest, type KvResponse, NotLeaderError } from '@xraft/kv';
import { describe, expect, it } from 'vitest';
import { Harness, waitFor } from './harness.js';

const register = encodeRequest({ type: 'register' });

describe('client requests at a node that knows no leader (§6.2)', () => {
  it('a follower cut off while the leader dies holds a request until it hears the new leader, then redirects to it', async () => {
    const h = await Harness.start({ nodes: 5 });
    const c = h.c;
    const old = await c.leader();
    const oldTerm = c.state(old).term;
    const [cutOff, ...rest] = c.ids.filter((id) => id !== old);
    h.willReplace(old);
    await c.crash(old);
    await c.disconnect(cutOff!);
    // The other three elect a leader; the cut-off follower times out and knows none (PreVote keeps its term).
    let elected: string | undefined;
    await waitFor(
      () => {
        elected = rest.find((id) => c.state(id).role === 'leader' && c.state(id).term > oldTerm);
        return elected !== undefined && c.state(cutOff!).leaderId === null;
      },
      10_000,
      'a new leader, and the cut-off follower knowing none',
    );
    const sent = c.clientTransport().send(cutOff!, register, 5_000).then(decodeResponse);
    let answer: KvResponse | undefined;
    void sent.then((r) => {
      answer = r;
    });
    await c.status(cutOff!); // a round trip through its worker: the request has most likely arrived by now
    expect(answer).toBeUndefined(); // before this change: { notLeader, leaderHint: null } already
    await c.connect(cutOff!);
    // The new leader's next heartbeat tells it who leads (within 50 ms, far inside the 300 ms bound).
    expect(await sent).toEqual({ type: 'notLeader', leaderHint: elected });
    expect(c.state(cutOff!).leaderId).toBe(elected);
  });

  it('a request held without a leader is answered as before, without a hint, a maximum election timeout after the leader was lost', async () => {
    const maxElectionTimeoutMs = 300;
    const h = await Harness.start({ nodes: 3, electionTimeoutMs: [150, maxElectionTimeoutMs] });
    const c = h.c;
    const leader = await c.leader();
    const follower = c.ids.find((id) => id !== leader)!;
    await c.disconnect(follower);
    await waitFor(() => c.state(follower).leaderId === null, 10_000, 'the follower to know no leader');
    const lostBy = performance.now(); // it lost its leader a few ms before this (status is polled)
    const answer = decodeResponse(await c.clientTransport().send(follower, register, 5_000));
    const heldFor = performance.now() - lostBy;
    expect(answer).toEqual({ type: 'notLeader', leaderHint: null });
    expect(heldFor).toBeGreaterThan(maxElectionTimeoutMs / 2); // held, not answered at once
    expect(c.state(follower).leaderId).toBeNull();
    // Leaderless for longer than an election takes: it answers at once again, so clients search on.
    const again = performance.now();
    const second = decodeResponse(await c.clientTransport().send(follower, register, 5_000));
    expect(second).toEqual({ type: 'notLeader', leaderHint: null });
    expect(performance.now() - again).toBeLessThan(maxElectionTimeoutMs / 2);
  });

  it('a KvClient cut off from a quorum still fails with NotLeaderError after its leader-search rounds', async () => {
    const h = await Harness.start({ nodes: 3 });
    const c = h.c;
    const leader = await c.leader();
    const [a, b] = c.ids.filter((id) => id !== leader);
    h.willReplace(leader);
    h.willReplace(a!);
    await c.crash(leader);
    await c.crash(a!);
    // The survivor knows no leader for good; a put there is surely not applied. With the defaults (5 s per call,
    // 20 rounds), holding each attempt there for 300 ms would run the call into TimeoutError (outcome unknown).
    const kv = c.client();
    try {
      await expect(kv.put('k', 'v')).rejects.toThrow(NotLeaderError);
      expect(c.state(b!).leaderId).toBeNull();
    } finally {
      await kv.close();
    }
  });

  it('a held request fails at once when its worker dies, as any request in flight does', async () => {
    // A long bound, so only the worker's exit can end the wait within the test.
    const h = await Harness.start({ nodes: 3, electionTimeoutMs: [3_000, 6_000] });
    const c = h.c;
    const leader = await c.leader(20_000);
    const follower = c.ids.find((id) => id !== leader)!;
    await c.disconnect(follower);
    await waitFor(() => c.state(follower).leaderId === null, 20_000, 'the follower to know no leader');
    const start = performance.now();
    const sent = c.clientTransport().send(follower, register, 20_000);
    await c.status(follower);
    h.willReplace(follower);
    await c.crash(follower);
    await expect(sent).rejects.toThrow(/before answering/);
    expect(performance.now() - start).toBeLessThan(6_000);
  });
});
