import { describe, expect, test } from 'vitest';
import type { FaultsOption } from '../src/faults.js';
import { runSeed, type SimResult } from '../src/simulation.js';

/** One line of the KV seed budget: seeds `from`..`from + seeds - 1` of one cluster size and fault profile. */
interface KvBudgetLine {
  readonly nodes: number;
  readonly faults: FaultsOption;
  readonly seeds: number;
  readonly from?: number;
}

function describeFailure(r: SimResult): string {
  const o = r.options;
  return [
    `seed ${r.seed} (${o.nodes} nodes, faults ${o.faults} → ${o.profile}, KV workload) broke ${r.violations.map((v) => v.property).join(', ')}:`,
    ...r.violations.slice(0, 3).map((v) => `  ${v.message}`),
    `replay: pnpm sim --seed ${r.seed} --nodes ${o.nodes} --faults ${o.faults} --duration ${o.durationMs / 1000} --workload kv --trace`,
    ...r.trace,
  ].join('\n');
}

// The KV workload's seed budget: Jepsen-style clients on the KV store under every fault profile; each
// seed's history is checked for linearizability and its appends for exactly-once.
describe('KV workload: histories under faults are linearizable and exactly-once', () => {
  const BUDGET: KvBudgetLine[] = [
    { nodes: 5, faults: 'mixed', seeds: 40 },
    { nodes: 3, faults: 'heavy', seeds: 150 },
    { nodes: 1, faults: 'heavy', seeds: 20 },
  ];
  for (const { nodes, faults, seeds, from = 1 } of BUDGET) {
    const name = `${nodes} nodes, faults ${faults}, seeds ${from}..${from + seeds - 1}`;
    test(name, () => {
      let calls = 0;
      let unknown = 0;
      let checked = 0;
      let undecided = 0;
      let appends = 0;
      let lease = 0;
      for (let seed = from; seed < from + seeds; seed++) {
        const r = runSeed(seed, { nodes, faults, kv: true });
        if (!r.ok) expect.fail(describeFailure(r));
        const k = r.stats.kv!;
        calls += k.calls;
        unknown += k.unknown;
        appends += k.appendsOk;
        lease += r.stats.reads.leased;
        const c = r.kvCheck;
        expect(c, `seed ${seed}: the history was not checked`).not.toBeNull();
        checked += c!.ops;
        if (c!.verdict === 'unknown') {
          undecided++;
          console.log(
            `kv: seed ${seed} (${name}): the checker ran out of its budget (${c!.ms.toFixed(0)} ms)`,
          );
        }
      }
      console.log(
        `kv: ${name}: ${calls} calls, ${unknown} of unknown outcome, ${appends} appends acknowledged, ${checked} operations checked, ${undecided} undecided, ${lease} lease reads`,
      );
      // The runs did something worth checking, and few calls were left in doubt.
      expect(calls / seeds).toBeGreaterThan(50);
      expect(appends / seeds).toBeGreaterThan(10);
      expect(unknown).toBeLessThanOrEqual(calls * 0.05);
      expect(undecided).toBe(0);
      if (nodes > 1) expect(lease).toBeGreaterThan(0);
    });
  }

  test('same seed, same run: the KV workload is deterministic', () => {
    for (const seed of [7, 8]) {
      const r = runSeed(seed, { nodes: 5, faults: 'heavy', kv: true, checkDeterminism: true });
      expect(r.violations).toEqual([]);
      expect(r.stats.kv!.calls).toBeGreaterThan(0);
    }
  });
});
