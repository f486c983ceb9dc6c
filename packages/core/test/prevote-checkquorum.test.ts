// PreVote (thesis §9.6) and CheckQuorum (§6.2): a partitioned server cannot
// disrupt a healthy cluster, and a leader that lost its majority steps down.
import { describe, expect, test } from 'vitest';
import { advanceUntil, collect, elect, msg, ofType, solo, TestNetwork } from './harness.js';

describe('§9.6 PreVote', () => {
  test('§9.6 a partitioned node keeps its term and does not disrupt a healthy leader when it rejoins', () => {
    const net = new TestNetwork(['n1', 'n2', 'n3']); // PreVote and CheckQuorum on by default
    const leader = net.electLeader();
    const term = net.node(leader).status().term;
    const isolated = net.ids.find((id) => id !== leader)!;
    net.partition(isolated);
    net.run(3000);
    // Its PreVotes go nowhere, so it never increments its term.
    expect(net.node(isolated).status().term).toBe(term);
    expect(net.stored.get(isolated)!.hardState.term).toBe(term);
    expect(net.leaders()).toEqual([leader]);

    net.heal();
    net.run(1000);
    expect(net.leaders()).toEqual([leader]);
    for (const id of net.ids) {
      expect(net.node(id).status(), id).toMatchObject({ term, leaderId: leader });
    }
  });

  test('§9.6 control: without PreVote the same partition raises the term and unseats the leader', () => {
    const net = new TestNetwork(['n1', 'n2', 'n3'], { preVote: false });
    const leader = net.electLeader();
    const term = net.node(leader).status().term;
    const isolated = net.ids.find((id) => id !== leader)!;
    net.partition(isolated);
    net.run(3000);
    expect(net.node(isolated).status().term).toBeGreaterThan(term + 5);
    net.heal();
    net.run(1000);
    // The leader learns the higher term from the rejoining node's answers and steps down.
    expect(net.node(net.electLeader()).status().term).toBeGreaterThan(term + 5);
  });

  test('§9.6 a follower that heard from a leader within the minimum election timeout ignores later-term votes', () => {
    const { node, clock } = solo({
      persisted: { hardState: { term: 1, vote: null, commit: 0 }, entries: [] },
    });
    node.step(msg('Heartbeat', { from: 'n2', to: 'n1', term: 1, commit: 0, readRound: 0 }));
    collect(node);
    const requestVote = msg('RequestVote', {
      from: 'n3',
      to: 'n1',
      term: 2,
      lastLogIndex: 9,
      lastLogTerm: 1,
      transfer: false,
    });
    const preVote = msg('PreVote', { from: 'n3', to: 'n1', term: 2, lastLogIndex: 9, lastLogTerm: 1 });

    clock.advance(149);
    node.step(requestVote);
    node.step(preVote);
    const ignored = collect(node);
    expect(ignored.messages).toEqual([]);
    expect(ignored.hardState).toBeNull();
    expect(node.status()).toMatchObject({ term: 1, vote: null, leaderId: 'n2' });

    clock.advance(1); // the lease (minimum election timeout, 150 ms) is over
    node.step(preVote);
    node.step(requestVote);
    const rd = collect(node);
    expect(ofType(rd.messages, 'PreVoteResponse')[0]).toMatchObject({ granted: true, term: 2 });
    expect(ofType(rd.messages, 'RequestVoteResponse')[0]).toMatchObject({ granted: true, term: 2 });
    expect(rd.hardState).toEqual({ term: 2, vote: 'n3', commit: 0 });
  });

  test('§6.4.1 a (re)started server ignores later-term votes for a minimum election timeout: a lease it granted before a crash survives the crash', () => {
    // n1 answered the leader's heartbeats, crashed and restarted at once: the
    // leader's lease still runs, so n1 must not help elect anyone else yet.
    const { node, clock } = solo({
      persisted: { hardState: { term: 1, vote: null, commit: 0 }, entries: [] },
    });
    expect(node.stateValue()).toEqual({ follower: 'leaderRecent' });
    const requestVote = msg('RequestVote', {
      from: 'n3',
      to: 'n1',
      term: 2,
      lastLogIndex: 9,
      lastLogTerm: 1,
      transfer: false,
    });
    clock.advance(149);
    node.step(requestVote);
    node.step(msg('PreVote', { from: 'n3', to: 'n1', term: 2, lastLogIndex: 9, lastLogTerm: 1 }));
    expect(collect(node).messages).toEqual([]);
    expect(node.status()).toMatchObject({ term: 1, vote: null });
    clock.advance(1);
    node.step(requestVote);
    expect(ofType(collect(node).messages, 'RequestVoteResponse')[0]).toMatchObject({ granted: true });
  });

  test('§9.6 control: without CheckQuorum there is no lease and a later-term vote is granted at once', () => {
    const { node } = solo({ checkQuorum: false });
    node.step(msg('Heartbeat', { from: 'n2', to: 'n1', term: 1, commit: 0, readRound: 0 }));
    node.step(
      msg('RequestVote', { from: 'n3', to: 'n1', term: 2, lastLogIndex: 0, lastLogTerm: 0, transfer: false }),
    );
    expect(ofType(collect(node).messages, 'RequestVoteResponse')[0]).toMatchObject({
      granted: true,
      term: 2,
    });
  });

  test('§9.6 a leader with CheckQuorum ignores a vote request for a later term', () => {
    const s = solo({ preVote: false });
    elect(s);
    s.node.step(
      msg('RequestVote', { from: 'n3', to: 'n1', term: 5, lastLogIndex: 9, lastLogTerm: 1, transfer: false }),
    );
    expect(s.node.status()).toMatchObject({ role: 'leader', term: 1 });
    expect(collect(s.node).messages).toEqual([]);
  });
});

describe('§6.2 CheckQuorum', () => {
  test('§6.2 a leader that hears from no majority steps down after one minimum election timeout', () => {
    const s = solo({ preVote: false });
    elect(s);
    // Its first CheckQuorum round already requires a majority: votes do not count as contact.
    const elapsed = advanceUntil(s.clock, () => s.node.status().role !== 'leader');
    expect(elapsed).toBe(150);
    // It steps down in its own term: no new term, no vote.
    expect(s.node.status()).toMatchObject({ role: 'follower', term: 1, leaderId: null });
  });

  test('§6.2 a leader that hears from a majority stays; one that hears from a minority steps down', () => {
    for (const [voters, answering, stays] of [
      [['n1', 'n2', 'n3'], ['n2'], true],
      [['n1', 'n2', 'n3', 'n4', 'n5'], ['n2'], false],
      [['n1', 'n2', 'n3', 'n4', 'n5'], ['n2', 'n3'], true],
    ] as const) {
      const s = solo({ voters: [...voters], preVote: false });
      elect(s);
      for (let t = 0; t < 2000 && s.node.status().role === 'leader'; t += 50) {
        s.clock.advance(50);
        for (const from of answering)
          s.node.step(msg('HeartbeatResponse', { from, to: 'n1', term: 1, readRound: 0 }));
      }
      const what = `${answering.length + 1} of ${voters.length}`;
      expect(s.node.status().role, what).toBe(stays ? 'leader' : 'follower');
    }
  });

  test('§6.2 control: with CheckQuorum off a leader that hears from no one stays leader', () => {
    const s = solo({ preVote: false, checkQuorum: false });
    elect(s);
    s.clock.advance(5000);
    expect(s.node.status().role).toBe('leader');
  });
});
