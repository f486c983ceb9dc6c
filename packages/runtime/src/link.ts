import type { MessagePort } from 'node:worker_threads';
import type { Message, NodeId, Random } from '@xraft/core';
import { estimateBytes, type PeerEnvelope, raftBatch } from './wire.js';

/**
 * LinkSettings are the network conditions of one directed link, applied by the
 * sending worker (DESIGN.md "Fault injection lives in each link"). Raft must
 * stay safe under all of them and live once they let a majority talk (§5.6).
 */
export interface LinkSettings {
  /** False: every message is lost (a partition or a disconnected node). */
  readonly up: boolean;
  /** Probability in [0, 1] that a message is lost, drawn per message. */
  readonly dropRate: number;
  /** Each batch is delayed by a uniform draw from [min, max] ms; FIFO order is kept. */
  readonly delayMs: readonly [number, number];
  /** Probability in [0, 1] that a batch takes a random extra delay and may overtake or be overtaken. */
  readonly reorder: number;
}

/** RELIABLE_LINK is a link that is up and delivers every message at once, in order. */
export const RELIABLE_LINK: LinkSettings = Object.freeze({
  up: true,
  dropRate: 0,
  delayMs: Object.freeze([0, 0]) as readonly [number, number],
  reorder: 0,
});

/** checkLinkSettings rejects settings out of range with a message saying what to pass instead. */
export function checkLinkSettings(s: LinkSettings): LinkSettings {
  const fail = (what: string): never => {
    throw new RangeError(`invalid network settings: ${what}`);
  };
  if (typeof s.up !== 'boolean') fail(`up must be a boolean, got ${String(s.up)}`);
  if (!(typeof s.dropRate === 'number' && s.dropRate >= 0 && s.dropRate <= 1)) {
    fail(`dropRate must be a number in [0, 1], got ${String(s.dropRate)}`);
  }
  const [min, max] = Array.isArray(s.delayMs) ? s.delayMs : [Number.NaN, Number.NaN];
  if (!(s.delayMs.length === 2 && Number.isFinite(min) && Number.isFinite(max) && min >= 0 && min <= max)) {
    fail(`delayMs must be [min, max] with 0 <= min <= max, got ${JSON.stringify(s.delayMs)}`);
  }
  if (!(typeof s.reorder === 'number' && s.reorder >= 0 && s.reorder <= 1)) {
    fail(`reorder must be a number in [0, 1] (or a boolean), got ${String(s.reorder)}`);
  }
  return s;
}

/** LinkCounters is where a link records what it sent and dropped (the node's shared counters). */
export interface LinkCounters {
  /** `messages` RPCs of about `bytes` serialized bytes were posted on the port. */
  sent(messages: number, bytes: number): void;
  /** `messages` RPCs were lost to the link's settings (down or dropped). */
  dropped(messages: number): void;
}

/** The longest extra delay of a reordered batch when the link has no delay of its own, in ms. */
const MIN_REORDER_SPREAD_MS = 10;

interface Queued {
  readonly at: number;
  readonly envelope: PeerEnvelope;
  readonly count: number;
}

/**
 * Link is the sending side of one directed node-to-node link: it decides the
 * fate of each batch (drop, delay, reorder) and posts survivors on the current
 * port to the peer. The port is swapped when the peer restarts; the settings
 * stay.
 */
export class Link {
  settings: LinkSettings = RELIABLE_LINK;
  private port: MessagePort | null = null;
  /** Delayed in-order batches, by non-decreasing delivery time. */
  private readonly queue: Queued[] = [];
  private queueTimer: ReturnType<typeof setTimeout> | null = null;
  /** Last scheduled in-order delivery time: later batches never go before it (FIFO). */
  private lastAt = 0;
  /** Timers of reordered batches. */
  private readonly strays = new Set<ReturnType<typeof setTimeout>>();

  constructor(
    readonly from: NodeId,
    readonly to: NodeId,
    private readonly random: Random,
    private readonly counters: LinkCounters,
  ) {}

  /** setPort installs the port to the peer's current incarnation (null: none yet). */
  setPort(port: MessagePort | null): void {
    this.port = port;
  }

  /** configure replaces the link's settings; batches already delayed keep their delivery time. */
  configure(settings: LinkSettings): void {
    this.settings = checkLinkSettings(settings);
  }

  /** send puts one batch of RPCs for the peer on the link. */
  send(messages: readonly Message[]): void {
    const s = this.settings;
    if (!s.up) {
      this.counters.dropped(messages.length);
      return;
    }
    let kept = messages;
    if (s.dropRate > 0) {
      kept = messages.filter(() => this.random() >= s.dropRate);
      if (kept.length < messages.length) this.counters.dropped(messages.length - kept.length);
      if (kept.length === 0) return;
    }
    const envelope = raftBatch(this.from, kept);
    const [min, max] = s.delayMs;
    const delay = max > 0 ? min + this.random() * (max - min) : 0;
    if (s.reorder > 0 && this.random() < s.reorder) {
      const extra = this.random() * Math.max(2 * max, MIN_REORDER_SPREAD_MS);
      const timer = setTimeout(() => {
        this.strays.delete(timer);
        this.post(envelope, kept.length);
      }, delay + extra);
      this.strays.add(timer);
      return;
    }
    const now = performance.now();
    const at = Math.max(now + delay, this.lastAt);
    this.lastAt = at;
    if (at <= now && this.queue.length === 0) {
      this.post(envelope, kept.length);
      return;
    }
    this.queue.push({ at, envelope, count: kept.length });
    if (this.queueTimer === null) this.arm();
  }

  /** close cancels every delayed batch; the link sends nothing more. */
  close(): void {
    if (this.queueTimer !== null) clearTimeout(this.queueTimer);
    this.queueTimer = null;
    this.queue.length = 0;
    for (const t of this.strays) clearTimeout(t);
    this.strays.clear();
    this.port = null;
  }

  private arm(): void {
    const head = this.queue[0];
    if (head === undefined) return;
    this.queueTimer = setTimeout(
      () => {
        this.queueTimer = null;
        const now = performance.now();
        while (this.queue.length > 0 && this.queue[0]!.at <= now + 0.5) {
          const q = this.queue.shift()!;
          this.post(q.envelope, q.count);
        }
        this.arm();
      },
      Math.max(0, head.at - performance.now()),
    );
  }

  private post(envelope: PeerEnvelope, count: number): void {
    if (this.port === null) {
      this.counters.dropped(count);
      return;
    }
    this.port.postMessage(envelope);
    this.counters.sent(count, estimateBytes(envelope.messages));
  }
}
