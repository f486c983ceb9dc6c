import type { Entry } from './types.js';

/**
 * RaftLog is a server's log (§5.3) with its cursors:
 *
 *   snapshotIndex <= applied <= committed <= lastIndex
 *   snapshotIndex <= stableIndex <= persistingIndex <= lastIndex
 *
 * Entries up to `stableIndex` are durable; entries in (stableIndex,
 * persistingIndex] have been handed to the host in a Ready and are being
 * written; entries after `persistingIndex` have not been handed out yet.
 * The log holds every entry after `snapshotIndex` in memory; compaction
 * (§7) bounds it.
 *
 * A host may apply a committed entry before its own write of it is durable
 * (the entry is durable on a majority, §5.3), and so snapshot past that
 * write. Compaction then waits for the write: only durable entries leave
 * the log, so `stableTo` can always check the term of the entry a write
 * speaks of, even when a new leader's entries replaced it meanwhile.
 */
export class RaftLog {
  /** entries[i] has index snapshotIndex + 1 + i. */
  private entries: Entry[] = [];
  /** Index of the last entry covered by the snapshot (0: none). */
  snapshotIndex = 0;
  /** Term of the entry at snapshotIndex (0: none). */
  snapshotTerm = 0;
  /** Highest index known to be committed (§5.3). Invariant: never decreases. */
  committed = 0;
  /** Highest index handed to the host to apply. Invariant: applied <= committed. */
  applied = 0;
  /** Highest index known durable. Invariant: snapshotIndex <= stableIndex <= persistingIndex. */
  stableIndex = 0;
  /** Highest index handed to the host to persist. */
  persistingIndex = 0;
  /**
   * Highest index a snapshot covers that the log may drop (§7); the log drops
   * entries up to it once they are durable. Invariant: snapshotIndex <= compactIndex <= applied.
   */
  private compactIndex = 0;

  /**
   * restore loads the durable log of a restarting server: every given entry is
   * already stable. After compaction (§7) the entries start just after `snapshot`.
   */
  restore(
    entries: readonly Entry[],
    commit: number,
    applied: number,
    snapshot: { readonly index: number; readonly term: number } = { index: 0, term: 0 },
  ): void {
    this.snapshotIndex = snapshot.index;
    this.snapshotTerm = snapshot.term;
    const first = entries[0];
    if (first !== undefined) {
      if (first.index !== snapshot.index + 1) {
        throw new Error(`log starts at ${first.index} but the snapshot ends at ${snapshot.index}`);
      }
      for (let i = 1; i < entries.length; i++) {
        if (entries[i]!.index !== first.index + i) {
          throw new Error(
            `log is not contiguous: entry ${first.index + i} expected, found ${entries[i]!.index}`,
          );
        }
      }
    }
    this.entries = entries.slice();
    this.compactIndex = snapshot.index;
    this.stableIndex = this.persistingIndex = this.lastIndex();
    this.committed = Math.max(this.snapshotIndex, Math.min(commit, this.lastIndex()));
    this.applied = Math.min(Math.max(applied, this.snapshotIndex), this.committed);
  }

  /** firstIndex is the index of the first entry held (snapshotIndex + 1). */
  firstIndex(): number {
    return this.snapshotIndex + 1;
  }

  /** lastIndex is the index of the last entry (snapshotIndex when empty). */
  lastIndex(): number {
    return this.snapshotIndex + this.entries.length;
  }

  /** lastTerm is the term of the last entry. */
  lastTerm(): number {
    return this.entries.length === 0 ? this.snapshotTerm : this.entries[this.entries.length - 1]!.term;
  }

  /** term returns the term of the entry at `index`, or undefined when it is not held (beyond the end or compacted). */
  term(index: number): number | undefined {
    if (index === this.snapshotIndex) return this.snapshotTerm;
    return this.entries[index - this.snapshotIndex - 1]?.term;
  }

