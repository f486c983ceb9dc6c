import type { Message } from '@xraft/core';
import { describe, expect, test } from 'vitest';
import { Network, type NetworkConditions, RELIABLE_NETWORK } from '../src/network.js';
import { Rng } from '../src/rng.js';
import { Scheduler } from '../src/scheduler.js';
import type { SimEvent } from '../src/trace.js';

const ids = ['n1', 'n2', 'n3', 'n4', 'n5'];
const hb = (from: string, to: string, commit = 0): Message => ({
  type: 'Heartbeat',
  from,
  to,
  term: 1,
  commit,
  readRound: 0,
});

function setup(conditions: NetworkConditions = RELIABLE_NETWORK, seed = 1) {
  const scheduler = new Scheduler();
  const got: { m: Message; at: number }[] = [];
  const events: SimEvent[] = [];
  const net = new Network(
    ids,
    scheduler,
    new Rng(seed),
    (m) => got.push({ m, at: scheduler.now }),
    conditions,
    (e) => events.push(e),
  );
  return { scheduler, net, got, events };
}

describe('Network', () => {
  test('delivers each message once, within the delay range, owned by the receiver', () => {
    const { scheduler, net, got } = setup({ ...RELIABLE_NETWORK, delayMs: [3, 7] });
    for (let i = 0; i < 200; i++) net.send(hb('n1', 'n2', i));
    scheduler.runUntil(1000);
    expect(got).toHaveLength(200);
    for (const g of got) {
      expect(g.at).toBeGreaterThanOrEqual(3);
      expect(g.at).toBeLessThan(7);
    }
    // Independent delays reorder messages.
    const order = got.map((g) => (g.m as { commit: number }).commit);
    expect(order).not.toEqual([...order].sort((a, b) => a - b));
  });

  test('loses and duplicates at the configured rates (seed 1)', () => {
    const { scheduler, net, got } = setup({ ...RELIABLE_NETWORK, dropRate: 0.2, duplicateRate: 0.1 });
    for (let i = 0; i < 5000; i++) net.send(hb('n1', 'n2', i));
    scheduler.runUntil(1000);
    expect(net.stats.dropped / 5000).toBeCloseTo(0.2, 1);
    expect(net.stats.duplicated / (5000 - net.stats.dropped)).toBeCloseTo(0.1, 1);
    expect(got).toHaveLength(5000 - net.stats.dropped + net.stats.duplicated);
  });

  test('spikes hold some messages back far longer', () => {
    const { scheduler, net, got } = setup({ ...RELIABLE_NETWORK, spikeRate: 0.1, spikeMs: [500, 600] });
    for (let i = 0; i < 1000; i++) net.send(hb('n1', 'n2', i));
    scheduler.runUntil(10_000);
    const late = got.filter((g) => g.at >= 500).length;
    expect(late).toBeGreaterThan(50);
    expect(late).toBeLessThan(150);
  });

  test('a partition cuts both directions between groups; a node in no group is isolated', () => {
    const { net } = setup();
    net.partition([
      ['n1', 'n2'],
      ['n3', 'n4'],
    ]);
    expect(net.isUp('n1', 'n2')).toBe(true);
    expect(net.isUp('n3', 'n4')).toBe(true);
    expect(net.isUp('n1', 'n3')).toBe(false);
    expect(net.isUp('n4', 'n2')).toBe(false);
    expect(net.isUp('n5', 'n1')).toBe(false);
    expect(net.isUp('n1', 'n5')).toBe(false);
    expect(net.isHealed()).toBe(false);
    net.heal();
    expect(net.isHealed()).toBe(true);
  });

  test('one-way links; a link that goes down loses the messages in flight on it', () => {
    const { scheduler, net, got, events } = setup({ ...RELIABLE_NETWORK, delayMs: [10, 10] });
    net.setLink('n1', 'n2', false);
    net.send(hb('n1', 'n2'));
    net.send(hb('n2', 'n1'));
    net.setLink('n1', 'n2', true);
    net.send(hb('n1', 'n3'));
    net.setLink('n1', 'n3', false);
    scheduler.runUntil(100);
    expect(got.map((g) => `${g.m.from}->${g.m.to}`)).toEqual(['n2->n1']);
    expect(events.map((e) => (e.kind === 'drop' ? e.reason : e.kind))).toEqual(['link down', 'link down']);
  });

  test('the same seed gives the same deliveries', () => {
    const run = (seed: number) => {
      const { scheduler, net, got } = setup(
        { ...RELIABLE_NETWORK, dropRate: 0.3, duplicateRate: 0.3, delayMs: [1, 50] },
        seed,
      );
      for (let i = 0; i < 300; i++) net.send(hb(ids[i % 5]!, ids[(i + 1) % 5]!, i));
      scheduler.runUntil(1000);
      return got.map((g) => `${g.at}:${g.m.from}:${(g.m as { commit: number }).commit}`);
    };
    expect(run(7)).toEqual(run(7));
    expect(run(7)).not.toEqual(run(8));
  });
});
