import {
  EMPTY_HARD_STATE,
  type Entry,
  type HardState,
  type NodeId,
  type PersistedState,
  type Snapshot,
} from '@xraft/core';
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
  /** A snapshot this write stored, if any: taken by the node, or installed from the leader (§7). */
  readonly snapshot?: Snapshot | null;
}

/**
 * SnapshotWrite is what a write does with snapshots (§7), before its hard
 * state and entries: `install` one from the leader (it replaces the log up to
 * its index, keeping the entries after it only if the log holds its last
 * entry), or `save` one the node took and then `compactTo` an index.
 */
export interface SnapshotWrite {
  readonly install?: Snapshot;
  readonly save?: Snapshot;
  readonly compactTo?: number;
}

interface PendingWrite {
  readonly hardState: HardState | null;
  readonly entries: readonly Entry[];
  readonly snapshots: SnapshotWrite | null;
  readonly onDurable: () => void;
  task: Task | null;
}

/**
 * Disk is one node's simulated stable storage: its hard state, log and
 * latest snapshot (Figure 2 "persistent state", §7). A write is one Ready's
 * `hardState` and `entries` (or a snapshot to store and a compaction),
 * applied atomically after a random fsync delay; writes complete
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
  /** log[i] has index compacted.index + 1 + i. */
  private log: Entry[] = [];
  /** The compaction point (§7): the last entry compacted away (index 0: none). */
  private compacted = { index: 0, term: 0 };
  /** The latest snapshot stored. Invariant: it covers the compaction point. */
  private snap: Snapshot | null = null;
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

  /** lastIndex is the index of the last durable entry (the compaction point when none is held). */
  lastIndex(): number {
    return this.compacted.index + this.log.length;
  }

  /** entry returns the durable entry at `index`, if any (none once compacted). */
  entry(index: number): Entry | undefined {
    return this.log[index - this.compacted.index - 1];
  }

  /** compactedIndex is the compaction point (§7): the last entry compacted away (0: none). */
  compactedIndex(): number {
    return this.compacted.index;
  }

  /** snapshot is the latest durable snapshot, if any. */
  get snapshot(): Snapshot | null {
    return this.snap;
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
  write(
    hardState: HardState | null,
    entries: readonly Entry[],
    onDurable: () => void,
    snapshots: SnapshotWrite | null = null,
  ): void {
    const w: PendingWrite = { hardState, entries, snapshots, onDurable, task: null };
    const empty = hardState === null && entries.length === 0 && snapshots === null;
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

  /**
   * persisted is what a restarting server reads back (a copy of the log
   * array; entries are shared): the host restores its state machine from the
   * latest snapshot, so it has applied up to the snapshot's index.
   */
  persisted(): PersistedState {
    const snap = this.snap;
    return {
      hardState: this.hs,
      entries: this.log.slice(),
      applied: snap?.meta.index ?? 0,
      ...(this.compacted.index > 0 ? { snapshot: { ...this.compacted } } : {}),
      ...(snap !== null ? { latestSnapshot: snap } : {}),
    };
  }

  /** entries is the durable log (read-only view). */
  entries(): readonly Entry[] {
    return this.log;
  }

  private complete(w: PendingWrite): void {
    const head = this.queue.shift();
    if (head !== w) throw new Error(`disk of ${this.owner}: writes completed out of order`);
    const previous = this.hs;
    const snapshot = this.storeSnapshots(w.snapshots);
    let overwritten: readonly Entry[] = [];
    const first = w.entries[0];
    if (first !== undefined) {
      const base = this.compacted.index;
      if (first.index <= base || first.index > this.lastIndex() + 1) {
        const why = first.index <= base ? `compacted up to ${base}` : 'a hole';
        throw new Error(
          `disk of ${this.owner}: batch starts at entry ${first.index} but the durable log ends at ${this.lastIndex()} (${why})`,
        );
      }
      overwritten = this.log.splice(first.index - base - 1);
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
    this.observer?.({ previous, hardState: w.hardState, entries: w.entries, overwritten, snapshot });
    w.onDurable();
  }

  /** storeSnapshots carries out a write's snapshot part; returns the snapshot stored, if any. */
  private storeSnapshots(op: SnapshotWrite | null): Snapshot | null {
    if (op === null) return null;
    const install = op.install;
    if (install !== undefined) {
      const { index, term } = install.meta;
      if (index <= this.compacted.index) {
        throw new Error(
          `disk of ${this.owner}: snapshot at ${index} installed over the compaction point ${this.compacted.index}`,
        );
      }
      const held = index === this.compacted.index ? this.compacted.term : this.entry(index)?.term;
      this.log = held === term ? this.log.slice(index - this.compacted.index) : [];
      this.compacted = { index, term };
      this.snap = install;
      return install;
    }
    if (op.save !== undefined && op.save.meta.index > (this.snap?.meta.index ?? 0)) this.snap = op.save;
    const to = Math.min(op.compactTo ?? 0, this.snap?.meta.index ?? 0, this.lastIndex());
    if (to > this.compacted.index) {
      const term = this.entry(to)!.term;
      this.log = this.log.slice(to - this.compacted.index);
      this.compacted = { index: to, term };
    }
    return op.save ?? null;
  }
}
