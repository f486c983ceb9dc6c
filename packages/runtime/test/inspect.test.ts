import { createServer } from 'node:net';
import { describe, expect, it } from 'vitest';
import { WebSocket } from 'ws';
import {
  Cluster,
  type InspectedEvent,
  type InspectionRecord,
  type InspectorLike,
  PortInUseError,
  summarize,
} from '../src/index.js';
import { Harness, waitFor } from './harness.js';

/** FakeInspector records what the cluster forwards, as an @statelyai/inspect inspector would receive it. */
class FakeInspector implements InspectorLike {
  readonly actors: Array<{ sessionId: string; definition: unknown }> = [];
  readonly events: Array<{ actor: string; event: InspectedEvent }> = [];
  readonly snapshots: Array<{ actor: string; value: unknown; context: unknown }> = [];
  actor(actor: string | object): void {
    const a = actor as { sessionId: string; logic: { config: unknown } };
    this.actors.push({ sessionId: a.sessionId, definition: a.logic.config });
  }
  event(actor: string, event: InspectedEvent): void {
    this.events.push({ actor, event });
  }
  snapshot(actor: string, snapshot: object): void {
    const s = snapshot as { value: unknown; context: unknown };
    this.snapshots.push({ actor, value: s.value, context: s.context });
  }
}

const isLeaderValue = (v: unknown) => typeof v === 'object' && v !== null && 'leader' in v;

describe('the inspection bridge', () => {
  it('forwards every node’s statechart events to an inspector, actor ids prefixed with node and incarnation', async () => {
    const inspector = new FakeInspector();
    const h = await Harness.start({ nodes: 3, storage: 'memory', inspect: inspector });
    const { c } = h;
    const batches: InspectionRecord[][] = [];
    c.on('inspect', (records) => batches.push([...records]));
    const leader = await c.leader();
    await waitFor(
      () => inspector.snapshots.some((s) => s.actor.startsWith(`${leader}#1:`) && isLeaderValue(s.value)),
      5_000,
      'the leader’s snapshot to reach the inspector',
    );
    // One actor per node, named by node and incarnation, with the statechart's definition to draw.
    expect(inspector.actors.map((a) => a.sessionId.split(':')[0]).sort()).toEqual(['n1#1', 'n2#1', 'n3#1']);
    for (const a of inspector.actors) expect(a.definition).toMatchObject({ id: 'raft' });
    // Snapshots carry the Raft state's summary, never the log.
    const last = inspector.snapshots.filter((s) => s.actor.startsWith(`${leader}#1:`)).at(-1)!;
    expect(last.context).toMatchObject({ raft: { id: leader, role: 'leader' } });
    expect(JSON.stringify(last.context).length).toBeLessThan(1_000);
    // Raft RPCs show up as events, byte payloads summarized.
    expect(inspector.events.some((e) => e.event.type === 'RequestVote' || e.event.type === 'PreVote')).toBe(
      true,
    );
    await waitFor(() => batches.length > 0, 2_000, 'a batch of records');
    expect(batches.flat().every((r) => c.ids.includes(r.node))).toBe(true);

    // A restarted node is a new actor: its next incarnation.
    const follower = c.ids.find((id) => id !== leader)!;
    await c.restart(follower);
    await waitFor(
      () => inspector.actors.some((a) => a.sessionId.startsWith(`${follower}#2:`)),
      5_000,
      'the restarted node’s actor',
    );
  });

  it('serves a local inspector: the bridge page, and the events as JSON over a WebSocket', async () => {
    const h = await Harness.start({ nodes: 3, storage: 'memory', inspect: { port: 0 } });
    const { c } = h;
    const where = c.inspector;
    expect(where).not.toBeNull();
    const page = await fetch(where!.url);
    expect(page.status).toBe(200);
    expect(await page.text()).toMatch(/<iframe[^>]*id="inspector"/);
    expect((await fetch(new URL('/nope', where!.url))).status).toBe(404);

    const ws = new WebSocket(where!.wsUrl);
    const received: Array<{ type: string; sessionId: string; snapshot?: { value?: unknown } }> = [];
    ws.on('message', (data) => received.push(JSON.parse(String(data))));
    const leader = await c.leader();
    await waitFor(
      () =>
        received.some(
          (e) =>
            e.type === '@xstate.snapshot' &&
            e.sessionId.startsWith(`${leader}#1:`) &&
            isLeaderValue(e.snapshot?.value),
        ),
      5_000,
      'the leader’s snapshot on the WebSocket',
    );
    // A late client first gets the recent events, so it can draw every node.
    expect(received.filter((e) => e.type === '@xstate.actor').length).toBe(3);
    ws.close();
    await c.stop();
    expect(c.inspector).not.toBeNull();
    await expect(fetch(where!.url)).rejects.toThrow();
  });

  it('fails to start with a clear error when the inspector port is in use, leaving nothing running', async () => {
    const blocker = createServer();
    await new Promise<void>((resolve) => blocker.listen(0, '127.0.0.1', resolve));
    const port = (blocker.address() as { port: number }).port;
    try {
      const started = Cluster.start({ nodes: 1, storage: 'memory', inspect: { port } });
      await expect(started).rejects.toThrow(PortInUseError);
      await expect(started).rejects.toThrow(`port ${port} on 127.0.0.1 is in use`);
    } finally {
      await new Promise<void>((resolve) => blocker.close(() => resolve()));
    }
  });

  it('is off by default: no inspection listener can be added', async () => {
    const h = await Harness.start({ nodes: 1, storage: 'memory' });
    expect(h.c.inspector).toBeNull();
    expect(() => h.c.on('inspect', () => {})).toThrow(/started without the inspect option/);
    await expect(Cluster.start({ inspect: 'yes' as never })).rejects.toThrow(/inspect must be/);
  });

  it('reports each node’s state value, for diagrams of a running cluster', async () => {
    const h = await Harness.start({ nodes: 3, storage: 'memory' });
    const leader = await h.c.leader();
    expect((await h.c.status(leader)).stateValue).toMatchObject({ leader: expect.anything() });
    const follower = h.c.ids.find((id) => id !== leader)!;
    expect((await h.c.status(follower)).stateValue).toMatchObject({ follower: expect.any(String) });
  });
});

describe('summarize', () => {
  it('keeps events small: bytes become their length, long arrays are cut, deep nesting stops', () => {
    const entries = Array.from({ length: 20 }, (_, i) => ({ index: i + 1, data: new Uint8Array(100) }));
    const s = summarize({ type: 'AppendEntries', entries, deep: { a: { b: { c: { d: 1 } } } } }) as {
      entries: unknown[];
      deep: unknown;
    };
    expect(s.entries).toHaveLength(9);
    expect(s.entries[0]).toEqual({ index: 1, data: '<100 bytes>' });
    expect(s.entries[8]).toBe('… 12 more');
    expect(s.deep).toEqual({ a: { b: '{…}' } });
    expect(summarize({ toJSON: () => ({ term: 3 }) })).toEqual({ term: 3 });
  });
});
