import { afterEach, beforeEach, describe, expect, test, vi } from 'vitest';
import { Deadlines } from '../src/deadlines.js';

describe('Deadlines', () => {
  beforeEach(() => {
    vi.useFakeTimers();
  });
  afterEach(() => {
    vi.useRealTimers();
  });

  test('expires each item at its deadline, with one timer for all, unless deleted first', () => {
    const expired: string[] = [];
    const deadlines = new Deadlines<{ deadline: number; name: string }>((item) => expired.push(item.name));
    const now = Date.now();
    const a = { deadline: now + 100, name: 'a' };
    const b = { deadline: now + 100, name: 'b' };
    const c = { deadline: now + 50, name: 'c' };
    const d = { deadline: now + 300, name: 'd' };
    deadlines.add(a);
    deadlines.add(b);
    expect(vi.getTimerCount()).toBe(1);
    deadlines.add(c);
    deadlines.add(d);
    expect(vi.getTimerCount()).toBe(1);
    expect(deadlines.delete(b)).toBe(true);
    expect(deadlines.delete(b)).toBe(false);
    vi.advanceTimersByTime(49);
    expect(expired).toEqual([]);
    vi.advanceTimersByTime(1);
    expect(expired).toEqual(['c']);
    vi.advanceTimersByTime(50);
    expect(expired).toEqual(['c', 'a']);
    expect(deadlines.delete(a)).toBe(false);
    vi.advanceTimersByTime(200);
    expect(expired).toEqual(['c', 'a', 'd']);
    expect(deadlines.size).toBe(0);
    expect(vi.getTimerCount()).toBe(0);
  });

  test('close forgets every item without expiring it', () => {
    const expire = vi.fn();
    const deadlines = new Deadlines<{ deadline: number }>(expire);
    deadlines.add({ deadline: Date.now() + 10 });
    deadlines.close();
    vi.advanceTimersByTime(100);
    expect(expire).not.toHaveBeenCalled();
    expect(deadlines.size).toBe(0);
  });
});
