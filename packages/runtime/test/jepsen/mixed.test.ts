// Jepsen-style: 5 nodes, disk storage; every fault kind, sometimes two at
// once: partitions (halves, no quorum, the leader isolated), one-way links,
// crashes, supervisor restarts, pauses, and a lossy, delaying, reordering network.
import { expect, test } from 'vitest';
import { runJepsen } from './run.js';

test('jepsen: 5 nodes, disk storage, every fault kind mixed: linearizable, appends exactly once', {
  timeout: 120_000,
}, async () => {
  const r = await runJepsen({
    name: 'mixed',
    nodes: 5,
    storage: 'disk',
    // Small enough that nodes compact several times, and few entries kept before the snapshot point,
    // so nodes that were down or cut off for a while catch up through InstallSnapshot.
    cluster: { snapshotThreshold: { entries: 500, keepEntries: 20 } },
    faults: [
      'partition-halves',
      'partition-split',
      'isolate-leader',
      'one-way',
      'crash',
      'kill',
      'pause',
      'network',
    ],
    durationMs: 18_000,
    nemesis: { combine: 0.4 },
  });
  expect(r.ok).toBeGreaterThan(0);
});
