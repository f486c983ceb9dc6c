// Log compaction and InstallSnapshot (§7, Figure 13): a leader whose log no
// longer holds what a follower needs sends its snapshot in chunks, with
// offsets, resumable; the follower assembles it, installs it atomically and
// answers only once the install is durable.
import { describe, expect, test } from 'vitest';
import { RaftLog } from '../src/index.js';
import {
  ack,
  collect,
  elect,
  entries,
  msg,
  ofType,
  persisted,
  type Solo,
  solo,
  TestNetwork,
} from './harness.js';

const CHUNK = 10;
const bytes = (n: number) => Uint8Array.from({ length: n }, (_, i) => i % 251);

/**
 * leaderWithSnapshot elects n1 over ten term-1 entries (its no-op is 11@2),
 * commits and applies everything, and compacts at 11 with a 35-byte snapshot.
 */
function leaderWithSnapshot(): Solo {
  const s = solo({
    preVote: false,
    snapshotChunkBytes: CHUNK,
    persisted: persisted(Array(10).fill(1), { term: 1 }),
  });
  elect(s);
  s.node.step(ack('n2', 2, 11));
  collect(s.node);
  expect(s.node.status()).toMatchObject({ commitIndex: 11, lastApplied: 11 });
  s.node.compact(11, bytes(35));
  expect(s.node.status()).toMatchObject({ snapshotIndex: 11, firstLogIndex: 12 });
  return s;
}

const chunkAck = (received: number, from = 'n3') =>
  msg('InstallSnapshotResponse', {
    from,
    to: 'n1',
    term: 2,
    lastIncludedIndex: 11,
    lastIncludedTerm: 2,
    received,
  });

/** probeFrom makes n3 reject an append at 11, so the leader learns it needs entries before 12. */
function lagging(s: Solo) {
  s.node.step(
    msg('AppendEntriesResponse', {
      from: 'n3',
      to: 'n1',
      term: 2,
      success: false,
      index: 10,
      hintIndex: 0,
      hintTerm: 0,
    }),
  );
  return ofType(collect(s.node).earlyMessages, 'InstallSnapshot');
}

describe('§7 the log after compaction', () => {
  test('compact drops applied entries only; installSnapshot keeps a matching suffix and drops a conflicting log', () => {
    const log = new RaftLog();
    log.restore(entries(1, [1, 1, 2, 2, 3]), 3, 3);
    expect(() => log.compact(4)).toThrow(/applied/);
    log.compact(3);
    expect([log.firstIndex(), log.lastIndex(), log.term(3), log.term(2)]).toEqual([4, 5, 2, undefined]);

    log.installSnapshot(4, 2); // holds 4@2: entry 5 stays
    expect([log.snapshotIndex, log.lastIndex(), log.committed, log.applied]).toEqual([4, 5, 4, 4]);
    log.installSnapshot(5, 9); // 5 is term 3 here: everything goes
    expect([log.snapshotIndex, log.lastIndex(), log.lastTerm(), log.stableIndex]).toEqual([5, 5, 9, 5]);
    expect(() => log.installSnapshot(5, 9)).toThrow(/committed/);
  });

  test('compact refuses an index that is not applied and ignores an older snapshot', () => {
    const s = leaderWithSnapshot();
    expect(() => s.node.compact(12, bytes(1))).toThrow(RangeError);
    s.node.compact(5, bytes(1));
    expect(s.node.raft.snapshot!.meta).toEqual({ index: 11, term: 2 });
  });
});

describe("§7 compaction past the leader's own write in flight", () => {
  test('its stableIndex (its own matchIndex) advances when the write lands, and the entries leave the log only then', () => {
    const s = solo({ preVote: false, persisted: persisted(Array(10).fill(1), { term: 1 }) });
    elect(s); // no-op 11@2, durable
    s.node.propose([new Uint8Array([7])]); // 12@2
    const write = s.node.ready(); // 12@2 handed to the host, not durable yet
    expect(write.entries.map((e) => e.index)).toEqual([12]);
    s.node.step(ack('n2', 2, 12));
    s.node.step(ack('n3', 2, 12)); // a majority without the leader: 12 commits
    const applying = collect(s.node, false);
    expect(applying.committed.map((e) => e.index)).toContain(12);
    s.node.compact(12, bytes(3)); // the host applied 12 and snapshot before its own write landed
    expect(s.node.status()).toMatchObject({ snapshotIndex: 12, stableIndex: 11, firstLogIndex: 12 });
    s.node.advance(write);
    expect(s.node.status()).toMatchObject({ snapshotIndex: 12, stableIndex: 12, firstLogIndex: 13 });
  });
});

