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
    });
  });

  test('bad flags throw a clear error', () => {
    for (const argv of [
      ['--nodes', '0'],
      ['--nodes', '10'],
      ['--seeds', 'x'],
      ['--faults', 'hard'],
      ['--duration', '-1'],
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
});
