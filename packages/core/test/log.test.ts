// RaftLog (log.ts): the follower's append rules (§5.3, Figure 2 receiver
// rules 2–4), the election restriction's comparison (§5.4.1), the term
// search behind fast backtracking, and the persist/apply cursors.
import { describe, expect, test } from 'vitest';
import { type Entry, RaftLog, type Random, seededRandom } from '../src/index.js';
import { entries, testSeed } from './harness.js';

/** logOf is a RaftLog holding entries with the given terms from index 1, all durable. */
function logOf(terms: number[], commit = 0): RaftLog {
  const log = new RaftLog();
  log.restore(entries(1, terms), commit, 0);
  return log;
}

const termsOf = (log: RaftLog) => log.slice(log.firstIndex(), log.lastIndex() + 1).map((e) => e.term);

describe('RaftLog basics', () => {
  test('an empty log ends at (0, 0), and index 0 matches term 0', () => {
    const log = new RaftLog();
    expect([log.lastIndex(), log.lastTerm(), log.term(0), log.term(1)]).toEqual([0, 0, 0, undefined]);
    expect(log.matchTerm(0, 0)).toBe(true);
    expect(log.matchTerm(1, 0)).toBe(false);
  });

  test('restore keeps the stored log, all of it durable, and clamps commit and applied', () => {
    const log = new RaftLog();
    log.restore(entries(1, [1, 1, 2]), 9, 7);
    expect(log).toMatchObject({ committed: 3, applied: 3, stableIndex: 3, persistingIndex: 3 });
    expect(log.takeUnpersisted()).toEqual([]);
    expect(() => new RaftLog().restore([...entries(1, [1]), ...entries(3, [1])], 0, 0)).toThrow(/contiguous/);
  });

  test('append extends the log and refuses a gap', () => {
    const log = logOf([1]);
    log.append(entries(2, [2, 2]));
    expect(termsOf(log)).toEqual([1, 2, 2]);
    expect(() => log.append(entries(5, [2]))).toThrow(/does not follow/);
  });

  test.each([
    { last: [3, 2], upToDate: true, why: 'same last entry' },
    { last: [4, 2], upToDate: true, why: 'same term, longer' },
    { last: [2, 2], upToDate: false, why: 'same term, shorter' },
    { last: [1, 3], upToDate: true, why: 'higher term, shorter' },
    { last: [9, 1], upToDate: false, why: 'lower term, longer' },
  ])('§5.4.1 isUpToDate compares last terms first, then lengths: $why', ({ last, upToDate }) => {
    const log = logOf([1, 1, 2]);
    expect(log.isUpToDate(last[0]!, last[1]!)).toBe(upToDate);
  });

  test('commitTo only moves forward and never past the last entry', () => {
    const log = logOf([1, 1, 1]);
    expect(log.commitTo(2)).toBe(true);
    expect(log.commitTo(1)).toBe(false);
    expect(log.committed).toBe(2);
    expect(() => log.commitTo(4)).toThrow(/beyond the last index/);
  });

  test('slice stops at maxBytes but always returns at least one entry', () => {
    const log = new RaftLog();
    const sized = (index: number, n: number): Entry => ({
      index,
      term: 1,
      type: 'normal',
      data: new Uint8Array(n),
    });
    log.append([sized(1, 50), sized(2, 50), sized(3, 50)]);
    expect(log.slice(1, 4, 100).map((e) => e.index)).toEqual([1, 2]);
    expect(log.slice(1, 4, 10).map((e) => e.index)).toEqual([1]);
    expect(log.slice(2, 9).map((e) => e.index)).toEqual([2, 3]);
    expect(() => log.slice(0, 2)).toThrow(/compacted/);
  });
});