describe('§7 InstallSnapshot, leader side', () => {
  test('a follower that needs compacted entries gets the snapshot in chunks with offsets, at most a window in flight', () => {
    const s = leaderWithSnapshot();
    const chunks = lagging(s);
    // 35 bytes in chunks of 10: a window of four chunks covers it all.
    expect(chunks.map((c) => [c.offset, c.data.byteLength, c.size])).toEqual([
      [0, 10, 35],
      [10, 10, 35],
      [20, 10, 35],
      [30, 5, 35],
    ]);
    expect(chunks.every((c) => c.lastIncludedIndex === 11 && c.lastIncludedTerm === 2)).toBe(true);
    expect(chunks.flatMap((c) => Array.from(c.data))).toEqual(Array.from(bytes(35)));
    // Appends to n3 are paused meanwhile; n2 still gets new entries.
    s.node.propose([new Uint8Array([7])]);
    const rd = collect(s.node);
    expect(ofType(rd.earlyMessages, 'AppendEntries').map((m) => m.to)).toEqual(['n2']);
  });

  test('the install is done when the follower acknowledges the snapshot index: appends resume after it', () => {
    const s = leaderWithSnapshot();
    lagging(s);
    s.node.propose([new Uint8Array([7])]); // 12@2
    collect(s.node);
    s.node.step(ack('n3', 2, 11));
    const appends = ofType(collect(s.node).earlyMessages, 'AppendEntries');
    expect(appends).toHaveLength(1);
    expect(appends[0]).toMatchObject({ to: 'n3', prevLogIndex: 11, prevLogTerm: 2 });
    expect(appends[0]!.entries.map((e) => e.index)).toEqual([12]);
  });

  test('with a small window, acknowledgements slide it; a lost chunk is resent from the first byte not held after a silent heartbeat', () => {
    const s = solo({
      preVote: false,
      snapshotChunkBytes: CHUNK,
      maxInflightBytes: 20, // a window of two chunks
      persisted: persisted(Array(10).fill(1), { term: 1 }),
    });
    elect(s);
    s.node.step(ack('n2', 2, 11));
    collect(s.node);
    s.node.compact(11, bytes(35));
    expect(lagging(s).map((c) => c.offset)).toEqual([0, 10]);
    s.node.step(chunkAck(10));
    expect(ofType(collect(s.node).earlyMessages, 'InstallSnapshot').map((c) => c.offset)).toEqual([20]);
    // Chunk 10 is lost: n3 keeps answering that it holds 10 bytes.
    s.node.step(chunkAck(10));
    expect(ofType(collect(s.node).earlyMessages, 'InstallSnapshot')).toEqual([]);
    const beat = (round: number) =>
      msg('HeartbeatResponse', { from: 'n3', to: 'n1', term: 2, readRound: round });
    s.node.step(beat(0)); // first heartbeat answer: progress since the transfer began
    expect(ofType(collect(s.node).earlyMessages, 'InstallSnapshot')).toEqual([]);
    s.node.step(beat(0)); // nothing acknowledged since the last one: go back to byte 10
    expect(ofType(collect(s.node).earlyMessages, 'InstallSnapshot').map((c) => c.offset)).toEqual([10, 20]);
  });

  test('a follower that lost its partial copy (it restarted) answers 0 and the leader starts over', () => {
    const s = leaderWithSnapshot();
    lagging(s);
    s.node.step(chunkAck(20));
    collect(s.node);
    s.node.step(chunkAck(0));
    expect(ofType(collect(s.node).earlyMessages, 'InstallSnapshot').map((c) => c.offset)).toEqual([
      0, 10, 20, 30,
    ]);
  });

  test('every byte held but no answer: a heartbeat round later the leader asks again with the last chunk', () => {
    const s = leaderWithSnapshot();
    lagging(s);
    s.node.step(chunkAck(35));
    collect(s.node);
    const beat = msg('HeartbeatResponse', { from: 'n3', to: 'n1', term: 2, readRound: 0 });
    s.node.step(beat);
    s.node.step(beat);
    expect(ofType(collect(s.node).earlyMessages, 'InstallSnapshot').map((c) => c.offset)).toEqual([25]);
  });

  test('a follower with a higher term answers a chunk with it and the leader steps down', () => {
    const s = leaderWithSnapshot();
    lagging(s);
    s.node.step({ ...chunkAck(10), term: 5 });
    expect(s.node.status()).toMatchObject({ role: 'follower', term: 5 });
  });
});

