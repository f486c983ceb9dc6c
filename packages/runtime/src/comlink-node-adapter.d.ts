// comlink ships this module without a `.d.mts` beside it, so NodeNext resolution finds no types.
declare module 'comlink/dist/esm/node-adapter.mjs' {
  import type { Endpoint } from 'comlink';

  /** NodeEndpoint is the EventEmitter-style port of `worker_threads` (`on`/`off` instead of listeners). */
  export interface NodeEndpoint {
    postMessage(message: unknown, transfer?: readonly unknown[]): void;
    on(type: 'message', listener: (value: unknown) => void): void;
    off(type: 'message', listener: (value: unknown) => void): void;
    start?: () => void;
  }

  /** nodeEndpoint adapts a `worker_threads` port to comlink's `Endpoint`. */
  export default function nodeEndpoint(nep: NodeEndpoint): Endpoint;
}
