// Negative controls: the checks of the Jepsen harness must fail on histories
// that break the guarantees they check, so a passing run means something.
import { rmSync } from 'node:fs';
import { seededRandom } from '@xraft/core';
import { NotLeaderError, KvClient as RawKvClient } from '@xraft/kv';
import { describe, expect, onTestFinished, test } from 'vitest';
import { Cluster, type KvClient } from '../../src/index.js';
import { ClientLink } from '../mit-kv/harness.js';
import { Recorder } from './recorder.js';
import { appendViolations, checkLinearizable } from './verify.js';

describe('the Jepsen checks catch what they check', () => {
  test('a stale read from a node cut off from the majority makes the history illegal', async () => {
    const c = await Cluster.start({ nodes: 3, storage: 'memory', log: () => {} });
    const recorder = new Recorder();
    const kv = c.client({ timeoutMs: 5_000 });
    // A client that reaches only the cut-off node, reading its applied state without ReadIndex.
    const link = new ClientLink(seededRandom(1));
    const leader = await c.leader();
    const cut = c.ids.find((id) => id !== leader)!;
    link.connect([cut]);
    const stale = new RawKvClient(link.transport(c), { read: 'stale', timeoutMs: 5_000 });
    onTestFinished(async () => {
      await kv.close();
      await stale.close();
      await c.stop();
    });
    expect((await recorder.call('w', kv, { op: 'put', key: 'k', value: 'old' })).outcome).toBe('ok');
    await waitApplied(c, cut);
    await c.disconnect(cut);
    expect((await recorder.call('w', kv, { op: 'put', key: 'k', value: 'new' })).outcome).toBe('ok');
    const read = await recorder.call('r', stale, { op: 'get', key: 'k' });
    expect(read).toMatchObject({ outcome: 'ok', output: 'old' });
    let message = '';
    try {
      checkLinearizable(recorder.operations(), 'control');
    } catch (err) {
      message = (err as Error).message;
    }
    expect(message).toMatch(/NOT linearizable/);
    expect(message).toMatch(/get\("k"\) -> "old"/);
    const svg = /Timeline of that key: (\S+\.svg)/.exec(message)?.[1];
    expect(svg).toBeDefined();
    rmSync(svg!, { force: true });
  });

  test('appends lost, applied twice, out of order, or applied though failed are reported', async () => {
    const recorder = new Recorder();
    const fake = (fail: boolean) =>
      ({
        append: async () => {
          if (fail) throw new NotLeaderError('append(a)', 8, ['n1']);
        },
      }) as unknown as KvClient;
    for (const [suffix, fail] of [
      ['c0.0,', false],
      ['c0.1,', false],
      ['c0.2,', false],
      ['c1.0,', true],
    ] as const) {
      await recorder.call(suffix.slice(0, 2), fake(fail), { op: 'append', key: 'a', suffix });
    }
    expect(appendViolations(recorder, new Map([['a', 'c0.0,c0.1,c0.2,']]))).toEqual([]);
    const bad = appendViolations(recorder, new Map([['a', 'c0.1,c0.0,c0.1,c1.0,zz,']]));
    expect(bad.join('\n')).toMatch(/c0\.1, \(ok\) appears more than once/);
    expect(bad.join('\n')).toMatch(/c1\.0, failed .* but was applied/);
    expect(bad.join('\n')).toMatch(/acknowledged append c0\.2, is missing/);
    expect(bad.join('\n')).toMatch(/out of order/);
    expect(bad.join('\n')).toMatch(/"zz," .* was never appended/);
  });
});

/** waitApplied waits until `id` applied everything the leader committed. */
async function waitApplied(c: Cluster, id: string): Promise<void> {
  const deadline = performance.now() + 5_000;
  const leader = await c.leader();
  const target = c.state(leader).commitIndex;
  while (c.state(id).lastApplied < target) {
    if (performance.now() > deadline) throw new Error(`${id} did not apply index ${target} within 5 s`);
    await new Promise((r) => setTimeout(r, 5));
  }
}
