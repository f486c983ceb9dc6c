import { open, readdir, readFile, rename, rm } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { EMPTY_HARD_STATE, type Entry, type HardState } from '@xraft/core';
import { fsyncDir } from './files.js';
import { LogState } from './log-state.js';
import { INSTALL_FILE, readSnapshotFile, SNAPSHOT_FILE, snapshotFileName } from './snapshot-file.js';
import { CorruptionError, type SnapshotMeta } from './storage.js';
import {
  findGroupBegin,
  type InstallRecord,
  RecordKind,
  readRecord,
  type SegmentHeader,
  type WalRecord,
} from './wal.js';

/** SEGMENT_FILE matches log segment names; group 1 is the segment's sequence number. */
export const SEGMENT_FILE = /^(\d{16})\.wal$/;

/** segmentFileName names segment `seq`. */
export function segmentFileName(seq: number): string {
  return `${String(seq).padStart(16, '0')}.wal`;
}

/** SegmentInfo is what the writer needs to know of a segment on disk. */
export interface SegmentInfo {
  readonly seq: number;
  readonly path: string;
  /** Highest entry index recorded in the segment (0: none); compaction deletes a segment once its maxIndex is compacted. */
  maxIndex: number;
}

/** Recovered is a node's storage as found on disk, verified and repaired. */
export interface Recovered {
  readonly state: LogState;
  /** The segments left after repair, oldest first. */
  readonly segments: SegmentInfo[];
  /** The latest snapshot's meta, verified, or null. */
  readonly snapshot: SnapshotMeta | null;
}

/**
 * recover reads a node's directory: replays every segment in order checking
 * each record's checksum, repairs a torn tail of the last segment (an
 * unacknowledged write cut short by a crash: truncated, with a warning),
 * finishes or undoes an install interrupted by a crash, verifies the latest
 * snapshot, and throws {@link CorruptionError} for damage anywhere else. What
 * it replayed is synced before it returns, so nothing the node goes on to
 * build on can vanish in a later power loss.
 */
export async function recover(dir: string, warn: (message: string) => void): Promise<Recovered> {
  const names = await readdir(dir);
  for (const name of names.filter((n) => n.endsWith('.tmp'))) {
    await rm(join(dir, name), { force: true });
    warn(`removed ${join(dir, name)}: a snapshot write that never finished (it was not acknowledged)`);
  }

  const files = names
    .map((n) => SEGMENT_FILE.exec(n))
    .filter((m) => m !== null)
    .map((m) => ({ seq: Number(m[1]), path: join(dir, m[0]) }))
    .sort((a, b) => a.seq - b.seq);
  const replay = new Replay();
  const segments: SegmentInfo[] = [];
  for (let i = 0; i < files.length; i++) {
    const file = files[i]!;
    const prev = files[i - 1];
    if (prev !== undefined && file.seq !== prev.seq + 1) {
      throw new CorruptionError(
        file.path,
        0,
        `log segment ${segmentFileName(prev.seq + 1)} is missing between ${segmentFileName(prev.seq)} and this one`,
      );
    }
    const kept = await replaySegment(file.path, file.seq, i === files.length - 1, replay, warn);
    if (kept !== null) segments.push(kept);
  }

  const snapshots = names
    .map((n) => SNAPSHOT_FILE.exec(n))
    .filter((m) => m !== null)
    .map((m) => ({ index: Number(m[1]), path: join(dir, m[0]) }));
  for (const staged of names.map((n) => INSTALL_FILE.exec(n)).filter((m) => m !== null)) {
    const index = Number(staged[1]);
    const path = join(dir, staged[0]);
    if (replay.lastInstall !== index) {
      await rm(path, { force: true });
      warn(
        `removed ${path}: an install of snapshot ${index} that a crash cut short before the log recorded it (it was not acknowledged)`,
      );
      continue;
    }
    // The log recorded the install, a crash came before the rename: finish it.
    await readSnapshotFile(path);
    const final = join(dir, snapshotFileName(index));
    await rename(path, final);
    await fsyncDir(dir);
    snapshots.push({ index, path: final });
    warn(
      `finished installing snapshot ${index}: renamed ${path} to ${final} (the log had recorded the install before a crash)`,
    );
  }
  snapshots.sort((a, b) => a.index - b.index);
  const latest = snapshots.at(-1);
  const snapshot = latest === undefined ? null : (await readSnapshotFile(latest.path)).meta;
  // Older snapshots are left behind only by a crash between saving a newer one and deleting them.
  for (const s of snapshots.slice(0, -1)) await rm(s.path, { force: true });
  if (segments.length === 0 && latest !== undefined) {
    // A snapshot is only ever saved after load() started a segment: the log was lost.
    throw new CorruptionError(
      dir,
      0,
      `${latest.path} exists but the log segments are missing (no *.wal file): the hard state and log were lost`,
    );
  }
  return {
    state: replay.finish(segments[0]?.path ?? dir),
    segments,
    snapshot: checkSnapshot(replay, snapshot, dir),
  };
}

