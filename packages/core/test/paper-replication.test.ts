// Log replication, rule by rule (§5.3), driven message by message, plus the
// fast-backtracking optimisation and the persistence order of responses.
import { describe, expect, test } from 'vitest';
import { EMPTY_DATA, type Entry } from '../src/index.js';
import {
  ack,
  advanceUntil,
  collect,
  elect,
  entries,
  msg,
  ofType,
  persisted,
  repeat,
  type Solo,
  solo,
  TestNetwork,
} from './harness.js';

/** leaderWith elects n1 (of n1..n3) at term `term` + 1 over a log with the given terms; its no-op is durable. */
function leaderWith(terms: number[], term = terms.at(-1) ?? 0): Solo {
  const s = solo({ preVote: false, persisted: persisted(terms, { term }) });
  elect(s);
  return s;
}

/** appendFrom is an AppendEntries from n2, leader of `term`, to n1. */
function appendFrom(
  term: number,
  prevLogIndex: number,
  prevLogTerm: number,
  sent: Entry[] = [],
  leaderCommit = 0,
) {
  return msg('AppendEntries', {
    from: 'n2',
    to: 'n1',
    term,
    prevLogIndex,
    prevLogTerm,
    entries: sent,
    leaderCommit,
  });
}

const terms = (node: Solo['node']) => {
  const out: number[] = [];
  for (let i = 1; i <= node.status().lastLogIndex; i++) out.push(node.raft.log.term(i)!);
  return out;
};

