#!/usr/bin/env node
import { realpathSync } from 'node:fs';
import { availableParallelism } from 'node:os';
import { fileURLToPath } from 'node:url';
import cliProgress from 'cli-progress';
import { Command, CommanderError, InvalidArgumentError, Option } from 'commander';
import pc from 'picocolors';
import { Piscina } from 'piscina';
import { FAULTS_OPTIONS, type FaultsOption } from './faults.js';
import { DEFAULT_KV_WORKLOAD } from './kv-workload.js';
import { MAX_NODES, type RunSeedOptions, runSeed, type SimResult } from './simulation.js';
import { formatTime } from './trace.js';
import { addBatchResult, type BatchResult, type BatchTask, emptyBatchResult } from './worker.js';

/** CliOptions are the parsed flags of `pnpm sim`. */
export interface CliOptions {
  /** Number of seeds to run (ignored with `seed`). */
  readonly seeds: number;
  /** First seed of the range. */
  readonly start: number;
  /** Replay this one seed in-process, instead of a range. */
  readonly seed: number | undefined;
  readonly nodes: number;
  readonly faults: FaultsOption;
  /** Virtual seconds of faults and traffic. */
  readonly duration: number;
  /** Virtual seconds the healed cluster has to recover. */
  readonly livenessTimeout: number;
  readonly varyConfig: boolean;
  /** Check the rules of Figure 2 directly, not only the safety properties. */
  readonly rules: boolean;
  /** The client traffic: `ops` (opaque commands and reads) or `kv` (the KV store, its clients, the history check). */
  readonly workload: WorkloadKind;
  /** KV clients (with `--workload kv`). */
  readonly clients: number;
  readonly workers: number;
  readonly checkDeterminism: boolean;
  /** Print the whole trace of a replayed seed. */
  readonly trace: boolean;
  readonly traceLines: number;
  /** Failures printed in detail. */
  readonly show: number;
  readonly progress: boolean;
  readonly json: boolean;
}

/** WorkloadKind names the client traffic of `pnpm sim --workload`. */
export type WorkloadKind = 'ops' | 'kv';

/** WORKLOAD_KINDS lists the accepted values of `--workload`. */
export const WORKLOAD_KINDS: readonly WorkloadKind[] = ['ops', 'kv'];

/** CliIO is where the CLI writes; tests capture it. */
export interface CliIO {
  out(text: string): void;
  err(text: string): void;
  /** Whether to draw a progress bar (a terminal on stderr). */
  readonly tty: boolean;
}

const DEFAULT_IO: CliIO = {
  out: (t) => process.stdout.write(t),
  err: (t) => process.stderr.write(t),
  tty: process.stderr.isTTY === true,
};

function integer(name: string, min: number, max: number) {
  return (value: string): number => {
    const n = Number(value);
    if (!/^\d+$/.test(value.trim()) || !Number.isSafeInteger(n) || n < min || n > max) {
      throw new InvalidArgumentError(`${name} must be an integer from ${min} to ${max}, got "${value}".`);
    }
    return n;
  };
}

function seconds(name: string, min: number) {
  return (value: string): number => {
    const n = Number(value);
    if (value.trim() === '' || !Number.isFinite(n) || n < min || n > 3600) {
      throw new InvalidArgumentError(
        `${name} must be a number of virtual seconds from ${min} to 3600, got "${value}".`,
      );
    }
    return n;
  };
}

