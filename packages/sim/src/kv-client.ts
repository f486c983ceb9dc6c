import type { NodeId } from '@xraft/core';
import {
  decodeResponse,
  encodeRequest,
  type KvCommandResult,
  type KvOp,
  type KvQuery,
  type KvQueryResult,
  type KvResponse,
  type ReadMode,
} from '@xraft/kv';
import type { Rng } from './rng.js';
import type { Scheduler, Task } from './scheduler.js';
import type { KvPhase } from './trace.js';

/** KvClientTiming is the timing of a simulated client: the options of the real `KvClient`, same defaults. */
export interface KvClientTiming {
  /** Overall time a call may take, leader search and retries included (KvClient `timeoutMs`). */
  readonly timeoutMs: number;
  /** Time one request to one server may take before the client tries elsewhere (`attemptTimeoutMs`). */
  readonly attemptTimeoutMs: number;
  /** Rounds over every server without finding a leader before a call fails with NotLeaderError. */
  readonly maxLeaderSearchRounds: number;
  /** Wait after the first fruitless round, doubled after each next one, jittered (`backoffMs`). */
  readonly backoffMs: number;
  /** Cap on the wait between rounds (`maxBackoffMs`). */
  readonly maxBackoffMs: number;
}

/**
 * KvCallOutcome is how a call ended, as the real client would report it:
 * `ok` with the cluster's result; `fail` when the call was surely not
 * applied (NotLeaderError, RequestRejectedError; any failed read); `unknown`
 * when it may or may not have been applied (TimeoutError,
 * SessionExpiredError, an answer the client does not understand).
 */
export type KvCallOutcome =
  | { readonly status: 'ok'; readonly result: KvCommandResult | KvQueryResult }
  | { readonly status: 'fail' | 'unknown'; readonly error: string };

/** KvClientLink connects a {@link SimKvClient} to the simulated cluster (kv-workload.ts). */
export interface KvClientLink {
  readonly scheduler: Scheduler;
  /** Every server, in a fixed order: the client walks them looking for the leader. */
  readonly nodes: readonly NodeId[];
  /**
   * send puts one request on the wire to `node`, for attempt `attempt` of
   * call `op`: `'down'` when the server's process is down now (surely not
   * delivered: the runtime's client port rejects with UndeliveredError), else
   * the number of copies the network is carrying (0: lost, 2: duplicated).
   * The answer comes back through {@link SimKvClient.receive}.
   */
  send(client: SimKvClient, node: NodeId, attempt: number, op: number, request: Uint8Array): 'down' | number;
  /** Records a step of a call in the trace. */
  record(client: SimKvClient, op: number, phase: KvPhase, node: NodeId | null, text: string): void;
  /** The client finished its call and every request of it: it may start the next one. */
  idle(client: SimKvClient): void;
}

/** One call of the client: a write (with its sequence number) or a read. */
interface Call {
  /** Its number in the run's history. */
  readonly op: number;
  readonly write: KvOp | null;
  /** The write's sequence number (thesis §6.3), the same on every retry; 0 for a read. */
  readonly seq: number;
  readonly read: { readonly query: KvQuery; readonly mode: ReadMode } | null;
  readonly deadline: number;
  settled: boolean;
  /** Some attempt carrying it may have reached a server in the current session: it may have been applied. */
  maybeSent: boolean;
  /** The network duplicated one of its requests (see {@link SimKvClient}: a "not applied" verdict is void). */
  duplicated: boolean;
  timer: Task | null;
  readonly done: (outcome: KvCallOutcome) => void;
}

type AttemptResult = KvResponse | 'undelivered' | 'maybe';

/** One request to one server, waiting for its answer. */
interface Attempt {
  readonly node: NodeId;
  readonly timer: Task;
  readonly then: (r: AttemptResult) => void;
}

/** The ends of an exchange that got no response (KvClient's NoLeaderFound and ABANDONED). */
const NO_LEADER = Symbol('no leader found');
const ABANDONED = Symbol('abandoned');
type ExchangeEnd = KvResponse | typeof NO_LEADER | typeof ABANDONED;

/** A batch whose surely-unapplied commands met this many expired sessions in a row gives up (KvClient's). */
const MAX_SESSION_RENEWALS = 3;

