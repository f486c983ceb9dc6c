import { assertNever } from '@xraft/core';
import { decodeResponse, encodeBatch, encodeRead, encodeRegister } from './codec.js';
import type { KvCommandResult, KvOp, KvPair, KvQuery, KvQueryResult, ReadMode, Value } from './commands.js';
import { Deadlines } from './deadlines.js';
import {
  ClosedError,
  NotLeaderError,
  RequestRejectedError,
  SessionExpiredError,
  TimeoutError,
  UndeliveredError,
} from './errors.js';
import type { KvResponse } from './protocol.js';
import type { KvTransport, SendTarget } from './transport.js';
import { checkKey, own, show } from './validate.js';

/** KvClientOptions configure a {@link KvClient} (`cluster.client(options)`). */
export interface KvClientOptions {
  /** Overall time a call may take, leader search and retries included, before it fails with TimeoutError. Default 5000 ms. */
  readonly timeoutMs?: number;
  /** Time one request to one node may take before the client tries elsewhere. Default 1000 ms. */
  readonly attemptTimeoutMs?: number;
  /** Read mode of `get` and `list` when the call names none. Default 'linearizable'. */
  readonly read?: ReadMode;
  /**
   * The bound on clock drift between nodes, in ms, that lease reads assume
   * (thesis §6.4.1): the leader shortens its lease by it. Lease reads are only
   * as safe as this bound is true, so there is no default: `read: 'lease'`
   * without it is refused.
   */
  readonly leaseClockDriftMs?: number;
  /**
   * Rounds over every node without finding a leader before a call fails with
   * NotLeaderError. Default 20: with the default backoff, about 1.2 s (at most
   * 1.65 s) of search, several election timeouts.
   */
  readonly maxLeaderSearchRounds?: number;
  /** Wait after the first fruitless round, doubled after each next one (with jitter). Default 10 ms. */
  readonly backoffMs?: number;
  /**
   * Cap on the wait between rounds. Default 100 ms, under the minimum election
   * timeout: once a new leader is elected, clients find it within about this
   * long, so their unavailability is the election's, not their backoff's.
   */
  readonly maxBackoffMs?: number;
  /** Most commands (or queries) in one request. Default 1000. */
  readonly maxBatchSize?: number;
  /** Source of backoff jitter in [0, 1). Default Math.random. */
  readonly random?: () => number;
}

/** GetOptions are the options of {@link KvClient.get}. */
export interface GetOptions {
  /** How the read is made linearizable (or not): see {@link ReadMode}. Default: the client's `read` option. */
  readonly read?: ReadMode;
}

const DEFAULTS = {
  timeoutMs: 5000,
  attemptTimeoutMs: 1000,
  read: 'linearizable' as ReadMode,
  maxLeaderSearchRounds: 20,
  backoffMs: 10,
  maxBackoffMs: 100,
  maxBatchSize: 1000,
};
const READ_MODES: readonly ReadMode[] = ['linearizable', 'lease', 'stale'];
/** A batch whose surely-unapplied commands met this many expired sessions in a row gives up on them. */
const MAX_SESSION_RENEWALS = 3;
/** Slack past the transport's own timeout before the client stops waiting on a send itself. */
const SEND_GRACE_MS = 100;

/**
 * Call is one pending call of the client. Calls are classes of fixed shape
 * (the hot path touches them all alike), and a call carries what is encoded
 * of it, so a request is encoded straight from the calls of its batch.
 */
abstract class Call {
  settled = false;
  /** Some attempt carrying it may have reached a node (in the current session, for a write): it may have been applied. */
  maybeSent = false;
  /** Its slot in the client's `pending` {@link Deadlines}. */
  deadlineSlot = -1;

  constructor(
    readonly deadline: number,
    readonly reject: (err: unknown) => void,
  ) {}

  /** operation names the call in errors, as `put("key")` (made only when an error needs it). */
  abstract get operation(): string;
}

type WriteType = KvOp['type'];

/** WriteCall is a pending put, delete, append or cas: the fields of its command (`CommandFields`) and its promise. */
class WriteCall extends Call {
  constructor(
    deadline: number,
    reject: (err: unknown) => void,
    readonly resolve: (value: undefined | boolean) => void,
    readonly type: WriteType,
    readonly key: string,
    readonly value: Value | undefined,
    readonly suffix: Value | undefined,
    readonly expected: Value | undefined,
    /** The request's sequence number (thesis §6.3), the same on every retry. */
    readonly seq: number,
  ) {
    super(deadline, reject);
  }