/** buildCommand declares the flags of `pnpm sim`. */
export function buildCommand(): Command {
  return new Command('sim')
    .description(
      'Run whole xraft clusters of the real @xraft/core in virtual time, with seeded faults and invariant monitors.',
    )
    .addOption(
      new Option('--seeds <n>', 'number of seeds to run')
        .argParser(integer('--seeds', 1, 10_000_000))
        .default(100),
    )
    .addOption(
      new Option('--start <s>', 'first seed of the range')
        .argParser(integer('--start', 0, 0xffffffff))
        .default(1),
    )
    .addOption(
      new Option('--seed <s>', 'replay one seed in this process').argParser(integer('--seed', 0, 0xffffffff)),
    )
    .addOption(
      new Option('--nodes <k>', `cluster size, 1 to ${MAX_NODES}`)
        .argParser(integer('--nodes', 1, MAX_NODES))
        .default(5),
    )
    .addOption(new Option('--faults <profile>', 'fault intensity').choices(FAULTS_OPTIONS).default('mixed'))
    .addOption(
      new Option('--duration <seconds>', 'virtual seconds of faults and client traffic per seed')
        .argParser(seconds('--duration', 0))
        .default(10),
    )
    .addOption(
      new Option(
        '--liveness-timeout <seconds>',
        'virtual seconds a healed cluster has to elect a leader and commit',
      )
        .argParser(seconds('--liveness-timeout', 0.001))
        .default(10),
    )
    .addOption(
      new Option(
        '--workload <kind>',
        'client traffic: ops (opaque commands, reads checked by the read monitor) or kv (the KV store and its clients, each history checked for linearizability and exactly-once)',
      )
        .choices(WORKLOAD_KINDS)
        .default('ops'),
    )
    .addOption(
      new Option('--clients <n>', 'concurrent KV clients (with --workload kv)')
        .argParser(integer('--clients', 1, 100))
        .default(DEFAULT_KV_WORKLOAD.clients),
    )
    .option(
      '--no-vary-config',
      'use the core defaults instead of drawing PreVote/CheckQuorum/flow control per seed',
    )
    .option(
      '--no-rules',
      'check only the five safety properties, monotonicity and liveness, not the Figure 2 rules',
    )
    .addOption(
      new Option('--workers <n>', 'worker threads')
        .argParser(integer('--workers', 1, 256))
        .default(availableParallelism()),
    )
    .option('--check-determinism', 'run every seed twice and compare the traces', false)
    .option('--trace', 'with --seed: print the whole trace', false)
    .addOption(
      new Option('--trace-lines <n>', 'trace lines printed per failure')
        .argParser(integer('--trace-lines', 0, 1_000_000))
        .default(40),
    )
    .addOption(
      new Option('--show <n>', 'failures printed in detail')
        .argParser(integer('--show', 0, 1_000_000))
        .default(3),
    )
    .option('--no-progress', 'no progress bar')
    .option('--json', 'print the summary as JSON', false)
    .allowExcessArguments(false)
    .exitOverride()
    .configureOutput({ writeOut: () => {}, writeErr: () => {} });
}

/** parseArgs parses the flags (without `node` and the script); throws a CommanderError on bad input. */
export function parseArgs(argv: readonly string[]): CliOptions {
  const cmd = buildCommand();
  cmd.parse(argv as string[], { from: 'user' });
  const o = cmd.opts();
  return {
    seeds: o.seeds,
    start: o.start,
    seed: o.seed,
    nodes: o.nodes,
    faults: o.faults,
    duration: o.duration,
    livenessTimeout: o.livenessTimeout,
    varyConfig: o.varyConfig,
    rules: o.rules,
    workload: o.workload,
    clients: o.clients,
    workers: o.workers,
    checkDeterminism: o.checkDeterminism,
    trace: o.trace,
    traceLines: o.traceLines,
    show: o.show,
    progress: o.progress,
    json: o.json,
  };
}

/** simOptions turns CLI flags into the options of {@link runSeed}. */
export function simOptions(o: CliOptions): Omit<RunSeedOptions, 'onEvent'> {
  return {
    nodes: o.nodes,
    faults: o.faults,
    durationMs: o.duration * 1000,
    livenessTimeoutMs: o.livenessTimeout * 1000,
    varyConfig: o.varyConfig,
    rules: o.rules,
    traceLines: o.traceLines,
    checkDeterminism: o.checkDeterminism,
    ...(o.workload === 'kv' ? { kv: { clients: o.clients } } : {}),
  };
}

/** replayCommand is the exact command that replays one seed alone, with its trace. */
export function replayCommand(seed: number, o: CliOptions): string {
  const parts = [
    'pnpm sim',
    `--seed ${seed}`,
    `--nodes ${o.nodes}`,
    `--faults ${o.faults}`,
    `--duration ${o.duration}`,
  ];
  if (o.livenessTimeout !== 10) parts.push(`--liveness-timeout ${o.livenessTimeout}`);
  if (!o.varyConfig) parts.push('--no-vary-config');
  if (!o.rules) parts.push('--no-rules');
  if (o.workload !== 'ops') parts.push(`--workload ${o.workload}`);
  if (o.workload === 'kv' && o.clients !== DEFAULT_KV_WORKLOAD.clients) parts.push(`--clients ${o.clients}`);
  if (o.checkDeterminism) parts.push('--check-determinism');
  parts.push('--trace');
  return parts.join(' ');
}

