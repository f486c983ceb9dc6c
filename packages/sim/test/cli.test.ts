import { execFile } from 'node:child_process';
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { stripVTControlCharacters } from 'node:util';
import { CommanderError } from 'commander';
import { describe, expect, test } from 'vitest';
import { type CliIO, main, parseArgs, replayCommand } from '../src/cli.js';

function capture(): CliIO & { stdout: string; stderr: string } {
  const io = {
    stdout: '',
    stderr: '',
    tty: false,
    out(t: string) {
      io.stdout += t;
    },
    err(t: string) {
      io.stderr += t;
    },
  };
  return io;
}

describe('pnpm sim flags', () => {
  test('defaults', () => {
    const o = parseArgs([]);
    expect(o).toMatchObject({
      seeds: 100,
      start: 1,
      seed: undefined,
      nodes: 5,
      faults: 'mixed',
      duration: 10,
      varyConfig: true,
      rules: true,
      workload: 'ops',
      clients: 5,
    });
  });

  test('bad flags throw a clear error', () => {
    for (const argv of [
      ['--nodes', '0'],
      ['--nodes', '10'],
      ['--seeds', 'x'],
      ['--faults', 'hard'],
      ['--duration', '-1'],
      ['--workload', 'jepsen'],
      ['--clients', '0'],
      ['--what'],
    ]) {
      expect(() => parseArgs(argv), argv.join(' ')).toThrow(CommanderError);
    }
  });

  test('bad flags exit with 2 and say what to do', async () => {
    const io = capture();
    expect(await main(['--nodes', '12'], io)).toBe(2);
    expect(io.stderr).toMatch(/--nodes must be an integer from 1 to 9, got "12"/);
    expect(io.stderr).toMatch(/pnpm sim --help/);
    const io2 = capture();
    expect(await main(['--seed', '3', '--seeds', '5'], io2)).toBe(2);
    expect(io2.stderr).toMatch(/use one of them/);
  });

  test('--help exits with 0', async () => {
    const io = capture();
    expect(await main(['--help'], io)).toBe(0);
    expect(io.stdout).toMatch(/--faults <profile>/);
  });

  test('the replay command names every option that changes the run', () => {
    const o = parseArgs([
      '--seeds',
      '50',
      '--nodes',
      '7',
      '--faults',
      'heavy',
      '--duration',
      '20',
      '--no-vary-config',
      '--no-rules',
    ]);
    expect(replayCommand(1234, o)).toBe(
      'pnpm sim --seed 1234 --nodes 7 --faults heavy --duration 20 --no-vary-config --no-rules --trace',
    );
  });

  test('the replay command of a KV run names the workload and a non-default client count', () => {
    const o = parseArgs(['--seeds', '50', '--workload', 'kv', '--clients', '8']);
    expect(replayCommand(77, o)).toBe(
      'pnpm sim --seed 77 --nodes 5 --faults mixed --duration 10 --workload kv --clients 8 --trace',
    );
    expect(replayCommand(77, parseArgs(['--workload', 'kv']))).toBe(
      'pnpm sim --seed 77 --nodes 5 --faults mixed --duration 10 --workload kv --trace',
    );
  });

  test('--seed replays one seed of the KV workload and reports its history check', async () => {
    const io = capture();
    expect(
      await main(
        ['--seed', '9', '--nodes', '3', '--faults', 'heavy', '--duration', '3', '--workload', 'kv'],
        io,
      ),
    ).toBe(0);
    const out = stripVTControlCharacters(io.stdout);
    expect(out).toMatch(/kv: \d+ calls by 5 clients: \d+ ok, \d+ failed \(not applied\), \d+ unknown/);
    expect(out).toMatch(/kv history: \d+ operations over 5 keys: ok in [\d.]+ ms/);
    expect(out).toMatch(/no violations/);
  });

  test('--seed replays one seed in-process', async () => {
    const io = capture();
    expect(await main(['--seed', '9', '--nodes', '3', '--faults', 'heavy', '--duration', '3'], io)).toBe(0);
    expect(io.stdout).toMatch(/seed 9: 3 nodes, faults heavy/);
    expect(io.stdout).toMatch(/reads: \d+ sent, \d+ served and checked \(\d+ by lease\), \d+ refused/);
    expect(io.stdout).toMatch(/no violations/);
    const traced = capture();
    expect(
      await main(['--seed', '9', '--nodes', '3', '--faults', 'heavy', '--duration', '3', '--trace'], traced),
    ).toBe(0);
    expect(traced.stdout).toMatch(/became leader term/);
    expect(traced.stdout.split('\n').length).toBeGreaterThan(300);
  });
});

const dist = fileURLToPath(new URL('../dist/cli.js', import.meta.url));

describe.skipIf(!existsSync(dist))('the built CLI (after pnpm build)', () => {
  test('fans seeds out over workers and prints a summary', async () => {
    const { code, stdout } = await new Promise<{ code: number; stdout: string }>((resolve) => {
      execFile(
        process.execPath,
        [
          dist,
          '--seeds',
          '8',
          '--nodes',
          '3',
          '--faults',
          'heavy',
          '--duration',
          '3',
          '--workers',
          '2',
          '--no-progress',
        ],
        { timeout: 60_000 },
        (err, stdout) => resolve({ code: err ? ((err as { code?: number }).code ?? 1) : 0, stdout }),
      );
    });
    // CI may force colour on (FORCE_COLOR); the summary is checked as plain text.
    const plain = stripVTControlCharacters(stdout);
    expect(plain).toMatch(/seeds\s+8 in/);
    expect(plain).toMatch(/seeds\/s/);
    expect(plain).toMatch(
      /reads\s+[\d,]+ sent: [\d,]+ served and checked \([\d,]+ by lease\), [\d,]+ refused/,
    );
    expect(plain).toMatch(/violations\s+0\n/);
    expect(code).toBe(0);
  });

  test('fans KV seeds out and sums up their history checks', async () => {
    const { code, stdout } = await new Promise<{ code: number; stdout: string }>((resolve) => {
      execFile(
        process.execPath,
        [dist, '--seeds', '4', '--nodes', '3', '--faults', 'heavy', '--duration', '3', '--workload', 'kv'],
        { timeout: 60_000 },
        (err, stdout) => resolve({ code: err ? ((err as { code?: number }).code ?? 1) : 0, stdout }),
      );
    });
    const plain = stripVTControlCharacters(stdout);
    expect(plain).toMatch(/workload kv \(5 clients\)/);
    expect(plain).toMatch(/kv\s+[\d,]+ calls \([\d,]+ per seed\): [\d,]+ ok, [\d,]+ failed, [\d,]+ unknown/);
    expect(plain).toMatch(
      /kv check\s+[\d,]+ operations checked \([\d,]+ per seed\): 0 illegal, 0 unknown \(check budget ran out\), 0 exactly-once violations; check time/,
    );
    expect(code).toBe(0);
  });
});
