import { randomInt } from 'node:crypto';
import { setTimeout as sleep } from 'node:timers/promises';
import { describeEvent, formatTime, type SimEvent, Simulation } from '@xraft/sim';
import pc from 'picocolors';

/** SimulateOptions are the flags of `xraft simulate`. */
export interface SimulateOptions {
  readonly nodes: number;
  readonly seed?: number;
  readonly faults: 'none' | 'light' | 'heavy';
  readonly duration: number;
  readonly speed: number;
  readonly verbose: boolean;
}

/** How often the paced run wakes up to advance virtual time (wall-clock ms). */
const SLICE_MS = 50;

/**
 * simulate runs a simulated cluster of real @xraft/core servers, paced to the
 * wall clock, printing elections, commit progress and every injected fault.
 * Returns the process exit code (1 if an invariant broke).
 */
export async function simulate(opts: SimulateOptions): Promise<number> {
  const seed = opts.seed ?? randomInt(2 ** 31 - 1);
  const durationMs = Math.round(opts.duration * 1000);
  let lastCommitLine = Number.NEGATIVE_INFINITY;
  let lastCommitPrinted = 0;
  let committed = 0;
  let leader: { node: string; term: number } | null = null;

  const print = (e: SimEvent, text: string) =>
    console.log(`${pc.dim(formatTime(e.time).padStart(10))}  ${text}`);
  const onEvent = (e: SimEvent): void => {
    switch (e.kind) {
      case 'role':
        if (e.role === 'leader') {
          leader = { node: e.node!, term: e.term };
          print(e, pc.green(pc.bold(`${e.node} elected leader of term ${e.term}`)));
        }
        return;
      case 'commit':
        committed = Math.max(committed, e.index);
        // One commit line per virtual second at most, so the faults stay readable.
        if (e.time - lastCommitLine >= 1000 && committed > lastCommitPrinted) {
          lastCommitLine = e.time;
          lastCommitPrinted = committed;
          const who = leader ? ` (leader ${leader.node}, term ${leader.term})` : '';
          print(e, pc.cyan(`committed up to index ${committed}${who}`));
        }
        return;
      case 'crash':
      case 'restart':
      case 'pause':
      case 'partition':
      case 'link':
        print(e, pc.yellow(describeEvent(e)));
        return;
      case 'note':
        print(e, pc.dim(describeEvent(e)));
        return;
      case 'violation':
        print(e, pc.red(pc.bold(describeEvent(e))));
        return;
      default:
        if (opts.verbose) print(e, pc.dim(describeEvent(e)));
    }
  };

  const sim = new Simulation(seed, {
    nodes: opts.nodes,
    faults: opts.faults,
    durationMs,
    onEvent,
    varyConfig: false,
  });
  console.log(
    pc.bold(`xraft: ${opts.nodes} simulated servers, faults ${opts.faults}, seed ${seed}`) +
      pc.dim(` (${opts.duration} virtual s${opts.speed > 0 ? ` at ${opts.speed}x` : ''}; Ctrl-C to stop)`),
  );

  let interrupted = false;
  const onSigint = () => {
    interrupted = true;
  };
  process.once('SIGINT', onSigint);
  try {
    if (opts.speed > 0) {
      const started = performance.now();
      while (sim.now < durationMs && !sim.failed && !interrupted) {
        await sleep(SLICE_MS);
        sim.runUntil(Math.min(durationMs, Math.round((performance.now() - started) * opts.speed)));
      }
    }
  } finally {
    process.removeListener('SIGINT', onSigint);
  }
  if (interrupted) {
    console.log(pc.dim('\ninterrupted: healing the cluster and running the final checks'));
  }
  // The rest of the run: heal every fault, check that a leader commits again, final checks.
  const result = sim.run();
  const s = result.stats;
  console.log('');
  console.log(
    `${pc.bold('summary')}  ${formatTime(s.virtualMs)} virtual, ${s.elections} leaders elected, ${s.committed} entries committed, ` +
      `${s.faults.crashes} crashes, ${s.faults.partitions} partitions, ${s.faults.pauses} pauses, ` +
      `${s.messages.dropped} of ${s.messages.sent} messages lost`,
  );
  if (result.ok) {
    console.log(
      pc.green(
        `✔ election safety, leader append-only, log matching, leader completeness and state machine safety held after every one of ${s.steps.toLocaleString('en')} steps`,
      ),
    );
    if (s.recoveryMs >= 0)
      console.log(pc.green(`✔ after healing, a new command committed everywhere in ${s.recoveryMs} ms`));
    return 0;
  }
  for (const v of result.violations) console.log(pc.red(`✘ ${v.property}: ${v.message}`));
  console.log(`replay: pnpm sim --seed ${seed} --nodes ${opts.nodes} --faults ${opts.faults} --trace`);
  return 1;
}
