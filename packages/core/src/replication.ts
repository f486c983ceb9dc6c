import type { AppendEntries, Heartbeat, Message } from './messages.js';
import type { Raft } from './raft.js';

/**
 * handleAppendEntries is the receiver side of AppendEntries (§5.3, Figure 2),
 * for a message of the current term from its leader. The response waits for
 * the appended entries to be durable (Ready.messages).
 */
export function handleAppendEntries(r: Raft, m: AppendEntries): void {
  const log = r.log;
  if (m.prevLogIndex < log.committed) {
    // Everything up to our commit index matches any leader's log (Leader Completeness).
    r.send(appendResponse(r, m.from, true, log.committed));
    return;
  }
  const lastNew = log.maybeAppend(m.prevLogIndex, m.prevLogTerm, m.entries);
  if (lastNew !== null) {
    // Commit only what this message proved to match: never beyond its last entry.
    log.commitTo(Math.min(m.leaderCommit, lastNew));
    r.send(appendResponse(r, m.from, true, lastNew));
    return;
  }
  // Reject, with a hint that lets the leader skip every entry of a conflicting term at once.
  const hintIndex = log.findConflictByTerm(Math.min(m.prevLogIndex, log.lastIndex()), m.prevLogTerm);
  const hintTerm = log.term(hintIndex) ?? 0;
  r.send({
    type: 'AppendEntriesResponse',
    from: r.id,
    to: m.from,
    term: r.term,
    success: false,
    index: m.prevLogIndex,
    hintIndex,
    hintTerm,
  });
}

/** handleHeartbeat adopts the leader's commit index (bounded by our match) and answers (§5.2). */
export function handleHeartbeat(r: Raft, m: Heartbeat): void {
  r.log.commitTo(Math.min(m.commit, r.log.lastIndex()));
  r.send({ type: 'HeartbeatResponse', from: r.id, to: m.from, term: r.term, readRound: m.readRound });
}

/**
 * answerStale answers a message from an older term. A stale leader's
 * AppendEntries or Heartbeat gets our term back so it steps down; with
 * PreVote and CheckQuorum it could otherwise stay stuck (thesis §9.6).
 * A stale PreVote gets a refusal; anything else is dropped.
 */
export function answerStale(r: Raft, m: Message): void {
  switch (m.type) {
    case 'AppendEntries':
      r.send(appendResponse(r, m.from, false, m.prevLogIndex));
      return;
    case 'Heartbeat':
      r.send({ type: 'HeartbeatResponse', from: r.id, to: m.from, term: r.term, readRound: 0 });
      return;
    case 'PreVote':
      r.send({ type: 'PreVoteResponse', from: r.id, to: m.from, term: r.term, granted: false });
      return;
    case 'RequestVote':
      r.send({ type: 'RequestVoteResponse', from: r.id, to: m.from, term: r.term, granted: false });
      return;
    case 'InstallSnapshot':
      r.send({
        type: 'InstallSnapshotResponse',
        from: r.id,
        to: m.from,
        term: r.term,
        lastIncludedIndex: m.lastIncludedIndex,
        lastIncludedTerm: m.lastIncludedTerm,
        received: 0,
      });
      return;
    default:
      return;
  }
}

/** appendResponse builds an AppendEntriesResponse without a backtracking hint. */
export function appendResponse(r: Raft, to: string, success: boolean, index: number): Message {
  return {
    type: 'AppendEntriesResponse',
    from: r.id,
    to,
    term: r.term,
    success,
    index,
    hintIndex: 0,
    hintTerm: 0,
  };
}
