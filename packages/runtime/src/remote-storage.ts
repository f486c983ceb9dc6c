import { type MessagePort, receiveMessageOnPort } from 'node:worker_threads';
import type { Entry, HardState, PersistedState } from '@xraft/core';
import { LogState, type Snapshot, type Storage } from '@xraft/storage';
import { packEntries, unpackEntries } from './packed-entries.js';

type ReadOp = 'load' | 'loadSnapshot';
type WriteOp = 'persist' | 'saveSnapshot' | 'compact' | 'installSnapshot';

/**
 * A call on the port. Reads carry an id (> 0) and are answered; writes carry
 * id 0 and are answered only if they fail. A persist's entries travel packed
 * (packed-entries.ts) with the index of the first: `[hardState, bytes, first]`.
 */
interface Request {
  readonly id: number;
  readonly op: ReadOp | WriteOp;
  readonly args: unknown[];
}

type Response =
  | { readonly id: number; readonly ok: true; readonly value: unknown }
  | { readonly id: number; readonly ok: false; readonly error: string };

const OPS: ReadonlySet<string> = new Set<ReadOp | WriteOp>([
  'load',
  'loadSnapshot',
  'persist',
  'saveSnapshot',
  'compact',
  'installSnapshot',
]);

/**
 * serveStorage keeps `storage` for a node worker's {@link RemoteStorage}. It
 * lives in the main thread and so outlives the worker: this is how
 * `storage: 'memory'` survives a crashed worker (it does not survive the
 * process). Calls are carried out in arrival order. The returned function,
 * called once the worker has exited, first carries out every write the worker
 * posted and this side has not read yet (a write is the main thread's once
 * posted), then stops serving and closes the port; the storage stays open for
 * the node's next incarnation.
 */
export function serveStorage(storage: Storage, port: MessagePort): () => void {
  let serving = true;
  const answer = (res: Response) => {
    if (serving) port.postMessage(res);
  };
  const serve = (req: Request) => {
    const call = carryOut(storage, req);
    call.then(
      (value) => {
        if (req.id !== 0) answer({ id: req.id, ok: true, value });
      },
      (err: unknown) => answer({ id: req.id, ok: false, error: String(err) }),
    );
  };
  port.on('message', serve);
  return () => {
    port.removeAllListeners('message');
    for (let m = receiveMessageOnPort(port); m !== undefined; m = receiveMessageOnPort(port)) {
      serve(m.message as Request);
    }
    serving = false;
    port.close();
  };
}

function carryOut(storage: Storage, req: Request): Promise<unknown> {
  if (!OPS.has(req.op)) return Promise.reject(new Error(`unknown storage op ${String(req.op)}`));
  if (req.op === 'persist') {
    const [hardState, bytes, first] = req.args as [HardState | null, Uint8Array, number];
    const entries = unpackEntries(bytes, first - 1, 0, Number.MAX_SAFE_INTEGER);
    if (typeof entries === 'string') return Promise.reject(new Error(`persist: ${entries}`));
    return storage.persist(hardState, entries);
  }
  return (storage[req.op] as (...args: unknown[]) => Promise<unknown>).apply(storage, req.args);
}

/**
 * RemoteStorage is a node worker's {@link Storage} whose data the main thread
 * keeps (see {@link serveStorage}). A write is checked against, and applied
 * to, an image of the storage in the worker (a `LogState`, the rules every
 * Storage shares; it also answers `entries`), then posted, and resolves: once
 * posted it is in the main thread's queue and survives the worker however it
 * dies, as a write on disk survives a crash, and `serveStorage` carries it out
 * before the node's next incarnation loads. So no write waits for a round trip
 * to the main thread. `load` and `loadSnapshot` ask the main thread, which
 * answers after the writes posted before them.
 */
