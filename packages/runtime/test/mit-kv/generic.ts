// The lab's GenericTest: clients append and read in rounds while the test
// partitions the servers, makes the network unreliable, and crashes and
// restarts every server between rounds; then every append is checked and
// the whole history is checked for linearizability.
import { setTimeout as sleep } from 'node:timers/promises';
import { seededRandom } from '@xraft/core';
import type { ClusterOptions } from '../../src/index.js';
import { checkClntAppends, ELECTION_TIMEOUT_MS, MitKv } from './harness.js';

/** GenericOptions are GenericTest's parameters. */
export interface GenericOptions {
  readonly name: string;
  readonly clients: number;
  /** Servers (default 5). */
  readonly nodes?: number;
  readonly unreliable?: boolean;
  /** Crash and restart every server at the end of each round (disk storage). */
  readonly crash?: boolean;
  /** A partitioner repartitions the servers at random while clients run. */
  readonly partitions?: boolean;
  /** Clients pick keys at random among the clients' keys (and also put), so they contend. */
  readonly randomKeys?: boolean;
  /** Rounds (default 3) and how long clients run in each, ms (default 1000; the lab's 5 s). */
  readonly rounds?: number;
  readonly roundMs?: number;
  /** More cluster options (e.g. a snapshot threshold). */
  readonly cluster?: ClusterOptions;
  /** Called after each round's checks (e.g. to check the log size). */
  readonly afterRound?: (m: MitKv) => Promise<void>;
}

/**
 * genericTest runs the lab's GenericTest. Each round: every client first
 * puts '' in its key (its own key, unless `randomKeys`), then until the round
 * ends appends `x <client> <j> y` (half the time) or gets, checking each get
 * against what it appended so far; a partitioner (if `partitions`) splits the
 * servers into two random groups every election timeout or so. At the end of
 * the round the servers are reconnected, crashed and restarted (if `crash`),
 * the clients finish their last call, and each key must hold its client's
 * appends exactly once and in order. Finally the whole history must be
 * linearizable.
 */
export async function genericTest(o: GenericOptions): Promise<MitKv> {
  const m = await MitKv.make(o.nodes ?? 5, {
    name: o.name,
    storage: o.crash ? 'disk' : 'memory',
    unreliable: o.unreliable ?? false,
    ...(o.cluster ? { cluster: o.cluster } : {}),
  });
  const ck = m.makeClient();
  const clerks = Array.from({ length: o.clients }, () => m.makeClient());
  for (let round = 0; round < (o.rounds ?? 3); round++) {
    let done = false;
    const clients = clerks.map(async (myck, cli) => {
      const random = seededRandom(m.seed + 100 * round + cli);
      let j = 0;
      let last = '';
      if (!o.randomKeys) await myck.put(String(cli), last);
      while (!done) {
        const key = o.randomKeys ? String(Math.floor(random() * o.clients)) : String(cli);
        const nv = `x ${cli} ${j} y`;
        if (random() < 0.5) {
          await myck.append(key, nv);
          if (!o.randomKeys) last += nv;
          j++;
        } else if (o.randomKeys && random() < 0.1) {
          await myck.put(key, nv);
          j++;
        } else {
          const v = await myck.get(key);
          if (!o.randomKeys && v !== last) {
            throw new Error(`get wrong value, key ${key}, wanted:\n${last}\n, got\n${v}`);
          }
        }
      }
      return j;
    });
    // Stop the partitioner and the other clients as soon as one client fails.
    const settled = Promise.all(clients).finally(() => {
      done = true;
    });
    const partitioner = o.partitions ? partition(m, () => done) : Promise.resolve();
    // The round's pacing (the lab's 5 s of client activity), not a condition.
    await Promise.race([sleep(o.roundMs ?? 1_000), settled.catch(() => {})]);
    done = true;
    await partitioner;
    if (o.partitions) await m.connectAll();
    if (o.crash) {
      // Clients may be in the middle of a call: it must complete once the servers are back.
      await m.crashAll();
      await m.restartAll();
    }
    const counts = await settled;
    for (let cli = 0; cli < o.clients; cli++) {
      const v = await ck.get(String(cli));
      if (!o.randomKeys) checkClntAppends(cli, v, counts[cli]!);
    }
    await o.afterRound?.(m);
  }
  m.check();
  return m;
}

/**
 * partition is the lab's partitioner: until `done`, split the servers into
 * two random groups (one always a majority with an odd count), then wait an
 * election timeout plus up to 200 ms.
 */
async function partition(m: MitKv, done: () => boolean): Promise<void> {
  while (!done()) {
    const a: string[] = [];
    const b: string[] = [];
    for (const id of m.ids) (m.int(2) === 0 ? a : b).push(id);
    await m.partition(a, b);
    await sleep(ELECTION_TIMEOUT_MS + m.int(200));
  }
}
