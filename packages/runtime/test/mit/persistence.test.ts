// MIT 6.5840 Raft lab, part 3C (persistence), on real worker threads with disk storage.
import { setTimeout as sleep } from 'node:timers/promises';
import { describe, expect, test } from 'vitest';
import { cmd, ELECTION_TIMEOUT_MS, type Mit, testRandom, withMit } from './harness.js';

const after = (m: Mit, id: string, k: number) => m.ids[(m.ids.indexOf(id) + k) % m.ids.length]!;

describe('6.5840 3C: persistence', () => {
  test('persist 1: restart all, the leader, a follower; state survives every time', async () => {
    await withMit(3, {}, async (m) => {
      await m.one('11', 3, true);
      for (const id of m.ids) await m.restart(id);
      await m.one('12', 3, true);
      const leader1 = await m.checkOneLeader();
      await m.restart(leader1);
      await m.one('13', 3, true);
      const leader2 = await m.checkOneLeader();
      await m.disconnect(leader2);
      await m.one('14', 2, true);
      await m.restart(leader2);
      // Wait for leader2 to catch up before cutting off another server.
      const index14 = [...m.applied.values()].flatMap((a) =>
        [...a].filter(([, v]) => v === '14').map(([i]) => i),
      )[0]!;
      expect(await m.waitCommitted(index14, 3)).toBe('14');
      const i3 = after(m, await m.checkOneLeader(), 1);
      await m.disconnect(i3);
      await m.one('15', 2, true);
      await m.restart(i3);
      await m.one('16', 3, true);
    });
  });

  test('persist 2: leaders and followers crash in turn over several rounds', async () => {
    await withMit(5, {}, async (m) => {
      let index = 1;
      for (let iter = 0; iter < 4; iter++) {
        await m.one(`p2-${index++}`, 5, true);
        const leader1 = await m.checkOneLeader();
        await m.disconnect(after(m, leader1, 1));
        await m.disconnect(after(m, leader1, 2));
        await m.one(`p2-${index++}`, 3, true);
        await m.disconnect(leader1);
        await m.disconnect(after(m, leader1, 3));
        await m.disconnect(after(m, leader1, 4));
        await m.restart(after(m, leader1, 1));
        await m.restart(after(m, leader1, 2));
        await sleep(ELECTION_TIMEOUT_MS);
        await m.restart(after(m, leader1, 3));
        await m.one(`p2-${index++}`, 3, true);
        await m.connect(after(m, leader1, 4));
        await m.connect(leader1);
      }
      await m.one('p2-end', 5, true);
    });
  });

  test('persist 3: a partitioned leader and a crashed follower rejoin', async () => {
    await withMit(3, {}, async (m) => {
      await m.one('101', 3, false);
      const leader = await m.checkOneLeader();
      await m.disconnect(after(m, leader, 2));
      await m.one('102', 2, false);
      await m.crash(leader);
      await m.crash(after(m, leader, 1));
      await m.connect(after(m, leader, 2));
      await m.restart(leader);
      await m.one('103', 2, true);
      await m.restart(after(m, leader, 1));
      await m.one('104', 3, true);
    });
  });

  test('Figure 8: leaders crash with entries on a minority; committed entries survive', async () => {
    const rnd = testRandom('figure 8');
    await withMit(5, {}, async (m) => {
      await m.one('f8-start', 1, true);
      let up = m.ids.length;
      for (let iter = 0; iter < 40; iter++) {
        let leader: string | null = null;
        for (const id of m.ids) {
          if (!m.connected.has(id)) continue;
          const r = await m.c.submit(id, cmd(`f8-${iter}-${rnd.int(1e9)}`));
          if (r.isLeader) leader = id;
        }
        await sleep(rnd.random() < 0.1 ? rnd.int(ELECTION_TIMEOUT_MS / 2) : rnd.int(13));
        if (leader !== null) {
          await m.crash(leader);
          up--;
        }
        if (up < 3) {
          const down = m.ids.filter((id) => !m.connected.has(id));
          const s = down[rnd.int(down.length)]!;
          await m.restart(s);
          up++;
        }
      }
      for (const id of m.ids) if (!m.connected.has(id)) await m.restart(id);
      await m.one(`f8-end-${rnd.int(1e9)}`, 5, true, 20_000);
    });
  });

  test('unreliable agreement: concurrent clients over a lossy, slow, reordering network', async () => {
    await withMit(5, { unreliable: true }, async (m) => {
      for (let iter = 1; iter < 20; iter++) {
        await Promise.all([1, 2, 3, 4].map((j) => m.one(`u-${iter}-${j}`, 1, true, 20_000)));
        await m.one(`u-${iter}`, 1, true, 20_000);
      }
      await m.c.setNetwork({});
      await m.one('u-end', 5, true, 20_000);
    });
  });

  test('Figure 8 unreliable: partitions come and go over a lossy network; every server converges', async () => {
    const rnd = testRandom('figure 8 unreliable');
    await withMit(5, { unreliable: true }, async (m) => {
      await m.one(`f8u-start`, 1, true, 20_000);
      let nup = m.ids.length;
      for (let iter = 0; iter < 100; iter++) {
        if (iter === 50) await m.c.setNetwork({ dropRate: 0.1, delayMs: [0, 300], reorder: true });
        let leader: string | null = null;
        for (const id of m.ids) {
          const r = await m.c.submit(id, cmd(`f8u-${iter}-${rnd.int(1e9)}`));
          if (r.isLeader && m.connected.has(id)) leader = id;
        }
        await sleep(rnd.random() < 0.1 ? rnd.int(ELECTION_TIMEOUT_MS / 2) : rnd.int(13));
        if (leader !== null && rnd.random() < 0.5) {
          await m.disconnect(leader);
          nup--;
        }
        if (nup < 3) {
          const down = m.ids.filter((id) => !m.connected.has(id));
          await m.connect(down[rnd.int(down.length)]!);
          nup++;
        }
      }
      for (const id of m.ids) await m.connect(id);
      await m.c.setNetwork({});
      await m.one(`f8u-end-${rnd.int(1e9)}`, 5, true, 20_000);
    });
  });

  for (const unreliable of [false, true]) {
    test(`${unreliable ? 'unreliable' : 'reliable'} churn: clients keep writing while servers crash, restart and disconnect`, async () => {
      const rnd = testRandom(`${unreliable ? 'unreliable' : 'reliable'} churn`);
      await withMit(5, { unreliable }, async (m) => {
        let stop = false;
        const committed: string[][] = [];
        const client = async (me: number): Promise<void> => {
          const mine: string[] = [];
          committed[me] = mine;
          for (let k = 0; !stop; k++) {
            const value = `churn-${me}-${k}`;
            for (const id of m.ids) {
              if (!m.c.state(id).alive) continue;
              const r = await m.c.submit(id, cmd(value));
              if (!r.isLeader) continue;
              // Wait a while for it; it may never commit (a later leader may discard it).
              if ((await m.waitCommitted(r.index, 1, -1, 1_000)) === value) mine.push(value);
              break;
            }
            await sleep(5);
          }
        };
        const clients = [0, 1, 2].map((i) => client(i));
        // The lab's schedule: three independent draws per round.
        for (let iter = 0; iter < 20; iter++) {
          if (rnd.random() < 0.2) await m.disconnect(m.ids[rnd.int(m.ids.length)]!);
          if (rnd.random() < 0.5) {
            const id = m.ids[rnd.int(m.ids.length)]!;
            if (!m.c.state(id).alive) await m.restart(id);
            await m.connect(id);
          }
          if (rnd.random() < 0.2) {
            const id = m.ids[rnd.int(m.ids.length)]!;
            if (m.c.state(id).alive) await m.crash(id);
          }
          await sleep((ELECTION_TIMEOUT_MS * 7) / 10);
        }
        await sleep(ELECTION_TIMEOUT_MS);
        await m.c.setNetwork({});
        for (const id of m.ids) {
          if (!m.c.state(id).alive) await m.restart(id);
          await m.connect(id);
        }
        // Healed: the clients must now get commands through (a condition, with a deadline).
        const deadline = Date.now() + 10_000;
        while (committed.flat().length === 0 && Date.now() < deadline) await sleep(20);
        stop = true;
        await Promise.all(clients);
        await sleep(ELECTION_TIMEOUT_MS);
        const last = await m.one(`churn-end-${rnd.int(1e9)}`, 5, true, 20_000);
        // Every value a client saw committed is in the log every server applied, exactly once.
        const log = new Map<string, number>();
        for (let i = 1; i <= last; i++) {
          const v = await m.waitCommitted(i, 5, -1, 5_000);
          if (v !== undefined) log.set(v, (log.get(v) ?? 0) + 1);
        }
        for (const v of committed.flat())
          expect(log.get(v), `${v} committed but not in the final log`).toBe(1);
        expect(committed.flat().length, 'the clients made no progress, even after healing').toBeGreaterThan(
          0,
        );
      });
    });
  }
});
