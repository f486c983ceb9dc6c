// MIT 6.5840 lab 4B (kvraft with snapshots) on real worker threads:
// TestSnapshotSize4B, TestSnapshotRPC4B, and the GenericTest variants with a
// snapshot threshold (TestSnapshotRecover4B, TestSnapshotRecoverManyClients4B,
// TestSnapshotUnreliable4B, TestSnapshotUnreliableRecover4B,
// TestSnapshotUnreliableRecoverConcurrentPartition4B,
// TestSnapshotUnreliableRecoverConcurrentPartitionLinearizable4B).
//
// Uses the Cluster option `snapshotThreshold` and the NodeReport fields
// `snapshotIndex`, `firstLogIndex`, `logEntries` and `snapshotsInstalled`.
//
// The lab bounds the persisted Raft state in bytes (8 × maxraftstate). Disk
// storage deletes whole 64 MiB segments on compaction, so its file sizes say
// little about a small test; these tests bound `logEntries` instead, the
// entries a node still holds after its compaction point.
import type { NodeId } from '@xraft/core';
import { describe, expect, test } from 'vitest';
import type { Cluster } from '../../src/index.js';
import { genericTest } from './generic.js';
import { MitKv } from './harness.js';

/**
 * Snapshot once this many entries were applied since the last snapshot (the lab's maxraftstate =
 * 1000 bytes is about 20 of its entries); keep half of them before the snapshot point (the default).
 */
const THRESHOLD = 20;
/**
 * Most entries a node may hold once it has caught up: the threshold, the entries kept before the
 * snapshot point, and what commits while a snapshot is being taken, with room to spare (the lab
 * allows 8 × maxraftstate).
 */
const MAX_LOG_ENTRIES = 4 * THRESHOLD;

interface LogSize {
  readonly id: NodeId;
  /** Entries the node holds after its compaction point. */
  readonly logEntries: number;
  readonly snapshotIndex: number;
  /** The first index the node still holds; older entries are gone. */
  readonly firstLogIndex: number;
}

/** logSizes reports how much log each node holds. */
async function logSizes(c: Cluster): Promise<LogSize[]> {
  return Promise.all(
    c.ids.map(async (id) => {
      const r = await c.status(id);
      return { id, logEntries: r.logEntries, snapshotIndex: r.snapshotIndex, firstLogIndex: r.firstLogIndex };
    }),
  );
}

