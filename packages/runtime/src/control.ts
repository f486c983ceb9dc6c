import type { MessagePort } from 'node:worker_threads';
import type { NodeId, NodeStatus, ProposeResult } from '@xraft/core';
import { expose, type Remote, wrap } from 'comlink';
import nodeEndpoint from 'comlink/dist/esm/node-adapter.mjs';
import type { LinkSettings } from './link.js';
import type { WireErrorKind } from './wire.js';

/**
 * KillMode is a way for a node worker to die that the supervisor must notice
 * (tests of supervision): an uncaught exception, an unhandled rejection,
 * `process.exit(3)`, running out of memory under the worker's `resourceLimits`,
 * or being terminated by someone other than the Cluster API.
 */
export type KillMode = 'throw' | 'rejection' | 'exit' | 'oom' | 'terminate';

/** NodeReport is a node worker's full status, fetched over the control plane. */
export interface NodeReport extends NodeStatus {
  /** The statechart's current state value, e.g. `{ follower: 'leaderRecent' }` (for diagrams). */
  readonly stateValue: unknown;
  readonly incarnation: number;
  /** Seed of the worker's random source, from `crypto`. */
  readonly seed: number;
  /** Highest index the worker's state machine has applied (the core's lastApplied counts handed-out entries). */
  readonly applied: number;
  /** Entries the node's log holds in memory, after its compaction point (§7). */
  readonly logEntries: number;
  /** Snapshots this incarnation took (log compaction) and installed from a leader (InstallSnapshot). */
  readonly snapshotsTaken: number;
  readonly snapshotsInstalled: number;
  /** The worker's V8 heap in use, in bytes (its own isolate; RSS is the whole process's). */
  readonly heapUsedBytes: number;
  /** Dropped input per kind (wire.ts). */
  readonly wireErrors: Partial<Record<WireErrorKind, number>>;
  /** Readies persisted but not yet carried out. */
  readonly inflightWrites: number;
}

/**
 * NodeUsage is what a node worker uses ({@link ControlApi.usage}): its event
 * loop's cumulative idle and active time in ms since the worker started
 * (`performance.eventLoopUtilization()` inside it; the utilization over an
 * interval is Δactive / (Δidle + Δactive)) and its V8 heap in use. RSS is the
 * whole process's, shared by every thread, so it is not here.
 */
export interface NodeUsage {
  readonly eventLoop: { readonly idleMs: number; readonly activeMs: number };
  readonly heapUsedBytes: number;
}

/** ControlApi is what a node worker exposes to the supervisor over comlink (the control plane). */
export interface ControlApi {
  /** status reports the node; it waits for the node to have booted. */
  status(): Promise<NodeReport>;
  /**
   * submit is Raft's Start() for one command (§5.3): it returns before the
   * command commits. Submissions arriving in the same turn go to the core as one batch.
   */
  submit(command: Uint8Array): Promise<ProposeResult>;
  /** transferLeadership asks the node, if it leads, to hand over to `to` (thesis §3.10). */
  transferLeadership(to: NodeId): Promise<void>;
  /** setLinks replaces the settings of the given outgoing links. */
  setLinks(links: Readonly<Record<NodeId, LinkSettings>>): void;
  /** pause blocks the worker's event loop for `ms` (a process pause), starting just after this call returns. */
  pause(ms: number): void;
  /** stop halts the node, lets in-flight writes finish, closes storage and ports, and ends the worker. */
  stop(): Promise<void>;
  /** kill makes the worker die the given way, just after this call returns. */
  kill(how: Exclude<KillMode, 'terminate'>): void;
  /**
   * attachClientPort serves one more client port (client-endpoint.ts) as the
   * main one, once the node has booted: KV requests from a client in another thread.
   */
  attachClientPort(port: MessagePort): Promise<void>;
  /** usage reports the worker's event-loop time and heap ({@link NodeUsage}). */
  usage(): NodeUsage;
  /** sendRaw posts `payload` to `to` as is, bypassing codec and link (tests of wire validation). */
  sendRaw(to: NodeId, payload: unknown): void;
}

