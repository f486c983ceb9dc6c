import { seededRandom } from '@xraft/core';
import { describe, expect, it } from 'vitest';
import { testSeed } from '../../../tools/testing/seed.js';
import type { KillMode, SupervisorEvent } from '../src/index.js';
import { Harness, waitFor, waitForEvent } from './harness.js';

/** What each kind of death looks like from the supervisor's side. */
const DEATHS: ReadonlyArray<{ how: KillMode; exitCode: number; error: RegExp | null }> = [
  { how: 'throw', exitCode: 1, error: /crash injected by kill\('throw'\)/ },
  { how: 'rejection', exitCode: 1, error: /unhandled rejection injected/ },
  { how: 'exit', exitCode: 3, error: null },
  { how: 'oom', exitCode: 1, error: /ERR_WORKER_OUT_OF_MEMORY/ },
  { how: 'terminate', exitCode: 1, error: null },
];

describe('Supervisor', () => {
  it('detects every kind of worker death, restarts the node, and it catches up', async () => {
    const h = await Harness.start({
      nodes: 3,
      storage: 'disk',
      resourceLimits: { maxOldGenerationSizeMb: 32 },
      restartPolicy: { maxRestarts: 10, backoffMs: [20, 100] },
    });
    const { c } = h;
    await h.replicate('start');
    for (const [k, death] of DEATHS.entries()) {
      const victim = c.ids[k % c.ids.length]!; // leaders and followers alike
      const seen = h.events.length;
      const after = (pred: (e: SupervisorEvent) => boolean) => (e: SupervisorEvent) =>
        h.events.indexOf(e) >= seen && e.id === victim && pred(e);
      await c.kill(victim, death.how);
      const crashed = await waitForEvent(
        h,
        after((e) => e.type === 'crashed'),
      );
      expect(crashed, death.how).toMatchObject({ type: 'crashed', during: 'run', exitCode: death.exitCode });
      if (crashed.type === 'crashed' && death.error) expect(crashed.error, death.how).toMatch(death.error);
      expect(crashed.type === 'crashed' && crashed.restartInMs).toBeGreaterThan(0);
      await waitForEvent(
        h,
        after((e) => e.type === 'restarted'),
      );
      expect(h.state(victim)).toMatchObject({ alive: true, worker: 'running' });
      // The restarted node re-applied its log from storage and takes part in new commits.
      await h.replicate(`after-${death.how}`);
    }
    const expected = ['start', ...DEATHS.map((d) => `after-${d.how}`)];
    for (const id of c.ids) expect(h.texts(id)).toEqual(expected);
    expect(h.events.filter((e) => e.type === 'gave-up')).toEqual([]);
    h.assertSafe();
  });

  it('gives up on a node that crashes in a loop during bootstrap; restart() gives it a new budget', async () => {
    const h = await Harness.start({
      nodes: 3,
      restartPolicy: { maxRestarts: 3, windowMs: 10_000, backoffMs: [10, 40] },
    });
    const { c } = h;
    await h.replicate('x');
    h.willReplace('n3');
    await expect(c.crashLoop('n3')).rejects.toThrow(/given up after 4 crashes within 10000 ms/);
    const mine = h.events.filter((e) => e.id === 'n3');
    expect(mine.map((e) => e.type)).toEqual(['crashed', 'crashed', 'crashed', 'crashed', 'gave-up']);
    expect(mine.slice(0, 4).every((e) => e.type === 'crashed' && e.during === 'boot')).toBe(true);
    expect(mine[3]).toMatchObject({ restartInMs: null });
    expect(mine[4]).toMatchObject({
      type: 'gave-up',
      crashes: 4,
      lastError: expect.stringMatching(/boot fault/),
    });
    expect(h.state('n3')).toMatchObject({ alive: false, worker: 'failed' });
    // The two others still make a majority.
    await h.replicate('y', ['n1', 'n2']);
    // restart() starts a normal worker, which recovers and catches up.
    h.willReplace('n3');
    await c.restart('n3');
    await waitFor(() => h.texts('n3').join() === 'x,y', 10_000, 'n3 to catch up');
    h.assertSafe();
  });

  it('counts crashes after boot toward the restart intensity too', async () => {
    const h = await Harness.start({
      nodes: 3,
      restartPolicy: { maxRestarts: 2, windowMs: 30_000, backoffMs: [10, 10] },
    });
    const { c } = h;
    await c.leader();
    for (let i = 0; i < 3; i++) {
      const seen = h.events.length;
      await c.kill('n2', 'exit');
      const last = await waitForEvent(h, (e) => h.events.indexOf(e) >= seen && e.type !== 'crashed');
      expect(last.type).toBe(i < 2 ? 'restarted' : 'gave-up');
    }
    expect(h.state('n2').worker).toBe('failed');
  });

  it('with autoRestart off, reports the crash and leaves the node down', async () => {
    const h = await Harness.start({ nodes: 3, autoRestart: false });
    const { c } = h;
    await h.replicate('x');
    await c.kill('n1', 'throw');
    const crashed = await waitForEvent(h, (e) => e.type === 'crashed');
    expect(crashed).toMatchObject({ id: 'n1', restartInMs: null });
    expect(h.state('n1')).toMatchObject({ alive: false, worker: 'down' });
    await c.restart('n1');
    expect(h.state('n1').alive).toBe(true);
    await h.replicate('y');
    h.assertSafe();
  });

  it('c.crash is not a crash to the supervisor: no event, no restart', async () => {
    const h = await Harness.start({ nodes: 3 });
    const { c } = h;
    await c.leader();
    await c.crash('n2');
    expect(h.state('n2')).toMatchObject({ alive: false, worker: 'down' });
    await h.replicate('while-down', ['n1', 'n3']);
    expect(h.state('n2').worker).toBe('down');
    expect(h.events).toEqual([]);
  });

  it('loses no acknowledged entry across 100 random kill/restart cycles under load', async () => {
    const seed = testSeed();
    console.log(
      `kill/restart cycles: seed ${seed} (XRAFT_SEED=${seed} replays the choice of victims and deaths)`,
    );
    const random = seededRandom(seed);
    const h = await Harness.start({
      nodes: 3,
      storage: 'disk',
      // A fixed short backoff and no give-up: the test is about durability, not the intensity limit.
      restartPolicy: { maxRestarts: 1_000_000, windowMs: 1_000, backoffMs: [20, 20] },
    });
    const { c } = h;
    await h.replicate('start');
    // Clients: a command counts as acknowledged once it is known committed (some node applied it).
    const acked: string[] = [];
    let stop = false;
    const client = async (me: number) => {
      for (let k = 0; !stop; k++) {
        const value = `load-${me}-${k}`;
        const leader = await c.leader(2_000).catch(() => null);
        if (leader === null) continue;
        const r = await c.submit(leader, new TextEncoder().encode(value)).catch(() => null);
        if (!r?.isLeader) continue;
        const ok = await waitFor(() => h.byIndex.get(r.index) !== undefined, 1_000).then(
          () => true,
          () => false,
        );
        if (ok && h.byIndex.get(r.index) === value) acked.push(value);
      }
    };
    const clients = [0, 1].map((i) => client(i));
    const deaths: KillMode[] = ['throw', 'rejection', 'exit', 'terminate'];
    for (let cycle = 0; cycle < 100; cycle++) {
      const victim = c.ids[Math.floor(random() * c.ids.length)]!;
      const how = deaths[Math.floor(random() * deaths.length)]!;
      const seen = h.events.length;
      await c.kill(victim, how);
      // One node down at a time: wait for the supervisor to bring it back before the next kill.
      await waitForEvent(h, (e) => h.events.indexOf(e) >= seen && e.id === victim && e.type === 'restarted');
      await waitFor(() => c.state(victim).alive, 10_000, `${victim} alive again`);
    }
    stop = true;
    await Promise.all(clients);
    await h.replicate('final');
    h.assertSafe();
    expect(acked.length, 'the load did not get through').toBeGreaterThan(50);
    for (const id of c.ids) {
      // Each node re-applied its whole log after its last restart: every acknowledged value, exactly once.
      const counts = new Map<string, number>();
      for (const t of h.texts(id)) counts.set(t, (counts.get(t) ?? 0) + 1);
      const missing = acked.filter((v) => counts.get(v) !== 1);
      expect(missing, `${id} lost or duplicated acknowledged entries`).toEqual([]);
    }
  }, 180_000);
});