const fmt = (n: number) => Math.round(n).toLocaleString('en-US');

function printFailure(io: CliIO, r: SimResult, o: CliOptions, lines: number): void {
  const v = r.violations[0]!;
  io.out(
    `\n${pc.red(pc.bold(`✗ seed ${r.seed}`))} (${r.options.nodes} nodes, faults ${r.options.profile}) ${pc.red(v.property)} at ${formatTime(v.time)}${v.node ? ` on ${v.node}` : ''}\n`,
  );
  for (const x of r.violations.slice(0, 5))
    io.out(`  ${pc.red(x.property)}: ${x.message.replaceAll('\n', '\n    ')}\n`);
  if (r.violations.length > 5) io.out(`  … and ${r.violations.length - 5} more\n`);
  io.out(`  replay: ${pc.cyan(replayCommand(r.seed, o))}\n`);
  const trace = lines > 0 ? r.trace.slice(-lines) : [];
  if (trace.length > 0) {
    io.out(pc.dim(`  last ${trace.length} events:\n`));
    for (const line of trace) io.out(`  ${colorLine(line)}\n`);
  }
}

function illegalText(n: number): string {
  return n === 0 ? pc.green('0') : pc.red(pc.bold(fmt(n)));
}

function colorLine(line: string): string {
  if (line.includes('VIOLATION')) return pc.red(line);
  if (/became leader|crashed|restarted|partition|paused|storm|healed|link /.test(line))
    return pc.yellow(line);
  if (line.includes('committed up to')) return pc.green(line);
  return line;
}

/** replay runs one seed in this process and prints its outcome (the whole trace with --trace). */
function replay(io: CliIO, o: CliOptions): number {
  const seed = o.seed!;
  const t0 = performance.now();
  const r = runSeed(seed, {
    ...simOptions(o),
    keepTrace: o.trace,
    traceCapacity: o.trace ? 10_000_000 : Math.max(2000, o.traceLines),
    traceLines: o.trace ? 10_000_000 : o.traceLines,
  });
  const wall = (performance.now() - t0) / 1000;
  if (o.json) {
    io.out(`${JSON.stringify(r, null, 2)}\n`);
    return r.ok ? 0 : 1;
  }
  if (o.trace) for (const line of r.trace) io.out(`${colorLine(line)}\n`);
  const s = r.stats;
  io.out(
    `\nseed ${seed}: ${r.options.nodes} nodes, faults ${r.options.profile}, preVote=${r.options.raft.preVote ?? true} checkQuorum=${r.options.raft.checkQuorum ?? true} maxClockDriftMs=${r.options.raft.maxClockDriftMs ?? null}\n` +
      `  ${(s.virtualMs / 1000).toFixed(1)} virtual s in ${wall.toFixed(2)} s; ${fmt(s.steps)} steps, ${fmt(s.coreEvents)} core events, ${s.elections} elections, ${s.committed} committed, ${s.faults.crashes} crashes, ${s.faults.partitions} partitions, ${s.faults.pauses} pauses\n` +
      `  reads: ${s.reads.issued} sent, ${s.reads.served} served and checked (${s.reads.leased} by lease), ${s.reads.refused} refused, ${s.reads.unanswered} unanswered\n` +
      `  recovery after heal: ${s.recoveryMs >= 0 ? `${s.recoveryMs.toFixed(1)} ms` : 'n/a'}; trace hash 0x${r.traceHash.toString(16).padStart(8, '0')}\n`,
  );
  const k = s.kv;
  if (k !== null) {
    const c = r.kvCheck;
    io.out(
      `  kv: ${fmt(k.calls)} calls by ${k.clients} clients: ${fmt(k.ok)} ok, ${fmt(k.failed)} failed (not applied), ${fmt(k.unknown)} unknown; ${fmt(k.appendsOk)} appends acknowledged, ${fmt(k.appendsUnknown)} unknown; ${fmt(k.requests)} requests, ${fmt(k.registrations)} sessions; ${fmt(k.messages)} client messages, ${fmt(k.lost)} lost, ${fmt(k.duplicated)} duplicated\n` +
        `  kv history: ${c === null ? 'not checked (the run stopped first)' : `${fmt(c.ops)} operations over ${c.partitions} keys: ${c.verdict === 'unknown' ? 'unknown (the check ran out of its budget)' : c.verdict} in ${c.ms.toFixed(1)} ms (${fmt(c.steps)} steps)`}\n`,
    );
  }
  if (r.ok) {
    io.out(pc.green('  no violations\n'));
    return 0;
  }
  printFailure(io, r, o, o.trace ? 0 : o.traceLines);
  return 1;
}

