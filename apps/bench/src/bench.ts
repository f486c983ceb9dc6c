/**
 * The throughput/latency benchmark (`pnpm bench`): the cross product of the
 * options' lists, each run on a fresh cluster, repeated under 1, 2, … cores
 * (the process re-executed under `taskset`), then tables, JSON and SVG charts.
 */
import { spawn, spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import cliProgress from 'cli-progress';
import { lineChart, renderSvg } from './charts.js';
import { onInterrupt } from './interrupt.js';
import { describeMachine, type Machine, machine } from './machine.js';
import {
  availableCores,
  configLabel,
  coreCounts,
  expand,
  type RunConfig,
  type ThroughputOptions,
} from './options.js';
import { runTable, type ScalingRow, scaling, scalingTable, summaryTable } from './report.js';
import { makePool, type RunResult, runOnce } from './run.js';

/** RESULTS_SCHEMA is the version of the JSON results' shape, bumped when a field changes meaning. */
export const RESULTS_SCHEMA = 'xraft-bench/throughput/1';

/** CoreScan says whether runs were repeated under fewer cores, and if not, why. */
export interface CoreScan {
  /** The core counts asked for (`--cores`), or 'off'. */
  readonly requested: readonly number[] | 'all' | 'off';
  /** The core counts actually run under taskset; empty when none. */
  readonly counts: readonly number[];
  /** Why no scan ran (taskset missing, --cores off), or null. */
  readonly note: string | null;
}

/** ThroughputResults is the JSON written to `<out>/results.json`. */
export interface ThroughputResults {
  readonly schema: typeof RESULTS_SCHEMA;
  readonly kind: 'throughput';
  readonly startedAt: string;
  readonly finishedAt: string;
  readonly machine: Machine;
  /** The command line's arguments, to run the same again. */
  readonly argv: readonly string[];
  readonly options: ThroughputOptions;
  readonly coreScan: CoreScan;
  readonly runs: readonly RunResult[];
  /** Per configuration: ops/s at each core count and the ratio to the fewest cores. */
  readonly scaling: readonly ScalingRow[];
  /** Files written beside the JSON (charts, the text report). */
  readonly files: readonly string[];
}

/** Io is where a benchmark writes: `out` the report, `err` progress and warnings. */
export interface Io {
  readonly out: NodeJS.WritableStream;
  readonly err: NodeJS.WritableStream & { isTTY?: boolean };
}

/** Rough overhead of one run besides its load (cluster start and stop, prefill), for progress only. */
const RUN_OVERHEAD_S = 1.5;

/** defaultOutDir is `bench-results/<timestamp>` under the current directory. */
export function defaultOutDir(now = new Date()): string {
  return join('bench-results', now.toISOString().replace(/[:.]/g, '-'));
}

/** cliPath is the built CLI, re-executed under taskset for each core count. */
function cliPath(): string {
  const here = import.meta.url;
  const url = here.endsWith('.ts') ? new URL('../dist/cli.js', here) : new URL('./cli.js', here);
  const path = fileURLToPath(url);
  if (!existsSync(path)) throw new Error(`the bench CLI ${path} does not exist: run \`pnpm build\` first`);
  return path;
}

/**
 * affinityCpus lists the CPUs this process may run on, as taskset reports
 * them, or null when taskset is missing or fails (not Linux, no util-linux).
 */
export function affinityCpus(): number[] | null {
  const r = spawnSync('taskset', ['-pc', String(process.pid)], { encoding: 'utf8' });
  if (r.error !== undefined || r.status !== 0) return null;
  const list = /:\s*([\d,\s-]+)\s*$/.exec(r.stdout.trim())?.[1];
  if (list === undefined) return null;
  const cpus: number[] = [];
  for (const part of list.split(',')) {
    const [a, b] = part.trim().split('-').map(Number);
    if (a === undefined || !Number.isInteger(a)) return null;
    for (let c = a; c <= (b ?? a); c++) cpus.push(c);
  }
  return cpus.length > 0 ? cpus : null;
}

/** Progress draws one bar over every run (TTY), or a line per run (otherwise). */
class Progress {
  private readonly bar: cliProgress.SingleBar | null;
  private doneS = 0;
  private index = 0;

  constructor(
    private readonly io: Io,
    private readonly totalRuns: number,
    totalS: number,
  ) {
    this.bar = io.err.isTTY
      ? new cliProgress.SingleBar(
          {
            stream: io.err,
            format: ' {bar} {percentage}% | ETA {eta_formatted} | run {run}/{runs}: {label}',
            hideCursor: true,
            clearOnComplete: true,
            etaBuffer: 50,
          },
          cliProgress.Presets.shades_classic,
        )
      : null;
    this.bar?.start(Math.round(totalS * 10), 0, { run: 0, runs: totalRuns, label: 'starting' });
  }

  start(label: string, runS: number): (fraction: number) => void {
    this.index++;
    const base = this.doneS;
    this.doneS += runS;
    if (this.bar === null) this.io.err.write(`run ${this.index}/${this.totalRuns}: ${label}\n`);
    this.bar?.update(Math.round(base * 10), { run: this.index, label });
    return (fraction) => this.bar?.update(Math.round((base + fraction * runS) * 10));
  }

  log(line: string): void {
    if (this.bar !== null) this.bar.stop();
    this.io.err.write(`${line}\n`);
  }

  stop(): void {
    this.bar?.update(Math.round(this.doneS * 10));
    this.bar?.stop();
  }
}

/** Other processes' CPU use (% of a core) during a window above which the report warns. */
const BUSY_MACHINE_PERCENT = 20;

/** busiest is the most CPU other processes used during any run's window, in % of a core. */
function busiest(runs: readonly RunResult[]): number {
  return Math.max(0, ...runs.map((r) => r.process.otherCpuPercent ?? 0));
}

/** A generator thread whose event loop is busier than this may be what limits a run. */
const BUSY_GENERATOR = 0.9;

/** clientBound tells whether a generator thread of `r` was nearly saturated. */
function clientBound(r: RunResult): boolean {
  return r.generators.some((g) => g.elu > BUSY_GENERATOR);
}

/** cores is `k cores` (or `1 core`). */
export function cores(k: number): string {
  return `${k} core${k === 1 ? '' : 's'}`;
}

function runSeconds(c: RunConfig): number {
  return c.warmupS + c.durationS + RUN_OVERHEAD_S;
}

/** runAll runs `configs` in this process, on one pool of load generators. */
export async function runAll(
  configs: readonly RunConfig[],
  cores: number | null,
  onRun: (c: RunConfig, i: number) => (fraction: number) => void,
  log: (line: string) => void,
): Promise<RunResult[]> {
  const pool = makePool(Math.max(...configs.map((c) => c.generators)));
  const forget = onInterrupt(() => pool.destroy());
  const out: RunResult[] = [];
  try {
    for (const [i, config] of configs.entries()) {
      const progress = onRun(config, i);
      out.push(await runOnce(config, pool, cores, { progress, log }));
    }
  } finally {
    await pool.destroy();
    forget();
  }
  return out;
}

/** ChildSpec is what the parent hands a core-limited child (`cli.js __child <spec> <out>`). */
interface ChildSpec {
  readonly options: ThroughputOptions;
  readonly cores: number;
}

/** ChildEvent is one line a child prints on stdout for its parent's progress bar. */
type ChildEvent =
  | { readonly type: 'run'; readonly label: string; readonly seconds: number }
  | { readonly type: 'progress'; readonly fraction: number }
  | { readonly type: 'log'; readonly line: string };

/** childMain is the core-limited child: it runs the matrix (expanded for its own cores) and writes the results. */
export async function childMain(specPath: string, outPath: string): Promise<void> {
  const spec = JSON.parse(readFileSync(specPath, 'utf8')) as ChildSpec;
  const emit = (e: ChildEvent) => process.stdout.write(`${JSON.stringify(e)}\n`);
  let last = 0;
  const runs = await runAll(
    expand(spec.options),
    spec.cores,
    (c) => {
      emit({ type: 'run', label: configLabel(c), seconds: runSeconds(c) });
      return (fraction) => {
        const now = performance.now();
        if (now - last < 250 && fraction < 1) return;
        last = now;
        emit({ type: 'progress', fraction });
      };
    },
    (line) => emit({ type: 'log', line }),
  );
  writeFileSync(outPath, JSON.stringify(runs));
}

/** runChild runs the whole matrix in a child limited to `cpus` by taskset. */
async function runChild(
  options: ThroughputOptions,
  cpus: readonly number[],
  progress: Progress,
): Promise<RunResult[]> {
  const dir = mkdtempSync(join(tmpdir(), 'xraft-bench-'));
  try {
    const specPath = join(dir, 'spec.json');
    const outPath = join(dir, 'runs.json');
    writeFileSync(specPath, JSON.stringify({ options, cores: cpus.length } satisfies ChildSpec));
    const child = spawn(
      'taskset',
      ['-c', cpus.join(','), process.execPath, ...process.execArgv, cliPath(), '__child', specPath, outPath],
      { stdio: ['ignore', 'pipe', 'inherit'] },
    );
    // The child stops its own cluster on SIGINT (a terminal sends it to both); pass on one sent to us alone.
    const forget = onInterrupt(
      () =>
        new Promise<void>((resolve) => {
          if (child.exitCode !== null || child.signalCode !== null) return resolve();
          child.once('exit', () => resolve());
          child.kill('SIGINT');
        }),
    );
    let onProgress: (fraction: number) => void = () => {};
    const lines = createInterface({ input: child.stdout });
    lines.on('line', (line) => {
      let e: ChildEvent;
      try {
        e = JSON.parse(line) as ChildEvent;
      } catch {
        progress.log(line);
        return;
      }
      if (e.type === 'run') onProgress = progress.start(`${e.label}, ${cores(cpus.length)}`, e.seconds);
      else if (e.type === 'progress') onProgress(e.fraction);
      else progress.log(e.line);
    });
    const code = await new Promise<number | null>((resolve, reject) => {
      child.once('error', reject);
      child.once('exit', (c, signal) => resolve(signal === null ? c : null));
    });
    forget();
    if (code !== 0) throw new Error(`the run limited to ${cores(cpus.length)} failed (exit ${code})`);
    return JSON.parse(readFileSync(outPath, 'utf8')) as RunResult[];
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

/**
 * throughputBench runs the benchmark of `o` and writes its results; resolves
 * with the exit code.
 */
export async function throughputBench(o: ThroughputOptions, io: Io): Promise<number> {
  const startedAt = new Date().toISOString();
  const m = machine();
  const available = availableCores();
  let counts: number[] = [];
  let note: string | null = null;
  let cpus: number[] | null = null;
  if (o.cores === 'off') note = '--cores off: every run used the cores of the process, not limited';
  else {
    counts = coreCounts(o.cores, available);
    cpus = affinityCpus();
    if (cpus === null) {
      note = `taskset (util-linux) is not available here, so the process cannot be limited to fewer cores: every run used all ${available} cores and there is no throughput-vs-cores scaling`;
      counts = [];
    } else if (cpus.length < available) {
      counts = counts.filter((k) => k <= cpus!.length);
    }
  }
  if (note !== null && o.cores !== 'off') io.err.write(`note: ${note}\n`);

  const configs = expand(o);
  const passes = counts.length === 0 ? 1 : counts.length;
  const totalS = passes * configs.reduce((s, c) => s + runSeconds(c), 0);
  io.err.write(
    `xraft bench: ${configs.length} run${configs.length === 1 ? '' : 's'}${counts.length > 0 ? ` x ${counts.length} core counts (${counts.join(', ')})` : ''}, about ${Math.ceil(totalS)} s — ${describeMachine(m)}\n`,
  );
  const progress = new Progress(io, configs.length * passes, totalS);
  let runs: RunResult[] = [];
  try {
    if (counts.length === 0) {
      runs = await runAll(
        configs,
        null,
        (c) => progress.start(configLabel(c), runSeconds(c)),
        (line) => progress.log(line),
      );
    } else {
      for (const k of counts) runs.push(...(await runChild(o, cpus!.slice(0, k), progress)));
    }
  } finally {
    progress.stop();
  }

  const out = resolve(o.out);
  mkdirSync(out, { recursive: true });
  const scalingRows = scaling(runs);
  const files = await writeCharts(out, runs, scalingRows);
  const text = [
    `xraft bench — ${describeMachine(m)}`,
    ...runs.map((r, i) => runTable(r, i, runs.length)),
    ...(busiest(runs) >= BUSY_MACHINE_PERCENT
      ? [
          `note: other processes used up to ${busiest(runs).toFixed(0)} % of a core during the measurements: this machine was shared, so the figures are disturbed (more so at fewer cores); rerun on a quiet machine`,
        ]
      : []),
    ...(runs.some(clientBound)
      ? [
          `note: in ${runs.filter(clientBound).length} run(s) a load-generator thread was busy over ${Math.round(BUSY_GENERATOR * 100)} % of the window: the client side may have limited throughput there (more --generators, if there are cores to spare)`,
        ]
      : []),
    'summary',
    summaryTable(runs),
    ...(scalingRows.length > 0 && counts.length > 1
      ? ['throughput by core count (x: ratio to the fewest cores)', scalingTable(scalingRows)]
      : []),
    ...(note === null ? [] : [`note: ${note}`]),
    'RSS is the whole process: the node workers, the load generators and the main thread share it.',
  ].join('\n\n');
  writeFileSync(join(out, 'report.txt'), `${text}\n`);
  files.push('report.txt');
  const results: ThroughputResults = {
    schema: RESULTS_SCHEMA,
    kind: 'throughput',
    startedAt,
    finishedAt: new Date().toISOString(),
    machine: m,
    argv: process.argv.slice(2),
    options: o,
    coreScan: { requested: o.cores, counts, note },
    runs,
    scaling: scalingRows,
    files,
  };
  writeFileSync(join(out, 'results.json'), `${JSON.stringify(results, null, 2)}\n`);
  io.out.write(`${text}\n\nresults: ${join(out, 'results.json')} (with ${files.join(', ')})\n`);
  return 0;
}

/** writeCharts draws the SVG charts of `runs` into `dir`; returns the file names. */
async function writeCharts(dir: string, runs: readonly RunResult[], rows: readonly ScalingRow[]) {
  const files: string[] = [];
  const multiCore = new Set(runs.map((r) => r.cores)).size > 1;
  const series = (r: RunResult) =>
    `${configLabel(r.config, { clients: false })}${multiCore && r.cores !== null ? `, ${cores(r.cores)}` : ''}`;
  const write = async (name: string, svg: Promise<string>) => {
    writeFileSync(join(dir, name), await svg);
    files.push(name);
  };
  await write(
    'throughput-vs-clients.svg',
    renderSvg(
      lineChart({
        title: 'Throughput vs clients',
        x: 'clients (independent KvClient sessions)',
        y: 'ops/s',
        logX: true,
        series: 'run',
        points: runs.map((r) => ({ x: r.config.clients, y: r.throughput.opsPerSec, series: series(r) })),
      }),
    ),
  );
  const percentiles = [
    ['p50', 'p50'],
    ['p90', 'p90'],
    ['p99', 'p99'],
    ['p99.9', 'p999'],
  ] as const;
  const latencyPoints = runs.flatMap((r) =>
    percentiles.map(([name, field]) => ({
      x: r.config.clients,
      y: Math.max(0.001, r.latencyMs[field]),
      series: name,
      run: series(r),
    })),
  );
  await write(
    'latency.svg',
    renderSvg(
      lineChart({
        title: 'Latency percentiles vs clients (ms, log scale)',
        x: 'clients',
        y: 'latency (ms)',
        logX: true,
        logY: true,
        series: 'percentile',
        points: latencyPoints,
        facet: { field: 'run', title: 'run', values: latencyPoints },
      }),
    ),
  );
  if (rows.some((row) => row.points.length > 1)) {
    await write(
      'throughput-vs-cores.svg',
      renderSvg(
        lineChart({
          title: 'Throughput vs cores (process limited by taskset)',
          x: 'cores',
          y: 'ops/s',
          series: 'run',
          points: rows.flatMap((row) =>
            row.points.map((p) => ({ x: p.cores, y: p.opsPerSec, series: row.label })),
          ),
        }),
      ),
    );
  }
  return files;
}
