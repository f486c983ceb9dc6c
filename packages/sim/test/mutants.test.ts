import {
  type Entry,
  type Message,
  Raft,
  RaftLog,
  type ReadMode,
  ReadOnly,
  type ReadState,
} from '@xraft/core';
import { afterEach, describe, expect, test } from 'vitest';
import type { FaultsOption } from '../src/faults.js';
import type { Property } from '../src/monitors.js';
import { runSeed, type SimOptions } from '../src/simulation.js';

/**
 * Mutation tests: each case breaks one rule of the protocol in the real core,
 * in memory, by patching a method of its classes for the duration of the test,
 * then checks that the simulator catches it within a small seed budget. They
 * show the fault schedule and the monitors are sharp enough for the bugs the
 * issue lists. A patch target that no longer exists (the core was refactored)
 * skips its case rather than failing it.
 */

type Patch = { target: object; key: string; original: unknown };
const patches: Patch[] = [];

function patch<T extends object>(
  target: T,
  key: string,
  replacement: (original: (...a: never[]) => unknown) => unknown,
): void {
  const original = (target as Record<string, unknown>)[key];
  patches.push({ target, key, original });
  (target as Record<string, unknown>)[key] = replacement(original as (...a: never[]) => unknown);
}

afterEach(() => {
  for (const p of patches.reverse()) (p.target as Record<string, unknown>)[p.key] = p.original;
  patches.length = 0;
});

const has = (target: object, key: string) => typeof (target as Record<string, unknown>)[key] === 'function';
const log = RaftLog.prototype as unknown as Record<string, unknown>;
const raft = Raft.prototype as unknown as Record<string, unknown>;
const readOnly = ReadOnly.prototype as unknown as Record<string, unknown>;

/** The Raft that owns each ReadOnly, learnt as the leader sends (ReadOnly has no back reference). */
const owners = new WeakMap<ReadOnly, Raft>();

/** learnOwners patches `Raft.sendEarly` (the leader's replication and heartbeats) to fill {@link owners}. */
function learnOwners(then?: (r: Raft, m: Message) => void): void {
  patch(
    Raft.prototype,
    'sendEarly',
    (original) =>
      function (this: Raft, m: Message) {
        owners.set(this.readOnly, this);
        (original as (m: Message) => void).call(this, m);
        then?.(this, m);
      },
  );
}

/** Read traffic dense enough to hit the short windows read bugs open (a read every 20 ms). */
const MANY_READS: SimOptions = { workload: { readIntervalMs: 20 } };

interface Mutant {
  readonly name: string;
  readonly available: boolean;
  readonly apply: () => void;
  /** Properties any of which may legitimately be the first to catch it. */
  readonly caughtBy: readonly Property[];
  readonly nodes?: number;
  readonly faults?: FaultsOption;
  /** Further options for every seed (traffic, core configuration). */
  readonly options?: SimOptions;
}