  get operation(): string {
    return `${this.type}(${show(this.key)})`;
  }

  /** answer settles the call's promise with what `result` means for its method. */
  answer(result: KvCommandResult): void {
    switch (this.type) {
      case 'put':
      case 'append':
        if (result.type === 'ok') {
          this.resolve(undefined);
          return;
        }
        break;
      case 'delete':
        if (result.type === 'deleted') {
          this.resolve(result.existed);
          return;
        }
        break;
      case 'cas':
        if (result.type === 'cas') {
          this.resolve(result.swapped);
          return;
        }
        break;
    }
    this.reject(unexpected(this.operation, result.type));
  }
}

/** ReadCall is a pending get or list: the fields of its query (`QueryFields`) and its promise. */
class ReadCall extends Call {
  constructor(
    deadline: number,
    reject: (err: unknown) => void,
    readonly resolve: (value: Value | undefined | Array<{ key: string; value: Value }>) => void,
    readonly type: KvQuery['type'],
    /** get: the key; list: the prefix. */
    readonly key: string,
    readonly limit: number | undefined,
  ) {
    super(deadline, reject);
  }

  get prefix(): string {
    return this.key;
  }

  get operation(): string {
    return `${this.type}(${show(this.key)})`;
  }

  /** answer settles the call's promise with what `result` means for its method. */
  answer(result: KvQueryResult): void {
    if (this.type === 'get' && result.type === 'value') {
      this.resolve(result.value);
      return;
    }
    if (this.type === 'list' && result.type === 'pairs') {
      this.resolve(result.pairs.map((p: KvPair) => ({ key: p.key, value: p.value })));
      return;
    }
    this.reject(unexpected(this.operation, result.type));
  }
}

/** What an exchange of a lane is for, which decides what its answer continues with. */
enum Step {
  Register,
  Batch,
  Read,
}

/**
 * Lane is one queue of calls sent one batch at a time (the writes, or the
 * reads of one mode), with the state of the batch in flight: its calls and
 * its exchange (thesis §6.2: the request, sent until a node answers it as
 * the leader). The batch in flight runs as explicit continuations, not an
 * async function: a round trip costs no promise of the client's own.
 */
class Lane<C extends Call> {
  queue: C[] = [];
  inflight = false;
  scheduled = false;
  /** The batch in flight, and `live`: its calls still unsettled when the current request was encoded. */
  batch: C[] = [];
  live: C[] = [];
  step = Step.Batch;
  /** Session renewals met by the batch in flight (writes). */
  renewals = 0;
  /** The session the current `batch` request carries (writes). */
  clientId = 0;
  request: Uint8Array = EMPTY_BYTES;
  leaderOnly = true;
  /** The node of the current attempt; failures and redirects of the exchange so far. */
  node = '';
  failures = 0;
  redirects = 0;

  constructor(
    /** The read mode of a read lane; null for the writes. */
    readonly mode: ReadMode | null,
    /** Pumps this lane (bound once). */
    readonly pump: () => void,
  ) {}
}

const EMPTY_BYTES = new Uint8Array(0);

/** AttemptOwner is the client's side of its attempts (its private methods, reached from {@link Attempt}). */
interface AttemptOwner {
  answered(attempt: Attempt, response: Uint8Array): void;
  failed(attempt: Attempt, error: unknown): void;
}

/** Attempt is one request to one node awaiting its answer until `deadline`; the transport's {@link SendTarget}. */
class Attempt implements SendTarget {
  /** Its slot in the client's `attempts` {@link Deadlines}. */
  deadlineSlot = -1;

  constructor(
    readonly lane: Lane<Call>,
    readonly deadline: number,
    private readonly owner: AttemptOwner,
  ) {}

  answered(response: Uint8Array): void {
    this.owner.answered(this, response);
  }

  failed(error: unknown): void {
    this.owner.failed(this, error);
  }
}

/** What ended an attempt without a response: surely not delivered, or maybe delivered (no answer came). */
const UNDELIVERED = 0;
const MAYBE = 1;
type Outcome = KvResponse | typeof UNDELIVERED | typeof MAYBE;

