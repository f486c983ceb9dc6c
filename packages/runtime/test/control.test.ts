import { MessageChannel, Worker } from 'node:worker_threads';
import { describe, expect, it, onTestFinished } from 'vitest';
import { ControlClient, ControlTimeoutError, WorkerExitedError } from '../src/index.js';
import { cmd, Harness } from './harness.js';

interface FixtureApi {
  echo<T>(x: T): T;
  slow(ms: number): Promise<number>;
  fail(message: string): never;
  exitSoon(code: number): void;
}

/** fixture starts the bare control worker; the client is closed when it exits, as the supervisor does. */
function fixture(timeoutMs = 2_000): {
  client: ControlClient<FixtureApi>;
  worker: Worker;
  exited: Promise<number>;
} {
  const { port1, port2 } = new MessageChannel();
  const worker = new Worker(new URL('./fixtures/control-worker.mjs', import.meta.url), {
    workerData: { port: port2 },
    transferList: [port2],
  });
  const client = new ControlClient<FixtureApi>(port1, { name: 'fixture', timeoutMs });
  const exited = new Promise<number>((resolve) =>
    worker.on('exit', (code) => {
      client.close(new WorkerExitedError('fixture', `worker exited with code ${code}`));
      resolve(code);
    }),
  );
  onTestFinished(async () => {
    await worker.terminate();
  });
  return { client, worker, exited };
}

describe('ControlClient', () => {
  it('answers calls and passes errors back', async () => {
    const { client } = fixture();
    expect(await client.call('echo', [{ a: [1, 2] }])).toEqual({ a: [1, 2] });
    await expect(client.call('fail', ['no such key'])).rejects.toThrow('no such key');
    expect(client.pendingCalls).toBe(0);
  });

  it('times out a call that takes too long, and keeps working', async () => {
    const { client } = fixture();
    const started = performance.now();
    const err = await client.call('slow', [5_000], { timeoutMs: 100 }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(ControlTimeoutError);
    expect((err as Error).message).toMatch(/slow\(\) to fixture got no answer within 100 ms/);
    expect(performance.now() - started).toBeLessThan(2_000);
    expect(client.pendingCalls).toBe(0);
    expect(await client.call('echo', ['still here'])).toBe('still here');
  });

  it('rejects every pending call when the worker exits, and later calls at once', async () => {
    const { client, exited } = fixture(60_000);
    const pending = [client.call('slow', [30_000]), client.call('slow', [30_000])];
    await client.call('exitSoon', [7]);
    expect(await exited).toBe(7);
    for (const p of pending) await expect(p).rejects.toBeInstanceOf(WorkerExitedError);
    await expect(client.call('echo', [1])).rejects.toThrow(/exited with code 7/);
    expect(client.pendingCalls).toBe(0);
  });
});

describe('control plane of a cluster', () => {
  it('calls to a crashed node fail at once; a pending call rejects when the node is killed', async () => {
    const h = await Harness.start({ nodes: 3, controlTimeoutMs: 30_000 });
    const { c } = h;
    await c.leader();
    await c.crash('n3');
    const started = performance.now();
    // Start() on a dead server: not the leader (MIT 6.5840); other calls reject.
    expect(await c.submit('n3', cmd('x'))).toEqual({ isLeader: false, term: 0, index: 0, leaderId: null });
    await expect(c.status('n3')).rejects.toThrow(/not running \(down\)/);
    await c.pause('n2', 20_000);
    const pending = c.status('n2'); // cannot be answered while n2 is paused
    h.willReplace('n2');
    await c.crash('n2');
    await expect(pending).rejects.toThrow(WorkerExitedError);
    expect(performance.now() - started).toBeLessThan(15_000); // far below the 30 s control timeout
  });

  it('a call to a paused node times out', async () => {
    const h = await Harness.start({ nodes: 3, controlTimeoutMs: 300 });
    const { c } = h;
    await c.leader();
    await c.pause('n1', 3_000);
    await expect(c.status('n1')).rejects.toBeInstanceOf(ControlTimeoutError);
    expect(h.state('n1').alive).toBe(true); // paused, not dead
  });
});
