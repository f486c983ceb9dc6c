/**
 * The node worker: the entry point of every node's `worker_thread`. It wires
 * a {@link NodeHost} (the Ready loop) to its storage, its state machine, its
 * {@link Mailbox} (the peer ports) and the control plane, then sends the READY
 * handshake. It runs as built JavaScript only (`dist/worker.js`).
 *
 * Any failure it cannot handle ends the worker with an uncaught exception,
 * which the supervisor sees as an `'exit'` and answers by restarting it.
 */
import { getHeapStatistics } from 'node:v8';
import { type MessagePort, parentPort, workerData } from 'node:worker_threads';
import { assertNever, type NodeId, seededRandom } from '@xraft/core';
import { type KvNode, LeaderWait } from '@xraft/kv';
import { DiskStorage, type Storage } from '@xraft/storage';
import { serveClientPort } from './client-port.js';
import { type ControlApi, exposeControl } from './control.js';
import { NodeHost } from './host.js';
import { Inspection } from './inspection.js';
import { Mailbox } from './mailbox.js';
import type { LogLevel, MainToWorker, StorageSpec, WorkerBoot, WorkerToMain } from './protocol.js';
import { RemoteStorage } from './remote-storage.js';
import { loadStateMachine } from './state-machine.js';
import { Counters, StatusCell } from './status.js';

if (parentPort === null)
  throw new Error('worker.ts is the entry point of a node worker, not a module to import');
const main = parentPort;
const boot = workerData as WorkerBoot;
const id = boot.id;

const post = (m: WorkerToMain, transfer?: readonly ArrayBuffer[]): void =>
  main.postMessage(m, transfer as ArrayBuffer[] | undefined);
const log = (level: LogLevel, message: string): void => post({ kind: 'log', level, message });

/** die ends the worker with `error` as an uncaught exception (never from inside a promise chain). */
const die = (error: unknown): void => {
  setImmediate(() => {
    throw error;
  });
};

// Randomness seeded from crypto; links and elections draw from separate streams.
const seed = crypto.getRandomValues(new Uint32Array(1))[0]!;
const electionRandom = seededRandom(seed);
const linkRandom = seededRandom(seed ^ 0x5bd1e995);

const mailbox = new Mailbox({
  self: id,
  peers: boot.voters.filter((v) => v !== id),
  random: linkRandom,
  counters: new Counters(boot.counters),
  onWireError: (e, peer) =>
    log(
      'warn',
      `${id}: dropped malformed input from ${peer} (${e.kind}: ${e.detail}); further ${e.kind} input is only counted`,
    ),
});
for (const [peer, port] of Object.entries(boot.peers)) mailbox.setPort(peer, port);
for (const [peer, settings] of Object.entries(boot.links)) mailbox.configure(peer, settings);

main.on('message', (m: MainToWorker) => {
  switch (m.kind) {
    case 'peer-port':
      mailbox.setPort(m.peer, m.port);
      break;
    default:
      assertNever(m.kind, 'message from the main thread');
  }
});

let host: NodeHost | null = null;
let resolveBooted: (h: NodeHost) => void = () => {};
const booted = new Promise<NodeHost>((resolve) => {
  resolveBooted = resolve;
});
// Client requests reaching this node while it knows no leader wait for one, for about one election (§6.2).
const leaderWait = new LeaderWait({ maxWaitMs: boot.electionTimeoutMs[1] });
const pauseCell = new Int32Array(boot.pause);
const watchApplies = new Int32Array(boot.watchApplies);

const api: ControlApi = {
  async status() {
    return (await booted).report();
  },
  async submit(command) {
    if (!(command instanceof Uint8Array)) throw new TypeError('submit takes a Uint8Array command');
    return (await booted).submit(command);
  },
  async transferLeadership(to: NodeId) {
    (await booted).transferLeadership(to);
  },
  setLinks(links) {
    for (const [peer, settings] of Object.entries(links)) mailbox.configure(peer, settings);
  },
  pause(ms) {
    // After this call's answer has gone out: block the event loop, as a stopped process would be.
    // The main thread sets the cell to 1, for good, when it ends this worker: a pause then ends or never starts.
    // Slot 1 counts pauses begun, so the main thread knows when this one has.
    setImmediate(() => {
      Atomics.add(pauseCell, 1, 1);
      Atomics.wait(pauseCell, 0, 0, ms);
    });
  },
  async stop() {
    leaderWait.close();
    await host?.stop();
    mailbox.close();
    setImmediate(() => process.exit(0));
  },
  kill(how) {
    setImmediate(() => {
      switch (how) {
        case 'throw':
          throw new Error(`${id}: crash injected by kill('throw')`);
        case 'rejection':
          void Promise.reject(new Error(`${id}: unhandled rejection injected by kill('rejection')`));
          break;
        case 'exit':
          process.exit(3);
          break;
        case 'oom': {
          const hog: number[][] = [];
          for (;;) hog.push(new Array(1 << 20).fill(hog.length));
        }
        default:
          assertNever(how, 'kill mode');
      }
    });
  },
  sendRaw(to, payload) {
    mailbox.sendRaw(to, payload);
  },
  async attachClientPort(port) {
    serveClientRequests(await booted, port);
  },
  usage() {
    const { idle, active } = performance.eventLoopUtilization();
    return {
      eventLoop: { idleMs: idle, activeMs: active },
      heapUsedBytes: getHeapStatistics().used_heap_size,
    };
  },
};
exposeControl(api, boot.control);

