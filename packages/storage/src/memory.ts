import type { Entry, HardState, PersistedState } from '@xraft/core';
import { LogState } from './log-state.js';
import type { Snapshot, Storage } from './storage.js';

/**
 * MemoryStorage keeps a server's hard state, log and snapshot in memory: for
 * the simulator, tests and explicit in-memory benchmarks. "Durable" here means
 * surviving a restart of the Raft node object within the same process (a
 * worker restarted by the supervisor gets a fresh, empty one).
 */
export class MemoryStorage implements Storage {
  private readonly state = new LogState();
  private snapshot: Snapshot | null = null;
  private closed = false;

  async load(): Promise<PersistedState> {
    this.check();
    return this.state.persisted();
  }

  async persist(hardState: HardState | null, entries: readonly Entry[]): Promise<void> {
    this.check();
    this.state.checkPersist(entries);
    this.state.persist(hardState, entries);
  }

  async entries(lo: number, hi: number): Promise<Entry[]> {
    this.check();
    return this.state.entries(lo, hi);
  }

  async saveSnapshot(snapshot: Snapshot): Promise<void> {
    this.check();
    if (this.state.saveSnapshot(snapshot.meta)) this.snapshot = snapshot;
  }

  /** installSnapshot makes a leader's snapshot the server's state (§7); the rules are {@link LogState.install}'s. */
  async installSnapshot(snapshot: Snapshot): Promise<void> {
    this.check();
    if (this.state.install(snapshot.meta)) this.snapshot = snapshot;
  }

  async loadSnapshot(): Promise<Snapshot | null> {
    this.check();
    return this.snapshot;
  }

  async compact(index: number): Promise<void> {
    this.check();
    if (index <= this.state.offset) return;
    const term = this.state.compactTerm(index);
    this.state.compact(index, term);
  }

  async close(): Promise<void> {
    this.closed = true;
  }

  private check(): void {
    if (this.closed) throw new Error('storage is closed');
  }
}