/**
 * SimKvClient is one client of the KV store in the simulator: the protocol of
 * `KvClient` (`@xraft/kv` client.ts, thesis chapter 6) step for step, on
 * virtual time, with the real codec, so its requests are byte for byte the
 * real client's and its writes are the log entries the real client would make:
 *
 * - leader search (§6.2): the known leader, else the servers in turn,
 *   following `notLeader` hints at once (at most one redirect per server),
 *   a jittered doubling backoff after each fruitless round over every server,
 *   NotLeaderError after `maxLeaderSearchRounds` rounds;
 * - exactly-once writes (§6.3): a session registered lazily on the first
 *   write; every write numbered, retried with the same (clientId, seq) on
 *   lost answers, timeouts, `unavailable` and leader changes until it gets
 *   its result or its deadline passes; every request carries the lowest seq
 *   still awaiting an answer; an expired session is renewed, failing the
 *   calls that may have been applied in it (SessionExpiredError);
 * - reads through ReadIndex or the lease (§6.4, §6.4.1), on the leader only.
 *
 * It is not the real `KvClient` because that one cannot run on virtual time:
 * it reads `Date.now()`, sets real `setTimeout`s, batches with
 * `queueMicrotask`, and settles promises, whose callbacks run only once the
 * current synchronous task returns, while a simulated run is one synchronous
 * loop that must process each answer at its virtual instant, in a seeded
 * order. Driving it would mean faking the global timers and making the whole
 * simulator asynchronous, a microtask drain after every step.
 *
 * Unlike the real client it runs one call at a time, like a Jepsen process
 * (concurrency comes from running several), so its batches hold one command.
 *
 * Its transport (the simulated network) may duplicate a request, which the
 * runtime's MessagePort never does. A write that ends in NotLeaderError is
 * reported surely-not-applied (`fail`) only if none of its requests was
 * duplicated; otherwise a lingering copy might still be proposed, and the
 * outcome is `unknown`.
 */
export class SimKvClient {
  /** Requests sent, sessions registered. */
  requests = 0;
  registrations = 0;
  private leader: NodeId | null = null;
  private cursor = 0;
  /** Session id (the log index of its `register` entry), or null before registering / after expiry. */
  private clientId: number | null = null;
  private nextSeq = 1;
  private lastAttempt = 0;
  private readonly attempts = new Map<number, Attempt>();
  private busy = false;

  constructor(
    /** The client's name (`kv3`): its id in the history. */
    readonly name: string,
    private readonly link: KvClientLink,
    private readonly timing: KvClientTiming,
    /** Backoff jitter. */
    private readonly rng: Rng,
    /** The bound on clock drift the client states for lease reads (thesis §6.4.1, KvClient `leaseClockDriftMs`). */
    private readonly leaseClockDriftMs = 0,
  ) {}

  /** idle tells whether no call (and no request of an ended call) is in progress. */
  get idle(): boolean {
    return !this.busy;
  }

  /** write runs one put, delete, append or cas as call `op`; `done` gets its outcome. */
  write(op: number, kvOp: KvOp, done: (outcome: KvCallOutcome) => void): void {
    const call = this.begin(op, kvOp, null, done);
    this.runWrite(call, 0);
  }

  /** get reads one key as call `op` in `mode` (not `stale`: the workload checks linearizability). */
  get(op: number, key: string, mode: ReadMode, done: (outcome: KvCallOutcome) => void): void {
    const call = this.begin(op, null, { query: { type: 'get', key }, mode }, done);
    this.runRead(call);
  }

  /** receive takes an encoded answer to attempt `attempt`; late and duplicate answers are dropped. */
  receive(attempt: number, bytes: Uint8Array): void {
    const a = this.attempts.get(attempt);
    if (a === undefined) return;
    this.attempts.delete(attempt);
    this.link.scheduler.cancel(a.timer);
    let r: AttemptResult;
    try {
      r = decodeResponse(bytes);
    } catch {
      r = 'maybe';
    }
    a.then(r);
  }

  /**
   * nodeHalted tells the client that `node`'s process died: every request in
   * flight to it fails at once, maybe delivered (as the runtime's client
   * port rejects them when the worker exits).
   */
  nodeHalted(node: NodeId): void {
    for (const [id, a] of this.attempts) {
      if (a.node !== node) continue;
      this.attempts.delete(id);
      this.link.scheduler.cancel(a.timer);
      this.link.scheduler.after(0, () => a.then('maybe'));
    }
  }

