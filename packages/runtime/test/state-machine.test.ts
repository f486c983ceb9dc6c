import { KvStateMachine } from '@xraft/kv';
import { describe, expect, it } from 'vitest';
import { Cluster, LogRecorder, loadStateMachine } from '../src/index.js';
import { cmd, Harness, waitFor } from './harness.js';

const fixture = (name: string) => new URL(`./fixtures/${name}`, import.meta.url).href;

describe('LogRecorder', () => {
  it('agrees with a replica exactly when it applied the same commands at the same indexes', () => {
    const a = new LogRecorder();
    const b = new LogRecorder();
    const c = new LogRecorder();
    a.apply(cmd('x'), 2);
    a.apply(cmd('y'), 3);
    b.apply(cmd('x'), 2);
    b.apply(cmd('y'), 3);
    c.apply(cmd('x'), 2);
    c.apply(cmd('y'), 4);
    expect(a.digest).toBe(b.digest);
    expect(a.digest).not.toBe(c.digest);
    expect(() => a.apply(cmd('z'), 3)).toThrow(/out of order/);
  });

  it('restores what it snapshotted', () => {
    const a = new LogRecorder();
    for (let i = 2; i < 50; i++) a.apply(cmd(`c${i}`), i);
    const b = new LogRecorder();
    b.restore(a.snapshot());
    expect([b.count, b.lastIndex, b.digest]).toEqual([a.count, a.lastIndex, a.digest]);
    expect(() => b.restore(new Uint8Array(3))).toThrow(/24 bytes/);
  });
});

describe('state machine modules', () => {
  it('loadStateMachine explains what a module must export', async () => {
    await expect(loadStateMachine(fixture('not-a-state-machine.mjs'))).rejects.toThrow(
      /must export a function createStateMachine\(\)/,
    );
    // The default is the KV store, which also answers client requests.
    const kv = await loadStateMachine(undefined);
    expect(kv.stateMachine).toBeInstanceOf(KvStateMachine);
    expect(kv.handleRequest).toBeTypeOf('function');
  });

  it('a cluster whose state machine cannot load fails to start, saying why', async () => {
    const start = Cluster.start({
      nodes: 1,
      storage: 'memory',
      stateMachine: fixture('not-a-state-machine.mjs'),
      restartPolicy: { maxRestarts: 1, backoffMs: [5, 5] },
      log: () => {},
    });
    await expect(start).rejects.toThrow(/given up after 2 crashes.*createStateMachine/s);
  });

  it('runs the given module in every worker: a poison command crashes the nodes, in a loop, until given up', async () => {
    const h = await Harness.start({
      nodes: 3,
      stateMachine: fixture('poison-state-machine.mjs'),
      restartPolicy: { maxRestarts: 1, backoffMs: [5, 5] },
    });
    const { c } = h;
    await h.replicate('fine');
    await h.submitToLeader('poison');
    // Each node applies it, dies, restarts, learns again that it is committed, dies again: given up. The
    // commit index is volatile (Figure 2): a node left alone may never learn it, and waits for a majority.
    const gaveUp = () => h.events.filter((e) => e.type === 'gave-up');
    await waitFor(() => gaveUp().length >= 2, 15_000, 'the supervisor to give up on a majority');
    for (const e of gaveUp()) expect(e.type === 'gave-up' && e.lastError).toMatch(/poison pill at index/);
    expect(c.ids.filter((id) => h.state(id).worker === 'failed').length).toBeGreaterThanOrEqual(2);
    h.assertSafe();
  });
});
