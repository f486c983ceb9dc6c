import { expect, test } from 'vitest';
import { TestNetwork } from './harness.js';

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