/**
 * KvClient is the client of the replicated KV store (DESIGN.md "The KvClient
 * contract"), following thesis chapter 6:
 * - it finds the leader by trying nodes and following their `leaderHint`
 *   redirects (§6.2), and retries across leader changes and lost replies;
 * - writes are exactly-once (§6.3): the client registers a session lazily on
 *   its first write, numbers every write, and retries it with the same
 *   (clientId, seq) until it gets the original result; every request carries
 *   the lowest seq still awaiting an answer, so the cluster can drop older results;
 * - reads use ReadIndex by default (§6.4), lease reads with a stated drift
 *   bound (§6.4.1), or named-stale reads from any node;
 * - concurrent calls are batched: calls made while a batch is in flight (or
 *   in the same tick) go together in the next request, one log entry per
 *   write batch. With one write batch in flight at a time, writes are applied
 *   in the order they were called.
 *
 * Errors: TimeoutError (outcome unknown), NotLeaderError (not applied),
 * ClosedError, SessionExpiredError (outcome unknown), RequestRejectedError.
 */
export class KvClient {
  private readonly options: Required<Omit<KvClientOptions, 'leaseClockDriftMs'>> &
    Pick<KvClientOptions, 'leaseClockDriftMs'>;
  private closed = false;
  /** The node believed to lead, or null while searching. */
  private leader: string | null = null;
  /** Next node to try when no leader is known. */
  private cursor = 0;
  /** Session id (the log index of its `register` entry), or null before registering / after expiry. */
  private clientId: number | null = null;
  private nextSeq = 1;
  /**
   * Writes in seq order from `unansweredFrom` on, settled ones included until
   * {@link ackedSeq} drops them from the front. Invariant: every unsettled
   * write is at or after `unansweredFrom`.
   */
  private unanswered: WriteCall[] = [];
  private unansweredFrom = 0;
  private readonly writes: Lane<WriteCall> = new Lane<WriteCall>(null, () => this.pumpWrites());
  private readonly reads = new Map<ReadMode, Lane<ReadCall>>();
  /** Every unsettled call, failed with TimeoutError at its deadline (one timer for all). */
  private readonly pending = new Deadlines<Call>((call) => this.fail(call, this.timeoutError(call)));
  /** Every attempt awaiting its answer, given up as maybe delivered at its deadline (one timer for all). */
  private readonly attempts = new Deadlines<Attempt>((attempt) => this.attemptEnded(attempt.lane, MAYBE));
  /** Wake-ups of backoff sleeps, for close(). */
  private readonly sleepers = new Set<() => void>();
  private readonly attemptOwner: AttemptOwner = {
    answered: (attempt, response) => this.attemptAnswered(attempt, response),
    failed: (attempt, error) => this.attemptFailed(attempt, error),
  };

  constructor(
    private readonly transport: KvTransport,
    options: KvClientOptions = {},
  ) {
    if (transport.nodes.length === 0) throw new TypeError('KvClient: the transport lists no nodes');
    const o = { ...DEFAULTS, random: Math.random, ...definedOnly(options) };
    for (const name of [
      'timeoutMs',
      'attemptTimeoutMs',
      'maxLeaderSearchRounds',
      'backoffMs',
      'maxBackoffMs',
      'maxBatchSize',
    ] as const) {
      if (!(Number.isFinite(o[name]) && o[name] > 0)) {
        throw new RangeError(`KvClient option ${name} must be a positive number, got ${o[name]}`);
      }
    }
    if (
      o.leaseClockDriftMs !== undefined &&
      !(Number.isSafeInteger(o.leaseClockDriftMs) && o.leaseClockDriftMs >= 0)
    ) {
      throw new RangeError(
        `KvClient option leaseClockDriftMs must be a non-negative integer, got ${o.leaseClockDriftMs}`,
      );
    }
    this.options = o;
    this.readMode('KvClient option read', o.read);
  }

  /** put sets `key` to `value` (a string or bytes, returned as the same kind). */
  put(key: string, value: Value): Promise<void> {
    try {
      checkKeyOf('put', key);
      return this.write(
        'put',
        key,
        ownValue('put', key, 'value', value),
        undefined,
        undefined,
      ) as Promise<void>;
    } catch (err) {
      return Promise.reject(err);
    }
  }

