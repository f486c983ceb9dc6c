import type { KvApplyResult, KvEntry, KvQuery, KvQueryResult, ReadMode } from './commands.js';

/**
 * KvReadRequest asks a node to answer `queries` under one read mode: one
 * ReadIndex (or lease check) serves the whole batch (thesis §6.4).
 */
export interface KvReadRequest {
  readonly type: 'read';
  readonly mode: ReadMode;
  /**
   * For `lease` reads: the bound on clock drift between nodes, in ms, that the
   * leader subtracts from its lease (thesis §6.4.1). 0 for other modes.
   */
  readonly leaseClockDriftMs: number;
  readonly queries: readonly KvQuery[];
}

/**
 * KvRequest is what a client sends to one node in one round trip. A
 * `register` or `batch` request is a {@link KvEntry}, and its encoded bytes
 * ARE the log entry: the leader validates and proposes them verbatim.
 */
export type KvRequest = KvEntry | KvReadRequest;

/**
 * KvResponse is a node's answer to a {@link KvRequest}:
 * - a {@link KvApplyResult} for `register`/`batch` once the entry was applied
 *   (`rejected` also answers a request that does not decode);
 * - `notLeader`: the node is not the leader and did not propose or read
 *   anything; `leaderHint` is the leader it knows of, if any (§5.1: followers
 *   redirect clients);
 * - `read`: one result per query, in order;
 * - `unavailable`: the node failed midway (leadership lost after proposing,
 *   ReadIndex failed): a write may or may not be applied; retry elsewhere.
 */
export type KvResponse =
  | KvApplyResult
  | { readonly type: 'notLeader'; readonly leaderHint: string | null }
  | { readonly type: 'read'; readonly results: readonly KvQueryResult[] }
  | { readonly type: 'unavailable'; readonly reason: string };