describe('§5.3 the leader', () => {
  test('§5.3 a new leader appends a no-op entry of its term and sends it to every follower', () => {
    const s = solo({ preVote: false, persisted: persisted([1, 1], { term: 1 }) });
    const rd = elect(s, false);
    expect(s.node.status()).toMatchObject({ role: 'leader', term: 2 });
    expect(rd.entries).toEqual([{ index: 3, term: 2, type: 'noop', data: EMPTY_DATA }]);
    // §10.2.1: the leader's AppendEntries may leave before its own write, so they are early messages.
    expect(rd.messages).toEqual([]);
    const appends = ofType(rd.earlyMessages, 'AppendEntries');
    expect(appends.map((m) => m.to)).toEqual(['n2', 'n3']);
    for (const m of appends) {
      expect(m).toMatchObject({ term: 2, prevLogIndex: 2, prevLogTerm: 1, leaderCommit: 0 });
      expect(m.entries).toEqual(rd.entries);
    }
  });

  test('§10.2.1 the leader releases AppendEntries before its own write is durable (earlyMessages)', () => {
    const s = leaderWith([1]);
    s.node.step(ack('n2', 2, 2));
    collect(s.node);
    s.node.propose([new Uint8Array([7])]);
    const rd = s.node.ready();
    expect(rd.entries.map((e) => [e.index, e.term])).toEqual([[3, 2]]);
    expect(rd.messages).toEqual([]);
    expect(ofType(rd.earlyMessages, 'AppendEntries').map((m) => [m.to, m.entries.length])).toEqual([
      ['n2', 1],
    ]);
  });

  test('§5.3 the leader commits an entry once a majority stores it, counting itself only after Persisted', () => {
    const s = solo({ preVote: false });
    const rd = elect(s, false); // no-op at index 1, not yet durable on the leader
    const { node } = s;
    node.step(ack('n2', 1, 1));
    // n2 alone is one of three: the leader's copy is not durable, so it does not count yet.
    expect(node.status().commitIndex).toBe(0);
    expect(collect(node, false).committed).toEqual([]);
    node.advance(rd); // the leader's own write completes
    expect(node.status().commitIndex).toBe(1);
    const after = collect(node);
    expect(after.hardState?.commit).toBe(1);
    expect(after.committed.map((e) => e.index)).toEqual([1]);
    // The new commit index goes out at once to n2; n3 still owes an answer to its probe (flow control).
    expect(ofType(after.earlyMessages, 'AppendEntries').map((m) => [m.to, m.leaderCommit])).toEqual([
      ['n2', 1],
    ]);
  });

  test('§10.2.1 the leader commits without its own write once a majority of followers store the entry', () => {
    const s = solo({ preVote: false });
    elect(s, false);
    s.node.step(ack('n2', 1, 1));
    expect(s.node.status().commitIndex).toBe(0);
    s.node.step(ack('n3', 1, 1));
    expect(s.node.status().commitIndex).toBe(1);
  });

  test('§5.3 a heartbeat carries min(matchIndex, commitIndex): never more than the follower is known to hold', () => {
    const s = leaderWith([]); // leader of term 1, no-op at 1
    const { node, clock } = s;
    node.propose([new Uint8Array([1]), new Uint8Array([2])]);
    collect(node);
    node.step(ack('n2', 1, 3)); // n2 holds 1..3: committed
    expect(node.status().commitIndex).toBe(3);
    collect(node);
    clock.advance(50);
    const beats = ofType(collect(node).earlyMessages, 'Heartbeat');
    // n3 may hold stale entries at 1..3 for all the leader knows: it must not commit them.
    expect(beats.map((m) => [m.to, m.commit])).toEqual([
      ['n2', 3],
      ['n3', 0],
    ]);
  });

  test('§5.3 committed entries are handed out once each, in log order', () => {
    const s = leaderWith([]);
    const { node } = s;
    node.step(ack('n2', 1, 1));
    const applied: number[] = collect(node).committed.map((e) => e.index);
    for (const c of ['a', 'b', 'c', 'd']) node.propose([new TextEncoder().encode(c)]);
    collect(node); // the leader's own copies are durable: indexes 2..5
    node.step(ack('n3', 1, 3));
    applied.push(...collect(node).committed.map((e) => e.index));
    node.step(ack('n2', 1, 5));
    applied.push(...collect(node).committed.map((e) => e.index));
    node.step(ack('n3', 1, 4)); // old news
    node.step(ack('n3', 1, 5));
    applied.push(...collect(node).committed.map((e) => e.index));
    expect(applied).toEqual([1, 2, 3, 4, 5]);
    expect(node.status()).toMatchObject({ commitIndex: 5, lastApplied: 5 });
  });

  test('§5.3 every server applies the same commands in the same order', () => {
    const net = new TestNetwork(['n1', 'n2', 'n3']);
    const leader = net.node(net.electLeader());
    const want: string[] = [];
    for (let i = 0; i < 10; i++) {
      const batch = [`c${i}a`, `c${i}b`];
      want.push(...batch);
      expect(leader.propose(batch.map((c) => new TextEncoder().encode(c))).isLeader).toBe(true);
      net.drain(leader.id);
      if (i % 3 === 0) net.deliverAll();
    }
    net.run(200);
    for (const id of net.ids) {
      expect(
        net.applied.get(id)!.map((d) => new TextDecoder().decode(d)),
        id,
      ).toEqual(want);
    }
  });

  test('an empty proposal and a proposal to a stopped node are refused with a clear error', () => {
    const { node } = solo();
    expect(() => node.propose([])).toThrow(/at least one command/);
    node.stop();
    expect(() => node.propose([new Uint8Array([1])])).toThrow(/n1 is stopped/);
  });

  test('§8 a proposal to a server that does not lead returns isLeader false and the leader it knows', () => {
    const { node, clock } = solo({ preVote: false });
    node.step(msg('Heartbeat', { from: 'n2', to: 'n1', term: 3, commit: 0, readRound: 0 }));
    collect(node);
    expect(node.propose([new Uint8Array([1])])).toEqual({
      isLeader: false,
      term: 3,
      index: 0,
      leaderId: 'n2',
    });
    expect(node.hasReady()).toBe(false); // nothing appended, nothing sent
    expect(node.status().lastLogIndex).toBe(0);

    advanceUntil(clock, () => node.status().role === 'candidate');
    expect(node.propose([new Uint8Array([1])])).toEqual({
      isLeader: false,
      term: 4,
      index: 0,
      leaderId: null,
    });
  });

  test('§8 a proposal to the leader returns where its entries will sit', () => {
    const s = leaderWith([1, 1]); // leader of term 2, no-op at 3
    const res = s.node.propose([new Uint8Array([1]), new Uint8Array([2])]);
    expect(res).toEqual({ isLeader: true, term: 2, index: 4, leaderId: 'n1' });
    expect(collect(s.node).entries.map((e) => [e.index, e.term, e.type])).toEqual([
      [4, 2, 'normal'],
      [5, 2, 'normal'],
    ]);
  });
});