export class RemoteStorage implements Storage {
  private nextId = 1;
  private readonly pending = new Map<number, { resolve(v: unknown): void; reject(e: Error): void }>();
  private closed = false;
  /** Set when the main thread failed a write this side accepted: every later call rejects with it. */
  private failed: Error | null = null;
  /** The storage as this side's writes left it; null until load(). */
  private image: LogState | null = null;
  /** Settles after the last read issued (reads are answered in order). */
  private last: Promise<unknown> = Promise.resolve();

  constructor(private readonly port: MessagePort) {
    port.on('message', (res: Response) => {
      if (res.id === 0) {
        if (!res.ok) this.fail(new Error(`storage: the main thread failed a write: ${res.error}`));
        return;
      }
      const p = this.pending.get(res.id);
      if (p === undefined) return;
      this.pending.delete(res.id);
      if (res.ok) p.resolve(res.value);
      else p.reject(new Error(`storage: ${res.error}`));
    });
    port.on('close', () => this.fail(new Error('storage: the main thread closed the storage port')));
  }

  async load(): Promise<PersistedState> {
    const state = (await this.ask('load', [])) as PersistedState;
    if (this.image === null) {
      const image = new LogState();
      image.hardState = state.hardState;
      image.log = state.entries.slice();
      const point = state.snapshot ?? { index: 0, term: 0 };
      image.offset = point.index;
      image.offsetTerm = point.term;
      if (point.index > 0) image.snapshot = point;
      this.image = image;
    }
    return state;
  }

  async persist(hardState: HardState | null, entries: readonly Entry[]): Promise<void> {
    const image = this.ready('persist');
    image.checkPersist(entries);
    image.persist(hardState, entries);
    this.post('persist', [hardState, packEntries(entries), entries[0]?.index ?? 0]);
  }

  async entries(lo: number, hi: number): Promise<Entry[]> {
    return this.ready('entries').entries(lo, hi);
  }

  async saveSnapshot(snapshot: Snapshot): Promise<void> {
    this.ready('saveSnapshot').saveSnapshot(snapshot.meta);
    this.post('saveSnapshot', [snapshot]);
  }

  async loadSnapshot(): Promise<Snapshot | null> {
    const snapshot = (await this.ask('loadSnapshot', [])) as Snapshot | null;
    // A restarted node's image learns the latest saved snapshot here (it may reach past the compaction point).
    if (snapshot !== null) this.image?.saveSnapshot(snapshot.meta);
    return snapshot;
  }

  async compact(index: number): Promise<void> {
    const image = this.ready('compact');
    if (index <= image.offset) return;
    image.compact(index, image.compactTerm(index));
    this.post('compact', [index]);
  }

  async installSnapshot(snapshot: Snapshot): Promise<void> {
    const image = this.ready('installSnapshot');
    if (!image.install(snapshot.meta)) return;
    this.post('installSnapshot', [snapshot]);
  }

  /** close waits for pending reads, then closes this side's port; the data stays with the main thread. */
  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    await this.last;
    this.port.removeAllListeners('message');
    this.port.close();
  }

  private ready(op: string): LogState {
    if (this.closed) throw new Error('storage is closed');
    if (this.failed !== null) throw this.failed;
    if (this.image === null) throw new Error(`RemoteStorage.${op}: call load() first`);
    return this.image;
  }

  /** post hands a write the image accepted to the main thread (no answer unless it fails there). */
  private post(op: WriteOp, args: unknown[]): void {
    this.port.postMessage({ id: 0, op, args } satisfies Request);
  }

  private ask(op: ReadOp, args: unknown[]): Promise<unknown> {
    if (this.closed) return Promise.reject(new Error('storage is closed'));
    if (this.failed !== null) return Promise.reject(this.failed);
    const id = this.nextId++;
    const promise = new Promise((resolve, reject) => {
      this.pending.set(id, { resolve, reject });
      this.port.postMessage({ id, op, args } satisfies Request);
    });
    this.last = promise.catch(() => undefined);
    return promise;
  }

  private fail(error: Error): void {
    this.failed ??= error;
    for (const p of this.pending.values()) p.reject(error);
    this.pending.clear();
  }
}
