import { expect, test } from 'vitest';
import { advanceUntil, elect, solo, TestNetwork } from './harness.js';

test('three nodes elect a leader and commit a proposal', () => {
  const net = new TestNetwork(['n1', 'n2', 'n3']);
  for (let i = 0; i < 40 && net.leaders().length === 0; i++) {
    net.clock.advance(10);
    net.deliverAll();
  }
  const leaders = net.leaders();
  expect(leaders).toHaveLength(1);
  const leader = net.node(leaders[0]!);
  const res = leader.propose([new TextEncoder().encode('x')]);
  expect(res.isLeader).toBe(true);
  net.drain(leader.id);
  net.deliverAll();
  net.clock.advance(60);
  net.deliverAll();
  for (const id of net.ids) {
    expect(net.applied.get(id)!.map((d) => new TextDecoder().decode(d))).toEqual(['x']);
  }
});

test('stop() cancels every timer a node set on its clock, in every role', () => {
  for (const role of ['follower', 'candidate', 'leader'] as const) {
    const s = solo({ preVote: false });
    if (role === 'candidate') advanceUntil(s.clock, () => s.node.status().role === 'candidate');
    if (role === 'leader') elect(s);
    s.node.transferLeadership('n2'); // a leader also runs a transfer timer
    expect(s.clock.pending(), role).toBeGreaterThan(0);
    s.node.stop();
    expect(s.clock.pending(), role).toBe(0);
  }
});
