import { constants } from 'node:fs';
import { access, mkdir, rm, writeFile } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import { Cluster, PortInUseError, type SupervisorEvent } from '@xraft/runtime';
import Table from 'cli-table3';
import { createLogUpdate } from 'log-update';
import pc from 'picocolors';
import { NodeDiagrams } from './diagram.js';
import { type KvHttpServer, startKvHttpServer } from './http/server.js';
import { KvLoad } from './load.js';

/** RunOptions are the flags of `xraft start`. */
export interface RunOptions {
  readonly nodes: number;
  readonly dataDir: string;
  readonly storage: 'disk' | 'memory';
  /** Crash a worker every `chaosIntervalMs`. */
  readonly chaos: boolean;
  /** Which worker chaos kills: any live one (the default), or the leader's (to watch failover). */
  readonly chaosVictim?: 'any' | 'leader';
  readonly chaosIntervalMs: number;
  /** Puts per second written through a KvClient, so commits move; 0: none. */
  readonly rate: number;
  /** Stop by itself after this long (default: run until Ctrl-C). */
  readonly durationMs?: number;
  /** Stop when this aborts, as on Ctrl-C. */
  readonly signal?: AbortSignal;
  /** Serve the KV HTTP API on this port of 127.0.0.1 (0: a free one); default: not at all. */
  readonly httpPort?: number;
  /** Largest request body the KV HTTP API accepts, in bytes. */
  readonly httpMaxBodyBytes?: number;
  /** The clock-drift bound lease reads rely on (thesis §6.4.1); none: lease reads are ReadIndex reads. */
  readonly maxClockDriftMs?: number;
  /** Serve the statechart inspector on this port (127.0.0.1). */
  readonly inspectPort?: number;
  /** Keep `<dir>/<id>.svg` and `.mmd` drawn with each node's current state. */
  readonly diagramsDir?: string;
  /** Where to draw: a TTY gets a live table, anything else plain lines. */
  readonly out?: NodeJS.WriteStream;
}

/** RENDER_MS is how often the live table is redrawn. */
const RENDER_MS = 200;
/** How many recent log lines stay under the table. */
const LOG_LINES = 14;
/** How often plain (non-TTY) output reports progress. */
const PROGRESS_MS = 2000;

/** checkDataDir makes sure the data directory can be created and written, with an error that says what to do. */
export async function checkDataDir(dir: string): Promise<string> {
  const path = resolve(dir);
  try {
    await mkdir(path, { recursive: true });
    await access(path, constants.W_OK);
    const probe = join(path, `.xraft-write-check-${process.pid}`);
    await writeFile(probe, 'ok');
    await rm(probe);
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code ?? 'error';
    throw new Error(
      `cannot use data directory ${path} (${code}): choose a writable directory with --data-dir <dir>`,
    );
  }
  return path;
}

/**
 * run is `xraft start`: a cluster of Raft nodes on worker threads with disk
 * storage under `dataDir`, the KV store over HTTP, a live status table, a log
 * of leader changes and supervisor events, a steady write load through a
 * KvClient, and optional chaos. Ctrl-C (or `durationMs`) stops the HTTP server
 * and every worker cleanly; running again on the same data directory
 * recovers the previous state.
 */