  /** get returns the value of `key` as written, or undefined. */
  get(key: string, options: GetOptions = {}): Promise<Value | undefined> {
    try {
      checkKeyOf('get', key);
      const mode =
        options.read === undefined ? this.options.read : this.readMode(opName('get', key), options.read);
      return this.read(mode, 'get', key, undefined) as Promise<Value | undefined>;
    } catch (err) {
      return Promise.reject(err);
    }
  }

  /** delete removes `key`; resolves with whether it existed. */
  delete(key: string): Promise<boolean> {
    try {
      checkKeyOf('delete', key);
      return this.write('delete', key, undefined, undefined, undefined) as Promise<boolean>;
    } catch (err) {
      return Promise.reject(err);
    }
  }

  /** append appends `suffix` to the value of `key` (a missing key counts as ''). */
  append(key: string, suffix: Value): Promise<void> {
    try {
      checkKeyOf('append', key);
      const s = ownValue('append', key, 'suffix', suffix);
      return this.write('append', key, undefined, s, undefined) as Promise<void>;
    } catch (err) {
      return Promise.reject(err);
    }
  }

  /** cas sets `key` to `value` if it holds `expected` (undefined: if it is absent); resolves with whether it did. */
  cas(key: string, expected: Value | undefined, value: Value): Promise<boolean> {
    try {
      checkKeyOf('cas', key);
      const e = expected === undefined ? undefined : ownValue('cas', key, 'expected', expected);
      const v = ownValue('cas', key, 'value', value);
      return this.write('cas', key, v, undefined, e) as Promise<boolean>;
    } catch (err) {
      return Promise.reject(err);
    }
  }

  /** list returns the keys starting with `prefix` and their values, sorted by key, at most `limit` of them. */
  list(prefix: string, limit?: number): Promise<Array<{ key: string; value: Value }>> {
    try {
      checkKeyOf('list', prefix);
      if (limit !== undefined && !(Number.isSafeInteger(limit) && limit >= 0)) {
        throw new TypeError(
          `${opName('list', prefix)}: limit must be a non-negative integer or undefined, got ${limit}`,
        );
      }
      return this.read(this.options.read, 'list', prefix, limit) as Promise<
        Array<{ key: string; value: Value }>
      >;
    } catch (err) {
      return Promise.reject(err);
    }
  }

