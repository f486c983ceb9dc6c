// The writer of crash.test.ts, run in a worker_thread that the test terminates
// at random moments. It opens the BUILT DiskStorage (worker threads run plain
// JavaScript: `pnpm build` first), loads it, then carries out the test's plan:
// persists pipelined up to `inflight` at a time, snapshot saves and
// compactions after the persists before them. After each operation's promise
// resolves (so: durable) it posts {type: 'ack', op, segment, syncedBytes}.
import { parentPort, workerData } from 'node:worker_threads';
import { DiskStorage } from '../dist/index.js';

const { dir, segmentBytes, inflight, ops } = workerData;
const storage = await DiskStorage.open(dir, { segmentBytes, warn: () => {} });
await storage.load();
parentPort.postMessage({ type: 'loaded' });

const ack = (op) => {
  const { segment, syncedBytes } = storage.status();
  parentPort.postMessage({ type: 'ack', op, segment, syncedBytes });
};

let outstanding = [];
for (let k = 0; k < ops.length; k++) {
  const op = ops[k];
  if (op.kind === 'persist') {
    outstanding.push(storage.persist(op.hardState, op.entries).then(() => ack(k)));
    if (outstanding.length >= inflight) await outstanding.shift();
    continue;
  }
  await Promise.all(outstanding);
  outstanding = [];
  if (op.kind === 'save') await storage.saveSnapshot({ meta: op.meta, data: op.data });
  else if (op.kind === 'compact') await storage.compact(op.index);
  else throw new Error(`unknown op ${op.kind}`);
  ack(k);
}
await Promise.all(outstanding);
parentPort.postMessage({ type: 'done' });
