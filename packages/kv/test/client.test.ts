// KvClient against an in-memory 3-node cluster (fake-cluster.ts) running the
// real node-side handler and state machine: leader search and redirects
// (§6.2), exactly-once across lost replies and leader changes (§6.3), reads
// (§6.4), timeouts, close(), batching, and session expiry as the client sees it.
// Random tests print their seed; replay with XRAFT_SEED=<seed>.
import { describe, expect, test, vi } from 'vitest';
import { KvClient, type KvClientOptions } from '../src/client.js';
import { ClosedError, NotLeaderError, SessionExpiredError, TimeoutError } from '../src/errors.js';
import { FakeCluster, type Fault } from './fake-cluster.js';
import { bytes, int, seededRandom, testSeed } from './helpers.js';

const seed = testSeed();
/** Quick retries, so fault tests take milliseconds. */
const FAST: KvClientOptions = { timeoutMs: 3000, attemptTimeoutMs: 40, backoffMs: 1, maxBackoffMs: 5 };

function setup(
  options: KvClientOptions = {},
  cluster = new FakeCluster(),
  via: 'send' | 'dispatch' = 'send',
) {
  const transport = via === 'send' ? cluster.transport() : cluster.dispatchTransport();
  return { cluster, kv: new KvClient(transport, { ...FAST, ...options }) };
}

const kinds = (c: FakeCluster) => c.sends.map((s) => `${s.node}:${s.request.type}`);

describe('KvClient operations', () => {
  test('every operation round-trips; values come back as the kind they were written as', async () => {
    const { kv } = setup();
    await kv.put('s', 'text');
    await kv.put('b', bytes('raw'));
    expect(await kv.get('s')).toBe('text');
    expect(await kv.get('b')).toStrictEqual(bytes('raw'));
    expect(await kv.get('missing')).toBeUndefined();
    await kv.append('s', '+more');
    await kv.append('new', 'x');
    expect(await kv.get('s')).toBe('text+more');
    expect(await kv.get('new')).toBe('x');
    expect(await kv.cas('c', undefined, 'one')).toBe(true);
    expect(await kv.cas('c', undefined, 'two')).toBe(false);
    expect(await kv.cas('c', 'one', 'two')).toBe(true);
    expect(await kv.cas('c', bytes('two'), 'three')).toBe(false);
    expect(await kv.delete('c')).toBe(true);
    expect(await kv.delete('c')).toBe(false);
    expect(await kv.list('')).toEqual([
      { key: 'b', value: bytes('raw') },
      { key: 'new', value: 'x' },
      { key: 's', value: 'text+more' },
    ]);
    expect(await kv.list('', 1)).toEqual([{ key: 'b', value: bytes('raw') }]);
    expect(await kv.list('n')).toEqual([{ key: 'new', value: 'x' }]);
    // Bytes are taken over at the call: changing the caller's array afterwards changes nothing.
    const mine = bytes('abc');
    const written = kv.put('mine', mine);
    mine[0] = 0x7a;
    await written;
    expect(await kv.get('mine')).toStrictEqual(bytes('abc'));
    await kv.close();
  });

  test('arguments are checked before anything is sent', async () => {
    const { cluster, kv } = setup();
    const bad = kv as unknown as Record<string, (...args: unknown[]) => Promise<unknown>>;
    await expect(bad.put!(42, 'v')).rejects.toThrow(/keys must be strings, got number/);
    await expect(bad.put!('k', { v: 1 })).rejects.toThrow(
      /value must be a string or a Uint8Array, got object/,
    );
    await expect(kv.put('\ud800', 'v')).rejects.toThrow(/lone UTF-16 surrogate/);
    await expect(kv.append('k', 'a\udc00')).rejects.toThrow(/suffix has a lone UTF-16 surrogate/);
    await expect(kv.list('', -1)).rejects.toThrow(/limit must be a non-negative integer/);
    await expect(bad.get!('k', { read: 'eventual' })).rejects.toThrow(/read mode must be one of/);
    expect(cluster.sends).toEqual([]);
    expect(() => new KvClient(cluster.transport(), { timeoutMs: 0 })).toThrow(
      /timeoutMs must be a positive number/,
    );
  });
});

