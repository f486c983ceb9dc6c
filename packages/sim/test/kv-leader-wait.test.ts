// The simulated KV server holds a request that reaches it while it knows no
// leader (thesis §6.2: it has no redirect to give) until it learns one, for
// one maximum election timeout at most, as the runtime's LeaderWait does; on
// virtual time, so every step here is exact and replays from the seed.
import { encodeRequest } from '@xraft/kv';
import { describe, expect, test } from 'vitest';
import type { NodeHost } from '../src/host.js';
import type { Simulation } from '../src/simulation.js';
import { ask, quietCluster } from './kv-fixtures.js';

/** runUntilTrue steps virtual time 1 ms at a time until `cond` holds; false if `withinMs` pass first. */
function runUntilTrue(sim: Simulation, cond: () => boolean, withinMs: number): boolean {
  const end = sim.now + withinMs;
  while (!cond()) {
    if (sim.now >= end) return false;
    sim.runUntil(sim.now + 1);
  }
  return true;
}

const knowsNoLeader = (h: NodeHost) => h.alive && h.raft!.leaderId === null;
const register = encodeRequest({ type: 'register' });

describe('a simulated KV server that knows no leader (§6.2)', () => {
  for (const seed of [51, 52, 53, 54]) {
    test(`holds a write through the election after a leader crash, then redirects or serves it (seed ${seed})`, () => {
      const sim = quietCluster(seed);
      const old = sim.leader()!;
      const follower = sim.hosts.find((h) => h !== old)!;
      sim.nemesis.crash(old.id, Number.POSITIVE_INFINITY);
      expect(runUntilTrue(sim, () => knowsNoLeader(follower), 1000)).toBe(true);
      const replies = ask(sim, follower.id, register);
      expect(replies).toEqual([]); // held, not { notLeader, leaderHint: null }
      expect(runUntilTrue(sim, () => replies.length > 0, 1000)).toBe(true);
      const leader = sim.leader()!;
      expect(leader).not.toBe(old);
      if (leader === follower)
        expect(replies).toEqual([{ type: 'registered', clientId: expect.any(Number) }]);
      else expect(replies).toEqual([{ type: 'notLeader', leaderHint: leader.id }]);
      expect(sim.result().violations).toEqual([]);
    });
  }

  test('answers a held request as before, without a hint, one maximum election timeout after it came, and later ones at once', () => {
    const sim = quietCluster(55);
    const leader = sim.leader()!;
    const follower = sim.hosts.find((h) => h !== leader)!;
    sim.network.partition([[follower.id], sim.hosts.filter((h) => h !== follower).map((h) => h.id)]);
    expect(runUntilTrue(sim, () => knowsNoLeader(follower), 1000)).toBe(true);
    const bound = follower.raft!.config.electionTimeoutMs[1];
    const arrived = sim.now;
    const replies = ask(sim, follower.id, encodeRequest({ type: 'register' }));
    const read = ask(
      sim,
      follower.id,
      encodeRequest({ type: 'read', mode: 'linearizable', leaseClockDriftMs: 0, queries: [] }),
    );
    sim.runUntil(arrived + bound - 1);
    expect([...replies, ...read]).toEqual([]);
    sim.runUntil(arrived + bound);
    expect(replies).toEqual([{ type: 'notLeader', leaderHint: null }]);
    expect(read).toEqual([{ type: 'notLeader', leaderHint: null }]);
    // Leaderless for longer than an election takes (no quorum, most likely): answered at once until it knows one.
    expect(ask(sim, follower.id, register)).toEqual([{ type: 'notLeader', leaderHint: null }]);
    sim.network.heal();
    expect(runUntilTrue(sim, () => follower.raft!.leaderId !== null, 1000)).toBe(true);
    // The server notices the leader at its next event (here a request), and holds again once it is lost again.
    expect(ask(sim, follower.id, register)).toEqual([
      { type: 'notLeader', leaderHint: follower.raft!.leaderId },
    ]);
    sim.network.partition([[follower.id], sim.hosts.filter((h) => h !== follower).map((h) => h.id)]);
    expect(runUntilTrue(sim, () => knowsNoLeader(follower), 1000)).toBe(true);
    expect(ask(sim, follower.id, register)).toEqual([]);
  });

  test('a crash drops held requests with the process: no answer, and no bound firing after a restart', () => {
    const sim = quietCluster(56);
    const leader = sim.leader()!;
    const follower = sim.hosts.find((h) => h !== leader)!;
    sim.network.partition([[follower.id], sim.hosts.filter((h) => h !== follower).map((h) => h.id)]);
    expect(runUntilTrue(sim, () => knowsNoLeader(follower), 1000)).toBe(true);
    const replies = ask(sim, follower.id, register);
    sim.nemesis.crash(follower.id, 10);
    sim.runUntil(sim.now + 1000);
    expect(follower.alive).toBe(true);
    expect(replies).toEqual([]);
  });
});
