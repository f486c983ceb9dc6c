import {
  type Clock,
  type Message,
  type PersistedState,
  RaftNode,
  type RaftOptions,
  type Ready,
  seededRandom,
} from '../src/index.js';

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

/** Stored is what a test node has made durable. */
export interface Stored {
  hardState: PersistedState['hardState'];
  entries: PersistedState['entries'][number][];
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
  /** Links cut: `${from}->${to}`. */
  readonly cut = new Set<string>();

  constructor(
    readonly ids: string[],
    readonly options: Partial<RaftOptions> = {},
    seed = 1,
  ) {
    for (const id of ids) this.boot(id, seed);
  }

  boot(id: string, seed = 1): RaftNode {
    const s = this.stored.get(id) ?? { hardState: { term: 0, vote: null, commit: 0 }, entries: [] };
    this.stored.set(id, s);
    this.applied.set(id, []);
    const node = new RaftNode({
      id,
      voters: this.ids,
      ...this.options,
      clock: this.clock,
      random: seededRandom(seed * 1000 + this.ids.indexOf(id)),
      persisted: { hardState: s.hardState, entries: s.entries.slice() },
      onReady: () => this.drain(id),
    });
    this.nodes.set(id, node);
    node.start();
    this.drain(id);
    return node;
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
      if (rd.hardState) s.hardState = rd.hardState;
      const first = rd.entries[0];
      if (first) {
        s.entries.length = first.index - 1 - (s.entries[0]?.index ?? 1) + 1;
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
      this.node(m.to).step(m);
      this.drain(m.to);
    }
  }

  leaders(): string[] {
    return this.ids.filter((id) => this.node(id).status().role === 'leader');
  }
}
