import { EMPTY_HARD_STATE, type Entry, type HardState, type PersistedState } from '@xraft/core';
import type { SnapshotMeta } from './storage.js';

/** checkSnapshotMeta throws RangeError unless a snapshot's index and term are non-negative integers. */
export function checkSnapshotMeta(op: string, meta: SnapshotMeta): void {
  const { index, term } = meta;
  if (!Number.isSafeInteger(index) || index < 0 || !Number.isSafeInteger(term) || term < 0) {
    throw new RangeError(`${op}: snapshot index ${index} and term ${term} must be non-negative integers`);
  }
}

/**
 * LogState is the in-memory image of a server's stable storage that both
 * MemoryStorage and DiskStorage keep: hard state, the log after the
 * compaction point, and that point. It owns the rules every Storage shares,
 * so the two implementations cannot drift apart: where a persist may start,
 * how a conflicting suffix is cut (§5.3), what compaction keeps (§7).
 */
export class LogState {
  hardState: HardState = EMPTY_HARD_STATE;
  /** log[i] has index offset + 1 + i. Invariant: contiguous. */
  log: Entry[] = [];
  /** Index of the last entry compacted away (0: none). */
  offset = 0;
  /** Term of the entry at `offset` (0 when offset is 0). */
  offsetTerm = 0;
  /**
   * The latest snapshot saved or installed by the calls so far, durable or
   * not: what compaction and installs go by (§7). Invariant: null or at or after `offset`.
   */
  snapshot: SnapshotMeta | null = null;

  /** lastIndex is the index of the last stored entry, or the compaction point when the log is empty. */
  get lastIndex(): number {
    return this.offset + this.log.length;
  }

  /**
   * checkPersist throws RangeError unless `entries` may be persisted now:
   * contiguous, starting after the compaction point and at most one past the
   * last stored entry.
   */
  checkPersist(entries: readonly Entry[]): void {
    const first = entries[0];
    if (first === undefined) return;
    if (first.index <= this.offset) {
      throw new RangeError(`persist: entry ${first.index} is compacted (log starts after ${this.offset})`);
    }
    if (first.index > this.lastIndex + 1) {
      throw new RangeError(`persist: entry ${first.index} leaves a gap after ${this.lastIndex}`);
    }
    for (let i = 1; i < entries.length; i++) {
      const e = entries[i]!;
      if (e.index !== first.index + i) {
        throw new RangeError(
          `persist: entries are not contiguous (entry ${first.index + i} expected, got ${e.index})`,
        );
      }
    }
  }

  /** persist applies a checked persist: cut the log at `entries[0].index`, append, replace the hard state. */
  persist(hardState: HardState | null, entries: readonly Entry[]): void {
    const first = entries[0];
    if (first !== undefined) {
      this.log.length = first.index - this.offset - 1;
      for (const e of entries) this.log.push(e);
    }
    if (hardState !== null) this.hardState = hardState;
  }

  /** entries returns stored entries [lo, hi); RangeError outside the stored log. */
  entries(lo: number, hi: number): Entry[] {
    const last = this.lastIndex;
    if (lo <= this.offset || hi > last + 1 || lo > hi) {
      throw new RangeError(`entries [${lo}, ${hi}) outside the stored log (${this.offset + 1}..${last})`);
    }
    return this.log.slice(lo - this.offset - 1, hi - this.offset - 1);
  }

  /**
   * saveSnapshot records that a snapshot ending at `meta` is being saved
   * (RangeError for a bad index or term); false, recording nothing, when it
   * is older than the latest one saved or installed (it is then ignored).
   */
  saveSnapshot(meta: SnapshotMeta): boolean {
    checkSnapshotMeta('saveSnapshot', meta);
    if (this.snapshot !== null && meta.index < this.snapshot.index) return false;
    this.snapshot = meta;
    return true;
  }

  /**
   * compactTerm returns the term the compaction point will have after
   * compact(index), checking that the latest snapshot covers `index` and that
   * the entry at `index` is known (stored, or the snapshot's own last entry).
   */
  compactTerm(index: number): number {
    const snapshot = this.snapshot;
    if (snapshot === null || snapshot.index < index) {
      throw new RangeError(`compact(${index}): no saved snapshot covers it`);
    }
    if (index === snapshot.index) return snapshot.term;
    const e = this.log[index - this.offset - 1];
    if (e === undefined) {
      throw new RangeError(
        `compact(${index}): entry ${index} is not stored (log ${this.offset + 1}..${this.lastIndex}) and is not the snapshot's last entry ${snapshot.index}`,
      );
    }
    return e.term;
  }

  /**
   * install applies a snapshot received from the leader (§7) whose last entry
   * is `snapshot` = (index, term) (RangeError for a bad index or term), unless
   * the latest snapshot saved or installed or the compaction point already
   * reaches `index`: then it returns false and changes nothing. Otherwise the
   * log becomes the stored entries after `index` if the entry at `index` has
   * `term` ("retain log entries following it"), else empty, and the snapshot
   * is the latest; the hard state is untouched.
   */
  install(snapshot: SnapshotMeta): boolean {
    checkSnapshotMeta('installSnapshot', snapshot);
    const { index, term } = snapshot;
    const stored = this.snapshot;
    if (index <= this.offset || (stored !== null && index <= stored.index)) return false;
    if (this.log[index - this.offset - 1]?.term !== term) this.log = [];
    this.compact(index, term);
    this.snapshot = snapshot;
    return true;
  }

  /** compact drops entries up to and including `index` (index > offset), recording `term` as the compaction point's term. */
  compact(index: number, term: number): void {
    const drop = Math.min(index - this.offset, this.log.length);
    this.log = this.log.slice(drop);
    this.offset = index;
    this.offsetTerm = term;
  }

  /** persisted is what load() hands the core: a copy that later writes do not change. */
  persisted(): PersistedState {
    return {
      hardState: this.hardState,
      entries: this.log.slice(),
      snapshot: { index: this.offset, term: this.offsetTerm },
    };
  }
}
