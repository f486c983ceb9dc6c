import { describe, expect, test } from 'vitest';
import { parseStateValue, renderStatechart } from '../src/diagram.js';

describe('xraft diagram', () => {
  test('renders SVG offline, with the current state highlighted', async () => {
    const plain = await renderStatechart('svg');
    const lit = await renderStatechart('svg', { follower: 'leaderRecent' });
    expect(plain.startsWith('<?xml') || plain.startsWith('<svg')).toBe(true);
    for (const state of ['follower', 'precandidate', 'candidate', 'leader', 'leaderRecent', 'transferring']) {
      expect(plain).toContain(`>${state}`);
    }
    // The highlight colour marks the active leaf and only appears when asked for.
    expect(plain).not.toContain('#f9a825');
    expect(lit).toContain('#f9a825');
  });

  test('DOT and Mermaid come from the same machine', async () => {
    const dot = await renderStatechart('dot', 'leader');
    expect(dot).toMatch(/^digraph statechart \{/);
    expect(dot).toContain('subgraph cluster_leader {');
    expect(dot).toContain('subgraph cluster_leader_checkQuorum {');
    const mermaid = await renderStatechart('mermaid', 'leader');
    expect(mermaid).toMatch(/^stateDiagram-v2\n/);
    expect(mermaid).toContain('class leader active');
  });

  test('a state value is checked against the machine', () => {
    expect(parseStateValue('candidate')).toBe('candidate');
    expect(parseStateValue('{"follower":"leaderRecent"}')).toEqual({ follower: 'leaderRecent' });
    expect(() => parseStateValue('leadr')).toThrow(
      /no state "leadr" \(states here: boot, follower, precandidate, candidate, leader\)/,
    );
    expect(() => parseStateValue('{"follower":"nope"}')).toThrow(/no state "follower.nope"/);
    expect(() => parseStateValue('{oops')).toThrow(/not a state name or JSON/);
  });
});
