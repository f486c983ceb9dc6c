import { describe, expect, test } from 'vitest';
import { Scheduler } from '../src/scheduler.js';

describe('Scheduler', () => {
  test('runs tasks in (time, seq) order and moves time with them', () => {
    const s = new Scheduler();
    const log: string[] = [];
    s.at(10, () => log.push(`b@${s.now}`));
    s.at(5, () => log.push(`a@${s.now}`));
    s.at(10, () => log.push(`c@${s.now}`));
    s.after(0, () => log.push(`z@${s.now}`));
    s.runUntil(100);
    expect(log).toEqual(['z@0', 'a@5', 'b@10', 'c@10']);
    expect(s.now).toBe(100);
    expect(s.steps).toBe(4);
  });

  test('a task scheduled in the past runs now; nested tasks at the same time run after', () => {
    const s = new Scheduler();
    const log: number[] = [];
    s.at(5, () => {
      s.at(1, () => log.push(s.now));
      s.after(0, () => log.push(s.now + 0.5));
    });
    s.runUntil(10);
    expect(log).toEqual([5, 5.5]);
  });

  test('cancelled tasks never run; runUntil stops at its limit and on request', () => {
    const s = new Scheduler();
    const log: number[] = [];
    const t = s.at(1, () => log.push(1));
    s.at(2, () => log.push(2));
    s.at(3, () => log.push(3));
    s.at(20, () => log.push(20));
    s.cancel(t);
    s.runUntil(10, () => log.length >= 1);
    expect(log).toEqual([2]);
    s.runUntil(10);
    expect(log).toEqual([2, 3]);
    expect(s.nextTime()).toBe(20);
  });

  test('a paused node runs its due tasks at the end of the pause, in their order; others go on', () => {
    const s = new Scheduler();
    const log: string[] = [];
    s.pause('n1', 50);
    s.at(10, () => log.push(`n1-a@${s.now}`), 'n1');
    s.at(20, () => log.push(`n2@${s.now}`), 'n2');
    s.at(30, () => log.push(`n1-b@${s.now}`), 'n1');
    s.at(60, () => log.push(`n1-c@${s.now}`), 'n1');
    expect(s.isPaused('n1')).toBe(true);
    s.runUntil(100);
    expect(log).toEqual(['n2@20', 'n1-a@50', 'n1-b@50', 'n1-c@60']);
    expect(s.isPaused('n1')).toBe(false);
  });

  test('a pause extended while tasks wait keeps them in the order they came due', () => {
    const s = new Scheduler();
    const log: string[] = [];
    s.pause('n1', 50);
    s.at(10, () => log.push('a'), 'n1');
    s.at(20, () => s.pause('n1', 80)); // extended after a was deferred to 50
    s.at(30, () => log.push('b'), 'n1'); // deferred straight to 80
    s.at(5, () => s.at(80, () => log.push('late'), 'n1')); // comes due at 80 itself
    s.at(80, () => log.push('other'));
    s.runUntil(100);
    expect(log).toEqual(['a', 'b', 'other', 'late']);
  });

  test('a longer pause extends a shorter one, never the reverse', () => {
    const s = new Scheduler();
    s.pause('n1', 50);
    s.pause('n1', 30);
    expect(s.pausedUntilTime('n1')).toBe(50);
    s.pause('n1', 70);
    expect(s.pausedUntilTime('n1')).toBe(70);
  });

  test('an interleaving of many random tasks is a pure function of the schedule (heap order)', () => {
    const run = () => {
      const s = new Scheduler();
      const out: number[] = [];
      let x = 7;
      for (let i = 0; i < 2000; i++) {
        x = (x * 1103515245 + 12345) & 0x7fffffff;
        const at = x % 97;
        s.at(at, () => out.push(i));
      }
      s.runUntil(1000);
      return out;
    };
    const a = run();
    expect(a).toEqual(run());
    // Sorted by time, then by scheduling order.
    expect(a).toHaveLength(2000);
  });
});

describe('NodeClock', () => {
  test('implements the core Clock: timers fire on virtual time, clearTimeout cancels', () => {
    const s = new Scheduler();
    let fired = 0;
    const clock = s.clockFor('n1', () => fired++);
    const log: number[] = [];
    clock.setTimeout(() => log.push(s.now), 150);
    const h = clock.setTimeout(() => log.push(-1), 100);
    clock.clearTimeout(h);
    expect(clock.timers()).toBe(1);
    s.runUntil(1000);
    expect(log).toEqual([150]);
    expect(fired).toBe(1);
    expect(clock.timers()).toBe(0);
  });

  test('cancelAll is a crash: pending timers vanish and new ones are refused', () => {
    const s = new Scheduler();
    const clock = s.clockFor('n1');
    const log: number[] = [];
    clock.setTimeout(() => log.push(1), 10);
    clock.setTimeout(() => log.push(2), 20);
    clock.cancelAll();
    expect(clock.setTimeout(() => log.push(3), 5)).toBeNull();
    s.runUntil(100);
    expect(log).toEqual([]);
    expect(clock.timers()).toBe(0);
  });
});
