import { describe, expect, test } from 'vitest';
import { Cluster, entry, noop } from './fixtures.js';

// Each monitor is shown to fire on a hand-built state that breaks its property,
// and to stay quiet on the closest legal state: a monitor that cannot fail is a defect.

describe('Election Safety (§5.2)', () => {
  test('two leaders in one term', () => {
    const c = new Cluster(3);
    expect(c.elect('n1', 2, [noop(1, 2)])).toEqual([]);
    c.grant(2, 'n2', 'n3');
    c.node('n2').set({ term: 2, vote: 'n2', role: 'leader', log: [noop(1, 2)] });
    const v = c.observe('n2');
    expect(v.map((x) => x.property)).toContain('Election Safety');
    expect(v.find((x) => x.property === 'Election Safety')!.message).toMatch(
      /n2 and n1 are both leaders of term 2/,
    );
  });

  test('leaders of different terms are fine', () => {
    const c = new Cluster(3);
    expect(c.elect('n1', 2, [noop(1, 2)])).toEqual([]);
    expect(c.elect('n2', 3, [noop(1, 2), noop(2, 3)])).toEqual([]);
  });

  test('a leader without a majority of granted votes', () => {
    const c = new Cluster(5);
    c.grant(4, 'n1', 'n2'); // 2 of 5 with its own
    c.node('n1').set({ term: 4, vote: 'n1', role: 'leader', log: [noop(1, 4)] });
    expect(c.observe('n1').map((x) => x.message)).toEqual([
      expect.stringMatching(/n1 leads term 4 with 2 vote\(s\).*majority is 3/),
    ]);
  });

  test('a leader that did not vote for itself', () => {
    const c = new Cluster(3);
    c.grant(2, 'n1', 'n2');
    c.node('n1').set({ term: 2, vote: 'n3', role: 'leader', log: [noop(1, 2)] });
    expect(c.observe('n1').map((x) => x.message)).toEqual([expect.stringMatching(/voted for n3/)]);
  });
});

describe('Leader Append-Only (§5.3)', () => {
  test('a leader overwriting its own entry', () => {
    const c = new Cluster(3);
    const log = [noop(1, 2), entry(2, 2)];
    expect(c.elect('n1', 2, log.slice(0, 1))).toEqual([]);
    c.node('n1').set({ log });
    expect(c.observe('n1')).toEqual([]);
    c.node('n1').set({ log: [log[0]!, entry(2, 2, 'other')] });
    expect(c.observe('n1').map((x) => x.property)).toContain('Leader Append-Only');
  });

  test('a leader deleting its tail', () => {
    const c = new Cluster(3);
    const log = [noop(1, 2), entry(2, 2)];
    c.elect('n1', 2, log.slice(0, 1));
    c.node('n1').set({ log });
    c.observe('n1');
    c.node('n1').set({ log: [log[0]!] });
    expect(c.observe('n1')).toEqual([expect.objectContaining({ property: 'Leader Append-Only' })]);
  });

  test('a leader appending is fine', () => {
    const c = new Cluster(3);
    const log = [noop(1, 2)];
    c.elect('n1', 2, log);
    c.node('n1').set({ log: [...log, entry(2, 2), entry(3, 2)] });
    expect(c.observe('n1')).toEqual([]);
  });
});

