import { expect, onTestFinished } from 'vitest';
import { testSeed } from '../../../tools/testing/seed.js';
import {
  type Clock,
  type Entry,
  type HardState,
  type Message,
  type MessageType,
  majority,
  type PersistedState,
  RaftNode,
  type RaftOptions,
  type ReadState,
  type Ready,
  type Snapshot,
  seededRandom,
} from '../src/index.js';

export { testSeed };

/** ManualClock is a virtual clock for tests: timers fire only when the test advances time. */
export class ManualClock implements Clock {
  now = 0;
  private seq = 0;
  private timers = new Map<number, { at: number; seq: number; fn: () => void }>();

  setTimeout(fn: () => void, ms: number): number {
    const id = ++this.seq;
    this.timers.set(id, { at: this.now + ms, seq: id, fn });
    return id;
  }

  clearTimeout(handle: unknown): void {
    this.timers.delete(handle as number);
  }

  /** pending is the number of timers not yet fired nor cleared. */
  pending(): number {
    return this.timers.size;
  }

  /** advance moves time forward by `ms`, firing due timers in order. */
  advance(ms: number): void {
    const end = this.now + ms;
    for (;;) {
      let next: { id: number; at: number; seq: number; fn: () => void } | undefined;
      for (const [id, t] of this.timers) {
        if (t.at <= end && (!next || t.at < next.at || (t.at === next.at && t.seq < next.seq)))
          next = { id, ...t };
      }
      if (!next) break;
      this.timers.delete(next.id);
      this.now = next.at;
      next.fn();
    }
    this.now = end;
  }
}

/**
 * advanceUntil moves `clock` forward 1 ms at a time until `done()` holds and
 * returns the time that took; it throws after `limitMs`.
 */
export function advanceUntil(clock: ManualClock, done: () => boolean, limitMs = 10_000): number {
  for (let elapsed = 0; elapsed <= limitMs; elapsed++) {
    if (done()) return elapsed;
    clock.advance(1);
  }
  throw new Error(`condition not reached within ${limitMs} ms of virtual time`);
}

// ---------------------------------------------------------------------------
// Building blocks: entries, persisted state, messages.

const encoder = new TextEncoder();

/** entries builds consecutive entries from index `first` with the given terms; each carries "index@term". */
export function entries(first: number, terms: readonly number[]): Entry[] {
  return terms.map((term, i) => ({
    index: first + i,
    term,
    type: 'normal' as const,
    data: encoder.encode(`${first + i}@${term}`),
  }));
}

/** repeat lists `term` `count` times, to write logs like [...repeat(1, 10), ...repeat(4, 30)]. */
export function repeat(term: number, count: number): number[] {
  return new Array<number>(count).fill(term);
}

/** persisted is the storage of a server whose log has the given terms (index 1 first). */
export function persisted(
  terms: readonly number[],
  hardState: Partial<HardState> = {},
): { hardState: HardState; entries: Entry[] } {
  return {
    hardState: { term: terms.at(-1) ?? 0, vote: null, commit: 0, ...hardState },
    entries: entries(1, terms),
  };
}

/** ack is `from`'s successful AppendEntriesResponse to the leader n1 in `term`, up to `index`. */
export function ack(from: string, term: number, index: number): Message {
  return {
    type: 'AppendEntriesResponse',
    from,
    to: 'n1',
    term,
    success: true,
    index,
    hintIndex: 0,
    hintTerm: 0,
  };
}

/** Of is the message type whose discriminant is `T`. */
export type Of<T extends MessageType> = Extract<Message, { type: T }>;

/** msg builds a message, checked by the type of its discriminant. */
export function msg<T extends MessageType>(type: T, fields: Omit<Of<T>, 'type'>): Of<T> {
  return { type, ...fields } as Of<T>;
}

/** ofType keeps the messages of one type. */
export function ofType<T extends MessageType>(messages: readonly Message[], type: T): Of<T>[] {
  return messages.filter((m): m is Of<T> => m.type === type);
}

// ---------------------------------------------------------------------------
// Driving one node by hand: step messages in, read Ready out.

/** Solo is one RaftNode on its own ManualClock; the test plays every other server. */
export interface Solo {
  readonly node: RaftNode;
  readonly clock: ManualClock;
}

/** SoloOptions configures {@link solo}; `id` defaults to n1 and `voters` to n1..n3. */
export interface SoloOptions extends Partial<RaftOptions> {
  readonly persisted?: PersistedState;
  readonly seed?: number;
}

/** solo starts a node for a message-by-message test; it is stopped when the test finishes. */
export function solo(options: SoloOptions = {}): Solo {
  const { persisted, seed = 1, ...raft } = options;
  const clock = new ManualClock();
  const node = new RaftNode({
    id: 'n1',
    voters: ['n1', 'n2', 'n3'],
    ...raft,
    clock,
    now: () => clock.now,
    random: seededRandom(seed),
    ...(persisted ? { persisted } : {}),
  });
  node.start();
  onTestFinished(() => node.stop());
  return { node, clock };
}

