import type { StateMachine } from '@xraft/core';
import { assertNever } from '@xraft/core';
import { decodeRequest, encodeResponse } from './codec.js';
import type { KvApplyResult, KvEntry, KvQuery, KvQueryResult } from './commands.js';
import { Deadlines } from './deadlines.js';
import { CodecError } from './errors.js';
import type { KvReadRequest, KvResponse } from './protocol.js';

/**
 * KvNode is what {@link handleKvRequest} needs from the node it runs on; the
 * runtime implements it over its Raft node inside the node worker.
 */
export interface KvNode {
  /** The node's state machine: a `KvStateMachine` (anything with its `query` method). */
  readonly stateMachine: StateMachine;
  /** isLeader tells whether this node believes it leads now (it may be deposed without knowing yet, §6.4). */
  isLeader(): boolean;
  /** leaderHint is the leader this node knows of, or null: the redirect a follower gives a client (§6.2). */
  leaderHint(): string | null;
  /**
   * propose appends `entry` as one log entry (Raft's Start(), §5.3) and
   * resolves with what `stateMachine.apply` returned for it once committed and
   * applied. It must resolve only with the result of THIS entry (match index
   * and term), and reject if the entry may not commit as proposed (leadership
   * lost, entry overwritten by a new leader, node stopping).
   */
  propose(entry: Uint8Array): Promise<unknown>;
  /**
   * readIndex is ReadIndex (thesis §6.4): note the commit index, confirm
   * leadership with a heartbeat round begun after this call, and resolve once
   * the state machine has applied up to the noted index (in the leader's
   * term, so after its no-op committed). Rejects if leadership is lost.
   */
  readIndex(): Promise<void>;
  /**
   * leaseRead, optional, is the lease check of thesis §6.4.1: resolve true
   * when this leader holds a lease valid under a clock drift bound of
   * `clockDriftMs` (a heartbeat quorum acknowledged within the election
   * timeout minus the bound) and has applied its commit index, so a query may
   * run without a heartbeat round; false to fall back to ReadIndex.
   */
  leaseRead?(clockDriftMs: number): Promise<boolean>;
  /**
   * awaitLeader, optional, holds a request that reached this node while it
   * knows no leader (a follower whose leader went silent, a candidate): it
   * resolves once the node learns a leader or becomes one, once a bound
   * passes, or once the node stops; at once if it holds all it may. A
   * {@link LeaderWait} implements it. Without it such a node answers at once.
   */
  awaitLeader?(): Promise<void>;
}

/** KvQueryable is the read side of a `KvStateMachine`. */
export interface KvQueryable {
  query(q: KvQuery): KvQueryResult;
}

/**
 * handleKvRequest is everything a node does with one client request (thesis
 * §6.2–§6.4), taking encoded bytes and returning the encoded response:
 * - `register` / `batch`: a follower answers `notLeader` with its leader hint
 *   (§6.2); one that knows no leader first holds the request until it learns
 *   one, if the node can ({@link KvNode.awaitLeader}), and serves it if it
 *   became the leader meanwhile. The leader proposes the request bytes
 *   verbatim as the log entry and answers with the entry's apply result. A
 *   request that does not decode is answered `rejected` and never reaches the log.
 * - `read`: `stale` is answered by any node from its applied state; otherwise
 *   a follower redirects as above, and the leader runs ReadIndex (§6.4), or for
 *   `lease` checks its lease first (§6.4.1, falling back to ReadIndex), then
 *   queries its state machine.
 * - a propose or ReadIndex that fails midway is answered `unavailable`: the
 *   client retries elsewhere with the same (clientId, seq).
 */
export async function handleKvRequest(request: Uint8Array, node: KvNode): Promise<Uint8Array> {
  return encodeResponse(await respond(request, node));
}

async function respond(bytes: Uint8Array, node: KvNode): Promise<KvResponse> {
  let request: ReturnType<typeof decodeRequest>;
  try {
    request = decodeRequest(bytes);
  } catch (err) {
    if (err instanceof CodecError) return { type: 'rejected', reason: err.message };
    throw err;
  }
  switch (request.type) {
    case 'register':
    case 'batch':
      return write(request, bytes, node);
    case 'read':
      return read(request, node);
    default:
      return assertNever(request, 'kv request');
  }
}

async function write(entry: KvEntry, bytes: Uint8Array, node: KvNode): Promise<KvResponse> {
  if (!node.isLeader() && !(await ledAfterWaiting(node))) return notLeader(node);
  let result: unknown;
  try {
    result = await node.propose(bytes);
  } catch (err) {
    return { type: 'unavailable', reason: `proposal not known to be committed: ${message(err)}` };
  }
  if (!isApplyResultOf(entry, result)) {
    // The runtime handed back another entry's result: the client must not take it; it retries the same seqs.
    return {
      type: 'unavailable',
      reason: `the applied result does not belong to this request: ${describe(result)}`,
    };
  }
  return result;
}

async function read(request: KvReadRequest, node: KvNode): Promise<KvResponse> {
  const sm = queryable(node.stateMachine);
  if (request.mode !== 'stale') {
    if (!node.isLeader() && !(await ledAfterWaiting(node))) return notLeader(node);
    try {
      const leased = request.mode === 'lease' && (await node.leaseRead?.(request.leaseClockDriftMs)) === true;
      if (!leased) await node.readIndex();
    } catch (err) {
      return { type: 'unavailable', reason: `read not confirmed by a quorum: ${message(err)}` };
    }
  }
  return { type: 'read', results: request.queries.map((q) => sm.query(q)) };
}

/**
 * ledAfterWaiting is called for a request that reached `node` while it does
 * not lead. If it knows no leader either, it has no redirect to give (§6.2),
 * so it holds the request ({@link KvNode.awaitLeader}) rather than send the
 * client off to back off and probe node after node; true if the node leads
 * once released.
 */
