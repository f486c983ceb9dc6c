// Leadership transfer (thesis §3.10): TimeoutNow to a caught-up follower,
// which campaigns at once with a RequestVote that overrides leader leases.
import { describe, expect, test } from 'vitest';
import { ack, collect, elect, msg, ofType, persisted, type Solo, solo, TestNetwork } from './harness.js';

/** leader elects n1 of n1..n3 at term 2 over a log of five term-1 entries; its no-op (6@2) is durable. */
function leader(): Solo {
  const s = solo({ preVote: false, persisted: persisted([1, 1, 1, 1, 1], { term: 1 }) });
  elect(s);
  return s;
}

describe('§3.10 leadership transfer', () => {
  test('§3.10 a transfer to a caught-up follower sends it TimeoutNow at once', () => {
    const { node } = leader();
    node.step(ack('n2', 2, 6));
    collect(node);
    node.transferLeadership('n2');
    expect(ofType(collect(node).earlyMessages, 'TimeoutNow')).toEqual([
      { type: 'TimeoutNow', from: 'n1', to: 'n2', term: 2 },
    ]);
  });

  test('§3.10 on TimeoutNow a follower campaigns at once, with a RequestVote flagged transfer', () => {
    const { node } = solo({ persisted: persisted([1], { term: 1 }) }); // PreVote on: it is skipped
    node.step(msg('Heartbeat', { from: 'n2', to: 'n1', term: 1, commit: 0, readRound: 0 }));
    collect(node);
    node.step(msg('TimeoutNow', { from: 'n2', to: 'n1', term: 1 }));
    expect(node.status()).toMatchObject({ role: 'candidate', term: 2, vote: 'n1' });
    const rd = collect(node);
    expect(rd.hardState).toEqual({ term: 2, vote: 'n1', commit: 0 });
    expect(ofType(rd.messages, 'RequestVote').map((m) => [m.to, m.term, m.transfer])).toEqual([
      ['n2', 2, true],
      ['n3', 2, true],
    ]);
  });

  test('§3.10 a transfer RequestVote beats the leader lease of followers and of the old leader', () => {
    const transferVote = msg('RequestVote', {
      from: 'n3',
      to: 'n1',
      term: 2,
      lastLogIndex: 1,
      lastLogTerm: 1,
      transfer: true,
    });
    // A follower that just heard from its leader n2.
    const f = solo({ persisted: persisted([1], { term: 1 }) });
    f.node.step(msg('Heartbeat', { from: 'n2', to: 'n1', term: 1, commit: 0, readRound: 0 }));
    collect(f.node);
    f.node.step({ ...transferVote, transfer: false });
    expect(collect(f.node).messages).toEqual([]); // without the flag the lease holds
    f.node.step(transferVote);
    expect(ofType(collect(f.node).messages, 'RequestVoteResponse')[0]).toMatchObject({ granted: true });

    // The old leader itself steps down and votes.
    const l = solo({ preVote: false, persisted: persisted([], { term: 0 }) });
    elect(l); // leader of term 1 with [1@1]
    l.node.step({ ...transferVote, term: 2 });
    expect(l.node.status()).toMatchObject({ role: 'follower', term: 2, vote: 'n3' });
  });

  test('§3.10 the target wins its election at once and the cluster follows it', () => {
    const net = new TestNetwork(['n1', 'n2', 'n3']);
    const old = net.electLeader();
    net.run(100);
    const term = net.node(old).status().term;
    const target = net.ids.find((id) => id !== old)!;
    net.delivered.length = 0;
    net.node(old).transferLeadership(target);
    net.drain(old);
    net.deliverAll(); // no virtual time passes
    expect(net.leaders()).toEqual([target]);
    expect(net.node(target).status().term).toBe(term + 1);
    const votes = ofType(net.delivered, 'RequestVote');
    expect(votes.length).toBeGreaterThan(0);
    for (const v of votes) expect(v).toMatchObject({ from: target, transfer: true });
  });

  test('§3.10 proposals are refused while a transfer is under way', () => {
    const { node } = leader();
    collect(node);
    node.transferLeadership('n2'); // n2 has not acknowledged anything yet
    const res = node.propose([new Uint8Array([1])]);
    expect(res).toMatchObject({ isLeader: false, index: 0 });
    expect(collect(node).entries).toEqual([]);
    expect(node.status().lastLogIndex).toBe(6);
  });

  test('§3.10 a transfer to a lagging follower first catches it up, then sends TimeoutNow', () => {
    const { node } = leader();
    node.transferLeadership('n2');
    expect(ofType(collect(node).earlyMessages, 'TimeoutNow')).toEqual([]);
    // n2 holds nothing: it rejects the probe at 5, and the leader sends it the whole log.
    node.step(
      msg('AppendEntriesResponse', {
        from: 'n2',
        to: 'n1',
        term: 2,
        success: false,
        index: 5,
        hintIndex: 0,
        hintTerm: 0,
      }),
    );
    let rd = collect(node);
    expect(ofType(rd.earlyMessages, 'TimeoutNow')).toEqual([]);
    const catchUp = ofType(rd.earlyMessages, 'AppendEntries');
    expect(catchUp.map((m) => [m.to, m.prevLogIndex, m.entries.length])).toEqual([['n2', 0, 6]]);
    node.step(ack('n2', 2, 3)); // partway
    expect(ofType(collect(node).earlyMessages, 'TimeoutNow')).toEqual([]);
    node.step(ack('n2', 2, 6)); // caught up
    rd = collect(node);
    expect(ofType(rd.earlyMessages, 'TimeoutNow')).toEqual([
      { type: 'TimeoutNow', from: 'n1', to: 'n2', term: 2 },
    ]);
  });

  test('§3.10 a lagging target catches up and takes over in a running cluster', () => {
    const net = new TestNetwork(['n1', 'n2', 'n3']);
    const old = net.electLeader();
    const target = net.ids.find((id) => id !== old)!;
    net.partition(target);
    for (let i = 0; i < 20; i++) net.node(old).propose([new TextEncoder().encode(`v${i}`)]);
    net.drain(old);
    net.run(100);
    net.heal();
    net.node(old).transferLeadership(target);
    net.drain(old);
    net.run(300);
    expect(net.leaders()).toEqual([target]);
    expect(net.applied.get(target)!.length).toBe(20);
  });

  test('§3.10 a transfer that cannot finish within an election timeout is aborted', () => {
    const { node, clock } = leader();
    node.transferLeadership('n2'); // n2 never answers
    const start = clock.now;
    let refusedAt = -1;
    let acceptedAt = -1;
    for (let t = 0; t < 400 && acceptedAt < 0; t += 10) {
      clock.advance(10);
      node.step(msg('HeartbeatResponse', { from: 'n3', to: 'n1', term: 2, readRound: 0 })); // keeps CheckQuorum happy
      const res = node.propose([new Uint8Array([t])]);
      if (res.isLeader) acceptedAt = clock.now - start;
      else refusedAt = clock.now - start;
    }
    collect(node);
    expect(refusedAt).toBeGreaterThanOrEqual(140); // refused for at least the minimum election timeout
    expect(acceptedAt).toBeGreaterThan(refusedAt);
    expect(acceptedAt).toBeLessThanOrEqual(300); // accepted again after at most the maximum one
    expect(node.status().role).toBe('leader');
    // n2 catching up later no longer triggers a TimeoutNow.
    node.step(ack('n2', 2, node.status().lastLogIndex));
    expect(ofType(collect(node).earlyMessages, 'TimeoutNow')).toEqual([]);
  });

  test('§3.10 TransferLeadership on a follower or to an unknown server does nothing', () => {
    const f = solo();
    f.node.transferLeadership('n2');
    expect(f.node.hasReady()).toBe(false);
    const { node } = leader();
    collect(node);
    node.transferLeadership('n9');
    node.transferLeadership('n1');
    expect(node.propose([new Uint8Array([1])]).isLeader).toBe(true);
  });
});
