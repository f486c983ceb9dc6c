import type { NodeId } from './types.js';

/** majority is the size of a majority quorum of n voters (§5.2). */
export function majority(n: number): number {
  return Math.floor(n / 2) + 1;
}

/**
 * committedIndex returns the largest index replicated on a majority, given
 * each voter's match index (§5.3, §5.4.2). The caller must still check that
 * the entry there is from the leader's current term before committing it.
 */
export function committedIndex(matchIndexes: readonly number[]): number {
  const n = matchIndexes.length;
  if (n === 0) return 0;
  const sorted = Float64Array.from(matchIndexes).sort();
  // The (n - majority)th smallest value is held by a majority (itself and all above it).
  return sorted[n - majority(n)]!;
}

/** VoteResult is the outcome of an election so far. */
export type VoteResult = 'won' | 'lost' | 'pending';

/**
 * voteResult tallies granted and rejected votes among `voters` (§5.2): won
 * with a majority of grants, lost once a majority can no longer be reached.
 */
export function voteResult(voters: readonly NodeId[], votes: ReadonlyMap<NodeId, boolean>): VoteResult {
  let granted = 0;
  let rejected = 0;
  for (const v of voters) {
    const vote = votes.get(v);
    if (vote === true) granted++;
    else if (vote === false) rejected++;
  }
  const q = majority(voters.length);
  if (granted >= q) return 'won';
  if (voters.length - rejected < q) return 'lost';
  return 'pending';
}