/**
 * pastBootLease lets a freshly started follower's boot lease run out: a
 * server starts as if it had just heard from a leader (§6.4.1) and ignores
 * vote requests for a minimum election timeout, which tests of the voting
 * rules themselves must wait out.
 */
export function pastBootLease({ node, clock }: Solo): void {
  clock.advance(node.raft.config.electionTimeoutMs[0]);
  expect(node.stateValue(), 'the election timer fired with the boot lease').toEqual({
    follower: 'leaderSilent',
  });
}

/**
 * collect reads Ready values until there are none, merging them (last hard
 * state, every entry, message and committed entry in order), and acknowledges
 * each as durable at once, as an instant disk would. With `persist` false it
 * reads a single Ready and acknowledges nothing: the host has not written yet.
 */
export function collect(node: RaftNode, persist = true): Ready {
  let hardState: HardState | null = null;
  const out = { entries: [] as Entry[], earlyMessages: [] as Message[], messages: [] as Message[] };
  const committed: Entry[] = [];
  const readStates: ReadState[] = [];
  let snapshot: Snapshot | null = null;
  while (node.hasReady()) {
    const rd = node.ready();
    hardState = rd.hardState ?? hardState;
    snapshot = rd.snapshot ?? snapshot;
    out.entries.push(...rd.entries);
    out.earlyMessages.push(...rd.earlyMessages);
    out.messages.push(...rd.messages);
    committed.push(...rd.committed);
    readStates.push(...rd.readStates);
    if (!persist) break;
    node.advance(rd);
  }
  return { hardState, snapshot, ...out, committed, readStates };
}

/** sent is every message of a Ready, early ones first. */
export function sent(rd: Ready): Message[] {
  return [...rd.earlyMessages, ...rd.messages];
}

/** grant is the response granting a PreVote or RequestVote. */
export function grant(m: Of<'PreVote'> | Of<'RequestVote'>): Message {
  const type = m.type === 'PreVote' ? 'PreVoteResponse' : 'RequestVoteResponse';
  return { type, from: m.to, to: m.from, term: m.term, granted: true };
}

/**
 * elect lets `s.node`'s election timer fire and grants it just enough
 * (pre-)votes to lead. Returns the leader's first Ready (no-op entry and
 * AppendEntries), acknowledged as durable unless `persist` is false.
 */
export function elect(s: Solo, persist = true): Ready {
  const { node, clock } = s;
  advanceUntil(clock, () => node.status().role !== 'follower');
  const needed = majority(node.raft.voters.length) - 1;
  // A precandidate needs PreVote grants, then a candidate votes: at most two rounds.
  for (let round = 0; round < 2 && node.status().role !== 'leader'; round++) {
    const requests = collect(node).messages.filter((m) => m.type === 'PreVote' || m.type === 'RequestVote');
    for (const m of requests.slice(0, needed)) node.step(grant(m));
  }
  if (node.status().role !== 'leader') throw new Error(`elect: ${node.id} is ${node.status().role}`);
  return collect(node, persist);
}

// ---------------------------------------------------------------------------
// A whole cluster with instant delivery.

/** Stored is what a test node has made durable. */
export interface Stored {
  hardState: PersistedState['hardState'];
  entries: PersistedState['entries'][number][];
  snapshot?: Snapshot;
  /** The term of the entry just before the first stored one, when entries before the snapshot are kept. */
  compactedTerm?: number;
}

/** The test state machine is the list of commands applied; its snapshot is that list, encoded. */
function encodeApplied(applied: readonly Uint8Array[]): Uint8Array {
  return new TextEncoder().encode(JSON.stringify(applied.map((d) => Array.from(d))));
}

/** compactionPoint is the entry just before the first stored one: the snapshot's, or a kept entry's predecessor. */
function compactionPoint(s: Stored): { index: number; term: number } {
  const first = s.entries[0];
  if (first === undefined || first.index === s.snapshot!.meta.index + 1) return s.snapshot!.meta;
  return { index: first.index - 1, term: s.compactedTerm! };
}

function decodeApplied(data: Uint8Array): Uint8Array[] {
  return (JSON.parse(new TextDecoder().decode(data)) as number[][]).map((d) => Uint8Array.from(d));
}

/**
 * TestNetwork runs nodes on one ManualClock with instant, in-order delivery.
 * Each node's host persists every Ready at once (into `stored`), then sends.
 */
export class TestNetwork {
  readonly clock = new ManualClock();
  readonly nodes = new Map<string, RaftNode>();
  readonly stored = new Map<string, Stored>();
  readonly applied = new Map<string, Uint8Array[]>();
  /** Messages in flight, delivered by deliverAll(). */
  queue: Message[] = [];
  /** Every message delivered so far, in order (dropped ones excluded). */
  readonly delivered: Message[] = [];
  /** Links cut: `${from}->${to}`. */
  readonly cut = new Set<string>();