  /** entry returns the entry at `index`, or undefined when it is not held. */
  entry(index: number): Entry | undefined {
    return this.entries[index - this.snapshotIndex - 1];
  }

  /** matchTerm tells whether the log holds an entry at `index` with `term` (the §5.3 consistency check). */
  matchTerm(index: number, term: number): boolean {
    return this.term(index) === term;
  }

  /**
   * isUpToDate is the election restriction (§5.4.1): a log ending in
   * (lastIndex, lastTerm) is at least as up-to-date as this one.
   */
  isUpToDate(lastIndex: number, lastTerm: number): boolean {
    const myTerm = this.lastTerm();
    return lastTerm > myTerm || (lastTerm === myTerm && lastIndex >= this.lastIndex());
  }

  /**
   * slice returns entries [lo, hi), stopping early once `maxBytes` of payload
   * are reached (at least one entry is returned when lo < hi).
   */
  slice(lo: number, hi: number, maxBytes = Number.POSITIVE_INFINITY): Entry[] {
    if (lo <= this.snapshotIndex)
      throw new RangeError(`entry ${lo} is compacted (snapshot at ${this.snapshotIndex})`);
    const end = Math.min(hi, this.lastIndex() + 1);
    const out: Entry[] = [];
    let bytes = 0;
    for (let i = lo; i < end; i++) {
      const e = this.entries[i - this.snapshotIndex - 1]!;
      bytes += e.data.byteLength;
      if (out.length > 0 && bytes > maxBytes) break;
      out.push(e);
    }
    return out;
  }

  /**
   * findConflictByTerm returns the largest index <= `index` whose term is <= `term`
   * (snapshotIndex when there is none held). Terms never decrease along a log, so
   * this is a binary search. It lets a rejection skip a whole term (§5.3).
   */
  findConflictByTerm(index: number, term: number): number {
    let lo = this.snapshotIndex;
    let hi = Math.min(index, this.lastIndex());
    if (hi <= lo) return hi;
    // Invariant: term(lo) <= term (or lo is the snapshot point); answer in [lo, hi].
    while (lo < hi) {
      const mid = lo + Math.ceil((hi - lo) / 2);
      if (this.term(mid)! <= term) lo = mid;
      else hi = mid - 1;
    }
    return lo;
  }

  /** append adds new entries at the end of a leader's log (Leader Append-Only, §5.3). */
  append(entries: readonly Entry[]): void {
    let expected = this.lastIndex() + 1;
    for (const e of entries) {
      if (e.index !== expected) throw new Error(`append: entry ${e.index} does not follow ${expected - 1}`);
      this.entries.push(e);
      expected++;
    }
  }

  /**
   * maybeAppend is the follower side of AppendEntries (§5.3, Figure 2 receiver
   * rules 2–4): if the log matches (prevIndex, prevTerm), delete only the first
   * conflicting entry and everything after it, append what is new, and return
   * the index of the last entry the leader sent. Returns null on a mismatch.
   * Entries that already match are kept: an old or duplicate AppendEntries must
   * never truncate a suffix the leader has since extended.
   */
  maybeAppend(prevIndex: number, prevTerm: number, entries: readonly Entry[]): number | null {
    if (!this.matchTerm(prevIndex, prevTerm)) return null;
    const lastNew = prevIndex + entries.length;
    for (let k = 0; k < entries.length; k++) {
      const e = entries[k]!;
      const mine = this.term(e.index);
      if (mine === e.term) continue;
      if (mine !== undefined) {
        if (e.index <= this.committed) {
          throw new Error(
            `entry ${e.index} conflicts with committed log (committed ${this.committed}): safety violated`,
          );
        }
        this.truncateFrom(e.index);
      }
      this.entries.push(...entries.slice(k));
      break;
    }
    return lastNew;
  }

  /** truncateFrom deletes the entry at `index` and every entry after it. */
  private truncateFrom(index: number): void {
    this.entries.length = index - this.snapshotIndex - 1;
    const last = index - 1;
    if (this.stableIndex > last) this.stableIndex = last;
    if (this.persistingIndex > last) this.persistingIndex = last;
  }

