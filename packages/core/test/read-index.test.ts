// ReadIndex (thesis §6.4): a leader serves a read at its commit index once a
// heartbeat round sent after the request is answered by a majority; lease
// reads (§6.4.1) skip the round within a lease bounded by the clock drift.
import { describe, expect, test } from 'vitest';
import { resolveConfig } from '../src/index.js';
import { ack, collect, elect, msg, ofType, persisted, type Solo, solo } from './harness.js';

/** leader elects n1 (of `voters`) at term 2 over three term-1 entries; its no-op is 4@2. */
function leader(voters = ['n1', 'n2', 'n3'], extra: Parameters<typeof solo>[0] = {}): Solo {
  const s = solo({ voters, preVote: false, persisted: persisted([1, 1, 1], { term: 1 }), ...extra });
  elect(s);
  return s;
}

const answer = (from: string, readRound: number, term = 2) =>
  msg('HeartbeatResponse', { from, to: 'n1', term, readRound });

/** round is the readRound of the heartbeats a Ready sent. */
function round(rd: ReturnType<typeof collect>): number {
  const beats = ofType(rd.earlyMessages, 'Heartbeat');
  expect(beats.length).toBeGreaterThan(0);
  return beats.at(-1)!.readRound;
}

describe('§6.4 ReadIndex', () => {
  test('a read waits for the leader’s first commit of its term, then for a majority to answer a heartbeat round', () => {
    const { node } = leader();
    node.readIndex(7);
    expect(collect(node).readStates).toEqual([]); // the no-op has not committed: the commit index may be stale
    node.step(ack('n2', 2, 4)); // the no-op commits: the read takes commit index 4 and starts a round
    const rd = collect(node);
    expect(rd.readStates).toEqual([]);
    const r = round(rd);
    expect(r).toBeGreaterThan(0);
    node.step(answer('n3', r));
    expect(collect(node).readStates).toEqual([{ ctx: 7, ok: true, index: 4 }]);
  });

  test('a round sent before a read does not confirm it; a later round confirms every read before it, in order', () => {
    const { node } = leader(['n1', 'n2', 'n3', 'n4', 'n5']);
    node.step(ack('n2', 2, 4));
    node.step(ack('n3', 2, 4));
    collect(node);
    node.readIndex(1);
    const r1 = round(collect(node));
    node.readIndex(2);
    const r2 = round(collect(node));
    expect(r2).toBeGreaterThan(r1);
    node.step(answer('n2', r1));
    node.step(answer('n2', r1)); // a duplicate counts once
    expect(collect(node).readStates).toEqual([]);
    node.step(answer('n3', r1));
    expect(collect(node).readStates).toEqual([{ ctx: 1, ok: true, index: 4 }]); // read 2 came after round r1
    node.step(answer('n4', r2));
    expect(collect(node).readStates).toEqual([]); // n4 and n1 only: read 2 needs one more
    node.step(answer('n2', r2 + 5)); // an answer to a later round covers earlier ones
    expect(collect(node).readStates).toEqual([{ ctx: 2, ok: true, index: 4 }]);
  });

  test('answers of an older term never confirm a read', () => {
    const { node } = leader();
    node.step(ack('n2', 2, 4));
    collect(node);
    node.readIndex(3);
    const r = round(collect(node));
    node.step(answer('n2', r, 1));
    expect(collect(node).readStates).toEqual([]);
  });

  test('a follower refuses reads; a leader that steps down fails its pending reads', () => {
    const f = solo({ persisted: persisted([1], { term: 1 }) });
    f.node.readIndex(9);
    expect(collect(f.node).readStates).toEqual([{ ctx: 9, ok: false, index: 0 }]);

    const { node } = leader();
    node.readIndex(1); // waits for the no-op, then for its round
    node.step(ack('n2', 2, 4));
    collect(node);
    node.readIndex(2); // waits for its round
    collect(node);
    node.step(msg('Heartbeat', { from: 'n3', to: 'n1', term: 3, commit: 0, readRound: 0 }));
    expect(node.status().role).toBe('follower');
    expect(collect(node).readStates).toEqual([
      { ctx: 1, ok: false, index: 0 },
      { ctx: 2, ok: false, index: 0 },
    ]);
    node.readIndex(5);
    expect(collect(node).readStates).toEqual([{ ctx: 5, ok: false, index: 0 }]);
  });

  test('a single server is its own majority: reads are served once its no-op is durable', () => {
    const s = solo({ voters: ['n1'], persisted: persisted([1], { term: 1 }) });
    elect(s);
    s.node.readIndex(1);
    expect(collect(s.node).readStates).toEqual([{ ctx: 1, ok: true, index: 2 }]);
  });
});

