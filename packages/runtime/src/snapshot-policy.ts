/**
 * SnapshotPolicy says when a node snapshots its state machine and compacts
 * its log (§7): once the entries applied since the last snapshot reach
 * `entries`, or their payload reaches `bytes`, whichever comes first. The
 * log keeps `keepEntries` entries before the snapshot (by default 1000, at
 * most half of `entries`), so a follower that lags by less catches up with
 * AppendEntries instead of a whole snapshot.
 */
export interface SnapshotPolicy {
  readonly entries: number;
  readonly bytes: number;
  readonly keepEntries: number;
}

/** DEFAULT_SNAPSHOT_POLICY keeps a node's log (and so its memory and disk) bounded under any load. */
export const DEFAULT_SNAPSHOT_POLICY: SnapshotPolicy = Object.freeze({
  entries: 100_000,
  bytes: 16 * 1024 * 1024,
  keepEntries: 1_000,
});

/** resolveSnapshotPolicy fills in defaults; it throws a RangeError naming the bad field. */
export function resolveSnapshotPolicy(p: Partial<SnapshotPolicy> | undefined): SnapshotPolicy {
  if (p !== undefined && (typeof p !== 'object' || p === null)) {
    throw new RangeError('snapshotThreshold must be an object { entries?, bytes?, keepEntries? }');
  }
  const entries = p?.entries ?? DEFAULT_SNAPSHOT_POLICY.entries;
  const out = {
    entries,
    bytes: p?.bytes ?? DEFAULT_SNAPSHOT_POLICY.bytes,
    keepEntries: p?.keepEntries ?? Math.min(DEFAULT_SNAPSHOT_POLICY.keepEntries, Math.floor(entries / 2)),
  };
  for (const key of ['entries', 'bytes'] as const) {
    if (!(Number.isSafeInteger(out[key]) && out[key] > 0)) {
      throw new RangeError(`snapshotThreshold.${key} must be a positive integer, got ${String(out[key])}`);
    }
  }
  if (!(Number.isSafeInteger(out.keepEntries) && out.keepEntries >= 0)) {
    throw new RangeError(
      `snapshotThreshold.keepEntries must be an integer >= 0, got ${String(out.keepEntries)}`,
    );
  }
  return out;
}