describe('Log Matching (§5.3)', () => {
  test('two different entries with the same index and term', () => {
    const c = new Cluster(3);
    c.node('n1').set({ term: 1, log: [entry(1, 1, 'a')] });
    c.node('n2').set({ term: 1, log: [entry(1, 1, 'b')] });
    expect(c.observe('n1')).toEqual([]);
    expect(c.observe('n2')).toEqual([expect.objectContaining({ property: 'Log Matching' })]);
  });

  test('a common entry after different predecessors', () => {
    const c = new Cluster(3);
    const shared = entry(2, 3);
    c.node('n1').set({ term: 3, log: [entry(1, 1), shared] });
    c.node('n2').set({ term: 3, log: [entry(1, 2), shared] });
    expect(c.observe('n1')).toEqual([]);
    expect(c.observe('n2').map((x) => x.message)).toEqual([
      expect.stringMatching(/logs differ before a common entry/),
    ]);
  });

  test('a follower deleting entries that did not conflict (truncating a matching suffix)', () => {
    const c = new Cluster(3);
    const log = [entry(1, 1), entry(2, 1), entry(3, 1)];
    c.node('n2').set({ term: 1, log });
    c.observe('n2');
    c.node('n2').set({ log: log.slice(0, 2) });
    expect(c.observe('n2').map((x) => x.message)).toEqual([
      expect.stringMatching(/deleted entries \[3\.\.3\]/),
    ]);
  });

  test('a follower replacing a conflicting suffix is fine', () => {
    const c = new Cluster(3);
    const log = [entry(1, 1), entry(2, 1), entry(3, 1)];
    c.node('n2').set({ term: 2, log });
    c.observe('n2');
    c.node('n2').set({ log: [log[0]!, entry(2, 2)] });
    expect(c.observe('n2')).toEqual([]);
  });

  test('terms decreasing along a log', () => {
    const c = new Cluster(3);
    c.node('n1').set({ term: 3, log: [entry(1, 3), entry(2, 2)] });
    expect(c.observe('n1').map((x) => x.message)).toContain('n1 has entry (2,2) after an entry of term 3');
  });

  test('a deep check finds a change in the middle of a log', () => {
    const c = new Cluster(3);
    const log = [entry(1, 1), entry(2, 1), entry(3, 1)];
    c.node('n1').set({ term: 1, log });
    c.observe('n1');
    c.node('n1').set({ log: [log[0]!, entry(2, 1, 'forged'), log[2]!] });
    expect(c.observe('n1')).toEqual([]); // the tail did not change: the fast path sees nothing
    c.monitor.finalCheck();
    expect(c.properties()).toContain('Log Matching');
  });
});

describe('Leader Completeness (§5.4)', () => {
  /** n1 leads term 1 and commits (1,1) and (2,1), durable on n1 and n2. */
  function committedInTerm1(): Cluster {
    const c = new Cluster(3);
    const log = [noop(1, 1), entry(2, 1)];
    expect(c.elect('n1', 1, log.slice(0, 1))).toEqual([]);
    c.node('n1').set({ log, commit: 2 }).persist();
    c.node('n2').set({ term: 1, vote: 'n1', log }).persist();
    expect(c.observe('n1')).toEqual([]);
    return c;
  }

  test('a new leader missing a committed entry', () => {
    const c = committedInTerm1();
    const v = c.elect('n3', 2, [noop(1, 1), noop(2, 2)]);
    expect(v.map((x) => x.property)).toEqual(['Leader Completeness']);
    expect(v[0]!.message).toMatch(/n3 became leader of term 2 without entry \(2,1\) committed in term 1/);
  });

  test('a new leader holding every committed entry is fine', () => {
    const c = committedInTerm1();
    const log = [...[1, 2].map((i) => c.node('n1').raft!.log.entry(i)!), noop(3, 2)];
    expect(c.elect('n3', 2, log)).toEqual([]);
  });

  test('an entry committed in a term is missing from a leader of a later term already in office', () => {
    const c = new Cluster(3);
    const base = noop(1, 1);
    c.elect('n1', 1, [base]);
    // n3 leads term 2 with a log that lacks (2,1); then n1, stale leader of term 1, commits (2,1).
    expect(c.elect('n3', 2, [base, noop(2, 2)])).toEqual([]);
    const log = [base, entry(2, 1)];
    c.node('n1').set({ log, commit: 2 }).persist();
    c.node('n2').set({ term: 1, vote: 'n1', log }).persist();
    expect(c.observe('n1').map((x) => x.message)).toContain(
      'entry (2,1) committed in term 1 is missing from the log of n3, leader of later term 2',
    );
  });
});

