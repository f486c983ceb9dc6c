/**
 * The KV store as a state machine module (DESIGN.md "The state machine
 * interface"): `Cluster.start({ stateMachine: url })` loads this file by URL
 * inside every node worker and calls `createStateMachine()`. It also exports
 * `handleRequest`, the node side of the client protocol, so a runtime that
 * knows no KV command can route client requests through the same module.
 */
import { handleKvRequest, type KvNode } from './server.js';
import { KvStateMachine, type KvStateMachineOptions } from './state-machine.js';

/**
 * defaultOptions are the options `createStateMachine()` uses: the same on
 * every node, as they must be (session expiry is part of the replicated state).
 */
export const defaultOptions: Readonly<KvStateMachineOptions> = Object.freeze({});

/** createStateMachine makes one node's KV state machine. */
export function createStateMachine(options: KvStateMachineOptions = defaultOptions): KvStateMachine {
  return new KvStateMachine(options);
}

/** handleRequest answers one encoded client request on a node (see `handleKvRequest`). */
export function handleRequest(request: Uint8Array, node: KvNode): Promise<Uint8Array> {
  return handleKvRequest(request, node);
}
