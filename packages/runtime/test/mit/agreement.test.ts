// MIT 6.5840 Raft lab, part 3B (log replication), on real worker threads.
import { randomBytes } from 'node:crypto';
import { setTimeout as sleep } from 'node:timers/promises';
import { describe, expect, test } from 'vitest';
import { cmd, ELECTION_TIMEOUT_MS, testRandom, withMit } from './harness.js';

describe('6.5840 3B: agreement', () => {
  test('basic agreement: nothing commits before Start(), then every server applies it', async () => {
    await withMit(3, {}, async (m) => {
      for (let index = 2; index <= 4; index++) {
        // Index 1 is the leader's no-op, which is not reported.
        expect(m.nCommitted(index).count, 'committed before Start()').toBe(0);
        expect(await m.one(`basic-${index}`, 3, false)).toBe(index);
      }
    });
  });

  test('RPC byte count: each command is sent to each follower about once', async () => {
    await withMit(3, {}, async (m) => {
      await m.one('first', 3, false);
      const before = m.c.stats().bytes;
      let sent = 0;
      for (let i = 0; i < 10; i++) {
        const command = randomBytes(2500).toString('hex'); // 5000 bytes, as in the lab
        await m.one(command, 3, false);
        sent += command.length;
      }
      const got = m.c.stats().bytes - before;
      const expected = sent * (m.ids.length - 1);
      expect(got, `${got} bytes for ${expected} bytes of commands`).toBeLessThan(expected + 50_000);
    });
  });

  test('follower failure: agreement continues with one and then no follower less', async () => {
    await withMit(3, {}, async (m) => {
      await m.one('101', 3, false);
      const leader1 = await m.checkOneLeader();
      await m.disconnect(m.ids.find((id) => id !== leader1)!);
      await m.one('102', 2, false);
      await sleep(ELECTION_TIMEOUT_MS);
      await m.one('103', 2, false);
      // Both followers gone: nothing commits.
      const leader2 = await m.checkOneLeader();
      for (const id of m.ids) if (id !== leader2) await m.disconnect(id);
      const r = await m.c.submit(leader2, cmd('104'));
      expect(r.isLeader).toBe(true);
      await sleep(2 * ELECTION_TIMEOUT_MS);
      expect(m.nCommitted(r.index).count).toBe(0);
    });
  });

  test('leader failure: a new leader commits; with the old leaders gone nothing commits', async () => {
    await withMit(3, {}, async (m) => {
      await m.one('101', 3, false);
      const leader1 = await m.checkOneLeader();
      await m.disconnect(leader1);
      await m.one('102', 2, false);
      await sleep(ELECTION_TIMEOUT_MS);
      await m.one('103', 2, false);
      const leader2 = await m.checkOneLeader();
      await m.disconnect(leader2);
      // Submit to every server; none may commit with one server of three.
      for (const id of m.ids) await m.c.submit(id, cmd('104'));
      await sleep(2 * ELECTION_TIMEOUT_MS);
      expect(m.appliedAnywhere('104'), 'committed with one server of three').toBe(false);
    });
  });

  test('fail-agree: a follower that missed entries catches up after it reconnects', async () => {
    await withMit(3, {}, async (m) => {
      await m.one('101', 3, false);
      const leader = await m.checkOneLeader();
      const follower = m.ids.find((id) => id !== leader)!;
      await m.disconnect(follower);
      for (const c of ['102', '103', '104', '105']) await m.one(c, 2, false);
      await sleep(ELECTION_TIMEOUT_MS);
      await m.connect(follower);
      await m.one('106', 3, true);
      await m.one('107', 3, true);
    });
  });

  test('fail-no-agree: no agreement without a majority; agreement again once it returns', async () => {
    await withMit(5, {}, async (m) => {
      await m.one('10', 5, false);
      const leader = await m.checkOneLeader();
      const followers = m.ids.filter((id) => id !== leader);
      for (const id of followers.slice(0, 3)) await m.disconnect(id);
      const r = await m.c.submit(leader, cmd('20'));
      expect(r.isLeader).toBe(true);
      await sleep(2 * ELECTION_TIMEOUT_MS);
      expect(m.appliedAnywhere('20'), 'committed without a majority').toBe(false);
      for (const id of followers.slice(0, 3)) await m.connect(id);
      // The disconnected majority may have elected a leader of its own; either way agreement returns.
      const leader2 = await m.checkOneLeader();
      const r2 = await m.c.submit(leader2, cmd('30'));
      expect(r2.isLeader).toBe(true);
      // Its log: the no-op, '10', then '20' or a new leader's no-op (the lab's 2..3, shifted by no-ops).
      expect(r2.index).toBeGreaterThanOrEqual(3);
      expect(r2.index).toBeLessThanOrEqual(5);
      await m.one('1000', 5, true);
    });
  });

  test('concurrent starts: commands submitted at once all commit, each at its own index', async () => {
    await withMit(3, {}, async (m) => {
      for (let attempt = 0; attempt < 5; attempt++) {
        const leader = await m.checkOneLeader();
        const term = m.c.state(leader).term;
        const results = await Promise.all(
          Array.from({ length: 5 }, (_, i) => m.c.submit(leader, cmd(`concurrent-${attempt}-${i}`))),
        );
        if (results.some((r) => !r.isLeader || r.term !== term)) continue; // leadership moved: try again
        const indexes = results.map((r) => r.index);
        expect(new Set(indexes).size).toBe(5);
        const commands = await Promise.all(indexes.map((i) => m.waitCommitted(i, 3, term)));
        if (commands.includes(undefined)) continue; // the term changed under us
        expect(new Set(commands).size).toBe(5);
        return;
      }
      throw new Error('the term changed too often');
    });
  });

  test('rejoin of a partitioned leader: its divergent entries are discarded', async () => {
    await withMit(3, {}, async (m) => {
      await m.one('101', 3, true);
      const leader1 = await m.checkOneLeader();
      await m.disconnect(leader1);
      // The old leader accepts commands it can never commit.
      for (const c of ['102', '103', '104']) await m.c.submit(leader1, cmd(c));
      await m.one('103b', 2, true);
      const leader2 = await m.checkOneLeader();
      await m.disconnect(leader2);
      await m.connect(leader1);
      await m.one('104b', 2, true);
      await m.connect(leader2);
      await m.one('105', 3, true);
    });
  });

  test('backup: fast backtracking over 50-entry conflicting suffixes', async () => {
    await withMit(5, {}, async (m) => {
      await m.one('start', 5, true);
      // Put the leader and one follower in a partition; give them 50 uncommittable entries.
      const leader1 = await m.checkOneLeader();
      const others = m.ids.filter((id) => id !== leader1);
      const [f1, f2, f3, f4] = others as [string, string, string, string];
      await m.disconnect(f2);
      await m.disconnect(f3);
      await m.disconnect(f4);
      for (let i = 0; i < 50; i++) await m.c.submit(leader1, cmd(`lost-a-${i}`));
      await sleep(ELECTION_TIMEOUT_MS / 2);
      await m.disconnect(leader1);
      await m.disconnect(f1);
      // The other three commit 50 entries of their own.
      await m.connect(f2);
      await m.connect(f3);
      await m.connect(f4);
      for (let i = 0; i < 50; i++) await m.one(`kept-b-${i}`, 3, true);
      // Now another partitioned leader with 50 more uncommitted entries.
      const leader2 = await m.checkOneLeader();
      const other = [f2, f3, f4].find((id) => id !== leader2)!;
      await m.disconnect(other);
      for (let i = 0; i < 50; i++) await m.c.submit(leader2, cmd(`lost-c-${i}`));
      await sleep(ELECTION_TIMEOUT_MS / 2);
      // Bring the original leader, its follower and `other` back: they must win and repair.
      for (const id of m.ids) await m.disconnect(id);
      await m.connect(leader1);
      await m.connect(f1);
      await m.connect(other);
      for (let i = 0; i < 50; i++) await m.one(`kept-d-${i}`, 3, true);
      for (const id of m.ids) await m.connect(id);
      await m.one('end', 5, true);
    });
  });

  test('RPC counts: an election, an agreement and an idle second each cost a bounded number of messages', async () => {
    const rnd = testRandom('rpc counts');
    await withMit(3, {}, async (m) => {
      const leader = await m.checkOneLeader();
      // An election among 3 servers: PreVote and RequestVote rounds, their answers, and the first appends.
      expect(m.rpcTotal(), 'too many messages for an initial election').toBeLessThan(60);
      for (let attempt = 0; attempt < 3; attempt++) {
        const term = m.c.state(leader).term;
        const before = m.rpcTotal();
        const first = await m.c.submit(leader, cmd(`count-${rnd.int(1e9)}`));
        if (!first.isLeader) continue;
        const indexes = [first.index];
        for (let i = 1; i < 10; i++)
          indexes.push((await m.c.submit(leader, cmd(`count-${i}-${rnd.int(1e9)}`))).index);
        const got = await Promise.all(indexes.map((i) => m.waitCommitted(i, 3, term)));
        if (got.includes(undefined) || m.c.state(leader).term !== term) continue;
        // Per command at most one AppendEntries and one answer per follower, per commit advance one more
        // pair (the new commit index), plus a few heartbeat rounds: ~100. Resending entries would blow it.
        const used = m.rpcTotal() - before;
        expect(used, `${used} messages to agree on 10 commands`).toBeLessThanOrEqual(120);
        // Idle: heartbeats every 50 ms to 2 followers, with answers: about 80 messages a second.
        const idleBefore = m.rpcTotal();
        await sleep(1_000);
        const idle = m.rpcTotal() - idleBefore;
        expect(idle, `${idle} messages in an idle second`).toBeLessThanOrEqual(3 * 20 * 2 + 20);
        return;
      }
      throw new Error('the term changed too often');
    });
  });
});
