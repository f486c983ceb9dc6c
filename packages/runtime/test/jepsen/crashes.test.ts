// Jepsen-style: 3 nodes, disk storage (a temp dir the cluster removes when
// stopped); workers crashed and restarted from disk, killed and restarted
// by the supervisor, and paused; frequent snapshots, so restarted nodes may
// catch up through InstallSnapshot.
import { expect, test } from 'vitest';
import { runJepsen } from './run.js';

test('jepsen: 3 nodes, disk storage, crashes, supervisor restarts and pauses: linearizable, appends exactly once', {
  timeout: 120_000,
}, async () => {
  const r = await runJepsen({
    name: 'crashes',
    nodes: 3,
    storage: 'disk',
    // Small enough that nodes compact several times, and few entries kept before the snapshot point,
    // so nodes that were down or cut off for a while catch up through InstallSnapshot.
    cluster: { snapshotThreshold: { entries: 300, keepEntries: 20 } },
    faults: ['crash', 'kill', 'pause'],
    durationMs: 16_000,
  });
  expect(r.ok).toBeGreaterThan(0);
});
