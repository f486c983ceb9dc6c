import type { Message, NodeId } from '@xraft/core';
import type { Rng } from './rng.js';
import type { Scheduler } from './scheduler.js';
import type { SimEvent } from './trace.js';

/**
 * NetworkConditions is the weather of the simulated network. Raft assumes an
 * asynchronous network that may lose, duplicate, delay and reorder messages
 * (§5.1, §5.5); every one of those is a knob here. Reordering comes from
 * independent random delays per message; spikes hold a message back long
 * enough to arrive after the election or the log suffix it was about has moved on.
 */
export interface NetworkConditions {
  /** Probability that a message is lost. */
  readonly dropRate: number;
  /** Probability that a message is delivered twice (each copy with its own delay). */
  readonly duplicateRate: number;
  /** One-way delay range in virtual milliseconds, drawn uniformly per message. */
  readonly delayMs: readonly [number, number];
  /** Probability that a message is held back by a delay spike instead. */
  readonly spikeRate: number;
  /** Range of a spike delay in virtual milliseconds. */
  readonly spikeMs: readonly [number, number];
}

/** RELIABLE_NETWORK is a calm network: no loss, no duplicates, 1–5 ms of delay. */
export const RELIABLE_NETWORK: NetworkConditions = Object.freeze({
  dropRate: 0,
  duplicateRate: 0,
  delayMs: [1, 5] as const,
  spikeRate: 0,
  spikeMs: [0, 0] as const,
});

/** NetworkStats counts what the network did. */
export interface NetworkStats {
  sent: number;
  delivered: number;
  dropped: number;
  duplicated: number;
}

/**
 * Network is the simulated network between the nodes of one cluster: every
 * message becomes a scheduler task at its arrival time, owned by the
 * receiver (so it waits while the receiver is paused). Each direction of each
 * link can be cut independently; a partition cuts every link between groups.
 * A link that is down when a message is sent, or when it would arrive, loses it.
 * Messages to a node that is down when they arrive are lost too; a restarted
 * node receives whatever was still in flight to it.
 */
export class Network {
  conditions: NetworkConditions;
  readonly stats: NetworkStats = { sent: 0, delivered: 0, dropped: 0, duplicated: 0 };
  /** What the network did to client messages ({@link carry}), apart from Raft's. */
  readonly clientStats: NetworkStats = { sent: 0, delivered: 0, dropped: 0, duplicated: 0 };
  private readonly index = new Map<NodeId, number>();
  /** blocked[from * n + to] is 1 when the link from → to is down. */
  private readonly blocked: Uint8Array;

  constructor(
    readonly ids: readonly NodeId[],
    private readonly scheduler: Scheduler,
    private readonly rng: Rng,
    /** Hands an arrived message to its receiver. */
    private readonly deliver: (m: Message) => void,
    conditions: NetworkConditions = RELIABLE_NETWORK,
    private readonly record?: (e: SimEvent) => void,
  ) {
    ids.forEach((id, i) => {
      this.index.set(id, i);
    });
    this.blocked = new Uint8Array(ids.length * ids.length);
    this.conditions = conditions;
  }

  /** send puts a message on the wire: it may be lost, duplicated, delayed and reordered. */
  send(m: Message): void {
    this.stats.sent++;
    const c = this.conditions;
    if (!this.isUp(m.from, m.to)) {
      this.drop(m, 'link down');
      return;
    }
    if (this.rng.chance(c.dropRate)) {
      this.drop(m, 'loss');
      return;
    }
    this.schedule(m);
    if (this.rng.chance(c.duplicateRate)) {
      this.stats.duplicated++;
      this.schedule(m);
    }
  }

  /**
   * carry puts one client message on the wire (a KV request or reply,
   * kv-workload.ts): under the same weather as Raft's messages, it may be lost,
   * duplicated, delayed and reordered; `arrive` runs at each arrival, as a task
   * of `owner` (the receiving server: it waits while that server is paused;
   * null for a client). Partitions and cut links are between servers: clients
   * sit beside the cluster and keep reaching every server, as Jepsen's do, so
   * they go on talking to a leader cut off from its followers. Returns the
   * number of copies on their way: 0 (lost), 1, or 2 (duplicated).
   */
  carry(arrive: () => void, owner: NodeId | null): number {
    const c = this.conditions;
    const s = this.clientStats;
    s.sent++;
    if (this.rng.chance(c.dropRate)) {
      s.dropped++;
      return 0;
    }
    const copies = this.rng.chance(c.duplicateRate) ? 2 : 1;
    if (copies === 2) s.duplicated++;
    for (let i = 0; i < copies; i++) {
      this.scheduler.after(
        this.rng.chance(c.spikeRate)
          ? this.rng.float(c.spikeMs[0], c.spikeMs[1])
          : this.rng.float(c.delayMs[0], c.delayMs[1]),
        () => {
          s.delivered++;
          arrive();
        },
        owner,
      );
    }
    return copies;
  }

  /** isUp tells whether messages from `from` can currently reach `to`. */
  isUp(from: NodeId, to: NodeId): boolean {
    return this.blocked[this.slot(from, to)] === 0;
  }

  /** setLink brings one direction of a link up or down. */
  setLink(from: NodeId, to: NodeId, up: boolean): void {
    this.blocked[this.slot(from, to)] = up ? 0 : 1;
  }

  /**
   * partition splits the cluster: nodes in different groups cannot reach each
   * other in either direction; nodes in no group are cut off from everyone.
   */
  partition(groups: readonly (readonly NodeId[])[]): void {
    const group = new Map<NodeId, number>();
    groups.forEach((g, i) => {
      for (const id of g) group.set(id, i);
    });
    for (const a of this.ids) {
      for (const b of this.ids) {
        if (a === b) continue;
        const ga = group.get(a);
        this.setLink(a, b, ga !== undefined && ga === group.get(b));
      }
    }
  }

  /** heal brings every link up. */
  heal(): void {
    this.blocked.fill(0);
  }

  /** isHealed tells whether every link is up. */
  isHealed(): boolean {
    return this.blocked.every((b) => b === 0);
  }

  private schedule(m: Message): void {
    const c = this.conditions;
    const delay = this.rng.chance(c.spikeRate)
      ? this.rng.float(c.spikeMs[0], c.spikeMs[1])
      : this.rng.float(c.delayMs[0], c.delayMs[1]);
    this.scheduler.after(
      delay,
      () => {
        if (!this.isUp(m.from, m.to)) {
          this.drop(m, 'link down');
          return;
        }
        this.stats.delivered++;
        this.deliver(m);
      },
      m.to,
    );
  }

  private drop(m: Message, reason: 'link down' | 'loss'): void {
    this.stats.dropped++;
    this.record?.({ kind: 'drop', time: this.scheduler.now, node: m.to, message: m, reason });
  }

  private slot(from: NodeId, to: NodeId): number {
    const a = this.index.get(from);
    const b = this.index.get(to);
    if (a === undefined || b === undefined) throw new RangeError(`unknown link ${from} → ${to}`);
    return a * this.ids.length + b;
  }
}
