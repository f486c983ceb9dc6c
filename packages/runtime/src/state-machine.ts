import type { StateMachine } from '@xraft/core';
import { createStateMachine as createKvStateMachine, handleKvRequest, type KvNode } from '@xraft/kv';

export type { StateMachine };

/** ClientRequestHandler answers one encoded client request on a node (the KV store's: `handleKvRequest`). */
export type ClientRequestHandler = (request: Uint8Array, node: KvNode) => Promise<Uint8Array>;

/**
 * StateMachineModule is the shape of a module given to `Cluster.start({ stateMachine })`
 * by URL: loaded inside every node worker, it makes one state machine per
 * incarnation, and may answer client requests (`handleRequest`, as the KV
 * store's module does).
 */
export interface StateMachineModule {
  createStateMachine(): StateMachine | Promise<StateMachine>;
  handleRequest?: ClientRequestHandler;
}

/** LoadedStateMachine is a node's state machine and its client request handler, if any. */
export interface LoadedStateMachine {
  readonly stateMachine: StateMachine;
  readonly handleRequest: ClientRequestHandler | null;
}

/**
 * LogRecorder is a state machine for tests of replication: it
 * keeps how many commands it applied, the last index, and a running FNV-1a
 * digest over (index, command) of every command, which two replicas agree on
 * exactly when they applied the same commands at the same indexes.
 * `apply` returns the index.
 */
export class LogRecorder implements StateMachine {
  /** Commands applied so far. */
  count = 0;
  /** Index of the last command applied (0: none). */
  lastIndex = 0;
  /** FNV-1a (32-bit) over every applied (index, command). */
  digest = 0x811c9dc5;

  apply(command: Uint8Array, index: number): number {
    if (index <= this.lastIndex) {
      throw new Error(`LogRecorder: command at ${index} applied after ${this.lastIndex}: out of order`);
    }
    let h = this.digest;
    for (let shift = 0; shift < 32; shift += 8) h = Math.imul(h ^ ((index >>> shift) & 0xff), 0x01000193);
    for (const byte of command) h = Math.imul(h ^ byte, 0x01000193);
    this.digest = h >>> 0;
    this.count++;
    this.lastIndex = index;
    return index;
  }

  snapshot(): Uint8Array {
    const out = new Uint8Array(24);
    const view = new DataView(out.buffer);
    view.setFloat64(0, this.count);
    view.setFloat64(8, this.lastIndex);
    view.setUint32(16, this.digest);
    return out;
  }

  restore(snapshot: Uint8Array): void {
    if (snapshot.byteLength !== 24)
      throw new RangeError(`LogRecorder snapshot is 24 bytes, got ${snapshot.byteLength}`);
    const view = new DataView(snapshot.buffer, snapshot.byteOffset, snapshot.byteLength);
    this.count = view.getFloat64(0);
    this.lastIndex = view.getFloat64(8);
    this.digest = view.getUint32(16);
  }
}

/**
 * loadStateMachine makes a node's state machine: from the module at `url`
 * (which must export `createStateMachine()`), or the KV store of `@xraft/kv`
 * when no URL is given.
 */
export async function loadStateMachine(url: string | undefined): Promise<LoadedStateMachine> {
  if (url === undefined) return { stateMachine: createKvStateMachine(), handleRequest: handleKvRequest };
  const mod = (await import(url)) as Partial<StateMachineModule>;
  if (typeof mod.createStateMachine !== 'function') {
    throw new TypeError(
      `state machine module ${url} must export a function createStateMachine() returning { apply, snapshot, restore }`,
    );
  }
  const sm = await mod.createStateMachine();
  for (const method of ['apply', 'snapshot', 'restore'] as const) {
    if (typeof sm?.[method] !== 'function') {
      throw new TypeError(`createStateMachine() of ${url} returned an object without a ${method}() method`);
    }
  }
  if (mod.handleRequest !== undefined && typeof mod.handleRequest !== 'function') {
    throw new TypeError(`handleRequest of ${url} must be a function (request, node) => Promise<Uint8Array>`);
  }
  return { stateMachine: sm, handleRequest: mod.handleRequest ?? null };
}