describe('§6.2 finding the leader', () => {
  test('the client follows a redirect to the leader and then goes to it directly', async () => {
    const cluster = new FakeCluster();
    cluster.leader = 'n3';
    const { kv } = setup({}, cluster);
    await kv.put('k', 'v');
    expect(kinds(cluster)).toEqual(['n1:register', 'n3:register', 'n3:batch']);
    await kv.put('k', 'w');
    expect(kinds(cluster).slice(3)).toEqual(['n3:batch']);
  });

  test('after a leader change the client finds the new leader and carries on', async () => {
    const { cluster, kv } = setup();
    await kv.put('k', '1');
    cluster.leader = 'n2';
    await kv.append('k', '2');
    expect(cluster.value('k')).toBe('12');
    expect(kinds(cluster).slice(-2)).toEqual(['n1:batch', 'n2:batch']);
  });

  test('unreachable nodes are skipped', async () => {
    const { cluster, kv } = setup();
    cluster.leader = 'n3';
    cluster.fault = (s) => (s.node === 'n1' ? 'undelivered' : 'deliver');
    await kv.put('k', 'v');
    expect(kinds(cluster).slice(0, 3)).toEqual(['n1:register', 'n2:register', 'n3:register']);
  });

  test('with no leader the client gives up with NotLeaderError after bounded rounds, and nothing is applied', async () => {
    const { cluster, kv } = setup({ maxLeaderSearchRounds: 3 });
    cluster.leader = null;
    const err = await kv.put('k', 'v').catch((e: unknown) => e);
    expect(err).toBeInstanceOf(NotLeaderError);
    expect((err as NotLeaderError).message).toMatch(
      /no leader found after 3 rounds over \[n1, n2, n3\]; it was not applied/,
    );
    expect(cluster.sends.length).toBe(9);
    expect(cluster.log).toEqual([]);
  });

  test('with every node down the client gives up with NotLeaderError', async () => {
    const { cluster, kv } = setup({ maxLeaderSearchRounds: 2 });
    cluster.fault = () => 'undelivered';
    await expect(kv.get('k')).rejects.toBeInstanceOf(NotLeaderError);
    await expect(kv.put('k', 'v')).rejects.toBeInstanceOf(NotLeaderError);
  });

  test('a write that may have been applied is never reported as NotLeaderError: it is a TimeoutError', async () => {
    const { cluster, kv } = setup({ maxLeaderSearchRounds: 2, timeoutMs: 300 });
    await kv.put('k', 'a');
    // The leader applies the batch but the reply is lost; then the cluster has no leader.
    let batches = 0;
    cluster.fault = (s) => {
      if (s.request.type !== 'batch') return 'deliver';
      if (batches++ === 0) return 'dropReply';
      cluster.leader = null;
      return 'deliver';
    };
    const err = await kv.append('k', 'b').catch((e: unknown) => e);
    expect(err).toBeInstanceOf(TimeoutError);
    expect((err as Error).message).toMatch(/may or may not have been applied/);
    expect(cluster.value('k')).toBe('ab');
  });
});

