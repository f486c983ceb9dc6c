// A harness in the image of MIT 6.5840's kvraft lab `config.go` and
// `test_test.go`, over a real worker-thread cluster: clerks that retry until
// their call is applied, clerks connected to some servers only, unreliable
// client links, and the lab's append checks; every call is recorded for the
// linearizability checker.
import { setTimeout as sleep } from 'node:timers/promises';
import { type NodeId, seededRandom } from '@xraft/core';
import {
  KvClient,
  type KvClientOptions,
  type KvTransport,
  NotLeaderError,
  UndeliveredError,
} from '@xraft/kv';
import { expect, onTestFinished } from 'vitest';
import { testSeed } from '../../../../tools/testing/seed.js';
import { Cluster, type ClusterOptions } from '../../src/index.js';
import { describe, type Input, type Output, Recorder } from '../jepsen/recorder.js';
import { type CheckSummary, checkLinearizable, watchApplies } from '../jepsen/verify.js';

/** The election timeout upper bound the cluster runs with (the seed document's 300 ms). */
export const ELECTION_TIMEOUT_MS = 300;

/**
 * Options of the clerks' KvClients. MIT's clerk retries a call until it is
 * applied; ours searches for a leader without giving up and waits up to 30 s,
 * so a call that still fails means the service made no progress in that time.
 */
const CLERK_OPTIONS: KvClientOptions = {
  timeoutMs: 30_000,
  attemptTimeoutMs: 500,
  maxLeaderSearchRounds: 1_000_000,
};

/** The unreliable network of the lab: 10% of requests and of replies lost, delays up to 27 ms. */
const UNRELIABLE = { dropRate: 0.1, delayMs: [0, 27] as const, reorder: true };

/**
 * ClientLink is one clerk's connection to the servers: which servers it can
 * reach (the lab's `ConnectClient(ck, to)`) and whether its requests and
 * replies are lost and delayed (the lab's unreliable network covers client
 * RPCs too). A request to a server out of reach is never sent
 * (`UndeliveredError`, so the client knows it was not applied); a lost reply
 * comes after the server handled the request (so the call may have been
 * applied, and the client must retry it with the same sequence number).
 */
export class ClientLink {
  private reach: ReadonlySet<NodeId> | null = null;
  unreliable = false;

  constructor(private readonly random: () => number) {}

  /** connect lets the clerk reach `nodes` only, or every server. */
  connect(nodes: readonly NodeId[] | 'all'): void {
    this.reach = nodes === 'all' ? null : new Set(nodes);
  }

  reaches(node: NodeId): boolean {
    return this.reach === null || this.reach.has(node);
  }

  /** transport is a KvTransport over the cluster's client ports, through this link. */
  transport(c: Cluster): KvTransport {
    const ports = c.clientTransport();
    return {
      nodes: c.ids,
      send: async (node, request, timeoutMs) => {
        if (!this.reaches(node)) throw new UndeliveredError(node, 'the test cut this clerk off from it');
        if (this.unreliable) {
          if (this.random() < UNRELIABLE.dropRate)
            throw new UndeliveredError(node, 'request lost by the test network');
          await sleep(this.random() * UNRELIABLE.delayMs[1]);
        }
        const response = await ports.send(node, request, timeoutMs);
        if (this.unreliable && this.random() < UNRELIABLE.dropRate) {
          throw new Error(`the reply of ${node} was lost by the test network`);
        }
        return response;
      },
    };
  }
}

/** MitKvOptions configure {@link MitKv.make}. */
export interface MitKvOptions {
  /** The test's name, printed with the seed and in every failure. */
  readonly name: string;
  /** The servers' storage (default memory); crashing and restarting servers needs disk to keep their state. */
  readonly storage?: 'disk' | 'memory';
  /** The lab's unreliable network: Raft links lossy, delayed and reordering, and every clerk's link lossy. */
  readonly unreliable?: boolean;
  /** More cluster options (e.g. a snapshot threshold); `nodes`, `storage` and `log` are the harness's. */
  readonly cluster?: ClusterOptions;
}

/**
 * Clerk is the lab's clerk: `get`, `put` and `append` retry until the call
 * is applied, and resolve only then. Its KvClient does the retrying (same
 * sequence number on every retry, so a write applies exactly once); the
 * clerk also retries a call the KvClient gave up on as surely not applied
 * (NotLeaderError). Any other failure (no progress within the KvClient's
 * 30 s, the clerk closed) is an error of the test. Every call, retries
 * included, is recorded in the harness's history.
 */
export class Clerk {
  constructor(
    /** The clerk's name in the history (`ck0`, `ck1`, …). */
    readonly name: string,
    /** The clerk's KvClient, for calls the history should not record (e.g. stale reads). */
    readonly kv: KvClient,
    /** Which servers the clerk reaches, and whether its link is unreliable. */
    readonly link: ClientLink,
    private readonly recorder: Recorder,
    private readonly label: string,
  ) {}

