import { expect, test } from 'vitest';
import type { FaultsOption } from '../src/faults.js';
import { runSeed, type SimResult } from '../src/simulation.js';

/** One line of the fixed seed budget: seeds 1..seeds of one cluster size and fault profile. */
export interface BudgetLine {
  readonly nodes: number;
  readonly faults: FaultsOption;
  readonly seeds: number;
  /** Virtual seconds of faults before the heal (default 10). */
  readonly seconds?: number;
}

function describeFailure(r: SimResult): string {
  const o = r.options;
  return [
    `seed ${r.seed} (${o.nodes} nodes, faults ${o.faults} → ${o.profile}) broke ${r.violations.map((v) => v.property).join(', ')}:`,
    ...r.violations.slice(0, 3).map((v) => `  ${v.message}`),
    `replay: pnpm sim --seed ${r.seed} --nodes ${o.nodes} --faults ${o.faults} --duration ${o.durationMs / 1000} --trace`,
    ...r.trace,
  ].join('\n');
}

/**
 * runBudget declares one test per line: it runs the seeds with the default
 * options (faults, writes and reads, heal, liveness) and fails with the
 * replay command and the last trace lines of the first failing seed.
 */
export function runBudget(lines: readonly BudgetLine[]): void {
  for (const { nodes, faults, seeds, seconds = 10 } of lines) {
    const name = `${nodes} nodes, faults ${faults}, ${seconds} virtual s, seeds 1..${seeds}`;
    test(name, () => {
      console.log(`sim: ${name}`);
      let committed = 0;
      let elections = 0;
      let crashes = 0;
      let served = 0;
      let leased = 0;
      for (let seed = 1; seed <= seeds; seed++) {
        const r = runSeed(seed, { nodes, faults, durationMs: seconds * 1000 });
        if (!r.ok) expect.fail(describeFailure(r));
        committed += r.stats.committed;
        elections += r.stats.elections;
        crashes += r.stats.faults.crashes;
        served += r.stats.reads.served;
        leased += r.stats.reads.leased;
      }
      console.log(`sim: ${name}: ${served} reads served and checked, ${leased} of them by lease`);
      // The runs did something worth checking: writes, elections, crashes, reads (some by lease).
      expect(committed / seeds).toBeGreaterThan(50);
      expect(elections).toBeGreaterThanOrEqual(seeds);
      if (faults === 'heavy') expect(crashes / seeds).toBeGreaterThan(5);
      expect(served / seeds).toBeGreaterThan(3);
      if (nodes > 1) expect(leased).toBeGreaterThan(0);
    });
  }
}
