/**
 * The client port: how KV clients in the main thread reach a node worker.
 * Each worker incarnation gets its own `MessageChannel`; requests and
 * responses are encoded bytes (the KV codec of `@xraft/kv`), matched by id,
 * and their buffers are transferred, not copied. The main side is a
 * `KvTransport` for `KvClient`; when a worker ends, every request in flight
 * to it fails at once (it may or may not have been carried out).
 */
import type { MessagePort } from 'node:worker_threads';
import type { NodeId } from '@xraft/core';
import { type KvTransport, UndeliveredError } from '@xraft/kv';

/** ClientRequest is one request on a client port, main → worker. */
interface ClientRequest {
  readonly id: number;
  readonly request: Uint8Array;
}

/** ClientResponse answers a {@link ClientRequest}, worker → main. */
type ClientResponse =
  | { readonly id: number; readonly response: Uint8Array }
  | { readonly id: number; readonly error: string };

/**
 * serveClientPort answers the requests arriving on `port` with `handle`
 * (worker side). A request that is not well formed is dropped with a warning;
 * a failing handler answers with its error.
 */
export function serveClientPort(
  port: MessagePort,
  handle: (request: Uint8Array) => Promise<Uint8Array>,
  warn: (message: string) => void,
): void {
  let warned = false;
  port.on('message', (m: unknown) => {
    const r = m as Partial<ClientRequest>;
    if (
      typeof r !== 'object' ||
      r === null ||
      !Number.isSafeInteger(r.id) ||
      !(r.request instanceof Uint8Array)
    ) {
      if (!warned) warn('dropped a malformed client request (further ones are dropped silently)');
      warned = true;
      return;
    }
    const id = r.id as number;
    handle(r.request).then(
      (response) => {
        // Transfer the buffer when the response owns all of it; copy otherwise.
        const whole = response.byteOffset === 0 && response.byteLength === response.buffer.byteLength;
        port.postMessage(
          { id, response } satisfies ClientResponse,
          whole ? [response.buffer as ArrayBuffer] : [],
        );
      },
      (err: unknown) =>
        port.postMessage({
          id,
          error: err instanceof Error ? err.message : String(err),
        } satisfies ClientResponse),
    );
  });
}

interface Pending {
  readonly node: NodeId;
  readonly resolve: (response: Uint8Array) => void;
  readonly reject: (error: Error) => void;
  readonly timer: ReturnType<typeof setTimeout>;
}

/**
 * ClientPorts is the main side of every node's client port, and the
 * `KvTransport` of the cluster's `KvClient`s.
 */
export class ClientPorts implements KvTransport {
  private readonly ports = new Map<NodeId, MessagePort>();
  private readonly pending = new Map<number, Pending>();
  private nextId = 1;
  private closed = false;

  constructor(readonly nodes: readonly NodeId[]) {}

  /** attach takes the main end of `node`'s new incarnation's client port. */
  attach(node: NodeId, port: MessagePort): void {
    this.detach(node, 'restarted');
    this.ports.set(node, port);
    port.on('message', (m: ClientResponse) => this.answer(m));
    port.unref();
  }

  /** detach forgets `node`'s port (its worker ended): requests in flight to it fail. */
  detach(node: NodeId, why: string): void {
    const port = this.ports.get(node);
    if (port === undefined) return;
    this.ports.delete(node);
    port.close();
    for (const [id, p] of this.pending) {
      if (p.node !== node) continue;
      this.pending.delete(id);
      clearTimeout(p.timer);
      p.reject(
        new Error(`${node} ${why} before answering: the request may or may not have been carried out`),
      );
    }
  }

  send(node: NodeId, request: Uint8Array, timeoutMs: number): Promise<Uint8Array> {
    const port = this.ports.get(node);
    if (this.closed) return Promise.reject(new UndeliveredError(node, 'the cluster is stopped'));
    if (port === undefined) return Promise.reject(new UndeliveredError(node, 'its worker is down'));
    const id = this.nextId++;
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        this.pending.delete(id);
        reject(new Error(`${node} did not answer within ${timeoutMs} ms`));
      }, timeoutMs);
      this.pending.set(id, { node, resolve, reject, timer });
      port.postMessage({ id, request } satisfies ClientRequest);
    });
  }

  /** close fails every request in flight and closes every port (the cluster stopped). */
  close(): void {
    this.closed = true;
    for (const node of [...this.ports.keys()]) this.detach(node, 'stopped');
  }

  private answer(m: ClientResponse): void {
    const p = this.pending.get(m.id);
    if (p === undefined) return; // timed out already
    this.pending.delete(m.id);
    clearTimeout(p.timer);
    if ('response' in m) p.resolve(m.response);
    else p.reject(new Error(`${p.node}: ${m.error}`));
  }
}
