import { Cluster } from '@xraft/runtime';
import { afterAll, beforeAll, expect, onTestFinished, test } from 'vitest';
import { type KvHttpServer, startKvHttpServer } from '../src/http/server.js';
import { request } from './helpers.js';

// One real 3-node cluster (memory storage) and one server on a free port for the whole file.
let c: Cluster;
let server: KvHttpServer;
let url: string;
beforeAll(async () => {
  c = await Cluster.start({ nodes: 3, storage: 'memory' });
  server = await startKvHttpServer({ port: 0, cluster: c });
  url = server.url;
  await c.leader();
}, 60_000);
afterAll(async () => {
  await server?.close();
  await c?.stop();
});

const at = (key: string) => `/kv/${encodeURIComponent(key)}`;

test('PUT then GET, in every read mode; GET of an absent key is 404', async () => {
  expect(await request(url, 'PUT', at('greeting'), { value: 'hello' })).toMatchObject({
    status: 204,
    body: null,
  });
  for (const read of ['', '?read=linearizable', '?read=lease', '?read=stale']) {
    const got = await request(url, 'GET', `${at('greeting')}${read}`);
    if (read === '?read=stale' && got.status === 404) continue; // a stale read may come from a node behind
    expect(got).toMatchObject({ status: 200, body: { key: 'greeting', value: 'hello' } });
    expect(got.headers.get('content-type')).toMatch(/^application\/json/);
  }
  expect(await request(url, 'GET', at('never-written'))).toEqual(
    expect.objectContaining({ status: 404, body: { error: 'key "never-written" not found' } }),
  );
});

test('keys with slashes, spaces and non-ASCII travel URL-encoded', async () => {
  const key = 'a/b c/ключ/🔑';
  expect((await request(url, 'PUT', at(key), { value: 'v' })).status).toBe(204);
  expect((await request(url, 'GET', at(key))).body).toEqual({ key, value: 'v' });
});

test('DELETE says whether the key existed', async () => {
  await request(url, 'PUT', at('doomed'), { value: 'x' });
  expect(await request(url, 'DELETE', at('doomed'))).toMatchObject({ status: 200, body: { existed: true } });
  expect(await request(url, 'DELETE', at('doomed'))).toMatchObject({ status: 200, body: { existed: false } });
  expect((await request(url, 'GET', at('doomed'))).status).toBe(404);
});

test('cas: expected null means absent; it swaps only on a match', async () => {
  const cas = (expected: string | null, value: string) =>
    request(url, 'POST', `${at('lock')}/cas`, { expected, value });
  expect(await cas(null, 'a')).toMatchObject({ status: 200, body: { swapped: true } });
  expect(await cas(null, 'b')).toMatchObject({ status: 200, body: { swapped: false } });
  expect(await cas('zzz', 'b')).toMatchObject({ status: 200, body: { swapped: false } });
  expect(await cas('a', 'b')).toMatchObject({ status: 200, body: { swapped: true } });
  expect((await request(url, 'GET', at('lock'))).body.value).toBe('b');
});

test('append appends, to a missing key as to ""', async () => {
  for (const suffix of ['x', 'y', 'z']) {
    expect((await request(url, 'POST', `${at('log')}/append`, { suffix })).status).toBe(204);
  }
  expect((await request(url, 'GET', at('log'))).body.value).toBe('xyz');
});

test('GET /kv lists a prefix in key order, with a limit and whether there is more', async () => {
  for (const k of ['list/b', 'list/a', 'list/c', 'other']) await request(url, 'PUT', at(k), { value: k });
  const all = await request(url, 'GET', '/kv?prefix=list%2F');
  expect(all).toMatchObject({
    status: 200,
    body: {
      entries: [
        { key: 'list/a', value: 'list/a' },
        { key: 'list/b', value: 'list/b' },
        { key: 'list/c', value: 'list/c' },
      ],
      more: false,
    },
  });
  const two = await request(url, 'GET', '/kv?prefix=list%2F&limit=2');
  expect(two.body.entries.map((e: { key: string }) => e.key)).toEqual(['list/a', 'list/b']);
  expect(two.body.more).toBe(true);
  expect((await request(url, 'GET', '/kv?prefix=nothing-here')).body).toEqual({ entries: [], more: false });
});

test('bytes come back base64 with "encoding": "base64", however they were written', async () => {
  const kv = c.client();
  onTestFinished(() => kv.close());
  await kv.put('raw', new Uint8Array([0, 1, 254, 255]));
  expect((await request(url, 'GET', at('raw'))).body).toEqual({
    key: 'raw',
    value: 'AAH+/w==',
    encoding: 'base64',
  });
  // Written as base64 over HTTP: stored as bytes.
  await request(url, 'PUT', at('raw2'), { value: 'AAE=', encoding: 'base64' });
  expect(await kv.get('raw2')).toEqual(new Uint8Array([0, 1]));
  const listed = await request(url, 'GET', '/kv?prefix=raw');
  expect(listed.body.entries).toContainEqual({ key: 'raw', value: 'AAH+/w==', encoding: 'base64' });
});

