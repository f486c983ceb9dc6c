import {
  ClosedError,
  NotLeaderError,
  RequestRejectedError,
  SessionExpiredError,
  TimeoutError,
} from '@xraft/kv';
import { Cluster } from '@xraft/runtime';
import { expect, onTestFinished, test } from 'vitest';
import type { ClusterView, KvApi } from '../src/http/routes.js';
import { startKvHttpServer } from '../src/http/server.js';
import { request, waitFor } from './helpers.js';

/** failing is a backend whose every call fails with `error()`, counting the calls. */
function failing(error: () => unknown): { kv: KvApi; cluster: ClusterView; calls: () => number } {
  let calls = 0;
  const fail = async (): Promise<never> => {
    calls++;
    throw error();
  };
  return {
    kv: { get: fail, put: fail, delete: fail, append: fail, cas: fail, list: fail },
    cluster: { ids: [], state: () => ({}) as never, stats: () => ({}) as never },
    calls: () => calls,
  };
}

async function serve(backend: { kv: KvApi; cluster: ClusterView }) {
  const server = await startKvHttpServer({ port: 0, cluster: backend });
  onTestFinished(() => server.close());
  return server.url;
}

test('KvClient errors map to statuses that say whether the write happened', async () => {
  const cases: Array<[unknown, number, RegExp, string | null]> = [
    [
      new TimeoutError('put("k")', 5000),
      504,
      /got no answer within 5000 ms; it may or may not have been applied/,
      null,
    ],
    [
      new NotLeaderError('put("k")', 8, ['n1', 'n2']),
      503,
      /no leader found after 8 rounds.*not applied/,
      '1',
    ],
    [new ClosedError('put("k")'), 503, /the server is shutting down; a write in flight may or may not/, null],
    [
      new SessionExpiredError('put("k")', 7),
      503,
      /session 7 expired.*may or may not have been applied/,
      null,
    ],
    [
      new RequestRejectedError('put("k")', 'bad version'),
      500,
      /rejected the request as malformed: bad version/,
      null,
    ],
    [new Error('something odd'), 500, /^internal error: something odd$/, null],
  ];
  for (const [err, status, message, retryAfter] of cases) {
    const url = await serve(failing(() => err));
    const r = await request(url, 'PUT', '/kv/k', { value: 'v' });
    expect({ err: String(err), status: r.status }).toEqual({ err: String(err), status });
    expect(Object.keys(r.body)).toEqual(['error']);
    expect(r.body.error).toMatch(message);
    expect(r.headers.get('retry-after')).toBe(retryAfter);
    // The server is still there.
    expect((await request(url, 'GET', '/nowhere')).status).toBe(404);
  }
});

test('Request-Id: an answer of unknown outcome (504) is replayed, one surely not applied (503 no leader) runs again', async () => {
  const timeouts = failing(() => new TimeoutError('append("k")', 100));
  const url = await serve(timeouts);
  const send = (u: string) => request(u, 'POST', '/kv/k/append', { suffix: 's' }, { 'request-id': 'r' });
  expect((await send(url)).status).toBe(504);
  const replay = await send(url);
  expect(replay.status).toBe(504);
  expect(replay.headers.get('idempotent-replayed')).toBe('true');
  expect(timeouts.calls()).toBe(1);

  const noLeader = failing(() => new NotLeaderError('append("k")', 2, ['n1']));
  const url2 = await serve(noLeader);
  expect((await send(url2)).status).toBe(503);
  expect((await send(url2)).headers.get('idempotent-replayed')).toBeNull();
  expect(noLeader.calls()).toBe(2);
});

test('no leader anywhere (every node partitioned): 503 with Retry-After, not applied; the same Request-Id later applies', async () => {
  const c = await Cluster.start({ nodes: 3, storage: 'memory' });
  onTestFinished(() => c.stop());
  const server = await startKvHttpServer({
    port: 0,
    cluster: c,
    client: { maxLeaderSearchRounds: 2, backoffMs: 5, timeoutMs: 30_000, attemptTimeoutMs: 2000 },
  });
  onTestFinished(() => server.close());
  await c.leader();
  await c.partition(['n1'], ['n2'], ['n3']);
  // CheckQuorum: a leader cut off from its majority steps down within an election timeout.
  await waitFor(() => c.ids.every((id) => c.state(id).role !== 'leader'), 'every node to stop leading');

  const read = await request(server.url, 'GET', '/kv/x');
  expect(read.status).toBe(503);
  expect(read.headers.get('retry-after')).toBe('1');
  expect(read.body.error).toMatch(/no leader found after 2 rounds over \[n1, n2, n3\]/);

  const write = await request(server.url, 'PUT', '/kv/x', { value: 'v' }, { 'request-id': 'after-heal' });
  expect(write.status).toBe(503);
  expect(write.headers.get('retry-after')).toBe('1');
  expect(write.body.error).toMatch(/it was not applied/);

  await c.heal();
  await c.leader();
  const retry = await request(server.url, 'PUT', '/kv/x', { value: 'v' }, { 'request-id': 'after-heal' });
  expect(retry.status).toBe(204);
  expect(retry.headers.get('idempotent-replayed')).toBeNull();
  expect((await request(server.url, 'GET', '/kv/x')).body).toEqual({ key: 'x', value: 'v' });
});