describe('§5.3 the follower', () => {
  // The follower's log is [1, 1, 2, 2, 2]; it is at term 3.
  const follower = () => solo({ persisted: persisted([1, 1, 2, 2, 2], { term: 3 }) });

  test.each([
    { prevLogIndex: 7, prevLogTerm: 3, hintIndex: 5, hintTerm: 2, why: 'prevLogIndex beyond the log' },
    { prevLogIndex: 5, prevLogTerm: 3, hintIndex: 5, hintTerm: 2, why: 'term mismatch at the last entry' },
    { prevLogIndex: 4, prevLogTerm: 1, hintIndex: 2, hintTerm: 1, why: 'skip the whole of term 2' },
    { prevLogIndex: 3, prevLogTerm: 0, hintIndex: 0, hintTerm: 0, why: 'nothing of term <= 0' },
  ])(
    '§5.3 a follower rejects an AppendEntries whose prev entry does not match, with a hint ($why)',
    ({ prevLogIndex, prevLogTerm, hintIndex, hintTerm }) => {
      const { node } = follower();
      node.step(appendFrom(3, prevLogIndex, prevLogTerm, entries(prevLogIndex + 1, [3]), 9));
      const rd = node.ready();
      expect(rd.entries).toEqual([]);
      expect(rd.earlyMessages).toEqual([]);
      expect(rd.messages).toEqual([
        {
          type: 'AppendEntriesResponse',
          from: 'n1',
          to: 'n2',
          term: 3,
          success: false,
          index: prevLogIndex,
          hintIndex,
          hintTerm,
        },
      ]);
      expect(terms(node)).toEqual([1, 1, 2, 2, 2]);
      expect(node.status().commitIndex).toBe(0);
    },
  );

  test('§5.3 a follower deletes a conflicting entry and all that follow it', () => {
    const { node } = follower();
    node.step(appendFrom(3, 2, 1, entries(3, [3])));
    const rd = node.ready();
    expect(terms(node)).toEqual([1, 1, 3]);
    // The host is told to overwrite the suffix from index 3.
    expect(rd.entries.map((e) => [e.index, e.term])).toEqual([[3, 3]]);
    expect(ofType(rd.messages, 'AppendEntriesResponse')[0]).toMatchObject({ success: true, index: 3 });
  });

  test('§5.3 a follower appends only the entries after those it already holds', () => {
    const { node } = follower();
    node.step(appendFrom(3, 3, 2, entries(4, [2, 2, 3, 3])));
    const rd = node.ready();
    expect(terms(node)).toEqual([1, 1, 2, 2, 2, 3, 3]);
    expect(rd.entries.map((e) => e.index)).toEqual([6, 7]);
    expect(ofType(rd.messages, 'AppendEntriesResponse')[0]).toMatchObject({ success: true, index: 7 });
  });

  test('§5.3 an old, duplicate or shorter AppendEntries never truncates a matching suffix', () => {
    const { node } = solo({ persisted: persisted([1, 1, 2, 2, 2], { term: 2 }) });
    const cases = [
      appendFrom(2, 0, 0, entries(1, [1, 1, 2])), // a prefix of what is held
      appendFrom(2, 1, 1, entries(2, [1])), // a single old entry
      appendFrom(2, 2, 1, []), // a bare consistency check
      appendFrom(2, 4, 2, entries(5, [2])), // a duplicate of the last one
    ];
    for (const m of cases) {
      node.step(m);
      const rd = collect(node);
      expect(terms(node), `prev ${m.prevLogIndex}`).toEqual([1, 1, 2, 2, 2]);
      expect(rd.entries, `prev ${m.prevLogIndex}`).toEqual([]);
      // The acknowledgement covers only what this message proved to match.
      expect(ofType(rd.messages, 'AppendEntriesResponse')[0], `prev ${m.prevLogIndex}`).toMatchObject({
        success: true,
        index: m.prevLogIndex + m.entries.length,
      });
    }
  });

  test.each([
    { prev: [1, 1], sent: [1], leaderCommit: 5, commit: 2, why: 'only up to the last new entry' },
    { prev: [3, 1], sent: [], leaderCommit: 5, commit: 3, why: 'a bare check proves up to prevLogIndex' },
    { prev: [5, 1], sent: [], leaderCommit: 2, commit: 2, why: 'no further than leaderCommit' },
    { prev: [4, 1], sent: [1, 1], leaderCommit: 9, commit: 6, why: 'new entries, leaderCommit beyond' },
  ])(
    '§5.3 a follower commits min(leaderCommit, index of last new entry): $why',
    ({ prev, sent, leaderCommit, commit }) => {
      const { node } = solo({ persisted: persisted([1, 1, 1, 1, 1], { term: 1 }) });
      const [prevLogIndex, prevLogTerm] = prev as [number, number];
      node.step(appendFrom(1, prevLogIndex, prevLogTerm, entries(prevLogIndex + 1, sent), leaderCommit));
      expect(node.status().commitIndex).toBe(commit);
      const rd = collect(node);
      expect(rd.hardState?.commit).toBe(commit);
      expect(rd.committed.map((e) => e.index)).toEqual(Array.from({ length: commit }, (_, i) => i + 1));
    },
  );

  test('§5.3 followers learn the commit index from later AppendEntries and heartbeats', () => {
    const { node } = solo({ persisted: persisted([], { term: 1 }) });
    node.step(appendFrom(1, 0, 0, entries(1, [1, 1, 1, 1]), 0));
    expect(collect(node).committed).toEqual([]);
    node.step(msg('Heartbeat', { from: 'n2', to: 'n1', term: 1, commit: 2, readRound: 0 }));
    expect(collect(node).committed.map((e) => e.index)).toEqual([1, 2]);
    node.step(appendFrom(1, 4, 1, [], 3));
    expect(collect(node).committed.map((e) => e.index)).toEqual([3]);
    node.step(msg('Heartbeat', { from: 'n2', to: 'n1', term: 1, commit: 9, readRound: 0 })); // clamped to what it holds
    expect(node.status().commitIndex).toBe(4);
    // The commit index never moves back.
    node.step(msg('Heartbeat', { from: 'n2', to: 'n1', term: 1, commit: 1, readRound: 0 }));
    expect(node.status().commitIndex).toBe(4);
  });

  test('§5.3 append acknowledgements are released only after persisting (Ready.messages)', () => {
    const { node } = solo({ persisted: persisted([], { term: 1 }) });
    node.step(appendFrom(1, 0, 0, entries(1, [1, 1]), 0));
    const rd = node.ready();
    expect(rd.entries).toHaveLength(2);
    expect(rd.earlyMessages).toEqual([]);
    expect(ofType(rd.messages, 'AppendEntriesResponse')).toEqual([
      {
        type: 'AppendEntriesResponse',
        from: 'n1',
        to: 'n2',
        term: 1,
        success: true,
        index: 2,
        hintIndex: 0,
        hintTerm: 0,
      },
    ]);
    // A rejection also waits: it carries our term, which may be new.
    node.advance(rd);
    node.step(appendFrom(2, 7, 2));
    const rejection = node.ready();
    expect(rejection.hardState).toEqual({ term: 2, vote: null, commit: 0 });
    expect(rejection.earlyMessages).toEqual([]);
    expect(ofType(rejection.messages, 'AppendEntriesResponse')[0]).toMatchObject({ success: false, term: 2 });
  });
});

