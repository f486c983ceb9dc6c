import { describe, expect, test } from 'vitest';
import { Simulation } from '../src/simulation.js';
import { formatEvent, type SimEvent } from '../src/trace.js';

describe('the event hook (onEvent) for live displays', () => {
  test('reports elections, commits and faults as they happen', () => {
    const events: SimEvent[] = [];
    const r = new Simulation(5, { nodes: 5, faults: 'heavy', onEvent: (e) => events.push(e) }).run();
    expect(r.ok).toBe(true);
    const kinds = new Set(events.map((e) => e.kind));
    for (const k of [
      'deliver',
      'role',
      'commit',
      'persist',
      'propose',
      'crash',
      'restart',
      'note',
    ] as const) {
      expect(kinds).toContain(k);
    }
    const leaders = events.filter((e) => e.kind === 'role' && e.role === 'leader');
    expect(leaders.length).toBe(r.stats.elections);
    expect(formatEvent(leaders[0]!)).toMatch(/^\s+\d+\.\d{6}s {2}n\d became leader term \d+$/);
    // Virtual time never goes backwards in the stream.
    for (let i = 1; i < events.length; i++)
      expect(events[i]!.time).toBeGreaterThanOrEqual(events[i - 1]!.time);
  });

  test('a simulation can be driven in slices of virtual time', () => {
    const commits: number[] = [];
    const sim = new Simulation(6, {
      nodes: 3,
      faults: 'light',
      onEvent: (e) => {
        if (e.kind === 'commit') commits.push(e.index);
      },
    });
    sim.start();
    for (let t = 100; t <= 3000; t += 100) {
      sim.runUntil(t);
      expect(sim.now).toBe(t);
    }
    expect(sim.leader()).not.toBeNull();
    expect(commits.length).toBeGreaterThan(0);
    expect(sim.describeCluster()).toMatch(/n1 (follower|leader|candidate|precandidate|down)/);
    sim.heal();
    sim.checkLiveness();
    expect(sim.failed).toBe(false);
    expect(sim.result().stats.recoveryMs).toBeGreaterThanOrEqual(0);
  });

  test('injected faults can be driven by hand through the nemesis', () => {
    const sim = new Simulation(7, { nodes: 5, faults: 'none' });
    sim.runUntil(1000);
    const leader = sim.leader()!;
    expect(leader).not.toBeNull();
    sim.nemesis.crash(leader.id, 500);
    expect(leader.alive).toBe(false);
    sim.runUntil(3000);
    expect(leader.alive).toBe(true);
    expect(sim.leader()).not.toBeNull();
    const r = sim.run();
    expect(r.violations).toEqual([]);
  });
});
