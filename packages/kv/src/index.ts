/**
 * @xraft/kv: the replicated key-value store of xraft: its state machine with
 * exactly-once client sessions (thesis §6.3), the binary codec shared by the
 * log and the wire, the node-side request handler, and the KvClient.
 */
export { type GetOptions, KvClient, type KvClientOptions } from './client.js';
export {
  decodeEntry,
  decodeRequest,
  decodeResponse,
  encodeEntry,
  encodeRequest,
  encodeResponse,
  FORMAT_VERSION,
} from './codec.js';
export type {
  KvApplyResult,
  KvCommand,
  KvCommandResult,
  KvEntry,
  KvOp,
  KvPair,
  KvQuery,
  KvQueryResult,
  ReadMode,
  Value,
} from './commands.js';
export { Deadlines, type Expiring } from './deadlines.js';
export {
  ClosedError,
  CodecError,
  NotLeaderError,
  RequestRejectedError,
  SessionExpiredError,
  SnapshotError,
  TimeoutError,
  UndeliveredError,
} from './errors.js';
export { createStateMachine, handleRequest } from './machine-module.js';
export type { KvReadRequest, KvRequest, KvResponse } from './protocol.js';
export {
  handleKvRequest,
  isApplyResultOf,
  type KvNode,
  type KvQueryable,
  LeaderWait,
  type LeaderWaitOptions,
} from './server.js';
export type { SessionLimits } from './sessions.js';
export { SNAPSHOT_VERSION } from './snapshot.js';
export { DEFAULT_SESSION_LIMITS, KvStateMachine, type KvStateMachineOptions } from './state-machine.js';
export type { KvTransport, SendTarget } from './transport.js';
