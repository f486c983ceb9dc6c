// CPU per operation of KvClient's side of a round trip: N independent
// KvClients (one call outstanding each, closed loop) against a fake leader
// that answers every request at once. Run after `pnpm build`:
//
//   node packages/kv/bench/client.mjs [--transport direct|ports|cluster] [--clients 256]
//        [--workload put|get] [--seconds 2] [--runs 5] [--value-bytes 100]
//
// - direct: the transport gathers the requests of one turn and answers them on
//   the next (setImmediate), like the client port, without postMessage. The
//   fake leader's own time (decode the request, encode the answer) is timed
//   and left out: the figure is the client's.
// - ports: the runtime's ClientPorts in this thread and serveClientPort in a
//   worker thread (the fake leader there), as the benchmark's generator talks
//   to the leader: the figure is this thread's CPU (it includes the
//   client-port frames), plus the process's GC helper threads share (the
//   process's CPU minus both JS threads').
// - cluster: a real 3-node Cluster (@xraft/runtime, disk storage in a temp
//   directory, so that no storage runs in this thread), the clients
//   in this thread over a client endpoint: the figure is this thread's CPU
//   (the supervisor's share of it is small); the other threads, node workers
//   included, are not separated, so no GC share is printed.
//
// CPU is read from /proc/thread-self/schedstat (ns on CPU, this thread only)
// and process.cpuUsage(); each run is a fresh set of clients after one
// warm-up run, and the medians of the runs are printed. Throughput is printed
// but is noise on a shared machine; CPU per op is what to compare.
import { readFileSync } from 'node:fs';
import { parseArgs } from 'node:util';
import { isMainThread, parentPort, Worker, workerData } from 'node:worker_threads';
import { decodeRequest, encodeResponse, KvClient } from '../dist/index.js';

/** threadCpuNs is the calling thread's time on CPU (Linux). */
function threadCpuNs() {
  return Number(readFileSync('/proc/thread-self/schedstat', 'utf8').split(' ')[0]);
}

/** processCpuNs is the whole process's CPU time (every thread: JS, GC helpers, libuv). */
function processCpuNs() {
  const u = process.cpuUsage();
  return (u.user + u.system) * 1000;
}

/** fakeLeader answers every request as a leader that applied it: a fresh session, 'ok' per command, no value per query. */
function fakeLeader() {
  let nextClientId = 1;
  return (bytes) => {
    const request = decodeRequest(bytes);
    switch (request.type) {
      case 'register':
        return encodeResponse({ type: 'registered', clientId: nextClientId++ });
      case 'batch':
        return encodeResponse({
          type: 'applied',
          clientId: request.clientId,
          results: request.commands.map((c) => ({ seq: c.seq, type: 'ok' })),
        });
      default:
        return encodeResponse({
          type: 'read',
          results: request.queries.map(() => ({ type: 'value', value: undefined })),
        });
    }
  };
}

const NODES = ['n1', 'n2', 'n3'];

/** DirectTransport answers each turn's requests on the next turn, and times the fake leader. */
class DirectTransport {
  nodes = NODES;
  leaderNs = 0;
  queue = [];
  scheduled = false;
  handle = fakeLeader();

  send(_node, request) {
    return new Promise((resolve) => {
      this.queue.push(request, resolve);
      if (!this.scheduled) {
        this.scheduled = true;
        setImmediate(() => this.flush());
      }
    });
  }

  flush() {
    this.scheduled = false;
    const q = this.queue;
    this.queue = [];
    const answers = new Array(q.length / 2);
    const t0 = process.hrtime.bigint();
    for (let i = 0; i < q.length; i += 2) answers[i / 2] = this.handle(q[i]);
    this.leaderNs += Number(process.hrtime.bigint() - t0);
    for (let i = 0; i < q.length; i += 2) q[i + 1](answers[i / 2]);
  }
}