/** waitFor polls `cond` until it holds, failing with `what` (evaluated then) after `timeoutMs`. */
async function waitFor(
  cond: () => Promise<boolean> | boolean,
  what: string | (() => string),
  timeoutMs = 10_000,
): Promise<void> {
  const deadline = performance.now() + timeoutMs;
  while (!(await cond())) {
    if (performance.now() > deadline) {
      throw new Error(
        `timed out after ${timeoutMs} ms waiting for ${typeof what === 'string' ? what : what()}`,
      );
    }
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
}

/** checkLogTrimmed waits until every node holds at most MAX_LOG_ENTRIES after its snapshot point. */
async function checkLogTrimmed(m: MitKv): Promise<void> {
  let sizes: LogSize[] = [];
  await waitFor(
    async () => {
      sizes = await logSizes(m.c);
      return sizes.every((s) => s.logEntries <= MAX_LOG_ENTRIES);
    },
    () => `logs trimmed to ${MAX_LOG_ENTRIES} entries (now ${JSON.stringify(sizes)})`,
  );
}

describe('6.5840 4B: snapshots', () => {
  test('snapshot size: with a snapshot threshold, the log a node holds stays bounded', async () => {
    const m = await MitKv.make(3, {
      name: 'snapshot size',
      cluster: { snapshotThreshold: { entries: THRESHOLD } },
    });
    const ck = m.makeClient();
    for (let i = 0; i < 200; i++) {
      await ck.put('x', '0');
      expect(await ck.get('x')).toBe('0');
      await ck.put('x', '1');
      expect(await ck.get('x')).toBe('1');
    }
    // 400 writes went through the log: every node must have snapshotted, and hold little after that point.
    await checkLogTrimmed(m);
    for (const s of await logSizes(m.c))
      expect(s.snapshotIndex, `${s.id} never snapshotted`).toBeGreaterThan(0);
    m.check();
  });

  test('snapshot size, by bytes: a byte threshold bounds the log too', async () => {
    const m = await MitKv.make(3, {
      name: 'snapshot size bytes',
      // keepEntries as small as the entry threshold's default would make it (else 1000 are kept).
      cluster: { snapshotThreshold: { bytes: 4096, keepEntries: THRESHOLD / 2 } },
    });
    const ck = m.makeClient();
    const value = 'v'.repeat(100);
    for (let i = 0; i < 300; i++) await ck.put(`k${i % 10}`, `${i}${value}`);
    // Entries of about 150 bytes: a 4 KiB threshold lets some 30 of them pile up before a snapshot.
    await waitFor(
      async () => (await logSizes(m.c)).every((s) => s.snapshotIndex > 0 && s.logEntries <= 100),
      'every node snapshotted, holding at most 100 entries after its snapshot point',
    );
    for (let k = 0; k < 10; k++) expect(await ck.get(`k${k}`)).toBe(`${290 + k}${value}`);
    m.check();
  });

  test('snapshot RPC: a node that missed what the others compacted catches up through InstallSnapshot', async () => {
    const m = await MitKv.make(3, {
      name: 'snapshot rpc',
      cluster: { snapshotThreshold: { entries: THRESHOLD } },
    });
    const ck = m.makeClient();
    await ck.put('a', 'A');
    expect(await ck.get('a')).toBe('A');

    // A bunch of puts into a majority partition without `lag`.
    const leader = await m.c.leader();
    const [other, lag] = m.ids.filter((id) => id !== leader) as [NodeId, NodeId];
    await m.partition([leader, other], [lag]);
    const ck1 = m.makeClient([leader, other]);
    for (let i = 0; i < 200; i++) await ck1.put(String(i), String(i));
    await ck1.put('b', 'B');
    // The majority has thrown away most of its log, including the entries `lag` needs next.
    await waitFor(async () => {
      const sizes = await logSizes(m.c);
      const lagLast = m.c.state(lag).lastLogIndex;
      return sizes.every(
        (s) => s.id === lag || (s.firstLogIndex > lagLast + 1 && s.logEntries <= MAX_LOG_ENTRIES),
      );
    }, `the majority compacted past ${lag}'s log`);
    expect((await m.c.status(lag)).snapshotsInstalled).toBe(0);

    // A group that needs the lagging node (the lab's partition {0, 2} | {1}): it can only catch up
    // from a snapshot, since the entries it lacks are gone.
    await m.partition([leader, lag], [other]);
    const ck2 = m.makeClient([leader, lag]);
    await ck2.put('c', 'C');
    await ck2.put('d', 'D');
    expect(await ck2.get('a')).toBe('A');
    expect(await ck2.get('b')).toBe('B');
    expect(await ck2.get('1')).toBe('1');
    expect(await ck2.get('199')).toBe('199');
    expect((await m.c.status(lag)).snapshotsInstalled, `${lag} did not install a snapshot`).toBeGreaterThan(
      0,
    );

    // Now everybody.
    await m.connectAll();
    await ck.put('e', 'E');
    expect(await ck.get('c')).toBe('C');
    expect(await ck.get('e')).toBe('E');
    expect(await ck.get('1')).toBe('1');
    // The lagging node serves the same state from its own state machine (a stale read there).
    const commit = m.c.state(await m.c.leader()).commitIndex;
    await waitFor(() => m.c.state(lag).lastApplied >= commit, `${lag} applied up to ${commit}`);
    const only = m.makeClient([lag]);
    expect(await only.kv.get('199', { read: 'stale' })).toBe('199');
    expect(await only.kv.get('e', { read: 'stale' })).toBe('E');
    m.check();
  });

  test('snapshot RPC after a crash: a node restarted behind the others catches up through InstallSnapshot', async () => {
    const m = await MitKv.make(3, {
      name: 'snapshot rpc crash',
      storage: 'disk',
      cluster: { snapshotThreshold: { entries: THRESHOLD } },
    });
    const ck = m.makeClient();
    await ck.put('a', 'A');
    const leader = await m.c.leader();
    const lag = m.ids.find((id) => id !== leader)!;
    await m.c.crash(lag);
    for (let i = 0; i < 200; i++) await ck.append('log', `${i},`);
    await m.c.restart(lag);
    const commit = m.c.state(await m.c.leader()).commitIndex;
    await waitFor(() => m.c.state(lag).lastApplied >= commit, `${lag} applied up to ${commit}`);
    expect((await m.c.status(lag)).snapshotsInstalled, `${lag} did not install a snapshot`).toBeGreaterThan(
      0,
    );
    const only = m.makeClient([lag]);
    expect(await only.kv.get('log', { read: 'stale' })).toBe(
      Array.from({ length: 200 }, (_, i) => `${i},`).join(''),
    );
    m.check();
  });

  const cluster = { snapshotThreshold: { entries: THRESHOLD } };
  const afterRound = checkLogTrimmed;

  test('snapshot recover: one client, servers crashed and restarted from snapshots', async () => {
    await genericTest({ name: 'snapshot recover', clients: 1, crash: true, cluster, afterRound });
  });

  test('snapshot recover, many clients', async () => {
    await genericTest({
      name: 'snapshot recover many clients',
      clients: 10,
      crash: true,
      cluster,
      afterRound,
    });
  });

  test('snapshot, unreliable network', async () => {
    await genericTest({ name: 'snapshot unreliable', clients: 5, unreliable: true, cluster, afterRound });
  });

  test('snapshot, unreliable network, recover', async () => {
    await genericTest({
      name: 'snapshot unreliable recover',
      clients: 5,
      unreliable: true,
      crash: true,
      cluster,
      afterRound,
    });
  });

  test('snapshot, unreliable network, recover, partitions, concurrent clients', async () => {
    await genericTest({
      name: 'snapshot unreliable recover concurrent partition',
      clients: 5,
      unreliable: true,
      crash: true,
      partitions: true,
      cluster,
      afterRound,
    });
  });

  test('snapshot, unreliable network, recover, partitions, random keys: linearizable', async () => {
    await genericTest({
      name: 'snapshot unreliable recover concurrent partition linearizable',
      clients: 8,
      nodes: 7,
      unreliable: true,
      crash: true,
      partitions: true,
      randomKeys: true,
      cluster,
      afterRound,
    });
  });
});
