// The writer of crash.test.ts, run in a worker_thread that the test terminates
// at random moments. It opens the BUILT DiskStorage (worker threads run plain
// JavaScript: `pnpm build` first), loads it, then carries out the test's plan,
// pipelining up to `inflight` operations: persists, installs from a leader,
// and compactions are issued without waiting for the ones before them (the
// storage orders them); a snapshot save waits for the writes before it, as a
// host saves only what its log already holds. Once an operation and every one
// before it resolved (so: durable) it posts {type: 'ack', op, segment, syncedBytes}.
import { parentPort, workerData } from 'node:worker_threads';
import { DiskStorage } from '../dist/index.js';

const { dir, segmentBytes, inflight, ops, blockingWrites } = workerData;
const storage = await DiskStorage.open(dir, { segmentBytes, blockingWrites, warn: () => {} });
await storage.load();
parentPort.postMessage({ type: 'loaded' });

const ack = (op) => {
  const { segment, syncedBytes } = storage.status();
  parentPort.postMessage({ type: 'ack', op, segment, syncedBytes });
};

const issue = (op) => {
  switch (op.kind) {
    case 'persist':
      return storage.persist(op.hardState, op.entries);
    case 'save':
      return storage.saveSnapshot({ meta: op.meta, data: op.data });
    case 'compact':
      return storage.compact(op.index);
    case 'install':
      return storage.installSnapshot({ meta: op.meta, data: op.data });
    default:
      throw new Error(`unknown op ${op.kind}`);
  }
};

let acked = Promise.resolve();
let outstanding = [];
for (let k = 0; k < ops.length; k++) {
  const op = ops[k];
  if (op.kind === 'save') {
    await Promise.all(outstanding);
    outstanding = [];
  }
  const done = issue(op);
  acked = Promise.all([acked, done]).then(() => ack(k));
  outstanding.push(acked);
  if (outstanding.length >= inflight) await outstanding.shift();
}
await Promise.all(outstanding);
parentPort.postMessage({ type: 'done' });
