import {
  MessageChannel,
  type MessagePort,
  type ResourceLimits,
  type TransferListItem,
  Worker,
} from 'node:worker_threads';
import type { NodeId } from '@xraft/core';
import { type ControlApi, ControlClient, WorkerExitedError } from './control.js';
import type { BootFault, MainToWorker, WorkerBoot, WorkerToMain } from './protocol.js';
import { Counters, StatusCell } from './status.js';

/**
 * RestartPolicy is the supervisor's one-for-one restart strategy (Erlang/OTP
 * style): a crashed worker is restarted after an exponential backoff, unless
 * the node crashed more than `maxRestarts` times within `windowMs` (the restart
 * intensity), in which case the supervisor gives up and reports it failed.
 * Crashes during bootstrap (before READY) count like any other.
 */
export interface RestartPolicy {
  /** Most crashes tolerated within `windowMs`; one more and the node is given up on. */
  readonly maxRestarts: number;
  readonly windowMs: number;
  /** Backoff before the first restart, doubled per crash within the window, capped at the second value. */
  readonly backoffMs: readonly [number, number];
  /** A worker that has not sent READY within this time is terminated; that counts as a crash. */
  readonly bootTimeoutMs: number;
}

/** DEFAULT_RESTART_POLICY: up to 5 crashes within 10 s, backoff 50 ms doubling to 2 s, 15 s to boot. */
export const DEFAULT_RESTART_POLICY: RestartPolicy = Object.freeze({
  maxRestarts: 5,
  windowMs: 10_000,
  backoffMs: Object.freeze([50, 2_000]) as readonly [number, number],
  bootTimeoutMs: 15_000,
});

/** SupervisorEvent is what `c.on('supervisor', listener)` observes. */
export type SupervisorEvent =
  /** A worker died without being asked to; `restartInMs` is null when it will not be restarted. */
  | {
      readonly type: 'crashed';
      readonly id: NodeId;
      readonly incarnation: number;
      /** Whether it died before its READY handshake. */
      readonly during: 'boot' | 'run';
      readonly exitCode: number;
      /** The uncaught error, when the worker reported one. */
      readonly error: string | null;
      readonly restartInMs: number | null;
    }
  /** A new worker of a node finished booting (READY) after a crash (`supervisor`) or `c.restart` (`api`). */
  | {
      readonly type: 'restarted';
      readonly id: NodeId;
      readonly incarnation: number;
      readonly by: 'supervisor' | 'api';
    }
  /** The node crashed more often than the restart intensity allows: it stays down, reported failed. */
  | {
      readonly type: 'gave-up';
      readonly id: NodeId;
      readonly crashes: number;
      readonly windowMs: number;
      readonly lastError: string | null;
    };

/**
 * WorkerPhase is where a node's worker is in its life:
 * `starting` (spawned, no READY yet), `running`, `backoff` (crashed, restart
 * pending), `down` (crashed or `c.crash`ed, no restart coming), `failed`
 * (given up on), `stopped` (the cluster stopped).
 */
export type WorkerPhase = 'starting' | 'running' | 'backoff' | 'down' | 'failed' | 'stopped';

/** BootSpec is the cluster's part of an incarnation's boot data. */
export interface BootSpec {
  readonly data: Omit<WorkerBoot, 'peers' | 'control' | 'status' | 'counters' | 'pause' | 'incarnation'>;
  readonly transfer: readonly TransferListItem[];
  /** Called when the incarnation ends (e.g. to stop serving its storage port). */
  readonly release?: () => void;
}

/** SupervisorOptions configures a {@link Supervisor}. */
export interface SupervisorOptions {
  readonly ids: readonly NodeId[];
  readonly workerUrl: URL;
  readonly policy: RestartPolicy;
  readonly autoRestart: boolean;
  readonly resourceLimits?: ResourceLimits;
  /** Default timeout of control calls, in ms. */
  readonly controlTimeoutMs: number;
  /** The cluster's part of the boot data of one incarnation. */
  boot(id: NodeId, incarnation: number): BootSpec;
  /** A message from a node's current worker (READY included, after the supervisor handled it). */
  onMessage(id: NodeId, message: WorkerToMain): void;
  /** A supervisor event, after the supervisor's own bookkeeping. */
  onEvent(event: SupervisorEvent): void;
}