describe('State Machine Safety (§5.4.3)', () => {
  test('two servers committing different entries at one index', () => {
    const c = new Cluster(3);
    const a = noop(1, 1);
    c.elect('n1', 1, [a], 0);
    c.node('n1').set({ commit: 1 }).persist();
    c.node('n2')
      .set({ term: 1, log: [a] })
      .persist();
    expect(c.observe('n1')).toEqual([]);
    c.node('n3').set({ term: 2, log: [noop(1, 2)], commit: 1 });
    expect(c.observe('n3').map((x) => x.property)).toContain('State Machine Safety');
  });

  test('applying out of order, or an entry nobody committed', () => {
    const c = new Cluster(1);
    const n1 = c.node('n1');
    c.monitor.onApply(n1, [entry(2, 1)]);
    expect(c.properties()).toEqual(['State Machine Safety', 'State Machine Safety']);
    expect(c.monitor.violations[0]!.message).toMatch(/applied entry 2 after entry 0/);
    expect(c.monitor.violations[1]!.message).toMatch(/that no server committed/);
  });

  test('a server deleting a committed entry from its log', () => {
    const c = new Cluster(1);
    const log = [noop(1, 1), entry(2, 1)];
    c.elect('n1', 1, log.slice(0, 1), 0);
    c.node('n1').set({ log, commit: 2 }).persist();
    expect(c.observe('n1')).toEqual([]);
    c.node('n1').set({ role: 'follower', term: 2, log: [log[0]!, entry(2, 2)], commit: 2 });
    expect(c.observe('n1').map((x) => x.message)).toContain(
      'n1 deleted committed entry (2,1) (its commit index 2)',
    );
  });

  test('a write overwriting a committed entry on disk', () => {
    const c = new Cluster(3);
    const n1 = c.node('n1');
    c.monitor.onDurable(n1, {
      previous: { term: 1, vote: 'n1', commit: 3 },
      hardState: null,
      entries: [entry(3, 2)],
      overwritten: [entry(3, 1)],
    });
    expect(c.properties()).toEqual(['State Machine Safety']);
  });

  test('a committed entry no longer durable on a majority', () => {
    const c = new Cluster(3);
    const log = [noop(1, 1)];
    c.elect('n1', 1, log, 0);
    c.node('n1').set({ commit: 1 }).persist();
    c.node('n2').set({ term: 1, log }).persist();
    c.observe('n1');
    expect(c.properties()).toEqual([]);
    c.node('n2').disk.log = [];
    c.monitor.finalCheck();
    expect(c.properties()).toContain('State Machine Safety');
  });
});

describe('monotonic terms, commits and votes', () => {
  test('a term going back', () => {
    const c = new Cluster(3);
    c.node('n1').set({ term: 3 });
    c.observe('n1');
    c.node('n1').set({ term: 2 });
    expect(c.observe('n1')).toEqual([expect.objectContaining({ property: 'Monotonic Term' })]);
  });

  test('a commit index going back', () => {
    const c = new Cluster(1);
    c.elect('n1', 1, [noop(1, 1)]);
    c.node('n1').set({ commit: 1 }).persist();
    c.observe('n1');
    c.node('n1').set({ commit: 0 });
    expect(c.observe('n1')).toEqual([expect.objectContaining({ property: 'Monotonic Commit' })]);
  });

  test('a restart resets nothing it must not: the durable term, vote and commit never regress', () => {
    const c = new Cluster(3);
    const n1 = c.node('n1');
    const w = (
      previous: { term: number; vote: string | null; commit: number },
      term: number,
      vote: string | null,
      commit: number,
    ) =>
      c.monitor.onDurable(n1, { previous, hardState: { term, vote, commit }, entries: [], overwritten: [] });
    w({ term: 3, vote: 'n2', commit: 5 }, 3, 'n2', 6);
    expect(c.properties()).toEqual([]);
    w({ term: 3, vote: 'n2', commit: 5 }, 2, 'n2', 5);
    w({ term: 3, vote: 'n2', commit: 5 }, 3, 'n3', 5);
    w({ term: 3, vote: 'n2', commit: 5 }, 3, 'n2', 4);
    expect(c.properties()).toEqual(['Monotonic Term', 'Single Vote', 'Monotonic Commit']);
  });

  test('a vote changing within a term in memory', () => {
    const c = new Cluster(3);
    c.node('n3').set({ term: 2, vote: 'n1' });
    c.observe('n3');
    c.node('n3').set({ vote: 'n2' });
    expect(c.observe('n3')).toEqual([expect.objectContaining({ property: 'Single Vote' })]);
  });
});

