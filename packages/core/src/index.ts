export type { RaftConfig, RaftOptions } from './config.js';
export { DEFAULT_CONFIG, resolveConfig } from './config.js';
export { type DiagramOptions, statechartToDot, statechartToMermaid } from './diagram.js';
export { Inflights } from './inflights.js';
export { RaftLog } from './log.js';
export type {
  PersistedEvent,
  ProposeEvent,
  RaftContext,
  RaftEvent,
  RaftMachine,
  ReadIndexEvent,
  TransferLeadershipEvent,
} from './machine.js';
export { raftMachine } from './machine.js';
export type * from './messages.js';
export { isResponse, MESSAGE_TYPES } from './messages.js';
export type { Clock, NodeStatus, RaftNodeOptions } from './node.js';
export { RaftNode } from './node.js';
export type { ProgressState } from './progress.js';
export { Progress } from './progress.js';
export { committedIndex, majority, type VoteResult, voteResult } from './quorum.js';
export type { PersistedState, ProposeResult } from './raft.js';
export { Raft } from './raft.js';
export type { Random } from './random.js';
export { seededRandom } from './random.js';
export { type ReadMode, ReadOnly, type ReadState } from './read-index.js';
export type { Ready } from './ready.js';
export { isEmptyReady } from './ready.js';
export type { Snapshot, SnapshotMeta } from './snapshot.js';
export type { StateMachine } from './state-machine.js';
export type { Entry, EntryType, HardState, NodeId, Role } from './types.js';
export { assertNever, EMPTY_DATA, EMPTY_HARD_STATE } from './types.js';
