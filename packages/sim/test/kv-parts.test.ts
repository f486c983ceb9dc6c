import type { KvInput } from '@xraft/check';
import { encodeRequest, type KvStateMachine } from '@xraft/kv';
import { describe, expect, test } from 'vitest';
import { checkExactlyOnce, FINAL_CLIENT, historyOf } from '../src/kv-check.js';
import type { KvCall, KvCallStatus } from '../src/kv-workload.js';
import { Simulation } from '../src/simulation.js';
import { formatEvent } from '../src/trace.js';
import { ask, quietCluster } from './kv-fixtures.js';

describe('the KV server of a simulated host (handleKvRequest, synchronously)', () => {
  test('a follower redirects writes and reads to the leader; stale reads it answers itself', () => {
    const sim = quietCluster(41);
    const leader = sim.leader()!;
    const follower = sim.hosts.find((h) => h !== leader)!;
    expect(ask(sim, follower.id, encodeRequest({ type: 'register' }))).toEqual([
      { type: 'notLeader', leaderHint: leader.id },
    ]);
    const read = (mode: 'linearizable' | 'stale') =>
      encodeRequest({ type: 'read', mode, leaseClockDriftMs: 0, queries: [{ type: 'get', key: 'x' }] });
    expect(ask(sim, follower.id, read('linearizable'))).toEqual([
      { type: 'notLeader', leaderHint: leader.id },
    ]);
    expect(ask(sim, follower.id, read('stale'))).toEqual([
      { type: 'read', results: [{ type: 'value', value: undefined }] },
    ]);
  });

  test('the leader proposes a write, answers with its apply result once applied, and reads through ReadIndex', () => {
    const sim = quietCluster(42);
    const leader = sim.leader()!;
    const registered = ask(sim, leader.id, encodeRequest({ type: 'register' }));
    expect(registered).toEqual([]); // not yet: committed and applied first
    sim.runUntil(sim.now + 100);
    expect(registered).toHaveLength(1);
    const r = registered[0]!;
    if (r.type !== 'registered') throw new Error(`expected registered, got ${r.type}`);
    const append = encodeRequest({
      type: 'batch',
      clientId: r.clientId,
      ackedSeq: 1,
      commands: [{ type: 'append', key: 'x', suffix: 'a;', seq: 1 }],
    });
    const first = ask(sim, leader.id, append);
    const retry = ask(sim, leader.id, append.slice());
    sim.runUntil(sim.now + 100);
    // The retry is a second log entry with the same (clientId, seq): the session answers it from memory.
    expect(first).toEqual([{ type: 'applied', clientId: r.clientId, results: [{ seq: 1, type: 'ok' }] }]);
    expect(retry).toEqual(first);
    const read = ask(
      sim,
      leader.id,
      encodeRequest({
        type: 'read',
        mode: 'linearizable',
        leaseClockDriftMs: 0,
        queries: [{ type: 'get', key: 'x' }],
      }),
    );
    expect(read).toEqual([]); // a heartbeat round first (thesis §6.4)
    sim.runUntil(sim.now + 50);
    expect(read).toEqual([{ type: 'read', results: [{ type: 'value', value: 'a;' }] }]);
    expect(ask(sim, leader.id, new Uint8Array([1, 99]))[0]!.type).toBe('rejected');
    expect(sim.result().violations).toEqual([]);
  });

  test('a snapshot restore fails the proposals it covers at once, as the runtime host does (§7)', () => {
    const sim = quietCluster(44);
    const leader = sim.leader()!;
    const server = sim.kv!.servers.get(leader.id)!;
    const first = ask(sim, leader.id, encodeRequest({ type: 'register' }));
    const firstIndex = leader.node!.raft.log.lastIndex();
    const second = ask(sim, leader.id, encodeRequest({ type: 'register' }));
    expect([first, second]).toEqual([[], []]); // proposed, not yet applied
    server.restored(firstIndex);
    expect(first).toEqual([
      { type: 'unavailable', reason: `entry ${firstIndex} was overtaken by a snapshot from the leader` },
    ]);
    expect(second).toEqual([]); // beyond the snapshot: still waits for its own apply
    sim.runUntil(sim.now + 100);
    expect(first).toHaveLength(1); // its later apply answers nobody twice
    expect(second).toEqual([{ type: 'registered', clientId: firstIndex + 1 }]);
  });

  test('a crash loses the state machine; the restarted server rebuilds it from its log', () => {
    const sim = quietCluster(43);
    const leader = sim.leader()!;
    const follower = sim.hosts.find((h) => h !== leader)!;
    ask(sim, leader.id, encodeRequest({ type: 'register' }));
    sim.runUntil(sim.now + 100);
    const before = follower.stateMachine as KvStateMachine;
    expect(before.sessionCount).toBe(1);
    sim.nemesis.crash(follower.id, 200);
    expect(follower.stateMachine).toBeNull();
    sim.runUntil(sim.now + 500);
    const after = follower.stateMachine as KvStateMachine;
    expect(after).not.toBe(before);
    expect(after.sessionCount).toBe(1);
    expect(after.lastApplied).toBe((leader.stateMachine as KvStateMachine).lastApplied);
    expect(after.snapshot()).toEqual((leader.stateMachine as KvStateMachine).snapshot());
  });
});

