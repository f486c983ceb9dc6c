import type { Entry, Message } from '@xraft/core';
import { describe, expect, test } from 'vitest';
import { FAST_DISK } from '../src/disk.js';
import { type HostEnv, type HostObserver, NodeHost, type SnapshotPolicy } from '../src/host.js';
import { Rng } from '../src/rng.js';
import { Scheduler } from '../src/scheduler.js';

/** A bare host environment: messages go to `wire`, nothing is delivered unless the test does it. */
function setup(ids: string[], fsyncMs: readonly [number, number] = [5, 5], snapshotPolicy?: SnapshotPolicy) {
  const scheduler = new Scheduler();
  const wire: Message[] = [];
  const applied = new Map<string, Entry[]>();
  const errors: unknown[] = [];
  const observer: HostObserver = {
    record: () => {},
    onSend: () => {},
    onVoteGranted: () => {},
    onDurable: () => {},
    onApply: (h, es) => applied.set(h.id, [...(applied.get(h.id) ?? []), ...es]),
    onReadState: () => {},
    onReadServed: () => {},
    onRestore: () => {},
    afterStep: () => {},
    onError: (_h, e) => errors.push(e),
  };
  const env: HostEnv = {
    scheduler,
    voters: ids,
    raftOptions: { preVote: false },
    random: (id, inc) => new Rng(ids.indexOf(id) * 100 + inc).next,
    diskConditions: { ...FAST_DISK, fsyncMs },
    send: (m) => wire.push(m),
    observer,
    ...(snapshotPolicy ? { snapshotPolicy } : {}),
  };
  const hosts = ids.map((id, i) => new NodeHost(id, env, new Rng(i)));
  return { scheduler, wire, applied, errors, hosts };
}

