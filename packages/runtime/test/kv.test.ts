import { describe, expect, it } from 'vitest';
import { ClosedError, type KvClient } from '../src/index.js';
import { Harness } from './harness.js';

/** open starts a cluster and a client closed with it. */
async function open(nodes = 3, storage: 'memory' | 'disk' = 'memory') {
  const h = await Harness.start({ nodes, storage });
  const kv = h.c.client({ timeoutMs: 10_000 });
  return { h, c: h.c, kv };
}

async function closeAfter<T>(kv: KvClient, fn: () => Promise<T>): Promise<T> {
  try {
    return await fn();
  } finally {
    await kv.close();
  }
}

describe('the KV store on real workers (c.client())', () => {
  it('serves every operation through the leader, with the contract’s results', async () => {
    const { kv } = await open();
    await closeAfter(kv, async () => {
      expect(await kv.get('a')).toBeUndefined();
      await kv.put('a', '1');
      expect(await kv.get('a')).toBe('1');
      await kv.append('a', '2');
      await kv.append('new', 'x'); // a missing key appends to ''
      expect(await kv.get('a')).toBe('12');
      expect(await kv.get('new')).toBe('x');
      expect(await kv.cas('a', '12', '3')).toBe(true);
      expect(await kv.cas('a', '12', '4')).toBe(false);
      expect(await kv.cas('absent', undefined, 'created')).toBe(true);
      const bytes = new Uint8Array([0, 1, 255]);
      await kv.put('bin', bytes);
      expect(await kv.get('bin')).toEqual(bytes);
      expect(await kv.list('a')).toEqual([
        { key: 'a', value: '3' },
        { key: 'absent', value: 'created' },
      ]);
      expect(await kv.delete('a')).toBe(true);
      expect(await kv.delete('a')).toBe(false);
      expect(await kv.get('a', { read: 'stale' })).toBeUndefined();
    });
  });

  it('batches concurrent calls and keeps every append exactly once across a leader crash', async () => {
    const { h, c, kv } = await open(3, 'disk');
    await closeAfter(kv, async () => {
      await kv.put('log', '');
      const first = Array.from({ length: 50 }, (_, i) => kv.append('log', `<${i}>`));
      const leader = await c.leader();
      h.willReplace(leader);
      await c.crash(leader);
      const second = Array.from({ length: 50 }, (_, i) => kv.append('log', `<${50 + i}>`));
      const outcomes = await Promise.allSettled([...first, ...second]);
      const failed = outcomes.filter((o) => o.status === 'rejected');
      expect(failed).toEqual([]);
      const log = (await kv.get('log')) as string;
      const parts = log.match(/<\d+>/g) ?? [];
      expect(parts).toHaveLength(100);
      expect(new Set(parts).size).toBe(100);
      await c.restart(leader);
    });
  });

  it('a leader cut off in a minority never answers a linearizable read', async () => {
    const { c, kv } = await open(5);
    await closeAfter(kv, async () => {
      await kv.put('k', 'before');
      const old = await c.leader();
      const rest = c.ids.filter((id) => id !== old);
      await c.partition([old, rest[0]!], rest.slice(1));
      // The majority elects a leader and writes; the minority leader must not serve the old value.
      await kv.put('k', 'after');
      // Completed before the read: a stale minority leader answering would return 'before'.
      expect(await kv.get('k')).toBe('after');
      await c.heal();
    });
  });

  it('close() rejects calls still pending with ClosedError', async () => {
    const { c, kv } = await open();
    await kv.put('x', '1');
    for (const id of c.ids) await c.disconnect(id);
    const pending = kv.put('x', '2');
    await kv.close();
    await expect(pending).rejects.toBeInstanceOf(ClosedError);
  });
});