async function ledAfterWaiting(node: KvNode): Promise<boolean> {
  if (node.leaderHint() !== null || node.awaitLeader === undefined) return false;
  await node.awaitLeader();
  return node.isLeader();
}

function notLeader(node: KvNode): KvResponse {
  return { type: 'notLeader', leaderHint: node.leaderHint() };
}

/** LeaderWaitOptions configure a {@link LeaderWait}. */
export interface LeaderWaitOptions {
  /**
   * How long after losing its leader a node holds requests, in ms: about one
   * maximum election timeout, within which an election normally ends (§5.2;
   * a split vote takes another).
   */
  readonly maxWaitMs: number;
  /** Most requests held at once (their bytes stay in memory); further ones are not held. Default 4096. */
  readonly maxHeld?: number;
}

/** A request held by a {@link LeaderWait}. */
interface Held {
  readonly deadline: number;
  readonly release: () => void;
}

/**
 * LeaderWait holds the client requests that reach a node knowing no leader,
 * the node side of {@link KvNode.awaitLeader}. Such a node has no redirect
 * to give (thesis §6.2), and answering at once sends the client into its
 * backoff and a round over every node, which outlasts the election; held
 * instead, a request is answered as soon as the node learns the new leader
 * (a redirect with its hint) or becomes it (served), so clients see about
 * the election's unavailability.
 *
 * Requests are held only within `maxWaitMs` of the node losing its leader
 * (each until then at most). A node leaderless for longer is most likely cut
 * off from a quorum: it answers at once again, so that a client's leader
 * search still ends in NotLeaderError after its rounds rather than spending
 * its whole deadline held (and failing with TimeoutError, outcome unknown).
 *
 * The node calls {@link leaderLost} and {@link leaderKnown} as the leader it
 * knows of changes, and {@link close} when it stops. Deadlines of all held
 * requests share one timer.
 */
export class LeaderWait {
  private readonly maxWaitMs: number;
  private readonly maxHeld: number;
  private readonly held = new Deadlines<Held>((h) => h.release());
  private closed = false;
  /** When the node's current stretch without a known leader began (a `Date.now()` time); null while it knows one. */
  private leaderlessSince: number | null = null;

  constructor(options: LeaderWaitOptions) {
    const { maxWaitMs, maxHeld = 4096 } = options;
    if (!(Number.isFinite(maxWaitMs) && maxWaitMs >= 0))
      throw new RangeError(`LeaderWait maxWaitMs must be a non-negative number, got ${maxWaitMs}`);
    if (!(Number.isSafeInteger(maxHeld) && maxHeld >= 0))
      throw new RangeError(`LeaderWait maxHeld must be a non-negative integer, got ${maxHeld}`);
    this.maxWaitMs = maxWaitMs;
    this.maxHeld = maxHeld;
  }

  /** size is the number of requests held now. */
  get size(): number {
    return this.held.size;
  }

  /**
   * wait is called while the node knows no leader; it resolves at
   * {@link leaderKnown} or {@link close}, or `maxWaitMs` after the node lost
   * its leader (after this call, if {@link leaderLost} was not called); at
   * once when that time has passed, when closed, or when `maxHeld` requests
   * are held.
   */
  wait(): Promise<void> {
    if (this.closed || this.held.size >= this.maxHeld) return Promise.resolve();
    const now = Date.now();
    this.leaderlessSince ??= now;
    const deadline = this.leaderlessSince + this.maxWaitMs;
    if (deadline <= now) return Promise.resolve();
    return new Promise((resolve) => {
      this.held.add({ deadline, release: resolve });
    });
  }

  /** leaderLost notes that the node knows no leader any more (its leader went silent, or it campaigns). */
  leaderLost(): void {
    this.leaderlessSince ??= Date.now();
  }

  /** leaderKnown releases every held request: the node learned a leader or became one. */
  leaderKnown(): void {
    this.leaderlessSince = null;
    if (this.held.size === 0) return;
    for (const h of this.held.values()) if (this.held.delete(h)) h.release();
  }

  /** close releases every held request and holds no more: the node is stopping. */
  close(): void {
    this.closed = true;
    this.leaderKnown();
    this.held.close();
  }
}

/**
 * isApplyResultOf tells whether `result` is the KV apply result of `entry`
 * (the type and, for batches, client and seqs): a proposer checks it before
 * answering, since the entry at its index may be another leader's (§5.3).
 */
export function isApplyResultOf(entry: KvEntry, result: unknown): result is KvApplyResult {
  if (typeof result !== 'object' || result === null) return false;
  const r = result as Partial<Record<string, unknown>>;
  if (entry.type === 'register') return r.type === 'registered' && typeof r.clientId === 'number';
  if (r.type === 'rejected') return typeof r.reason === 'string';
  if (r.clientId !== entry.clientId) return false;
  if (r.type === 'sessionExpired') return true;
  if (r.type !== 'applied' || !Array.isArray(r.results) || r.results.length !== entry.commands.length)
    return false;
  return entry.commands.every((c, i) => (r.results as Array<{ seq?: unknown }>)[i]?.seq === c.seq);
}

function queryable(sm: StateMachine): KvQueryable {
  const q = sm as Partial<KvQueryable>;
  if (typeof q.query !== 'function') {
    throw new TypeError(
      'handleKvRequest: the node state machine has no query() method; start the cluster with the KV state machine',
    );
  }
  return q as KvQueryable;
}

function message(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}

function describe(result: unknown): string {
  const type = (result as { type?: unknown } | null)?.type;
  return typeof type === 'string' ? `a '${type}' result` : typeof result;
}
