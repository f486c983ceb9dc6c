import { execFile } from 'node:child_process';
import { createServer } from 'node:net';
import { fileURLToPath } from 'node:url';
import { Cluster } from '@xraft/runtime';
import { afterAll, beforeAll, expect, test } from 'vitest';
import { type KvHttpServer, startKvHttpServer } from '../src/http/server.js';

// The built CLI (`pnpm build` first), against a real 3-node cluster served on a free port.
const cli = fileURLToPath(new URL('../dist/cli.js', import.meta.url));
let c: Cluster;
let server: KvHttpServer;
beforeAll(async () => {
  c = await Cluster.start({ nodes: 3, storage: 'memory' });
  server = await startKvHttpServer({ port: 0, cluster: c });
  await c.leader();
}, 60_000);
afterAll(async () => {
  await server?.close();
  await c?.stop();
});

interface Run {
  readonly code: number;
  readonly stdout: string;
  readonly stderr: string;
}

/** xraft runs `xraft kv <args> --url <server>` (unless `url` is null) and resolves with its exit code and output. */
function xraft(args: string[], url: string | null = server.url): Promise<Run> {
  return new Promise((resolve) => {
    execFile(
      process.execPath,
      [cli, 'kv', ...args, ...(url === null ? [] : ['--url', url])],
      { timeout: 30_000 },
      (err, stdout, stderr) => {
        resolve({ code: err === null ? 0 : Number((err as { code?: number }).code), stdout, stderr });
      },
    );
  });
}

test('put, get, append, list: values on stdout, exit 0', async () => {
  expect(await xraft(['put', 'cli/greeting', 'hello'])).toMatchObject({ code: 0, stdout: 'OK\n' });
  expect(await xraft(['get', 'cli/greeting'])).toMatchObject({ code: 0, stdout: 'hello\n' });
  expect(await xraft(['append', 'cli/greeting', ' world'])).toMatchObject({ code: 0 });
  expect(await xraft(['get', 'cli/greeting', '--read', 'stale', '--json'])).toMatchObject({ code: 0 });
  expect(JSON.parse((await xraft(['get', 'cli/greeting', '--json'])).stdout)).toEqual({
    key: 'cli/greeting',
    value: 'hello world',
  });
  await xraft(['put', 'cli/other', 'x']);
  expect(await xraft(['list', 'cli/'])).toMatchObject({
    code: 0,
    stdout: 'cli/greeting\thello world\ncli/other\tx\n',
  });
  const limited = await xraft(['list', 'cli/', '--limit', '1']);
  expect(limited).toMatchObject({ code: 0, stdout: 'cli/greeting\thello world\n' });
  expect(limited.stderr).toMatch(/more entries/);
});

test('absent keys, failed cas and deleting nothing exit 1', async () => {
  expect(await xraft(['get', 'cli/absent'])).toMatchObject({
    code: 1,
    stdout: '',
    stderr: 'xraft kv: key "cli/absent" not found\n',
  });
  expect(await xraft(['cas', 'cli/lock', '--absent', 'me'])).toMatchObject({ code: 0, stdout: 'swapped\n' });
  expect(await xraft(['cas', 'cli/lock', '--absent', 'you'])).toMatchObject({
    code: 1,
    stdout: 'not swapped\n',
  });
  expect(await xraft(['cas', 'cli/lock', 'you', 'them'])).toMatchObject({ code: 1 });
  expect(await xraft(['cas', 'cli/lock', 'me', 'them', '--json'])).toMatchObject({
    code: 0,
    stdout: '{"swapped":true}\n',
  });
  expect(await xraft(['del', 'cli/lock'])).toMatchObject({ code: 0, stdout: 'deleted\n' });
  expect(await xraft(['del', 'cli/lock'])).toMatchObject({ code: 1, stdout: 'not found\n' });
});

test('--request-id makes a rerun safe: the append is applied once', async () => {
  for (let i = 0; i < 2; i++) {
    expect((await xraft(['append', 'cli/once', 'Q', '--request-id', 'cli-once-1'])).code).toBe(0);
  }
  expect((await xraft(['get', 'cli/once'])).stdout).toBe('Q\n');
});

test('usage errors exit 2', async () => {
  const wrongArity = await xraft(['cas', 'k', 'only-one']);
  expect(wrongArity.code).toBe(2);
  expect(wrongArity.stderr).toMatch(/cas takes <key> <expected> <value>/);
  expect((await xraft(['get', 'k', '--read', 'fast'])).code).toBe(2);
  expect((await xraft(['frobnicate'])).code).toBe(2);
  const badUrl = await xraft(['get', 'k'], 'not a url');
  expect(badUrl).toMatchObject({ code: 2 });
  expect(badUrl.stderr).toMatch(/--url "not a url" is not a URL/);
  // The server refusing the request as malformed is a usage error too.
  const badId = await xraft(['put', 'k', 'v', '--request-id', 'has space']);
  expect(badId.code).toBe(2);
  expect(badId.stderr).toMatch(/Request-Id header must be one token/);
});

test('no app at the URL exits 3 and says how to start one', async () => {
  const free = createServer();
  await new Promise<void>((resolve) => free.listen(0, '127.0.0.1', resolve));
  const port = (free.address() as { port: number }).port;
  await new Promise<void>((resolve) => free.close(() => resolve()));
  const r = await xraft(['get', 'k'], `http://127.0.0.1:${port}`);
  expect(r.code).toBe(3);
  expect(r.stderr).toBe(
    `xraft kv: no xraft app at http://127.0.0.1:${port}: start one with \`xraft start\` (ECONNREFUSED)\n`,
  );
});