  /**
   * compact discards the entries up to and including `index`, which a
   * snapshot covers (§7): they must be applied. Entries whose write is still
   * in flight (after `stableIndex`) stay until `stableTo` reports them
   * durable. Compacting at or before an earlier compaction point does nothing.
   */
  compact(index: number): void {
    if (index <= this.compactIndex) return;
    if (index > this.applied) {
      throw new RangeError(
        `compact(${index}): only applied entries may be compacted (applied ${this.applied})`,
      );
    }
    this.compactIndex = index;
    this.compactStable();
  }

  /** compactStable drops the entries up to `compactIndex` that are durable. */
  private compactStable(): void {
    const index = Math.min(this.compactIndex, this.stableIndex);
    if (index <= this.snapshotIndex) return;
    this.snapshotTerm = this.term(index)!;
    this.entries = this.entries.slice(index - this.snapshotIndex);
    this.snapshotIndex = index;
  }

  /**
   * installSnapshot makes a snapshot received from the leader ending at
   * (index, term) the start of the log (§7, Figure 13 receiver rules 6–7): if
   * the log holds that entry, the entries after it are kept; otherwise the
   * whole log is discarded. Everything up to `index` is committed and, once
   * the host restores the snapshot, applied.
   */
  installSnapshot(index: number, term: number): void {
    if (index <= this.committed) {
      throw new RangeError(`installSnapshot(${index}): the log has committed ${this.committed} already`);
    }
    if (this.matchTerm(index, term)) {
      this.entries = this.entries.slice(index - this.snapshotIndex);
    } else {
      this.entries = [];
    }
    this.snapshotIndex = index;
    this.snapshotTerm = term;
    this.compactIndex = index;
    this.committed = index;
    this.applied = index;
    const last = this.lastIndex();
    this.stableIndex = Math.min(Math.max(this.stableIndex, index), last);
    this.persistingIndex = Math.min(Math.max(this.persistingIndex, index), last);
  }

  /** commitTo raises the commit index; it never lowers it (commit indexes only move forward). */
  commitTo(index: number): boolean {
    if (index <= this.committed) return false;
    if (index > this.lastIndex()) {
      throw new Error(`commitTo(${index}) is beyond the last index ${this.lastIndex()}`);
    }
    this.committed = index;
    return true;
  }

  /** takeUnpersisted hands out the entries not yet given to the host to persist. */
  takeUnpersisted(): Entry[] {
    const last = this.lastIndex();
    if (this.persistingIndex >= last) return [];
    const out = this.entries.slice(this.persistingIndex - this.snapshotIndex);
    this.persistingIndex = last;
    return out;
  }

  /** hasUnpersisted tells whether takeUnpersisted would return entries. */
  hasUnpersisted(): boolean {
    return this.persistingIndex < this.lastIndex();
  }

  /**
   * stableTo records that the host made entries up to `index`, the last one
   * of term `term`, durable, and drops those a snapshot covers (§7). The
   * acknowledgement is ignored if the entry there has since been replaced by
   * another leader's (a different term, §5.3): it speaks of entries the log
   * no longer holds. The term can always be checked: entries after
   * `stableIndex` are never compacted away.
   */
  stableTo(index: number, term: number): boolean {
    if (index <= this.stableIndex || this.term(index) !== term) return false;
    this.stableIndex = Math.min(index, this.persistingIndex);
    this.compactStable();
    return true;
  }

  /** takeCommitted hands out committed entries not yet applied, in order. */
  takeCommitted(): Entry[] {
    if (this.applied >= this.committed) return [];
    const out = this.entries.slice(this.applied - this.snapshotIndex, this.committed - this.snapshotIndex);
    this.applied = this.committed;
    return out;
  }

  /** hasCommitted tells whether takeCommitted would return entries. */
  hasCommitted(): boolean {
    return this.applied < this.committed;
  }
}