/** sweep fans a range of seeds out over worker threads and prints a summary. */
async function sweep(io: CliIO, o: CliOptions): Promise<number> {
  const workers = Math.min(o.workers, o.seeds);
  const chunk = Math.max(1, Math.min(25, Math.ceil(o.seeds / (workers * 16))));
  if (!o.json) {
    io.out(
      `xraft sim: ${fmt(o.seeds)} seeds (${o.start}..${o.start + o.seeds - 1}), ${o.nodes} nodes, faults ${o.faults}, ${o.duration} virtual s each, workload ${o.workload === 'kv' ? `kv (${o.clients} clients)` : 'ops'}, ${workers} worker${workers === 1 ? '' : 's'}${o.checkDeterminism ? ', determinism check' : ''}\n`,
    );
  }
  const pool = new Piscina<BatchTask, BatchResult>({
    filename: new URL('./worker.js', import.meta.url).href,
    minThreads: workers,
    maxThreads: workers,
    resourceLimits: { maxYoungGenerationSizeMb: 64 },
  });
  const bar =
    o.progress && io.tty && !o.json
      ? new cliProgress.SingleBar(
          {
            format:
              ' {bar} {percentage}% | {value}/{total} seeds | {rate} seeds/s | violations: {violations}',
            stream: process.stderr,
            hideCursor: true,
            clearOnComplete: true,
          },
          cliProgress.Presets.shades_classic,
        )
      : null;
  const total = emptyBatchResult();
  const t0 = performance.now();
  bar?.start(o.seeds, 0, { rate: '0', violations: 0 });
  const options = simOptions(o);
  const tasks: Promise<void>[] = [];
  try {
    for (let first = o.start; first < o.start + o.seeds; first += chunk) {
      const seeds: number[] = [];
      for (let s = first; s < Math.min(first + chunk, o.start + o.seeds); s++) seeds.push(s);
      tasks.push(
        pool.run({ seeds, options }).then((b) => {
          addBatchResult(total, b);
          const rate = total.seeds / ((performance.now() - t0) / 1000);
          bar?.update(total.seeds, { rate: rate.toFixed(1), violations: total.failures.length });
        }),
      );
    }
    await Promise.all(tasks);
  } finally {
    bar?.stop();
    await pool.destroy();
  }
  const wall = (performance.now() - t0) / 1000;
  total.failures.sort((a, b) => a.seed - b.seed);
  if (o.json) {
    io.out(
      `${JSON.stringify({ ...total, wallSeconds: wall, seedsPerSecond: total.seeds / wall }, null, 2)}\n`,
    );
    return total.failures.length === 0 ? 0 : 1;
  }
  const line = (k: string, v: string) => io.out(`  ${pc.dim(k.padEnd(11))}${v}\n`);
  io.out('\n');
  line(
    'seeds',
    `${fmt(total.seeds)} in ${wall.toFixed(1)} s: ${pc.bold((total.seeds / wall).toFixed(1))} seeds/s`,
  );
  line(
    'profiles',
    Object.entries(total.profiles)
      .filter(([, n]) => n > 0)
      .map(([k, n]) => `${k} ${fmt(n)}`)
      .join(', '),
  );
  line(
    'virtual',
    `${fmt(total.virtualMs / 1000)} s simulated (${fmt(total.virtualMs / 1000 / wall)}x real time)`,
  );
  line(
    'steps',
    `${fmt(total.steps)} (${fmt(total.steps / wall)}/s); core events ${fmt(total.coreEvents)} (${fmt(total.coreEvents / wall)}/s)`,
  );
  line('elections', fmt(total.elections));
  line('commits', `${fmt(total.committed)} entries; ${fmt(total.writes)} disk writes`);
  line(
    'snapshots',
    `${fmt(total.snapshotsTaken)} taken (${fmt(total.snapshotsPastOwnWrite)} past the node's own write in flight), ${fmt(total.snapshotsInstalled)} installed from a leader`,
  );
  line(
    'reads',
    `${fmt(total.reads)} sent: ${fmt(total.readsServed)} served and checked (${fmt(total.readsLeased)} by lease), ${fmt(total.readsRefused)} refused, ${fmt(total.reads - total.readsServed - total.readsRefused)} unanswered`,
  );
  if (total.kvSeeds > 0) {
    line(
      'kv',
      `${fmt(total.kvCalls)} calls (${fmt(total.kvCalls / total.kvSeeds)} per seed): ${fmt(total.kvOk)} ok, ${fmt(total.kvFailed)} failed, ${fmt(total.kvUnknown)} unknown`,
    );
    line(
      'kv check',
      `${fmt(total.kvChecked)} operations checked (${fmt(total.kvChecked / total.kvSeeds)} per seed): ${illegalText(total.kvIllegal)} illegal, ${fmt(total.kvUndecided)} unknown (check budget ran out), ${illegalText(total.kvExactlyOnce)} exactly-once violations; check time ${(total.kvCheckMs / 1000).toFixed(2)} s, ${(total.kvCheckMs / total.kvSeeds).toFixed(1)} ms per seed, max ${total.kvMaxCheckMs.toFixed(0)} ms`,
    );
  }
  line('messages', `${fmt(total.messages)} sent, ${fmt(total.dropped)} lost`);
  line(
    'faults',
    `${fmt(total.crashes)} crashes, ${fmt(total.partitions)} partitions, ${fmt(total.pauses)} pauses; slowest recovery ${total.maxRecoveryMs.toFixed(0)} virtual ms`,
  );
  const failed = total.failures.length;
  line('violations', failed === 0 ? pc.green('0') : pc.red(pc.bold(String(failed))));
  for (const r of total.failures.slice(0, o.show)) printFailure(io, r, o, o.traceLines);
  if (failed > o.show) {
    io.out(
      `\n${failed - o.show} more failing seeds: ${total.failures
        .slice(o.show)
        .map((r) => r.seed)
        .join(' ')}\n`,
    );
  }
  return failed === 0 ? 0 : 1;
}

