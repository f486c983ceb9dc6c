// Jepsen-style: 5 nodes, memory storage; partitions (random halves, the
// leader isolated in a minority, one-way links) and process pauses.
import { expect, test } from 'vitest';
import { runJepsen } from './run.js';

test('jepsen: 5 nodes, memory storage, partitions and pauses: linearizable, appends exactly once', {
  timeout: 120_000,
}, async () => {
  const r = await runJepsen({
    name: 'partitions',
    nodes: 5,
    storage: 'memory',
    faults: ['partition-halves', 'partition-split', 'isolate-leader', 'one-way', 'pause'],
    durationMs: 14_000,
  });
  expect(r.ok).toBeGreaterThan(0);
});
