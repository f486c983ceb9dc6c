import type { KvInput, KvOutput } from '@xraft/check';
import type { NodeId, ProposeResult, ReadMode } from '@xraft/core';
import { encodeResponse, type KvEntry, type KvOp, type KvResponse, type SessionLimits } from '@xraft/kv';
import type { NodeHost } from './host.js';
import { type KvCallOutcome, type KvClientLink, type KvClientTiming, SimKvClient } from './kv-client.js';
import { KvServer } from './kv-server.js';
import type { Network } from './network.js';
import type { Rng } from './rng.js';
import type { Scheduler, Task } from './scheduler.js';
import type { KvPhase, SimEvent } from './trace.js';

/** KvWorkloadOptions shapes the KV workload: its clients, their calls, and the check at the end. */
export interface KvWorkloadOptions extends KvClientTiming {
  /** Concurrent clients, each running one call at a time. */
  readonly clients: number;
  /** Keys that take every operation: get, put, append, cas, delete (default: 3, or 0.6 per client beyond 5). */
  readonly keys: number;
  /**
   * Keys that only take appends and gets, whose final value must hold every
   * acknowledged append once (default: 2, or 0.4 per client beyond 5).
   */
  readonly appendKeys: number;
  /** Mean virtual time a client waits between two calls (exponential). */
  readonly thinkMs: number;
  /** Share of gets sent as lease reads (thesis §6.4.1) when the cluster has a drift bound. */
  readonly leaseShare: number;
  /** Wall-clock budget of the linearizability check of one run; past it the verdict is `unknown`. */
  readonly checkTimeoutMs: number;
  /** The state machine's session limits (default: the KV store's; a seed may draw small ones). */
  readonly sessionLimits: Partial<SessionLimits>;
}

/**
 * DEFAULT_KV_WORKLOAD: 5 clients over 3 keys plus 2 append-only keys, a call
 * every 20 ms per client on average, the real KvClient's timing (5 s per
 * call, 8 search rounds, 20–500 ms backoff) but for 250 ms per attempt
 * instead of 1 s, so that a client gives up on a lost request or a cut-off
 * leader within about one election timeout and retries (more retries, more
 * duplicates for the sessions to absorb); a 10 s budget for the check.
 */
export const DEFAULT_KV_WORKLOAD: KvWorkloadOptions = Object.freeze({
  clients: 5,
  keys: 3,
  appendKeys: 2,
  thinkMs: 20,
  leaseShare: 0.3,
  timeoutMs: 5000,
  attemptTimeoutMs: 250,
  // KvClient's defaults.
  maxLeaderSearchRounds: 20,
  backoffMs: 10,
  maxBackoffMs: 100,
  checkTimeoutMs: 10_000,
  sessionLimits: Object.freeze({}),
});

/** KvCallStatus is where a call stands: still running, or how it ended (see {@link KvCallOutcome}). */
export type KvCallStatus = 'pending' | 'ok' | 'fail' | 'unknown';

/** KvCall is one client call of the run's history, with virtual call and return times. */
export interface KvCall {
  /** Its number in the history, from 1. */
  readonly id: number;
  readonly client: string;
  readonly input: KvInput;
  /** For an append: its unique suffix without the separator (`3.17`), else null. */
  readonly token: string | null;
  /** Virtual ms at which the client invoked it. */
  readonly call: number;
  /** Virtual ms at which its outcome was known (-1 while pending). */
  ret: number;
  status: KvCallStatus;
  output: KvOutput;
  /** Why it failed or is unknown. */
  error: string;
}

/** SimKvStats counts what the KV clients did in one run (deterministic: part of the determinism check). */
export interface SimKvStats {
  readonly clients: number;
  /** Calls invoked, and how they ended (pending ones at the end count as unknown). */
  readonly calls: number;
  readonly ok: number;
  readonly failed: number;
  readonly unknown: number;
  readonly gets: number;
  /** Requests the clients sent (every attempt at every server) and sessions they registered. */
  readonly requests: number;
  readonly registrations: number;
  /** Client messages (requests and answers) the network carried, lost and duplicated. */
  readonly messages: number;
  readonly lost: number;
  readonly duplicated: number;
  /** Appends acknowledged, and appends whose outcome is unknown. */
  readonly appendsOk: number;
  readonly appendsUnknown: number;
}