interface Waiter {
  resolve(): void;
  reject(error: Error): void;
}

/** Slot is the supervisor's record of one node across its incarnations. */
class Slot {
  worker: Worker | null = null;
  control: ControlClient<ControlApi> | null = null;
  status: StatusCell | null = null;
  /** Shared by every incarnation: traffic counters survive restarts. */
  readonly counters = Counters.create();
  /** [0]: the Int32 a paused worker waits on, set to 1 and notified to cut a pause short; [1]: pauses begun. */
  readonly pause = new Int32Array(new SharedArrayBuffer(8));
  phase: WorkerPhase = 'down';
  incarnation = 0;
  /** Times of recent unplanned deaths (restart intensity). */
  crashes: number[] = [];
  /** Why the current worker is being ended, if the supervisor or the API is ending it. */
  ending: 'crash' | 'restart' | 'stop' | null = null;
  /** The next READY completes a restart by this party. */
  restartBy: 'supervisor' | 'api' | null = null;
  lastError: string | null = null;
  bootFault: BootFault | undefined = undefined;
  backoffTimer: ReturnType<typeof setTimeout> | null = null;
  bootTimer: ReturnType<typeof setTimeout> | null = null;
  release: (() => void) | null = null;
  readyWaiters: Waiter[] = [];
  exitWaiters: Array<() => void> = [];

  constructor(readonly id: NodeId) {}
}

/**
 * Supervisor owns the node workers: it spawns them with their ports (one
 * `MessageChannel` per node pair, a control channel each), watches each
 * worker's `'exit'` (the one crash signal: uncaught throw, unhandled rejection,
 * `process.exit`, out of memory under `resourceLimits`, `terminate()`),
 * restarts crashed ones one-for-one under a {@link RestartPolicy}, and on
 * every (re)start builds fresh channels between the new worker and the live
 * peers, sending each peer its new end (which replaces the old one; link
 * settings stay). A worker counts as recovered when its READY arrives.
 */
export class Supervisor {
  private readonly slots = new Map<NodeId, Slot>();
  /** The main-thread ends of control channels not closed yet: stop() waits for them. */
  private readonly openPorts = new Set<MessagePort>();
  private stopping = false;

  constructor(private readonly options: SupervisorOptions) {
    for (const id of options.ids) this.slots.set(id, new Slot(id));
  }

  /** start spawns every node and resolves once all have sent READY; rejects if one is given up on. */
  async start(): Promise<void> {
    for (const slot of this.slots.values()) this.spawn(slot);
    await Promise.all([...this.slots.values()].map((s) => this.waitReady(s)));
  }

  /** phase is where `id`'s worker is in its life. */
  phase(id: NodeId): WorkerPhase {
    return this.slot(id).phase;
  }

  /** status is the status cell of `id`'s running worker, or null. */
  status(id: NodeId): StatusCell | null {
    const slot = this.slot(id);
    return slot.phase === 'running' ? slot.status : null;
  }

  /** counters are `id`'s traffic counters, summed over its incarnations. */
  counters(id: NodeId): Counters {
    return this.slot(id).counters;
  }

  /** hasWorker tells whether `id` has a worker (booting or running) that can take control calls. */
  hasWorker(id: NodeId): boolean {
    return this.slot(id).worker !== null;
  }

  /** pausesBegun counts the pauses `id`'s workers have begun (the worker bumps it as it blocks). */
  pausesBegun(id: NodeId): number {
    return Atomics.load(this.slot(id).pause, 1);
  }