  private begin(
    op: number,
    write: KvOp | null,
    read: Call['read'],
    done: (outcome: KvCallOutcome) => void,
  ): Call {
    if (this.busy) throw new Error(`${this.name} is already running a call`);
    this.busy = true;
    const s = this.link.scheduler;
    const call: Call = {
      op,
      write,
      seq: write === null ? 0 : this.nextSeq++,
      read,
      deadline: s.now + this.timing.timeoutMs,
      settled: false,
      maybeSent: false,
      duplicated: false,
      timer: null,
      done,
    };
    call.timer = s.after(this.timing.timeoutMs, () => {
      call.timer = null;
      this.timeout(call);
    });
    return call;
  }

  private settle(call: Call, outcome: KvCallOutcome): void {
    if (call.settled) return;
    call.settled = true;
    if (call.timer) this.link.scheduler.cancel(call.timer);
    call.timer = null;
    call.done(outcome);
  }

  /** timeout is TimeoutError: a write's outcome is unknown; a read had no effect. */
  private timeout(call: Call): void {
    const error = `TimeoutError: no answer within ${this.timing.timeoutMs} ms`;
    this.settle(call, { status: call.write ? 'unknown' : 'fail', error });
  }

  /** end closes the exchange of a settled call: the client may start its next call. */
  private end(): void {
    this.busy = false;
    this.link.idle(this);
  }

  // ---- writes: sessions and exactly-once (thesis §6.3) ----

  private runWrite(call: Call, renewals: number): void {
    if (call.settled) {
      this.end();
      return;
    }
    const clientId = this.clientId;
    if (clientId === null) {
      this.register(call, () => this.runWrite(call, renewals));
      return;
    }
    const request = encodeRequest({
      type: 'batch',
      clientId,
      ackedSeq: call.seq,
      commands: [{ ...call.write!, seq: call.seq }],
    });
    const maybe = () => {
      call.maybeSent = true;
    };
    this.exchangeFor(call, request, `batch seq ${call.seq} (session ${clientId})`, maybe, (response) => {
      if (response === null) return this.runWrite(call, renewals);
      switch (response.type) {
        case 'applied': {
          if (response.clientId === clientId) {
            const result = response.results.find((r) => r.seq === call.seq);
            if (result !== undefined) this.settle(call, { status: 'ok', result });
          }
          return this.runWrite(call, renewals);
        }
        case 'sessionExpired': {
          if (response.clientId !== clientId) return this.runWrite(call, renewals);
          if (this.clientId === clientId) this.clientId = null;
          const renewed = renewals + 1;
          // Maybe applied in the expired session: in doubt for good. Surely not: again in a new session.
          if (call.maybeSent || renewed >= MAX_SESSION_RENEWALS) {
            this.settle(call, {
              status: 'unknown',
              error: `SessionExpiredError: session ${clientId} expired while the call was in doubt`,
            });
          }
          return this.runWrite(call, renewed);
        }
        case 'rejected':
          this.settle(call, { status: 'fail', error: `RequestRejectedError: ${response.reason}` });
          return this.end();
        default:
          this.settle(call, { status: 'unknown', error: `unexpected '${response.type}' answer` });
          return this.end();
      }
    });
  }

  /** register opens a session (thesis §6.3: its id is the log index of the register entry). */
  private register(call: Call, then: () => void): void {
    this.exchangeFor(call, encodeRequest({ type: 'register' }), 'register', noop, (response) => {
      if (response !== null) {
        if (response.type === 'registered') {
          this.clientId = response.clientId;
          this.registrations++;
        } else if (response.type === 'rejected') {
          this.settle(call, { status: 'fail', error: `RequestRejectedError: ${response.reason}` });
        } else {
          this.settle(call, { status: 'unknown', error: `unexpected '${response.type}' answer to register` });
        }
      }
      then();
    });
  }

  // ---- reads (thesis §6.4) ----

  private runRead(call: Call): void {
    if (call.settled) {
      this.end();
      return;
    }
    const { query, mode } = call.read!;
    const request = encodeRequest({
      type: 'read',
      mode,
      leaseClockDriftMs: mode === 'lease' ? this.leaseClockDriftMs : 0,
      queries: [query],
    });
    this.exchangeFor(call, request, `read ${describeQuery(query)} (${mode})`, noop, (response) => {
      if (response === null) return this.runRead(call);
      if (response.type === 'read' && response.results.length === 1) {
        this.settle(call, { status: 'ok', result: response.results[0]! });
      } else {
        this.settle(call, { status: 'fail', error: `unexpected '${response.type}' answer to a read` });
      }
      this.end();
    });
  }

