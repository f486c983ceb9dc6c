// Progress (progress.ts): a leader's nextIndex/matchIndex for one follower
// (Figure 2 "volatile state on leaders") with its probe/replicate states.
import { describe, expect, test } from 'vitest';
import { Progress } from '../src/index.js';

/** progress at nextIndex `next`, matchIndex `match`, in `state`. */
function progress(state: 'probe' | 'replicate', match: number, next: number, maxInflight = 4): Progress {
  const pr = new Progress(next, maxInflight, 1 << 20);
  pr.matchIndex = match;
  if (state === 'replicate') {
    pr.becomeReplicate();
    pr.nextIndex = next;
  }
  return pr;
}

describe('Figure 2 Progress (nextIndex, matchIndex)', () => {
  test('a new progress probes from the given nextIndex with matchIndex 0', () => {
    const pr = new Progress(7, 4, 100);
    expect(pr).toMatchObject({ state: 'probe', nextIndex: 7, matchIndex: 0, probeSent: false });
    expect(pr.isPaused()).toBe(false);
  });

  test('probe state: one message out pauses it; an acknowledgement resumes it', () => {
    const pr = progress('probe', 0, 5);
    pr.sentEntries(3, 7, 30);
    expect(pr.isPaused()).toBe(true);
    expect(pr.nextIndex).toBe(5); // a probe does not advance nextIndex optimistically
    expect(pr.maybeUpdate(7)).toBe(true);
    expect(pr).toMatchObject({ matchIndex: 7, nextIndex: 8, probeSent: false });
    expect(pr.isPaused()).toBe(false);
  });

  test('replicate state: messages advance nextIndex optimistically and fill the inflights', () => {
    const pr = progress('replicate', 4, 5, 2);
    pr.sentEntries(2, 6, 20);
    expect(pr.nextIndex).toBe(7);
    expect(pr.isPaused()).toBe(false);
    pr.sentEntries(1, 7, 10);
    expect(pr.isPaused()).toBe(true);
    expect(pr.inflights.count()).toBe(2);
    pr.sentEntries(0, 7, 0); // an empty message takes no slot
    expect(pr.inflights.count()).toBe(2);
  });

  test('maybeUpdate ignores old news and never lowers matchIndex', () => {
    const pr = progress('replicate', 5, 9);
    expect(pr.maybeUpdate(3)).toBe(false);
    expect(pr.maybeUpdate(5)).toBe(false);
    expect(pr).toMatchObject({ matchIndex: 5, nextIndex: 9 });
    expect(pr.maybeUpdate(7)).toBe(true);
    expect(pr).toMatchObject({ matchIndex: 7, nextIndex: 9 }); // nextIndex already past it
  });

  test('becomeProbe and becomeReplicate restart from just after matchIndex with empty inflights', () => {
    const pr = progress('replicate', 3, 4);
    pr.sentEntries(5, 8, 50);
    pr.becomeProbe();
    expect(pr).toMatchObject({ state: 'probe', nextIndex: 4, probeSent: false });
    expect(pr.inflights.count()).toBe(0);
    pr.sentEntries(5, 8, 50);
    pr.becomeReplicate();
    expect(pr).toMatchObject({ state: 'replicate', nextIndex: 4, probeSent: false });
  });

  describe('§5.3 maybeDecrTo (a rejection)', () => {
    test('probe state: nextIndex moves back to the hint, never below matchIndex + 1', () => {
      const pr = progress('probe', 2, 11);
      pr.sentEntries(1, 11, 1);
      expect(pr.maybeDecrTo(10, 6)).toBe(true);
      expect(pr).toMatchObject({ nextIndex: 7, probeSent: false });
      const low = progress('probe', 2, 11);
      expect(low.maybeDecrTo(10, 0)).toBe(true);
      expect(low.nextIndex).toBe(3);
    });

    test('probe state: a hint beyond the rejected index still moves nextIndex back by one at least', () => {
      const pr = progress('probe', 0, 11);
      expect(pr.maybeDecrTo(10, 50)).toBe(true);
      expect(pr.nextIndex).toBe(10);
    });

    test('probe state: a rejection of anything but the outstanding probe is stale', () => {
      const pr = progress('probe', 0, 11);
      expect(pr.maybeDecrTo(8, 0)).toBe(false);
      expect(pr.nextIndex).toBe(11);
    });

    test('replicate state: a rejection at or below matchIndex is stale; otherwise restart after matchIndex', () => {
      const pr = progress('replicate', 5, 12);
      expect(pr.maybeDecrTo(5, 0)).toBe(false);
      expect(pr.nextIndex).toBe(12);
      expect(pr.maybeDecrTo(9, 0)).toBe(true);
      expect(pr.nextIndex).toBe(6);
    });
  });
});