if (boot.bootFault === 'throw') throw new Error(`${id}: boot fault injected (crash-loop test)`);

const storage = await openStorage(boot.storage);
const { stateMachine, handleRequest } = await loadStateMachine(boot.stateMachine);
host = new NodeHost({
  id,
  voters: boot.voters,
  electionTimeoutMs: boot.electionTimeoutMs,
  heartbeatIntervalMs: boot.heartbeatIntervalMs,
  maxClockDriftMs: boot.maxClockDriftMs,
  snapshotPolicy: boot.snapshotPolicy,
  storage,
  stateMachine,
  mailbox,
  random: electionRandom,
  seed,
  incarnation: boot.incarnation,
  status: new StatusCell(boot.status),
  watchingApplies: () => Atomics.load(watchApplies, 0) !== 0,
  onApplied: (commands) => post({ kind: 'applied', commands }),
  onLeaderChange: (leader) => (leader === null ? leaderWait.leaderLost() : leaderWait.leaderKnown()),
  ...(boot.inspect
    ? {
        inspect: new Inspection(id, boot.incarnation, (records) => post({ kind: 'inspect', records }))
          .observe,
      }
    : {}),
  onFatal: (error) => {
    leaderWait.close();
    log('error', `${id}: fatal: ${error instanceof Error ? (error.stack ?? error.message) : String(error)}`);
    die(error);
  },
});
const persisted = await host.start();
resolveBooted(host);
serveClientRequests(host, boot.client);
post({
  kind: 'ready',
  incarnation: boot.incarnation,
  seed,
  recovered: {
    term: persisted.hardState.term,
    commit: persisted.hardState.commit,
    lastIndex: (persisted.snapshot?.index ?? 0) + persisted.entries.length,
  },
});

/**
 * serveClientRequests answers a client port (the main one, or one attached
 * for a client in another thread) with the state machine's request handler
 * (the KV store's by default), over this node: Raft's proposals and ReadIndex
 * through the host (thesis chapter 6).
 */
function serveClientRequests(h: NodeHost, port: MessagePort): void {
  const warn = (message: string) => log('warn', `${id}: ${message}`);
  if (handleRequest === null) {
    serveClientPort(
      port,
      () => Promise.reject(new Error(`the state machine of ${id} serves no client requests`)),
      warn,
    );
    return;
  }
  const drift = boot.maxClockDriftMs;
  const node: KvNode = {
    stateMachine,
    isLeader: () => h.node?.raft.role === 'leader',
    leaderHint: () => h.node?.raft.leaderId ?? null,
    propose: (entry) => h.propose(entry),
    awaitLeader: () => leaderWait.wait(),
    readIndex: () => h.read('safe'),
    // A lease read needs the cluster's drift bound to be at least as strict as the client's.
    leaseRead: async (clientDriftMs) => {
      if (drift === null || clientDriftMs < drift) return false;
      await h.read('lease');
      return true;
    },
  };
  serveClientPort(port, (request) => handleRequest(request, node), warn);
}

/** openStorage opens the node's storage as the boot data says. */
async function openStorage(spec: StorageSpec): Promise<Storage> {
  switch (spec.kind) {
    case 'memory':
      return new RemoteStorage(spec.port);
    case 'disk':
      return openDiskStorage(spec.dir);
    default:
      return assertNever(spec, 'storage spec');
  }
}

/** openDiskStorage opens `DiskStorage` in `dir`, its load-time repairs reported as warnings. */
function openDiskStorage(dir: string): Promise<Storage> {
  return DiskStorage.open(dir, { warn: (message) => log('warn', `${id}: storage: ${message}`) });
}