describe('§5.3 maybeAppend', () => {
  test('§5.3 a mismatch at prevLogIndex returns null and changes nothing', () => {
    const log = logOf([1, 1, 2]);
    expect(log.maybeAppend(3, 3, entries(4, [3]))).toBeNull();
    expect(log.maybeAppend(4, 2, entries(5, [3]))).toBeNull();
    expect(termsOf(log)).toEqual([1, 1, 2]);
  });

  test('§5.3 a conflicting entry and all that follow it are deleted, then the new ones appended', () => {
    const log = logOf([1, 1, 2, 2, 2]);
    expect(log.maybeAppend(1, 1, entries(2, [1, 3]))).toBe(3);
    expect(termsOf(log)).toEqual([1, 1, 3]);
    // The replaced suffix is no longer durable, and the new entries are handed out for persisting.
    expect(log.stableIndex).toBe(2);
    expect(log.takeUnpersisted().map((e) => [e.index, e.term])).toEqual([[3, 3]]);
  });

  test('§5.3 entries that already match are kept: a shorter or older message never truncates', () => {
    const log = logOf([1, 1, 2, 2, 2]);
    expect(log.maybeAppend(0, 0, entries(1, [1, 1]))).toBe(2);
    expect(log.maybeAppend(2, 1, [])).toBe(2);
    expect(log.maybeAppend(3, 2, entries(4, [2]))).toBe(4);
    expect(termsOf(log)).toEqual([1, 1, 2, 2, 2]);
    expect(log.takeUnpersisted()).toEqual([]);
  });

  test('§5.3 the return value is the last index the message covered, not the end of the log', () => {
    const log = logOf([1, 1, 1, 1]);
    expect(log.maybeAppend(1, 1, entries(2, [1]))).toBe(2);
  });

  test('§5.3 only the entries after the matching ones are appended', () => {
    const log = logOf([1, 1]);
    expect(log.maybeAppend(1, 1, entries(2, [1, 2, 2]))).toBe(4);
    expect(log.takeUnpersisted().map((e) => e.index)).toEqual([3, 4]);
  });

  test('§5.4 overwriting a committed entry is a safety violation and throws', () => {
    const log = logOf([1, 1, 1], 2);
    expect(() => log.maybeAppend(1, 1, entries(2, [2]))).toThrow(/safety violated/);
  });

  /**
   * refAppend is the dumb reading of Figure 2: on a match, the result is our
   * log up to prevIndex, then the leader's entries, then our old suffix only
   * if every sent entry was already there.
   */
  function refAppend(log: number[], prevIndex: number, prevTerm: number, sent: number[]) {
    const termAt = (i: number) => (i === 0 ? 0 : log[i - 1]);
    if (termAt(prevIndex) !== prevTerm) return null;
    const allHeld = sent.every((t, k) => termAt(prevIndex + 1 + k) === t);
    const suffix = allHeld ? log.slice(prevIndex + sent.length) : [];
    return { terms: [...log.slice(0, prevIndex), ...sent, ...suffix], lastNew: prevIndex + sent.length };
  }

  const seed = testSeed();
  test(`§5.3 maybeAppend agrees with the dumb reading of Figure 2 on random logs (seed ${seed}; XRAFT_SEED=${seed})`, () => {
    const random: Random = seededRandom(seed);
    const int = (n: number) => Math.floor(random() * n);
    /** A random log: non-decreasing terms. */
    const randomLog = (length: number) => {
      const out: number[] = [];
      let term = 1;
      for (let i = 0; i < length; i++) {
        if (random() < 0.3) term += 1 + int(2);
        out.push(term);
      }
      return out;
    };
    for (let run = 0; run < 3000; run++) {
      const mine = randomLog(int(12));
      const leaders =
        random() < 0.5 ? mine.slice(0, int(mine.length + 1)).concat(randomLog(int(6))) : randomLog(int(14));
      const prevIndex = int(Math.max(mine.length, leaders.length) + 1);
      const prevTerm = prevIndex === 0 ? 0 : (leaders[prevIndex - 1] ?? 1 + int(5));
      const sent = leaders.slice(prevIndex, prevIndex + int(6));
      const log = logOf(mine);
      const what = `seed ${seed} run ${run}: log ${JSON.stringify(mine)}, prev (${prevIndex}, ${prevTerm}), sent ${JSON.stringify(sent)}`;
      const got = log.maybeAppend(prevIndex, prevTerm, entries(prevIndex + 1, sent));
      const want = refAppend(mine, prevIndex, prevTerm, sent);
      expect(got, what).toBe(want?.lastNew ?? null);
      expect(termsOf(log), what).toEqual(want?.terms ?? mine);
    }
  });
});

