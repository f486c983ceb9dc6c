import type { Entry, HardState, PersistedState, Snapshot } from '@xraft/core';

/** A snapshot and its meta are the core's own (§7). */
export type { Snapshot, SnapshotMeta } from '@xraft/core';

/**
 * Storage is a Raft server's stable storage (Figure 2 "persistent state"):
 * its hard state, its log, and its latest snapshot. One conformance suite
 * (`test/conformance.ts`) runs against every implementation.
 *
 * Every write resolves only once durable. Writes are applied in call order,
 * and implementations should group-commit: writes issued while a sync is in
 * flight share the next sync.
 */
export interface Storage {
  /**
   * load reads everything a restarting server needs: hard state, the log after
   * the snapshot point, and the snapshot point itself (`snapshot`), verifying
   * checksums. A torn tail (an unacknowledged write cut short) is repaired;
   * corruption anywhere else throws {@link CorruptionError}.
   */
  load(): Promise<PersistedState>;
  /**
   * persist makes one Ready durable, atomically: if `entries` is not empty,
   * every stored entry at or after `entries[0].index` is first deleted (a
   * follower's conflicting suffix, §5.3), then `entries` are appended; then
   * `hardState`, if given, replaces the stored one. Rejects with RangeError,
   * storing nothing, when `entries` are not contiguous, start at or before the
   * compaction point, or leave a gap after the last stored entry. A persist
   * with nothing to store resolves once every earlier write is durable.
   */
  persist(hardState: HardState | null, entries: readonly Entry[]): Promise<void>;
  /**
   * entries reads stored entries [lo, hi); throws RangeError for a compacted or
   * missing index. It sees every persist already issued, durable or not.
   */
  entries(lo: number, hi: number): Promise<Entry[]>;
  /** saveSnapshot stores a snapshot durably, replacing an older one; a snapshot older than the stored one is ignored. */
  saveSnapshot(snapshot: Snapshot): Promise<void>;
  /**
   * installSnapshot makes a snapshot received from the leader (InstallSnapshot, §7) the server's
   * state, durably and atomically: afterwards loadSnapshot() returns it and load() reports
   * snapshot {index, term}. Stored entries up to snapshot.meta.index are discarded; if the stored
   * log holds an entry at meta.index with term meta.term, the entries after it are kept (§7
   * "retain log entries following it"), otherwise every stored entry is discarded. The hard state
   * is unchanged. A snapshot at or before the stored snapshot's index is ignored (resolves).
   * A crash at any instruction leaves either the old state or the new one, never a mix
   * (a snapshot without its log reset, or a log reset without its snapshot).
   *
   * Like every write it applies after the writes called before it and before those called after
   * it: a persist called next may start at meta.index + 1 at once. RangeError for an index or
   * term that is not a non-negative integer.
   */
  installSnapshot(snapshot: Snapshot): Promise<void>;
  /** loadSnapshot returns the latest snapshot, or null if none was saved. */
  loadSnapshot(): Promise<Snapshot | null>;
  /**
   * compact discards entries up to and including `index`, which a snapshot
   * saved or installed by an earlier call (awaited or not) must cover and which
   * must be stored or be the snapshot's own last entry (RangeError otherwise) (§7). load() then reports `snapshot: {index,
   * term}` and the entries after it. Compacting at or before the current
   * compaction point does nothing.
   */
  compact(index: number): Promise<void>;
  /** close releases files and handles; pending writes finish first. */
  close(): Promise<void>;
}

/**
 * CorruptionError reports stored data that failed its checksum somewhere other
 * than a repairable tail: the server must not start, since starting could
 * silently drop acknowledged entries.
 */
export class CorruptionError extends Error {
  constructor(
    readonly file: string,
    readonly offset: number,
    detail: string,
  ) {
    super(
      `corrupt storage: ${file} at byte offset ${offset}: ${detail}. Refusing to start: restore this server's data directory from a replica or a backup, or remove it to rejoin as an empty server.`,
    );
    this.name = 'CorruptionError';
  }
}