  /** control is the control client of `id`'s current worker; throws if it has none. */
  control(id: NodeId): ControlClient<ControlApi> {
    const slot = this.slot(id);
    if (slot.control === null || slot.worker === null) {
      throw new WorkerExitedError(id, `not running (${slot.phase})`);
    }
    return slot.control;
  }

  /** crash terminates `id`'s worker abruptly and leaves it down (no restart), as a killed process. */
  async crash(id: NodeId): Promise<void> {
    const slot = this.slot(id);
    this.cancelBackoff(slot);
    if (slot.worker !== null) await this.end(slot, 'crash');
    else if (slot.phase === 'backoff') slot.phase = 'down';
    this.settleWaiters(slot, new WorkerExitedError(id, 'crashed by the API'));
  }

  /**
   * restart starts a new worker for `id`, which recovers from its storage,
   * ending the current one first if any; it forgets past crashes (a failed
   * node gets a fresh restart budget). Resolves on READY.
   */
  async restart(id: NodeId, bootFault?: BootFault): Promise<void> {
    const slot = this.slot(id);
    if (this.stopping) throw new Error('the cluster is stopped');
    this.cancelBackoff(slot);
    if (slot.worker !== null) await this.end(slot, 'restart');
    slot.crashes = [];
    slot.bootFault = bootFault;
    slot.restartBy = 'api';
    this.spawn(slot);
    await this.waitReady(slot);
  }

  /** terminate ends `id`'s worker with `terminate()` as someone else might: an unplanned death. */
  async terminate(id: NodeId): Promise<void> {
    const slot = this.slot(id);
    const worker = slot.worker;
    if (worker === null) throw new WorkerExitedError(id, `not running (${slot.phase})`);
    Atomics.store(slot.pause, 0, 1);
    await worker.terminate();
  }

  /** stop ends every worker: gracefully (stop call) when it answers, by `terminate()` otherwise. */
  async stop(gracefulMs = 2_000): Promise<void> {
    this.stopping = true;
    await Promise.all(
      [...this.slots.values()].map(async (slot) => {
        this.cancelBackoff(slot);
        if (slot.worker !== null) await this.end(slot, 'stop', gracefulMs);
        slot.phase = 'stopped';
        this.settleWaiters(slot, new WorkerExitedError(slot.id, 'the cluster stopped'));
      }),
    );
    // A closed port stays an active handle until its close completes: wait, so nothing is left open.
    const open = [...this.openPorts];
    const closed = open.map((port) => new Promise<void>((resolve) => port.once('close', () => resolve())));
    for (const port of open) port.close();
    await Promise.all(closed);
  }

  /** waitReady resolves when `slot`'s worker is running; rejects if it ends up down, failed or stopped. */
  private waitReady(slot: Slot): Promise<void> {
    if (slot.phase === 'running') return Promise.resolve();
    if (slot.phase === 'down' || slot.phase === 'failed' || slot.phase === 'stopped') {
      return Promise.reject(
        new WorkerExitedError(slot.id, `did not start (${slot.phase}): ${slot.lastError}`),
      );
    }
    return new Promise((resolve, reject) => slot.readyWaiters.push({ resolve, reject }));
  }

  /** giveUp marks a node failed (no more restarts), reports `gave-up` and fails whoever waits for it. */
  private giveUp(slot: Slot, reason: string): void {
    slot.phase = 'failed';
    this.options.onEvent({
      type: 'gave-up',
      id: slot.id,
      crashes: slot.crashes.length,
      windowMs: this.options.policy.windowMs,
      lastError: slot.lastError,
    });
    this.settleWaiters(slot, new WorkerExitedError(slot.id, reason));
  }

  private settleWaiters(slot: Slot, error: Error): void {
    for (const w of slot.readyWaiters.splice(0)) w.reject(error);
  }

