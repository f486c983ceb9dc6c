// MIT 6.5840 lab 4A (kvraft) on real worker threads: TestUnreliable4A and
// TestUnreliableOneKey4A. Unreliable means Raft links dropping 10% of
// messages, delaying up to 27 ms and reordering, and the clerks' requests
// and replies lost 10% of the time each (a lost reply makes the clerk retry
// a call that was applied: exactly-once must hold).
import { describe, test } from 'vitest';
import { genericTest } from './generic.js';
import { checkConcurrentAppends, MitKv } from './harness.js';

describe('6.5840 4A: unreliable network', () => {
  test('unreliable: five clients, each on its own key', async () => {
    await genericTest({ name: 'unreliable', clients: 5, unreliable: true });
  });

  test('unreliable, one key: five clients append concurrently to the same key', async () => {
    const nclient = 5;
    const upto = 10;
    const m = await MitKv.make(3, { name: 'unreliable one key', unreliable: true });
    const ck = m.makeClient();
    await ck.put('k', '');
    await Promise.all(
      Array.from({ length: nclient }, async (_, me) => {
        const myck = m.makeClient();
        for (let n = 0; n < upto; n++) {
          await myck.append('k', `x ${me} ${n} y`);
          // Not in the lab's test: a read after each append. Without reads, only the final value pins
          // the order of the 50 concurrent appends, and the linearizability search is exponential in them.
          await myck.get('k');
        }
      }),
    );
    checkConcurrentAppends(await ck.get('k'), Array(nclient).fill(upto));
    m.check();
  });
});
