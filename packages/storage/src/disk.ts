import { constants, fdatasyncSync } from 'node:fs';
import { type FileHandle, mkdir, open, readdir, rename, rm } from 'node:fs/promises';
import { dirname, join, resolve } from 'node:path';
import { EMPTY_HARD_STATE, type Entry, type HardState, type PersistedState } from '@xraft/core';
import { fsyncDir, writeAllAt, writeAllAtSync } from './files.js';
import type { LogState } from './log-state.js';
import { recover, type SegmentInfo, segmentFileName } from './recovery.js';
import {
  installFileName,
  readSnapshotFile,
  SNAPSHOT_FILE,
  snapshotFileName,
  writeSnapshotFile,
} from './snapshot-file.js';
import type { Snapshot, SnapshotMeta, Storage } from './storage.js';
import { BEGIN_BYTES, encodeBegin, encodeSegmentStart, encodeWrite, type InstallRecord } from './wal.js';

/** DiskStorageOptions tune a {@link DiskStorage}. */
export interface DiskStorageOptions {
  /**
   * segmentBytes: a write that would take the current log segment past this
   * size goes to a new segment (default 64 MiB). Compaction deletes whole
   * segments, so smaller segments return disk space sooner.
   */
  readonly segmentBytes?: number;
  /**
   * warn receives one message per repair that load() makes (a torn tail
   * truncated, an unfinished snapshot file removed). Default: `process.emitWarning`.
   */
  readonly warn?: (message: string) => void;
  /**
   * blockingWrites: each group commit is a blocking `writev` (O_DSYNC) on
   * the calling thread, started once this turn of the event loop has queued
   * its writes (`setImmediate`), instead of a trip to libuv's threadpool and
   * back. For a thread that owns the log and has nothing else to do while
   * it waits (a node's worker thread): it saves two thread hand-offs per
   * write (on the development machine ~110 µs of a ~320 µs write of 15 KiB).
   * Default false: writes never block the event loop. Snapshots, segment
   * starts and compaction stay asynchronous either way. (On the 2-core
   * development machine node workers measured no faster with it: 256
   * clients 50.9k vs 52.3k puts/s, one client p50 0.84 vs 0.74 ms, so the
   * runtime leaves it off.)
   */
  readonly blockingWrites?: boolean;
}

/** DiskStorageStatus describes where a DiskStorage's log stands on disk (for status pages and tests). */
export interface DiskStorageStatus {
  readonly dir: string;
  /** The segment file being appended to. */
  readonly segment: string;
  /** Bytes of `segment` written and synced: everything before this offset is durable. */
  readonly syncedBytes: number;
  readonly segments: number;
  /** The compaction point and the last stored entry (firstIndex = compactedIndex + 1). */
  readonly compactedIndex: number;
  readonly lastIndex: number;
  /** Writes waiting for the next group commit. */
  readonly queued: number;
  /** Group commits (writev + fdatasync of persists) since open: fewer than persists when batching works. */
  readonly groupCommits: number;
}

const DEFAULT_SEGMENT_BYTES = 64 * 1024 * 1024;
/**
 * Segments are opened with O_DSYNC where the platform has it: each `writev`
 * returns only once durable, as `writev` + `fdatasync` would, in one trip to
 * libuv's threadpool instead of two. Elsewhere an explicit `fdatasync` follows.
 */
const O_DSYNC: number = constants.O_DSYNC ?? 0;
const SEGMENT_FLAGS = constants.O_WRONLY | constants.O_CREAT | constants.O_EXCL | O_DSYNC;

type Pending = { resolve: () => void; reject: (err: unknown) => void };
/** A queued persist: its encoded records (null: nothing to write, a barrier) and what it changes. */
type WriteOp = Pending & {
  readonly kind: 'write';
  readonly buf: Buffer | null;
  readonly hardState: HardState | null;
  readonly maxIndex: number;
};
/**
 * A queued compaction: once the snapshot saves called before it are done (`after`), start a
 * segment whose header carries the new compaction point, then delete covered segments.
 */
type CompactOp = Pending & {
  readonly kind: 'compact';
  readonly offset: number;
  readonly offsetTerm: number;
  readonly after: Promise<void>;
};
/**
 * A queued install (§7): `staged` writes the snapshot to `snap-<index>.install`; then a segment
 * whose first group records the install commits it, and the file is renamed to `snap-<index>.snap`.
 */
