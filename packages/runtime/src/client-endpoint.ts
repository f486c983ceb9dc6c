/**
 * The remote-client endpoint: how KV clients in another thread (a benchmark's
 * load generator, any worker of the application) reach the node workers
 * directly, without their requests passing through the main thread.
 *
 * The main thread's {@link Cluster.clientEndpoint} makes one endpoint: a
 * `MessagePort` (plus the node ids) to hand to the other thread. Over it the
 * main thread sends that thread a fresh client port to each running node
 * worker, and again to every new incarnation after a restart; each node serves
 * its extra ports exactly as its main client port (`serveClientPort`). On the
 * other side {@link ClientEndpointTransport} keeps those ports in a
 * {@link ClientPorts} and is the `KvTransport` of any number of `KvClient`s:
 *
 * ```ts
 * // main thread
 * const endpoint = cluster.clientEndpoint();
 * worker.postMessage({ endpoint }, [endpoint.port]);
 * // the other thread
 * const transport = new ClientEndpointTransport(endpoint);
 * const kv = new KvClient(transport.shared());
 * ...
 * transport.close();
 * ```
 */
import type { MessagePort } from 'node:worker_threads';
import type { NodeId } from '@xraft/core';
import type { KvTransport, SendTarget } from '@xraft/kv';
import { ClientPorts } from './client-port.js';

/**
 * ClientEndpoint is what {@link Cluster.clientEndpoint} returns: plain data to
 * post to another thread, `port` in the transfer list.
 */
export interface ClientEndpoint {
  /** The cluster's node ids, in order (the `nodes` of the transport). */
  readonly nodes: readonly NodeId[];
  /** The endpoint's end in the receiving thread; the main thread keeps the other one. */
  readonly port: MessagePort;
}

/**
 * EndpointMessage is one message of the main thread on an endpoint port:
 * `attach` hands over the client end of a node incarnation's new client port;
 * `detach` says that node's worker ended (requests in flight to it fail).
 */
export type EndpointMessage =
  | { readonly kind: 'attach'; readonly node: NodeId; readonly port: MessagePort }
  | { readonly kind: 'detach'; readonly node: NodeId };

/**
 * ClientEndpointTransport is the receiving side of a {@link ClientEndpoint}:
 * a `KvTransport` over the client ports the main thread hands it, in any
 * thread. Requests to a node whose port has not arrived yet (or whose worker
 * is down) fail as undelivered, and the `KvClient` tries elsewhere or again.
 * {@link close} (or `KvClient.close` on the transport itself) closes every
 * port; the main thread closing the endpoint (the cluster stopped) does too.
 */
export class ClientEndpointTransport implements KvTransport {
  readonly nodes: readonly NodeId[];
  private readonly ports: ClientPorts;
  /** The newest port of every node, to tell a stale port's 'close' from the current one's. */
  private readonly current = new Map<NodeId, MessagePort>();
  private closed = false;

  constructor(private readonly endpoint: ClientEndpoint) {
    if (!Array.isArray(endpoint?.nodes) || endpoint.nodes.length === 0 || endpoint.port === undefined) {
      throw new TypeError(
        'ClientEndpointTransport: pass the object Cluster.clientEndpoint() returned ({ nodes, port }), with its port transferred',
      );
    }
    this.nodes = Object.freeze([...endpoint.nodes]);
    this.ports = new ClientPorts(this.nodes);
    endpoint.port.on('message', (m: EndpointMessage) => this.onMessage(m));
    endpoint.port.once('close', () => this.close());
    // The endpoint must not keep its thread alive: the thread's own work does.
    endpoint.port.unref();
  }

  /** connectedNodes are the nodes whose client port this side holds now. */
  get connectedNodes(): readonly NodeId[] {
    return [...this.current.keys()];
  }

  send(node: NodeId, request: Uint8Array, timeoutMs: number): Promise<Uint8Array> {
    return this.ports.send(node, request, timeoutMs);
  }

  dispatch(node: NodeId, request: Uint8Array, timeoutMs: number, target: SendTarget): void {
    this.ports.dispatch(node, request, timeoutMs, target);
  }

  /**
   * shared is a transport over the same ports whose `close` does nothing: give
   * it to each of many `KvClient`s, which close their transport on `close()`,
   * and close this one once they are all done.
   */
  shared(): KvTransport {
    return {
      nodes: this.nodes,
      send: (node, request, timeoutMs) => this.ports.send(node, request, timeoutMs),
      dispatch: (node, request, timeoutMs, target) => this.ports.dispatch(node, request, timeoutMs, target),
    };
  }

  /** close fails every request in flight and closes every client port and the endpoint. */
  close(): void {
    if (this.closed) return;
    this.closed = true;
    this.ports.close();
    this.current.clear();
    this.endpoint.port.removeAllListeners('message');
    this.endpoint.port.close();
  }

  private onMessage(m: EndpointMessage): void {
    if (this.closed) {
      if (m.kind === 'attach') m.port.close();
      return;
    }
    switch (m.kind) {
      case 'attach': {
        const { node, port } = m;
        this.current.set(node, port);
        this.ports.attach(node, port);
        // A worker that ends closes its ports: its requests in flight fail at once.
        port.once('close', () => {
          if (this.current.get(node) !== port) return;
          this.current.delete(node);
          this.ports.detach(node, 'exited');
        });
        break;
      }
      case 'detach':
        this.current.delete(m.node);
        this.ports.detach(m.node, 'exited');
        break;
      default:
        throw new Error(`unknown client endpoint message ${JSON.stringify((m as { kind?: unknown }).kind)}`);
    }
  }
}