  /** close stops the client: pending calls reject with ClosedError (they may or may not have been applied). */
  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    for (const call of this.pending.values()) this.fail(call, new ClosedError(call.operation));
    for (const attempt of this.attempts.values()) {
      if (this.attempts.delete(attempt)) this.attemptEnded(attempt.lane, MAYBE);
    }
    this.pending.close();
    this.attempts.close();
    this.writes.queue = [];
    for (const lane of this.reads.values()) lane.queue = [];
    for (const wake of [...this.sleepers]) wake();
    await this.transport.close?.();
  }

  // ---- calls ----

  private write(
    type: WriteType,
    key: string,
    value: Value | undefined,
    suffix: Value | undefined,
    expected: Value | undefined,
  ): Promise<undefined | boolean> {
    return new Promise((resolve, reject) => {
      if (this.closed) {
        reject(new ClosedError(opName(type, key)));
        return;
      }
      const deadline = Date.now() + this.options.timeoutMs;
      const seq = this.nextSeq++;
      const call = new WriteCall(deadline, reject, resolve, type, key, value, suffix, expected, seq);
      this.pending.add(call);
      this.unanswered.push(call);
      this.writes.queue.push(call);
      this.schedule(this.writes);
    });
  }

  private read(
    mode: ReadMode,
    type: KvQuery['type'],
    key: string,
    limit: number | undefined,
  ): Promise<Value | undefined | Array<{ key: string; value: Value }>> {
    return new Promise((resolve, reject) => {
      if (this.closed) {
        reject(new ClosedError(opName(type, key)));
        return;
      }
      const call = new ReadCall(Date.now() + this.options.timeoutMs, reject, resolve, type, key, limit);
      this.pending.add(call);
      const lane = this.readLane(mode);
      lane.queue.push(call);
      this.schedule(lane);
    });
  }

  private timeoutError(call: Call): TimeoutError {
    return new TimeoutError(call.operation, this.options.timeoutMs, call instanceof WriteCall);
  }

  /** settle marks `call` answered; false if it already was. */
  private settle(call: Call): boolean {
    if (call.settled) return false;
    call.settled = true;
    this.pending.delete(call);
    return true;
  }

  private fail(call: Call, err: unknown): void {
    if (this.settle(call)) call.reject(err);
  }

  // ---- batching ----

  /** schedule pumps `lane` at the end of this tick, so calls made in the same tick share a request. */
  private schedule(lane: Lane<Call>): void {
    if (lane.scheduled || lane.inflight) return;
    lane.scheduled = true;
    queueMicrotask(lane.pump);
  }

  /** take removes up to maxBatchSize unsettled calls from the front of `lane`. */
  private take<C extends Call>(lane: Lane<C>): C[] {
    const queue = lane.queue;
    const max = this.options.maxBatchSize;
    if (queue.length <= max) {
      // The common case: the whole queue goes (settled calls are skipped when the request is encoded).
      lane.queue = [];
      return queue;
    }
    const batch = queue.slice(0, max);
    lane.queue = queue.slice(max);
    return batch;
  }

  private pumpWrites(): void {
    const lane = this.writes;
    lane.scheduled = false;
    if (this.closed || lane.inflight) return;
    const batch = this.take(lane);
    if (batch.length === 0) return;
    lane.inflight = true;
    lane.batch = batch;
    lane.renewals = 0;
    this.guarded(lane, this.writeRound);
  }

  private pumpReads(lane: Lane<ReadCall>): void {
    lane.scheduled = false;
    if (this.closed || lane.inflight) return;
    const batch = this.take(lane);
    if (batch.length === 0) return;
    lane.inflight = true;
    lane.batch = batch;
    this.guarded(lane, this.readRound);
  }

  /** guarded runs a step of `lane`'s batch; a step that throws fails every call of the batch, and the lane goes on. */
  private guarded<C extends Call>(lane: Lane<C>, step: (this: KvClient, lane: Lane<C>) => void): void {
    try {
      step.call(this, lane);
    } catch (err) {
      for (const call of lane.batch) this.fail(call, err);
      this.laneDone(lane);
    }
  }

  /** laneDone ends the batch in flight of `lane` and sends the next one, if any. */
  private laneDone(lane: Lane<Call>): void {
    lane.inflight = false;
    lane.batch = [];
    lane.live = [];
    lane.request = EMPTY_BYTES;
    if (lane.mode === null) this.ackedSeq(); // Drops the answered writes from the front.
    lane.pump();
  }

  private readLane(mode: ReadMode): Lane<ReadCall> {
    let lane = this.reads.get(mode);
    if (lane === undefined) {
      const l: Lane<ReadCall> = new Lane<ReadCall>(mode, () => this.pumpReads(l));
      this.reads.set(mode, l);
      lane = l;
    }
    return lane;
  }

  // ---- writes: sessions and exactly-once (thesis §6.3) ----

  /**
   * writeRound sends the write batch in flight once more, until every call
   * has its result: it registers a session if there is none, then sends the
   * batch (encoded from its calls still unsettled, same seqs).
   */
  private writeRound(lane: Lane<WriteCall>): void {
    const live = unsettled(lane.batch);
    if (live.length === 0 || this.closed) {
      this.laneDone(lane);
      return;
    }
    lane.live = live;
    if (this.clientId === null) {
      lane.step = Step.Register;
      this.exchange(lane, encodeRegister(), true);
      return;
    }
    lane.step = Step.Batch;
    lane.clientId = this.clientId;
    this.exchange(lane, encodeBatch(this.clientId, this.ackedSeq(), live), true);
  }

  /** registered continues a write batch after its `register` exchange (thesis §6.3: the session id is the entry's index). */
  private registered(lane: Lane<WriteCall>, response: KvResponse | null): void {
    if (response !== null) {
      if (response.type === 'registered') {
        this.clientId = response.clientId;
      } else {
        for (const c of lane.live) {
          this.fail(
            c,
            response.type === 'rejected'
              ? new RequestRejectedError(c.operation, response.reason)
              : unexpected(c.operation, response.type),
          );
        }
      }
    }
    this.writeRound(lane);
  }

  /** applied continues a write batch after its `batch` exchange. */
  private applied(lane: Lane<WriteCall>, response: KvResponse | null): void {
    const live = lane.live;
    const clientId = lane.clientId;
    if (response === null) {
      this.writeRound(lane);
      return;
    }
    switch (response.type) {
      case 'applied': {
        if (response.clientId !== clientId) {
          this.writeRound(lane); // Not ours: ask again.
          return;
        }
        const { results } = response;
        let inOrder = results.length === live.length;
        for (let i = 0; inOrder && i < results.length; i++) inOrder = results[i]!.seq === live[i]!.seq;
        if (inOrder) {
          for (let i = 0; i < live.length; i++) this.answerWrite(live[i]!, results[i]!);
        } else {
          const bySeq = new Map(results.map((r) => [r.seq, r]));
          for (const c of live) {
            const result = bySeq.get(c.seq);
            if (result !== undefined) this.answerWrite(c, result);
          }
        }
        this.writeRound(lane);
        return;
      }
      case 'sessionExpired': {
        if (response.clientId !== clientId) {
          this.writeRound(lane);
          return;
        }
        if (this.clientId === clientId) this.clientId = null;
        lane.renewals++;
        // A command that may have been applied before the session went is in doubt for good; one surely never
        // applied can go again in a new session (a few times: sessions may be evicted as fast as they open).
        for (const c of live) {
          if (c.maybeSent || lane.renewals >= MAX_SESSION_RENEWALS)
            this.fail(c, new SessionExpiredError(c.operation, clientId));
        }
        this.writeRound(lane);
        return;
      }
      case 'rejected':
        for (const c of live) this.fail(c, new RequestRejectedError(c.operation, response.reason));
        this.laneDone(lane);
        return;
      default:
        for (const c of live) this.fail(c, unexpected(c.operation, response.type));
        this.laneDone(lane);
        return;
    }
  }

  private answerWrite(call: WriteCall, result: KvCommandResult): void {
    if (this.settle(call)) call.answer(result);
  }

  /** ackedSeq is the lowest seq without an answer (thesis §6.3): the cluster may drop every result below it. */
  private ackedSeq(): number {
    const q = this.unanswered;
    let from = this.unansweredFrom;
    while (from < q.length && q[from]!.settled) from++;
    if (from === q.length) {
      this.unanswered = [];
      this.unansweredFrom = 0;
      return this.nextSeq;
    }
    if (from >= 1024 && from * 2 >= q.length) {
      this.unanswered = q.slice(from);
      from = 0;
    }
    this.unansweredFrom = from;
    return this.unanswered[from]!.seq;
  }

  // ---- reads (thesis §6.4) ----

  /** readRound sends the read batch in flight of `lane`, its calls still unsettled, until one node answers it. */
  private readRound(lane: Lane<ReadCall>): void {
    const live = unsettled(lane.batch);
    if (live.length === 0 || this.closed) {
      this.laneDone(lane);
      return;
    }
    lane.live = live;
    lane.step = Step.Read;
    const mode = lane.mode!;
    const drift = mode === 'lease' ? this.options.leaseClockDriftMs! : 0;
    this.exchange(lane, encodeRead(mode, drift, live), mode !== 'stale');
  }

  /** readAnswered continues a read batch after its exchange. */
  private readAnswered(lane: Lane<ReadCall>, response: KvResponse | null): void {
    const live = lane.live;
    if (response === null) {
      this.readRound(lane);
      return;
    }
    if (response.type === 'read' && response.results.length === live.length) {
      for (let i = 0; i < live.length; i++) {
        const call = live[i]!;
        if (this.settle(call)) call.answer(response.results[i]!);
      }
      this.laneDone(lane);
      return;
    }
    for (const c of live) {
      this.fail(
        c,
        response.type === 'rejected'
          ? new RequestRejectedError(c.operation, response.reason)
          : unexpected(c.operation, response.type),
      );
    }
    this.laneDone(lane);
  }

  // ---- finding the leader (thesis §6.2) ----

  /**
   * exchange sends `request` on behalf of `lane.live` until a node answers it
   * as the leader (any node, if not `leaderOnly`): to the known leader, else
   * the nodes in turn, following redirects at once. After each full round
   * over the nodes without a leader it backs off (doubling, jittered); after
   * `maxLeaderSearchRounds` rounds it gives up. Then {@link exchanged} goes
   * on with the response, or with null when the exchange ended without one.
   */
  private exchange(lane: Lane<Call>, request: Uint8Array, leaderOnly: boolean): void {
    lane.request = request;
    lane.leaderOnly = leaderOnly;
    lane.failures = 0;
    lane.redirects = 0;
    this.tryNode(lane);
  }

  /** tryNode makes the next attempt of `lane`'s exchange, or abandons it once nobody waits for it. */
  private tryNode(lane: Lane<Call>): void {
    const remaining = latestDeadline(lane.live) - Date.now();
    if (this.closed || remaining <= 0) {
      this.abandoned(lane);
      return;
    }
    const nodes = this.transport.nodes;
    const node = this.leader ?? nodes[this.cursor % nodes.length]!;
    lane.node = node;
    const timeoutMs = Math.min(this.options.attemptTimeoutMs, remaining);
    // Our own deadline too: a transport that never settles must not stall the batch behind this attempt.
    const attempt = new Attempt(lane, Date.now() + timeoutMs + SEND_GRACE_MS, this.attemptOwner);
    this.attempts.add(attempt);
    const transport = this.transport;
    try {
      if (transport.dispatch !== undefined) {
        transport.dispatch(node, lane.request, timeoutMs, attempt);
      } else {
        transport.send(node, lane.request, timeoutMs).then(
          (bytes) => attempt.answered(bytes),
          (err: unknown) => attempt.failed(err),
        );
      }
    } catch (err) {
      // As if it had rejected: the attempt ends on a later tick, never inside this one.
      queueMicrotask(() => attempt.failed(err));
    }
  }

  private attemptAnswered(attempt: Attempt, bytes: Uint8Array): void {
    if (this.attempts.delete(attempt)) this.attemptEnded(attempt.lane, decodeOrMaybe(bytes));
  }

  private attemptFailed(attempt: Attempt, err: unknown): void {
    if (this.attempts.delete(attempt))
      this.attemptEnded(attempt.lane, err instanceof UndeliveredError ? UNDELIVERED : MAYBE);
  }

  /**
   * attemptEnded goes on with `lane`'s exchange after one attempt: its decoded
   * response; UNDELIVERED if the transport knows it never arrived; MAYBE if no
   * answer came (lost, timed out, garbled), so it may have been applied.
   */
  private attemptEnded(lane: Lane<Call>, outcome: Outcome): void {
    try {
      this.nextAttempt(lane, outcome);
    } catch (err) {
      for (const call of lane.batch) this.fail(call, err);
      this.laneDone(lane);
    }
  }

  private nextAttempt(lane: Lane<Call>, outcome: Outcome): void {
    if (this.closed) {
      this.abandoned(lane);
      return;
    }
    const nodes = this.transport.nodes;
    const node = lane.node;
    if (outcome === UNDELIVERED) {
      // Surely not applied: just try the next node.
    } else if (outcome === MAYBE || outcome.type === 'unavailable') {
      if (lane.step === Step.Batch) for (const c of lane.live) c.maybeSent = true;
    } else if (outcome.type === 'notLeader') {
      const hint = outcome.leaderHint;
      if (hint !== null && hint !== node && nodes.includes(hint) && lane.redirects < nodes.length) {
        this.leader = hint;
        lane.redirects++;
        this.tryNode(lane);
        return;
      }
    } else {
      if (lane.leaderOnly) this.leader = node;
      this.exchanged(lane, outcome);
      return;
    }
    // `node` did not answer as the leader: forget it, try the next node, back off after each full round.
    if (this.leader === node) this.leader = null;
    this.cursor = nodes.indexOf(node) + 1;
    lane.redirects = 0;
    lane.failures++;
    if (lane.failures % nodes.length === 0) {
      const round = lane.failures / nodes.length;
      if (round >= this.options.maxLeaderSearchRounds) {
        this.noLeader(lane, round);
        return;
      }
      this.sleep(this.backoff(round), lane);
      return;
    }
    this.tryNode(lane);
  }

  /**
   * noLeader ends an exchange that searched every node for its rounds
   * without finding a leader: calls surely not applied fail with
   * NotLeaderError; writes that may have been applied stay, to try again
   * until their deadline.
   */
  private noLeader(lane: Lane<Call>, rounds: number): void {
    for (const c of lane.live) {
      if (!c.maybeSent) this.fail(c, new NotLeaderError(c.operation, rounds, this.transport.nodes));
    }
    this.exchanged(lane, null);
  }

  /** abandoned ends an exchange nobody waits for any more (every call settled or past its deadline, or the client closed). */
  private abandoned(lane: Lane<Call>): void {
    if (!this.closed) {
      const now = Date.now();
      for (const c of lane.live) if (c.deadline <= now) this.fail(c, this.timeoutError(c));
    }
    this.exchanged(lane, null);
  }

  /** exchanged goes on with `lane`'s batch once its exchange ended: with the response, or null without one. */
  private exchanged(lane: Lane<Call>, response: KvResponse | null): void {
    switch (lane.step) {
      case Step.Register:
        this.registered(lane as Lane<WriteCall>, response);
        return;
      case Step.Batch:
        this.applied(lane as Lane<WriteCall>, response);
        return;
      case Step.Read:
        this.readAnswered(lane as Lane<ReadCall>, response);
        return;
      default:
        assertNever(lane.step, 'lane step');
    }
  }

  private backoff(round: number): number {
    const base = Math.min(this.options.maxBackoffMs, this.options.backoffMs * 2 ** (round - 1));
    return base / 2 + (base / 2) * this.options.random();
  }

  /** sleep waits `ms` (or until close), then makes `lane`'s next attempt. */
  private sleep(ms: number, lane: Lane<Call>): void {
    const wake = () => {
      clearTimeout(timer);
      this.sleepers.delete(wake);
      this.guarded(lane, this.tryNode);
    };
    const timer = setTimeout(wake, ms);
    this.sleepers.add(wake);
  }

  private readMode(op: string, mode: ReadMode | undefined): ReadMode {
    const m = mode ?? this.options.read;
    if (!READ_MODES.includes(m)) {
      throw new TypeError(
        `${op}: read mode must be one of ${READ_MODES.join(', ')}, got ${JSON.stringify(m)}`,
      );
    }
    if (m === 'lease' && this.options.leaseClockDriftMs === undefined) {
      throw new TypeError(
        `${op}: lease reads need a stated bound on clock drift between nodes: create the client with { leaseClockDriftMs } (thesis §6.4.1), or use read: 'linearizable'`,
      );
    }
    return m;
  }
}

