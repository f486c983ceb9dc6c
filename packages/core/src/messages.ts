import type { Entry, NodeId } from './types.js';

/** MessageBase is carried by every Raft RPC: sender, receiver and the sender's term (§5.1). */
interface MessageBase {
  readonly from: NodeId;
  readonly to: NodeId;
  /** The sender's term; for PreVote, the term the sender would campaign in (§9.6). */
  readonly term: number;
}

/**
 * PreVote asks whether the receiver would vote for the sender in `term`
 * without anyone changing their term (thesis §9.6). `term` is the sender's
 * current term + 1.
 */
export interface PreVote extends MessageBase {
  readonly type: 'PreVote';
  readonly lastLogIndex: number;
  readonly lastLogTerm: number;
}

/** PreVoteResponse answers a PreVote; when granted, `term` echoes the requested term. */
export interface PreVoteResponse extends MessageBase {
  readonly type: 'PreVoteResponse';
  readonly granted: boolean;
}

/** RequestVote is sent by candidates to gather votes (§5.2, §5.4.1). */
export interface RequestVote extends MessageBase {
  readonly type: 'RequestVote';
  readonly lastLogIndex: number;
  readonly lastLogTerm: number;
  /** Set when the election follows a TimeoutNow (§3.10): voters then ignore their leader lease. */
  readonly transfer: boolean;
}

/** RequestVoteResponse answers a RequestVote. */
export interface RequestVoteResponse extends MessageBase {
  readonly type: 'RequestVoteResponse';
  readonly granted: boolean;
}

/** AppendEntries replicates log entries (§5.3); with no entries it still carries the consistency check. */
export interface AppendEntries extends MessageBase {
  readonly type: 'AppendEntries';
  readonly prevLogIndex: number;
  readonly prevLogTerm: number;
  readonly entries: readonly Entry[];
  readonly leaderCommit: number;
}

/**
 * AppendEntriesResponse answers an AppendEntries.
 * On success `index` is the last index now known to match the leader's log.
 * On rejection `index` is the rejected prevLogIndex, and (`hintIndex`, `hintTerm`)
 * let the leader skip a whole term per round trip (§5.3 "fast backtracking"):
 * `hintIndex` is the largest index <= min(prevLogIndex, lastIndex) whose term is
 * <= prevLogTerm in the follower's log, `hintTerm` the follower's term there.
 */
export interface AppendEntriesResponse extends MessageBase {
  readonly type: 'AppendEntriesResponse';
  readonly success: boolean;
  readonly index: number;
  readonly hintIndex: number;
  readonly hintTerm: number;
}

/**
 * Heartbeat asserts leadership between AppendEntries (§5.2). It carries no
 * consistency check; `commit` is min(the follower's matchIndex, commitIndex),
 * which the follower may adopt safely.
 */
export interface Heartbeat extends MessageBase {
  readonly type: 'Heartbeat';
  readonly commit: number;
  /** The latest ReadIndex round this heartbeat confirms leadership for (thesis §6.4); 0 when none. */
  readonly readRound: number;
}

/** HeartbeatResponse answers a Heartbeat; it proves the follower is alive (CheckQuorum, §6.2). */
export interface HeartbeatResponse extends MessageBase {
  readonly type: 'HeartbeatResponse';
  /** The `readRound` of the heartbeat answered. */
  readonly readRound: number;
}

/** TimeoutNow tells a caught-up follower to start an election at once (leadership transfer, §3.10). */
export interface TimeoutNow extends MessageBase {
  readonly type: 'TimeoutNow';
}

/**
 * InstallSnapshot sends one chunk of the leader's snapshot to a follower whose
 * next entry the leader has compacted away (§7, Figure 13). Chunks carry
 * their byte `offset`; the follower assembles them in order and installs the
 * snapshot once it holds all `size` bytes, then answers with an
 * AppendEntriesResponse for `lastIncludedIndex` once the install is durable.
 */
export interface InstallSnapshot extends MessageBase {
  readonly type: 'InstallSnapshot';
  /** The last entry the snapshot replaces (Figure 13 lastIncludedIndex, lastIncludedTerm). */
  readonly lastIncludedIndex: number;
  readonly lastIncludedTerm: number;
  /** The snapshot's total size in bytes. */
  readonly size: number;
  /** Where this chunk starts in the snapshot. */
  readonly offset: number;
  readonly data: Uint8Array;
}

/**
 * InstallSnapshotResponse acknowledges chunks: `received` is how many bytes
 * of the snapshot the follower holds, from the start, so the leader resumes
 * from there after a lost chunk or a restart (0: start over).
 */
export interface InstallSnapshotResponse extends MessageBase {
  readonly type: 'InstallSnapshotResponse';
  readonly lastIncludedIndex: number;
  readonly lastIncludedTerm: number;
  readonly received: number;
}

/** Message is every RPC exchanged between Raft servers. */
export type Message =
  | PreVote
  | PreVoteResponse
  | RequestVote
  | RequestVoteResponse
  | AppendEntries
  | AppendEntriesResponse
  | Heartbeat
  | HeartbeatResponse
  | InstallSnapshot
  | InstallSnapshotResponse
  | TimeoutNow;

/** MessageType is the discriminant of {@link Message}. */
export type MessageType = Message['type'];

/** MESSAGE_TYPES lists every message type, for codecs and validation. */
export const MESSAGE_TYPES: readonly MessageType[] = [
  'PreVote',
  'PreVoteResponse',
  'RequestVote',
  'RequestVoteResponse',
  'AppendEntries',
  'AppendEntriesResponse',
  'Heartbeat',
  'HeartbeatResponse',
  'InstallSnapshot',
  'InstallSnapshotResponse',
  'TimeoutNow',
];

/** isResponse tells whether a message answers another one. */
export function isResponse(m: Message): boolean {
  return m.type.endsWith('Response');
}