  /** get returns the value of `key`, or '' when it has none (as the lab's Get). */
  async get(key: string): Promise<string> {
    const v = await this.call({ op: 'get', key });
    return typeof v === 'string' ? v : '';
  }

  /** put sets `key` to `value`. */
  async put(key: string, value: string): Promise<void> {
    await this.call({ op: 'put', key, value });
  }

  /** append appends `value` to the value of `key`. */
  async append(key: string, value: string): Promise<void> {
    await this.call({ op: 'append', key, suffix: value });
  }

  private async call(input: Input): Promise<Output> {
    for (;;) {
      const r = await this.recorder.call(this.name, this.kv, input);
      if (r.outcome === 'ok') return r.output;
      // Surely not applied (recorded as failed): try again, as the lab's clerk does.
      if (r.error instanceof NotLeaderError) continue;
      throw new Error(`${this.label}: ${this.name} ${describe(input)} failed: ${String(r.error)}`, {
        cause: r.error,
      });
    }
  }
}

/** derive makes the seed of PRNG stream `stream`, number `i`, from the test's seed. */
function derive(seed: number, stream: number, i = 0): number {
  return (seed ^ Math.imul(stream + 1, 0x9e3779b1) ^ Math.imul(i + 1, 0x85ebca6b)) >>> 0;
}

/**
 * MitKv is one test's KV service, in the image of the lab's `config.go`: a
 * real worker-thread cluster, clerks made with {@link makeClient} (each its
 * own KvClient over a {@link ClientLink}), and the lab's server-side faults
 * (partitions, crash and restart of every server). Every clerk call is
 * recorded into a History, and every apply watched for State Machine Safety;
 * {@link check} checks both. Every random choice comes from the seed printed
 * at the start (XRAFT_SEED replays it). The clerks are closed and the
 * cluster stopped when the test finishes, pass or fail.
 */
export class MitKv {
  /** Every clerk call, by the clerk's name (appends are not traced: the lab's suffixes repeat across rounds). */
  readonly recorder = new Recorder(false);
  /** The test's name and seed, as every failure names them. */
  readonly label: string;
  private readonly random: () => number;
  private readonly clerks: Clerk[] = [];
  private readonly applyErrors: string[];

  private constructor(
    /** The cluster, for what the harness does not wrap (status, state, crash of one node…). */
    readonly c: Cluster,
    /** The seed every random choice of the test comes from. */
    readonly seed: number,
    private readonly unreliable: boolean,
    label: string,
  ) {
    this.label = label;
    this.random = seededRandom(derive(seed, 0));
    this.applyErrors = watchApplies(c);
  }

  /**
   * make starts the service on `n` servers (memory storage unless told
   * otherwise; the lab's unreliable network if asked) and prints the seed.
   */
  static async make(n: number, o: MitKvOptions): Promise<MitKv> {
    const seed = testSeed();
    const label = `mit-kv ${o.name}, seed ${seed} (replay with XRAFT_SEED=${seed})`;
    const storage = o.storage ?? 'memory';
    const unreliable = o.unreliable ?? false;
    const snapshots = o.cluster?.snapshotThreshold;
    console.log(
      `${label}: ${n} servers, ${storage} storage${unreliable ? ', unreliable network' : ''}${snapshots ? `, snapshots ${JSON.stringify(snapshots)}` : ''}`,
    );
    // The cluster's warnings and errors, printed only if the test fails.
    const trail: string[] = [];
    const t0 = performance.now();
    const c = await Cluster.start({
      ...o.cluster,
      nodes: n,
      storage,
      log: (e) => {
        if (e.level === 'info') return;
        trail.push(
          `${((performance.now() - t0) / 1000).toFixed(2)}s [${e.node ?? 'cluster'}] ${e.level}: ${e.message}`,
        );
        if (trail.length > 100) trail.shift();
      },
    });
    const m = new MitKv(c, seed, unreliable, label);
    onTestFinished(async (ctx) => {
      await Promise.all(m.clerks.map((ck) => ck.kv.close()));
      await c.stop();
      if (ctx.task.result?.state === 'fail') {
        console.log(
          `${label} FAILED; ${m.recorder.summary()}; the cluster's last warnings:\n${trail.join('\n') || '(none)'}`,
        );
      }
    });
    if (unreliable) await c.setNetwork(UNRELIABLE);
    return m;
  }

  /** ids are the servers' ids. */
  get ids(): readonly NodeId[] {
    return this.c.ids;
  }

  /** int is a seeded random integer in [0, n). */
  int(n: number): number {
    return Math.floor(this.random() * n);
  }

