import type { AppendEntriesResponse, HeartbeatResponse } from './messages.js';
import { Progress } from './progress.js';
import { committedIndex, majority } from './quorum.js';
import type { Raft } from './raft.js';
import type { ReadMode } from './read-index.js';
import { retransmitSnapshot, startSnapshot } from './snapshot.js';
import { EMPTY_DATA, type Entry, type NodeId } from './types.js';

/**
 * becomeLeader takes office (§5.2): fresh progress for every peer (nextIndex
 * just past our log, matchIndex 0), then a no-op entry of the new term
 * (§8; seed document), through which entries of earlier terms get committed.
 */
export function becomeLeader(r: Raft): void {
  r.role = 'leader';
  r.leaderId = r.id;
  r.transferee = null;
  r.progress.clear();
  const next = r.log.lastIndex() + 1;
  for (const peer of r.peers) {
    // Not recentActive: a leader must hear from a majority within its first
    // CheckQuorum round too, so a leader cut off at once leads at most one round.
    r.progress.set(peer, new Progress(next, r.config.maxInflightMessages, r.config.maxInflightBytes));
  }
  appendEntries(r, [{ index: next, term: r.term, type: 'noop', data: EMPTY_DATA }]);
  broadcastAppend(r);
}

/** leaveLeadership drops leader-only state when the server stops leading. */
export function leaveLeadership(r: Raft): void {
  r.readOnly.abortAll(r.readStates);
  r.progress.clear();
  r.transferee = null;
  if (r.leaderId === r.id) r.leaderId = null;
}

/** appendEntries adds entries to the leader's own log (Leader Append-Only) and tries to commit. */
function appendEntries(r: Raft, entries: Entry[]): void {
  r.log.append(entries);
  // The leader counts itself towards a quorum only once its own write is durable (Persisted).
  maybeCommit(r);
}

/** propose appends one entry per command, in one batch (Raft's Start()), and replicates them. */
export function propose(r: Raft, commands: readonly Uint8Array[]): void {
  const first = r.log.lastIndex() + 1;
  const entries: Entry[] = new Array(commands.length);
  for (let i = 0; i < commands.length; i++) {
    entries[i] = { index: first + i, term: r.term, type: 'normal', data: commands[i]! };
  }
  appendEntries(r, entries);
  r.lastProposal = { isLeader: true, term: r.term, index: first, leaderId: r.id };
  broadcastAppend(r, false);
}

/** rejectProposal answers a Propose this server cannot take (not leader, or transferring leadership). */
export function rejectProposal(r: Raft): void {
  r.lastProposal = {
    isLeader: false,
    term: r.term,
    index: 0,
    leaderId: r.role === 'leader' ? null : r.leaderId,
  };
}

/**
 * sendAppend sends the entries from `nextIndex` to one follower unless its
 * progress is paused; when they are compacted away, it starts sending the
 * snapshot instead (§7). With `sendIfEmpty` false it stays silent when there
 * is nothing new. Returns whether a message went out.
 */
export function sendAppend(r: Raft, to: NodeId, sendIfEmpty = true): boolean {
  const pr = r.progress.get(to)!;
  if (pr.isPaused()) return false;
  const log = r.log;
  const prevLogIndex = pr.nextIndex - 1;
  const prevLogTerm = log.term(prevLogIndex);
  if (prevLogTerm === undefined) {
    startSnapshot(r, to, pr);
    return true;
  }
  const entries =
    pr.nextIndex <= log.lastIndex()
      ? log.slice(pr.nextIndex, log.lastIndex() + 1, r.config.maxMessageBytes)
      : [];
  if (entries.length === 0 && !sendIfEmpty) return false;
  let bytes = 0;
  for (const e of entries) bytes += e.data.byteLength;
  const lastIndex = prevLogIndex + entries.length;
  pr.sentEntries(entries.length, lastIndex, bytes);
  r.sendEarly({
    type: 'AppendEntries',
    from: r.id,
    to,
    term: r.term,
    prevLogIndex,
    prevLogTerm,
    entries,
    leaderCommit: log.committed,
  });
  return true;
}

/** broadcastAppend sends AppendEntries to every follower that is not paused. */
export function broadcastAppend(r: Raft, sendIfEmpty = true): void {
  for (const peer of r.peers) sendAppend(r, peer, sendIfEmpty);
}

/**
 * broadcastHeartbeat asserts leadership to every follower (§5.2). Each
 * heartbeat carries min(matchIndex, commitIndex), the most the follower can
 * safely commit without a consistency check.
 */
export function broadcastHeartbeat(r: Raft): number {
  const readRound = r.readOnly.newRound(r.id, r.now());
  for (const [to, pr] of r.progress) {
    r.sendEarly({
      type: 'Heartbeat',
      from: r.id,
      to,
      term: r.term,
      commit: Math.min(pr.matchIndex, r.log.committed),
      readRound,
    });
  }
  // Alone, this server is its own majority: the round is confirmed as it starts.
  if (r.peers.length === 0) r.readOnly.confirm(readRound, r.leaseMs, r.readStates);
  return readRound;
}

/**
 * readIndex serves a read request (thesis §6.4): note the commit index, then
 * confirm leadership with a heartbeat round; the read is answered in a
 * ReadState once a majority answers, and the host serves it once it has
 * applied up to that index. Until the leader's no-op commits, the commit index
 * may be behind earlier leaders' commits, so requests wait for it. A `lease`
 * read within the lease (§6.4.1) skips the round.
 */