/** KvWorkloadEnv is what a {@link KvWorkload} needs from its simulation. */
export interface KvWorkloadEnv {
  readonly scheduler: Scheduler;
  readonly network: Network;
  readonly hosts: readonly NodeHost[];
  /** The cluster's bound on clock drift for lease reads, or null. */
  readonly clusterDriftMs: number | null;
  /** The backoff-jitter stream of client `i`. */
  clientRng(i: number): Rng;
  /** The stream of client `i`'s choice of calls (its own, so a client's calls do not shift another's). */
  callRng(i: number): Rng;
  /** Numbers a ReadIndex request, uniquely in the run. */
  nextReadCtx(): number;
  /** Hands ReadIndex request `ctx` to `host` through the read monitor. */
  readIndex(host: NodeHost, ctx: number, mode: ReadMode): void;
  /** A leader accepted a client's entry (Client Integrity monitor, trace). */
  accepted(host: NodeHost, bytes: Uint8Array, entry: KvEntry, result: ProposeResult): void;
  record(e: SimEvent): void;
}

/** The separator after every value the clients write: a final value splits into the writes that built it. */
const SEP = ';';

/**
 * KvWorkload plays Jepsen's clients against the KV store: several
 * {@link SimKvClient}s, each running one call at a time with a random pause
 * between calls, on a few keys: get, put, append (with a unique suffix),
 * cas and delete on the mixed keys, appends and gets on the append-only keys.
 * Their requests and the servers' answers cross the simulated network, so
 * they are lost, duplicated, delayed and reordered like Raft's messages, and
 * reach a server only while it runs. Every server runs a {@link KvServer}
 * over its host's KV state machine.
 *
 * It records the history of the run, each call with its virtual call and
 * return times and its outcome (ok, fail: surely not applied, unknown: maybe
 * applied), for the linearizability and exactly-once checks of kv-check.ts.
 */
export class KvWorkload {
  readonly clients: SimKvClient[] = [];
  readonly servers = new Map<NodeId, KvServer>();
  readonly calls: KvCall[] = [];
  /** The mixed keys, then the append-only keys. */
  readonly keys: readonly string[];
  readonly appendKeys: ReadonlySet<string>;
  private readonly rngs: Rng[] = [];
  /** What each client last saw in each key (its cas expectations). */
  private readonly seen: Map<string, string | undefined>[] = [];
  private readonly counters: number[] = [];
  private readonly next: (Task | null)[] = [];
  private readonly byClient = new Map<SimKvClient, number>();
  private running = false;

  constructor(
    private readonly env: KvWorkloadEnv,
    readonly options: KvWorkloadOptions,
  ) {
    const o = options;
    if (!(Number.isInteger(o.clients) && o.clients >= 1)) {
      throw new RangeError(`kv clients must be a positive integer, got ${o.clients}`);
    }
    if (!(Number.isInteger(o.keys) && Number.isInteger(o.appendKeys) && o.keys >= 0 && o.appendKeys >= 0)) {
      throw new RangeError(`kv keys and appendKeys must be integers >= 0, got ${o.keys} and ${o.appendKeys}`);
    }
    if (o.keys + o.appendKeys === 0) throw new RangeError('the KV workload needs at least one key');
    const mixed = Array.from({ length: o.keys }, (_, i) => `k${i + 1}`);
    const appendOnly = Array.from({ length: o.appendKeys }, (_, i) => `a${i + 1}`);
    this.keys = [...mixed, ...appendOnly];
    this.appendKeys = new Set(appendOnly);
    const serverEnv = {
      scheduler: env.scheduler,
      clusterDriftMs: env.clusterDriftMs,
      nextReadCtx: env.nextReadCtx,
      readIndex: env.readIndex,
      accepted: env.accepted,
      halted: (host: NodeHost) => {
        for (const c of this.clients) c.nodeHalted(host.id);
      },
    };
    for (const h of env.hosts) {
      const server = new KvServer(h, serverEnv);
      h.service = server;
      this.servers.set(h.id, server);
    }
    const link: KvClientLink = {
      scheduler: env.scheduler,
      nodes: env.hosts.map((h) => h.id),
      send: (client, node, attempt, op, request) => this.send(client, node, attempt, op, request),
      record: (client, op, phase, node, text) => this.record(client.name, op, phase, node, text),
      idle: (client) => this.scheduleNext(this.byClient.get(client)!),
    };
    const drift = env.clusterDriftMs ?? 0;
    for (let i = 0; i < o.clients; i++) {
      const client = new SimKvClient(`kv${i + 1}`, link, o, env.clientRng(i), drift);
      this.clients.push(client);
      this.byClient.set(client, i);
      this.rngs.push(env.callRng(i));
      this.seen.push(new Map());
      this.counters.push(0);
      this.next.push(null);
    }
  }

