/**
 * The client port: how KV clients (in the main thread, or any thread holding
 * a {@link ClientPorts}) reach a node worker. Each worker incarnation gets its
 * own `MessageChannel`; requests and responses are encoded bytes (the KV codec
 * of `@xraft/kv`), matched by id. The requests of one turn of the event loop
 * to one node travel as one frame, and so do the responses of one turn
 * of the worker (DESIGN.md: batching decides everything): one `postMessage`
 * and one transferred buffer for all of them. The main side is a
 * `KvTransport` for `KvClient`; when a worker ends, every request in flight
 * to it fails at once (it may or may not have been carried out).
 */
import type { MessagePort } from 'node:worker_threads';
import type { NodeId } from '@xraft/core';
import { Deadlines, type KvTransport, type SendTarget, UndeliveredError } from '@xraft/kv';

/**
 * A frame carries the messages of one turn in one buffer: requests (main →
 * worker) or responses (worker → main), matched by id. Layout, in the
 * platform's byte order (both ends are one process):
 *
 * ```
 * [0, 8)             n, as a float64
 * [8, 8 + 8n)        the ids, float64 (safe integers)
 * [8 + 8n, 8 + 12n)  the ends, uint32: message i is payload[ends[i-1], ends[i])
 * [8 + 12n, ...)     the payloads, back to back
 * ```
 *
 * One buffer instead of one per field: `postMessage` costs per buffer. A
 * frame goes alone, or as {@link FrameWithErrors} when requests failed.
 */
interface FrameWithErrors {
  readonly frame: Uint8Array;
  readonly errors: ReadonlyArray<readonly [id: number, error: string]>;
}

/** Frames at least this large are transferred; smaller ones are cloned, which costs less than detaching a buffer. */
const TRANSFER_BYTES = 1024;

/** Outbox gathers the messages of one turn and packs them into one frame. */
class Outbox {
  private ids: number[] = [];
  private payloads: Uint8Array[] = [];
  private errors: Array<[number, string]> = [];
  private size = 0;

  get empty(): boolean {
    return this.ids.length === 0 && this.errors.length === 0;
  }

  add(id: number, payload: Uint8Array): void {
    this.ids.push(id);
    this.payloads.push(payload);
    this.size += payload.byteLength;
  }

  addError(id: number, error: string): void {
    this.errors.push([id, error]);
  }

  /** post sends what was gathered as one frame on `port` and starts afresh. */
  post(port: MessagePort): void {
    const n = this.ids.length;
    const buffer = new ArrayBuffer(8 + 12 * n + this.size);
    const head = new Float64Array(buffer, 0, 1 + n);
    const ends = new Uint32Array(buffer, 8 + 8 * n, n);
    const bytes = new Uint8Array(buffer);
    head[0] = n;
    let at = 8 + 12 * n;
    for (let i = 0; i < n; i++) {
      head[1 + i] = this.ids[i]!;
      const p = this.payloads[i]!;
      bytes.set(p, at);
      at += p.byteLength;
      ends[i] = at - 8 - 12 * n;
    }
    const errors = this.errors;
    this.ids = [];
    this.payloads = [];
    this.size = 0;
    const transfer = buffer.byteLength >= TRANSFER_BYTES ? [buffer] : undefined;
    if (errors.length > 0) {
      this.errors = [];
      const m: FrameWithErrors = { frame: bytes, errors };
      port.postMessage(m, transfer);
    } else {
      port.postMessage(bytes, transfer);
    }
  }
}

/**
 * readFrame checks a received frame and calls `each` per message; null if it
 * is malformed (nothing is called), else the errors it carries.
 */
function readFrame(
  m: unknown,
  each: (id: number, payload: Uint8Array) => void,
): ReadonlyArray<readonly [id: number, error: string]> | null {
  let frame: unknown = m;
  let errors: ReadonlyArray<readonly [id: number, error: string]> = NO_ERRORS;
  if (!(m instanceof Uint8Array)) {
    const f = m as Partial<FrameWithErrors> | null;
    if (typeof f !== 'object' || f === null || !Array.isArray(f.errors)) return null;
    frame = f.frame;
    errors = f.errors;
  }
  if (!(frame instanceof Uint8Array) || frame.byteOffset !== 0 || frame.byteLength < 8) return null;
  const buffer = frame.buffer;
  const n = new Float64Array(buffer, 0, 1)[0]!;
  if (!Number.isSafeInteger(n) || n < 0 || 8 + 12 * n > frame.byteLength) return null;
  const ids = new Float64Array(buffer, 8, n);
  const ends = new Uint32Array(buffer, 8 + 8 * n, n);
  const payload = frame.subarray(8 + 12 * n);
  let start = 0;
  for (let i = 0; i < n; i++) {
    if (!Number.isSafeInteger(ids[i]) || ends[i]! < start || ends[i]! > payload.byteLength) return null;
    start = ends[i]!;
  }
  start = 0;
  for (let i = 0; i < n; i++) {
    each(ids[i]!, payload.subarray(start, ends[i]));
    start = ends[i]!;
  }
  return errors;
}

const NO_ERRORS: ReadonlyArray<readonly [id: number, error: string]> = [];