describe('§5.3 findConflictByTerm', () => {
  // index:        1  2  3  4  5  6  7
  const terms = [1, 1, 1, 3, 3, 5, 5];
  test.each([
    [7, 5, 7],
    [7, 4, 5],
    [7, 3, 5],
    [7, 2, 3],
    [7, 1, 3],
    [7, 0, 0],
    [3, 5, 3],
    [100, 4, 5],
    [0, 9, 0],
  ])(
    'findConflictByTerm(%i, %i) is %i: the last index at or before it whose term is <= the term',
    (index, term, want) => {
      expect(logOf(terms).findConflictByTerm(index, term)).toBe(want);
    },
  );

  const seed = testSeed();
  test(`findConflictByTerm agrees with a linear scan (seed ${seed}; XRAFT_SEED=${seed})`, () => {
    const random = seededRandom(seed);
    const int = (n: number) => Math.floor(random() * n);
    for (let run = 0; run < 2000; run++) {
      const t: number[] = [];
      for (let i = 0, term = 1 + int(3); i < int(30); i++) t.push(random() < 0.2 ? ++term : term);
      const log = logOf(t);
      const index = int(t.length + 5);
      const term = int((t.at(-1) ?? 1) + 2);
      let want = Math.min(index, t.length);
      while (want > 0 && t[want - 1]! > term) want--;
      expect(
        log.findConflictByTerm(index, term),
        `seed ${seed} run ${run}: ${JSON.stringify({ t, index, term })}`,
      ).toBe(want);
    }
  });
});