  /** idle tells whether every client has finished its call and every request of it. */
  get idle(): boolean {
    return this.clients.every((c) => c.idle);
  }

  /** start sets the clients going. */
  start(): void {
    if (this.running) return;
    this.running = true;
    for (let i = 0; i < this.clients.length; i++) this.scheduleNext(i);
  }

  /** stop lets every client finish its call, and start no other. */
  stop(): void {
    this.running = false;
    for (let i = 0; i < this.next.length; i++) {
      const t = this.next[i];
      if (t) this.env.scheduler.cancel(t);
      this.next[i] = null;
    }
  }

  /** stats sums up the calls so far. */
  stats(): SimKvStats {
    let ok = 0;
    let failed = 0;
    let gets = 0;
    let appendsOk = 0;
    let appendsUnknown = 0;
    for (const c of this.calls) {
      if (c.input.op === 'get') gets++;
      if (c.status === 'ok') ok++;
      else if (c.status === 'fail') failed++;
      if (c.token !== null) {
        if (c.status === 'ok') appendsOk++;
        else if (c.status !== 'fail') appendsUnknown++;
      }
    }
    let requests = 0;
    let registrations = 0;
    for (const c of this.clients) {
      requests += c.requests;
      registrations += c.registrations;
    }
    const net = this.env.network.clientStats;
    return {
      clients: this.clients.length,
      calls: this.calls.length,
      ok,
      failed,
      unknown: this.calls.length - ok - failed,
      gets,
      requests,
      registrations,
      messages: net.sent,
      lost: net.dropped,
      duplicated: net.duplicated,
      appendsOk,
      appendsUnknown,
    };
  }

  private scheduleNext(i: number): void {
    if (!this.running) return;
    const rng = this.rngs[i]!;
    this.next[i] = this.env.scheduler.after(rng.exp(this.options.thinkMs), () => {
      this.next[i] = null;
      if (this.running) this.invoke(i);
    });
  }

  /** invoke draws client `i`'s next call and starts it. */
  private invoke(i: number): void {
    const rng = this.rngs[i]!;
    const client = this.clients[i]!;
    const n = ++this.counters[i]!;
    const key = rng.pick(this.keys);
    const tag = `${i + 1}.${n}`;
    let input: KvInput;
    if (this.appendKeys.has(key)) {
      input = rng.chance(0.6) ? { op: 'append', key, suffix: tag + SEP } : { op: 'get', key };
    } else {
      switch (rng.weighted({ get: 35, put: 15, append: 20, cas: 20, delete: 10 })) {
        case 'get':
          input = { op: 'get', key };
          break;
        case 'put':
          input = { op: 'put', key, value: `p${tag}${SEP}` };
          break;
        case 'append':
          input = { op: 'append', key, suffix: tag + SEP };
          break;
        case 'cas':
          input = { op: 'cas', key, expected: this.seen[i]!.get(key), value: `s${tag}${SEP}` };
          break;
        case 'delete':
          input = { op: 'delete', key };
          break;
      }
    }
    const call: KvCall = {
      id: this.calls.length + 1,
      client: client.name,
      input,
      token: input.op === 'append' ? tag : null,
      call: this.env.scheduler.now,
      ret: -1,
      status: 'pending',
      output: undefined,
      error: '',
    };
    this.calls.push(call);
    this.record(client.name, call.id, 'invoke', null, describeInput(input));
    const done = (o: KvCallOutcome) => this.complete(i, call, o);
    if (input.op === 'get') {
      const lease = this.env.clusterDriftMs !== null && rng.chance(this.options.leaseShare);
      client.get(call.id, input.key as string, lease ? 'lease' : 'linearizable', done);
    } else {
      client.write(call.id, toKvOp(input), done);
    }
  }