/**
 * serveClientPort answers the requests arriving on `port` with `handle`
 * (worker side); the answers of one turn go back as one frame. A frame that
 * is not well formed is dropped with a warning; a failing handler answers
 * with its error.
 */
export function serveClientPort(
  port: MessagePort,
  handle: (request: Uint8Array) => Promise<Uint8Array>,
  warn: (message: string) => void,
): void {
  let warned = false;
  const outbox = new Outbox();
  let scheduled = false;
  const flush = () => {
    scheduled = false;
    outbox.post(port);
  };
  const schedule = () => {
    if (scheduled) return;
    scheduled = true;
    setImmediate(flush);
  };
  const serve = (id: number, request: Uint8Array) => {
    handle(request).then(
      (response) => {
        outbox.add(id, response);
        schedule();
      },
      (err: unknown) => {
        outbox.addError(id, err instanceof Error ? err.message : String(err));
        schedule();
      },
    );
  };
  port.on('message', (m: unknown) => {
    if (readFrame(m, serve) !== null) return;
    if (!warned) warn('dropped a malformed client request frame (further ones are dropped silently)');
    warned = true;
  });
}

/** Pending is a request in flight, awaiting its answer until `deadline`. */
class Pending {
  /** Its slot in the {@link ClientPorts} deadlines. */
  deadlineSlot = -1;

  constructor(
    readonly id: number,
    readonly node: NodeId,
    readonly deadline: number,
    readonly timeoutMs: number,
    readonly target: SendTarget,
  ) {}
}

/**
 * ClientPorts is the main side of every node's client port, and the
 * `KvTransport` of the cluster's `KvClient`s. Requests sent in one turn of
 * the event loop leave together, one frame per node.
 */
export class ClientPorts implements KvTransport {
  private readonly ports = new Map<NodeId, MessagePort>();
  private readonly outboxes = new Map<NodeId, Outbox>();
  private readonly pending = new Map<number, Pending>();
  /** The requests in flight, failed at their deadline (one timer for all). */
  private readonly deadlines = new Deadlines<Pending>((p) => {
    this.pending.delete(p.id);
    p.target.failed(new Error(`${p.node} did not answer within ${p.timeoutMs} ms`));
  });
  private nextId = 1;
  private closed = false;
  private flushScheduled = false;

  constructor(readonly nodes: readonly NodeId[]) {}

  /** attach takes the main end of `node`'s new incarnation's client port. */
  attach(node: NodeId, port: MessagePort): void {
    this.detach(node, 'restarted');
    this.ports.set(node, port);
    this.outboxes.set(node, new Outbox());
    port.on('message', (m: unknown) => this.answer(m));
    port.unref();
  }

  /** detach forgets `node`'s port (its worker ended): requests in flight to it fail. */
  detach(node: NodeId, why: string): void {
    const port = this.ports.get(node);
    if (port === undefined) return;
    this.ports.delete(node);
    this.outboxes.delete(node);
    port.close();
    for (const [id, p] of this.pending) {
      if (p.node !== node) continue;
      this.pending.delete(id);
      this.deadlines.delete(p);
      p.target.failed(
        new Error(`${node} ${why} before answering: the request may or may not have been carried out`),
      );
    }
  }

  send(node: NodeId, request: Uint8Array, timeoutMs: number): Promise<Uint8Array> {
    return new Promise((resolve, reject) =>
      this.dispatch(node, request, timeoutMs, { answered: resolve, failed: reject }),
    );
  }

  /** dispatch is {@link send} with its outcome going to `target` (`KvTransport.dispatch`). */
  dispatch(node: NodeId, request: Uint8Array, timeoutMs: number, target: SendTarget): void {
    const outbox = this.outboxes.get(node);
    if (this.closed || outbox === undefined) {
      const error = new UndeliveredError(node, this.closed ? 'the cluster is stopped' : 'its worker is down');
      queueMicrotask(() => target.failed(error));
      return;
    }
    const id = this.nextId++;
    const p = new Pending(id, node, Date.now() + timeoutMs, timeoutMs, target);
    this.pending.set(id, p);
    this.deadlines.add(p);
    outbox.add(id, request);
    if (!this.flushScheduled) {
      this.flushScheduled = true;
      setImmediate(() => this.flush());
    }
  }

  /** close fails every request in flight and closes every port (the cluster stopped). */
  close(): void {
    this.closed = true;
    for (const node of [...this.ports.keys()]) this.detach(node, 'stopped');
    this.deadlines.close();
  }

  /** flush sends each node the requests of this turn as one frame. */
  private flush(): void {
    this.flushScheduled = false;
    for (const [node, outbox] of this.outboxes) if (!outbox.empty) outbox.post(this.ports.get(node)!);
  }

  private answer(m: unknown): void {
    const errors = readFrame(m, (id, response) => this.settle(id)?.target.answered(response));
    if (errors === null) return; // Not from serveClientPort: the requests it may answer time out.
    for (const [id, error] of errors) {
      const p = this.settle(id);
      p?.target.failed(new Error(`${p.node}: ${error}`));
    }
  }

  /** settle takes the request `id` out of the pending ones; undefined if it timed out already. */
  private settle(id: number): Pending | undefined {
    const p = this.pending.get(id);
    if (p === undefined) return undefined;
    this.pending.delete(id);
    this.deadlines.delete(p);
    return p;
  }
}
