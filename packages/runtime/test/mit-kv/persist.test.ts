// MIT 6.5840 lab 4A (kvraft) on real worker threads with disk storage:
// TestPersistOneClient4A, TestPersistConcurrent4A,
// TestPersistConcurrentUnreliable4A, TestPersistPartition4A,
// TestPersistPartitionUnreliableLinearizable4A. Every server is crashed and
// restarted from its disk at the end of each round, while clients may be in
// the middle of a call; the data must survive and every call complete once.
import { describe, test } from 'vitest';
import { genericTest } from './generic.js';

describe('6.5840 4A: persistence (crash and restart every server between rounds)', () => {
  test('persist, one client', async () => {
    await genericTest({ name: 'persist one client', clients: 1, crash: true });
  });

  test('persist, concurrent clients', async () => {
    await genericTest({ name: 'persist concurrent', clients: 5, crash: true });
  });

  test('persist, concurrent clients, unreliable network', async () => {
    await genericTest({ name: 'persist concurrent unreliable', clients: 5, crash: true, unreliable: true });
  });

  test('persist, partitions', async () => {
    await genericTest({ name: 'persist partition', clients: 5, crash: true, partitions: true });
  });

  test('persist, partitions, unreliable network, random keys: linearizable', async () => {
    await genericTest({
      name: 'persist partition unreliable linearizable',
      clients: 8,
      nodes: 7,
      crash: true,
      partitions: true,
      unreliable: true,
      randomKeys: true,
    });
  });
});