function checkSnapshot(replay: Replay, snapshot: SnapshotMeta | null, dir: string): SnapshotMeta | null {
  if (replay.offset > 0 && (snapshot === null || snapshot.index < replay.offset)) {
    throw new CorruptionError(
      join(dir, snapshotFileName(replay.offset)),
      0,
      `the log is compacted through entry ${replay.offset}, but ${snapshot === null ? 'there is no snapshot' : `the latest snapshot covers only ${snapshot.index}`}: the snapshot file is missing`,
    );
  }
  return snapshot;
}

/**
 * replaySegment applies one segment's complete groups to `replay`. Returns the
 * segment's info, or null when the segment was removed (a last segment whose
 * very first group was cut short: it never held anything acknowledged).
 */
async function replaySegment(
  path: string,
  seq: number,
  last: boolean,
  replay: Replay,
  warn: (message: string) => void,
): Promise<SegmentInfo | null> {
  const buf = await readFile(path);
  const info: SegmentInfo = { seq, path, maxIndex: 0 };
  /** Start of the group being read: its records are applied only once all of it is verified. */
  let group = 0;
  let torn: string | null = null;
  const damage = (at: number, detail: string): string => {
    if (!last) throw new CorruptionError(path, at, detail);
    // Damage in the last segment is a torn tail only if no later group follows it.
    const later = findGroupBegin(buf, at + 1);
    if (later >= 0) {
      throw new CorruptionError(
        path,
        at,
        `${detail}; a later group begins at byte offset ${later}, so this is damage inside the log, not a torn final write`,
      );
    }
    return detail;
  };
  groups: while (group < buf.length) {
    const begin = readRecord(buf, group);
    if (!begin.ok) {
      torn = damage(group, begin.detail);
      break;
    }
    if (begin.record.kind !== RecordKind.Begin) {
      throw new CorruptionError(path, group, 'a record where a group should begin');
    }
    const end = group + begin.record.groupBytes;
    if (end > buf.length) {
      torn = damage(group, `a group of ${begin.record.groupBytes} bytes runs past the end of the file`);
      break;
    }
    const records: { record: WalRecord; at: number }[] = [];
    for (let at = begin.next; at < end; ) {
      const res = readRecord(buf, at, end);
      if (!res.ok) {
        torn = damage(at, res.detail);
        break groups;
      }
      records.push({ record: res.record, at });
      at = res.next;
    }
    for (const { record, at } of records) {
      if (record.kind === RecordKind.Begin)
        throw new CorruptionError(path, at, 'a group begin inside a group');
      if ((group === 0 && at === begin.next) !== (record.kind === RecordKind.Header)) {
        throw new CorruptionError(
          path,
          at,
          record.kind === RecordKind.Header
            ? 'a segment header inside a segment'
            : 'the segment does not start with a header record',
        );
      }
      if (record.kind === RecordKind.Header && record.header.seq !== seq) {
        throw new CorruptionError(path, at, `the header says segment ${record.header.seq}: a misplaced file`);
      }
      replay.apply(record, (detail) => new CorruptionError(path, at, detail));
      if (record.kind === RecordKind.Entry) info.maxIndex = Math.max(info.maxIndex, record.entry.index);
    }
    group = end;
  }

  if (torn !== null) {
    const dropped = buf.length - group;
    if (group === 0) {
      await rm(path);
      await fsyncDir(dirname(path));
      warn(
        `removed ${path}: its first write was cut short by a crash (${torn}); it held nothing acknowledged`,
      );
      return null;
    }
    const fh = await open(path, 'r+');
    try {
      await fh.truncate(group);
      await fh.datasync();
    } finally {
      await fh.close();
    }
    warn(
      `repaired a torn tail: truncated ${path} at byte offset ${group}, dropping ${dropped} bytes of a write that was cut short and never acknowledged (${torn})`,
    );
  } else if (last) {
    // The last group may be whole but unsynced (a crash after write, before fdatasync): sync it
    // now, since the node will act on it.
    const fh = await open(path, 'r+');
    try {
      await fh.datasync();
    } finally {
      await fh.close();
    }
  }
  return info;
}

/**
 * Replay rebuilds the log from records, applying each write's effect in
 * order: an entry at index i first cuts every entry from i on (§5.3), a
 * segment header moves the compaction point (§7), an install record cuts the
 * entries after its `last` and moves the compaction point to its snapshot
 * (§7). The first segment still on disk may begin past its own header's
 * compaction point (older segments were deleted after a later compaction);
 * `finish` checks that a later compaction point covers that gap.
 */
