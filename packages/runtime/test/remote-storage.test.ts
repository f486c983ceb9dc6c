// RemoteStorage / serveStorage: a node worker's memory storage kept by the main
// thread. A write is the main thread's once posted: it survives the worker, and
// the next incarnation's load sees it, even if the main thread had not read it
// when the worker died.
import { MessageChannel } from 'node:worker_threads';
import type { Entry } from '@xraft/core';
import { MemoryStorage } from '@xraft/storage';
import { describe, expect, test } from 'vitest';
import { RemoteStorage, serveStorage } from '../src/remote-storage.js';

const entry = (index: number, term: number): Entry => ({
  index,
  term,
  type: 'normal',
  data: new TextEncoder().encode(`e${index}`),
});

/** incarnation connects a fresh RemoteStorage to `kept` over a new channel, as the cluster does per worker. */
async function incarnation(kept: MemoryStorage) {
  const { port1, port2 } = new MessageChannel();
  const release = serveStorage(kept, port1);
  const remote = new RemoteStorage(port2);
  const loaded = await remote.load();
  return { remote, release, loaded, port2 };
}

describe('RemoteStorage', () => {
  test('writes the worker posted before it died are carried out before the next incarnation loads', async () => {
    const kept = new MemoryStorage();
    await kept.load();
    const first = await incarnation(kept);
    await first.remote.persist({ term: 2, vote: 'n1', commit: 0 }, [entry(1, 1), entry(2, 2)]);
    await first.remote.saveSnapshot({ meta: { index: 2, term: 2 }, data: new Uint8Array([7]) });
    await first.remote.compact(1);
    await first.remote.persist(null, [entry(3, 2)]);
    // The worker dies now: its port closes with the writes still unread by the main thread.
    first.port2.close();
    first.release();

    const second = await incarnation(kept);
    expect(second.loaded.hardState).toEqual({ term: 2, vote: 'n1', commit: 0 });
    expect(second.loaded.snapshot).toEqual({ index: 1, term: 1 });
    expect(second.loaded.entries.map((e) => [e.index, e.term, new TextDecoder().decode(e.data)])).toEqual([
      [2, 2, 'e2'],
      [3, 2, 'e3'],
    ]);
    expect((await second.remote.loadSnapshot())?.meta).toEqual({ index: 2, term: 2 });
    // The image knows the saved snapshot reaches index 2: compacting there is allowed, as the main thread would.
    await second.remote.compact(2);
    await second.remote.close();
    second.release();
    expect((await kept.load()).snapshot).toEqual({ index: 2, term: 2 });
  });

  test('a write that breaks the storage rules rejects in the worker and reaches nothing', async () => {
    const kept = new MemoryStorage();
    await kept.load();
    const { remote, release } = await incarnation(kept);
    await remote.persist(null, [entry(1, 1)]);
    await expect(remote.persist(null, [entry(3, 1)])).rejects.toThrow(RangeError); // a gap
    await expect(remote.compact(1)).rejects.toThrow(RangeError); // no snapshot covers it
    await expect(remote.entries(1, 2)).resolves.toHaveLength(1);
    await remote.close();
    release();
    expect((await kept.load()).entries.map((e) => e.index)).toEqual([1]);
  });
});
