// Safety (§5.4.2 committing entries from previous terms, Figure 8) and
// persistence across restarts (Figure 2 "persistent state on all servers").
import { describe, expect, test } from 'vitest';
import {
  ack,
  collect,
  elect,
  entries,
  msg,
  ofType,
  pastBootLease,
  persisted,
  solo,
  TestNetwork,
} from './harness.js';

const five = ['n1', 'n2', 'n3', 'n4', 'n5'];

describe('§5.4.2 committing entries from previous terms', () => {
  test('§5.4.2 a leader never commits an entry of an earlier term by counting replicas (Figure 8)', () => {
    // n1 leads term 4 over [1@1, 2@2]; index 1 is committed, index 2 is from term 2.
    const s = solo({ voters: five, preVote: false, persisted: persisted([1, 2], { term: 3, commit: 1 }) });
    elect(s); // term 4; its no-op (3@4) is durable on n1
    const { node } = s;
    expect(node.status()).toMatchObject({ role: 'leader', term: 4, commitIndex: 1, lastLogIndex: 3 });

    // Index 2 (term 2) is now on n1, n2 and n3: a majority of five. It must not commit.
    node.step(ack('n2', 4, 2));
    node.step(ack('n3', 4, 2));
    expect(node.status().commitIndex).toBe(1);
    expect(collect(node).committed).toEqual([]);

    // The no-op of term 4 on n1 and n2 only: two of five, still nothing.
    node.step(ack('n2', 4, 3));
    expect(node.status().commitIndex).toBe(1);

    // The no-op on a majority commits it, and with it the term-2 entry before it, in order.
    node.step(ack('n3', 4, 3));
    expect(node.status().commitIndex).toBe(3);
    const rd = collect(node);
    expect(rd.committed.map((e) => [e.index, e.term])).toEqual([
      [2, 2],
      [3, 4],
    ]);
    expect(rd.hardState?.commit).toBe(3);
  });

  test('§5.4.2 why: an earlier-term entry stored on a majority can still be overwritten (Figure 8 c–d)', () => {
    // A follower holding [1@1, 2@2] votes for a candidate whose log ends in (2, 3)…
    const s = solo({ voters: five, preVote: false, persisted: persisted([1, 2], { term: 4 }) });
    const { node } = s;
    pastBootLease(s);
    node.step(
      msg('RequestVote', { from: 'n5', to: 'n1', term: 5, lastLogIndex: 2, lastLogTerm: 3, transfer: false }),
    );
    expect(ofType(collect(node).messages, 'RequestVoteResponse')[0]?.granted).toBe(true);
    // …which, as leader, replaces index 2: had 2@2 been committed, a committed entry would be lost.
    node.step(
      msg('AppendEntries', {
        from: 'n5',
        to: 'n1',
        term: 5,
        prevLogIndex: 1,
        prevLogTerm: 1,
        entries: entries(2, [3]),
        leaderCommit: 0,
      }),
    );
    expect(node.raft.log.term(2)).toBe(3);
  });

  test('§5.4.2 a follower never commits beyond what the current leader proved to match', () => {
    // The follower's index 2 is a stale term-2 entry; the leader of term 4 has committed 3 in its own log.
    const { node } = solo({ persisted: persisted([1, 2, 2], { term: 4 }) });
    // The leader's heartbeat carries min(matchIndex, commit): it knows nothing of this follower yet.
    node.step(msg('Heartbeat', { from: 'n2', to: 'n1', term: 4, commit: 0, readRound: 0 }));
    expect(node.status().commitIndex).toBe(0);
    // A bare consistency check at index 1 proves only index 1.
    node.step(
      msg('AppendEntries', {
        from: 'n2',
        to: 'n1',
        term: 4,
        prevLogIndex: 1,
        prevLogTerm: 1,
        entries: [],
        leaderCommit: 3,
      }),
    );
    expect(node.status().commitIndex).toBe(1);
  });
});

describe('Figure 2 persistent state', () => {
  test('Figure 2 a restarted server keeps its term, vote and log and re-applies committed entries', () => {
    const net = new TestNetwork(['n1', 'n2', 'n3']);
    const leader = net.electLeader();
    const follower = net.ids.find((id) => id !== leader)!;
    net.node(leader).propose(['a', 'b', 'c'].map((c) => new TextEncoder().encode(c)));
    net.drain(leader);
    net.run(200);
    const decode = (id: string) => net.applied.get(id)!.map((d) => new TextDecoder().decode(d));
    expect(decode(follower)).toEqual(['a', 'b', 'c']);

    for (const id of [follower, leader]) {
      const before = net.node(id).status();
      net.restart(id);
      const after = net.node(id).status();
      expect(after, id).toMatchObject({
        role: 'follower',
        term: before.term,
        vote: before.vote,
        lastLogIndex: before.lastLogIndex,
        lastLogTerm: before.lastLogTerm,
        commitIndex: before.commitIndex,
      });
      // The state machine is rebuilt from the log, before any message arrives.
      expect(decode(id), id).toEqual(['a', 'b', 'c']);
    }
  });

  test('Figure 2 a restarted server applies nothing beyond its persisted commit index', () => {
    const { node } = solo({ persisted: persisted([1, 1, 1, 1], { term: 1, commit: 2 }) });
    const rd = collect(node);
    expect(rd.committed.map((e) => e.index)).toEqual([1, 2]);
    expect(node.status()).toMatchObject({ commitIndex: 2, lastApplied: 2, lastLogIndex: 4 });
  });

  test('Figure 2 a restarted server whose state machine is already at `applied` resumes after it', () => {
    const { node } = solo({ persisted: { ...persisted([1, 1, 1, 1], { term: 1, commit: 3 }), applied: 2 } });
    expect(collect(node).committed.map((e) => e.index)).toEqual([3]);
  });
});