class Replay {
  hardState: HardState = EMPTY_HARD_STATE;
  offset = 0;
  offsetTerm = 0;
  /** The snapshot index of the last Install record replayed (0: none). */
  lastInstall = 0;
  /** Index of log[0]. Invariant: first > offset. */
  private first = 1;
  private log: Entry[] = [];
  private sawHeader = false;
  private sawEntry = false;

  apply(record: WalRecord, where: (detail: string) => CorruptionError): void {
    switch (record.kind) {
      case RecordKind.Header:
        this.header(record.header, where);
        return;
      case RecordKind.HardState:
        this.hardState = record.hardState;
        return;
      case RecordKind.Entry:
        this.entry(record.entry, where);
        return;
      case RecordKind.Install:
        this.install(record.install, where);
        return;
      case RecordKind.Begin:
        throw where('a group begin inside a group');
    }
  }

  private header(h: SegmentHeader, where: (detail: string) => CorruptionError): void {
    if (!this.sawHeader) {
      this.sawHeader = true;
      this.offset = h.offset;
      this.offsetTerm = h.offsetTerm;
      this.first = h.offset + 1;
      return;
    }
    if (h.offset < this.offset || (h.offset === this.offset && h.offsetTerm !== this.offsetTerm)) {
      throw where(
        `the segment header's compaction point (${h.offset}, term ${h.offsetTerm}) contradicts the earlier one (${this.offset}, term ${this.offsetTerm})`,
      );
    }
    if (h.offset === this.offset) return;
    this.compactTo(h.offset, h.offsetTerm);
  }

  private install(r: InstallRecord, where: (detail: string) => CorruptionError): void {
    if (r.index < this.offset || (r.index === this.offset && r.term !== this.offsetTerm)) {
      throw where(
        `the install of snapshot (${r.index}, term ${r.term}) contradicts the compaction point (${this.offset}, term ${this.offsetTerm})`,
      );
    }
    const end = this.first + this.log.length - 1;
    if (this.log.length > 0 && end < r.last) {
      throw where(
        `the install of snapshot ${r.index} kept the entries through ${r.last}, but the log ends at ${end}`,
      );
    }
    this.log.length = Math.max(0, Math.min(this.log.length, r.last - this.first + 1));
    if (this.log.length > 0) this.compactTo(r.index, r.term);
    else {
      // Any entries it kept are in no segment read: those were deleted once a later compaction
      // covered them. The log resumes after them; finish() checks that compaction came.
      this.offset = r.index;
      this.offsetTerm = r.term;
      this.first = r.last + 1;
    }
    this.lastInstall = r.index;
  }

  /** compactTo drops the entries through `offset` and makes it the compaction point. */
  private compactTo(offset: number, offsetTerm: number): void {
    const drop = Math.min(Math.max(0, offset - this.first + 1), this.log.length);
    this.log = this.log.slice(drop);
    this.first = this.log.length > 0 ? this.first + drop : offset + 1;
    this.offset = offset;
    this.offsetTerm = offsetTerm;
  }

  private entry(e: Entry, where: (detail: string) => CorruptionError): void {
    if (e.index <= this.offset) {
      throw where(`entry ${e.index} lies at or before the compaction point ${this.offset}`);
    }
    const last = this.first + this.log.length - 1;
    if (this.log.length === 0) {
      // (Below `first` only after an install whose kept entries were in deleted segments: a cut into them.)
      if (this.sawEntry && e.index > this.first) {
        throw where(`entry ${e.index} leaves a gap after entry ${this.first - 1}`);
      }
      this.first = e.index;
    } else if (e.index < this.first) {
      // A cut reaching below the first entry read: only where older segments were deleted.
      this.log = [];
      this.first = e.index;
    } else if (e.index > last + 1) {
      throw where(`entry ${e.index} leaves a gap after entry ${last}`);
    } else {
      this.log.length = e.index - this.first;
    }
    this.log.push(e);
    this.sawEntry = true;
  }

  /** finish checks the log joins the compaction point and returns the recovered state. */
  finish(firstFile: string): LogState {
    if (this.first !== this.offset + 1) {
      throw new CorruptionError(
        firstFile,
        0,
        `the log resumes at entry ${this.first} but is compacted only through ${this.offset}: entries ${this.offset + 1}..${this.first - 1} are missing (a deleted segment?)`,
      );
    }
    const state = new LogState();
    state.hardState = this.hardState;
    state.offset = this.offset;
    state.offsetTerm = this.offsetTerm;
    state.log = this.log;
    return state;
  }
}
