// The quorum math (quorum.ts) against deliberately dumb references that
// enumerate subsets, in the spirit of etcd-io/raft's quorum/quick_test.go.
// A fresh seed each run; replay one with XRAFT_SEED=<seed>.
import { describe, expect, test } from 'vitest';
import { committedIndex, majority, type Random, seededRandom, voteResult } from '../src/index.js';
import { testSeed } from './harness.js';

const seed = testSeed();
const RUNS = 5_000;
const int = (random: Random, n: number) => Math.floor(random() * n);

/** subsets lists every subset of 0..n-1 as a bit mask. */
function subsets(n: number): number[] {
  return Array.from({ length: 1 << n }, (_, mask) => mask);
}
const size = (mask: number) => {
  let c = 0;
  for (let m = mask; m !== 0; m &= m - 1) c++;
  return c;
};

/** refMajority: the smallest k such that any two k-subsets of n voters intersect. */
function refMajority(n: number): number {
  const all = subsets(n);
  for (let k = 1; k <= n; k++) {
    const ofSize = all.filter((m) => size(m) === k);
    if (ofSize.every((a) => ofSize.every((b) => (a & b) !== 0))) return k;
  }
  throw new Error(`no quorum size for ${n}`);
}

/** refCommitted: the largest index that every member of some majority holds (0 if none). */
function refCommitted(matches: readonly number[]): number {
  const n = matches.length;
  if (n === 0) return 0;
  let best = 0;
  for (const mask of subsets(n)) {
    if (2 * size(mask) <= n) continue;
    let min = Number.POSITIVE_INFINITY;
    for (let i = 0; i < n; i++) if (mask & (1 << i)) min = Math.min(min, matches[i]!);
    best = Math.max(best, min);
  }
  return best;
}

/** refVoteResult: won if the grants are a majority, lost if no way of filling in the missing votes wins. */
function refVoteResult(voters: readonly string[], votes: ReadonlyMap<string, boolean>): string {
  const n = voters.length;
  const isMajority = (count: number) => 2 * count > n;
  const granted = voters.filter((v) => votes.get(v) === true).length;
  if (isMajority(granted)) return 'won';
  const missing = voters.filter((v) => !votes.has(v));
  for (const mask of subsets(missing.length)) if (isMajority(granted + size(mask))) return 'pending';
  return 'lost';
}

describe(`quorum math against brute force (seed ${seed}; replay with XRAFT_SEED=${seed})`, () => {
  test('§5.2 majority(n) is the smallest quorum size whose quorums always intersect', () => {
    for (let n = 1; n <= 12; n++) expect(majority(n), `n=${n}`).toBe(refMajority(n));
  });

  test(`§5.3 committedIndex is the largest index a majority holds (seed ${seed})`, () => {
    const random = seededRandom(seed);
    expect(committedIndex([])).toBe(0);
    for (let run = 0; run < RUNS; run++) {
      const n = 1 + int(random, 9);
      const spread = 1 + int(random, 20); // small spreads make many ties
      const matches = Array.from({ length: n }, () => int(random, spread));
      expect(committedIndex(matches), `seed ${seed} run ${run}: matches ${JSON.stringify(matches)}`).toBe(
        refCommitted(matches),
      );
    }
  });

  test(`§5.3 committedIndex does not depend on the order of the match indexes (seed ${seed})`, () => {
    const random = seededRandom(seed ^ 0x5bd1e995);
    for (let run = 0; run < RUNS; run++) {
      const matches = Array.from({ length: 1 + int(random, 9) }, () => int(random, 1000));
      const shuffled = matches.slice();
      for (let i = shuffled.length - 1; i > 0; i--) {
        const j = int(random, i + 1);
        [shuffled[i], shuffled[j]] = [shuffled[j]!, shuffled[i]!];
      }
      expect(committedIndex(shuffled), `seed ${seed} run ${run}: ${JSON.stringify(matches)}`).toBe(
        committedIndex(matches),
      );
    }
  });

  test(`§5.2 voteResult agrees with enumerating every outcome of the missing votes (seed ${seed})`, () => {
    const random = seededRandom(seed ^ 0x27d4eb2f);
    for (let run = 0; run < RUNS; run++) {
      const voters = Array.from({ length: 1 + int(random, 9) }, (_, i) => `v${i}`);
      const votes = new Map<string, boolean>();
      for (const v of voters) {
        const r = random();
        if (r < 0.4) votes.set(v, true);
        else if (r < 0.7) votes.set(v, false);
      }
      // Votes from servers that are not voters must not count.
      for (let i = int(random, 4); i > 0; i--) votes.set(`x${i}`, random() < 0.5);
      const what = `seed ${seed} run ${run}: ${JSON.stringify({ voters, votes: [...votes] })}`;
      expect(voteResult(voters, votes), what).toBe(refVoteResult(voters, votes));
    }
  });
});
