// Leader election, rule by rule (§5.1 terms, §5.2 elections, §5.4.1 the
// election restriction), in the spirit of etcd-io/raft's raft_paper_test.go:
// one node driven message by message, the test playing every other server.
import { describe, expect, test } from 'vitest';
import type { Message } from '../src/index.js';
import {
  advanceUntil,
  collect,
  elect,
  grant,
  msg,
  ofType,
  pastBootLease,
  persisted,
  type Solo,
  sent,
  solo,
} from './harness.js';

const five = ['n1', 'n2', 'n3', 'n4', 'n5'];

/**
 * inRole puts n1 (log [1], term 2) in `role`; a leader is elected at term 3.
 * CheckQuorum is off: with it, a leader ignores a later-term RequestVote while
 * its lease holds (§9.6; see prevote-checkquorum.test.ts).
 */
function inRole(role: 'precandidate' | 'candidate' | 'leader'): Solo {
  const s = solo({
    preVote: role === 'precandidate',
    checkQuorum: false,
    persisted: persisted([1], { term: 2 }),
  });
  if (role === 'leader') elect(s);
  else advanceUntil(s.clock, () => s.node.status().role === role);
  collect(s.node);
  return s;
}

/** Messages of term 9, from n2, of every type that carries a term to be adopted (§5.1). */
const higherTerm: Message[] = [
  msg('AppendEntries', {
    from: 'n2',
    to: 'n1',
    term: 9,
    prevLogIndex: 0,
    prevLogTerm: 0,
    entries: [],
    leaderCommit: 0,
  }),
  msg('Heartbeat', { from: 'n2', to: 'n1', term: 9, commit: 0, readRound: 0 }),
  msg('RequestVote', { from: 'n2', to: 'n1', term: 9, lastLogIndex: 0, lastLogTerm: 0, transfer: false }),
  msg('RequestVoteResponse', { from: 'n2', to: 'n1', term: 9, granted: false }),
  msg('PreVoteResponse', { from: 'n2', to: 'n1', term: 9, granted: false }),
  msg('AppendEntriesResponse', {
    from: 'n2',
    to: 'n1',
    term: 9,
    success: false,
    index: 0,
    hintIndex: 0,
    hintTerm: 0,
  }),
  msg('HeartbeatResponse', { from: 'n2', to: 'n1', term: 9, readRound: 0 }),
];