type InstallOp = Pending & {
  readonly kind: 'install';
  readonly install: InstallRecord;
  readonly meta: SnapshotMeta;
  readonly staged: Promise<void>;
};
type Op = WriteOp | CompactOp | InstallOp;

/**
 * DiskStorage is a server's durable {@link Storage} in one directory,
 * `<dataDir>/<nodeId>/`, holding a write-ahead log of segments
 * `<seq>.wal` and the latest snapshot `snap-<index>.snap` (formats:
 * `wal.ts`, `snapshot-file.ts`, README.md). Open it, then load it once:
 *
 * ```ts
 * const storage = await DiskStorage.open(join(dataDir, nodeId));
 * const persisted = await storage.load(); // verifies, repairs a torn tail, or throws CorruptionError
 * ```
 *
 * Writes are durable when their promise resolves: `persist` calls are queued
 * in call order and group-committed, all those queued while a sync runs
 * sharing the next `writev` (with O_DSYNC, or + `fdatasync`), on libuv's threadpool, off the
 * event loop. The log since the compaction point is also kept in memory, so
 * `entries` never reads the disk; it includes writes not yet durable.
 *
 * One directory must be open in one DiskStorage at a time (the supervisor
 * starts a node's next worker only after the last one exited). A write that
 * fails (EIO, ENOSPC) poisons the instance: that write and every later call
 * reject, and the node must restart and recover from what is on disk.
 */
export class DiskStorage implements Storage {
  /** The node's directory, absolute. */
  readonly dir: string;
  private readonly segmentBytes: number;
  private readonly warn: (message: string) => void;
  private readonly blockingWrites: boolean;
  /** Messages of the repairs the last load() made. */
  readonly repairs: string[] = [];

  private state: LogState | null = null;
  private loading: Promise<PersistedState> | null = null;
  /** The latest snapshot on disk (what loadSnapshot reads). */
  private snapshotMeta: SnapshotMeta | null = null;
  /** Snapshot file writes, one after another; it settles once every one called so far finished. */
  private snapshotChain: Promise<void> = Promise.resolve();

  // The writer. Invariant: every byte of `segment` before `position` is synced.
  private segments: SegmentInfo[] = [];
  private fh: FileHandle | null = null;
  private position = 0;
  /** What the header of the next segment must carry: the state after the last written op. */
  private written: { hardState: HardState; offset: number; offsetTerm: number } = {
    hardState: EMPTY_HARD_STATE,
    offset: 0,
    offsetTerm: 0,
  };
  private queue: Op[] = [];
  private draining: Promise<void> | null = null;
  private failed: Error | null = null;
  private closed = false;
  private groupCommits = 0;

  private constructor(dir: string, options: DiskStorageOptions) {
    this.dir = dir;
    this.segmentBytes = options.segmentBytes ?? DEFAULT_SEGMENT_BYTES;
    if (!Number.isSafeInteger(this.segmentBytes) || this.segmentBytes < 1) {
      throw new RangeError(
        `DiskStorage: segmentBytes must be a positive integer, got ${options.segmentBytes}`,
      );
    }
    this.warn = options.warn ?? ((m) => process.emitWarning(m, 'XraftStorageWarning'));
    this.blockingWrites = options.blockingWrites ?? false;
  }

  /**
   * open returns the storage of the node whose directory is `dir` (usually
   * `join(dataDir, nodeId)`), creating the directory if needed. It reads
   * nothing yet: call {@link load} next.
   */
  static async open(dir: string, options: DiskStorageOptions = {}): Promise<DiskStorage> {
    const abs = resolve(dir);
    const created = await mkdir(abs, { recursive: true });
    if (created !== undefined) {
      // Make the new directories' entries durable, from the first one created up.
      for (let d = abs; ; d = dirname(d)) {
        await fsyncDir(dirname(d));
        if (d === created || dirname(d) === d) break;
      }
    }
    return new DiskStorage(abs, options);
  }

