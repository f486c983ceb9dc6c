import { EMPTY_HARD_STATE, type Entry, type HardState, type NodeId, type PersistedState } from '@xraft/core';
import type { Rng } from './rng.js';
import type { Scheduler, Task } from './scheduler.js';

/**
 * DiskConditions is how slow a node's stable storage is. The longer a write
 * takes, the wider the window in which a crash lands between a Ready being
 * handed out and its contents being durable.
 */
export interface DiskConditions {
  /** Time for one write + fsync, in virtual milliseconds, drawn uniformly per write. */
  readonly fsyncMs: readonly [number, number];
  /** Probability that a write stalls (a full device queue, a slow fsync). */
  readonly stallRate: number;
  /** Range of a stall in virtual milliseconds. */
  readonly stallMs: readonly [number, number];
}

/** FAST_DISK is a healthy SSD: 0.1–1 ms per fsync, no stalls. */
export const FAST_DISK: DiskConditions = Object.freeze({
  fsyncMs: [0.1, 1] as const,
  stallRate: 0,
  stallMs: [0, 0] as const,
});

/** DurableWrite is one Ready's batch as it becomes durable: what the monitors get to see. */
export interface DurableWrite {
  /** The hard state before this write. */
  readonly previous: HardState;
  readonly hardState: HardState | null;
  readonly entries: readonly Entry[];
  /** Entries of the durable log that this write replaced (a truncated suffix). */
  readonly overwritten: readonly Entry[];
}

interface PendingWrite {
  readonly hardState: HardState | null;
  readonly entries: readonly Entry[];
  readonly onDurable: () => void;
  task: Task | null;
}

/**
 * Disk is one node's simulated stable storage: its hard state and log
 * (Figure 2 "persistent state"). A write is one Ready's `hardState` and
 * `entries`, applied atomically after a random fsync delay; writes complete
 * in the order they were issued. A crash discards every write that has not
 * completed: exactly the state a real server loses when it dies before fsync
 * returns. Entry objects are stored as they are (they are immutable), so the
 * monitors can compare entries by identity.
 */
export class Disk {
  conditions: DiskConditions;
  /** Writes made durable since the start. */
  writes = 0;
  private hs: HardState = EMPTY_HARD_STATE;
  /** log[i] has index i + 1 (no snapshots). */
  private readonly log: Entry[] = [];
  private readonly queue: PendingWrite[] = [];
  /** Completion time of the last write queued. Invariant: completions are FIFO. */
  private lastDone = 0;

  constructor(
    readonly owner: NodeId,
    private readonly scheduler: Scheduler,
    private readonly rng: Rng,
    conditions: DiskConditions = FAST_DISK,
    /** Called as each write becomes durable, before its `onDurable`. */
    private readonly observer?: (w: DurableWrite) => void,
  ) {
    this.conditions = conditions;
  }

  /** hardState is the durable hard state. */
  get hardState(): HardState {
    return this.hs;
  }

  /** lastIndex is the index of the last durable entry. */
  lastIndex(): number {
    return this.log.length;
  }

  /** entry returns the durable entry at `index`, if any. */
  entry(index: number): Entry | undefined {
    return this.log[index - 1];
  }

  /** pendingWrites is the number of writes issued but not yet durable. */
  pendingWrites(): number {
    return this.queue.length;
  }

  /** pendingEntries is the number of entries in writes not yet durable. */
  pendingEntries(): number {
    let n = 0;
    for (const w of this.queue) n += w.entries.length;
    return n;
  }

  /**
   * write issues one atomic batch; `onDurable` runs once it and every earlier
   * batch are durable. A batch with nothing to persist and nothing ahead of it
   * completes at once (synchronously).
   */
  write(hardState: HardState | null, entries: readonly Entry[], onDurable: () => void): void {
    const w: PendingWrite = { hardState, entries, onDurable, task: null };
    const empty = hardState === null && entries.length === 0;
    if (empty && this.queue.length === 0) {
      onDurable();
      return;
    }
    const now = this.scheduler.now;
    let done = this.lastDone;
    if (!empty) {
      const c = this.conditions;
      const delay = this.rng.chance(c.stallRate)
        ? this.rng.float(c.stallMs[0], c.stallMs[1])
        : this.rng.float(c.fsyncMs[0], c.fsyncMs[1]);
      done = Math.max(done, now + delay);
    }
    this.lastDone = done = Math.max(done, now);
    this.queue.push(w);
    w.task = this.scheduler.at(done, () => this.complete(w), this.owner);
  }

  /** crash discards every write not yet durable; returns what was lost. */
  crash(): { lostWrites: number; lostEntries: number } {
    const lost = { lostWrites: this.queue.length, lostEntries: this.pendingEntries() };
    for (const w of this.queue) if (w.task) this.scheduler.cancel(w.task);
    this.queue.length = 0;
    this.lastDone = this.scheduler.now;
    return lost;
  }

  /** persisted is what a restarting server reads back (a copy of the log array; entries are shared). */
  persisted(): PersistedState {
    return { hardState: this.hs, entries: this.log.slice(), applied: 0 };
  }

  /** entries is the durable log (read-only view). */
  entries(): readonly Entry[] {
    return this.log;
  }

  private complete(w: PendingWrite): void {
    const head = this.queue.shift();
    if (head !== w) throw new Error(`disk of ${this.owner}: writes completed out of order`);
    const previous = this.hs;
    let overwritten: readonly Entry[] = [];
    const first = w.entries[0];
    if (first !== undefined) {
      if (first.index < 1 || first.index > this.log.length + 1) {
        throw new Error(
          `disk of ${this.owner}: batch starts at entry ${first.index} but the durable log ends at ${this.log.length} (a hole)`,
        );
      }
      overwritten = this.log.splice(first.index - 1);
      for (let i = 0; i < w.entries.length; i++) {
        const e = w.entries[i]!;
        if (e.index !== first.index + i) {
          throw new Error(`disk of ${this.owner}: batch is not contiguous at entry ${first.index + i}`);
        }
        this.log.push(e);
      }
    }
    if (w.hardState) this.hs = w.hardState;
    this.writes++;
    this.observer?.({ previous, hardState: w.hardState, entries: w.entries, overwritten });
    w.onDurable();
  }
}
