#!/usr/bin/env node
/**
 * `pnpm bench`: throughput and latency of a real xraft cluster on worker
 * threads through KvClient (the default command), leader failover
 * (`failover`), and the core microbenchmark (`core`). Usage errors exit 2.
 */
import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { Command, Option } from 'commander';
import {
  parseChoice,
  parseCores,
  parseFraction,
  parseIntIn,
  parseList,
  parseNonNegative,
  parsePositive,
  QUICK,
  STORAGES,
  type StorageKind,
  type ThroughputOptions,
  WORKLOADS,
  type Workload,
} from './options.js';

const io = { out: process.stdout, err: process.stderr };

const program = new Command('xraft-bench')
  .description(
    'Benchmark a real xraft cluster on worker threads through KvClient: throughput and latency percentiles over a matrix of workloads, value sizes, clients, cluster sizes and storage, repeated under 1, 2, … cores; or leader failover.',
  )
  .showHelpAfterError('(run with --help for usage)')
  .addHelpText('after', '\nThe default command is run: `xraft-bench run --help` lists its flags.')
  .exitOverride((err) => process.exit(err.exitCode === 0 ? 0 : 2));

program
  .command('run', { isDefault: true })
  .description(
    'throughput/latency: every combination of the list flags is one run on a fresh cluster (the default command)',
  )
  .addOption(
    new Option('--workload <list>', 'put, get (linearizable) or mixed (gets at --read-ratio)')
      .default(['put'], 'put')
      .argParser(parseList(parseChoice(WORKLOADS))),
  )
  .addOption(
    new Option('--read-ratio <r>', 'fraction of gets in the mixed workload')
      .default(0.9)
      .argParser(parseFraction),
  )
  .addOption(
    new Option('--value <bytes>', 'value sizes in bytes (comma list)')
      .default([100], '100')
      .argParser(parseList(parseIntIn(1, 1 << 20))),
  )
  .addOption(
    new Option(
      '--clients <list>',
      'client sessions: independent KvClients, one operation outstanding each (closed loop)',
    )
      .default([1, 16, 64, 256, 1024], '1,16,64,256,1024')
      .argParser(parseList(parseIntIn(1, 100_000))),
  )
  .addOption(
    new Option('--nodes <list>', 'cluster sizes').default([3], '3').argParser(parseList(parseIntIn(1, 9))),
  )
  .addOption(
    new Option('--storage <list>', 'disk (DiskStorage, fdatasync) or memory')
      .default(['disk'], 'disk')
      .argParser(parseList(parseChoice(STORAGES))),
  )
  .addOption(
    new Option(
      '--rate <list>',
      'open loop: target ops/s over all clients (comma list); latency counts from when each operation was due. Default: closed loop',
    ).argParser(parseList(parsePositive)),
  )
  .addOption(new Option('--duration <s>', 'measured seconds of each run').default(5).argParser(parsePositive))
  .addOption(
    new Option('--warmup <s>', 'seconds of load before measuring').default(2).argParser(parseNonNegative),
  )
  .addOption(
    new Option('--keys <n>', 'distinct keys the operations draw from')
      .default(1000)
      .argParser(parseIntIn(1, 1_000_000)),
  )
  .addOption(
    new Option(
      '--generators <n>',
      'load-generator threads (piscina), or auto: a quarter of the cores, at least 1, at most one per client',
    )
      .default('auto' as const)
      .argParser((v) => (v === 'auto' ? ('auto' as const) : parseIntIn(1, 256)(v))),
  )
  .addOption(
    new Option('--timeout <ms>', 'timeout of each KvClient call')
      .default(10_000)
      .argParser(parseIntIn(1, 600_000)),
  )
  .addOption(
    new Option(
      '--cores <list>',
      'repeat every run with the process limited (taskset) to each core count: all (1, 2, 4, … and every core), a comma list, or off',
    )
      .default('all' as const)
      .argParser(parseCores),
  )
  .option('--out <dir>', 'directory of the results (default bench-results/<timestamp>)')
  .option(
    '--quick',
    `a small matrix as a smoke check, under a minute: ${QUICK.workloads.join(',')}, ${QUICK.values.join(',')} B, ${QUICK.clients.join(',')} clients, ${QUICK.nodes.join(',')} nodes, ${QUICK.storages.join(',')}, ${QUICK.durationS} s after ${QUICK.warmupS} s (flags given still win)`,
    false,
  )
  .action(async (opts, cmd: Command) => {
    const given = (name: string) => cmd.getOptionValueSource(name) === 'cli';
    const quick = opts.quick === true;
    const pick = <T>(name: string, value: T, quickValue: T): T =>
      quick && !given(name) ? quickValue : value;
    const { defaultOutDir, throughputBench } = await import('./bench.js');
    const o: ThroughputOptions = {
      workloads: pick('workload', opts.workload as Workload[], QUICK.workloads),
      readRatio: opts.readRatio,
      values: pick('value', opts.value as number[], QUICK.values),
      clients: pick('clients', opts.clients as number[], QUICK.clients),
      nodes: pick('nodes', opts.nodes as number[], QUICK.nodes),
      storages: pick('storage', opts.storage as StorageKind[], QUICK.storages),
      rates: (opts.rate as number[] | undefined) ?? null,
      durationS: pick('duration', opts.duration as number, QUICK.durationS),
      warmupS: pick('warmup', opts.warmup as number, QUICK.warmupS),
      keys: opts.keys,
      generators: opts.generators,
      timeoutMs: opts.timeout,
      cores: opts.cores,
      out: opts.out ?? defaultOutDir(),
      quick,
    };
    try {
      process.exitCode = await throughputBench(o, io);
    } catch (err) {
      console.error(`xraft bench: ${(err as Error).message}`);
      process.exitCode = err instanceof RangeError ? 2 : 1;
    }
  });