  /**
   * load recovers the directory on its first call: verifies the snapshot and
   * every log record's checksum, truncates a torn tail (an unacknowledged
   * write cut short: reported through `warn` and {@link repairs}), and throws
   * {@link CorruptionError} naming the file and byte offset of damage
   * anywhere else. It then starts a new log segment for this run. Later calls
   * return the current state without reading the disk.
   */
  load(): Promise<PersistedState> {
    if (this.closed) return Promise.reject(new Error('storage is closed'));
    if (this.state !== null) return Promise.resolve(this.state.persisted());
    this.loading ??= this.recover();
    return this.loading;
  }

  private async recover(): Promise<PersistedState> {
    const warn = (m: string) => {
      this.repairs.push(m);
      this.warn(m);
    };
    const found = await recover(this.dir, warn);
    this.snapshotMeta = found.snapshot;
    this.segments = found.segments;
    const state = found.state;
    state.snapshot = found.snapshot;
    this.written = { hardState: state.hardState, offset: state.offset, offsetTerm: state.offsetTerm };
    // Each run appends to a segment of its own: the files read above are never written again.
    await this.startSegment();
    this.state = state;
    return state.persisted();
  }

  async persist(hardState: HardState | null, entries: readonly Entry[]): Promise<void> {
    const state = this.ready('persist');
    state.checkPersist(entries);
    const buf = encodeWrite(hardState, entries);
    state.persist(hardState, entries);
    const maxIndex = entries.length > 0 ? entries[entries.length - 1]!.index : 0;
    return this.enqueue((p) => ({ kind: 'write', buf, hardState, maxIndex, ...p }));
  }

  async entries(lo: number, hi: number): Promise<Entry[]> {
    return this.ready('entries').entries(lo, hi);
  }

  /**
   * saveSnapshot writes `snapshot` to `snap-<index>.snap` atomically (temp
   * file, fdatasync, rename, directory fsync) and then deletes older
   * snapshots. A snapshot older than the saved one is ignored.
   */
  async saveSnapshot(snapshot: Snapshot): Promise<void> {
    const ignored = !this.ready('saveSnapshot').saveSnapshot(snapshot.meta);
    const { index } = snapshot.meta;
    // Queued before a close(), it still completes: close() waits for it.
    const run = this.snapshotChain.then(async () => {
      if (this.failed !== null) throw this.failed;
      if (ignored) return;
      try {
        await writeSnapshotFile(join(this.dir, snapshotFileName(index)), snapshot);
        this.snapshotMeta = snapshot.meta;
        await this.removeSnapshotsBefore(index);
      } catch (err) {
        throw this.fail('saving a snapshot', err);
      }
    });
    this.snapshotChain = run.catch(() => {});
    return run;
  }

  /**
   * installSnapshot makes a leader's snapshot the server's state (§7), in
   * call order with the other writes; the log changes at once (a persist
   * called next may start at `index + 1`). On disk, each step durable before
   * the next: (1) the snapshot is written to `snap-<index>.install` (temp
   * file, fdatasync, rename, directory fsync), beside the persists before it;
   * (2) after those, a new segment starts with one group
   * `[Begin][Header][HardState][Install]` (fdatasync, directory fsync): the
   * commit point; (3) the file is renamed to `snap-<index>.snap` (directory
   * fsync); (4) older snapshots and the segments holding only discarded
   * entries are deleted. Recovery removes a staged file the log does not
   * record and renames one it does, so a crash anywhere leaves the old state
   * or the new one.
   */
  async installSnapshot(snapshot: Snapshot): Promise<void> {
    const state = this.ready('installSnapshot');
    const earlierSnapshots = this.snapshotChain;
    if (!state.install(snapshot.meta)) {
      // Ignored: resolves once the writes before it are done, as an empty persist does.
      await this.enqueue((p) => ({ kind: 'write', buf: null, hardState: null, maxIndex: 0, ...p }));
      await earlierSnapshots;
      return;
    }
    const { index, term } = snapshot.meta;
    const install: InstallRecord = { index, term, last: state.lastIndex };
    const staged = earlierSnapshots.then(() => {
      if (this.failed !== null) throw this.failed;
      return writeSnapshotFile(join(this.dir, installFileName(index)), snapshot);
    });
    staged.catch(() => {}); // the install op awaits it; a failure rejects that op
    const done = this.enqueue((p) => ({ kind: 'install', install, meta: snapshot.meta, staged, ...p }));
    this.snapshotChain = done.catch(() => {});
    return done;
  }

