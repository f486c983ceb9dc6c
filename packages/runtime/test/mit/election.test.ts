// MIT 6.5840 Raft lab, part 3A (leader election), on real worker threads.
import { setTimeout as sleep } from 'node:timers/promises';
import { describe, expect, test } from 'vitest';
import { ELECTION_TIMEOUT_MS, testRandom, withMit } from './harness.js';

describe('6.5840 3A: leader election', () => {
  test('initial election: one leader, agreed term, and it stays without failures', async () => {
    await withMit(3, {}, async (m) => {
      await m.checkOneLeader();
      const term1 = m.checkTerms();
      expect(term1).toBeGreaterThanOrEqual(1);
      // With no failures, the leader and the term stay put (absence checked over two timeouts).
      await sleep(2 * ELECTION_TIMEOUT_MS);
      expect(m.checkTerms()).toBe(term1);
      await m.checkOneLeader();
    });
  });

  test('re-election: a new leader when the leader is cut off; none without a majority', async () => {
    await withMit(3, {}, async (m) => {
      const leader1 = await m.checkOneLeader();
      // The leader disconnects: a new one is elected.
      await m.disconnect(leader1);
      const leader2 = await m.checkOneLeader();
      expect(leader2).not.toBe(leader1);
      // The old leader rejoins: it must not disturb the new one.
      await m.connect(leader1);
      const leader3 = await m.checkOneLeader();
      expect(leader3).toBe(leader2);
      // No quorum: no leader.
      const other = m.ids.find((id) => id !== leader2)!;
      await m.disconnect(leader2);
      await m.disconnect(other);
      await sleep(2 * ELECTION_TIMEOUT_MS);
      m.checkNoLeader();
      // A quorum again: a leader.
      await m.connect(other);
      await m.checkOneLeader();
      await m.connect(leader2);
      await m.checkOneLeader();
    });
  });

  test('many elections: 7 servers, three cut off at random, again and again', async () => {
    const rnd = testRandom('many elections');
    await withMit(7, {}, async (m) => {
      await m.checkOneLeader();
      for (let round = 0; round < 6; round++) {
        const cut = new Set<string>();
        while (cut.size < 3) cut.add(m.ids[rnd.int(m.ids.length)]!);
        for (const id of cut) await m.disconnect(id);
        // Four of seven remain: a majority, so a leader.
        await m.checkOneLeader();
        for (const id of cut) await m.connect(id);
      }
      await m.checkOneLeader();
    });
  });
});