  private complete(i: number, call: KvCall, o: KvCallOutcome): void {
    call.ret = this.env.scheduler.now;
    const key = call.input.key as string;
    if (o.status !== 'ok') {
      call.status = o.status;
      call.error = o.error;
      this.record(call.client, call.id, o.status, null, `${describeInput(call.input)}: ${o.error}`);
      return;
    }
    const r = o.result;
    const input = call.input;
    let output: KvOutput;
    let bad = false;
    switch (input.op) {
      case 'get':
        bad = r.type !== 'value';
        output = r.type === 'value' ? r.value : undefined;
        if (!bad) this.seen[i]!.set(key, typeof output === 'string' ? output : undefined);
        break;
      case 'put':
      case 'append':
        bad = r.type !== 'ok';
        break;
      case 'cas':
        bad = r.type !== 'cas';
        output = r.type === 'cas' && r.swapped;
        if (output === true) this.seen[i]!.set(key, input.value as string);
        break;
      case 'delete':
        bad = r.type !== 'deleted';
        output = r.type === 'deleted' && r.existed;
        if (!bad) this.seen[i]!.set(key, undefined);
        break;
    }
    if (bad) {
      // The real client throws "unexpected answer" here: the call may or may not have been applied.
      call.status = 'unknown';
      call.error = `unexpected '${r.type}' result`;
      this.record(call.client, call.id, 'unknown', null, `${describeInput(input)}: ${call.error}`);
      return;
    }
    call.status = 'ok';
    call.output = output;
    this.record(call.client, call.id, 'ok', null, describeCall(call));
  }

  /** send carries one client request to `node`; see {@link KvClientLink.send}. */
  private send(
    client: SimKvClient,
    node: NodeId,
    attempt: number,
    op: number,
    request: Uint8Array,
  ): 'down' | number {
    const server = this.servers.get(node);
    if (server === undefined) throw new RangeError(`unknown server ${node}`);
    const host = server.host;
    if (!host.alive) return 'down';
    const incarnation = host.incarnation;
    return this.env.network.carry(() => {
      // A request for a process that died meanwhile is lost with it (a restarted server has a new port).
      if (!host.alive || host.incarnation !== incarnation) return;
      // Each arrival is a fresh buffer, as bytes read off a socket are.
      const bytes = request.slice();
      server.handle(bytes, (response) => this.reply(server, client, attempt, op, response));
    }, node);
  }

  /** reply carries a server's answer back to the client. */
  private reply(
    server: KvServer,
    client: SimKvClient,
    attempt: number,
    op: number,
    response: KvResponse,
  ): void {
    this.record(client.name, op, 'reply', server.host.id, describeResponse(response));
    const bytes = encodeResponse(response);
    this.env.network.carry(() => client.receive(attempt, bytes), null);
  }

  private record(client: string, op: number, phase: KvPhase, node: NodeId | null, text: string): void {
    this.env.record({ kind: 'kv', time: this.env.scheduler.now, node, client, op, phase, text });
  }
}

function toKvOp(input: KvInput): KvOp {
  const key = input.key as string;
  switch (input.op) {
    case 'put':
      return { type: 'put', key, value: input.value };
    case 'append':
      return { type: 'append', key, suffix: input.suffix };
    case 'cas':
      return { type: 'cas', key, expected: input.expected, value: input.value };
    case 'delete':
      return { type: 'delete', key };
    case 'get':
      throw new TypeError('a get is not a write');
  }
}

/** describeInput is a call as the trace shows it: `append("a1", "3.17;")`. */
export function describeInput(input: KvInput): string {
  const q = (v: unknown) => (v === undefined ? 'absent' : JSON.stringify(v));
  switch (input.op) {
    case 'get':
      return `get(${q(input.key)})`;
    case 'put':
      return `put(${q(input.key)}, ${q(input.value)})`;
    case 'append':
      return `append(${q(input.key)}, ${q(input.suffix)})`;
    case 'cas':
      return `cas(${q(input.key)}, ${q(input.expected)}, ${q(input.value)})`;
    case 'delete':
      return `delete(${q(input.key)})`;
  }
}

function describeCall(c: KvCall): string {
  const out = c.output;
  if (c.input.op === 'put' || c.input.op === 'append') return describeInput(c.input);
  const shown = out === undefined ? 'absent' : typeof out === 'boolean' ? String(out) : JSON.stringify(out);
  return `${describeInput(c.input)} -> ${shown}`;
}

function describeResponse(r: KvResponse): string {
  switch (r.type) {
    case 'notLeader':
      return `notLeader (hint ${r.leaderHint ?? 'none'})`;
    case 'unavailable':
    case 'rejected':
      return `${r.type}: ${r.reason}`;
    case 'registered':
      return `registered session ${r.clientId}`;
    case 'applied':
      return `applied ${r.results.map((x) => `seq ${x.seq} ${x.type}`).join(', ')}`;
    case 'sessionExpired':
      return `sessionExpired (session ${r.clientId})`;
    case 'read':
      return `read ${r.results.map((x) => (x.type === 'value' ? (x.value === undefined ? 'absent' : JSON.stringify(x.value)) : 'pairs')).join(', ')}`;
  }
}
