import type { NodeId, ProposeResult, ReadMode } from '@xraft/core';
import type { NodeHost } from './host.js';
import type { ClientRead } from './reads.js';
import type { Rng } from './rng.js';
import type { Scheduler, Task } from './scheduler.js';
import type { SimEvent } from './trace.js';

const encoder = new TextEncoder();
const decoder = new TextDecoder();

/** WorkloadOptions shapes the client traffic. */
export interface WorkloadOptions {
  /** Mean virtual time between two client requests (a Poisson process); Infinity for none. */
  readonly meanIntervalMs: number;
  /** Largest batch of commands in one request. */
  readonly maxBatch: number;
  /** Attempts per request when the chosen server is not the leader (following its hint). */
  readonly maxAttempts: number;
  /** Mean virtual time between two client reads (a Poisson process); Infinity for none. */
  readonly readIntervalMs: number;
  /** Share of reads sent in `lease` mode (thesis §6.4.1); the others are `safe` ReadIndex reads. */
  readonly leaseShare: number;
}

/**
 * DEFAULT_WORKLOAD: a request every 50 ms on average, batches of up to 4, 3
 * attempts; a read every 300 ms on average, half of them lease reads.
 */
export const DEFAULT_WORKLOAD: WorkloadOptions = Object.freeze({
  meanIntervalMs: 50,
  maxBatch: 4,
  maxAttempts: 3,
  readIntervalMs: 300,
  leaseShare: 0.5,
});

/** ReadClient connects the workload's reads to the servers, through the simulation and its read monitor. */
export interface ReadClient {
  /** The randomness of read traffic: its own stream, so that reads do not shift the draws of writes. */
  readonly rng: Rng;
  /** A read reached `host`, which is running: hand it over. */
  take(host: NodeHost, read: ClientRead): void;
}

/** payloadText decodes a command of the simulated workload (`c42`) for display. */
export function payloadText(data: Uint8Array): string {
  return data.byteLength === 0 ? '(empty)' : decoder.decode(data);
}

/**
 * Workload plays the clients: at random times it submits batches of unique
 * commands (`c1`, `c2`, …) to a server, the one it believes leads most of the
 * time. A server that is not the leader refuses (Raft's Start() returns
 * isLeader false) and the client tries the leader it named. Accepted commands
 * are never resubmitted, so each command commits at most once and at exactly
 * the place its leader gave it, which the monitors check.
 *
 * With a {@link ReadClient}, clients also read, at random times: 70% of the
 * reads go to the server they believe leads, the others to any server (a
 * follower refuses them); `leaseShare` of them in `lease` mode. A read that
 * finds its server down is lost, as a client's request to a dead process.
 */
export class Workload {
  requests = 0;
  accepted = 0;
  rejected = 0;
  /** Reads sent, and those that found their server down. */
  reads = 0;
  readsLost = 0;
  private counter = 0;
  private guess: NodeId | null = null;
  private next: Task | null = null;
  private nextRead: Task | null = null;
  private running = false;

  constructor(
    private readonly hosts: ReadonlyMap<NodeId, NodeHost>,
    private readonly scheduler: Scheduler,
    private readonly rng: Rng,
    private readonly options: WorkloadOptions,
    private readonly onAccepted: (
      host: NodeHost,
      commands: readonly Uint8Array[],
      result: ProposeResult,
    ) => void,
    private readonly record?: (e: SimEvent) => void,
    private readonly reader?: ReadClient,
  ) {}

  /** start begins submitting requests. */
  start(): void {
    if (this.running) return;
    this.running = true;
    this.scheduleNext();
    this.scheduleNextRead();
  }

  /** stop submits no new requests (requests already on their way still arrive). */
  stop(): void {
    this.running = false;
    if (this.next) this.scheduler.cancel(this.next);
    if (this.nextRead) this.scheduler.cancel(this.nextRead);
    this.next = this.nextRead = null;
  }

  /**
   * read sends a read to one server after a small client-to-server delay; the
   * request waits while that server is paused, and is lost if it is down.
   */
  read(to: NodeId, mode: ReadMode): void {
    const reader = this.reader;
    const host = this.hosts.get(to);
    if (reader === undefined) throw new Error('this workload has no ReadClient');
    if (host === undefined) throw new RangeError(`unknown server ${to}`);
    const read: ClientRead = { ctx: this.nextReadCtx(), mode, issuedAt: this.scheduler.now };
    this.scheduler.after(
      reader.rng.float(0.2, 2),
      () => {
        if (host.alive) reader.take(host, read);
        else this.readsLost++;
      },
      to,
    );
  }

  /**
   * nextReadCtx numbers a new read, unique in the run (the ReadIndex `ctx`),
   * and counts it as sent: the KV workload's gets take their numbers here too.
   */
  nextReadCtx(): number {
    return ++this.reads;
  }

  /** command makes a fresh unique command. */
  command(): Uint8Array {
    return encoder.encode(`c${++this.counter}`);
  }

  /**
   * submit sends commands to one server after a small client-to-server delay;
   * the request waits while that server is paused. `done` gets the outcome
   * (null when the server was down).
   */
  submit(to: NodeId, commands: readonly Uint8Array[], done?: (r: ProposeResult | null) => void): void {
    const host = this.hosts.get(to);
    if (host === undefined) throw new RangeError(`unknown server ${to}`);
    this.scheduler.after(
      this.rng.float(0.2, 2),
      () => {
        this.requests++;
        const result = host.propose(commands);
        const accepted = result?.isLeader === true;
        if (result !== null) {
          this.record?.({
            kind: 'propose',
            time: this.scheduler.now,
            node: to,
            payload: commands.map(payloadText).join(','),
            accepted,
            index: result.index,
            term: result.term,
          });
        }
        if (accepted) {
          this.accepted++;
          this.guess = to;
          this.onAccepted(host, commands, result);
        } else {
          this.rejected++;
          this.guess = result?.leaderId ?? null;
        }
        done?.(result);
      },
      to,
    );
  }

  private scheduleNext(): void {
    if (!Number.isFinite(this.options.meanIntervalMs)) return;
    this.next = this.scheduler.after(this.rng.exp(this.options.meanIntervalMs), () => {
      this.next = null;
      if (!this.running) return;
      const n = this.rng.chance(0.7) ? 1 : this.rng.int(2, this.options.maxBatch);
      const commands: Uint8Array[] = [];
      for (let i = 0; i < n; i++) commands.push(this.command());
      this.attempt(commands, 1);
      this.scheduleNext();
    });
  }

  private scheduleNextRead(): void {
    const reader = this.reader;
    if (reader === undefined || !Number.isFinite(this.options.readIntervalMs)) return;
    const rng = reader.rng;
    this.nextRead = this.scheduler.after(rng.exp(this.options.readIntervalMs), () => {
      this.nextRead = null;
      if (!this.running) return;
      const to = this.guess !== null && rng.chance(0.7) ? this.guess : rng.pick([...this.hosts.keys()]);
      this.read(to, rng.chance(this.options.leaseShare) ? 'lease' : 'safe');
      this.scheduleNextRead();
    });
  }

  private attempt(commands: readonly Uint8Array[], attempt: number): void {
    const ids = [...this.hosts.keys()];
    const to = this.guess !== null && this.rng.chance(0.9) ? this.guess : this.rng.pick(ids);
    this.submit(to, commands, (result) => {
      if (result?.isLeader) return;
      if (!this.running || attempt >= this.options.maxAttempts) return;
      this.scheduler.after(this.rng.float(1, 20), () => this.attempt(commands, attempt + 1));
    });
  }
}
