import { execFile } from 'node:child_process';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { PassThrough } from 'node:stream';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { afterEach, expect, onTestFinished, test } from 'vitest';
import { checkDataDir, run } from '../src/run.js';
import { request, waitFor } from './helpers.js';

const cli = fileURLToPath(new URL('../dist/cli.js', import.meta.url));
const dirs: string[] = [];
afterEach(async () => {
  for (const d of dirs.splice(0)) await rm(d, { recursive: true, force: true });
});
async function tempDir(): Promise<string> {
  const d = await mkdtemp(join(tmpdir(), 'xraft-app-'));
  dirs.push(d);
  return d;
}

function capture(): { out: NodeJS.WriteStream; text: () => string } {
  const stream = new PassThrough();
  const chunks: string[] = [];
  stream.on('data', (c: Buffer) => chunks.push(c.toString()));
  return {
    out: Object.assign(stream, { isTTY: false }) as unknown as NodeJS.WriteStream,
    text: () => chunks.join(''),
  };
}

/** startFor runs `xraft start` on a 3-node disk cluster for `durationMs`, writing to `out`. */
function startFor(
  dataDir: string,
  out: NodeJS.WriteStream,
  durationMs: number,
  chaos?: 'any' | 'leader',
): Promise<number> {
  return run({
    nodes: 3,
    dataDir,
    storage: 'disk',
    chaos: chaos !== undefined,
    ...(chaos !== undefined ? { chaosVictim: chaos } : {}),
    chaosIntervalMs: 700,
    rate: 50,
    durationMs,
    out,
  });
}

test('xraft start runs a disk cluster, reports its leader and progress, and stops cleanly; a rerun recovers', async () => {
  const dataDir = await tempDir();
  const first = capture();
  const code = await startFor(dataDir, first.out, 2500);
  expect(code).toBe(0);
  const text = first.text();
  expect(text).toMatch(/n\d is leader of term \d+/);
  expect(text).toMatch(/3\/3 nodes up, committed up to index \d+/);
  expect(text).toContain('stopped cleanly');
  const term1 = Number(/is leader of term (\d+)/.exec(text)![1]);
  // The same data directory: the nodes come back with their terms and logs.
  const second = capture();
  await startFor(dataDir, second.out, 1500);
  const term2 = Number(/is leader of term (\d+)/.exec(second.text())![1]);
  expect(term2).toBeGreaterThan(term1);
});

