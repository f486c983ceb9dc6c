import { describe, expect, test } from 'vitest';
import { formatEvent, formatMessage, type SimEvent, Trace } from '../src/trace.js';
import { entry } from './fixtures.js';

describe('Trace', () => {
  const note = (time: number, text: string): SimEvent => ({ kind: 'note', time, node: null, text });

  test('keeps the last events in a ring, oldest first, and counts them all', () => {
    const t = new Trace(3);
    for (let i = 0; i < 5; i++) t.record(note(i, `e${i}`));
    expect(t.count).toBe(5);
    expect(t.events().map((e) => (e as { text: string }).text)).toEqual(['e2', 'e3', 'e4']);
    expect(t.lines(2)).toEqual(['  0.003000s  e3', '  0.004000s  e4']);
  });

  test('hashes every event: same events, same hash; any difference changes it', () => {
    const run = (texts: string[]) => {
      const t = new Trace(1);
      texts.forEach((x, i) => {
        t.record(note(i, x));
      });
      return t.hash;
    };
    expect(run(['a', 'b'])).toBe(run(['a', 'b']));
    expect(run(['a', 'b'])).not.toBe(run(['b', 'a']));
    expect(run(['a', 'b'])).not.toBe(run(['a', 'c']));
  });

  test('passes every event to the listener', () => {
    const seen: SimEvent[] = [];
    const t = new Trace(1, (e) => seen.push(e));
    t.record(note(1, 'x'));
    t.record(note(2, 'y'));
    expect(seen).toHaveLength(2);
  });

  test('formats readable lines', () => {
    expect(
      formatMessage({
        type: 'AppendEntries',
        from: 'n1',
        to: 'n4',
        term: 7,
        prevLogIndex: 12,
        prevLogTerm: 3,
        entries: [entry(13, 7), entry(14, 7), entry(15, 7), entry(16, 7)],
        leaderCommit: 10,
      }),
    ).toBe('n1 → n4 AppendEntries t7 prev=(12,3) entries=4 [13..16] commit=10');
    expect(
      formatMessage({
        type: 'AppendEntriesResponse',
        from: 'n4',
        to: 'n1',
        term: 7,
        success: false,
        index: 12,
        hintIndex: 9,
        hintTerm: 2,
      }),
    ).toBe('n4 → n1 AppendEntriesResponse t7 reject index=12 hint=(9,2)');
    expect(
      formatMessage({
        type: 'RequestVote',
        from: 'n2',
        to: 'n3',
        term: 5,
        lastLogIndex: 10,
        lastLogTerm: 4,
        transfer: true,
      }),
    ).toBe('n2 → n3 RequestVote t5 last=(10,4) transfer');
    expect(formatEvent({ kind: 'role', time: 1234.5, node: 'n3', role: 'leader', term: 7 })).toBe(
      '  1.234500s  n3 became leader term 7',
    );
    expect(
      formatEvent({ kind: 'crash', time: 2000, node: 'n2', lostEntries: 3, lostWrites: 2, durableIndex: 40 }),
    ).toBe('  2.000000s  n2 crashed (lost 3 unpersisted entries in 2 writes; durable log ends at 40)');
    expect(
      formatEvent({
        kind: 'partition',
        time: 0,
        node: null,
        groups: [
          ['n1', 'n2'],
          ['n3', 'n4', 'n5'],
        ],
      }),
    ).toBe('  0.000000s  partition {n1,n2} | {n3,n4,n5}');
    expect(
      formatEvent({
        kind: 'violation',
        time: 1,
        node: 'n1',
        property: 'Election Safety',
        message: 'two leaders',
      }),
    ).toBe('  0.001000s  VIOLATION Election Safety: two leaders');
  });
});
