#!/usr/bin/env node
// Core microbenchmark: XState events/s and committed entries/s through @xraft/core,
// 3 servers in one thread, instant in-memory "persistence" and delivery. It measures
// the protocol code alone: no threads, no disk. Run: `pnpm bench core` (builds first).
import os from 'node:os';
import { RaftNode, seededRandom } from '@xraft/core';

const ids = ['n1', 'n2', 'n3'];
const VALUE = new Uint8Array(100);

function makeCluster() {
  const timers = new Map();
  let seq = 0;
  let now = 0;
  const clock = {
    setTimeout: (fn, ms) => {
      timers.set(++seq, { at: now + ms, fn });
      return seq;
    },
    clearTimeout: (h) => timers.delete(h),
  };
  const queue = [];
  let events = 0;
  let applied = 0;
  const nodes = new Map();
  const drain = (node) => {
    while (node.hasReady()) {
      const rd = node.ready();
      for (const m of rd.earlyMessages) queue.push(m);
      for (const m of rd.messages) queue.push(m);
      applied += rd.committed.length;
      node.advance(rd);
      if (rd.entries.length > 0) events++;
    }
  };
  for (const [i, id] of ids.entries()) {
    const node = new RaftNode({
      id,
      voters: ids,
      clock,
      random: seededRandom(i + 1),
      onReady: () => drain(node),
    });
    nodes.set(id, node.start());
  }
  const deliver = () => {
    while (queue.length > 0) {
      const m = queue.shift();
      const node = nodes.get(m.to);
      node.step(m);
      events++;
      drain(node);
    }
  };
  // Elect: fire the earliest timer until someone leads.
  while (![...nodes.values()].some((n) => n.status().role === 'leader')) {
    const [id, t] = [...timers].sort((a, b) => a[1].at - b[1].at)[0];
    timers.delete(id);
    now = t.at;
    t.fn();
    deliver();
  }
  const leader = [...nodes.values()].find((n) => n.status().role === 'leader');
  return {
    leader,
    deliver,
    drain,
    stats: () => ({ events, applied }),
    countEvent: () => {
      events++;
    },
    stop: () => {
      for (const n of nodes.values()) n.stop();
    },
  };
}

function run(batch, seconds) {
  const c = makeCluster();
  const commands = Array.from({ length: batch }, () => VALUE);
  const start = process.hrtime.bigint();
  const end = start + BigInt(Math.round(seconds * 1e9));
  const before = c.stats();
  let now = start;
  while (now < end) {
    for (let k = 0; k < 20; k++) {
      c.leader.propose(commands);
      c.countEvent();
      c.drain(c.leader);
      c.deliver();
    }
    now = process.hrtime.bigint();
  }
  const secs = Number(now - start) / 1e9;
  const after = c.stats();
  c.stop();
  return {
    eventsPerSec: (after.events - before.events) / secs,
    entriesPerSec: (after.applied - before.applied) / ids.length / secs,
  };
}

const median = (xs) => xs.slice().sort((a, b) => a - b)[Math.floor(xs.length / 2)];
console.log(
  `@xraft/core microbenchmark — ${os.cpus()[0]?.model ?? 'cpu'} x${os.cpus().length}, Node ${process.version}`,
);
console.log('3 servers, one thread, in-memory, 100-byte commands; median of 5 runs of 1 s\n');
console.log('batch   events/s   committed entries/s');
for (const batch of [1, 10, 100, 1000]) {
  run(batch, 0.3); // warm-up
  const runs = Array.from({ length: 5 }, () => run(batch, 1));
  const ev = median(runs.map((r) => r.eventsPerSec));
  const en = median(runs.map((r) => r.entriesPerSec));
  console.log(
    `${String(batch).padStart(5)} ${Math.round(ev).toLocaleString('en').padStart(10)} ${Math.round(en).toLocaleString('en').padStart(21)}`,
  );
}
