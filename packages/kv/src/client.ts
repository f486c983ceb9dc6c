import { decodeResponse, encodeRequest } from './codec.js';
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
import type { KvTransport } from './transport.js';
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

interface Call {
  readonly operation: string;
  readonly deadline: number;
  settled: boolean;
  readonly reject: (err: unknown) => void;
}

interface WriteCall extends Call {
  readonly op: KvOp;
  /** The request's sequence number (thesis §6.3), the same on every retry. */
  readonly seq: number;
  /** Some attempt carrying it may have reached a node in the current session: it may have been applied. */
  maybeSent: boolean;
  readonly resolve: (result: KvCommandResult) => void;
}

interface ReadCall extends Call {
  readonly query: KvQuery;
  readonly resolve: (result: KvQueryResult) => void;
}

/** Attempt is one request to one node awaiting its answer until `deadline`. */
interface Attempt {
  readonly deadline: number;
  readonly resolve: (outcome: KvResponse | 'undelivered' | 'maybe') => void;
}

interface Lane<C> {
  queue: C[];
  inflight: boolean;
  scheduled: boolean;
}

/** NoLeaderFound ends an exchange that searched every node for its rounds without finding a leader. */
class NoLeaderFound {
  constructor(readonly rounds: number) {}
}
/** ABANDONED ends an exchange nobody waits for any more (every call settled, or the client closed). */
const ABANDONED = Symbol('abandoned');

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
  /** Writes without an answer, by seq. Invariant: in ascending seq order (inserted as numbered). */
  private readonly liveWrites = new Map<number, WriteCall>();
  private readonly writes: Lane<WriteCall> = { queue: [], inflight: false, scheduled: false };
  private readonly reads = new Map<ReadMode, Lane<ReadCall>>();
  /** Every unsettled call, failed with TimeoutError at its deadline (one timer for all). */
  private readonly pending = new Deadlines<Call>((call) => this.fail(call, this.timeoutError(call)));
  /** Every attempt awaiting its answer, given up as 'maybe' at its deadline (one timer for all). */
  private readonly attempts = new Deadlines<Attempt>((attempt) => attempt.resolve('maybe'));
  /** Wake-ups of backoff sleeps, for close(). */
  private readonly sleepers = new Set<() => void>();

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
  async put(key: string, value: Value): Promise<void> {
    const op = `put(${show(key)})`;
    checkKey(op, key);
    expect(op, await this.write({ type: 'put', key, value: own(op, 'value', value) }, op), 'ok');
  }

  /** get returns the value of `key` as written, or undefined. */
  async get(key: string, options: GetOptions = {}): Promise<Value | undefined> {
    const op = `get(${show(key)})`;
    checkKey(op, key);
    const result = await this.read({ type: 'get', key }, this.readMode(op, options.read), op);
    if (result.type !== 'value') throw unexpected(op, result.type);
    return result.value;
  }

  /** delete removes `key`; resolves with whether it existed. */
  async delete(key: string): Promise<boolean> {
    const op = `delete(${show(key)})`;
    checkKey(op, key);
    return expect(op, await this.write({ type: 'delete', key }, op), 'deleted').existed;
  }

  /** append appends `suffix` to the value of `key` (a missing key counts as ''). */
  async append(key: string, suffix: Value): Promise<void> {
    const op = `append(${show(key)})`;
    checkKey(op, key);
    expect(op, await this.write({ type: 'append', key, suffix: own(op, 'suffix', suffix) }, op), 'ok');
  }

  /** cas sets `key` to `value` if it holds `expected` (undefined: if it is absent); resolves with whether it did. */
  async cas(key: string, expected: Value | undefined, value: Value): Promise<boolean> {
    const op = `cas(${show(key)})`;
    checkKey(op, key);
    const cas: KvOp = {
      type: 'cas',
      key,
      expected: expected === undefined ? undefined : own(op, 'expected', expected),
      value: own(op, 'value', value),
    };
    return expect(op, await this.write(cas, op), 'cas').swapped;
  }

  /** list returns the keys starting with `prefix` and their values, sorted by key, at most `limit` of them. */
  async list(prefix: string, limit?: number): Promise<Array<{ key: string; value: Value }>> {
    const op = `list(${show(prefix)})`;
    checkKey(op, prefix);
    if (limit !== undefined && !(Number.isSafeInteger(limit) && limit >= 0)) {
      throw new TypeError(`${op}: limit must be a non-negative integer or undefined, got ${limit}`);
    }
    const result = await this.read({ type: 'list', prefix, limit }, this.readMode(op, undefined), op);
    if (result.type !== 'pairs') throw unexpected(op, result.type);
    return result.pairs.map((p: KvPair) => ({ key: p.key, value: p.value }));
  }

  /** close stops the client: pending calls reject with ClosedError (they may or may not have been applied). */
  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    for (const call of this.pending.values()) this.fail(call, new ClosedError(call.operation));
    for (const attempt of this.attempts.values()) attempt.resolve('maybe');
    this.pending.close();
    this.attempts.close();
    this.writes.queue = [];
    for (const lane of this.reads.values()) lane.queue = [];
    for (const wake of [...this.sleepers]) wake();
    await this.transport.close?.();
  }

  // ---- calls ----

  private write(op: KvOp, operation: string): Promise<KvCommandResult> {
    return new Promise((resolve, reject) => {
      if (this.closed) return reject(new ClosedError(operation));
      const call: WriteCall = {
        operation,
        deadline: Date.now() + this.options.timeoutMs,
        settled: false,
        reject,
        op,
        seq: this.nextSeq++,
        maybeSent: false,
        resolve,
      };
      this.pending.add(call);
      this.liveWrites.set(call.seq, call);
      this.writes.queue.push(call);
      this.schedule(this.writes, () => this.pumpWrites());
    });
  }

  private read(query: KvQuery, mode: ReadMode, operation: string): Promise<KvQueryResult> {
    return new Promise((resolve, reject) => {
      if (this.closed) return reject(new ClosedError(operation));
      const call: ReadCall = {
        operation,
        deadline: Date.now() + this.options.timeoutMs,
        settled: false,
        reject,
        query,
        resolve,
      };
      this.pending.add(call);
      const lane = this.readLane(mode);
      lane.queue.push(call);
      this.schedule(lane, () => this.pumpReads(mode));
    });
  }

  private timeoutError(call: Call): TimeoutError {
    return new TimeoutError(call.operation, this.options.timeoutMs, 'seq' in call);
  }

  /** settle marks `call` answered; false if it already was. */
  private settle(call: Call): boolean {
    if (call.settled) return false;
    call.settled = true;
    this.pending.delete(call);
    if ('seq' in call) this.liveWrites.delete((call as WriteCall).seq);
    return true;
  }

  private fail(call: Call, err: unknown): void {
    if (this.settle(call)) call.reject(err);
  }

  private answerWrite(call: WriteCall, result: KvCommandResult): void {
    if (this.settle(call)) call.resolve(result);
  }

  private answerRead(call: ReadCall, result: KvQueryResult): void {
    if (this.settle(call)) call.resolve(result);
  }

  // ---- batching ----

  /** schedule pumps `lane` at the end of this tick, so calls made in the same tick share a request. */
  private schedule(lane: Lane<Call>, pump: () => void): void {
    if (lane.scheduled || lane.inflight) return;
    lane.scheduled = true;
    queueMicrotask(() => {
      lane.scheduled = false;
      pump();
    });
  }

  /** take removes up to maxBatchSize unsettled calls from the front of `lane`. */
  private take<C extends Call>(lane: Lane<C>): C[] {
    const batch: C[] = [];
    let i = 0;
    for (; i < lane.queue.length && batch.length < this.options.maxBatchSize; i++) {
      const call = lane.queue[i]!;
      if (!call.settled) batch.push(call);
    }
    lane.queue.splice(0, i);
    return batch;
  }

  private pumpWrites(): void {
    const lane = this.writes;
    if (this.closed || lane.inflight) return;
    const batch = this.take(lane);
    if (batch.length === 0) return;
    lane.inflight = true;
    this.runWrites(batch)
      .catch((err: unknown) => {
        for (const call of batch) this.fail(call, err);
      })
      .finally(() => {
        lane.inflight = false;
        this.pumpWrites();
      });
  }

  private pumpReads(mode: ReadMode): void {
    const lane = this.readLane(mode);
    if (this.closed || lane.inflight) return;
    const batch = this.take(lane);
    if (batch.length === 0) return;
    lane.inflight = true;
    this.runReads(mode, batch)
      .catch((err: unknown) => {
        for (const call of batch) this.fail(call, err);
      })
      .finally(() => {
        lane.inflight = false;
        this.pumpReads(mode);
      });
  }

  private readLane(mode: ReadMode): Lane<ReadCall> {
    let lane = this.reads.get(mode);
    if (lane === undefined) {
      lane = { queue: [], inflight: false, scheduled: false };
      this.reads.set(mode, lane);
    }
    return lane;
  }

  // ---- writes: sessions and exactly-once (thesis §6.3) ----

  /**
   * runWrites carries one batch of writes to completion: register a session
   * if there is none, then send the batch (re-encoded each round, without the
   * calls that settled meanwhile, same seqs) until every call has its result.
   */
  private async runWrites(batch: readonly WriteCall[]): Promise<void> {
    let renewals = 0;
    for (;;) {
      const live = batch.filter((c) => !c.settled);
      if (live.length === 0 || this.closed) return;
      const clientId = this.clientId ?? (await this.register(live));
      if (clientId === null) continue;
      const request = encodeRequest({
        type: 'batch',
        clientId,
        ackedSeq: this.ackedSeq(),
        commands: live.map((c) => ({ ...c.op, seq: c.seq })),
      });
      const response = await this.exchangeFor(live, request, true, () => {
        for (const c of live) c.maybeSent = true;
      });
      if (response === null) continue;
      switch (response.type) {
        case 'applied': {
          if (response.clientId !== clientId) continue; // Not ours: ask again.
          const { results } = response;
          if (results.length === live.length && results.every((r, i) => r.seq === live[i]!.seq)) {
            for (let i = 0; i < live.length; i++) this.answerWrite(live[i]!, results[i]!);
            continue;
          }
          const bySeq = new Map(results.map((r) => [r.seq, r]));
          for (const c of live) {
            const result = bySeq.get(c.seq);
            if (result !== undefined) this.answerWrite(c, result);
          }
          continue;
        }
        case 'sessionExpired': {
          if (response.clientId !== clientId) continue;
          if (this.clientId === clientId) this.clientId = null;
          renewals++;
          // A command that may have been applied before the session went is in doubt for good; one surely never
          // applied can go again in a new session (a few times: sessions may be evicted as fast as they open).
          for (const c of live) {
            if (c.maybeSent || renewals >= MAX_SESSION_RENEWALS)
              this.fail(c, new SessionExpiredError(c.operation, clientId));
          }
          continue;
        }
        case 'rejected':
          for (const c of live) this.fail(c, new RequestRejectedError(c.operation, response.reason));
          return;
        default:
          for (const c of live) this.fail(c, unexpected(c.operation, response.type));
          return;
      }
    }
  }

  /** register opens a session (thesis §6.3: its id is the log index of the register entry); null if it failed. */
  private async register(live: readonly WriteCall[]): Promise<number | null> {
    const response = await this.exchangeFor(live, encodeRequest({ type: 'register' }), true, () => {});
    if (response === null) return null;
    if (response.type === 'registered') {
      this.clientId = response.clientId;
      return response.clientId;
    }
    for (const c of live) {
      this.fail(
        c,
        response.type === 'rejected'
          ? new RequestRejectedError(c.operation, response.reason)
          : unexpected(c.operation, response.type),
      );
    }
    return null;
  }

  /** ackedSeq is the lowest seq without an answer (thesis §6.3): the cluster may drop every result below it. */
  private ackedSeq(): number {
    for (const seq of this.liveWrites.keys()) return seq;
    return this.nextSeq;
  }

  // ---- reads (thesis §6.4) ----

  private async runReads(mode: ReadMode, batch: readonly ReadCall[]): Promise<void> {
    for (;;) {
      const live = batch.filter((c) => !c.settled);
      if (live.length === 0 || this.closed) return;
      const request = encodeRequest({
        type: 'read',
        mode,
        leaseClockDriftMs: mode === 'lease' ? this.options.leaseClockDriftMs! : 0,
        queries: live.map((c) => c.query),
      });
      const response = await this.exchangeFor(live, request, mode !== 'stale', () => {});
      if (response === null) continue;
      if (response.type === 'read' && response.results.length === live.length) {
        for (let i = 0; i < live.length; i++) this.answerRead(live[i]!, response.results[i]!);
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
      return;
    }
  }

  // ---- finding the leader (thesis §6.2) ----

  /**
   * exchangeFor runs {@link exchange} on behalf of `calls`. When it ends
   * without a response it settles what it can and returns null: on
   * NoLeaderFound, calls surely not applied fail with NotLeaderError (writes
   * that may have been applied stay, to try again until their deadline); when
   * abandoned, calls past their deadline fail with TimeoutError.
   */
  private async exchangeFor(
    calls: readonly Call[],
    request: Uint8Array,
    leaderOnly: boolean,
    onMaybeDelivered: () => void,
  ): Promise<KvResponse | null> {
    try {
      return await this.exchange(calls, request, leaderOnly, onMaybeDelivered);
    } catch (err) {
      if (err instanceof NoLeaderFound) {
        for (const c of calls) {
          if (!(c as Partial<WriteCall>).maybeSent) {
            this.fail(c, new NotLeaderError(c.operation, err.rounds, this.transport.nodes));
          }
        }
        return null;
      }
      if (err === ABANDONED) {
        if (!this.closed)
          for (const c of calls) if (c.deadline <= Date.now()) this.fail(c, this.timeoutError(c));
        return null;
      }
      throw err;
    }
  }

  /**
   * exchange sends `request` until a node answers it as the leader (any node,
   * if not `leaderOnly`): to the known leader, else the nodes in turn,
   * following redirects at once. After each full round over the nodes without
   * a leader it backs off (doubling, jittered); after `maxLeaderSearchRounds`
   * rounds it throws NoLeaderFound. `onMaybeDelivered` runs whenever an
   * attempt ends without a definite answer (the request may have been applied).
   */
  private async exchange(
    calls: readonly Call[],
    request: Uint8Array,
    leaderOnly: boolean,
    onMaybeDelivered: () => void,
  ): Promise<KvResponse> {
    const nodes = this.transport.nodes;
    let failures = 0;
    let redirects = 0;
    for (;;) {
      const deadline = latestDeadline(calls);
      const remaining = deadline - Date.now();
      if (this.closed || remaining <= 0) throw ABANDONED;
      const node = this.leader ?? nodes[this.cursor % nodes.length]!;
      const response = await this.attempt(node, request, Math.min(this.options.attemptTimeoutMs, remaining));
      if (this.closed) throw ABANDONED;
      if (response === 'undelivered') {
        // Surely not applied: just try the next node.
      } else if (response === 'maybe' || response.type === 'unavailable') {
        onMaybeDelivered();
      } else if (response.type === 'notLeader') {
        const hint = response.leaderHint;
        if (hint !== null && hint !== node && nodes.includes(hint) && redirects < nodes.length) {
          this.leader = hint;
          redirects++;
          continue;
        }
      } else {
        if (leaderOnly) this.leader = node;
        return response;
      }
      // `node` did not answer as the leader: forget it, try the next node, back off after each full round.
      if (this.leader === node) this.leader = null;
      this.cursor = nodes.indexOf(node) + 1;
      redirects = 0;
      failures++;
      if (failures % nodes.length === 0) {
        const round = failures / nodes.length;
        if (round >= this.options.maxLeaderSearchRounds) throw new NoLeaderFound(round);
        await this.sleep(this.backoff(round));
      }
    }
  }

  /**
   * attempt is one request to one node: its decoded response; 'undelivered' if
   * the transport knows it never arrived; 'maybe' if no answer came (lost,
   * timed out, garbled), so it may have been applied.
   */
  private attempt(
    node: string,
    request: Uint8Array,
    timeoutMs: number,
  ): Promise<KvResponse | 'undelivered' | 'maybe'> {
    return new Promise((resolve) => {
      // Our own deadline too: a transport that never settles must not stall the batch behind this attempt.
      const attempt: Attempt = { deadline: Date.now() + timeoutMs + SEND_GRACE_MS, resolve };
      this.attempts.add(attempt);
      const failed = (err: unknown) => {
        if (this.attempts.delete(attempt)) resolve(err instanceof UndeliveredError ? 'undelivered' : 'maybe');
      };
      try {
        this.transport.send(node, request, timeoutMs).then((bytes) => {
          if (this.attempts.delete(attempt)) resolve(decodeOrMaybe(bytes));
        }, failed);
      } catch (err) {
        failed(err);
      }
    });
  }

  private backoff(round: number): number {
    const base = Math.min(this.options.maxBackoffMs, this.options.backoffMs * 2 ** (round - 1));
    return base / 2 + (base / 2) * this.options.random();
  }

  private sleep(ms: number): Promise<void> {
    return new Promise((resolve) => {
      const wake = () => {
        clearTimeout(timer);
        this.sleepers.delete(wake);
        resolve();
      };
      const timer = setTimeout(wake, ms);
      this.sleepers.add(wake);
    });
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

/** decodeOrMaybe decodes a response; a garbled one is no answer, so the request may have been applied. */
function decodeOrMaybe(bytes: Uint8Array): KvResponse | 'maybe' {
  try {
    return decodeResponse(bytes);
  } catch {
    return 'maybe';
  }
}

function latestDeadline(calls: readonly Call[]): number {
  let latest = Number.NEGATIVE_INFINITY;
  for (const c of calls) if (!c.settled && c.deadline > latest) latest = c.deadline;
  return latest;
}

function expect<T extends KvCommandResult['type']>(
  op: string,
  result: KvCommandResult,
  type: T,
): Extract<KvCommandResult, { type: T }> {
  if (result.type !== type) throw unexpected(op, result.type);
  return result as Extract<KvCommandResult, { type: T }>;
}

function unexpected(op: string, type: string): Error {
  return new Error(
    `${op}: unexpected '${type}' answer from the cluster (client and nodes disagree on the protocol)`,
  );
}

function definedOnly<T extends object>(o: T): Partial<T> {
  return Object.fromEntries(Object.entries(o).filter(([, v]) => v !== undefined)) as Partial<T>;
}