test('GET /cluster reports every node, the leader and the traffic', async () => {
  const leader = await c.leader();
  const { status, body } = await request(url, 'GET', '/cluster');
  expect(status).toBe(200);
  expect(body.leader).toBe(leader);
  expect(body.nodes.map((n: { id: string }) => n.id)).toEqual(['n1', 'n2', 'n3']);
  for (const n of body.nodes) {
    expect(n).toMatchObject({ up: true, role: n.id === leader ? 'leader' : 'follower', term: body.term });
    expect(n.commitIndex).toBeGreaterThan(0);
  }
  expect(body.stats.rpcs).toHaveProperty('n1');
});

test('bad input gets 4xx with {"error"} naming the problem, and the server goes on', async () => {
  const cases: Array<[string, string, unknown, number, RegExp]> = [
    ['PUT', at('k'), '{"value": ', 400, /^malformed JSON body: /],
    ['PUT', at('k'), '{"value": 5}', 400, /body\.value must be a string/],
    ['PUT', at('k'), '{"valeu": "x"}', 400, /body is missing the field "value"/],
    ['PUT', at('k'), '{"value": "x", "extra": 1}', 400, /body has an unknown field "extra"/],
    ['PUT', at('k'), '"just a string"', 400, /the body must be a JSON object/],
    ['PUT', at('k'), undefined, 400, /the body must be a JSON object/],
    ['PUT', at('k'), '{"value": "!!", "encoding": "base64"}', 400, /not valid base64/],
    [
      'PUT',
      at('k'),
      '{"value": "x", "encoding": "hex"}',
      400,
      /body\.encoding must be one of "utf8", "base64"/,
    ],
    ['POST', `${at('k')}/cas`, '{"value": "x"}', 400, /missing the field "expected"/],
    [
      'POST',
      `${at('k')}/cas`,
      '{"expected": 1, "value": "x"}',
      400,
      /body\.expected must be a string or null/,
    ],
    ['POST', `${at('k')}/append`, '{}', 400, /missing the field "suffix"/],
    [
      'GET',
      `${at('k')}?read=fast`,
      undefined,
      400,
      /query\.read must be one of "linearizable", "lease", "stale"/,
    ],
    ['GET', '/kv?limit=-1', undefined, 400, /query\.limit must be a non-negative integer/],
    ['GET', '/nowhere', undefined, 404, /no route GET \/nowhere: the API serves/],
    ['GET', '/kv/a/b', undefined, 404, /no route GET \/kv\/a\/b/],
    ['PATCH', at('k'), '{}', 405, /PATCH is not allowed on \/kv\/:key: use GET, PUT, DELETE/],
    ['GET', `${at('k')}/cas`, undefined, 405, /GET is not allowed on \/kv\/:key\/cas: use POST/],
    ['DELETE', '/cluster', undefined, 405, /use GET/],
  ];
  for (const [method, path, body, status, message] of cases) {
    const r = await request(url, method, path, body);
    expect({ method, path, body, status: r.status }).toEqual({ method, path, body, status });
    expect(Object.keys(r.body)).toEqual(['error']);
    expect(r.body.error).toMatch(message);
  }
  expect((await request(url, 'PATCH', at('k'), '{}')).headers.get('allow')).toBe('GET, PUT, DELETE, HEAD');
  // Nothing was written by any of them.
  expect((await request(url, 'GET', at('k'))).status).toBe(404);
});

test('a body over the limit (1 MiB by default) is 413; one under it is accepted', async () => {
  const big = await request(url, 'PUT', at('big'), { value: 'x'.repeat(1024 * 1024) });
  expect(big.status).toBe(413);
  expect(big.body).toEqual({ error: 'request body is larger than the limit of 1048576 bytes' });
  expect((await request(url, 'PUT', at('big'), { value: 'x'.repeat(1000 * 1000) })).status).toBe(204);
});