test('xraft start --chaos kills workers and the supervisor restarts them', async () => {
  const dataDir = await tempDir();
  const c = capture();
  await startFor(dataDir, c.out, 3000, 'any');
  const text = c.text();
  expect(text).toMatch(/chaos: killing n\d's worker/);
  expect(text).toMatch(/supervisor: n\d crashed/);
  expect(text).toMatch(/supervisor: n\d restarted/);
});

test('xraft start --chaos leader kills whoever leads; a new leader takes over and no acknowledged write is lost', async () => {
  const dataDir = await tempDir();
  const c = capture();
  const code = await startFor(dataDir, c.out, 4000, 'leader');
  const text = c.text();
  const firstKill = text.indexOf('chaos: killing the leader ');
  expect(firstKill).toBeGreaterThan(0);
  // A new leader, of a later term, took office after the kill.
  const terms = (part: string) => [...part.matchAll(/n\d is leader of term (\d+)/g)].map((m) => Number(m[1]));
  expect(Math.max(...terms(text.slice(firstKill)))).toBeGreaterThan(
    Math.max(...terms(text.slice(0, firstKill))),
  );
  // The load read every acknowledged append back: none lost or applied twice (the last load line is
  // the final read-back, printed once the cluster stopped).
  const loadLine =
    /load: (\d+) appends acknowledged.*; read back: \d+ exactly once, (\d+) lost, (\d+) duplicated\n/g;
  const load = [...text.matchAll(loadLine)].at(-1);
  expect(Number(load?.[1])).toBeGreaterThan(0);
  expect([load?.[2], load?.[3]]).toEqual(['0', '0']);
  expect(code).toBe(0);
});

test('an unwritable data directory is refused with a message saying what to do', async () => {
  const dir = await tempDir();
  const file = join(dir, 'a-file');
  await writeFile(file, 'x');
  await expect(checkDataDir(join(file, 'data'))).rejects.toThrow(
    /cannot use data directory .* choose a writable directory with --data-dir/,
  );
});

test('bad flags exit with 2 and a clear message', async () => {
  const exec = promisify(execFile);
  const err = await exec(process.execPath, [cli, 'start', '--nodes', '12']).catch(
    (e: { code: number; stderr: string }) => e,
  );
  expect((err as { code: number }).code).toBe(2);
  expect((err as { stderr: string }).stderr).toMatch(/expected an integer from 1 to 9, got "12"/);
  const drift = await exec(process.execPath, [cli, 'start', '--max-clock-drift', '200']).catch(
    (e: { code: number; stderr: string }) => e,
  );
  expect((drift as { code: number }).code).toBe(2);
  expect((drift as { stderr: string }).stderr).toMatch(/expected an integer from 0 to 149, got "200"/);
});

test('xraft start --inspect serves the statechart inspector; --diagrams draws each node in its current state', async () => {
  const dataDir = await tempDir();
  const diagrams = join(await tempDir(), 'diagrams');
  const c = capture();
  const code = await run({
    nodes: 3,
    dataDir,
    storage: 'memory',
    chaos: false,
    chaosIntervalMs: 1000,
    rate: 20,
    durationMs: 2000,
    inspectPort: 0,
    diagramsDir: diagrams,
    out: c.out,
  });
  expect(code).toBe(0);
  const text = c.text();
  expect(text).toMatch(/statechart inspector: open http:\/\/127\.0\.0\.1:\d+\//);
  // The diagrams are drawn last at stop: compare with the last leader reported.
  const leader = [...text.matchAll(/(n\d) is leader of term/g)].at(-1)![1]!;
  for (const id of ['n1', 'n2', 'n3']) {
    const mermaid = await readFile(join(diagrams, `${id}.mmd`), 'utf8');
    const highlighted = /class (\S+) active/.exec(mermaid)?.[1] ?? '';
    expect(highlighted.split(',')[0]).toBe(id === leader ? 'leader' : 'follower');
    expect(await readFile(join(diagrams, `${id}.svg`), 'utf8')).toMatch(/^<\?xml|<svg/);
  }
});

test('xraft start --inspect on a port in use exits with 2 and says what to do', async () => {
  const blocker = createServer();
  await new Promise<void>((resolve) => blocker.listen(0, '127.0.0.1', resolve));
  const port = (blocker.address() as { port: number }).port;
  try {
    const exec = promisify(execFile);
    const err = await exec(process.execPath, [
      cli,
      'start',
      '--storage',
      'memory',
      '--http',
      '0',
      '--inspect',
      String(port),
    ]).catch((e: { code: number; stderr: string }) => e);
    expect((err as { code: number }).code).toBe(2);
    expect((err as { stderr: string }).stderr).toMatch(
      new RegExp(`port ${port} on 127.0.0.1 is in use.*--inspect <port>`),
    );
  } finally {
    await new Promise<void>((resolve) => blocker.close(() => resolve()));
  }
});

test('xraft start --http on a port in use exits with 2, naming the port and the flag, before any worker starts', async () => {
  const blocker = createServer();
  await new Promise<void>((resolve) => blocker.listen(0, '127.0.0.1', resolve));
  onTestFinished(() => new Promise<void>((resolve) => blocker.close(() => resolve())));
  const port = (blocker.address() as { port: number }).port;
  const exec = promisify(execFile);
  const err = await exec(process.execPath, [
    cli,
    'start',
    '--storage',
    'memory',
    '--http',
    String(port),
  ]).catch((e: { code: number; stdout: string; stderr: string }) => e);
  expect((err as { code: number }).code).toBe(2);
  expect((err as { stderr: string }).stderr).toMatch(
    new RegExp(`xraft start: port ${port} on 127\\.0\\.0\\.1 is in use.*--http <port>`),
  );
  // Nothing started: no line about the nodes was printed.
  expect((err as { stdout: string }).stdout).toBe('');
});

test('xraft start serves the KV store over HTTP; its load goes through a KvClient; it stops with the cluster', async () => {
  const c = capture();
  const stop = new AbortController();
  onTestFinished(() => stop.abort());
  const running = run({
    nodes: 3,
    dataDir: '',
    storage: 'memory',
    chaos: false,
    chaosIntervalMs: 1000,
    rate: 50,
    httpPort: 0,
    signal: stop.signal,
    out: c.out,
  });
  await waitFor(() => /KV over HTTP: http:\/\/127\.0\.0\.1:\d+/.test(c.text()), 'the URL to be printed');
  const url = /KV over HTTP: (http:\/\/127\.0\.0\.1:\d+)/.exec(c.text())![1]!;
  expect((await request(url, 'PUT', '/kv/hello', { value: 'world' })).status).toBe(204);
  expect((await request(url, 'GET', '/kv/hello')).body).toEqual({ key: 'hello', value: 'world' });
  // The load writes load/0… through its KvClient: they show up in the store.
  await waitFor(
    async () => (await request(url, 'GET', '/kv?prefix=load%2F')).body.entries.length > 0,
    'the load to write load/* keys',
  );
  stop.abort();
  expect(await running).toBe(0);
  expect(c.text()).toContain('stopping: the HTTP server closes, every worker shuts down');
  expect(c.text()).toContain('stopped cleanly');
  await expect(fetch(`${url}/cluster`)).rejects.toThrow();
});

test('xraft start --rate 0 writes nothing', async () => {
  const c = capture();
  const code = await run({
    nodes: 1,
    dataDir: '',
    storage: 'memory',
    chaos: false,
    chaosIntervalMs: 1000,
    rate: 0,
    durationMs: 500,
    out: c.out,
  });
  expect(code).toBe(0);
  expect(c.text()).toContain('no write load (--rate 0)');
});