const MUTANTS: Mutant[] = [
  {
    name: 'skipping the up-to-date check (§5.4.1)',
    available: has(log, 'isUpToDate'),
    apply: () => patch(RaftLog.prototype, 'isUpToDate', () => () => true),
    caughtBy: [
      'Election Restriction',
      'Leader Completeness',
      'State Machine Safety',
      'Log Matching',
      'Core Error',
    ],
  },
  {
    name: 'truncating a matching suffix (§5.3)',
    available: has(log, 'maybeAppend') && has(log, 'truncateFrom') && has(log, 'matchTerm'),
    apply: () =>
      patch(
        RaftLog.prototype,
        'maybeAppend',
        () =>
          function (this: RaftLog, prevIndex: number, prevTerm: number, entries: readonly Entry[]) {
            if (!this.matchTerm(prevIndex, prevTerm)) return null;
            const internals = this as unknown as { entries: Entry[]; truncateFrom(i: number): void };
            if (this.lastIndex() > prevIndex) internals.truncateFrom(prevIndex + 1);
            internals.entries.push(...entries);
            return prevIndex + entries.length;
          },
      ),
    caughtBy: ['Log Matching', 'State Machine Safety', 'Durability', 'Leader Completeness', 'Core Error'],
  },
  {
    name: 'replying before persisting (Figure 2)',
    available: has(raft, 'send'),
    apply: () =>
      patch(
        Raft.prototype,
        'send',
        () =>
          function (this: Raft, m: Message) {
            this.earlyMessages.push(m);
          },
      ),
    caughtBy: ['Durability', 'Single Vote', 'Election Safety'],
  },
  {
    name: 'not persisting the vote (voting twice in a term across a crash)',
    available: has(raft, 'takeHardState'),
    apply: () =>
      patch(
        Raft.prototype,
        'takeHardState',
        (original) =>
          function (this: Raft) {
            const h = (original as () => ReturnType<Raft['takeHardState']>).call(this);
            return h && { ...h, vote: null };
          },
      ),
    caughtBy: ['Durability', 'Single Vote', 'Election Safety'],
  },
  {
    name: 'a leader not stepping down on a higher term (§5.1)',
    available: has(raft, 'stepDown'),
    apply: () =>
      patch(
        Raft.prototype,
        'stepDown',
        (original) =>
          function (this: Raft, term: number, leaderId: string | null) {
            if (this.role === 'leader') {
              this.leaderId = leaderId;
              return;
            }
            (original as (t: number, l: string | null) => void).call(this, term, leaderId);
          },
      ),
    caughtBy: ['Term Rule', 'Single Vote', 'Election Safety', 'Core Error'],
    nodes: 3,
  },
  {
    name: 'forgetting the no-op (§8)',
    available: has(log, 'append'),
    apply: () =>
      patch(
        RaftLog.prototype,
        'append',
        (original) =>
          function (this: RaftLog, entries: readonly Entry[]) {
            (original as (e: readonly Entry[]) => void).call(
              this,
              entries.filter((e) => e.type !== 'noop'),
            );
          },
      ),
    caughtBy: ['Leader No-op', 'Liveness'],
  },
  {
    name: 'a leader counting its own write before it is durable',
    available: has(log, 'takeUnpersisted'),
    apply: () =>
      patch(
        RaftLog.prototype,
        'takeUnpersisted',
        (original) =>
          function (this: RaftLog) {
            const out = (original as () => Entry[]).call(this);
            this.stableIndex = this.lastIndex();
            return out;
          },
      ),
    caughtBy: ['Durability', 'State Machine Safety', 'Leader Completeness'],
  },
  {
    name: 'skipping the AppendEntries consistency check (§5.3)',
    available: has(log, 'matchTerm'),
    apply: () => patch(RaftLog.prototype, 'matchTerm', () => () => true),
    caughtBy: ['Log Matching', 'Durability', 'State Machine Safety', 'Core Error', 'Simulation Error'],
  },
  {
    name: 'a follower committing past what the leader proved to match',
    available: has(log, 'commitTo'),
    apply: () =>
      patch(
        RaftLog.prototype,
        'commitTo',
        (original) =>
          function (this: RaftLog, index: number) {
            // Commit as far as the local log goes, whatever the leader said.
            return (original as (i: number) => boolean).call(
              this,
              Math.max(index, Math.min(index + 2, this.lastIndex())),
            );
          },
      ),
    caughtBy: ['Commit Rule', 'State Machine Safety', 'Durability', 'Core Error'],
  },
  {
    name: 'installing a snapshot over a conflicting log while keeping the entries after it (§7)',
    available: has(log, 'installSnapshot') && has(log, 'matchTerm'),
    // Figure 13 rule 6 keeps the entries after the snapshot only if the log holds its last entry.
    apply: () =>
      patch(
        RaftLog.prototype,
        'installSnapshot',
        (original) =>
          function (this: RaftLog, index: number, term: number) {
            const self = this as unknown as { matchTerm?: (i: number, t: number) => boolean };
            const held = this.lastIndex() >= index;
            self.matchTerm = () => held;
            try {
              (original as (i: number, t: number) => void).call(this, index, term);
            } finally {
              delete self.matchTerm;
            }
          },
      ),
    caughtBy: ['Log Matching', 'State Machine Safety', 'Leader Completeness', 'Core Error'],
    options: { snapshots: { entries: 10, keepEntries: 0 } },
  },
  {
    name: 'serving a read without waiting for its heartbeat round (§6.4 step 3)',
    available: has(raft, 'sendEarly') && has(readOnly, 'confirm'),
    // Each round counts as confirmed the moment its heartbeats go out.
    apply: () =>
      learnOwners((r, m) => {
        if (m.type === 'Heartbeat') r.readOnly.confirm(m.readRound, 0, r.readStates);
      }),
    caughtBy: ['Linearizable Read'],
    options: MANY_READS,
  },
  {
    name: 'serving a read at the commit index before the term’s no-op commits (§6.4 step 1)',
    available: has(raft, 'sendEarly') && has(readOnly, 'wait') && has(readOnly, 'add'),
    apply: () => {
      learnOwners();
      patch(
        ReadOnly.prototype,
        'wait',
        (original) =>
          function (this: ReadOnly, ctx: number, mode: ReadMode) {
            const r = owners.get(this);
            // Queue it at today's commit index, for the next periodic heartbeat round to confirm.
            if (r !== undefined) this.add(ctx, r.log.committed, this.round + 1);
            else (original as (c: number, m: ReadMode) => void).call(this, ctx, mode);
          },
      );
    },
    caughtBy: ['Linearizable Read'],
    options: MANY_READS,
  },
  {
    name: 'a lease that never runs out (§6.4.1)',
    available: has(readOnly, 'confirm'),
    apply: () =>
      patch(
        ReadOnly.prototype,
        'confirm',
        (original) =>
          function (this: ReadOnly, n: number, leaseMs: number, out: ReadState[]) {
            (original as (n: number, l: number, o: ReadState[]) => void).call(this, n, leaseMs, out);
            if (leaseMs > 0) this.leaseUntil = Number.POSITIVE_INFINITY;
          },
      ),
    caughtBy: ['Linearizable Read'],
    // Light faults: a deposed leader lingers (heavy faults crash it sooner), and serves stale lease reads.
    faults: 'light',
    options: { ...MANY_READS, raft: { checkQuorum: true, maxClockDriftMs: 30 } },
  },
  {
    name: 'a leader that steps down confirming its pending reads instead of failing them',
    available: has(readOnly, 'abortAll'),
    apply: () =>
      patch(
        ReadOnly.prototype,
        'abortAll',
        (original) =>
          function (this: ReadOnly, out: ReadState[]) {
            const self = this as unknown as { pending: { ctx: number; index: number }[] };
            for (const p of self.pending) out.push({ ctx: p.ctx, ok: true, index: p.index });
            self.pending = [];
            (original as (o: ReadState[]) => void).call(this, out);
          },
      ),
    caughtBy: ['Read Leadership'],
    options: MANY_READS,
  },
];

describe('the simulator catches protocol bugs injected into the core', () => {
  for (const m of MUTANTS) {
    test.skipIf(!m.available)(m.name, () => {
      m.apply();
      const nodes = m.nodes ?? 5;
      const faults = m.faults ?? 'heavy';
      const budget = 20;
      for (let seed = 1; seed <= budget; seed++) {
        const r = runSeed(seed, { nodes, faults, durationMs: 5000, ...m.options });
        if (!r.ok) {
          const v = r.violations[0]!;
          console.log(
            `mutant "${m.name}": caught by seed ${seed} (${nodes} nodes, ${faults}): ${v.property}: ${v.message}`,
          );
          expect(m.caughtBy).toContain(v.property);
          return;
        }
      }
      expect.fail(`mutant "${m.name}" survived seeds 1..${budget} (${nodes} nodes, faults ${faults})`);
    });
  }
});