describe('§6.3 exactly-once', () => {
  test.each(['send', 'dispatch'] as const)(
    `lost replies, lost requests, garbled replies, hangs and leader changes never apply a write twice, over a transport's %s (seed ${seed}; replay with XRAFT_SEED=${seed})`,
    async (via) => {
      const random = seededRandom(seed);
      const { cluster, kv } = setup({ attemptTimeoutMs: 20 }, new FakeCluster(), via);
      const faults: Array<[number, Fault]> = [
        [0.2, 'dropReply'],
        [0.05, 'lose'],
        [0.05, 'garble'],
        [0.05, 'undelivered'],
        [0.03, 'hang'],
      ];
      cluster.fault = () => {
        if (random() < 0.05) cluster.leader = cluster.nodes[int(random, 3)]!;
        let r = random();
        for (const [p, fault] of faults) {
          if (r < p) return fault;
          r -= p;
        }
        return 'deliver';
      };
      const N = 300;
      const calls: Array<Promise<void>> = [];
      for (let i = 0; i < N; i++) {
        calls.push(kv.append('log', `${i},`));
        if (i % 5 === 4) await Promise.all(calls.splice(0)); // waves of 5 concurrent calls: many batches
      }
      await Promise.all(calls);
      // Each suffix exactly once, in call order (one write batch in flight: retries go before newer writes).
      expect(cluster.value('log')).toBe(Array.from({ length: N }, (_, i) => `${i},`).join(''));
      const copies = [...cluster.copies().values()];
      expect(copies.length).toBe(N);
      expect(Math.max(...copies), 'some retry reached the log').toBeGreaterThan(1);
      // Every replica agrees.
      const [a, b, c] = [...cluster.replicas.values()].map((sm) => sm.snapshot());
      expect(b).toStrictEqual(a);
      expect(c).toStrictEqual(a);
    },
  );

  test('a retry after a lost reply gets the original result, not a re-evaluation', async () => {
    const { cluster, kv } = setup();
    let dropped = false;
    cluster.fault = (s) => {
      if (s.request.type === 'batch' && !dropped) {
        dropped = true;
        return 'dropReply';
      }
      return 'deliver';
    };
    expect(await kv.cas('k', undefined, 'mine')).toBe(true); // applied, reply lost, retried: still true
    expect(cluster.copies().get(`${cluster.log[0]!.index}:1`)).toBe(2);
    expect(cluster.value('k')).toBe('mine');
  });

  test('every request tells the cluster the lowest seq still awaiting an answer, so results do not pile up', async () => {
    const { cluster, kv } = setup();
    for (let i = 0; i < 20; i++) await kv.put(`k${i}`, 'v');
    const clientId = cluster.log[0]!.index;
    expect(cluster.replicas.get('n1')!.session(clientId)).toMatchObject({ ackedSeq: 20, storedResults: 1 });
    const acked = cluster.sends.flatMap((s) => (s.request.type === 'batch' ? [s.request.ackedSeq] : []));
    expect(acked).toEqual(Array.from({ length: 20 }, (_, i) => i + 1));
  });

  test('an idle client whose session expired re-registers by itself when its request surely was not applied', async () => {
    const { cluster, kv } = setup({}, new FakeCluster({ sessionTimeoutEntries: 5 }));
    await kv.put('k', '1');
    cluster.skip(10); // other clients' traffic
    await kv.append('k', '2');
    expect(cluster.value('k')).toBe('12');
    expect(cluster.log.filter((e) => e.entry.type === 'register').length).toBe(2);
  });

  test('a session that expired while a request was in doubt fails it with SessionExpiredError; later calls work', async () => {
    const { cluster, kv } = setup({}, new FakeCluster({ sessionTimeoutEntries: 5 }));
    await kv.put('k', '1');
    let lost = false;
    cluster.fault = (s) => {
      if (s.request.type !== 'batch' || lost) return 'deliver';
      lost = true;
      cluster.skip(10); // the session expires before the retry arrives
      return 'lose';
    };
    const err = await kv.append('k', '2').catch((e: unknown) => e);
    expect(err).toBeInstanceOf(SessionExpiredError);
    expect((err as Error).message).toMatch(/may or may not have been applied/);
    await kv.append('k', '3');
    expect(cluster.value('k')).toBe('13');
  });
});