program
  .command('failover')
  .description(
    "leader failover under load: kill the leader's worker, time a new leader's first commit, the longest gap clients see without a successful put, and the killed node's catch-up; median/p90/max over the trials",
  )
  .addOption(new Option('--trials <n>', 'kills to measure').default(10).argParser(parseIntIn(1, 10_000)))
  .addOption(new Option('--nodes <n>', 'cluster size').default(5).argParser(parseIntIn(3, 9)))
  .addOption(
    new Option('--storage <kind>', 'disk or memory')
      .default('disk' as const)
      .argParser(parseChoice(STORAGES)),
  )
  .addOption(
    new Option('--clients <n>', 'KvClient sessions putting in a closed loop')
      .default(16)
      .argParser(parseIntIn(1, 10_000)),
  )
  .addOption(new Option('--value <bytes>', 'value size').default(100).argParser(parseIntIn(1, 1 << 20)))
  .addOption(
    new Option('--kill <how>', "how the leader's worker dies (Cluster.kill)")
      .default('exit' as const)
      .argParser(parseChoice(['exit', 'throw', 'rejection', 'terminate'] as const)),
  )
  .addOption(
    new Option('--settle <ms>', 'load under each new leader before killing it')
      .default(300)
      .argParser(parseIntIn(0, 600_000)),
  )
  .option('--out <dir>', 'directory of the results (default bench-results/<timestamp>)')
  .action(async (opts) => {
    const { defaultOutDir } = await import('./bench.js');
    const { failoverBench } = await import('./failover.js');
    try {
      process.exitCode = await failoverBench(
        {
          trials: opts.trials,
          nodes: opts.nodes,
          storage: opts.storage,
          clients: opts.clients,
          valueBytes: opts.value,
          kill: opts.kill,
          settleMs: opts.settle,
          out: opts.out ?? defaultOutDir(),
        },
        io,
      );
    } catch (err) {
      console.error(`xraft bench failover: ${(err as Error).message}`);
      process.exitCode = 1;
    }
  });

program
  .command('core')
  .description(
    'the core microbenchmark: XState events/s and committed entries/s through @xraft/core in one thread (packages/core/bench/throughput.mjs)',
  )
  .action(() => {
    const script = fileURLToPath(new URL('../../../packages/core/bench/throughput.mjs', import.meta.url));
    if (!existsSync(script)) {
      console.error(`xraft bench core: ${script} not found (it lives in the xraft repository)`);
      process.exitCode = 2;
      return;
    }
    const r = spawnSync(process.execPath, [script], { stdio: 'inherit' });
    process.exitCode = r.status ?? 1;
  });

// The core-limited child of a run with --cores: not for direct use.
program
  .command('__child', { hidden: true })
  .argument('<spec>')
  .argument('<out>')
  .action(async (spec: string, out: string) => {
    const { childMain } = await import('./bench.js');
    await childMain(spec, out);
  });

await program.parseAsync(process.argv);