describe('§7 InstallSnapshot, follower side', () => {
  const chunk = (offset: number, length: number, extra: Partial<{ index: number; term: number }> = {}) =>
    msg('InstallSnapshot', {
      from: 'n2',
      to: 'n1',
      term: 3,
      lastIncludedIndex: extra.index ?? 8,
      lastIncludedTerm: extra.term ?? 3,
      size: 25,
      offset,
      data: bytes(25).subarray(offset, offset + length),
    });

  function follower(terms = [1, 1, 2]) {
    const s = solo({ persisted: persisted(terms, { term: 2, commit: 2 }) });
    return s;
  }

  test('chunks are taken in offset order and acknowledged with the bytes held; a gap asks again from the first byte missing', () => {
    const { node } = follower();
    node.step(chunk(0, 10));
    expect(ofType(collect(node).messages, 'InstallSnapshotResponse')[0]).toMatchObject({ received: 10 });
    node.step(chunk(20, 5)); // chunk 10 was lost
    expect(ofType(collect(node).messages, 'InstallSnapshotResponse')[0]).toMatchObject({ received: 10 });
    node.step(chunk(0, 10)); // a duplicate changes nothing
    expect(ofType(collect(node).messages, 'InstallSnapshotResponse')[0]).toMatchObject({ received: 10 });
    expect(node.status()).toMatchObject({ leaderId: 'n2', term: 3, commitIndex: 2 });
  });

  test('a chunk of another snapshot not at offset 0 asks the leader to start over', () => {
    const { node } = follower();
    node.step(chunk(0, 10));
    collect(node);
    node.step(chunk(10, 10, { index: 9 }));
    expect(ofType(collect(node).messages, 'InstallSnapshotResponse')[0]).toMatchObject({
      lastIncludedIndex: 9,
      received: 0,
    });
  });

  test('the last chunk installs the snapshot: the Ready carries it, the log restarts after it, and the answer waits for durability', () => {
    const { node } = follower();
    node.step(chunk(0, 10));
    node.step(chunk(10, 10));
    collect(node);
    node.step(chunk(20, 5));
    const rd = node.ready();
    expect(rd.snapshot!.meta).toEqual({ index: 8, term: 3 });
    expect(Array.from(rd.snapshot!.data)).toEqual(Array.from(bytes(25)));
    expect(rd.earlyMessages).toEqual([]);
    expect(rd.messages).toEqual([
      {
        type: 'AppendEntriesResponse',
        from: 'n1',
        to: 'n2',
        term: 3,
        success: true,
        index: 8,
        hintIndex: 0,
        hintTerm: 0,
      },
    ]);
    expect(rd.committed).toEqual([]); // the snapshot stands for everything up to 8
    expect(node.status()).toMatchObject({
      commitIndex: 8,
      lastApplied: 8,
      lastLogIndex: 8,
      lastLogTerm: 3,
      snapshotIndex: 8,
    });
    node.advance(rd);
    expect(node.hasReady()).toBe(false);
  });

  test('a snapshot whose last entry the log holds keeps the entries after it', () => {
    const { node } = follower([1, 1, 2, 3, 3, 3, 3, 3, 3, 3]); // 8@3 is held; 9 and 10 follow
    for (const off of [0, 10, 20]) node.step(chunk(off, 10));
    const rd = collect(node);
    expect(rd.snapshot!.meta.index).toBe(8);
    expect(node.status()).toMatchObject({ lastLogIndex: 10, commitIndex: 8, snapshotIndex: 8 });
  });

  test('a snapshot no newer than the commit index is old news: answered at once with the commit index', () => {
    const { node } = follower();
    node.step(chunk(0, 10, { index: 2, term: 1 }));
    const rd = collect(node);
    expect(rd.snapshot).toBeNull();
    expect(ofType(rd.messages, 'AppendEntriesResponse')[0]).toMatchObject({ success: true, index: 2 });
  });

  test('a chunk of an older term is answered with our term, so the stale leader steps down', () => {
    const { node } = follower();
    node.step({ ...chunk(0, 10), term: 1 });
    expect(ofType(collect(node).messages, 'InstallSnapshotResponse')[0]).toMatchObject({
      term: 2,
      received: 0,
    });
  });
});

describe('§7 a whole cluster', () => {
  test('a follower cut off while the others compact catches up through InstallSnapshot, also after restarts', () => {
    const net = new TestNetwork(['n1', 'n2', 'n3'], { snapshotChunkBytes: 64 });
    const leader = net.electLeader();
    const lagger = net.ids.find((id) => id !== leader)!;
    net.partition(lagger);
    const encoder = new TextEncoder();
    for (let i = 0; i < 40; i++) {
      net.node(net.leaders()[0]!).propose([encoder.encode(`cmd${i}`)]);
      net.run(20);
    }
    for (const id of net.ids) if (id !== lagger) net.compact(id, 2);
    const current = net.leaders()[0]!;
    expect(net.node(current).status().firstLogIndex).toBeGreaterThan(
      net.node(lagger).status().lastLogIndex + 1,
    );
    // A restarted leader recovers its snapshot from storage and can still send it.
    net.restart(current);
    net.heal();
    net.run(2_000);
    const decode = (id: string) => net.applied.get(id)!.map((d) => new TextDecoder().decode(d));
    const want = Array.from({ length: 40 }, (_, i) => `cmd${i}`);
    for (const id of net.ids) expect(decode(id), id).toEqual(want);
    expect(net.node(lagger).status().snapshotIndex).toBeGreaterThan(0);
    expect(net.delivered.some((m) => m.type === 'InstallSnapshot' && m.offset > 0)).toBe(true);
    // The lagger restarts from its installed snapshot and the entries after it.
    net.restart(lagger);
    expect(decode(lagger)).toEqual(want);
  });
});