  /** loadSnapshot reads and verifies the latest snapshot; CorruptionError if it is damaged. */
  async loadSnapshot(): Promise<Snapshot | null> {
    this.ready('loadSnapshot');
    await this.snapshotChain;
    const meta = this.snapshotMeta;
    if (meta === null) return null;
    return readSnapshotFile(join(this.dir, snapshotFileName(meta.index)));
  }

  /**
   * compact discards entries through `index`, which the saved snapshot must
   * cover (§7): the log continues in a new segment whose header records the
   * compaction point, then every older segment holding only compacted entries
   * is deleted.
   */
  async compact(index: number): Promise<void> {
    const state = this.ready('compact');
    if (index <= state.offset)
      return this.enqueue((p) => ({ kind: 'write', buf: null, hardState: null, maxIndex: 0, ...p }));
    const term = state.compactTerm(index);
    state.compact(index, term);
    const after = this.snapshotChain;
    return this.enqueue((p) => ({ kind: 'compact', offset: index, offsetTerm: term, after, ...p }));
  }

  /** close waits for queued writes and snapshot saves, then closes the log. Later calls reject. */
  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    await this.loading?.catch(() => {});
    await this.draining;
    await this.snapshotChain;
    await this.fh?.close();
    this.fh = null;
  }

  /** status tells where the log stands on disk. */
  status(): DiskStorageStatus {
    const state = this.ready('status');
    return {
      dir: this.dir,
      segment: this.segments.at(-1)?.path ?? '',
      syncedBytes: this.position,
      segments: this.segments.length,
      compactedIndex: state.offset,
      lastIndex: state.lastIndex,
      queued: this.queue.length,
      groupCommits: this.groupCommits,
    };
  }

  private ready(op: string): LogState {
    if (this.closed) throw new Error('storage is closed');
    if (this.failed !== null) throw this.failed;
    if (this.state === null) throw new Error(`DiskStorage.${op}: call load() first`);
    return this.state;
  }

  private enqueue(make: (p: Pending) => Op): Promise<void> {
    return new Promise<void>((resolve, reject) => {
      this.queue.push(make({ resolve, reject }));
      this.draining ??= this.drain();
    });
  }

  /**
   * drain is the group commit: it takes every queued persist, writes them with
   * one durable writev (O_DSYNC, or writev + fdatasync), resolves them all,
   * and repeats while more arrived meanwhile. A compaction or an install
   * ends a group.
   */
  private async drain(): Promise<void> {
    // Let the other writes issued in this turn of the event loop join the first group.
    if (this.blockingWrites) await new Promise<void>((resolve) => setImmediate(resolve));
    else await Promise.resolve();
    let group: Op[] = [];
    try {
      while (this.queue.length > 0) {
        if (this.failed !== null) throw this.failed;
        const head = this.queue[0]!;
        if (head.kind === 'compact') {
          group = [this.queue.shift()!];
          await head.after; // the snapshot covering the compaction is on disk first
          if (this.failed !== null) throw this.failed;
          await this.startSegment({ offset: head.offset, offsetTerm: head.offsetTerm });
          await this.deleteCompactedSegments(head.offset);
          head.resolve();
          continue;
        }
        if (head.kind === 'install') {
          group = [this.queue.shift()!];
          await this.commitInstall(head);
          head.resolve();
          continue;
        }
        let n = 0;
        while (n < this.queue.length && this.queue[n]!.kind === 'write') n++;
        group = this.queue.splice(0, n);
        const bufs: Buffer[] = [];
        let bytes = 0;
        for (const op of group as WriteOp[]) {
          if (op.buf === null) continue;
          bufs.push(op.buf);
          bytes += op.buf.length;
        }
        if (bytes > 0) {
          bufs.unshift(encodeBegin(bytes));
          bytes += BEGIN_BYTES;
          const segment = this.segments.at(-1)!;
          if (this.position + bytes > this.segmentBytes && segment.maxIndex > 0) await this.startSegment();
          if (this.blockingWrites) {
            writeAllAtSync(this.fh!.fd, bufs, this.position);
            if (O_DSYNC === 0) fdatasyncSync(this.fh!.fd);
          } else {
            await writeAllAt(this.fh!, bufs, this.position);
            if (O_DSYNC === 0) await this.fh!.datasync();
          }
          this.position += bytes;
          this.groupCommits++;
        }
        const current = this.segments.at(-1)!;
        for (const op of group as WriteOp[]) {
          if (op.hardState !== null) this.written.hardState = op.hardState;
          current.maxIndex = Math.max(current.maxIndex, op.maxIndex);
        }
        for (const op of group) op.resolve();
      }
    } catch (err) {
      const failed = this.fail('writing the log', err);
      for (const op of [...group, ...this.queue.splice(0)]) op.reject(failed);
    } finally {
      this.draining = null;
    }
  }

  /** fail poisons the storage after a failed write (the first failure is kept) and returns the error every later call gets. */
  private fail(what: string, err: unknown): Error {
    this.failed ??= new Error(
      `DiskStorage: ${what} in ${this.dir} failed (${(err as Error).message}); this storage accepts no more writes: restart the node so it recovers from what is on disk`,
      { cause: err },
    );
    return this.failed;
  }

  /**
   * commitInstall carries out steps 2 to 4 of {@link installSnapshot} once
   * the staged file is durable. A crash before the new segment's first group
   * is whole leaves the old state (recovery drops the torn segment and the
   * staged file); after it, the new state (recovery renames the staged file
   * if the crash came first).
   */
  private async commitInstall(op: InstallOp): Promise<void> {
    const { index, term, last } = op.install;
    await op.staged.catch((err: unknown) => {
      throw this.fail('writing an installed snapshot', err);
    });
    await this.startSegment({ offset: index, offsetTerm: term }, op.install);
    await rename(join(this.dir, installFileName(index)), join(this.dir, snapshotFileName(index)));
    await fsyncDir(this.dir);
    this.snapshotMeta = op.meta;
    await this.removeSnapshotsBefore(index);
    // With nothing kept after the snapshot, every older segment holds only compacted or discarded entries.
    await this.deleteCompactedSegments(last === index ? Number.POSITIVE_INFINITY : index);
  }

  /**
   * startSegment begins the next segment with a header write (compaction
   * point, hard state, and the install that starts it, if one does), synced
   * together with the directory entry, and makes it the one appended to.
   */
  private async startSegment(
    compaction?: { offset: number; offsetTerm: number },
    install: InstallRecord | null = null,
  ): Promise<void> {
    if (compaction !== undefined) {
      this.written.offset = compaction.offset;
      this.written.offsetTerm = compaction.offsetTerm;
    }
    const seq = (this.segments.at(-1)?.seq ?? 0) + 1;
    const path = join(this.dir, segmentFileName(seq));
    const start = encodeSegmentStart(
      { seq, offset: this.written.offset, offsetTerm: this.written.offsetTerm },
      this.written.hardState,
      install,
    );
    const fh = await open(path, SEGMENT_FLAGS);
    try {
      await writeAllAt(fh, [start], 0);
      if (O_DSYNC === 0) await fh.datasync();
      await fsyncDir(this.dir);
    } catch (err) {
      await fh.close();
      throw err;
    }
    await this.fh?.close();
    this.fh = fh;
    this.position = start.length;
    this.segments.push({ seq, path, maxIndex: 0 });
  }

  /** deleteCompactedSegments removes the oldest segments while every entry in them is compacted. */
  private async deleteCompactedSegments(offset: number): Promise<void> {
    let n = 0;
    while (n < this.segments.length - 1 && this.segments[n]!.maxIndex <= offset) n++;
    if (n === 0) return;
    for (const s of this.segments.splice(0, n)) await rm(s.path, { force: true });
    await fsyncDir(this.dir);
  }

  private async removeSnapshotsBefore(index: number): Promise<void> {
    const old = (await readdir(this.dir))
      .map((n) => SNAPSHOT_FILE.exec(n))
      .filter((m) => m !== null && Number(m[1]) < index);
    if (old.length === 0) return;
    for (const m of old) await rm(join(this.dir, m![0]), { force: true });
    await fsyncDir(this.dir);
  }
}