/** opName names a call in errors, as `put("key")`. */
function opName(method: string, key: unknown): string {
  return `${method}(${show(key)})`;
}

/** checkKeyOf is checkKey, with the call's name made only when the key is refused. */
function checkKeyOf(method: string, key: unknown): void {
  if (typeof key !== 'string' || !isWellFormed(key)) checkKey(opName(method, key), key);
}

/** ownValue is own, with the call's name made only when the value is refused (bytes are copied). */
function ownValue(method: string, key: string, name: string, value: unknown): Value {
  if (typeof value === 'string' && isWellFormed(value)) return value;
  return own(opName(method, key), name, value);
}

/** isWellFormed: no lone surrogates, so UTF-8 round-trips the string (String.prototype.isWellFormed, Node 20+). */
function isWellFormed(s: string): boolean {
  return (s as string & { isWellFormed(): boolean }).isWellFormed();
}

/** unsettled is `calls` without the settled ones (`calls` itself when none is). */
function unsettled<C extends Call>(calls: C[]): C[] {
  for (let i = 0; i < calls.length; i++) if (calls[i]!.settled) return calls.filter((c) => !c.settled);
  return calls;
}

/** decodeOrMaybe decodes a response; a garbled one is no answer, so the request may have been applied. */
function decodeOrMaybe(bytes: Uint8Array): KvResponse | typeof MAYBE {
  try {
    return decodeResponse(bytes);
  } catch {
    return MAYBE;
  }
}

function latestDeadline(calls: readonly Call[]): number {
  let latest = Number.NEGATIVE_INFINITY;
  for (let i = 0; i < calls.length; i++) {
    const c = calls[i]!;
    if (!c.settled && c.deadline > latest) latest = c.deadline;
  }
  return latest;
}

function unexpected(op: string, type: string): Error {
  return new Error(
    `${op}: unexpected '${type}' answer from the cluster (client and nodes disagree on the protocol)`,
  );
}

function definedOnly<T extends object>(o: T): Partial<T> {
  return Object.fromEntries(Object.entries(o).filter(([, v]) => v !== undefined)) as Partial<T>;
}