describe('NodeHost follows the Ready contract', () => {
  test('votes leave only once durable; a leader replicates before its own write is durable', () => {
    const { scheduler, wire, hosts, errors } = setup(['n1', 'n2']);
    for (const h of hosts) h.start();
    scheduler.runUntil(1000, () => wire.length > 0);
    const rv = wire.shift()!;
    expect(rv.type).toBe('RequestVote');
    const candidate = hosts.find((h) => h.id === rv.from)!;
    const voter = hosts.find((h) => h.id === rv.to)!;
    // The candidate asked for votes only after its own term and vote were durable.
    expect(candidate.disk.hardState).toMatchObject({ term: rv.term, vote: candidate.id });

    voter.receive(rv);
    expect(wire).toEqual([]); // the grant waits for the vote to be durable
    expect(voter.disk.hardState.vote).toBeNull();
    scheduler.runUntil(scheduler.now + 5);
    expect(wire).toEqual([expect.objectContaining({ type: 'RequestVoteResponse', granted: true })]);
    expect(voter.disk.hardState).toMatchObject({ term: rv.term, vote: candidate.id });

    candidate.receive(wire.shift()!);
    expect(candidate.raft!.role).toBe('leader');
    // AppendEntries with the no-op went out at once (thesis §10.2.1), before the leader's own write.
    expect(wire).toEqual([
      expect.objectContaining({
        type: 'AppendEntries',
        entries: [expect.objectContaining({ type: 'noop' })],
      }),
    ]);
    expect(candidate.disk.lastIndex()).toBe(0);
    expect(candidate.disk.pendingWrites()).toBe(1);
    expect(errors).toEqual([]);
  });

  test('an acknowledgement waits for the entries to be durable; commit follows the acknowledgement', () => {
    const { scheduler, wire, hosts, applied } = setup(['n1', 'n2']);
    for (const h of hosts) h.start();
    // Run the election through the wire.
    const deliverAll = () => {
      while (wire.length > 0) {
        const m = wire.shift()!;
        hosts.find((h) => h.id === m.to)!.receive(m);
      }
    };
    for (let t = 0; t < 2000 && !hosts.some((h) => h.raft?.role === 'leader'); t += 5) {
      scheduler.runUntil(t);
      deliverAll();
    }
    const leader = hosts.find((h) => h.raft?.role === 'leader')!;
    const follower = hosts.find((h) => h !== leader)!;
    scheduler.runUntil(scheduler.now + 20);
    deliverAll();
    scheduler.runUntil(scheduler.now + 20);
    deliverAll();
    const r = leader.propose([new TextEncoder().encode('x')])!;
    expect(r.isLeader).toBe(true);
    const ae = wire.find((m) => m.type === 'AppendEntries' && m.entries.length > 0)!;
    wire.length = 0;
    follower.receive(ae);
    expect(wire).toEqual([]);
    scheduler.runUntil(scheduler.now + 5);
    const ack = wire.find((m) => m.type === 'AppendEntriesResponse')!;
    expect(ack).toMatchObject({ success: true, index: r.index });
    expect(follower.disk.lastIndex()).toBe(r.index);
    wire.length = 0;
    leader.receive(ack);
    expect(leader.raft!.log.committed).toBe(r.index);
    scheduler.runUntil(scheduler.now + 5);
    expect(applied.get(leader.id)!.at(-1)!.index).toBe(r.index);
  });

  test("committed entries apply in the step that learns the commit, before this node's own write lands (runtime order)", () => {
    const { scheduler, wire, hosts, applied, errors } = setup(['n1', 'n2', 'n3']);
    for (const h of hosts) h.start();
    const deliverAll = () => {
      while (wire.length > 0) {
        const m = wire.shift()!;
        hosts.find((h) => h.id === m.to)!.receive(m);
      }
    };
    for (let t = 0; t < 2000 && !hosts.some((h) => h.raft?.role === 'leader'); t += 5) {
      scheduler.runUntil(t);
      deliverAll();
    }
    const leader = hosts.find((h) => h.raft?.role === 'leader')!;
    const [f1, f2] = hosts.filter((h) => h !== leader) as [NodeHost, NodeHost];
    scheduler.runUntil(scheduler.now + 20);
    deliverAll();
    // The leader's disk turns slow: its own write of the entry lands long after the followers'.
    leader.disk.conditions = { ...FAST_DISK, fsyncMs: [100, 100] };
    const r = leader.propose([new TextEncoder().encode('x')])!;
    const aes = wire.splice(0).filter((m) => m.type === 'AppendEntries');
    for (const ae of aes) hosts.find((h) => h.id === ae.to)!.receive(ae);
    scheduler.runUntil(scheduler.now + 5); // the followers' writes land: they acknowledge
    const acks = wire.splice(0).filter((m) => m.type === 'AppendEntriesResponse' && m.index === r.index);
    expect(acks).toHaveLength(2);
    for (const ack of acks) leader.receive(ack);
    expect(leader.raft!.log.committed).toBe(r.index); // a majority without the leader's own copy
    expect(leader.disk.lastIndex()).toBeLessThan(r.index);
    expect(applied.get(leader.id)!.at(-1)!.index).toBe(r.index);

    // A follower learns the commit from the next append and applies at once; the commit index alone
    // is not written (it is volatile, Figure 2): no write is issued for it.
    const commits = wire.splice(0).filter((m) => m.to === f1.id);
    expect(commits.length).toBeGreaterThan(0);
    for (const m of commits) f1.receive(m);
    expect(f1.raft!.log.committed).toBe(r.index);
    expect(applied.get(f1.id)!.at(-1)!.index).toBe(r.index);
    expect(f1.disk.pendingWrites()).toBe(0);
    expect(f1.disk.hardState.commit).toBeLessThan(r.index);
    // It rides along with the next write.
    leader.propose([new TextEncoder().encode('y')]);
    for (const m of wire.splice(0).filter((m) => m.to === f1.id)) f1.receive(m);
    expect(f1.disk.pendingWrites()).toBe(1);
    scheduler.runUntil(scheduler.now + 5);
    expect(f1.disk.hardState.commit).toBe(r.index);
    expect(f2.raft!.log.committed).toBeLessThan(r.index); // it heard nothing of the commit
    expect(errors).toEqual([]);
  });

  test("a snapshot taken past the leader's own write in flight compacts its log once the write lands (§7); a restart restores it", () => {
    const { scheduler, wire, hosts, applied, errors } = setup(['n1', 'n2', 'n3'], [5, 5], {
      entries: 1,
      keepEntries: 0,
    });
    for (const h of hosts) h.start();
    const deliverAll = () => {
      while (wire.length > 0) {
        const m = wire.shift()!;
        hosts.find((h) => h.id === m.to)!.receive(m);
      }
    };
    for (let t = 0; t < 2000 && !hosts.some((h) => h.raft?.role === 'leader'); t += 5) {
      scheduler.runUntil(t);
      deliverAll();
    }
    const leader = hosts.find((h) => h.raft?.role === 'leader')!;
    scheduler.runUntil(scheduler.now + 20);
    deliverAll();
    leader.disk.conditions = { ...FAST_DISK, fsyncMs: [100, 100] };
    const r = leader.propose([new TextEncoder().encode('x')])!;
    for (const ae of wire.splice(0).filter((m) => m.type === 'AppendEntries')) {
      hosts.find((h) => h.id === ae.to)!.receive(ae);
    }
    scheduler.runUntil(scheduler.now + 5);
    const acks = wire.splice(0).filter((m) => m.type === 'AppendEntriesResponse' && m.index === r.index);
    const pastBefore = leader.snapshots.pastOwnWrite;
    for (const ack of acks) leader.receive(ack);
    // Applied and snapshot at once; the log keeps the entry until its own write lands.
    expect(applied.get(leader.id)!.at(-1)!.index).toBe(r.index);
    expect(leader.snapshots.pastOwnWrite).toBe(pastBefore + 1);
    const log = leader.raft!.log;
    expect(leader.raft!.snapshot!.meta.index).toBe(r.index);
    expect([log.stableIndex, log.snapshotIndex]).toEqual([r.index - 1, r.index - 1]);
    scheduler.runUntil(scheduler.now + 100);
    expect([log.stableIndex, log.snapshotIndex]).toEqual([r.index, r.index]);
    expect(leader.disk.snapshot!.meta.index).toBe(r.index);

    const digest = leader.appliedDigest;
    leader.crash();
    leader.start();
    expect([leader.applied, leader.appliedDigest]).toEqual([r.index, digest]);
    expect(errors).toEqual([]);
  });

  test('a crash loses the writes in flight; a restart reads back the disk', () => {
    const { scheduler, hosts, applied } = setup(['n1'], [50, 50]);
    const [n1] = hosts as [NodeHost];
    n1.start();
    scheduler.runUntil(400, () => n1.raft!.role === 'candidate');
    const term = n1.raft!.term;
    // A one-server cluster leads only once its vote for itself is durable.
    expect(n1.disk.pendingWrites()).toBe(1);
    scheduler.runUntil(scheduler.now + 49);
    expect(n1.raft!.role).toBe('candidate');
    scheduler.runUntil(scheduler.now + 1);
    expect(n1.raft!.role).toBe('leader');
    expect(n1.disk.hardState).toMatchObject({ term, vote: 'n1' });
    expect(n1.disk.pendingWrites()).toBe(1); // the no-op on its way to disk
    expect(n1.crash()).toEqual({ lostWrites: 1, lostEntries: 1 });
    expect(n1.alive).toBe(false);
    expect(n1.timers()).toBe(0);
    n1.start();
    expect(n1.incarnation).toBe(2);
    expect(n1.raft!.term).toBe(term); // the durable term and vote survive
    expect(n1.raft!.vote).toBe('n1');
    scheduler.runUntil(2000, () => n1.raft!.log.committed > 0);
    // It never leads the same term twice, so no (index, term) can name two commands.
    expect(n1.raft!.term).toBeGreaterThan(term);
    scheduler.runUntil(scheduler.now + 100);
    expect(applied.get('n1')!.map((e) => [e.index, e.type])).toEqual([[1, 'noop']]);
    n1.stop();
    expect(n1.timers()).toBe(0);
  });

  test('a message to a crashed server is lost', () => {
    const { hosts, errors } = setup(['n1', 'n2']);
    const [n1] = hosts as [NodeHost, NodeHost];
    n1.receive({ type: 'Heartbeat', from: 'n2', to: 'n1', term: 1, commit: 0, readRound: 0 });
    expect(n1.alive).toBe(false);
    expect(errors).toEqual([]);
  });
});