  /**
   * makeClient is the lab's `makeClient(to)`: a new clerk that reaches the
   * servers `to` only (default: all), over an unreliable link if the
   * service's network is unreliable. Change what it reaches with `link.connect`.
   */
  makeClient(to: readonly NodeId[] | 'all' = 'all'): Clerk {
    const i = this.clerks.length;
    const link = new ClientLink(seededRandom(derive(this.seed, 1, i)));
    link.connect(to);
    link.unreliable = this.unreliable;
    const kv = new KvClient(link.transport(this.c), {
      ...CLERK_OPTIONS,
      random: seededRandom(derive(this.seed, 2, i)),
    });
    const clerk = new Clerk(`ck${i}`, kv, link, this.recorder, this.label);
    this.clerks.push(clerk);
    return clerk;
  }

  /**
   * makePartition is the lab's `make_partition`: a majority `p1` of
   * followers, and a minority `p2` holding the rest and the current leader.
   */
  async makePartition(): Promise<[NodeId[], NodeId[]]> {
    const leader = await this.c.leader();
    const others = this.ids.filter((id) => id !== leader);
    for (let i = others.length - 1; i > 0; i--) {
      const j = this.int(i + 1);
      [others[i], others[j]] = [others[j]!, others[i]!];
    }
    const majority = Math.floor(this.ids.length / 2) + 1;
    return [others.slice(0, majority), [...others.slice(majority), leader]];
  }

  /** partition splits the servers into `p1` and `p2` (clerks' links unchanged, as in the lab). */
  async partition(p1: readonly NodeId[], p2: readonly NodeId[]): Promise<void> {
    await this.c.partition([...p1], [...p2]);
  }

  /** connectAll is the lab's `ConnectAll`: every server reaches every other again (clerks' links unchanged). */
  async connectAll(): Promise<void> {
    await this.c.heal();
  }

  /** crashAll crashes every server (the lab's `ShutdownServer` of each); clerks' calls wait for them. */
  async crashAll(): Promise<void> {
    await Promise.all(this.ids.map((id) => this.c.crash(id)));
  }

  /** restartAll restarts every server from its storage (the lab's `StartServer` of each); links stay as they were. */
  async restartAll(): Promise<void> {
    await Promise.all(this.ids.map((id) => this.c.restart(id)));
  }

  /**
   * check fails the test unless no two servers applied different commands
   * at one index, no clerk saw an error outside the KvClient contract, and
   * the history of every clerk call so far is linearizable (decided within
   * the checker's budget). Returns what the checker measured.
   */
  check(): CheckSummary {
    const problems = [
      ...this.applyErrors,
      ...this.recorder.unexpected.map((u) => `unexpected client error: ${u}`),
    ];
    expect(problems, `${this.label}:\n${problems.slice(0, 30).join('\n')}`).toEqual([]);
    const summary = checkLinearizable(this.recorder.operations(), this.label);
    console.log(
      `${this.label}: ${this.recorder.summary()}; linearizable: ${summary.ops} ops on ${summary.keys} keys checked in ${summary.ms} ms (${summary.steps} steps)`,
    );
    return summary;
  }
}

/** within resolves as `p` does, or rejects with `${what} within ${ms} ms` if it has not settled by then. */
export async function within<T>(p: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`${what} within ${ms} ms`)), ms);
  });
  try {
    return await Promise.race([p, timeout]);
  } finally {
    clearTimeout(timer);
  }
}

/**
 * checkAppends checks the lab's way that `v` holds client `clnt`'s appends
 * `x <clnt> 0 y` … `x <clnt> <count-1> y` each exactly once and in order.
 */
function checkAppends(clnt: number, v: string, count: number): void {
  let lastoff = -1;
  for (let j = 0; j < count; j++) {
    const wanted = `x ${clnt} ${j} y`;
    const off = v.indexOf(wanted);
    if (off < 0) throw new Error(`${clnt} missing element ${wanted} in Append result ${v}`);
    if (v.lastIndexOf(wanted) !== off) throw new Error(`duplicate element ${wanted} in Append result`);
    if (off <= lastoff) throw new Error(`wrong order for element ${wanted} in Append result`);
    lastoff = off;
  }
}

/** checkClntAppends is the lab's: client `clnt`'s `count` appends are in `v` exactly once each, in order. */
export function checkClntAppends(clnt: number, v: string, count: number): void {
  checkAppends(clnt, v, count);
}

/** checkConcurrentAppends is the lab's: client i's `counts[i]` appends are in `v` exactly once each, in order. */
export function checkConcurrentAppends(v: string, counts: readonly number[]): void {
  counts.forEach((count, clnt) => {
    checkAppends(clnt, v, count);
  });
}
