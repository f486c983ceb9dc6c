/**
 * KvTransport is how a {@link KvClient} reaches the nodes of a cluster; the
 * runtime implements it with a MessagePort per node worker, the tests with an
 * in-memory fake. It carries opaque bytes: encoded {@link KvRequest}s out and
 * encoded {@link KvResponse}s back (codec.ts), which the node side produces
 * with `handleKvRequest` (server.ts).
 */
export interface KvTransport {
  /** The ids of every node of the cluster, in a fixed order (the client walks them looking for the leader). */
  readonly nodes: readonly string[];
  /**
   * send delivers one encoded request to `nodeId` and resolves with its
   * encoded response. It rejects when no response comes within `timeoutMs`
   * or the node cannot answer (crashed, restarted, port closed). Reject with
   * an `UndeliveredError` only when the request surely never reached the node
   * (the client may then report a write as not applied); any other rejection
   * means "maybe delivered". A late response after a rejection is dropped.
   * `request` may be a view into a buffer shared with other requests (the
   * client's encoders share one, for speed): copy its bytes rather than post
   * or transfer it as it is, and do not change them.
   */
  send(nodeId: string, request: Uint8Array, timeoutMs: number): Promise<Uint8Array>;
  /**
   * dispatch, if a transport has it, is {@link send} without a promise: the
   * outcome goes to `target` instead (a `KvClient` then uses it, sparing a
   * promise and its callbacks per request). Exactly one of `target`'s methods
   * is called, once, and never before `dispatch` has returned; `failed` gets
   * what `send` would reject with.
   */
  dispatch?(nodeId: string, request: Uint8Array, timeoutMs: number, target: SendTarget): void;
  /** close releases the transport's resources; called once by `KvClient.close`. */
  close?(): void | Promise<void>;
}

/** SendTarget receives the outcome of one {@link KvTransport.dispatch}. */
export interface SendTarget {
  /** The node's encoded response arrived. */
  answered(response: Uint8Array): void;
  /** No response: an `UndeliveredError` if the request surely never reached the node, else anything. */
  failed(error: unknown): void;
}
