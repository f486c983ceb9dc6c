// Flow control of AppendEntries (etcd-io/raft's probe/replicate states and
// inflights) and batching: one AppendEntries per follower per Propose.
import { describe, expect, test } from 'vitest';
import type { RaftNode } from '../src/index.js';
import { ack, collect, elect, msg, ofType, persisted, type SoloOptions, solo } from './harness.js';

/** leader elects n1 of n1..n3 at term 1 (no-op at 1, durable), with the given flow-control options. */
function leader(options: SoloOptions = {}): RaftNode {
  const s = solo({ preVote: false, ...options });
  elect(s);
  return s.node;
}

/** appendsTo lists the AppendEntries `node` sends to `to` next, as [prevLogIndex, entry count]. */
function appendsTo(node: RaftNode, to: string): [number, number][] {
  return ofType(collect(node).earlyMessages, 'AppendEntries')
    .filter((m) => m.to === to)
    .map((m) => [m.prevLogIndex, m.entries.length]);
}

const bytes = (n: number) => new Uint8Array(n);

describe('§10.2.2 flow control: batching and pipelining', () => {
  test('§10.2.2 probe state sends one AppendEntries at a time until the follower answers', () => {
    // n1 leads term 2 over [1, 1, 1]; its no-op (4@2) went to n2 as a probe at prevLogIndex 3.
    const node = leader({ persisted: persisted([1, 1, 1], { term: 1 }) });
    for (let i = 0; i < 3; i++) node.propose([bytes(1)]);
    expect(appendsTo(node, 'n2')).toEqual([]); // the probe is unanswered: nothing more goes
    // n2 holds nothing: its rejection lets exactly one new probe out, carrying the whole log.
    node.step(
      msg('AppendEntriesResponse', {
        from: 'n2',
        to: 'n1',
        term: 2,
        success: false,
        index: 3,
        hintIndex: 0,
        hintTerm: 0,
      }),
    );
    expect(appendsTo(node, 'n2')).toEqual([[0, 7]]);
    node.propose([bytes(1)]);
    expect(appendsTo(node, 'n2')).toEqual([]);
    // Its acknowledgement switches n2 to replicate state, and the new entry follows at once.
    node.step(ack('n2', 2, 7));
    expect(appendsTo(node, 'n2')).toEqual([[7, 1]]);
  });

  test('§10.2.2 replicate state pipelines up to maxInflightMessages AppendEntries', () => {
    const node = leader({ maxInflightMessages: 3 });
    node.step(ack('n2', 1, 1)); // probe succeeded: n2 is in replicate state
    collect(node);
    const sent: [number, number][] = [];
    for (let i = 0; i < 5; i++) {
      node.propose([bytes(1)]);
      sent.push(...appendsTo(node, 'n2'));
    }
    expect(sent).toEqual([
      [1, 1],
      [2, 1],
      [3, 1],
    ]);
    // Acknowledging the first frees one slot: the backlog (entries 5 and 6) goes in one message.
    node.step(ack('n2', 1, 2));
    expect(appendsTo(node, 'n2')).toEqual([[4, 2]]);
    node.propose([bytes(1)]);
    expect(appendsTo(node, 'n2')).toEqual([]);
    // Acknowledging everything reopens the pipeline.
    node.step(ack('n2', 1, 6));
    expect(appendsTo(node, 'n2')).toEqual([[6, 1]]);
  });

  test('§10.2.2 replicate state stops once maxInflightBytes are in flight', () => {
    const node = leader({ maxInflightBytes: 100 });
    node.step(ack('n2', 1, 1));
    collect(node);
    const sent: [number, number][] = [];
    for (let i = 0; i < 5; i++) {
      node.propose([bytes(40)]);
      sent.push(...appendsTo(node, 'n2'));
    }
    // 40 + 40 < 100 lets a third one out; 120 bytes in flight then block the rest.
    expect(sent).toEqual([
      [1, 1],
      [2, 1],
      [3, 1],
    ]);
    node.step(ack('n2', 1, 4));
    expect(appendsTo(node, 'n2')).toEqual([[4, 2]]);
  });

  test('§10.2.2 a heartbeat response unsticks a full pipeline (a lost AppendEntries cannot stall it forever)', () => {
    const node = leader({ maxInflightMessages: 2 });
    node.step(ack('n2', 1, 1));
    collect(node);
    for (let i = 0; i < 4; i++) node.propose([bytes(1)]);
    expect(appendsTo(node, 'n2')).toEqual([
      [1, 1],
      [2, 1],
    ]); // then full, and suppose both messages were lost
    node.step(msg('HeartbeatResponse', { from: 'n2', to: 'n1', term: 1, readRound: 0 }));
    expect(appendsTo(node, 'n2')).toEqual([[3, 2]]);
    // Without it, nothing more would go: the pipeline is full again.
    node.propose([bytes(1)]);
    expect(appendsTo(node, 'n2')).toEqual([]);
  });

  test('§10.2.2 batching: one Propose with many commands yields one AppendEntries per follower', () => {
    const node = leader();
    node.step(ack('n2', 1, 1));
    node.step(ack('n3', 1, 1));
    collect(node);
    node.propose(Array.from({ length: 100 }, (_, i) => bytes(i % 7)));
    const rd = collect(node);
    expect(rd.entries).toHaveLength(100);
    const appends = ofType(rd.earlyMessages, 'AppendEntries');
    expect(appends.map((m) => [m.to, m.entries.length])).toEqual([
      ['n2', 100],
      ['n3', 100],
    ]);
  });

  test('§10.2.2 maxMessageBytes splits a backlog into messages, each of at least one entry', () => {
    const node = leader({ maxMessageBytes: 100 });
    node.step(ack('n2', 1, 1));
    collect(node);
    const sizes = () =>
      ofType(collect(node).earlyMessages, 'AppendEntries')
        .filter((m) => m.to === 'n2')
        .map((m) => m.entries.map((e) => e.data.byteLength));
    node.propose([bytes(60), bytes(60), bytes(30), bytes(200), bytes(10)]);
    // A Propose sends one message per follower; its acknowledgement lets the rest stream out.
    expect(sizes()).toEqual([[60]]);
    node.step(ack('n2', 1, 2));
    expect(sizes()).toEqual([[60, 30], [200], [10]]);
  });
});