/**
 * main runs `pnpm sim` with the given flags and returns the exit code: 0 when
 * every seed passed, 1 when some seed broke an invariant, 2 on bad flags.
 */
export async function main(
  argv: readonly string[] = process.argv.slice(2),
  io: CliIO = DEFAULT_IO,
): Promise<number> {
  let o: CliOptions;
  try {
    o = parseArgs(argv);
  } catch (err) {
    if (err instanceof CommanderError) {
      if (err.code === 'commander.helpDisplayed' || err.code === 'commander.version') {
        io.out(buildCommand().helpInformation());
        return 0;
      }
      io.err(`${err.message.replace(/^error: /, 'sim: ')}\nRun "pnpm sim --help" for the flags.\n`);
      return 2;
    }
    throw err;
  }
  if (o.seed !== undefined && argv.some((a) => a === '--seeds' || a.startsWith('--seeds='))) {
    io.err('sim: --seed replays one seed and --seeds runs a range; use one of them.\n');
    return 2;
  }
  return o.seed !== undefined ? replay(io, o) : sweep(io, o);
}

function isMain(): boolean {
  const entry = process.argv[1];
  if (!entry) return false;
  try {
    return realpathSync(entry) === realpathSync(fileURLToPath(import.meta.url));
  } catch {
    return false;
  }
}

if (isMain()) {
  main().then(
    (code) => {
      process.exitCode = code;
    },
    (err: unknown) => {
      process.stderr.write(`sim: ${(err as Error)?.stack ?? String(err)}\n`);
      process.exitCode = 2;
    },
  );
}
