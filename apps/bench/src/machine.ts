/**
 * What a result was measured on: the machine, Node, and the git commit of the
 * code, recorded in every JSON result (STYLE.md "Benchmarks are a product").
 */
import { execFileSync } from 'node:child_process';
import os from 'node:os';

/** Machine describes the machine and software a benchmark ran on. */
export interface Machine {
  readonly os: { readonly platform: string; readonly release: string; readonly arch: string };
  readonly cpu: { readonly model: string; readonly cores: number; readonly availableCores: number };
  readonly memoryBytes: number;
  /** The 1, 5 and 15 minute load averages when the benchmark started (a busy machine disturbs figures). */
  readonly loadAverage: readonly number[];
  readonly node: string;
  readonly v8: string;
  /** The commit of the working tree and whether it had uncommitted changes; null outside a git checkout. */
  readonly git: { readonly commit: string; readonly dirty: boolean } | null;
}

/** machine describes this machine, Node and the checkout under `cwd`. */
export function machine(cwd = process.cwd()): Machine {
  const cpus = os.cpus();
  return {
    os: { platform: os.platform(), release: os.release(), arch: os.arch() },
    cpu: {
      model: cpus[0]?.model.trim() ?? 'unknown',
      cores: cpus.length,
      availableCores: os.availableParallelism(),
    },
    memoryBytes: os.totalmem(),
    loadAverage: os.loadavg().map((x) => Math.round(x * 100) / 100),
    node: process.version,
    v8: process.versions.v8,
    git: gitState(cwd),
  };
}

function gitState(cwd: string): Machine['git'] {
  try {
    const run = (args: string[]) =>
      execFileSync('git', args, { cwd, encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] }).trim();
    return { commit: run(['rev-parse', 'HEAD']), dirty: run(['status', '--porcelain']) !== '' };
  } catch {
    return null;
  }
}

/** describeMachine is one line about `m` for the top of a report. */
export function describeMachine(m: Machine): string {
  const gib = (m.memoryBytes / 2 ** 30).toFixed(0);
  const git = m.git === null ? 'no git' : `${m.git.commit.slice(0, 10)}${m.git.dirty ? ' (dirty)' : ''}`;
  return `${m.cpu.model} x${m.cpu.cores}, ${gib} GiB, ${m.os.platform} ${m.os.release} ${m.os.arch}, Node ${m.node}, commit ${git}`;
}
