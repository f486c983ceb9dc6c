import {
  EMPTY_DATA,
  type Entry,
  type HardState,
  type Message,
  type NodeId,
  Raft,
  type Role,
  resolveConfig,
  seededRandom,
} from '@xraft/core';
import { type DurableView, Monitor, type MonitoredNode, type Violation } from '../src/monitors.js';

const encoder = new TextEncoder();

/** entry makes a normal entry with a payload (by default `e<index>.<term>`). */
export function entry(index: number, term: number, payload = `e${index}.${term}`): Entry {
  return { index, term, type: 'normal', data: encoder.encode(payload) };
}

/** noop makes a leader's no-op entry. */
export function noop(index: number, term: number): Entry {
  return { index, term, type: 'noop', data: EMPTY_DATA };
}

/** FakeDisk is a hand-set durable state. */
export class FakeDisk implements DurableView {
  hardState: HardState = { term: 0, vote: null, commit: 0 };
  log: Entry[] = [];
  entry(index: number): Entry | undefined {
    return this.log[index - 1];
  }
  lastIndex(): number {
    return this.log.length;
  }
}

/** FakeNode is a server whose state a test sets by hand, through a real core `Raft` object. */
export class FakeNode implements MonitoredNode {
  raft: Raft | null;
  incarnation = 1;
  readonly disk = new FakeDisk();

  constructor(
    readonly id: NodeId,
    readonly voters: readonly NodeId[],
  ) {
    this.raft = new Raft(resolveConfig({ id, voters }), seededRandom(1));
  }

  /** set replaces the server's state: term, vote, role, log and commit index. */
  set(s: { term?: number; vote?: NodeId | null; role?: Role; log?: Entry[]; commit?: number }): this {
    const r = this.raft!;
    if (s.term !== undefined) r.term = s.term;
    if (s.vote !== undefined) r.vote = s.vote;
    if (s.role !== undefined) r.role = s.role;
    if (s.log !== undefined) r.log.restore(s.log, s.commit ?? r.log.committed, 0);
    else if (s.commit !== undefined) r.log.committed = s.commit;
    return this;
  }

  /** durable makes the current log and hard state durable. */
  persist(): this {
    const r = this.raft!;
    const log: Entry[] = [];
    for (let i = 1; i <= r.log.lastIndex(); i++) log.push(r.log.entry(i)!);
    this.disk.log = log;
    this.disk.hardState = r.hardState();
    return this;
  }
}

/** Cluster is a monitor over hand-built servers. */
export class Cluster {
  readonly nodes: FakeNode[];
  readonly monitor: Monitor;
  now = 0;

  constructor(n: number, clientIntegrity = false) {
    const ids = Array.from({ length: n }, (_, i) => `n${i + 1}`);
    this.nodes = ids.map((id) => new FakeNode(id, ids));
    this.monitor = new Monitor(this.nodes, {
      now: () => this.now,
      deepCheckEvery: 1_000_000,
      clientIntegrity,
    });
  }

  node(id: NodeId): FakeNode {
    return this.nodes.find((n) => n.id === id)!;
  }

  /** observe runs the per-step checks on one server. */
  observe(id: NodeId, cause: Message | null = null): Violation[] {
    this.now++;
    const before = this.monitor.violations.length;
    this.monitor.observe(this.node(id), cause);
    return this.monitor.violations.slice(before);
  }

  /** grant records votes for `candidate` in `term` from `voters`, as sent on the wire after persisting. */
  grant(term: number, candidate: NodeId, ...voters: NodeId[]): void {
    for (const v of voters) {
      const node = this.node(v);
      node.disk.hardState = { term, vote: candidate, commit: node.disk.hardState.commit };
      this.monitor.onSend(node, { type: 'RequestVoteResponse', from: v, to: candidate, term, granted: true });
    }
  }

  /**
   * elect makes `id` the leader of `term` with a majority of votes and the
   * given log (which should end with the leader's no-op), and observes it.
   */
  elect(id: NodeId, term: number, log: Entry[], commit?: number): Violation[] {
    const voters = this.nodes.map((n) => n.id).filter((v) => v !== id);
    this.grant(term, id, ...voters.slice(0, Math.floor(this.nodes.length / 2)));
    this.node(id).set({ term, vote: id, role: 'leader', log, ...(commit !== undefined ? { commit } : {}) });
    return this.observe(id);
  }

  properties(): string[] {
    return this.monitor.violations.map((v) => v.property);
  }
}
