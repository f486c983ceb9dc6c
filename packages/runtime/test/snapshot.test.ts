// Snapshots and log compaction on real workers (§7): the log stays bounded,
// a restart restores the snapshot and replays only the tail, and a follower
// too far behind catches up through InstallSnapshot.
import { describe, expect, it } from 'vitest';
import type { KvClient } from '../src/index.js';
import { Harness, waitFor } from './harness.js';

const POLICY = { entries: 40, keepEntries: 10 };

async function open(storage: 'memory' | 'disk') {
  const h = await Harness.start({ nodes: 3, storage, snapshotThreshold: POLICY });
  const kv = h.c.client({ timeoutMs: 15_000 });
  return { h, c: h.c, kv };
}

/** write puts `count` values over 20 keys, `batch` at a time (a client batches concurrent calls into one entry); returns the final value of each key. */
async function write(kv: KvClient, count: number, tag: string, batch = 2): Promise<Map<string, string>> {
  const want = new Map<string, string>();
  for (let i = 0; i < count; i += batch) {
    const calls = [];
    for (let j = i; j < Math.min(count, i + batch); j++) {
      const key = `k${j % 20}`;
      want.set(key, `${tag}${j}`);
      calls.push(kv.put(key, `${tag}${j}`));
    }
    await Promise.all(calls);
  }
  return want;
}

async function expectValues(kv: KvClient, want: Map<string, string>): Promise<void> {
  for (const [key, value] of want) expect(await kv.get(key), key).toBe(value);
}

describe('snapshots and log compaction on workers (§7)', () => {
  it('keeps every log bounded under load and restores a restarted node from its snapshot plus the tail', async () => {
    const { h, c, kv } = await open('disk');
    try {
      const want = await write(kv, 400, 'a');
      // Every node applied everything; its log holds at most threshold + kept entries (+ a batch in flight).
      const leader = await c.leader();
      const last = (await c.status(leader)).applied;
      for (const id of c.ids) {
        await waitFor(() => c.state(id).lastApplied >= last, 10_000, `${id} to apply ${last}`);
        const r = await c.status(id);
        expect(r.snapshotsTaken, id).toBeGreaterThan(0);
        expect(r.logEntries, id).toBeLessThanOrEqual(POLICY.entries + POLICY.keepEntries + 20);
        expect(r.snapshotIndex, id).toBeGreaterThan(last - POLICY.entries - 20);
      }
      // A restarted follower loads its snapshot and replays only the entries after it.
      const follower = c.ids.find((id) => id !== leader)!;
      h.willReplace(follower);
      await c.crash(follower);
      await c.restart(follower);
      const r = await c.status(follower);
      expect(r.snapshotIndex).toBeGreaterThan(0);
      expect(r.firstLogIndex).toBeGreaterThan(1);
      await c.transferLeadership(leader, follower);
      await waitFor(() => c.state(follower).role === 'leader', 10_000, `${follower} to lead`);
      await expectValues(kv, want); // served by the restarted node's restored state machine
    } finally {
      await kv.close();
    }
    h.assertSafe();
  });

  it('a follower cut off while the others compact catches up through InstallSnapshot', async () => {
    const { h, c, kv } = await open('memory');
    try {
      await write(kv, 20, 'x');
      const leader = await c.leader();
      const lagger = c.ids.find((id) => id !== leader)!;
      await c.disconnect(lagger);
      const want = await write(kv, 300, 'y');
      const leaderNow = await c.leader();
      const first = (await c.status(leaderNow)).firstLogIndex;
      expect(first).toBeGreaterThan(c.state(lagger).lastLogIndex + 1); // what it needs is compacted away
      await c.connect(lagger);
      const target = (await c.status(leaderNow)).applied;
      await waitFor(() => c.state(lagger).lastApplied >= target, 10_000, `${lagger} to catch up`);
      const r = await c.status(lagger);
      expect(r.snapshotsInstalled).toBeGreaterThan(0);
      await c.transferLeadership(leaderNow, lagger);
      await waitFor(() => c.state(lagger).role === 'leader', 10_000, `${lagger} to lead`);
      await expectValues(kv, want); // served from the installed snapshot and the entries after it
    } finally {
      await kv.close();
    }
    h.assertSafe();
  });

  it('rejects a bad snapshot threshold with a message naming the field', async () => {
    await expect(Harness.start({ snapshotThreshold: { entries: 0 } })).rejects.toThrow(
      /snapshotThreshold\.entries must be a positive integer/,
    );
  });
});
