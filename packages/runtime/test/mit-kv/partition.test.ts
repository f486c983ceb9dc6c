// MIT 6.5840 lab 4A (kvraft) on real worker threads: TestOnePartition4A,
// TestManyPartitionsOneClient4A, TestManyPartitionsManyClients4A.
import { setTimeout as sleep } from 'node:timers/promises';
import { describe, expect, test } from 'vitest';
import { genericTest } from './generic.js';
import { ELECTION_TIMEOUT_MS, MitKv, within } from './harness.js';

describe('6.5840 4A: partitions', () => {
  test('one partition: no progress in the minority, progress in the majority, completion after heal', async () => {
    const m = await MitKv.make(5, { name: 'one partition' });
    const ck = m.makeClient();
    await ck.put('1', '13');

    // Progress in the majority: the old leader sits in the minority p2.
    const [p1, p2] = await m.makePartition();
    await m.partition(p1, p2);
    const ckp1 = m.makeClient(p1);
    const ckp2a = m.makeClient(p2);
    const ckp2b = m.makeClient(p2);
    await ckp1.put('1', '14');
    expect(await ckp1.get('1')).toBe('14');

    // No progress in the minority: clerks that reach only p2 must not complete a put or a linearizable get.
    let done0 = false;
    let done1 = false;
    const put15 = ckp2a.put('1', '15').then(() => {
      done0 = true;
    });
    const get1 = ckp2b.get('1').then((v) => {
      done1 = true;
      return v;
    });
    // A fixed wait only to see that something does NOT happen: past an election timeout, the old
    // leader has had time to step down (CheckQuorum) and to serve anything it wrongly would.
    await sleep(2 * ELECTION_TIMEOUT_MS);
    expect(done0, 'Put in minority completed').toBe(false);
    expect(done1, 'Get in minority completed').toBe(false);
    expect(await ckp1.get('1')).toBe('14');
    await ckp1.put('1', '16');
    expect(await ckp1.get('1')).toBe('16');
    expect(done0, 'Put in minority completed').toBe(false);
    expect(done1, 'Get in minority completed').toBe(false);

    // Completion after heal: the pending calls go through (the put exactly once).
    await m.connectAll();
    ckp2a.link.connect('all');
    ckp2b.link.connect('all');
    await within(put15, 10_000, 'Put did not complete');
    const got = await within(get1, 10_000, 'Get did not complete');
    expect(['14', '15', '16']).toContain(got);
    expect(await ck.get('1')).toBe('15');
    m.check();
  });

  test('many partitions, one client', async () => {
    await genericTest({ name: 'many partitions one client', clients: 1, partitions: true });
  });

  test('many partitions, many clients', async () => {
    await genericTest({ name: 'many partitions many clients', clients: 5, partitions: true });
  });
});