describe('§5.3 fast backtracking', () => {
  /** repair runs n1..n3 where n1 and n3 hold `good` and n2 holds `bad`; returns n2's rejections. */
  function repair(good: number[], bad: number[]) {
    const term = Math.max(...good, ...bad);
    const net = new TestNetwork(['n1', 'n2', 'n3'], {}, 1, {
      n1: persisted(good, { term }),
      n2: persisted(bad, { term }),
      n3: persisted(good, { term }),
    });
    const leader = net.electLeader();
    expect(leader).not.toBe('n2');
    net.run(100);
    const fromN2 = ofType(net.delivered, 'AppendEntriesResponse').filter((m) => m.from === 'n2');
    const rejections = fromN2.filter((m) => !m.success).length;
    const want = [...good, net.node(leader).status().term]; // the new leader's no-op follows
    const n2 = net.stored.get('n2')!.entries.map((e) => e.term);
    return { rejections, n2, want };
  }

  test('§5.3 a long conflicting suffix (55 entries, 3 terms) is repaired in O(terms) round trips', () => {
    const good = [...repeat(1, 10), ...repeat(3, 10), ...repeat(5, 10), ...repeat(7, 10)];
    const bad = [...repeat(1, 10), ...repeat(2, 15), ...repeat(4, 15), ...repeat(6, 25)];
    const { rejections, n2, want } = repair(good, bad);
    expect(n2).toEqual(want);
    // One entry per round trip would take ~55 rejections; one term per round trip takes at most 3.
    expect(rejections).toBeGreaterThanOrEqual(1);
    expect(rejections).toBeLessThanOrEqual(3);
  });

  test('§5.3 a follower far behind (10 of 60 entries) is caught up after a single rejection', () => {
    const good = [...repeat(1, 10), ...repeat(2, 50)];
    const { rejections, n2, want } = repair(good, repeat(1, 10));
    expect(n2).toEqual(want);
    expect(rejections).toBe(1);
  });

  test('§5.3 a follower whose conflicting entries are of a later term than the leader’s skips them at once', () => {
    const good = [...repeat(1, 5), ...repeat(2, 50)];
    const bad = [...repeat(1, 5), ...repeat(3, 20), ...repeat(4, 20)];
    // n2 holds later terms, so n1/n3 must be at a term above them to win.
    const term = 5;
    const net = new TestNetwork(['n1', 'n2', 'n3'], {}, 1, {
      n1: persisted(good, { term }),
      n2: persisted(bad, { term }),
      n3: persisted(good, { term }),
    });
    // n2's log is more up-to-date (last term 4 > 2): only n2 can win. Keep it out so n1 or n3 leads.
    net.partition('n2');
    const leader = net.electLeader();
    net.heal();
    net.delivered.length = 0;
    net.run(100);
    const rejections = ofType(net.delivered, 'AppendEntriesResponse').filter(
      (m) => m.from === 'n2' && !m.success,
    );
    expect(net.stored.get('n2')!.entries.map((e) => e.term)).toEqual([
      ...good,
      net.node(leader).status().term,
    ]);
    expect(rejections.length).toBeLessThanOrEqual(2);
  });
});
