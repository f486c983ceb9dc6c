// MIT 6.5840 lab 4A (kvraft) on real worker threads: TestBasic4A,
// TestSpeed4A, TestConcurrent4A.
import { DEFAULT_CONFIG } from '@xraft/core';
import { describe, expect, test } from 'vitest';
import { genericTest } from './generic.js';
import { checkClntAppends, MitKv } from './harness.js';

describe('6.5840 4A: basic', () => {
  test('basic: one client, puts, appends and gets agree with a local model', async () => {
    await genericTest({ name: 'basic', clients: 1 });
  });

  test('speed: 1000 sequential appends do not each wait for a heartbeat', async () => {
    // The lab requires 3 operations per heartbeat interval (timePerOp = heartbeatInterval / 3), so a
    // server that starts replicating a command only at its next heartbeat (half an interval of waiting
    // per call on average, 25 ms here) fails, while one that replicates at once passes with room to
    // spare on any machine: the bound is 1000 × 50 ms / 3 ≈ 16.7 s; a call takes about a millisecond.
    const heartbeatIntervalMs = DEFAULT_CONFIG.heartbeatIntervalMs;
    const numOps = 1000;
    const bound = (numOps * heartbeatIntervalMs) / 3;
    const m = await MitKv.make(3, { name: 'speed', cluster: { heartbeatIntervalMs } });
    const ck = m.makeClient();
    // Wait until a first call completes: a leader is elected and serves.
    await ck.get('x');
    const start = performance.now();
    for (let i = 0; i < numOps; i++) await ck.append('x', `x 0 ${i} y`);
    const ms = performance.now() - start;
    checkClntAppends(0, await ck.get('x'), numOps);
    console.log(
      `speed: ${numOps} appends in ${ms.toFixed(0)} ms (${(ms / numOps).toFixed(2)} ms/op; bound ${(bound / numOps).toFixed(1)} ms/op)`,
    );
    expect(
      ms,
      `operations completed too slowly: ${(ms / numOps).toFixed(1)} ms/op > ${(bound / numOps).toFixed(1)} ms/op`,
    ).toBeLessThan(bound);
  });

  test('concurrent: five clients, each on its own key', async () => {
    await genericTest({ name: 'concurrent', clients: 5 });
  });
});