describe('votes on the wire (§5.2, §5.4.1)', () => {
  test('two grants in one term to two candidates, even across a crash', () => {
    const c = new Cluster(3);
    c.grant(5, 'n1', 'n3');
    c.node('n3').incarnation++;
    c.grant(5, 'n1', 'n3'); // a duplicate answer is fine
    expect(c.properties()).toEqual([]);
    c.grant(5, 'n2', 'n3');
    expect(c.monitor.violations.map((v) => v.message)).toEqual([
      'n3 granted its vote in term 5 to n1 and then to n2',
    ]);
  });

  test('a vote sent before it is durable (replying before persisting)', () => {
    const c = new Cluster(3);
    const n3 = c.node('n3');
    n3.disk.hardState = { term: 4, vote: null, commit: 0 };
    c.monitor.onSend(n3, { type: 'RequestVoteResponse', from: 'n3', to: 'n1', term: 5, granted: true });
    n3.disk.hardState = { term: 5, vote: null, commit: 0 };
    c.monitor.onSend(n3, { type: 'RequestVoteResponse', from: 'n3', to: 'n1', term: 5, granted: true });
    expect(c.properties()).toEqual(['Durability', 'Durability']);
    c.monitor.onSend(n3, { type: 'RequestVoteResponse', from: 'n3', to: 'n1', term: 5, granted: false });
    expect(c.properties()).toHaveLength(2);
  });

  test('an append acknowledged before it is durable', () => {
    const c = new Cluster(3);
    const n2 = c.node('n2');
    n2.disk.hardState = { term: 2, vote: null, commit: 0 };
    n2.disk.log = [entry(1, 1)];
    const ack = (index: number) =>
      c.monitor.onSend(n2, {
        type: 'AppendEntriesResponse',
        from: 'n2',
        to: 'n1',
        term: 2,
        success: true,
        index,
        hintIndex: 0,
        hintTerm: 0,
      });
    ack(1);
    expect(c.properties()).toEqual([]);
    ack(2);
    expect(c.properties()).toEqual(['Durability']);
  });

  test('a vote for a candidate whose log is behind (skipping the up-to-date check)', () => {
    const c = new Cluster(3);
    const n2 = c.node('n2').set({ term: 3, log: [entry(1, 1), entry(2, 2)] });
    const rv = (lastLogIndex: number, lastLogTerm: number) =>
      c.monitor.onVoteGranted(n2, {
        type: 'RequestVote',
        from: 'n1',
        to: 'n2',
        term: 4,
        lastLogIndex,
        lastLogTerm,
        transfer: false,
      });
    rv(2, 2);
    rv(1, 3);
    expect(c.properties()).toEqual([]);
    rv(5, 1);
    rv(1, 2);
    expect(c.properties()).toEqual(['Election Restriction', 'Election Restriction']);
  });
});

describe('Durability and the Commit Rule (§5.4.2)', () => {
  test('committing an index durable on a minority only', () => {
    const c = new Cluster(3);
    const log = [noop(1, 1)];
    c.elect('n1', 1, log, 0);
    c.node('n1').set({ commit: 1 }); // not persisted anywhere
    expect(c.observe('n1').map((x) => x.message)).toEqual([
      'index 1 (term 1) committed by n1 while durable on only 0 of 3 servers',
    ]);
  });

  test('a leader committing an entry of an earlier term by counting replicas', () => {
    const c = new Cluster(3);
    const old = entry(1, 1);
    const log = [old, noop(2, 3)];
    expect(c.elect('n1', 3, log, 0)).toEqual([]);
    c.node('n1').set({ commit: 1 }).persist();
    c.node('n2').set({ term: 3, log }).persist();
    expect(c.observe('n1').map((x) => x.property)).toEqual(['Commit Rule']);
  });

  test('a leader committing through an entry of its own term is fine', () => {
    const c = new Cluster(3);
    const log = [entry(1, 1), noop(2, 3)];
    c.elect('n1', 3, log, 0);
    c.node('n1').set({ commit: 2 }).persist();
    c.node('n2').set({ term: 3, log }).persist();
    expect(c.observe('n1')).toEqual([]);
  });

  test('a follower committing what no leader committed', () => {
    const c = new Cluster(3);
    const log = [entry(1, 1)];
    c.node('n2').set({ term: 1, log, commit: 1 }).persist();
    c.node('n3').set({ term: 1, log }).persist();
    expect(c.observe('n2').map((x) => x.message)).toContain(
      'n2, a follower, committed index 1 before any leader did',
    );
  });
});