describe('§6.4 reads', () => {
  test('linearizable reads go to the leader; stale reads are served by a follower when the leader is down', async () => {
    const { cluster, kv } = setup({ maxLeaderSearchRounds: 2 });
    await kv.put('k', 'v');
    cluster.fault = (s) => (s.node === 'n1' ? 'undelivered' : 'deliver');
    expect(await kv.get('k', { read: 'stale' })).toBe('v');
    await expect(kv.get('k')).rejects.toBeInstanceOf(NotLeaderError); // n1 still leads, unreachable
  });

  test('lease reads need a stated clock-drift bound, which reaches the leader', async () => {
    const cluster = new FakeCluster();
    expect(() => new KvClient(cluster.transport(), { read: 'lease' })).toThrow(/leaseClockDriftMs/);
    const plain = new KvClient(cluster.transport(), FAST);
    await expect(plain.get('k', { read: 'lease' })).rejects.toThrow(
      /lease reads need a stated bound on clock drift/,
    );
    const leaseRead = vi.fn(async () => true);
    cluster.leaseRead = leaseRead;
    const { kv } = setup({ leaseClockDriftMs: 30, read: 'lease' }, cluster);
    expect(await kv.get('k')).toBeUndefined();
    expect(leaseRead).toHaveBeenCalledWith(30);
  });
});

describe('timeouts and close()', () => {
  test('a call with no answer fails with TimeoutError after timeoutMs', async () => {
    const { cluster, kv } = setup({ timeoutMs: 150, attemptTimeoutMs: 50 });
    cluster.fault = () => 'hang';
    const t0 = Date.now();
    await expect(kv.put('k', 'v')).rejects.toBeInstanceOf(TimeoutError);
    const elapsed = Date.now() - t0;
    expect(elapsed).toBeGreaterThanOrEqual(140);
    expect(elapsed).toBeLessThan(1000);
  });

  test('close() rejects pending calls with ClosedError, refuses new ones, and closes the transport', async () => {
    const { cluster, kv } = setup({ timeoutMs: 10_000, attemptTimeoutMs: 5000 });
    cluster.fault = () => 'hang';
    const pending = [kv.put('a', '1'), kv.get('a'), kv.list('a')];
    await new Promise((resolve) => setTimeout(resolve, 5));
    const t0 = Date.now();
    await kv.close();
    for (const p of pending) await expect(p).rejects.toBeInstanceOf(ClosedError);
    expect(Date.now() - t0).toBeLessThan(500);
    await expect(kv.put('b', '2')).rejects.toBeInstanceOf(ClosedError);
    await kv.close(); // idempotent
    expect(cluster.closed).toBe(1);
  });
});

describe('batching', () => {
  test('N concurrent calls take far fewer than N sends and log entries', async () => {
    const { cluster, kv } = setup();
    const N = 100;
    await Promise.all(Array.from({ length: N }, (_, i) => kv.put(`k${i}`, `${i}`)));
    expect(cluster.sends.length).toBeLessThanOrEqual(3); // register, then one or two batches
    expect(cluster.log.length).toBeLessThanOrEqual(3);
    const before = cluster.sends.length;
    const values = await Promise.all(Array.from({ length: N }, (_, i) => kv.get(`k${i}`)));
    expect(values).toEqual(Array.from({ length: N }, (_, i) => `${i}`));
    expect(cluster.sends.length - before).toBe(1); // one ReadIndex round serves them all
  });

  test('calls made while a batch is in flight go together in the next one; maxBatchSize caps a request', async () => {
    const { cluster, kv } = setup({ maxBatchSize: 10 });
    await kv.put('warm', 'up'); // registered
    const first = kv.put('a', '1');
    await new Promise((resolve) => setTimeout(resolve, 0)); // the first batch is in flight now
    const rest = Array.from({ length: 25 }, (_, i) => kv.put(`b${i}`, `${i}`));
    await Promise.all([first, ...rest]);
    const sizes = cluster.sends.flatMap((s) =>
      s.request.type === 'batch' ? [s.request.commands.length] : [],
    );
    expect(sizes).toEqual([1, 1, 10, 10, 5]);
  });
});
