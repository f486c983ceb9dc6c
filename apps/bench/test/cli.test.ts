import { execFile, spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { availableParallelism, tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterEach, describe, expect, test } from 'vitest';
import type { ThroughputResults } from '../src/bench.js';
import type { FailoverResults } from '../src/failover.js';

const cli = fileURLToPath(new URL('../dist/cli.js', import.meta.url));
const dirs: string[] = [];
afterEach(async () => {
  for (const d of dirs.splice(0)) await rm(d, { recursive: true, force: true });
});
async function tempDir(): Promise<string> {
  const d = await mkdtemp(join(tmpdir(), 'xraft-bench-test-'));
  dirs.push(d);
  return d;
}

interface Ran {
  readonly code: number | null;
  readonly stdout: string;
  readonly stderr: string;
}

/** bench runs the built CLI; a child that does not end (a worker left running) fails the test by timeout. */
function bench(args: string[], env: NodeJS.ProcessEnv = process.env, timeoutMs = 25_000): Promise<Ran> {
  return new Promise((resolve) => {
    execFile(process.execPath, [cli, ...args], { timeout: timeoutMs, env }, (err, stdout, stderr) => {
      const code = err === null ? 0 : typeof err.code === 'number' ? err.code : null;
      resolve({ code, stdout, stderr });
    });
  });
}

const hasTaskset = spawnSync('taskset', ['-pc', String(process.pid)]).status === 0;
const twoCores = hasTaskset && availableParallelism() >= 2;

describe('pnpm bench (throughput)', () => {
  test('a tiny run writes results.json of the documented shape, the SVG charts and the tables', async () => {
    const out = await tempDir();
    const r = await bench([
      ...['--nodes', '1', '--storage', 'memory', '--clients', '1,4', '--workload', 'put'],
      ...['--duration', '1', '--warmup', '0.2', '--keys', '50', '--generators', '2', '--cores', 'off'],
      ...['--out', out],
    ]);
    expect(r.stderr).not.toMatch(/error/i);
    expect(r.code).toBe(0);
    expect(r.stdout).toContain('summary');
    expect(r.stdout).toMatch(/p99\.9 ms/);
    expect(r.stdout).toContain('node n1');
    const results = JSON.parse(await readFile(join(out, 'results.json'), 'utf8')) as ThroughputResults;
    expect(results.schema).toBe('xraft-bench/throughput/1');
    expect(results.kind).toBe('throughput');
    expect(results.machine.cpu.cores).toBeGreaterThan(0);
    expect(typeof results.machine.cpu.model).toBe('string');
    expect(results.machine.memoryBytes).toBeGreaterThan(0);
    expect(results.machine.node).toBe(process.version);
    expect(results.options.clients).toEqual([1, 4]);
    expect(results.coreScan).toMatchObject({ requested: 'off', counts: [] });
    expect(results.runs.map((run) => run.config.clients)).toEqual([1, 4]);
    for (const run of results.runs) {
      expect(run.config).toMatchObject({ workload: 'put', nodes: 1, storage: 'memory', rate: null });
      expect(run.cores).toBeNull();
      expect(run.throughput.ok).toBeGreaterThan(0);
      expect(run.throughput.opsPerSec).toBeGreaterThan(0);
      expect(run.latencyMs.count).toBeGreaterThan(0);
      const l = run.latencyMs;
      expect(l.p50).toBeLessThanOrEqual(l.p90);
      expect(l.p90).toBeLessThanOrEqual(l.p99);
      expect(l.p99).toBeLessThanOrEqual(l.p999);
      expect(l.p999).toBeLessThanOrEqual(l.max);
      expect(run.histogram).toMatch(/^HISTF/);
      expect(run.process.cpuPercent).toBeGreaterThan(0);
      expect(run.process.rssMaxBytes).toBeGreaterThan(0);
      expect(run.process.otherCpuPercent ?? 0).toBeGreaterThanOrEqual(0);
      expect(run.raft.entriesPerSec).toBeGreaterThan(0);
      expect(run.raft.writesPerEntry).toBeGreaterThan(0);
      expect(run.nodes).toHaveLength(1);
      expect(run.nodes[0]).toMatchObject({ id: 'n1', role: 'leader' });
      expect(run.nodes[0]!.elu).toBeGreaterThan(0);
      expect(run.nodes[0]!.heapUsedBytes).toBeGreaterThan(0);
    }
    // Four clients on two generator threads, their histograms merged.
    expect(results.runs.map((run) => run.generators.map((g) => g.clients))).toEqual([[1], [2, 2]]);
    expect(results.files).toEqual(['throughput-vs-clients.svg', 'latency.svg', 'report.txt']);
    for (const f of ['throughput-vs-clients.svg', 'latency.svg']) {
      expect(await readFile(join(out, f), 'utf8')).toMatch(
        /^<svg[^>]*xmlns="http:\/\/www.w3.org\/2000\/svg"/,
      );
    }
  });

  test('--rate runs an open loop (latency from when each operation was due); without taskset, --cores says it cannot limit cores', async () => {
    const out = await tempDir();
    const r = await bench(
      [
        ...['--nodes', '1', '--storage', 'memory', '--clients', '4', '--workload', 'mixed', '--rate', '200'],
        ...['--duration', '0.5', '--warmup', '0', '--keys', '10', '--cores', '1', '--out', out],
      ],
      { ...process.env, PATH: '' }, // no taskset to be found
    );
    expect(r.code).toBe(0);
    expect(r.stdout).toContain('open loop, target 200 ops/s');
    expect(r.stderr).toMatch(/taskset \(util-linux\) is not available here/);
    const results = JSON.parse(await readFile(join(out, 'results.json'), 'utf8')) as ThroughputResults;
    expect(results.coreScan.counts).toEqual([]);
    expect(results.coreScan.note).toMatch(/cannot be limited to fewer cores/);
    expect(results.runs[0]!.cores).toBeNull();
    const run = results.runs[0]!;
    expect(run.config).toMatchObject({ workload: 'mixed', readRatio: 0.9, rate: 200 });
    expect(run.throughput.targetRate).toBe(200);
    expect(run.throughput.ok).toBeGreaterThan(0);
    expect(run.latencyMs.count).toBeGreaterThan(0);
    expect(run.throughput.reads + run.throughput.writes).toBe(run.latencyMs.count);
  });

  test.skipIf(!twoCores)(
    '--cores 1,2 repeats the run under taskset and charts throughput vs cores',
    async () => {
      const out = await tempDir();
      const r = await bench([
        ...['--nodes', '1', '--storage', 'memory', '--clients', '2', '--duration', '0.3', '--warmup', '0'],
        ...['--keys', '10', '--cores', '1,2', '--out', out],
      ]);
      expect(r.code).toBe(0);
      const results = JSON.parse(await readFile(join(out, 'results.json'), 'utf8')) as ThroughputResults;
      expect(results.coreScan.counts).toEqual([1, 2]);
      expect(results.runs.map((run) => [run.cores, run.coresAvailable])).toEqual([
        [1, 1],
        [2, 2],
      ]);
      expect(results.scaling[0]!.points.map((p) => p.cores)).toEqual([1, 2]);
      expect(results.scaling[0]!.points[0]!.ratio).toBe(1);
      expect(existsSync(join(out, 'throughput-vs-cores.svg'))).toBe(true);
      expect(r.stdout).toContain('throughput by core count');
    },
  );

  test.concurrent.each([
    [['--clients', '0'], /--clients.*expected an integer from 1/],
    [['--clients', '4,,8'], /without empty items/],
    [['--workload', 'scan'], /expected one of put, get, mixed/],
    [['--storage', 'tape'], /expected one of disk, memory/],
    [['--duration', '-1'], /expected a positive number/],
    [['--read-ratio', '2'], /expected a number from 0 to 1/],
    [['--cores', 'some'], /--cores/],
    [['--cores', '4096'], /--cores 4096: this machine lets the process use \d+ cores?/],
    [['--bogus'], /unknown option '--bogus'/],
    [['failover', '--trials', '0'], /expected an integer from 1/],
    [['failover', '--nodes', '2'], /expected an integer from 3 to 9/],
    [['failover', '--kill', 'gently'], /expected one of exit, throw, rejection, terminate/],
  ])('bad flags %j exit 2 with a message', async (args, message) => {
    const r = await bench(args as string[]);
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(message as RegExp);
  });
});

describe('pnpm bench failover', () => {
  test('one trial under load: a new leader commits, the outage and catch-up are measured, JSON written', async () => {
    const out = await tempDir();
    const r = await bench([
      ...['failover', '--trials', '1', '--nodes', '3', '--storage', 'memory', '--clients', '2'],
      ...['--settle', '100', '--out', out],
    ]);
    expect(r.code).toBe(0);
    expect(r.stdout).toContain('it commits (first new commit)');
    const results = JSON.parse(await readFile(join(out, 'failover.json'), 'utf8')) as FailoverResults;
    expect(results.schema).toBe('xraft-bench/failover/1');
    expect(results.trials).toHaveLength(1);
    const t = results.trials[0]!;
    expect(t.newLeader).not.toBe(t.killed);
    expect(t.newTerm).toBeGreaterThan(t.oldTerm);
    expect(t.committedMs).toBeGreaterThanOrEqual(t.electedMs);
    expect(t.unavailableMs).toBeGreaterThan(0);
    expect(t.caughtUpMs).toBeGreaterThan(0);
    expect(results.summary.committedMs.median).toBe(t.committedMs);
    expect(results.load.ok).toBeGreaterThan(0);
  });
});