describe('Term Rule (§5.1)', () => {
  const heartbeat = { type: 'Heartbeat', from: 'n2', to: 'n1', term: 5, commit: 0, readRound: 0 } as const;

  test('keeping an older term after hearing a higher one (not stepping down)', () => {
    const c = new Cluster(3);
    c.elect('n1', 3, [noop(1, 3)]);
    expect(c.observe('n1', heartbeat)).toEqual([expect.objectContaining({ property: 'Term Rule' })]);
  });

  test('adopting the term but still leading', () => {
    const c = new Cluster(3);
    c.elect('n1', 3, [noop(1, 3)]);
    c.node('n1').set({ term: 5, vote: null });
    const v = c.observe('n1', {
      type: 'AppendEntriesResponse',
      from: 'n2',
      to: 'n1',
      term: 5,
      success: false,
      index: 0,
      hintIndex: 0,
      hintTerm: 0,
    });
    expect(v.map((x) => x.message)).toContain(
      'n1 received AppendEntriesResponse of higher term 5 from n2 and still leads',
    );
  });

  test('a candidate not yielding to the leader of its term', () => {
    const c = new Cluster(3);
    c.node('n1').set({ term: 5, vote: 'n1', role: 'candidate' });
    c.observe('n1');
    expect(c.observe('n1', heartbeat).map((x) => x.property)).toEqual(['Term Rule']);
  });

  test('stepping down is fine; a vote request within a lease may be ignored', () => {
    const c = new Cluster(3);
    c.elect('n1', 3, [noop(1, 3)]);
    c.node('n1').set({ term: 5, vote: null, role: 'follower' });
    expect(c.observe('n1', heartbeat)).toEqual([]);
    const rv = {
      type: 'RequestVote',
      from: 'n3',
      to: 'n1',
      term: 9,
      lastLogIndex: 0,
      lastLogTerm: 0,
      transfer: false,
    } as const;
    expect(c.observe('n1', rv)).toEqual([]);
  });
});

describe('Leader No-op (§8) and Client Integrity', () => {
  test('a new leader without a no-op of its term (forgetting the no-op)', () => {
    const c = new Cluster(3);
    expect(c.elect('n1', 2, [entry(1, 1)]).map((x) => x.property)).toEqual(['Leader No-op']);
  });

  test('a committed command no client proposed, or not where its leader put it', () => {
    const c = new Cluster(1, true);
    const accepted = entry(2, 1, 'c1');
    const log = [noop(1, 1), accepted, entry(3, 1, 'forged')];
    c.elect('n1', 1, [log[0]!], 0);
    c.node('n1').set({ log: log.slice(0, 2) });
    c.observe('n1');
    c.monitor.onProposeAccepted(c.node('n1'), [accepted.data], {
      isLeader: true,
      term: 1,
      index: 2,
      leaderId: 'n1',
    });
    expect(c.properties()).toEqual([]);
    c.monitor.onProposeAccepted(c.node('n1'), [new Uint8Array([1])], {
      isLeader: true,
      term: 1,
      index: 9,
      leaderId: 'n1',
    });
    expect(c.monitor.violations.map((v) => v.message)).toEqual([
      'n1 accepted a command at (9,1) but its log holds nothing there',
    ]);
    c.node('n1').set({ log, commit: 3 }).persist();
    expect(c.observe('n1').map((x) => x.message)).toEqual([
      'committed entry (3,1) carries a command no client proposed',
    ]);
  });
});