describe('§6.4.1 lease reads', () => {
  test('within the lease (min election timeout − drift, from the confirmed round’s sending) a lease read skips the round', () => {
    const s = leader(['n1', 'n2', 'n3'], { maxClockDriftMs: 50 }); // lease 150 − 50 = 100 ms
    const { node, clock } = s;
    node.step(ack('n2', 2, 4));
    collect(node);
    node.readIndex(1, 'lease'); // no lease yet: a round
    const sentAt = clock.now;
    const r = round(collect(node));
    clock.advance(30);
    collect(node); // periodic heartbeats go unanswered
    node.step(answer('n2', r));
    expect(collect(node).readStates).toEqual([{ ctx: 1, ok: true, index: 4 }]);
    clock.advance(sentAt + 99 - clock.now);
    collect(node);
    node.readIndex(2, 'lease');
    const within = collect(node);
    expect(within.readStates).toEqual([{ ctx: 2, ok: true, index: 4 }]);
    node.readIndex(3); // a safe read always takes a round
    expect(collect(node).readStates).toEqual([]);
    clock.advance(sentAt + 100 - clock.now);
    collect(node);
    node.readIndex(4, 'lease'); // the lease ran out: a round again
    expect(collect(node).readStates).toEqual([]);
  });

  test('§3.10 a leader gives up its lease for the rest of the term once it sends TimeoutNow: the transferee’s election ignores leases', () => {
    const s = leader(['n1', 'n2', 'n3'], { maxClockDriftMs: 50 });
    const { node } = s;
    node.step(ack('n2', 2, 4));
    node.step(ack('n3', 2, 4));
    collect(node);
    node.readIndex(1, 'lease');
    node.step(answer('n2', round(collect(node))));
    expect(collect(node).readStates).toEqual([{ ctx: 1, ok: true, index: 4 }]);
    node.transferLeadership('n2'); // n2 is caught up: TimeoutNow goes out at once
    expect(ofType(collect(node).earlyMessages, 'TimeoutNow')).toHaveLength(1);
    node.readIndex(2, 'lease'); // inside the old lease, yet no longer served from it
    const r = round(collect(node));
    expect(node.status().role).toBe('leader');
    node.step(answer('n3', r)); // a confirmed round still serves the read…
    expect(collect(node).readStates).toEqual([{ ctx: 2, ok: true, index: 4 }]);
    node.readIndex(3, 'lease'); // …but no longer renews the lease
    expect(collect(node).readStates).toEqual([]);
  });

  test('without a drift bound, lease reads are ReadIndex reads', () => {
    const { node } = leader();
    node.step(ack('n2', 2, 4));
    collect(node);
    node.readIndex(1, 'lease');
    const r = round(collect(node));
    node.step(answer('n2', r));
    collect(node);
    node.readIndex(2, 'lease');
    expect(collect(node).readStates).toEqual([]);
  });

  test('the drift bound must be below the minimum election timeout, and needs CheckQuorum', () => {
    const base = { id: 'n1', voters: ['n1'] };
    expect(() => resolveConfig({ ...base, maxClockDriftMs: 150 })).toThrow(/maxClockDriftMs/);
    expect(() => resolveConfig({ ...base, maxClockDriftMs: 10, checkQuorum: false })).toThrow(
      /needs checkQuorum/,
    );
  });
});