describe('§5.1 terms', () => {
  for (const role of ['precandidate', 'candidate', 'leader'] as const) {
    test.each(higherTerm.map((m) => [m.type, m] as const))(
      `§5.1 a ${role} that gets a %s of a higher term becomes a follower of that term`,
      (_type, m) => {
        const { node } = inRole(role);
        expect(node.status().role).toBe(role);
        node.step(m);
        expect(node.status()).toMatchObject({ role: 'follower', term: 9 });
        // The new term is persisted, and any vote cast in it is fresh.
        const rd = collect(node);
        expect(rd.hardState?.term).toBe(9);
        expect(rd.hardState?.vote).toBeNull();
        expect(node.status().leaderId).toBe(
          m.type === 'AppendEntries' || m.type === 'Heartbeat' ? 'n2' : null,
        );
      },
    );
  }

  test('§5.1 a follower adopts the higher term of any RPC, even of a response', () => {
    const { node } = solo({ persisted: persisted([1], { term: 2 }) });
    node.step(msg('RequestVoteResponse', { from: 'n2', to: 'n1', term: 7, granted: false }));
    expect(node.status()).toMatchObject({ role: 'follower', term: 7, vote: null });
    expect(collect(node).hardState).toEqual({ term: 7, vote: null, commit: 0 });
  });

  test('§9.6 a PreVote for a later term changes no one’s term or vote', () => {
    const preVote = msg('PreVote', { from: 'n2', to: 'n1', term: 9, lastLogIndex: 5, lastLogTerm: 5 });
    for (const role of ['precandidate', 'candidate', 'leader'] as const) {
      const { node } = inRole(role);
      const before = node.status();
      node.step(preVote);
      expect(node.status(), role).toMatchObject({ role, term: before.term, vote: before.vote });
      const rd = collect(node);
      expect(rd.hardState, role).toBeNull();
      expect(ofType(rd.messages, 'PreVoteResponse'), role).toEqual([
        { type: 'PreVoteResponse', from: 'n1', to: 'n2', term: 9, granted: true },
      ]);
    }
  });

  test('§5.1 a stale-term request is refused and answered with the current term', () => {
    const { node } = solo({ persisted: persisted([1, 1, 2], { term: 5 }) });
    const stale: Message[] = [
      msg('AppendEntries', {
        from: 'n2',
        to: 'n1',
        term: 4,
        prevLogIndex: 3,
        prevLogTerm: 2,
        entries: [{ index: 4, term: 4, type: 'normal', data: new Uint8Array([1]) }],
        leaderCommit: 4,
      }),
      msg('Heartbeat', { from: 'n2', to: 'n1', term: 4, commit: 3, readRound: 0 }),
      msg('RequestVote', { from: 'n2', to: 'n1', term: 4, lastLogIndex: 9, lastLogTerm: 4, transfer: false }),
      msg('PreVote', { from: 'n2', to: 'n1', term: 4, lastLogIndex: 9, lastLogTerm: 4 }),
    ];
    for (const m of stale) {
      node.step(m);
      const rd = collect(node);
      // Nothing changes: no entry appended, no commit, no vote, no leader.
      expect(rd.hardState, m.type).toBeNull();
      expect(rd.entries, m.type).toEqual([]);
      expect(node.status(), m.type).toMatchObject({
        term: 5,
        vote: null,
        leaderId: null,
        lastLogIndex: 3,
        commitIndex: 0,
      });
      // One answer, carrying our term, so the stale sender learns it is behind.
      const answers = sent(rd);
      expect(answers, m.type).toHaveLength(1);
      expect(answers[0], m.type).toMatchObject({ to: 'n2', term: 5 });
      if ('granted' in answers[0]!) expect(answers[0].granted, m.type).toBe(false);
      // Answered in kind: a request gets the response of its own type.
      expect(answers[0]!.type, m.type).toBe(`${m.type}Response`);
    }
  });

  test('§5.1 a leader ignores a stale-term AppendEntriesResponse', () => {
    const s = solo({ persisted: persisted([1], { term: 1 }), preVote: false });
    elect(s); // term 2, no-op at index 2, durable
    const { node } = s;
    node.step(
      msg('AppendEntriesResponse', {
        from: 'n2',
        to: 'n1',
        term: 1,
        success: true,
        index: 2,
        hintIndex: 0,
        hintTerm: 0,
      }),
    );
    expect(node.status()).toMatchObject({ role: 'leader', term: 2, commitIndex: 0 });
  });

  test('§5.1 terms never decrease: stale messages of every type leave the term alone', () => {
    for (const role of ['precandidate', 'candidate', 'leader'] as const) {
      const { node } = inRole(role);
      const term = node.status().term;
      for (const m of higherTerm) {
        const stale = { ...m, term: 1 } as Message;
        if (stale.type === 'AppendEntries' || stale.type === 'Heartbeat') continue; // would be answered; covered above
        node.step(stale);
        expect(node.status().term, `${role} after ${m.type}`).toBe(term);
        expect(node.status().role, `${role} after ${m.type}`).toBe(role);
      }
      const rd = collect(node);
      expect(rd.hardState === null || rd.hardState.term === term, role).toBe(true);
    }
  });
});