  constructor(
    readonly ids: string[],
    readonly options: Partial<RaftOptions> = {},
    seed = 1,
    initial: Record<string, Stored> = {},
  ) {
    for (const [id, s] of Object.entries(initial)) {
      this.stored.set(id, { hardState: s.hardState, entries: s.entries.slice() });
    }
    for (const id of ids) this.boot(id, seed);
    onTestFinished(() => {
      for (const node of this.nodes.values()) node.stop();
    });
  }

  boot(id: string, seed = 1): RaftNode {
    const s = this.stored.get(id) ?? { hardState: { term: 0, vote: null, commit: 0 }, entries: [] };
    this.stored.set(id, s);
    this.applied.set(id, []);
    if (s.snapshot) this.applied.set(id, decodeApplied(s.snapshot.data));
    const node = new RaftNode({
      id,
      voters: this.ids,
      ...this.options,
      clock: this.clock,
      random: seededRandom(seed * 1000 + this.ids.indexOf(id)),
      persisted: {
        hardState: s.hardState,
        entries: s.entries.slice(),
        ...(s.snapshot ? { snapshot: compactionPoint(s), latestSnapshot: s.snapshot } : {}),
      },
      onReady: () => this.drain(id),
    });
    this.nodes.set(id, node);
    node.start();
    this.drain(id);
    return node;
  }

  /**
   * compact snapshots `id`'s state machine (the applied commands) at its
   * applied index, stores it, and compacts its log and storage, keeping
   * `keepEntries` entries before that index.
   */
  compact(id: string, keepEntries = 0): number {
    const node = this.node(id);
    const index = node.status().lastApplied;
    const data = encodeApplied(this.applied.get(id)!);
    node.compact(index, data, keepEntries);
    const s = this.stored.get(id)!;
    s.snapshot = node.raft.snapshot!;
    s.compactedTerm = node.raft.log.snapshotTerm;
    s.entries = s.entries.filter((e) => e.index >= node.raft.log.firstIndex());
    return index;
  }

  /** restart stops a node (a crash: what it did not persist is lost) and boots it again from `stored`. */
  restart(id: string, seed = 2): RaftNode {
    this.node(id).stop();
    this.queue = this.queue.filter((m) => m.to !== id && m.from !== id);
    return this.boot(id, seed);
  }

  node(id: string): RaftNode {
    return this.nodes.get(id)!;
  }

  drain(id: string): void {
    const node = this.nodes.get(id)!;
    while (node.hasReady()) {
      const rd: Ready = node.ready();
      this.queue.push(...rd.earlyMessages);
      const s = this.stored.get(id)!;
      if (rd.snapshot) {
        // Keep the stored entries after the snapshot only if the log holds its last entry (§7).
        const { index, term } = rd.snapshot.meta;
        const at = s.entries.findIndex((e) => e.index === index);
        s.entries = at >= 0 && s.entries[at]!.term === term ? s.entries.slice(at + 1) : [];
        s.snapshot = rd.snapshot;
        s.compactedTerm = term;
        this.applied.set(id, decodeApplied(rd.snapshot.data));
      }
      if (rd.hardState) s.hardState = rd.hardState;
      const first = rd.entries[0];
      if (first) {
        const base = s.entries[0]?.index ?? (s.snapshot?.meta.index ?? 0) + 1;
        s.entries.length = Math.max(0, first.index - base);
        s.entries.push(...rd.entries);
      }
      this.queue.push(...rd.messages);
      for (const e of rd.committed) if (e.type === 'normal') this.applied.get(id)!.push(e.data);
      node.advance(rd);
    }
  }

  deliverAll(max = 100_000): void {
    for (let i = 0; i < max && this.queue.length > 0; i++) {
      const m = this.queue.shift()!;
      if (this.cut.has(`${m.from}->${m.to}`) || !this.nodes.has(m.to)) continue;
      this.delivered.push(m);
      this.node(m.to).step(m);
      this.drain(m.to);
    }
  }

  /** run advances virtual time by `ms` in steps of `step`, delivering everything after each. */
  run(ms: number, step = 10): void {
    for (let t = 0; t < ms; t += step) {
      this.clock.advance(step);
      this.deliverAll();
    }
  }

  /** partition cuts every link between `id` and the other nodes, both ways. */
  partition(id: string): void {
    for (const other of this.ids) {
      if (other === id) continue;
      this.cut.add(`${id}->${other}`);
      this.cut.add(`${other}->${id}`);
    }
  }

  /** heal restores every link. */
  heal(): void {
    this.cut.clear();
  }

  leaders(): string[] {
    return this.ids.filter((id) => this.node(id).status().role === 'leader');
  }

  /** electLeader runs the cluster until exactly one node leads and returns it. */
  electLeader(limitMs = 5_000): string {
    for (let t = 0; t < limitMs; t += 10) {
      const leaders = this.leaders();
      if (leaders.length === 1) return leaders[0]!;
      this.run(10);
    }
    throw new Error(`no single leader within ${limitMs} ms: ${this.leaders()}`);
  }
}