  /** end ends `slot`'s worker for `reason` and waits for its exit. */
  private async end(slot: Slot, reason: 'crash' | 'restart' | 'stop', gracefulMs = 0): Promise<void> {
    const worker = slot.worker;
    if (worker === null) return;
    slot.ending = reason;
    // Down from now on for the API (state(), submit()), though the worker takes a moment to exit.
    if (reason === 'crash') slot.phase = 'down';
    else if (reason === 'restart') slot.phase = 'starting';
    const exited = new Promise<void>((resolve) => slot.exitWaiters.push(resolve));
    if (reason === 'stop' && slot.control !== null && gracefulMs > 0) {
      this.wakeFromPause(slot); // a paused worker answers the stop call at once
      // The worker answers, then exits by itself; past the deadline it is terminated below.
      slot.control.call('stop', [], { timeoutMs: gracefulMs }).catch(() => {});
      const deadline = new Promise<void>((resolve) => {
        const t = setTimeout(resolve, gracefulMs);
        void exited.then(() => clearTimeout(t));
      });
      await Promise.race([exited, deadline]);
    }
    if (slot.worker === worker) {
      // No pause may begin from now on; one under way is cut by terminate() itself, abruptly:
      // waking the worker first would let it run (answer calls, send messages) before it dies.
      Atomics.store(slot.pause, 0, 1);
      void worker.terminate();
    }
    await exited;
  }

  private spawn(slot: Slot): void {
    const { options } = this;
    slot.incarnation++;
    slot.phase = 'starting';
    slot.lastError = null;
    const incarnation = slot.incarnation;
    const peers: Record<NodeId, MessagePort> = {};
    const transfer: TransferListItem[] = [];
    for (const other of this.slots.values()) {
      if (other === slot || other.worker === null) continue;
      const channel = new MessageChannel();
      peers[other.id] = channel.port1;
      transfer.push(channel.port1);
      const m: MainToWorker = { kind: 'peer-port', peer: slot.id, port: channel.port2 };
      other.worker.postMessage(m, [channel.port2]);
    }
    const control = new MessageChannel();
    this.openPorts.add(control.port1);
    control.port1.once('close', () => this.openPorts.delete(control.port1));
    transfer.push(control.port2);
    const status = StatusCell.create();
    const spec = options.boot(slot.id, incarnation);
    transfer.push(...spec.transfer);
    Atomics.store(slot.pause, 0, 0);
    const boot: WorkerBoot = {
      ...spec.data,
      incarnation,
      peers,
      control: control.port2,
      status: status.buffer,
      counters: slot.counters.buffer,
      pause: slot.pause.buffer as SharedArrayBuffer,
      ...(slot.bootFault ? { bootFault: slot.bootFault } : {}),
    };
    const worker = new Worker(options.workerUrl, {
      workerData: boot,
      transferList: transfer,
      name: `xraft-${slot.id}-${incarnation}`,
      ...(options.resourceLimits ? { resourceLimits: options.resourceLimits } : {}),
    });
    slot.worker = worker;
    slot.status = status;
    slot.release = spec.release ?? null;
    slot.control = new ControlClient<ControlApi>(control.port1, {
      name: slot.id,
      timeoutMs: options.controlTimeoutMs,
    });
    slot.bootTimer = setTimeout(() => {
      slot.bootTimer = null;
      if (slot.worker !== worker) return;
      slot.lastError = `no READY within ${options.policy.bootTimeoutMs} ms`;
      void worker.terminate();
    }, options.policy.bootTimeoutMs);
    worker.on('message', (m: WorkerToMain) => {
      if (slot.worker !== worker) return;
      if (m.kind === 'ready') this.onReady(slot);
      options.onMessage(slot.id, m);
    });
    worker.on('error', (err: Error & { code?: string }) => {
      if (slot.worker !== worker) return;
      const text = err.stack ?? String(err);
      slot.lastError = err.code !== undefined && !text.includes(err.code) ? `[${err.code}] ${text}` : text;
    });
    worker.on('exit', (code) => this.onExit(slot, worker, code));
  }