describe('cursors: persisting and applying', () => {
  test('takeUnpersisted hands each entry out once, and again only after it was overwritten', () => {
    const log = new RaftLog();
    log.append(entries(1, [1, 1]));
    expect(log.hasUnpersisted()).toBe(true);
    expect(log.takeUnpersisted().map((e) => e.index)).toEqual([1, 2]);
    expect(log.hasUnpersisted()).toBe(false);
    expect(log.takeUnpersisted()).toEqual([]);
    log.append(entries(3, [1]));
    expect(log.takeUnpersisted().map((e) => e.index)).toEqual([3]);
    expect(log.persistingIndex).toBe(3);
    log.maybeAppend(1, 1, entries(2, [2]));
    expect(log.persistingIndex).toBe(1);
    expect(log.takeUnpersisted().map((e) => [e.index, e.term])).toEqual([[2, 2]]);
  });

  test('stableTo records durability up to what was handed out, for entries still held', () => {
    const log = new RaftLog();
    log.append(entries(1, [1, 1, 1]));
    log.takeUnpersisted(); // 1..3 being written
    log.append(entries(4, [1])); // 4 not handed out yet
    expect(log.stableTo(3, 1)).toBe(true);
    expect(log.stableIndex).toBe(3);
    expect(log.stableTo(2, 1)).toBe(false); // old news
    expect(log.stableIndex).toBe(3);
    expect(log.stableTo(4, 1)).toBe(true);
    expect(log.stableIndex).toBe(3); // never beyond persistingIndex
  });

  test('stableTo ignores an acknowledgement for entries since replaced by another term', () => {
    const log = new RaftLog();
    log.append(entries(1, [1, 1, 1]));
    log.takeUnpersisted();
    log.maybeAppend(1, 1, entries(2, [2, 2])); // replaces 2..3 before the write of 1..3 completed
    expect(log.stableTo(3, 1)).toBe(false);
    expect(log.stableIndex).toBe(0);
    log.takeUnpersisted();
    expect(log.stableTo(3, 2)).toBe(true);
    expect(log.stableIndex).toBe(3);
  });

  test('a write completing after compaction past it (§7) still advances stableIndex, then the log drops it', () => {
    // A host may apply committed entries before its own write lands (they are
    // durable on a majority) and snapshot past that write.
    const log = new RaftLog();
    log.append(entries(1, [1, 1, 1]));
    log.takeUnpersisted(); // write A: 1..3
    log.append(entries(4, [1]));
    log.takeUnpersisted(); // write B: 4
    log.commitTo(4);
    log.takeCommitted();
    log.compact(4);
    expect(log.stableIndex).toBe(0);
    expect(log.stableTo(3, 1)).toBe(true); // A
    expect([log.stableIndex, log.snapshotIndex, log.snapshotTerm, log.firstIndex()]).toEqual([3, 3, 1, 4]);
    expect(log.stableTo(4, 1)).toBe(true); // B
    expect([log.stableIndex, log.snapshotIndex, log.firstIndex()]).toEqual([4, 4, 5]);
  });

  test('only durable entries are compacted: snapshotIndex <= stableIndex', () => {
    const log = new RaftLog();
    log.append(entries(1, [1, 1, 2, 2]));
    log.takeUnpersisted();
    log.stableTo(2, 1);
    log.commitTo(4);
    log.takeCommitted();
    log.compact(4);
    expect([log.snapshotIndex, log.stableIndex, log.term(3), log.term(4)]).toEqual([2, 2, 2, 2]);
    log.compact(3); // behind the compaction point already asked for: nothing changes
    expect(log.stableTo(4, 2)).toBe(true);
    expect([log.snapshotIndex, log.stableIndex, log.lastIndex()]).toEqual([4, 4, 4]);
  });

  test('a stale write completing after a new leader replaced its entries is ignored, compacted or not (§5.3)', () => {
    const log = new RaftLog();
    log.append(entries(1, [1, 1, 1]));
    log.takeUnpersisted(); // write A: 1..3@1
    log.maybeAppend(1, 1, entries(2, [2, 2, 2])); // a new leader replaces 2..3 before A lands
    log.takeUnpersisted(); // write B: 2..4@2
    log.commitTo(4);
    log.takeCommitted();
    log.compact(4); // the host applied 2..4@2 and snapshot them before B landed
    // A speaks of 3@1, which the log no longer holds: 3 is not durable until B lands.
    expect(log.stableTo(3, 1)).toBe(false);
    expect(log.stableIndex).toBe(0);
    expect(log.stableTo(4, 2)).toBe(true); // B
    expect([log.stableIndex, log.snapshotIndex, log.snapshotTerm]).toEqual([4, 4, 2]);
  });

  test('takeCommitted hands out committed entries once, in order', () => {
    const log = logOf([1, 1, 1, 1, 1]);
    expect(log.takeCommitted()).toEqual([]);
    log.commitTo(2);
    expect(log.hasCommitted()).toBe(true);
    expect(log.takeCommitted().map((e) => e.index)).toEqual([1, 2]);
    expect(log.takeCommitted()).toEqual([]);
    log.commitTo(5);
    expect(log.takeCommitted().map((e) => e.index)).toEqual([3, 4, 5]);
    expect(log.applied).toBe(5);
  });

  test('takeCommitted after a restart resumes after `applied`', () => {
    const log = new RaftLog();
    log.restore(entries(1, [1, 1, 1, 1]), 4, 2);
    expect(log.takeCommitted().map((e) => e.index)).toEqual([3, 4]);
  });
});

describe('restore after compaction (§7)', () => {
  test('a log restored after a snapshot knows the term at the snapshot point', () => {
    const log = new RaftLog();
    log.restore(entries(11, [3, 3, 4]), 12, 0, { index: 10, term: 3 });
    expect(log.firstIndex()).toBe(11);
    expect(log.term(10)).toBe(3);
    // The consistency check at the snapshot point succeeds, so replication can resume there.
    expect(log.maybeAppend(10, 3, entries(11, [3]))).toBe(11);
    expect(log.committed).toBe(12);
    expect(log.applied).toBe(10);
  });

  test('entries that do not start just after the snapshot are refused', () => {
    expect(() => new RaftLog().restore(entries(12, [3]), 0, 0, { index: 10, term: 3 })).toThrow(
      /starts at 12/,
    );
  });
});
