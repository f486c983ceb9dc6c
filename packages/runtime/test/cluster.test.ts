import { existsSync, readdirSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { Cluster } from '../src/index.js';
import { cmd, Harness, waitFor } from './harness.js';

describe('Cluster on real workers', () => {
  it('elects one leader that every node follows, in one term (§5.2)', async () => {
    const h = await Harness.start({ nodes: 3 });
    const { c } = h;
    expect(c.ids).toEqual(['n1', 'n2', 'n3']);
    const leader = await c.leader();
    await waitFor(() => c.ids.every((id) => h.state(id).leaderId === leader), 5_000, 'every node to follow');
    const states = c.ids.map((id) => h.state(id));
    expect(states.filter((s) => s.role === 'leader').map((s) => s.id)).toEqual([leader]);
    expect(new Set(states.map((s) => s.term)).size).toBe(1);
    expect(states.every((s) => s.alive && s.worker === 'running')).toBe(true);
  });

  it('replicates submitted commands to every node, applied in log order; a follower refuses', async () => {
    const h = await Harness.start({ nodes: 3 });
    const { c } = h;
    const leader = await c.leader();
    const results = await Promise.all(Array.from({ length: 20 }, (_, i) => c.submit(leader, cmd(`c${i}`))));
    expect(results.every((r) => r.isLeader)).toBe(true);
    const indexes = results.map((r) => r.index);
    expect(new Set(indexes).size).toBe(20); // each command got its own slot
    const expected = Array.from({ length: 20 }, (_, i) => `c${i}`);
    await waitFor(() => c.ids.every((id) => h.texts(id).length === 20), 10_000, 'every node to apply 20');
    for (const id of c.ids) {
      expect(h.texts(id)).toEqual(expected);
      expect(h.applied.get(id)!.map((a) => a.index)).toEqual(indexes);
    }
    const follower = c.ids.find((id) => id !== leader)!;
    const r = await c.submit(follower, cmd('refused'));
    expect(r).toMatchObject({ isLeader: false, index: 0, leaderId: leader });
    await waitFor(
      () => c.ids.every((id) => h.state(id).lastApplied === h.state(leader).commitIndex),
      5_000,
      'lastApplied to reach the commit index',
    );
    h.assertSafe();
  });

  it.each(['memory', 'disk'] as const)(
    'elects a new leader that commits after the leader crashes; the old one recovers from %s storage',
    async (storage) => {
      const h = await Harness.start({ nodes: 3, storage });
      const { c } = h;
      await h.replicate('before');
      const old = await c.leader();
      h.willReplace(old);
      await c.crash(old);
      expect(h.state(old)).toMatchObject({ alive: false, worker: 'down' });
      const next = await c.leader();
      expect(next).not.toBe(old);
      expect(h.state(next).term).toBeGreaterThan(0);
      const live = c.ids.filter((id) => id !== old);
      await h.replicate('after', live);
      // The crashed node stays down (no auto restart after c.crash) until restarted.
      expect(h.state(old).alive).toBe(false);
      // Restarted while cut off from everyone, it can only recover from its own storage.
      await c.disconnect(old);
      await c.restart(old);
      expect(h.state(old).alive).toBe(true);
      await waitFor(() => h.texts(old).includes('before'), 5_000, `${old} to re-apply from storage`);
      expect(h.texts(old)).toEqual(['before']);
      await c.connect(old);
      await waitFor(() => h.texts(old).includes('after'), 10_000, `${old} to catch up`);
      expect(h.texts(old)).toEqual(['before', 'after']);
      h.assertSafe();
    },
  );

  it('with disk storage (the default), recovers the committed log after every node crashed; stop() removes the default dataDir', async () => {
    const c = await Cluster.start({ nodes: 3, log: () => {} });
    let dataDir = '';
    try {
      const h = new Harness(c);
      for (let i = 0; i < 5; i++) await h.replicate(`d${i}`);
      dataDir = c.dataDir!;
      expect(dataDir.startsWith(tmpdir())).toBe(true);
      expect(readdirSync(join(dataDir, 'n1')).length).toBeGreaterThan(0);
      for (const id of c.ids) {
        h.willReplace(id);
        await c.crash(id);
      }
      await Promise.all(c.ids.map((id) => c.restart(id)));
      const expected = ['d0', 'd1', 'd2', 'd3', 'd4'];
      await waitFor(
        () => c.ids.every((id) => h.texts(id).join() === expected.join()),
        10_000,
        'every node to re-apply',
      );
      await h.replicate('after');
      h.assertSafe();
    } finally {
      await c.stop();
    }
    expect(existsSync(dataDir)).toBe(false);
  });

  it('a partitioned minority leader commits nothing; the majority elects and commits; heal converges', async () => {
    const h = await Harness.start({ nodes: 5 });
    const { c } = h;
    await h.replicate('base');
    const old = await c.leader();
    const minority = [old, c.ids.find((id) => id !== old)!];
    const majority = c.ids.filter((id) => !minority.includes(id));
    await c.partition(minority, majority);
    const commitBefore = h.state(old).commitIndex;
    const lost = await c.submit(old, cmd('lost'));
    expect(lost.isLeader).toBe(true); // it still believes it leads, until CheckQuorum steps it down (§6.2)
    const next = await c.leader();
    expect(majority).toContain(next);
    await h.replicate('majority', majority);
    for (const id of minority) {
      expect(h.state(id).commitIndex).toBe(commitBefore);
      expect(h.texts(id)).not.toContain('lost');
    }
    await waitFor(() => h.state(old).role !== 'leader', 5_000, 'the old leader to step down (CheckQuorum)');
    await c.heal();
    await waitFor(
      () => c.ids.every((id) => h.texts(id).join() === 'base,majority'),
      10_000,
      'every node to converge',
    );
    const states = c.ids.map((id) => h.state(id));
    expect(new Set(states.map((s) => s.lastLogIndex)).size).toBe(1);
    expect(h.byIndex.size).toBe(2); // 'lost' was never applied anywhere
    h.assertSafe();
  });

  it('keeps making progress with drops, delays and reordering, and again once reliable', async () => {
    const h = await Harness.start({ nodes: 3 });
    const { c } = h;
    await c.leader();
    await c.setNetwork({ dropRate: 0.15, delayMs: [1, 8], reorder: true });
    for (let i = 0; i < 5; i++) await h.replicate(`lossy${i}`);
    const { dropped } = c.stats();
    expect(Object.values(dropped).reduce((a, b) => a + b, 0)).toBeGreaterThan(0);
    await c.setNetwork({});
    await h.replicate('reliable');
    for (const id of c.ids) expect(h.texts(id).slice(-1)).toEqual(['reliable']);
    h.assertSafe();
  });

  it('counts RPCs per node and approximate bytes', async () => {
    const h = await Harness.start({ nodes: 3 });
    const { c } = h;
    const leader = await c.leader();
    await h.replicate('warm-up');
    const before = c.stats();
    for (const id of c.ids) expect(before.rpcs[id]).toBeGreaterThan(0);
    expect(before.bytes).toBeGreaterThan(0);
    await h.replicate(`big:${'x'.repeat(10_000)}`);
    const after = c.stats();
    expect(after.rpcs[leader]).toBeGreaterThan(before.rpcs[leader]!);
    // The 10 kB command went to two followers at least once each.
    expect(after.bytes - before.bytes).toBeGreaterThanOrEqual(20_000);
    expect(after.batches).toBeGreaterThan(before.batches);
  });

  it('validates options with errors that say what to pass', async () => {
    await expect(Cluster.start({ nodes: 0 })).rejects.toThrow(/nodes must be an integer/);
    await expect(Cluster.start({ storage: 'tape' as 'disk' })).rejects.toThrow(
      /storage must be 'disk' or 'memory'/,
    );
    await expect(Cluster.start({ electionTimeoutMs: [300, 150] })).rejects.toThrow(/electionTimeoutMs/);
    await expect(Cluster.start({ heartbeatIntervalMs: 200 })).rejects.toThrow(/heartbeatIntervalMs/);
    await expect(Cluster.start({ nodez: 3 } as object)).rejects.toThrow(/unknown option "nodez"/);
    await expect(Cluster.start({ autoRestart: 'yes' as unknown as boolean })).rejects.toThrow(/autoRestart/);
  });

  it('rejects calls naming unknown nodes and bad arguments', async () => {
    const h = await Harness.start({ nodes: 3 });
    const { c } = h;
    expect(() => c.state('n9')).toThrow(/unknown node "n9"/);
    await expect(c.submit('n1', 'text' as unknown as Uint8Array)).rejects.toThrow(/Uint8Array/);
    await expect(c.partition(['n1'], ['n1', 'n2'])).rejects.toThrow(/more than one group/);
    await expect(c.pause('n1', -5)).rejects.toThrow(/ms must be/);
    await expect(c.setNetwork({ dropRate: 2 })).rejects.toThrow(/dropRate/);
  });

  it('stop() ends every worker and leaves no port, timer or worker behind', async () => {
    const baseline = resources();
    const c = await Cluster.start({ nodes: 3, storage: 'memory', log: () => {} });
    try {
      const leader = await c.leader();
      await c.submit(leader, cmd('x'));
      await c.pause(c.ids.find((id) => id !== leader)!, 5_000); // a paused worker must not hold stop() up
    } finally {
      await c.stop();
    }
    expect(c.ids.map((id) => c.state(id).worker)).toEqual(['stopped', 'stopped', 'stopped']);
    // Closing a port completes asynchronously: wait (briefly) for the handles to go.
    const leftover = () => Object.entries(resources()).filter(([type, n]) => n > (baseline[type] ?? 0));
    await waitFor(() => leftover().length === 0, 2_000, 'ports and timers to close').catch(() => {});
    expect(leftover()).toEqual([]);
    await expect(c.submit('n1', cmd('late'))).rejects.toThrow(/stopped/);
    await c.stop(); // idempotent
  });
});

/** resources counts the process's active handles and requests by type (ports, timers, workers' pipes). */
function resources(): Record<string, number> {
  const out: Record<string, number> = {};
  for (const r of process.getActiveResourcesInfo()) out[r] = (out[r] ?? 0) + 1;
  return out;
}