describe('§5.2 leader election', () => {
  test('§5.2 a follower starts an election after its randomized timeout, within [150, 300) ms', () => {
    for (let seed = 1; seed <= 20; seed++) {
      const { node, clock } = solo({ preVote: false, seed });
      const elapsed = advanceUntil(clock, () => node.status().role === 'candidate');
      expect(elapsed, `seed ${seed}`).toBeGreaterThanOrEqual(150);
      expect(elapsed, `seed ${seed}`).toBeLessThan(300);
      expect(node.status().term).toBe(1);
    }
  });

  test('§5.2 a follower that keeps hearing from a leader never starts an election', () => {
    const { node, clock } = solo({ preVote: false });
    for (let t = 0; t < 2000; t += 100) {
      node.step(msg('Heartbeat', { from: 'n2', to: 'n1', term: 1, commit: 0, readRound: 0 }));
      clock.advance(100);
      expect(node.status().role, `at ${clock.now} ms`).toBe('follower');
    }
    collect(node);
    // Silence: the next election comes within one election timeout.
    const elapsed = advanceUntil(clock, () => node.status().role === 'candidate');
    expect(elapsed).toBeLessThan(300);
    expect(node.status().term).toBe(2);
  });

  test('§5.2 randomized election timeouts differ across nodes and across elections', () => {
    const firsts: number[] = [];
    for (let seed = 1; seed <= 8; seed++) {
      const { node, clock } = solo({ preVote: false, seed });
      firsts.push(advanceUntil(clock, () => node.status().role === 'candidate'));
    }
    expect(new Set(firsts).size, `first timeouts ${firsts}`).toBeGreaterThanOrEqual(4);

    // One candidate that never gets an answer: each new election draws a fresh timeout.
    const { node, clock } = solo({ preVote: false, seed: 3 });
    advanceUntil(clock, () => node.status().term === 1);
    const rounds: number[] = [];
    for (let term = 2; term <= 7; term++) rounds.push(advanceUntil(clock, () => node.status().term === term));
    for (const r of rounds) expect(r).toBeGreaterThanOrEqual(150);
    for (const r of rounds) expect(r).toBeLessThan(300);
    expect(new Set(rounds).size, `successive timeouts ${rounds}`).toBeGreaterThanOrEqual(3);
  });

  test('§9.6 with PreVote a follower is a precandidate first and keeps its term until a PreVote quorum', () => {
    const { node, clock } = solo({ voters: five, persisted: persisted([1, 1], { term: 1 }) });
    const elapsed = advanceUntil(clock, () => node.status().role !== 'follower');
    expect(elapsed).toBeGreaterThanOrEqual(150);
    expect(elapsed).toBeLessThan(300);
    expect(node.status()).toMatchObject({ role: 'precandidate', term: 1, vote: null });
    let rd = collect(node);
    expect(rd.hardState).toBeNull(); // nothing to persist: no term, no vote
    expect(ofType(rd.messages, 'RequestVote')).toEqual([]);
    const preVotes = ofType(rd.messages, 'PreVote');
    expect(preVotes.map((m) => m.to)).toEqual(['n2', 'n3', 'n4', 'n5']);
    for (const m of preVotes) expect(m).toMatchObject({ term: 2, lastLogIndex: 2, lastLogTerm: 1 });

    node.step(grant(preVotes[0]!));
    node.step(grant(preVotes[0]!)); // a duplicate counts once
    expect(node.status()).toMatchObject({ role: 'precandidate', term: 1 });
    expect(collect(node).hardState).toBeNull();

    node.step(grant(preVotes[1]!)); // n1, n2, n3: a majority of five
    expect(node.status()).toMatchObject({ role: 'candidate', term: 2, vote: 'n1' });
    rd = collect(node);
    expect(rd.hardState).toEqual({ term: 2, vote: 'n1', commit: 0 });
    expect(ofType(rd.messages, 'RequestVote').map((m) => [m.to, m.term])).toEqual([
      ['n2', 2],
      ['n3', 2],
      ['n4', 2],
      ['n5', 2],
    ]);
  });

  test('§9.6 pre-votes and votes are never mixed: a late PreVote grant is not a vote', () => {
    const { node, clock } = solo({ voters: five, persisted: persisted([1], { term: 1 }) });
    advanceUntil(clock, () => node.status().role === 'precandidate');
    const preVotes = ofType(collect(node).messages, 'PreVote');
    for (const m of preVotes.slice(0, 2)) node.step(grant(m));
    expect(node.status()).toMatchObject({ role: 'candidate', term: 2 });
    // n4 and n5 answer the PreVote late: the candidate of term 2 still has only its own vote.
    for (const m of preVotes.slice(2)) node.step(grant(m));
    expect(node.status().role).toBe('candidate');
    // Nor does a precandidate (now pre-voting for term 3) count a vote granted in term 2,
    // or a PreVote grant for term 2.
    advanceUntil(clock, () => node.status().role === 'precandidate');
    expect(node.status().term).toBe(2);
    node.step(msg('RequestVoteResponse', { from: 'n2', to: 'n1', term: 2, granted: true }));
    node.step(msg('PreVoteResponse', { from: 'n3', to: 'n1', term: 2, granted: true }));
    expect(node.status()).toMatchObject({ role: 'precandidate', term: 2 });
    node.step(msg('PreVoteResponse', { from: 'n4', to: 'n1', term: 3, granted: true }));
    expect(node.status()).toMatchObject({ role: 'precandidate', term: 2 });
    node.step(msg('PreVoteResponse', { from: 'n5', to: 'n1', term: 3, granted: true }));
    expect(node.status()).toMatchObject({ role: 'candidate', term: 3 });
  });

  test('§9.6 a precandidate refused by a majority returns to follower without raising its term', () => {
    const { node, clock } = solo({ persisted: persisted([1], { term: 1 }) });
    advanceUntil(clock, () => node.status().role === 'precandidate');
    collect(node);
    for (const from of ['n2', 'n3']) {
      node.step(msg('PreVoteResponse', { from, to: 'n1', term: 1, granted: false }));
    }
    expect(node.status()).toMatchObject({ role: 'follower', term: 1, vote: null });
    expect(collect(node).hardState).toBeNull();
  });

  test('§5.2 a candidate votes for itself and persists term and vote before its RequestVotes are released', () => {
    const { node, clock } = solo({ preVote: false });
    advanceUntil(clock, () => node.status().role === 'candidate');
    const rd = node.ready();
    expect(rd.hardState).toEqual({ term: 1, vote: 'n1', commit: 0 });
    // Same Ready, and in `messages` (sent after the hard state is durable), never in earlyMessages.
    expect(rd.earlyMessages).toEqual([]);
    expect(ofType(rd.messages, 'RequestVote')).toEqual([
      {
        type: 'RequestVote',
        from: 'n1',
        to: 'n2',
        term: 1,
        lastLogIndex: 0,
        lastLogTerm: 0,
        transfer: false,
      },
      {
        type: 'RequestVote',
        from: 'n1',
        to: 'n3',
        term: 1,
        lastLogIndex: 0,
        lastLogTerm: 0,
        transfer: false,
      },
    ]);
  });

  test('§5.2 a candidate wins once a majority grants its vote, each voter counted once', () => {
    const { node, clock } = solo({ voters: five, preVote: false });
    advanceUntil(clock, () => node.status().role === 'candidate');
    const requests = ofType(collect(node).messages, 'RequestVote');
    node.step(grant(requests[0]!)); // n2
    node.step(grant(requests[0]!)); // n2 again
    node.step(msg('RequestVoteResponse', { from: 'n4', to: 'n1', term: 0, granted: true })); // stale
    expect(node.status().role).toBe('candidate');
    node.step(grant(requests[1]!)); // n3: n1, n2, n3 are three of five
    expect(node.status()).toMatchObject({ role: 'leader', term: 1, leaderId: 'n1' });
  });

  test('§5.2 a candidate that a majority refuses returns to follower', () => {
    const { node, clock } = solo({ voters: five, preVote: false });
    advanceUntil(clock, () => node.status().role === 'candidate');
    collect(node);
    for (const from of ['n2', 'n3']) {
      node.step(msg('RequestVoteResponse', { from, to: 'n1', term: 1, granted: false }));
      expect(node.status().role).toBe('candidate');
    }
    node.step(msg('RequestVoteResponse', { from: 'n4', to: 'n1', term: 1, granted: false }));
    expect(node.status()).toMatchObject({ role: 'follower', term: 1, vote: 'n1' });
  });

  test('§5.2 a candidate steps down when it hears from a leader of its own term', () => {
    for (const type of ['AppendEntries', 'Heartbeat'] as const) {
      const { node, clock } = solo({ preVote: false });
      advanceUntil(clock, () => node.status().role === 'candidate');
      collect(node);
      // A leader of an older term does not count.
      const stale =
        type === 'AppendEntries'
          ? msg(type, {
              from: 'n2',
              to: 'n1',
              term: 0,
              prevLogIndex: 0,
              prevLogTerm: 0,
              entries: [],
              leaderCommit: 0,
            })
          : msg(type, { from: 'n2', to: 'n1', term: 0, commit: 0, readRound: 0 });
      node.step(stale);
      expect(node.status().role, type).toBe('candidate');
      node.step({ ...stale, term: 1 });
      expect(node.status(), type).toMatchObject({ role: 'follower', term: 1, leaderId: 'n2', vote: 'n1' });
    }
  });

  test('§5.2 after a split vote a candidate starts a new election after another randomized timeout', () => {
    const { node, clock } = solo({ voters: five, preVote: false });
    advanceUntil(clock, () => node.status().role === 'candidate');
    collect(node);
    node.step(msg('RequestVoteResponse', { from: 'n2', to: 'n1', term: 1, granted: true }));
    node.step(msg('RequestVoteResponse', { from: 'n3', to: 'n1', term: 1, granted: false }));
    node.step(msg('RequestVoteResponse', { from: 'n4', to: 'n1', term: 1, granted: false }));
    expect(node.status().role).toBe('candidate'); // 2 for, 2 against, n5 silent: undecided
    const elapsed = advanceUntil(clock, () => node.status().term === 2);
    expect(elapsed).toBeGreaterThanOrEqual(150);
    expect(elapsed).toBeLessThan(300);
    expect(node.status()).toMatchObject({ role: 'candidate', vote: 'n1' });
    const rd = collect(node);
    expect(rd.hardState).toEqual({ term: 2, vote: 'n1', commit: 0 });
    expect(ofType(rd.messages, 'RequestVote')).toHaveLength(4);
    // Votes of the old election do not carry over: n2's grant was for term 1.
    node.step(msg('RequestVoteResponse', { from: 'n3', to: 'n1', term: 2, granted: true }));
    node.step(msg('RequestVoteResponse', { from: 'n4', to: 'n1', term: 1, granted: true }));
    expect(node.status().role).toBe('candidate');
  });

  test('§5.2 a follower votes for at most one candidate per term, first come first served', () => {
    const s = solo({ preVote: false });
    const { node } = s;
    pastBootLease(s);
    const ask = (from: string) =>
      msg('RequestVote', { from, to: 'n1', term: 1, lastLogIndex: 0, lastLogTerm: 0, transfer: false });
    node.step(ask('n2'));
    let rd = node.ready();
    // The vote is persisted in the same Ready as the response, which waits in `messages`.
    expect(rd.hardState).toEqual({ term: 1, vote: 'n2', commit: 0 });
    expect(rd.earlyMessages).toEqual([]);
    expect(rd.messages).toEqual([
      { type: 'RequestVoteResponse', from: 'n1', to: 'n2', term: 1, granted: true },
    ]);
    node.advance(rd);

    node.step(ask('n3'));
    rd = collect(node);
    expect(rd.hardState).toBeNull();
    expect(rd.messages).toEqual([
      { type: 'RequestVoteResponse', from: 'n1', to: 'n3', term: 1, granted: false },
    ]);

    node.step(ask('n2')); // a retransmission of the first request is granted again
    expect(ofType(collect(node).messages, 'RequestVoteResponse')[0]?.granted).toBe(true);
    expect(node.status().vote).toBe('n2');
  });

  test('§5.2 a candidate does not vote for another candidate of its own term', () => {
    const { node, clock } = solo({ preVote: false });
    advanceUntil(clock, () => node.status().role === 'candidate');
    collect(node);
    node.step(
      msg('RequestVote', { from: 'n2', to: 'n1', term: 1, lastLogIndex: 5, lastLogTerm: 1, transfer: false }),
    );
    expect(ofType(collect(node).messages, 'RequestVoteResponse')).toEqual([
      { type: 'RequestVoteResponse', from: 'n1', to: 'n2', term: 1, granted: false },
    ]);
    expect(node.status()).toMatchObject({ role: 'candidate', vote: 'n1' });
  });

  test('§5.2 the vote survives a restart: a restarted follower refuses a second candidate of the term', () => {
    const first = solo({ preVote: false, persisted: persisted([1, 1], { term: 1 }) });
    pastBootLease(first);
    first.node.step(
      msg('RequestVote', { from: 'n2', to: 'n1', term: 2, lastLogIndex: 2, lastLogTerm: 1, transfer: false }),
    );
    const hardState = collect(first.node).hardState!;
    expect(hardState).toEqual({ term: 2, vote: 'n2', commit: 0 });
    first.node.stop(); // crash

    const restarted = solo({ preVote: false, persisted: { ...persisted([1, 1]), hardState } });
    const { node } = restarted;
    expect(node.status()).toMatchObject({ term: 2, vote: 'n2' });
    pastBootLease(restarted);
    node.step(
      msg('RequestVote', { from: 'n3', to: 'n1', term: 2, lastLogIndex: 2, lastLogTerm: 1, transfer: false }),
    );
    expect(ofType(collect(node).messages, 'RequestVoteResponse')[0]).toMatchObject({
      granted: false,
      term: 2,
    });
    node.step(
      msg('RequestVote', { from: 'n2', to: 'n1', term: 2, lastLogIndex: 2, lastLogTerm: 1, transfer: false }),
    );
    expect(ofType(collect(node).messages, 'RequestVoteResponse')[0]).toMatchObject({
      granted: true,
      term: 2,
    });
  });

  test('§5.2 a leader sends heartbeats to every follower well within the election timeout', () => {
    const s = solo({ preVote: false });
    elect(s);
    s.clock.advance(50);
    const beats = ofType(collect(s.node).earlyMessages, 'Heartbeat');
    expect(beats.map((m) => [m.to, m.term])).toEqual([
      ['n2', 1],
      ['n3', 1],
    ]);
  });
});

