import type { InstallSnapshot, InstallSnapshotResponse } from './messages.js';
import type { Progress } from './progress.js';
import type { Raft } from './raft.js';
import { appendResponse } from './replication.js';
import type { NodeId } from './types.js';

/** SnapshotMeta names the last log entry a snapshot replaces (§7 lastIncludedIndex, lastIncludedTerm). */
export interface SnapshotMeta {
  readonly index: number;
  readonly term: number;
}

/** Snapshot is a state-machine image that replaces the log up to `meta.index` (§7). */
export interface Snapshot {
  readonly meta: SnapshotMeta;
  readonly data: Uint8Array;
}

/** At most this many chunks of one snapshot are in flight to a follower. */
const WINDOW_CHUNKS = 4;

/**
 * IncomingSnapshot is a follower's snapshot under assembly: chunks are taken
 * in offset order only, so `received` bytes from the start are always held.
 */
export class IncomingSnapshot {
  readonly data: Uint8Array;
  received = 0;

  constructor(
    readonly meta: SnapshotMeta,
    size: number,
  ) {
    this.data = new Uint8Array(size);
  }

  /** matches tells whether `m` is a chunk of this snapshot. */
  matches(m: InstallSnapshot): boolean {
    return (
      this.meta.index === m.lastIncludedIndex &&
      this.meta.term === m.lastIncludedTerm &&
      this.data.byteLength === m.size
    );
  }
}

// ---------------------------------------------------------------------------
// Leader side.

/**
 * startSnapshot switches a follower whose next entry is compacted away to
 * snapshot transfer (§7): its progress pauses appends and the leader streams
 * its current snapshot in chunks of `snapshotChunkBytes`.
 */
export function startSnapshot(r: Raft, to: NodeId, pr: Progress): void {
  const snap = r.snapshot;
  if (snap === null || snap.meta.index < r.log.snapshotIndex) {
    throw new Error(
      `cannot replicate to ${to}: entry ${pr.nextIndex} is compacted and no snapshot covers it (the host must pass the snapshot to compact())`,
    );
  }
  pr.becomeSnapshot(snap);
  if (snap.data.byteLength === 0) sendChunk(r, to, snap, 0, 0); // an empty snapshot still takes one chunk
  sendChunks(r, to, pr);
}

/** sendChunks fills the follower's window of snapshot chunks, from `snapshotSent` on. */
function sendChunks(r: Raft, to: NodeId, pr: Progress): void {
  const snap = pr.snapshot!;
  const size = snap.data.byteLength;
  const chunk = r.config.snapshotChunkBytes;
  const window = Math.max(chunk, Math.min(r.config.maxInflightBytes, WINDOW_CHUNKS * chunk));
  while (pr.snapshotSent < size && pr.snapshotSent - pr.snapshotAcked < window) {
    const end = Math.min(size, pr.snapshotSent + chunk);
    sendChunk(r, to, snap, pr.snapshotSent, end);
    pr.snapshotSent = end;
  }
}

function sendChunk(r: Raft, to: NodeId, snap: Snapshot, offset: number, end: number): void {
  r.sendEarly({
    type: 'InstallSnapshot',
    from: r.id,
    to,
    term: r.term,
    lastIncludedIndex: snap.meta.index,
    lastIncludedTerm: snap.meta.term,
    size: snap.data.byteLength,
    offset,
    data: snap.data.subarray(offset, end),
  });
}

/**
 * handleInstallSnapshotResponse moves the follower's window on, or back to
 * what it holds when it holds less than was sent (it lost chunks or restarted).
 */
export function handleInstallSnapshotResponse(r: Raft, m: InstallSnapshotResponse): void {
  const pr = r.progress.get(m.from);
  if (pr === undefined) return;
  pr.recentActive = true;
  const snap = pr.snapshot;
  if (pr.state !== 'snapshot' || snap === null) return;
  if (snap.meta.index !== m.lastIncludedIndex || snap.meta.term !== m.lastIncludedTerm) return;
  if (m.received < pr.snapshotAcked) {
    pr.snapshotAcked = pr.snapshotSent = m.received; // the follower lost its partial copy: resume from what it holds
  } else {
    pr.snapshotAcked = m.received;
    if (pr.snapshotSent < m.received) pr.snapshotSent = m.received;
  }
  sendChunks(r, m.from, pr);
}

/**
 * retransmitSnapshot runs on each heartbeat answer from a follower in
 * snapshot transfer: if nothing was acknowledged since the previous one, a
 * chunk or its answer was lost, so the leader goes back to the first byte
 * not acknowledged (or, with everything acknowledged, resends the last chunk
 * to learn whether the install finished).
 */
export function retransmitSnapshot(r: Raft, to: NodeId, pr: Progress): void {
  if (pr.snapshotAcked !== pr.snapshotAckedAtBeat) {
    pr.snapshotAckedAtBeat = pr.snapshotAcked;
    return;
  }
  const snap = pr.snapshot!;
  const size = snap.data.byteLength;
  if (pr.snapshotAcked < size) {
    pr.snapshotSent = pr.snapshotAcked;
    sendChunks(r, to, pr);
  } else {
    // Every byte is held: the install's answer was lost, or it is still being made durable.
    // Any chunk asks again; a follower that installed it answers with its commit index.
    sendChunk(r, to, snap, Math.max(0, size - r.config.snapshotChunkBytes), size);
  }
}

// ---------------------------------------------------------------------------
// Follower side.

/**
 * handleInstallSnapshot is the receiver side of InstallSnapshot (§7, Figure
 * 13), for a chunk of the current term from its leader. Chunks are taken in
 * offset order and each is acknowledged with the bytes held so far; a chunk
 * of another snapshot not at offset 0 asks the leader to start over. Once
 * every byte is held, the log is reset to the snapshot and the host gets it
 * in the next Ready to install durably; the answer, an AppendEntriesResponse
 * for the snapshot's last index, waits for that. A snapshot covering no more
 * than the commit index is old news and answered at once.
 */
export function handleInstallSnapshot(r: Raft, m: InstallSnapshot): void {
  const log = r.log;
  if (m.lastIncludedIndex <= log.committed) {
    if (r.incoming !== null && r.incoming.meta.index <= log.committed) r.incoming = null;
    r.send(appendResponse(r, m.from, true, log.committed));
    return;
  }
  let incoming = r.incoming;
  if (incoming === null || !incoming.matches(m)) {
    if (m.offset !== 0) {
      r.send(snapshotResponse(r, m, 0));
      return;
    }
    incoming = r.incoming = new IncomingSnapshot(
      { index: m.lastIncludedIndex, term: m.lastIncludedTerm },
      m.size,
    );
  }
  if (m.offset === incoming.received && m.offset + m.data.byteLength <= incoming.data.byteLength) {
    incoming.data.set(m.data, m.offset);
    incoming.received += m.data.byteLength;
  }
  if (incoming.received < incoming.data.byteLength) {
    r.send(snapshotResponse(r, m, incoming.received));
    return;
  }
  r.incoming = null;
  log.installSnapshot(incoming.meta.index, incoming.meta.term);
  r.snapshot = r.pendingSnapshot = { meta: incoming.meta, data: incoming.data };
  r.send(appendResponse(r, m.from, true, incoming.meta.index));
}

function snapshotResponse(r: Raft, m: InstallSnapshot, received: number): InstallSnapshotResponse {
  return {
    type: 'InstallSnapshotResponse',
    from: r.id,
    to: m.from,
    term: r.term,
    lastIncludedIndex: m.lastIncludedIndex,
    lastIncludedTerm: m.lastIncludedTerm,
    received,
  };
}
