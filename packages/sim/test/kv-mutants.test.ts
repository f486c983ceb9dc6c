import { KvStateMachine } from '@xraft/kv';
import { afterEach, describe, expect, test } from 'vitest';
import type { FaultsOption } from '../src/faults.js';
import { KvServer } from '../src/kv-server.js';
import type { Property } from '../src/monitors.js';
import { runSeed } from '../src/simulation.js';

/**
 * Mutation tests of the KV workload, in the style of mutants.test.ts: each
 * case plants a bug in the KV server of the simulated hosts or in the KV
 * state machine, and the linearizability or exactly-once check of the runs'
 * histories must catch it within a small seed budget. A patch target that no
 * longer exists skips its case.
 */

type Patch = { target: object; key: string; original: unknown };
const patches: Patch[] = [];

function patch(
  target: object,
  key: string,
  replacement: (original: (...a: never[]) => unknown) => unknown,
): void {
  const t = target as Record<string, unknown>;
  patches.push({ target, key, original: t[key] });
  t[key] = replacement(t[key] as (...a: never[]) => unknown);
}

afterEach(() => {
  for (const p of patches.reverse()) (p.target as Record<string, unknown>)[p.key] = p.original;
  patches.length = 0;
});

const has = (target: object, key: string) => typeof (target as Record<string, unknown>)[key] === 'function';
const server = KvServer.prototype as unknown as Record<string, unknown>;
const machine = KvStateMachine.prototype as unknown as Record<string, unknown>;

/** What the mutants reach into: a server's read path, and the session table behind a state machine. */
interface ServerInternals {
  answer(request: unknown): unknown;
}
interface MachineInternals {
  sessions: { get(clientId: number): { results: Map<number, unknown> } | undefined };
}

interface Mutant {
  readonly name: string;
  readonly available: boolean;
  readonly apply: () => void;
  readonly caughtBy: readonly Property[];
  readonly nodes: number;
  readonly faults: FaultsOption;
  readonly seeds: number;
}

const MUTANTS: Mutant[] = [
  {
    name: 'a leader answering gets from its state machine without ReadIndex (§6.4)',
    available: has(server, 'confirmRead') && has(server, 'answer'),
    // It still refuses reads as a follower; it skips the heartbeat round and the wait for the read index.
    apply: () =>
      patch(
        KvServer.prototype,
        'confirmRead',
        () =>
          function (this: ServerInternals, request: unknown, _mode: unknown, reply: (r: unknown) => void) {
            reply(this.answer(request));
          },
      ),
    caughtBy: ['Linearizability'],
    nodes: 5,
    faults: 'heavy',
    seeds: 120,
  },
  {
    name: 'any server answering gets from its state machine, leader or not',
    available: has(server, 'read') && has(server, 'answer'),
    apply: () =>
      patch(
        KvServer.prototype,
        'read',
        () =>
          function (this: ServerInternals, request: unknown, reply: (r: unknown) => void) {
            reply(this.answer(request));
          },
      ),
    caughtBy: ['Linearizability'],
    nodes: 5,
    faults: 'mixed',
    seeds: 20,
  },
  {
    name: 'a state machine that forgets its sessions’ results: a retried append applies twice (§6.3)',
    available: has(machine, 'applyBatch'),
    apply: () =>
      patch(
        KvStateMachine.prototype,
        'applyBatch',
        (original) =>
          function (this: MachineInternals, clientId: number, ...rest: unknown[]) {
            this.sessions.get(clientId)?.results.clear();
            return (original as (...a: unknown[]) => unknown).call(this, clientId, ...rest);
          },
      ),
    caughtBy: ['Exactly Once', 'Linearizability'],
    nodes: 5,
    faults: 'heavy',
    seeds: 20,
  },
];

describe('the KV history checks catch bugs planted in the KV server and state machine', () => {
  for (const m of MUTANTS) {
    test.skipIf(!m.available)(m.name, () => {
      m.apply();
      for (let seed = 1; seed <= m.seeds; seed++) {
        const r = runSeed(seed, { nodes: m.nodes, faults: m.faults, durationMs: 5000, kv: true });
        if (r.ok) continue;
        const v = r.violations[0]!;
        console.log(
          `kv mutant "${m.name}": caught by seed ${seed} (${m.nodes} nodes, ${m.faults}): ${v.property}: ${v.message}`,
        );
        expect(m.caughtBy).toContain(v.property);
        return;
      }
      expect.fail(
        `kv mutant "${m.name}" survived seeds 1..${m.seeds} (${m.nodes} nodes, faults ${m.faults})`,
      );
    });
  }
});
