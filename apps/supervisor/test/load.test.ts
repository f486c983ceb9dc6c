import { NotLeaderError } from '@xraft/runtime';
import { afterEach, describe, expect, test, vi } from 'vitest';
import { KvLoad, type LoadKv, loadKey, ROUND_WRITES } from '../src/load.js';

/** FakeKv is an in-memory store whose appends can be made to misbehave, one write number at a time. */
class FakeKv implements LoadKv {
  readonly data = new Map<string, string>();
  /** What to do with write n: apply it once and answer (default), apply and fail, drop but answer, apply twice. */
  fault = new Map<number, 'timeout-applied' | 'not-leader' | 'applied-not-leader' | 'lose' | 'twice'>();

  async append(key: string, suffix: string): Promise<void> {
    const n = Number(suffix.slice(0, -1));
    const f = this.fault.get(n);
    const add = () => this.data.set(key, (this.data.get(key) ?? '') + suffix);
    if (f === 'lose') return;
    if (f === 'not-leader') throw new NotLeaderError('append', 8, ['n1', 'n2', 'n3']);
    add();
    if (f === 'twice') add();
    if (f === 'timeout-applied') throw new Error('timed out: outcome unknown');
    if (f === 'applied-not-leader') throw new NotLeaderError('append', 8, ['n1', 'n2', 'n3']);
  }

  async get(key: string): Promise<string | undefined> {
    return this.data.get(key);
  }

  async delete(key: string): Promise<boolean> {
    return this.data.delete(key);
  }
}

afterEach(() => {
  vi.useRealTimers();
});

/** drive runs `writes` writes at 1000/s on fake timers, then finishes the load. */
async function drive(kv: FakeKv, writes: number): Promise<{ load: KvLoad; anomalies: string[] }> {
  vi.useFakeTimers();
  const anomalies: string[] = [];
  const load = new KvLoad(kv, 1000, (a) => anomalies.push(a));
  load.start();
  await vi.advanceTimersByTimeAsync(writes); // 1 write per ms
  vi.useRealTimers();
  await load.finish();
  return { load, anomalies };
}

describe('the self-checking load of xraft start', () => {
  test('every acknowledged write is read back exactly once; finished rounds are deleted', async () => {
    const kv = new FakeKv();
    kv.fault.set(5, 'timeout-applied'); // unknown outcome: there once, which is fine
    kv.fault.set(6, 'not-leader'); // surely not applied, and not there
    const { load, anomalies } = await drive(kv, 2 * ROUND_WRITES + 10);
    expect(anomalies).toEqual([]);
    expect(load.lost + load.duplicated).toBe(0);
    expect(load.verified).toBe(load.acknowledged);
    expect(load.acknowledged + load.failed).toBeGreaterThanOrEqual(2 * ROUND_WRITES);
    expect([...kv.data.keys()]).toEqual([]);
  });

  test('a lost acknowledged write, a write applied twice and a failed write that applied are each reported', async () => {
    const kv = new FakeKv();
    kv.fault.set(3, 'lose');
    kv.fault.set(4, 'twice');
    kv.fault.set(7, 'applied-not-leader');
    kv.fault.set(ROUND_WRITES + 1, 'lose');
    const { load, anomalies } = await drive(kv, ROUND_WRITES + 100);
    expect(load.lost).toBe(2);
    expect(load.duplicated).toBe(2);
    expect(anomalies).toContain(`acknowledged write 3 to ${loadKey(3)} is missing`);
    expect(anomalies).toContain(`write 4 to ${loadKey(4)} was applied 2 times`);
    expect(anomalies).toContain(
      `write 7 to ${loadKey(7)} is there 1 time(s) though it failed as not applied`,
    );
  });
});