/** exposeControl serves `api` on `port` (worker side). */
export function exposeControl(api: ControlApi, port: MessagePort): void {
  expose(api, nodeEndpoint(port));
}

/** ControlTimeoutError: a control call got no answer in time; the worker may still carry it out. */
export class ControlTimeoutError extends Error {
  constructor(
    readonly node: string,
    readonly method: string,
    readonly timeoutMs: number,
  ) {
    super(
      `control call ${method}() to ${node} got no answer within ${timeoutMs} ms (the worker is busy, paused or hung); it may still take effect`,
    );
    this.name = 'ControlTimeoutError';
  }
}

/** WorkerExitedError: the worker ended (or was not running), so a control call can never be answered. */
export class WorkerExitedError extends Error {
  constructor(
    readonly node: string,
    detail: string,
  ) {
    super(`${node}: ${detail}`);
    this.name = 'WorkerExitedError';
  }
}

type Fn = (...args: never[]) => unknown;
type MethodOf<T> = { [K in keyof T]: T[K] extends Fn ? K : never }[keyof T] & string;
type Args<T, K extends keyof T> = T[K] extends (...args: infer A) => unknown ? A : never;
type Result<T, K extends keyof T> = T[K] extends (...args: never[]) => infer R ? Awaited<R> : never;

/** ControlClientOptions configures a {@link ControlClient}. */
export interface ControlClientOptions {
  /** Names the worker in errors. */
  readonly name: string;
  /** Default timeout of every call, in ms. */
  readonly timeoutMs: number;
}

/**
 * ControlClient is the main thread's end of a worker's control plane: comlink
 * calls with what comlink lacks, a timeout on every call and every pending call
 * rejected when the worker exits ({@link close}), so that no caller waits
 * forever on a dead worker.
 */
export class ControlClient<T extends object> {
  private readonly remote: Remote<T>;
  private readonly pending = new Set<{ reject(e: Error): void; timer: ReturnType<typeof setTimeout> }>();
  private closedWith: Error | null = null;

  constructor(
    private readonly port: MessagePort,
    private readonly options: ControlClientOptions,
  ) {
    this.remote = wrap<T>(nodeEndpoint(port));
  }

  /** pendingCalls is the number of calls awaiting an answer. */
  get pendingCalls(): number {
    return this.pending.size;
  }

  /** closed tells whether {@link close} was called. */
  get closed(): boolean {
    return this.closedWith !== null;
  }

  /** call invokes `method` on the worker; it rejects on timeout and when the worker exits. */
  call<K extends MethodOf<T>>(
    method: K,
    args: Args<T, K>,
    options: { readonly timeoutMs?: number } = {},
  ): Promise<Result<T, K>> {
    if (this.closedWith !== null) return Promise.reject(this.closedWith);
    const timeoutMs = options.timeoutMs ?? this.options.timeoutMs;
    return new Promise<Result<T, K>>((resolve, reject) => {
      const entry = {
        reject: (e: Error) => {
          clearTimeout(entry.timer);
          this.pending.delete(entry);
          reject(e);
        },
        timer: setTimeout(() => {
          entry.reject(new ControlTimeoutError(this.options.name, method, timeoutMs));
        }, timeoutMs),
      };
      this.pending.add(entry);
      const fn = this.remote[method as keyof Remote<T>] as unknown as (...a: unknown[]) => Promise<unknown>;
      fn(...(args as unknown[])).then(
        (value) => {
          if (!this.pending.has(entry)) return;
          clearTimeout(entry.timer);
          this.pending.delete(entry);
          resolve(value as Result<T, K>);
        },
        (err: unknown) => {
          if (this.pending.has(entry)) entry.reject(err instanceof Error ? err : new Error(String(err)));
        },
      );
    });
  }

  /** close rejects every pending and future call with `error` and closes the port. */
  close(error: Error): void {
    if (this.closedWith !== null) return;
    this.closedWith = error;
    for (const entry of [...this.pending]) entry.reject(error);
    this.port.removeAllListeners('message');
    this.port.close();
  }
}