export async function run(opts: RunOptions): Promise<number> {
  const out = opts.out ?? process.stdout;
  const tty = out.isTTY === true;
  const dataDir = opts.storage === 'disk' ? await checkDataDir(opts.dataDir) : undefined;
  const started = performance.now();
  const stamp = () => pc.dim(`${((performance.now() - started) / 1000).toFixed(1).padStart(6)}s`);
  const recent: string[] = [];
  const log = (line: string) => {
    const text = `${stamp()}  ${line}`;
    if (tty) {
      recent.push(text);
      if (recent.length > LOG_LINES) recent.shift();
    } else out.write(`${text}\n`);
  };

  // Bound before any worker starts, so a taken port costs nothing to report.
  const http: KvHttpServer | null =
    opts.httpPort === undefined
      ? null
      : await startKvHttpServer({
          port: opts.httpPort,
          ...(opts.httpMaxBodyBytes !== undefined ? { maxBodyBytes: opts.httpMaxBodyBytes } : {}),
          ...(opts.maxClockDriftMs !== undefined
            ? { client: { leaseClockDriftMs: opts.maxClockDriftMs } }
            : {}),
        }).catch((err: unknown) => {
          if (err instanceof PortInUseError)
            throw new Error(`${err.message}: pick a free one with --http <port>`);
          throw err;
        });
  const c = await Cluster.start({
    nodes: opts.nodes,
    storage: opts.storage,
    ...(dataDir ? { dataDir } : {}),
    ...(opts.inspectPort !== undefined ? { inspect: { port: opts.inspectPort } } : {}),
    ...(opts.maxClockDriftMs !== undefined ? { maxClockDriftMs: opts.maxClockDriftMs } : {}),
    // Crashes arrive as supervisor events below; only worse news goes to the log.
    log: (e) => {
      if (e.level === 'error') log(pc.red(`${e.node ?? 'cluster'}: ${firstLine(e.message)}`));
    },
  }).catch(async (err: unknown) => {
    await http?.close();
    if (err instanceof PortInUseError) {
      throw new Error(`${err.message}: pick a free one with --inspect <port>`);
    }
    throw err;
  });
  const header: string[] = [];
  if (http !== null) {
    http.attach(c);
    header.push(
      `KV over HTTP: ${http.url}  (e.g. curl ${http.url}/kv/load%2F0, or xraft kv get load/0 --url ${http.url})`,
    );
  }
  if (c.inspector !== null) {
    header.push(`statechart inspector: open ${c.inspector.url} (raw events: ${c.inspector.wsUrl})`);
  }
  if (!tty) for (const line of header) log(pc.bold(line));
  const diagrams = opts.diagramsDir === undefined ? null : new NodeDiagrams(c, resolve(opts.diagramsDir));
  if (diagrams !== null) log(`drawing each node's statechart in ${diagrams.dir}/<node>.svg`);
  log(
    pc.bold(
      `${opts.nodes} nodes on worker threads, ${opts.storage} storage${dataDir ? ` in ${dataDir}` : ''}${opts.chaos ? `, chaos on (${opts.chaosVictim === 'leader' ? 'killing the leader' : 'killing any worker'} every ${opts.chaosIntervalMs / 1000} s)` : ''}`,
    ),
  );
  const restarts = new Map<string, number>(c.ids.map((id) => [id, 0]));
  c.on('supervisor', (e: SupervisorEvent) => {
    switch (e.type) {
      case 'crashed':
        log(
          pc.yellow(
            `supervisor: ${e.id} crashed (exit code ${e.exitCode}${e.error ? `: ${firstLine(e.error)}` : ''})${e.restartInMs === null ? '' : `, restart in ${e.restartInMs} ms`}`,
          ),
        );
        return;
      case 'restarted':
        restarts.set(e.id, (restarts.get(e.id) ?? 0) + 1);
        log(
          pc.green(`supervisor: ${e.id} restarted (incarnation ${e.incarnation}), recovering from its log`),
        );
        return;
      case 'gave-up':
        log(
          pc.red(
            `supervisor: gave up on ${e.id} after ${e.crashes} crashes in ${e.windowMs} ms${e.lastError ? ` (${firstLine(e.lastError)})` : ''}`,
          ),
        );
        return;
    }
  });
  let applied = 0;
  const stopApply = c.onApply(() => {
    applied++;
  });

  // Leader changes, seen by polling the status the workers publish.
  let lastLeader = '';
  const leaderOf = (): { id: string; term: number } | null => {
    let best: { id: string; term: number } | null = null;
    for (const id of c.ids) {
      const s = c.state(id);
      if (s.alive && s.role === 'leader' && (best === null || s.term > best.term))
        best = { id, term: s.term };
    }
    return best;
  };
  const watchLeader = () => {
    const l = leaderOf();
    const key = l ? `${l.id}@${l.term}` : '';
    if (key !== lastLeader) {
      lastLeader = key;
      log(l ? pc.green(pc.bold(`${l.id} is leader of term ${l.term}`)) : pc.dim('no leader'));
    }
  };

  // A steady write load through a KvClient (exactly-once sessions), so commit indexes move.
  const kv = c.client();
  const load =
    opts.rate > 0
      ? new KvLoad(kv, opts.rate, (anomaly) => log(pc.red(pc.bold(`LOAD CHECK: ${anomaly}`))))
      : null;
  const loadLine = () =>
    load === null
      ? 'no write load (--rate 0)'
      : `load: ${load.acknowledged} appends acknowledged${load.failed > 0 ? `, ${load.failed} failed` : ''}; read back: ${load.verified} exactly once, ${load.lost} lost, ${load.duplicated} duplicated`;

  // Chaos: kill a random live worker the way real workers die; the supervisor restarts it,
  // the node recovers from its storage and catches up.
  const deaths = ['throw', 'rejection', 'exit'] as const;
  const chaos = async () => {
    const alive = c.ids.filter((id) => c.state(id).alive);
    let victim: string | undefined;
    if (opts.chaosVictim === 'leader') {
      // Two nodes may both think they lead for a moment (the old one not yet told): take the newer term.
      const leaders = alive.filter((id) => c.state(id).role === 'leader');
      victim = leaders.sort((a, b) => c.state(b).term - c.state(a).term)[0];
      if (victim === undefined) log(pc.yellow('chaos: no leader to kill right now'));
    } else {
      victim = alive[Math.floor(Math.random() * alive.length)];
    }
    if (victim === undefined) return;
    const how = deaths[Math.floor(Math.random() * deaths.length)]!;
    log(
      pc.yellow(
        `chaos: killing ${opts.chaosVictim === 'leader' ? 'the leader ' : ''}${victim}'s worker (${how === 'throw' ? 'uncaught exception' : how === 'rejection' ? 'unhandled rejection' : 'process.exit'})`,
      ),
    );
    await c.kill(victim, how).catch((err: Error) => log(pc.red(`chaos: ${err.message}`)));
  };

  const render = createLogUpdate(out);
  let lastProgress = 0;
  const draw = () => {
    watchLeader();
    if (!tty) {
      // Plain output: a progress line every few seconds instead of a live table.
      if (performance.now() - lastProgress >= PROGRESS_MS) {
        lastProgress = performance.now();
        const up = c.ids.filter((id) => c.state(id).alive);
        const commit = Math.max(0, ...up.map((id) => c.state(id).commitIndex));
        log(
          pc.cyan(
            `${up.length}/${c.ids.length} nodes up, committed up to index ${commit}, ${applied} commands applied; ${loadLine()}`,
          ),
        );
      }
      return;
    }
    render(
      `${header.map((l) => pc.bold(l)).join('\n')}\n${table(c, restarts)}\n${pc.dim(`commands applied (all nodes): ${applied}; ${loadLine()}`)}\n\n${recent.join('\n')}`,
    );
  };

  const timers = [
    setInterval(draw, RENDER_MS),
    ...(opts.chaos ? [setInterval(() => void chaos(), opts.chaosIntervalMs)] : []),
    ...(diagrams
      ? [setInterval(() => void diagrams.update().catch((e: Error) => log(pc.red(e.message))), 500)]
      : []),
  ];
  let onSigint = () => {};
  const done = new Promise<void>((resolveDone) => {
    onSigint = () => resolveDone();
    process.once('SIGINT', onSigint);
    if (opts.durationMs !== undefined) setTimeout(resolveDone, opts.durationMs).unref();
    if (opts.signal?.aborted) resolveDone();
    opts.signal?.addEventListener('abort', () => resolveDone(), { once: true });
  });
  load?.start();
  await done;
  process.removeListener('SIGINT', onSigint);
  for (const t of timers) clearInterval(t);
  if (load !== null) {
    log('stopping the load: waiting for its last writes and reading every one back');
    await load.finish();
  }
  draw();
  render.done();
  if (!tty) out.write(`${table(c, restarts, false)}\n`);
  log(`stopping: ${http === null ? '' : 'the HTTP server closes, '}every worker shuts down`);
  stopApply();
  await http?.close();
  await kv.close();
  await diagrams?.update().catch(() => {});
  await c.stop();
  if (load !== null) out.write(`${loadLine()}\n`);
  out.write(
    `stopped cleanly${dataDir ? `; run again with --data-dir ${dataDir} to recover this state` : ''}\n`,
  );
  // A lost or duplicated write is a consensus bug: say so in the exit code too.
  return load !== null && (load.lost > 0 || load.duplicated > 0) ? 1 : 0;
}

/** firstLine drops stack traces from an error message. */
function firstLine(text: string): string {
  return text.split('\n', 1)[0]!;
}

/** table renders the nodes' status: role, term, commit, applied, last index and restarts per node. */
function table(c: Cluster, restarts: ReadonlyMap<string, number>, colour = true): string {
  const t = new Table({
    head: ['node', 'alive', 'role', 'term', 'leader', 'commit', 'applied', 'last index', 'restarts'],
    style: { head: colour ? ['cyan'] : [], border: colour ? ['grey'] : [] },
  });
  for (const id of c.ids) {
    const s = c.state(id);
    if (!s.alive) {
      t.push([id, colour ? pc.red('down') : 'down', '', '', '', '', '', '', String(restarts.get(id) ?? 0)]);
      continue;
    }
    const role = s.role === 'leader' && colour ? pc.green(pc.bold(s.role)) : s.role;
    t.push([
      id,
      'up',
      role,
      String(s.term),
      s.leaderId ?? '-',
      String(s.commitIndex),
      String(s.lastApplied),
      String(s.lastLogIndex),
      String(restarts.get(id) ?? 0),
    ]);
  }
  return t.toString();
}
