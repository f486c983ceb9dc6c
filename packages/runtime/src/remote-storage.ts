import type { MessagePort } from 'node:worker_threads';
import type { Entry, HardState, PersistedState } from '@xraft/core';
import type { Snapshot, Storage } from '@xraft/storage';

type Op = 'load' | 'persist' | 'entries' | 'saveSnapshot' | 'loadSnapshot' | 'compact' | 'installSnapshot';

interface Request {
  readonly id: number;
  readonly op: Op;
  readonly args: unknown[];
}

type Response =
  | { readonly id: number; readonly ok: true; readonly value: unknown }
  | { readonly id: number; readonly ok: false; readonly error: string };

const OPS: ReadonlySet<string> = new Set<Op>([
  'load',
  'persist',
  'entries',
  'saveSnapshot',
  'loadSnapshot',
  'compact',
  'installSnapshot',
]);

/**
 * serveStorage answers a node worker's {@link RemoteStorage} from `storage`,
 * which lives in the main thread and so outlives the worker: this is how
 * `storage: 'memory'` survives a crashed worker (it does not survive the
 * process). Requests are carried out in arrival order, each answered once the
 * storage resolved it. The returned function stops serving and closes the port;
 * the storage itself stays open for the node's next incarnation.
 */
export function serveStorage(storage: Storage, port: MessagePort): () => void {
  port.on('message', (req: Request) => {
    if (!OPS.has(req.op)) {
      port.postMessage({ id: req.id, ok: false, error: `unknown storage op ${String(req.op)}` });
      return;
    }
    const call = (storage[req.op] as (...args: unknown[]) => Promise<unknown>).apply(storage, req.args);
    call.then(
      (value) => port.postMessage({ id: req.id, ok: true, value } satisfies Response),
      (err: unknown) => port.postMessage({ id: req.id, ok: false, error: String(err) } satisfies Response),
    );
  });
  return () => {
    port.removeAllListeners('message');
    port.close();
  };
}

/**
 * RemoteStorage is a {@link Storage} whose data lives on the other end of a
 * port (see {@link serveStorage}). A write resolves once the other side holds
 * it; a worker killed before that may or may not have made it, as with a
 * write cut short by a crash, and nothing was acknowledged on its strength.
 */
export class RemoteStorage implements Storage {
  private nextId = 1;
  private readonly pending = new Map<number, { resolve(v: unknown): void; reject(e: Error): void }>();
  private closed = false;
  /** Settles after the last call issued (calls are answered in order). */
  private last: Promise<unknown> = Promise.resolve();

  constructor(private readonly port: MessagePort) {
    port.on('message', (res: Response) => {
      const p = this.pending.get(res.id);
      if (p === undefined) return;
      this.pending.delete(res.id);
      if (res.ok) p.resolve(res.value);
      else p.reject(new Error(`storage: ${res.error}`));
    });
    port.on('close', () => this.failAll(new Error('storage: the main thread closed the storage port')));
  }

  load(): Promise<PersistedState> {
    return this.call('load', []) as Promise<PersistedState>;
  }

  persist(hardState: HardState | null, entries: readonly Entry[]): Promise<void> {
    return this.call('persist', [hardState, entries]) as Promise<void>;
  }

  entries(lo: number, hi: number): Promise<Entry[]> {
    return this.call('entries', [lo, hi]) as Promise<Entry[]>;
  }

  saveSnapshot(snapshot: Snapshot): Promise<void> {
    return this.call('saveSnapshot', [snapshot]) as Promise<void>;
  }

  loadSnapshot(): Promise<Snapshot | null> {
    return this.call('loadSnapshot', []) as Promise<Snapshot | null>;
  }

  compact(index: number): Promise<void> {
    return this.call('compact', [index]) as Promise<void>;
  }

  installSnapshot(snapshot: Snapshot): Promise<void> {
    return this.call('installSnapshot', [snapshot]) as Promise<void>;
  }

  /** close waits for pending calls, then closes this side's port; the data stays with the main thread. */
  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    await this.last;
    this.port.removeAllListeners('message');
    this.port.close();
  }

  private call(op: Op, args: unknown[]): Promise<unknown> {
    if (this.closed) return Promise.reject(new Error('storage is closed'));
    const id = this.nextId++;
    const promise = new Promise((resolve, reject) => {
      this.pending.set(id, { resolve, reject });
      this.port.postMessage({ id, op, args } satisfies Request);
    });
    this.last = promise.catch(() => undefined);
    return promise;
  }

  private failAll(error: Error): void {
    for (const p of this.pending.values()) p.reject(error);
    this.pending.clear();
  }
}
