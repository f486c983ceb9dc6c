import type { PreVote, PreVoteResponse, RequestVote, RequestVoteResponse } from './messages.js';
import { voteResult } from './quorum.js';
import type { Raft } from './raft.js';

/**
 * canVote applies the two voting rules (§5.2, §5.4.1) to a vote request whose
 * term is not below ours: at most one vote per term (first come, first
 * served), and only for a candidate whose log is at least as up-to-date.
 * A PreVote for a later term binds nothing, so only the log rule applies.
 */
export function canVote(r: Raft, m: RequestVote | PreVote): boolean {
  // A later term is a fresh term for this server: no vote cast, no leader known.
  const free = m.term > r.term || r.vote === m.from || (r.vote === null && r.leaderId === null);
  return free && r.log.isUpToDate(m.lastLogIndex, m.lastLogTerm);
}

/** grantVote records and sends a vote for the candidate (§5.2). The response waits for the vote to be durable. */
export function grantVote(r: Raft, m: RequestVote): void {
  r.vote = m.from;
  r.send({ type: 'RequestVoteResponse', from: r.id, to: m.from, term: r.term, granted: true });
}

/** rejectVote answers a RequestVote with a refusal carrying our term. */
export function rejectVote(r: Raft, m: RequestVote): void {
  r.send({ type: 'RequestVoteResponse', from: r.id, to: m.from, term: r.term, granted: false });
}

/** answerPreVote answers a PreVote; a grant echoes the requested term (thesis §9.6). */
export function answerPreVote(r: Raft, m: PreVote, granted: boolean): void {
  r.send({ type: 'PreVoteResponse', from: r.id, to: m.from, term: granted ? m.term : r.term, granted });
}

/** startPreVote begins a PreVote round for term + 1 without changing any persistent state (§9.6). */
export function startPreVote(r: Raft): void {
  r.role = 'precandidate';
  r.leaderId = null;
  r.votes.clear();
  r.votes.set(r.id, true);
  const lastLogIndex = r.log.lastIndex();
  const lastLogTerm = r.log.lastTerm();
  for (const to of r.peers) {
    r.send({ type: 'PreVote', from: r.id, to, term: r.term + 1, lastLogIndex, lastLogTerm });
  }
}

/** startElection increments the term, votes for itself and requests votes from every peer (§5.2). */
export function startElection(r: Raft): void {
  const transfer = r.campaignIsTransfer;
  r.campaignIsTransfer = false;
  r.role = 'candidate';
  r.term += 1;
  r.vote = r.id;
  r.leaderId = null;
  r.votes.clear();
  // Our own vote counts once it is durable (countOwnVote), like everyone else's: a
  // server that won before its vote reached disk could, after a crash, win the same
  // term again and hand out one (index, term) twice.
  const lastLogIndex = r.log.lastIndex();
  const lastLogTerm = r.log.lastTerm();
  for (const to of r.peers) {
    r.send({ type: 'RequestVote', from: r.id, to, term: r.term, lastLogIndex, lastLogTerm, transfer });
  }
}

/** countOwnVote counts the candidate's vote for itself once the host reports it durable. */
export function countOwnVote(r: Raft): void {
  if (r.votedForSelfDurably()) r.votes.set(r.id, true);
}

/** recordVote counts a vote of the current (pre-)election. */
export function recordVote(r: Raft, m: RequestVoteResponse | PreVoteResponse): void {
  r.votes.set(m.from, m.granted);
}

/** electionResult tallies the current (pre-)election. */
export function electionResult(r: Raft): 'won' | 'lost' | 'pending' {
  return voteResult(r.voters, r.votes);
}
