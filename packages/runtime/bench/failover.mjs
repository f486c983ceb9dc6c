#!/usr/bin/env node
// Leader failover and restart catch-up on real worker threads, disk storage.
// Per trial: a steady write load; kill the leader's worker (process.exit, the
// supervisor restarts it); measure (a) kill -> a new leader commits a fresh
// command, (b) kill -> the restarted node has applied everything the new leader
// had committed when it came back. Run after `pnpm build`:
//   node packages/runtime/bench/failover.mjs [--trials 20] [--nodes 5]
import os from 'node:os';
import { setTimeout as sleep } from 'node:timers/promises';
import { parseArgs } from 'node:util';
import { Cluster } from '@xraft/runtime';

const { values } = parseArgs({
  options: { trials: { type: 'string', default: '20' }, nodes: { type: 'string', default: '5' } },
});
const trials = Number(values.trials);
const nodes = Number(values.nodes);
if (!(Number.isInteger(trials) && trials > 0 && Number.isInteger(nodes) && nodes >= 3 && nodes <= 9)) {
  console.error('usage: failover.mjs [--trials N>0] [--nodes 3..9]');
  process.exit(2);
}
const enc = new TextEncoder();
// Every restart waits the default first backoff (50 ms): repeated kills of one node
// would otherwise back off longer or hit the restart-intensity limit.
const c = await Cluster.start({
  nodes,
  restartPolicy: { maxRestarts: 1_000_000, windowMs: 1_000, backoffMs: [50, 50], bootTimeoutMs: 15_000 },
  log: (e) => {
    if (e.level === 'error') console.error(`${e.node ?? 'cluster'}: ${e.message}`);
  },
});
const applied = new Map(c.ids.map((id) => [id, new Set()]));
c.onApply((id, _index, command) => applied.get(id).add(new TextDecoder().decode(command)));

let k = 0;
let stopLoad = false;
const load = (async () => {
  while (!stopLoad) {
    const leader = c.ids.find((id) => c.state(id).alive && c.state(id).role === 'leader');
    if (leader) await c.submit(leader, enc.encode(`load-${k++}`)).catch(() => {});
    await sleep(5);
  }
})();

const waitFor = async (cond, ms = 10_000) => {
  const end = performance.now() + ms;
  while (!cond()) {
    if (performance.now() > end) throw new Error('timed out');
    await sleep(1);
  }
};

const failover = [];
const catchUp = [];
for (let t = 0; t < trials; t++) {
  const old = await c.leader(10_000);
  const oldTerm = c.state(old).term;
  await sleep(300); // let the load run under this leader
  const killedAt = performance.now();
  await c.kill(old, 'exit');
  // (a) a new leader of a later term commits a fresh command.
  const probe = `probe-${t}`;
  let committedAt = 0;
  while (committedAt === 0) {
    const l = c.ids.find(
      (id) => id !== old && c.state(id).alive && c.state(id).role === 'leader' && c.state(id).term > oldTerm,
    );
    if (l) {
      const r = await c.submit(l, enc.encode(probe)).catch(() => null);
      if (r?.isLeader) {
        await waitFor(() => applied.get(l).has(probe), 5_000).catch(() => {});
        if (applied.get(l).has(probe)) committedAt = performance.now();
      }
    } else await sleep(1);
    if (performance.now() - killedAt > 20_000)
      throw new Error(`trial ${t}: no new leader committed within 20 s`);
  }
  failover.push(committedAt - killedAt);
  // (b) the killed node is back and has applied the probe and everything before it.
  await waitFor(() => c.state(old).alive && applied.get(old).has(probe), 20_000);
  catchUp.push(performance.now() - killedAt);
  process.stdout.write(
    `trial ${t + 1}/${trials}: failover ${failover.at(-1).toFixed(0)} ms, caught up ${catchUp.at(-1).toFixed(0)} ms\n`,
  );
}
stopLoad = true;
await load;
await c.stop();

const pct = (xs, p) => {
  const s = xs.slice().sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.floor(p * s.length))];
};
const line = (name, xs) =>
  `${name.padEnd(38)} median ${pct(xs, 0.5).toFixed(0)} ms, p90 ${pct(xs, 0.9).toFixed(0)} ms, max ${Math.max(...xs).toFixed(0)} ms`;
console.log(
  `\n${nodes} nodes, disk storage, ${trials} trials — ${os.cpus()[0]?.model} x${os.cpus().length}, Node ${process.version}`,
);
console.log(line('leader killed -> new leader commits', failover));
console.log(line('leader killed -> it restarted, caught up', catchUp));
