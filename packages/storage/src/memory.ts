import { EMPTY_HARD_STATE, type Entry, type HardState, type PersistedState } from '@xraft/core';
import type { Snapshot, Storage } from './storage.js';

/**
 * MemoryStorage keeps a server's hard state, log and snapshot in memory: for
 * the simulator, tests and explicit in-memory benchmarks. "Durable" here means
 * surviving a restart of the Raft node object within the same process (a
 * worker restarted by the supervisor gets a fresh, empty one).
 */
export class MemoryStorage implements Storage {
  private hardState: HardState = EMPTY_HARD_STATE;
  /** log[i] has index snapshotIndex + 1 + i. */
  private log: Entry[] = [];
  private snapshot: Snapshot | null = null;
  /** Index of the last entry compacted away (0: none). */
  private offset = 0;
  private offsetTerm = 0;
  private closed = false;

  async load(): Promise<PersistedState> {
    this.check();
    return {
      hardState: this.hardState,
      entries: this.log.slice(),
      snapshot: { index: this.offset, term: this.offsetTerm },
    };
  }

  async persist(hardState: HardState | null, entries: readonly Entry[]): Promise<void> {
    this.check();
    const first = entries[0];
    if (first !== undefined) {
      const at = first.index - this.offset - 1;
      if (at < 0)
        throw new RangeError(`persist: entry ${first.index} is compacted (log starts after ${this.offset})`);
      if (at > this.log.length) {
        throw new RangeError(
          `persist: entry ${first.index} leaves a gap after ${this.offset + this.log.length}`,
        );
      }
      this.log.length = at;
      for (const e of entries) this.log.push(e);
    }
    if (hardState !== null) this.hardState = hardState;
  }

  async entries(lo: number, hi: number): Promise<Entry[]> {
    this.check();
    const last = this.offset + this.log.length;
    if (lo <= this.offset || hi > last + 1 || lo > hi) {
      throw new RangeError(`entries [${lo}, ${hi}) outside the stored log (${this.offset + 1}..${last})`);
    }
    return this.log.slice(lo - this.offset - 1, hi - this.offset - 1);
  }

  async saveSnapshot(snapshot: Snapshot): Promise<void> {
    this.check();
    if (this.snapshot === null || snapshot.meta.index >= this.snapshot.meta.index) this.snapshot = snapshot;
  }

  async loadSnapshot(): Promise<Snapshot | null> {
    this.check();
    return this.snapshot;
  }

  async compact(index: number): Promise<void> {
    this.check();
    if (index <= this.offset) return;
    if (this.snapshot === null || this.snapshot.meta.index < index) {
      throw new RangeError(`compact(${index}): no saved snapshot covers it`);
    }
    const drop = Math.min(index - this.offset, this.log.length);
    const term = index === this.snapshot.meta.index ? this.snapshot.meta.term : this.log[drop - 1]?.term;
    this.log = this.log.slice(drop);
    this.offsetTerm = term ?? this.snapshot.meta.term;
    this.offset = index;
  }

  async close(): Promise<void> {
    this.closed = true;
  }

  private check(): void {
    if (this.closed) throw new Error('storage is closed');
  }
}
