// Shared by the tests that drive a simulated KV server by hand.
import type { KvResponse } from '@xraft/kv';
import { Simulation } from '../src/simulation.js';

/** quietCluster is a KV cluster, run 1.5 virtual s, whose one client never calls: the tests drive the servers by hand. */
export function quietCluster(seed: number, nodes = 3): Simulation {
  const sim = new Simulation(seed, { nodes, faults: 'none', kv: { clients: 1, thinkMs: 1e12 } });
  sim.runUntil(1500);
  return sim;
}

/** ask hands `request` to `node`'s KV server; the replies land in the returned array as they come. */
export function ask(sim: Simulation, node: string, request: Uint8Array): KvResponse[] {
  const replies: KvResponse[] = [];
  sim.kv!.servers.get(node)!.handle(request, (r) => replies.push(r));
  return replies;
}