  private onReady(slot: Slot): void {
    if (slot.bootTimer !== null) clearTimeout(slot.bootTimer);
    slot.bootTimer = null;
    slot.phase = 'running';
    const by = slot.restartBy;
    slot.restartBy = null;
    for (const w of slot.readyWaiters.splice(0)) w.resolve();
    if (by !== null)
      this.options.onEvent({ type: 'restarted', id: slot.id, incarnation: slot.incarnation, by });
  }

  private onExit(slot: Slot, worker: Worker, code: number): void {
    if (slot.worker !== worker) return;
    const wasStarting = slot.phase === 'starting';
    slot.worker = null;
    slot.status = null;
    if (slot.bootTimer !== null) clearTimeout(slot.bootTimer);
    slot.bootTimer = null;
    slot.control?.close(new WorkerExitedError(slot.id, `worker exited with code ${code}`));
    slot.control = null;
    slot.release?.();
    slot.release = null;
    const ending = slot.ending;
    slot.ending = null;
    for (const resolve of slot.exitWaiters.splice(0)) resolve();
    if (ending === 'stop') {
      slot.phase = 'stopped';
      return;
    }
    if (ending === 'crash') {
      slot.phase = 'down';
      return;
    }
    if (ending === 'restart') return; // restart() spawns the next incarnation.
    if (this.stopping) {
      slot.phase = 'stopped';
      return;
    }
    // An unplanned death.
    const { policy, autoRestart } = this.options;
    const now = performance.now();
    slot.crashes = slot.crashes.filter((t) => now - t < policy.windowMs);
    slot.crashes.push(now);
    const event = {
      type: 'crashed' as const,
      id: slot.id,
      incarnation: slot.incarnation,
      during: wasStarting ? ('boot' as const) : ('run' as const),
      exitCode: code,
      error: slot.lastError,
    };
    if (!autoRestart) {
      slot.phase = 'down';
      this.options.onEvent({ ...event, restartInMs: null });
      this.settleWaiters(
        slot,
        new WorkerExitedError(slot.id, `crashed: ${slot.lastError ?? `exit ${code}`}`),
      );
      return;
    }
    if (slot.crashes.length > policy.maxRestarts) {
      this.options.onEvent({ ...event, restartInMs: null });
      this.giveUp(
        slot,
        `given up after ${slot.crashes.length} crashes within ${policy.windowMs} ms; last: ${slot.lastError ?? `exit ${code}`}`,
      );
      return;
    }
    const [initial, max] = policy.backoffMs;
    const delay = Math.min(max, initial * 2 ** (slot.crashes.length - 1));
    slot.phase = 'backoff';
    slot.restartBy ??= 'supervisor';
    this.options.onEvent({ ...event, restartInMs: delay });
    slot.backoffTimer = setTimeout(() => {
      slot.backoffTimer = null;
      if (slot.phase !== 'backoff' || this.stopping) return;
      try {
        this.spawn(slot);
      } catch (err) {
        // The Worker could not even be created (e.g. its file vanished): restarting cannot help.
        slot.lastError = String(err);
        this.giveUp(slot, `cannot start a worker: ${slot.lastError}`);
      }
    }, delay);
  }

  private cancelBackoff(slot: Slot): void {
    if (slot.backoffTimer !== null) clearTimeout(slot.backoffTimer);
    slot.backoffTimer = null;
  }

  /** wakeFromPause cuts short a pause (Atomics.wait) so the worker can be ended at once. */
  private wakeFromPause(slot: Slot): void {
    Atomics.store(slot.pause, 0, 1);
    Atomics.notify(slot.pause, 0);
  }

  private slot(id: NodeId): Slot {
    const slot = this.slots.get(id);
    if (slot === undefined) {
      throw new RangeError(
        `unknown node ${JSON.stringify(id)}: the cluster has ${[...this.slots.keys()].join(', ')}`,
      );
    }
    return slot;
  }
}
