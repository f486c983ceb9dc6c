import { once } from 'node:events';
import { Worker } from 'node:worker_threads';
import { expect, test } from 'vitest';
import { Cluster } from '../src/index.js';

const fixture = new URL('./fixtures/endpoint-client.mjs', import.meta.url);

/** resourceCounts counts the process's active resources by type (timers, ports, workers…). */
function resourceCounts(): Map<string, number> {
  const counts = new Map<string, number>();
  for (const r of process.getActiveResourcesInfo()) counts.set(r, (counts.get(r) ?? 0) + 1);
  return counts;
}

test('a KvClient in another worker thread puts and gets over a client endpoint, across restarts, and leaves nothing open', async () => {
  const before = resourceCounts();
  const c = await Cluster.start({ nodes: 1, storage: 'memory', log: () => {} });
  let worker: Worker | null = null;
  try {
    await c.leader();
    const endpoint = c.clientEndpoint();
    expect(endpoint.nodes).toEqual(['n1']);
    worker = new Worker(fixture, { workerData: { endpoint }, transferList: [endpoint.port] });
    const w = worker;
    const call = async (m: object): Promise<{ ok?: boolean; value?: unknown; error?: string }> => {
      w.postMessage(m);
      const [answer] = await once(w, 'message');
      return answer;
    };
    expect(await call({ op: 'put', key: 'a', value: '1' })).toEqual({ ok: true });
    expect(await call({ op: 'get', key: 'a' })).toEqual({ ok: true, value: '1' });

    // A new incarnation of the only node: the client gets its new port and goes on.
    await c.restart('n1');
    expect(await call({ op: 'put', key: 'b', value: '2' })).toEqual({ ok: true });
    expect(await call({ op: 'get', key: 'a' })).toEqual({ ok: true, value: '1' });

    // A crash restarted by the supervisor, likewise.
    await c.kill('n1', 'exit');
    expect(await call({ op: 'get', key: 'b' })).toEqual({ ok: true, value: '2' });

    const usage = await c.nodeUsage('n1');
    expect(usage.heapUsedBytes).toBeGreaterThan(0);
    expect(usage.eventLoop.activeMs).toBeGreaterThan(0);

    expect(await call({ op: 'close' })).toEqual({ ok: true });
    // The worker ends on its own: nothing of the endpoint keeps its event loop alive.
    const [code] = await once(w, 'exit');
    expect(code).toBe(0);
    worker = null;
  } finally {
    await worker?.terminate();
    await c.stop();
  }
  // No worker, port or timer of ours is left in this thread either.
  const after = resourceCounts();
  for (const kind of ['Timeout', 'MessagePort', 'Worker', 'FSReqCallback']) {
    expect(after.get(kind) ?? 0, kind).toBeLessThanOrEqual(before.get(kind) ?? 0);
  }
});