  // ---- finding the leader (thesis §6.2) ----

  /**
   * exchangeFor runs {@link exchange} for `call`; when it ends without a
   * response it settles what it can and hands on null: on NoLeaderFound a
   * call surely not applied fails (NotLeaderError), one that may have been
   * applied goes on until its deadline; when abandoned past the deadline, the
   * call times out.
   */
  private exchangeFor(
    call: Call,
    request: Uint8Array,
    what: string,
    onMaybeDelivered: () => void,
    then: (response: KvResponse | null) => void,
  ): void {
    this.exchange(call, request, what, onMaybeDelivered, (end) => {
      if (end === NO_LEADER) {
        if (!call.maybeSent) {
          const error = `NotLeaderError: no leader found after ${this.timing.maxLeaderSearchRounds} rounds`;
          this.settle(call, {
            status: call.write && call.duplicated ? 'unknown' : 'fail',
            error: call.duplicated ? `${error} (a request of it was duplicated)` : error,
          });
        }
        return then(null);
      }
      if (end === ABANDONED) {
        if (call.deadline <= this.link.scheduler.now) this.timeout(call);
        return then(null);
      }
      then(end);
    });
  }

  /**
   * exchange sends `request` until a server answers it as the leader: to the
   * known leader, else the servers in turn, following redirects at once; after
   * each full round without a leader it backs off; after
   * `maxLeaderSearchRounds` rounds it ends with NO_LEADER.
   */
  private exchange(
    call: Call,
    request: Uint8Array,
    what: string,
    onMaybeDelivered: () => void,
    finish: (end: ExchangeEnd) => void,
  ): void {
    const nodes = this.link.nodes;
    const s = this.link.scheduler;
    let failures = 0;
    let redirects = 0;
    const next = (): void => {
      const remaining = call.settled ? 0 : call.deadline - s.now;
      if (remaining <= 0) {
        finish(ABANDONED);
        return;
      }
      const node = this.leader ?? nodes[this.cursor % nodes.length]!;
      this.attempt(call, node, request, what, Math.min(this.timing.attemptTimeoutMs, remaining), (r) => {
        if (r === 'undelivered') {
          // Surely not applied: just try the next server.
        } else if (r === 'maybe' || r.type === 'unavailable') {
          onMaybeDelivered();
        } else if (r.type === 'notLeader') {
          const hint = r.leaderHint;
          if (hint !== null && hint !== node && nodes.includes(hint) && redirects < nodes.length) {
            this.leader = hint;
            redirects++;
            return next();
          }
        } else {
          this.leader = node;
          return finish(r);
        }
        // `node` did not answer as the leader: forget it, try the next one, back off after each full round.
        if (this.leader === node) this.leader = null;
        this.cursor = nodes.indexOf(node) + 1;
        redirects = 0;
        failures++;
        if (failures % nodes.length !== 0) return next();
        const round = failures / nodes.length;
        if (round >= this.timing.maxLeaderSearchRounds) return finish(NO_LEADER);
        s.after(this.backoff(round), next);
      });
    };
    next();
  }

  /** attempt is one request to one server: its response, 'undelivered', or 'maybe' (no answer in time). */
  private attempt(
    call: Call,
    node: NodeId,
    request: Uint8Array,
    what: string,
    timeoutMs: number,
    then: (r: AttemptResult) => void,
  ): void {
    const s = this.link.scheduler;
    const id = ++this.lastAttempt;
    this.requests++;
    this.link.record(this, call.op, 'send', node, what);
    const sent = this.link.send(this, node, id, call.op, request);
    if (sent === 'down') {
      s.after(0, () => then('undelivered'));
      return;
    }
    if (sent > 1) call.duplicated = true;
    const timer = s.after(timeoutMs, () => {
      this.attempts.delete(id);
      then('maybe');
    });
    this.attempts.set(id, { node, timer, then });
  }

  private backoff(round: number): number {
    const t = this.timing;
    const base = Math.min(t.maxBackoffMs, t.backoffMs * 2 ** (round - 1));
    return base / 2 + (base / 2) * this.rng.next();
  }
}

function noop(): void {}

/** describeQuery is a query as the trace shows it. */
export function describeQuery(q: KvQuery): string {
  return q.type === 'get' ? `get(${JSON.stringify(q.key)})` : `list(${JSON.stringify(q.prefix)})`;
}
