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

  test('many items added and deleted in any order: each expires once, unless deleted, and values keep the order of adding', () => {
    const expired: number[] = [];
    const deadlines = new Deadlines<{ deadline: number; n: number; deadlineSlot: number }>((item) =>
      expired.push(item.n),
    );
    const now = Date.now();
    const items = Array.from({ length: 200 }, (_, n) => ({
      deadline: now + 1 + (n % 7),
      n,
      deadlineSlot: -1,
    }));
    for (const item of items) deadlines.add(item);
    // Delete most of them (every third stays), from the back and the front, so slots are reclaimed midway.
    for (const item of items)
      if (item.n % 3 !== 0 && item.n >= 100) expect(deadlines.delete(item)).toBe(true);
    for (const item of items) if (item.n % 3 !== 0 && item.n < 100) expect(deadlines.delete(item)).toBe(true);
    for (const item of items) if (item.n % 3 !== 0) expect(deadlines.delete(item)).toBe(false);
    // Items added after the reclaiming still come last.
    const late = Array.from({ length: 50 }, (_, i) => ({
      deadline: now + 20,
      n: 1000 + i,
      deadlineSlot: -1,
    }));
    for (const item of late) deadlines.add(item);
    const kept = items.filter((item) => item.n % 3 === 0);
    expect(deadlines.values().map((item) => item.n)).toEqual([...kept, ...late].map((item) => item.n));
    expect(deadlines.size).toBe(kept.length + late.length);
    vi.advanceTimersByTime(10);
    expect([...expired].sort((a, b) => a - b)).toEqual(kept.map((item) => item.n));
    vi.advanceTimersByTime(10);
    expect(expired.length).toBe(kept.length + late.length);
    expect(deadlines.size).toBe(0);
    // An item deleted (or expired) can be watched again.
    deadlines.add(items[1]!);
    expect(deadlines.values()).toEqual([items[1]]);
    expect(deadlines.delete(items[1]!)).toBe(true);
  });

  test('an item expiring may delete another due at the same time: that one is not expired', () => {
    const expired: string[] = [];
    const now = Date.now();
    const b = { deadline: now + 10, name: 'b' };
    const deadlines = new Deadlines<{ deadline: number; name: string }>((item) => {
      expired.push(item.name);
      if (item.name === 'a') deadlines.delete(b);
    });
    deadlines.add({ deadline: now + 10, name: 'a' });
    deadlines.add(b);
    vi.advanceTimersByTime(10);
    expect(expired).toEqual(['a']);
  });
});