test('Request-Id: a retried append is applied once and answered as the first time', async () => {
  const headers = { 'request-id': 'append-once-1' };
  const first = await request(url, 'POST', `${at('once')}/append`, { suffix: 'A' }, headers);
  const retry = await request(url, 'POST', `${at('once')}/append`, { suffix: 'A' }, headers);
  expect(first.status).toBe(204);
  expect(first.headers.get('idempotent-replayed')).toBeNull();
  expect(retry.status).toBe(204);
  expect(retry.headers.get('idempotent-replayed')).toBe('true');
  expect(retry.headers.get('request-id')).toBe('append-once-1');
  expect((await request(url, 'GET', at('once'))).body.value).toBe('A');
  // A new id is a new request.
  await request(url, 'POST', `${at('once')}/append`, { suffix: 'B' }, { 'x-request-id': 'append-once-2' });
  await request(url, 'POST', `${at('once')}/append`, { suffix: 'B' }, { 'x-request-id': 'append-once-2' });
  expect((await request(url, 'GET', at('once'))).body.value).toBe('AB');
});

test('Request-Id: concurrent duplicates are applied once and all get the same answer', async () => {
  const answers = await Promise.all(
    Array.from({ length: 8 }, () =>
      request(url, 'POST', `${at('burst')}/append`, { suffix: 'Z' }, { 'request-id': 'burst-1' }),
    ),
  );
  expect(answers.map((a) => a.status)).toEqual(Array(8).fill(204));
  expect(answers.filter((a) => a.headers.get('idempotent-replayed') === null)).toHaveLength(1);
  expect((await request(url, 'GET', at('burst'))).body.value).toBe('Z');
});

test('Request-Id: a retried cas returns the original {"swapped": true}, not a second attempt', async () => {
  const body = { expected: null, value: 'mine' };
  const headers = { 'request-id': 'cas-once' };
  expect((await request(url, 'POST', `${at('leader-lock')}/cas`, body, headers)).body).toEqual({
    swapped: true,
  });
  // Run again without the id, the cas would fail: the key is no longer absent.
  expect((await request(url, 'POST', `${at('leader-lock')}/cas`, body, headers)).body).toEqual({
    swapped: true,
  });
  expect((await request(url, 'POST', `${at('leader-lock')}/cas`, body)).body).toEqual({ swapped: false });
});

test('Request-Id: reused for another request is 422; a malformed id is 400', async () => {
  await request(url, 'PUT', at('reuse'), { value: '1' }, { 'request-id': 'reused' });
  const other = await request(url, 'PUT', at('reuse'), { value: '2' }, { 'request-id': 'reused' });
  expect(other.status).toBe(422);
  expect(other.body.error).toMatch(
    /Request-Id "reused" was already used for PUT \/kv\/reuse with another body/,
  );
  expect((await request(url, 'GET', at('reuse'))).body.value).toBe('1');
  const bad = await request(url, 'PUT', at('reuse'), { value: '3' }, { 'request-id': 'x'.repeat(201) });
  expect(bad.status).toBe(400);
  expect(bad.body.error).toMatch(/Request-Id header must be one token of 1 to 200/);
});

test('a taken port is refused with PortInUseError', async () => {
  await expect(startKvHttpServer({ port: server.port })).rejects.toThrow(
    new RegExp(`port ${server.port} on 127\\.0\\.0\\.1 is in use`),
  );
});

test('before a cluster is attached every KV route answers 503 with Retry-After', async () => {
  const early = await startKvHttpServer({ port: 0 });
  onTestFinished(() => early.close());
  const r = await request(early.url, 'GET', at('x'));
  expect(r.status).toBe(503);
  expect(r.headers.get('retry-after')).toBe('1');
  expect(r.body).toEqual({ error: 'the cluster is still starting: retry shortly' });
  early.attach(c);
  expect((await request(early.url, 'PUT', at('late'), { value: 'ok' })).status).toBe(204);
});

test('a client closed under a request in flight answers 503 (shutting down); a closed server stops listening', async () => {
  const kv = c.client();
  let arrived!: () => void;
  const arrival = new Promise<void>((resolve) => {
    arrived = resolve;
  });
  const closing = await startKvHttpServer({
    port: 0,
    cluster: {
      cluster: c,
      kv: {
        get: (k, o) => kv.get(k, o),
        delete: (k) => kv.delete(k),
        append: (k, s) => kv.append(k, s),
        cas: (k, e, v) => kv.cas(k, e, v),
        list: (p, l) => kv.list(p, l),
        put: (k, v) => {
          const done = kv.put(k, v);
          arrived();
          return done;
        },
      },
    },
  });
  onTestFinished(() => closing.close());
  const inflight = request(closing.url, 'PUT', at('closing'), { value: 'v' });
  await arrival;
  // The answer needs a message from a worker: it cannot have come back yet.
  await kv.close();
  const r = await inflight;
  expect(r.status).toBe(503);
  expect(r.body.error).toMatch(
    /^put\("closing"\): the server is shutting down; a write in flight may or may not/,
  );
  await closing.close();
  await expect(fetch(`${closing.url}/cluster`)).rejects.toThrow();
});