export function readIndex(r: Raft, ctx: number, mode: ReadMode): void {
  const log = r.log;
  if (log.term(log.committed) !== r.term) {
    r.readOnly.wait(ctx, mode);
    return;
  }
  if (mode === 'lease' && r.leaseMs > 0 && r.now() < r.readOnly.leaseUntil) {
    r.readStates.push({ ctx, ok: true, index: log.committed });
    return;
  }
  // Queued for the round about to start (rounds are numbered in order), which then confirms it.
  r.readOnly.add(ctx, log.committed, r.readOnly.round + 1);
  broadcastHeartbeat(r);
}

/**
 * maybeCommit advances the commit index to the highest index stored on a
 * majority, but only if that entry is from the current term (§5.4.2): replicas
 * of an older term's entry are never counted; it commits indirectly.
 * Returns whether the commit index moved.
 */
export function maybeCommit(r: Raft): boolean {
  const matches: number[] = [r.log.stableIndex];
  for (const pr of r.progress.values()) matches.push(pr.matchIndex);
  const index = committedIndex(matches);
  if (index <= r.log.committed || r.log.term(index) !== r.term) return false;
  r.log.commitTo(index);
  // The term's first commit fixes the index that reads waiting for it may use.
  for (const w of r.readOnly.takeWaiting()) readIndex(r, w.ctx, w.mode);
  return true;
}

/** handlePersisted counts the leader's own durable entries, which may commit some. */
export function handlePersistedAsLeader(r: Raft): void {
  if (maybeCommit(r)) broadcastAppend(r);
}

/** handleAppendEntriesResponse updates a follower's progress (§5.3) and keeps its pipeline full. */
export function handleAppendEntriesResponse(r: Raft, m: AppendEntriesResponse): void {
  const pr = r.progress.get(m.from);
  if (pr === undefined) return;
  pr.recentActive = true;
  if (!m.success) {
    // Skip back over the follower's conflicting term using its hint (fast backtracking).
    const probeFrom = m.hintTerm > 0 ? r.log.findConflictByTerm(m.hintIndex, m.hintTerm) : m.hintIndex;
    if (pr.maybeDecrTo(m.index, probeFrom)) {
      if (pr.state === 'replicate') pr.becomeProbe();
      sendAppend(r, m.from);
    }
    return;
  }
  if (!pr.maybeUpdate(m.index)) return;
  if (pr.state === 'probe') pr.becomeReplicate();
  else if (pr.state === 'snapshot') {
    // The follower installed the snapshot (or caught up otherwise): stream entries after it.
    if (pr.matchIndex >= pr.snapshot!.meta.index || pr.matchIndex >= r.log.snapshotIndex)
      pr.becomeReplicate();
  } else pr.inflights.freeLE(m.index);
  // A new commit index goes to every follower at once; then fill this follower's pipeline.
  if (maybeCommit(r)) broadcastAppend(r);
  while (sendAppend(r, m.from, false)) {}
  if (r.transferee === m.from && pr.matchIndex === r.log.lastIndex()) sendTimeoutNow(r, m.from);
}

/** handleHeartbeatResponse notes the follower is alive and resumes replication if it lags. */
export function handleHeartbeatResponse(r: Raft, m: HeartbeatResponse): void {
  const pr = r.progress.get(m.from);
  if (pr === undefined) return;
  pr.recentActive = true;
  pr.probeSent = false;
  r.readOnly.ack(m.from, m.readRound, r.voters.length, r.leaseMs, r.readStates);
  if (pr.state === 'snapshot') {
    retransmitSnapshot(r, m.from, pr);
    return;
  }
  // A lost message would stall a full pipeline forever; let one more through.
  if (pr.state === 'replicate' && pr.inflights.full()) pr.inflights.freeFirstOne();
  if (pr.matchIndex < r.log.lastIndex()) sendAppend(r, m.from);
}

/**
 * quorumActive is CheckQuorum (§6.2): whether a majority (this leader
 * included) was heard from since the last check. Resets the marks for the next round.
 */
export function quorumActive(r: Raft): boolean {
  let active = 1;
  for (const pr of r.progress.values()) if (pr.recentActive) active++;
  return active >= majority(r.voters.length);
}

/** resetRecentActive starts a new CheckQuorum round. */
export function resetRecentActive(r: Raft): void {
  for (const pr of r.progress.values()) pr.recentActive = false;
}

/**
 * startTransfer begins a leadership transfer to `to` (§3.10): proposals stop;
 * once `to` has every entry, it gets TimeoutNow and starts an election at once.
 */
export function startTransfer(r: Raft, to: NodeId): void {
  r.transferee = to;
  const pr = r.progress.get(to)!;
  if (pr.matchIndex === r.log.lastIndex()) sendTimeoutNow(r, to);
  else sendAppend(r, to);
}

/** abortTransfer gives up a transfer that did not finish within an election timeout. */
export function abortTransfer(r: Raft): void {
  r.transferee = null;
}

/** sendTimeoutNow tells `to` to campaign; from here on this leader's lease no longer holds. */
function sendTimeoutNow(r: Raft, to: NodeId): void {
  r.readOnly.revokeLease();
  r.sendEarly({ type: 'TimeoutNow', from: r.id, to, term: r.term });
}

/** canTransferTo tells whether `to` is a peer this leader could hand leadership to. */
export function canTransferTo(r: Raft, to: NodeId): boolean {
  return r.progress.has(to);
}
