#!/usr/bin/env node
import { Command, InvalidArgumentError, Option } from 'commander';
import type { DiagramFormat } from './diagram.js';
import { DEFAULT_HTTP_PORT, DEFAULT_MAX_BODY_BYTES } from './http/defaults.js';
import { addKvCommand } from './kv-cli.js';

// Commands load their modules when they run, so `xraft kv` starts fast.

/** parseInteger is a commander parser for integers within [min, max], with a clear error otherwise. */
export function parseInteger(min: number, max: number) {
  return (value: string): number => {
    const n = Number(value);
    if (!Number.isInteger(n) || n < min || n > max) {
      throw new InvalidArgumentError(`expected an integer from ${min} to ${max}, got "${value}"`);
    }
    return n;
  };
}

/** parseNonNegative is a commander parser for a number >= 0, with a clear error otherwise. */
export function parseNonNegative(value: string): number {
  const n = Number(value);
  if (!Number.isFinite(n) || n < 0 || value.trim() === '')
    throw new InvalidArgumentError(`expected a number >= 0, got "${value}"`);
  return n;
}

/** parsePositive is a commander parser for a positive number, with a clear error otherwise. */
export function parsePositive(value: string): number {
  const n = Number(value);
  if (!Number.isFinite(n) || n <= 0)
    throw new InvalidArgumentError(`expected a positive number, got "${value}"`);
  return n;
}

const program = new Command('xraft')
  .description('Raft consensus as XState actors: run a cluster and watch it work.')
  .showHelpAfterError('(run with --help for usage)')
  .exitOverride((err) => process.exit(err.exitCode === 0 ? 0 : 2));

program
  .command('start')
  .description(
    'run a Raft cluster: one worker thread per node, disk storage, the KV store over HTTP, a live status table, and the supervisor restarting crashed workers',
  )
  .addOption(new Option('--nodes <n>', 'servers in the cluster').default(5).argParser(parseInteger(1, 9)))
  .option(
    '--data-dir <dir>',
    'where each node keeps its log (<dir>/<nodeId>/); reused on the next start',
    'xraft-data',
  )
  .addOption(
    new Option('--storage <kind>', 'durable or in-memory logs').choices(['disk', 'memory']).default('disk'),
  )
  .addOption(
    new Option('--chaos [victim]', "crash a worker every few seconds: any live one, or always the leader's")
      .choices(['any', 'leader'])
      .preset('any'),
  )
  .addOption(
    new Option('--chaos-interval <s>', 'seconds between chaos crashes').default(3).argParser(parsePositive),
  )
  .addOption(
    new Option(
      '--rate <n>',
      'appends per second through a KV client, each read back to check it applied exactly once (0: no load)',
    )
      .default(20)
      .argParser(parseNonNegative),
  )
  .addOption(
    new Option('--http <port>', 'serve the KV store over HTTP on 127.0.0.1 (0: a free port)')
      .default(DEFAULT_HTTP_PORT)
      .argParser(parseInteger(0, 65535)),
  )
  .option('--no-http', 'do not serve the KV store over HTTP')
  .addOption(
    new Option('--http-max-body <bytes>', 'largest HTTP request body accepted (larger: 413)')
      .default(DEFAULT_MAX_BODY_BYTES)
      .argParser(parseInteger(1, 2 ** 30)),
  )
  .addOption(new Option('--duration <s>', 'stop by itself after this many seconds').argParser(parsePositive))
  .addOption(
    new Option('--inspect [port]', 'serve the XState inspector bridge on 127.0.0.1 (default port 8080)')
      .preset(8080)
      .argParser(parseInteger(0, 65535)),
  )
  .option(
    '--diagrams <dir>',
    "keep each node's statechart drawn in <dir>/<node>.svg, current state highlighted",
  )
  .addOption(
    new Option(
      '--max-clock-drift <ms>',
      'bound on clock drift between nodes over an election timeout; enables lease reads (GET /kv/:key?read=lease) under it',
    ).argParser(parseInteger(0, 149)),
  )
  .action(
    async (opts: {
      maxClockDrift?: number;
      nodes: number;
      dataDir: string;
      storage: 'disk' | 'memory';
      chaos?: 'any' | 'leader';
      chaosInterval: number;
      rate: number;
      http: number | false;
      httpMaxBody: number;
      duration?: number;
      inspect?: number;
      diagrams?: string;
    }) => {
      try {
        const { run } = await import('./run.js');
        process.exitCode = await run({
          nodes: opts.nodes,
          dataDir: opts.dataDir,
          storage: opts.storage,
          chaos: opts.chaos !== undefined,
          ...(opts.chaos !== undefined ? { chaosVictim: opts.chaos } : {}),
          chaosIntervalMs: opts.chaosInterval * 1000,
          rate: opts.rate,
          ...(opts.http !== false ? { httpPort: opts.http, httpMaxBodyBytes: opts.httpMaxBody } : {}),
          ...(opts.duration !== undefined ? { durationMs: opts.duration * 1000 } : {}),
          ...(opts.inspect !== undefined ? { inspectPort: opts.inspect } : {}),
          ...(opts.diagrams !== undefined ? { diagramsDir: opts.diagrams } : {}),
          ...(opts.maxClockDrift !== undefined ? { maxClockDriftMs: opts.maxClockDrift } : {}),
        });
      } catch (err) {
        console.error(`xraft start: ${(err as Error).message}`);
        process.exitCode = 2;
      }
    },
  );

addKvCommand(program);

program
  .command('simulate')
  .description(
    'run a simulated cluster (the deterministic simulator, in virtual time paced to the wall clock) and print its elections, commits and the faults it injects',
  )
  .addOption(new Option('--nodes <n>', 'servers in the cluster').default(5).argParser(parseInteger(1, 9)))
  .addOption(
    new Option('--seed <n>', 'seed of the run (default: random, printed)').argParser(
      parseInteger(0, 2 ** 31 - 1),
    ),
  )
  .addOption(
    new Option('--faults <profile>', 'fault intensity').choices(['none', 'light', 'heavy']).default('heavy'),
  )
  .addOption(
    new Option('--duration <s>', 'virtual seconds of faults and client traffic')
      .default(20)
      .argParser(parsePositive),
  )
  .addOption(
    new Option('--speed <x>', 'virtual seconds per wall-clock second (0: as fast as possible)')
      .default(2)
      .argParser((v) => (v === '0' ? 0 : parsePositive(v))),
  )
  .option('--verbose', 'print every message delivered, not only elections, commits and faults', false)
  .action(async (opts) => {
    const { simulate } = await import('./simulate.js');
    process.exitCode = await simulate(opts);
  });

program
  .command('diagram')
  .description(
    'draw the Raft role statechart from the machine itself, offline (SVG via Graphviz/WebAssembly)',
  )
  .addOption(
    new Option('--format <format>', 'output format').choices(['svg', 'dot', 'mermaid']).default('svg'),
  )
  .option(
    '--state <value>',
    'highlight a state: a name like leader, or JSON like \'{"follower":"leaderRecent"}\'',
  )
  .option('--out <file>', 'write to this file instead of stdout')
  .action(async (opts: { format: DiagramFormat; state?: string; out?: string }) => {
    try {
      const { diagram } = await import('./diagram.js');
      process.exitCode = await diagram(opts);
    } catch (err) {
      console.error(`xraft diagram: ${(err as Error).message}`);
      process.exitCode = 2;
    }
  });

await program.parseAsync(process.argv);