describe('§5.2 a candidate counts its own vote only once it is durable', () => {
  test('a sole server does not lead until its term and vote are on disk, and never leads one term twice', () => {
    const { node, clock } = solo({ voters: ['n1'], preVote: false });
    advanceUntil(clock, () => node.status().role === 'candidate');
    const rd = node.ready();
    expect(rd.hardState).toMatchObject({ term: 1, vote: 'n1' });
    // Not yet durable: no leader, so no proposal can be accepted in term 1.
    expect(node.status().role).toBe('candidate');
    expect(node.propose([new Uint8Array([1])]).isLeader).toBe(false);
    node.advance(rd);
    expect(node.status()).toMatchObject({ role: 'leader', term: 1 });

    // Had it crashed before the write, the restarted server would find term 0 and
    // campaign for term 1 again; with the write, it campaigns for term 2.
    const restarted = solo({
      voters: ['n1'],
      preVote: false,
      persisted: persisted([], { term: 1, vote: 'n1' }),
    });
    advanceUntil(restarted.clock, () => restarted.node.status().role === 'candidate');
    expect(restarted.node.status().term).toBe(2);
  });
});

describe('§5.4.1 election restriction', () => {
  // The voter's log: [1, 1, 2], so its last entry is (index 3, term 2).
  const cases = [
    { lastLogIndex: 10, lastLogTerm: 1, granted: false, why: 'lower last term, though longer' },
    { lastLogIndex: 2, lastLogTerm: 2, granted: false, why: 'same last term, shorter' },
    { lastLogIndex: 0, lastLogTerm: 0, granted: false, why: 'empty log' },
    { lastLogIndex: 3, lastLogTerm: 2, granted: true, why: 'same last term, same length' },
    { lastLogIndex: 4, lastLogTerm: 2, granted: true, why: 'same last term, longer' },
    { lastLogIndex: 1, lastLogTerm: 3, granted: true, why: 'higher last term, though shorter' },
  ];

  test.each(cases)(
    '§5.4.1 RequestVote from a log ending ($lastLogIndex, $lastLogTerm): granted=$granted ($why)',
    ({ lastLogIndex, lastLogTerm, granted }) => {
      const s = solo({ preVote: false, persisted: persisted([1, 1, 2], { term: 2 }) });
      const { node } = s;
      pastBootLease(s);
      node.step(
        msg('RequestVote', { from: 'n2', to: 'n1', term: 3, lastLogIndex, lastLogTerm, transfer: false }),
      );
      const rd = collect(node);
      expect(rd.messages).toEqual([{ type: 'RequestVoteResponse', from: 'n1', to: 'n2', term: 3, granted }]);
      expect(rd.hardState).toEqual({ term: 3, vote: granted ? 'n2' : null, commit: 0 });
    },
  );

  test.each(cases)(
    '§5.4.1 §9.6 PreVote from a log ending ($lastLogIndex, $lastLogTerm): granted=$granted ($why)',
    ({ lastLogIndex, lastLogTerm, granted }) => {
      const s = solo({ persisted: persisted([1, 1, 2], { term: 2 }) });
      const { node } = s;
      pastBootLease(s);
      node.step(msg('PreVote', { from: 'n2', to: 'n1', term: 3, lastLogIndex, lastLogTerm }));
      const rd = collect(node);
      expect(rd.messages).toEqual([
        { type: 'PreVoteResponse', from: 'n1', to: 'n2', term: granted ? 3 : 2, granted },
      ]);
      expect(rd.hardState).toBeNull(); // a PreVote binds nothing
      expect(node.status()).toMatchObject({ term: 2, vote: null });
    },
  );
});