async function main() {
  const { values } = parseArgs({
    options: {
      transport: { type: 'string', default: 'direct' },
      clients: { type: 'string', default: '256' },
      workload: { type: 'string', default: 'put' },
      seconds: { type: 'string', default: '2' },
      runs: { type: 'string', default: '5' },
      'value-bytes': { type: 'string', default: '100' },
    },
  });
  const clients = Number(values.clients);
  const ms = Number(values.seconds) * 1000;
  const value = 'v'.repeat(Number(values['value-bytes']));
  const get = values.workload === 'get';

  let transport;
  let worker;
  let leaderCpuNs;
  let cluster;
  if (values.transport === 'direct') {
    transport = new DirectTransport();
    leaderCpuNs = async () => transport.leaderNs;
  } else if (values.transport === 'ports') {
    const { ClientPorts } = await import('../../runtime/dist/index.js');
    const { port1, port2 } = new MessageChannel();
    worker = new Worker(new URL(import.meta.url), { workerData: { port: port2 }, transferList: [port2] });
    transport = new ClientPorts(NODES);
    for (const node of NODES) {
      // Every node is the same fake leader behind one port: the client only ever talks to the first.
      if (node === 'n1') transport.attach(node, port1);
    }
    const ask = () =>
      new Promise((resolve) => {
        worker.once('message', resolve);
        worker.postMessage('cpu');
      });
    leaderCpuNs = ask;
  } else if (values.transport === 'cluster') {
    const { Cluster, ClientEndpointTransport } = await import('../../runtime/dist/index.js');
    cluster = await Cluster.start({ nodes: 3, storage: 'disk', log: () => {} });
    await cluster.leader();
    // As the benchmark's generator reaches the nodes: over a client endpoint (here in this thread).
    transport = new ClientEndpointTransport(cluster.clientEndpoint());
    while (transport.connectedNodes.length < 3) await new Promise((r) => setTimeout(r, 10));
    leaderCpuNs = async () => 0;
  } else {
    throw new Error(`--transport must be direct, ports or cluster, got ${values.transport}`);
  }

  const run = async () => {
    // Every client shares the transport (closing a client must not close it), with its dispatch if it has one.
    const shared = { nodes: transport.nodes, send: (n, r, t) => transport.send(n, r, t) };
    if (transport.dispatch) shared.dispatch = (n, r, t, target) => transport.dispatch(n, r, t, target);
    const kvs = Array.from({ length: clients }, () => new KvClient(shared));
    let ops = 0;
    let stop = false;
    let measuring = false;
    const loops = kvs.map(async (kv, i) => {
      const key = `k${i}`;
      while (!stop) {
        if (get) await kv.get(key);
        else await kv.put(key, value);
        if (measuring) ops++;
      }
    });
    await new Promise((r) => setTimeout(r, 200)); // sessions registered, steady state
    measuring = true;
    const t0 = performance.now();
    const thread0 = threadCpuNs();
    const proc0 = processCpuNs();
    const leader0 = await leaderCpuNs();
    await new Promise((r) => setTimeout(r, ms));
    const thread1 = threadCpuNs();
    const proc1 = processCpuNs();
    const leader1 = await leaderCpuNs();
    const elapsed = performance.now() - t0;
    measuring = false;
    const n = ops;
    stop = true;
    await Promise.all(loops);
    await Promise.all(kvs.map((kv) => kv.close()));
    const leader = leader1 - leader0;
    // direct: the leader ran in this thread; ports: in the worker, a thread of this process.
    const client = values.transport === 'direct' ? thread1 - thread0 - leader : thread1 - thread0;
    const gc =
      values.transport === 'cluster'
        ? 0
        : proc1 - proc0 - (thread1 - thread0) - (values.transport === 'direct' ? 0 : leader);
    return {
      opsPerS: (n / elapsed) * 1000,
      clientUs: client / n / 1000,
      gcUs: gc / n / 1000,
      leaderUs: leader / n / 1000,
    };
  };

  await run(); // warm-up
  const results = [];
  for (let i = 0; i < Number(values.runs); i++) results.push(await run());
  const median = (k) => {
    const xs = results.map((r) => r[k]).sort((a, b) => a - b);
    return xs[xs.length >> 1];
  };
  const f = (x) => x.toFixed(2).padStart(7);
  console.log(
    `${values.transport} ${values.workload} clients=${clients} runs=${results.length}x${values.seconds}s  ` +
      `client thread ${f(median('clientUs'))} us/op  other threads (GC...) ${f(median('gcUs'))} us/op  ` +
      `client total ${f(median('clientUs') + median('gcUs'))} us/op  (leader ${f(median('leaderUs'))} us/op, ${Math.round(median('opsPerS'))} ops/s)`,
  );
  console.log(
    `  runs (client thread + other threads): ${results.map((r) => `${r.clientUs.toFixed(2)}+${r.gcUs.toFixed(2)}`).join(' ')}`,
  );
  if (worker) await worker.terminate();
  if (cluster) {
    transport.close();
    await cluster.stop();
  }
}

async function serve() {
  const { serveClientPort } = await import('../../runtime/dist/index.js');
  const handle = fakeLeader();
  serveClientPort(workerData.port, async (request) => handle(request), console.warn);
  parentPort.on('message', () => parentPort.postMessage(threadCpuNs()));
}

if (isMainThread) await main();
else await serve();