describe('a run of the KV workload', () => {
  test('records every call in the trace and ends with a checked history', () => {
    const lines: string[] = [];
    const sim = new Simulation(44, {
      nodes: 3,
      faults: 'light',
      durationMs: 2000,
      kv: true,
      onEvent: (e) => {
        if (e.kind === 'kv') lines.push(formatEvent(e));
      },
    });
    const r = sim.run();
    expect(r.violations).toEqual([]);
    expect(r.kvCheck?.verdict).toBe('ok');
    expect(r.kvCheck!.ops).toBe(r.stats.kv!.calls - r.stats.kv!.failed + sim.kv!.keys.length);
    expect(lines.some((l) => /kv\d #\d+ invokes (get|put|append|cas|delete)\(/.test(l))).toBe(true);
    expect(lines.some((l) => /kv\d → n\d #\d+ batch seq \d+ \(session \d+\)/.test(l))).toBe(true);
    expect(lines.some((l) => /n\d → kv\d #\d+ applied seq \d+ ok/.test(l))).toBe(true);
    expect(lines.some((l) => /kv\d #\d+ ok: append\(/.test(l))).toBe(true);
  });
});

/** call makes a hand-made history record. */
function call(id: number, input: KvInput, status: KvCallStatus, token: string | null = null): KvCall {
  return {
    id,
    client: `kv${id}`,
    input,
    token,
    call: id,
    ret: id + 0.5,
    status,
    output: undefined,
    error: '',
  };
}

describe('the exactly-once check of the final values', () => {
  const appendOnly = new Set(['a1']);
  const appends = [
    call(1, { op: 'append', key: 'a1', suffix: '1.1;' }, 'ok', '1.1'),
    call(2, { op: 'append', key: 'a1', suffix: '2.1;' }, 'unknown', '2.1'),
    call(3, { op: 'append', key: 'a1', suffix: '3.1;' }, 'fail', '3.1'),
    call(4, { op: 'append', key: 'k1', suffix: '4.1;' }, 'ok', '4.1'),
  ];

  test('every acknowledged append once, unknown ones at most once: no problem', () => {
    expect(checkExactlyOnce(appends, new Map([['a1', '1.1;']]), appendOnly)).toEqual([]);
    expect(checkExactlyOnce(appends, new Map([['a1', '2.1;1.1;']]), appendOnly)).toEqual([]);
    // A later put may legitimately wipe an acknowledged append on a mixed key.
    expect(checkExactlyOnce(appends, new Map([['k1', 'p5.1;']]), appendOnly)).toEqual([]);
  });

  test('twice, lost, applied though reported not applied, or never appended: each is named', () => {
    const problems = checkExactlyOnce(
      appends,
      new Map<string, string | undefined>([
        ['a1', '1.1;2.1;2.1;3.1;9.9;4.1;'],
        ['k1', 'p5.1;4.1;4.1;'],
      ]),
      appendOnly,
    );
    expect(problems).toEqual([
      'key "a1" holds "2.1;" of append #2 of kv2 (unknown) 2 times',
      'key "a1" holds "3.1;" of append #3 of kv3 (fail), reported not applied: ',
      'key "a1" holds "9.9;", which no client appended',
      'key "a1" holds "4.1;" of append #4 of kv4 (ok) to key "k1"',
      'key "k1" holds "4.1;" of append #4 of kv4 (ok) 2 times',
    ]);
    expect(checkExactlyOnce(appends, new Map([['a1', undefined]]), appendOnly)).toEqual([
      'key "a1" lacks "1.1;" of append #1 of kv1 (ok), acknowledged at 1.500 ms',
    ]);
  });

  test('the checked history leaves out calls surely not applied and ends with one final read per key', () => {
    const ops = historyOf(appends, new Map([['a1', '1.1;']]), 10);
    expect(ops.map((o) => [o.clientId, o.status])).toEqual([
      ['kv1', 'ok'],
      ['kv2', 'unknown'],
      ['kv4', 'ok'],
      [FINAL_CLIENT, 'ok'],
    ]);
    expect(ops[0]).toMatchObject({ call: 1e6, return: 1.5e6 });
    expect(ops[3]).toMatchObject({ input: { op: 'get', key: 'a1' }, output: '1.1;', call: 1e7, return: 1e7 });
  });
});
