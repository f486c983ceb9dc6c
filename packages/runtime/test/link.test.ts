import type { MessagePort } from 'node:worker_threads';
import { type Message, seededRandom } from '@xraft/core';
import { describe, expect, it } from 'vitest';
import { Link, type LinkSettings, type RaftBatch, RELIABLE_LINK, WIRE_VERSION } from '../src/index.js';
import { waitFor } from './harness.js';

/** FakePort records what a link posts. */
class FakePort {
  readonly posted: RaftBatch[] = [];
  postMessage(m: RaftBatch): void {
    this.posted.push(m);
  }
  /** seq lists the commit numbers of the heartbeats posted, in arrival order. */
  seq(): number[] {
    return this.posted.flatMap((b) => b.messages.map((m) => (m.type === 'Heartbeat' ? m.commit : -1)));
  }
}

const hb = (commit: number): Message => ({
  type: 'Heartbeat',
  from: 'n1',
  to: 'n2',
  term: 1,
  commit,
  readRound: 0,
});

function link(settings: Partial<LinkSettings> = {}, seed = 1) {
  const counts = { sent: 0, bytes: 0, dropped: 0 };
  const l = new Link('n1', 'n2', seededRandom(seed), {
    sent: (n, b) => {
      counts.sent += n;
      counts.bytes += b;
    },
    dropped: (n) => {
      counts.dropped += n;
    },
  });
  const port = new FakePort();
  l.setPort(port as unknown as MessagePort);
  l.configure({ ...RELIABLE_LINK, ...settings });
  return { l, port, counts };
}

describe('Link (seed 1)', () => {
  it('delivers at once, as one batch, when reliable', () => {
    const { l, port, counts } = link();
    l.send([hb(1), hb(2)]);
    expect(port.posted).toHaveLength(1);
    expect(port.posted[0]).toMatchObject({ v: WIRE_VERSION, kind: 'raft', from: 'n1' });
    expect(counts).toMatchObject({ sent: 2, dropped: 0 });
    expect(counts.bytes).toBeGreaterThan(100);
  });

  it('drops everything when down, and per message at the drop rate', () => {
    const down = link({ up: false });
    down.l.send([hb(1)]);
    expect(down.port.posted).toEqual([]);
    expect(down.counts.dropped).toBe(1);
    const lossy = link({ dropRate: 0.3 });
    for (let i = 0; i < 1_000; i++) lossy.l.send([hb(i)]);
    expect(lossy.counts.sent + lossy.counts.dropped).toBe(1_000);
    expect(lossy.counts.dropped).toBeGreaterThan(220);
    expect(lossy.counts.dropped).toBeLessThan(380);
  });

  it('delays within the range and keeps FIFO order', async () => {
    const { l, port } = link({ delayMs: [5, 25] });
    const t0 = performance.now();
    for (let i = 0; i < 30; i++) l.send([hb(i)]);
    expect(port.posted).toEqual([]);
    await waitFor(() => port.posted.length === 30, 2_000, 'delayed batches');
    expect(performance.now() - t0).toBeGreaterThanOrEqual(5);
    expect(port.seq()).toEqual(Array.from({ length: 30 }, (_, i) => i));
  });

  it('reorders batches when told to', async () => {
    const { l, port } = link({ reorder: 0.5 });
    for (let i = 0; i < 50; i++) l.send([hb(i)]);
    await waitFor(() => port.posted.length === 50, 2_000, 'reordered batches');
    const seq = port.seq();
    expect(seq.slice().sort((a, b) => a - b)).toEqual(Array.from({ length: 50 }, (_, i) => i));
    expect(seq).not.toEqual(seq.slice().sort((a, b) => a - b));
  });

  it('keeps its settings when the port is swapped, and close() cancels delayed batches', async () => {
    const { l, port } = link({ delayMs: [20, 20] });
    l.send([hb(1)]);
    const next = new FakePort();
    l.setPort(next as unknown as MessagePort);
    expect(l.settings.delayMs).toEqual([20, 20]);
    await waitFor(() => next.posted.length === 1, 2_000, 'the batch on the new port');
    expect(port.posted).toEqual([]);
    l.send([hb(2)]);
    l.close();
    await new Promise((r) => setTimeout(r, 40)); // checking that nothing arrives: a wait is the point
    expect(next.posted).toHaveLength(1);
  });

  it('rejects settings out of range', () => {
    const { l } = link();
    expect(() => l.configure({ ...RELIABLE_LINK, dropRate: -0.1 })).toThrow(/dropRate/);
    expect(() => l.configure({ ...RELIABLE_LINK, delayMs: [10, 5] })).toThrow(/delayMs/);
    expect(() => l.configure({ ...RELIABLE_LINK, reorder: 2 })).toThrow(/reorder/);
  });
});
