// A test harness in the image of MIT 6.5840's Raft lab `config.go`, driving a
// real worker-thread cluster through the Cluster API only. Conditions are
// polled with deadlines (never a fixed sleep standing in for a condition);
// waiting a fixed time is used only to check that something does NOT happen.
import { setTimeout as sleep } from 'node:timers/promises';
import { seededRandom } from '@xraft/core';
import { expect } from 'vitest';
import { testSeed } from '../../../../tools/testing/seed.js';
import { Cluster } from '../../src/index.js';

const encoder = new TextEncoder();
const decoder = new TextDecoder();

/** The election timeout upper bound the cluster runs with (the seed document's 300 ms). */
export const ELECTION_TIMEOUT_MS = 300;

/** MitOptions configures a harness cluster. */
export interface MitOptions {
  readonly unreliable?: boolean;
  readonly storage?: 'disk' | 'memory';
}

/** cmd encodes a test command; commands are unique strings so a misplaced one is recognisable. */
export function cmd(value: string | number): Uint8Array {
  return encoder.encode(String(value));
}

/**
 * Mit is one test's cluster plus the lab's checks: every apply on every node
 * is recorded, and two nodes applying different commands at one index fail
 * the test at once (State Machine Safety), as do out-of-order applies.
 */
export class Mit {
  readonly connected = new Set<string>();
  /** applied.get(id).get(index) is the command node `id` applied at `index`. */
  readonly applied = new Map<string, Map<number, string>>();
  /** Highest index applied per node (in order). */
  readonly lastApplied = new Map<string, number>();
  readonly errors: string[] = [];
  private readonly unsubscribe: () => void;

  private constructor(readonly c: Cluster) {
    for (const id of c.ids) {
      this.connected.add(id);
      this.applied.set(id, new Map());
      this.lastApplied.set(id, 0);
    }
    this.unsubscribe = c.onApply((id, index, command) => this.onApply(id, index, decoder.decode(command)));
  }

  /** make starts an n-node cluster (disk storage unless told otherwise). */
  static async make(n: number, options: MitOptions = {}): Promise<Mit> {
    const c = await Cluster.start({ nodes: n, storage: options.storage ?? 'disk' });
    const mit = new Mit(c);
    if (options.unreliable) await c.setNetwork({ dropRate: 0.1, delayMs: [0, 27], reorder: true });
    return mit;
  }

  get ids(): readonly string[] {
    return this.c.ids;
  }

  private onApply(id: string, index: number, command: string): void {
    const mine = this.applied.get(id)!;
    // A restarted node re-applies from the start: the same commands again, in order.
    const last = this.lastApplied.get(id)!;
    if (index <= last) {
      if (mine.get(index) !== undefined && mine.get(index) !== command) {
        this.errors.push(`${id} re-applied index ${index} as ${command}, earlier ${mine.get(index)}`);
      }
    }
    for (const [other, theirs] of this.applied) {
      const v = theirs.get(index);
      if (other !== id && v !== undefined && v !== command) {
        this.errors.push(`apply error: index ${index}: ${id} applied ${command}, ${other} applied ${v}`);
      }
    }
    mine.set(index, command);
    this.lastApplied.set(id, index);
  }

  /** noteRestart forgets what a node applied: after a restart it reports its log again from the start. */
  noteRestart(id: string): void {
    this.lastApplied.set(id, 0);
  }

  /** check fails the test on any apply error seen so far. */
  check(): void {
    expect(this.errors, this.errors.join('\n')).toEqual([]);
  }

  async disconnect(id: string): Promise<void> {
    this.connected.delete(id);
    await this.c.disconnect(id);
  }

  async connect(id: string): Promise<void> {
    this.connected.add(id);
    await this.c.connect(id);
  }

  async crash(id: string): Promise<void> {
    this.connected.delete(id);
    await this.c.crash(id);
  }

  /** restart is the lab's start1: crash the node if it runs, then restart it from its storage. */
  async restart(id: string): Promise<void> {
    if (this.c.state(id).alive) await this.c.crash(id);
    this.noteRestart(id);
    await this.c.restart(id);
    this.connected.add(id);
    await this.c.connect(id);
  }

  /**
   * checkOneLeader waits until the connected, alive nodes agree on exactly one
   * leader of the highest term, failing if two ever lead the same term.
   */
  async checkOneLeader(timeoutMs = 10_000): Promise<string> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const leaders = new Map<number, string[]>();
      for (const id of this.connected) {
        const s = this.c.state(id);
        if (s.alive && s.role === 'leader') leaders.set(s.term, [...(leaders.get(s.term) ?? []), id]);
      }
      for (const [term, ids] of leaders) {
        expect(ids.length, `term ${term} has ${ids.length} (>1) leaders: ${ids}`).toBe(1);
      }
      if (leaders.size > 0) {
        const top = Math.max(...leaders.keys());
        return leaders.get(top)![0]!;
      }
      if (Date.now() > deadline) throw new Error(`expected one leader within ${timeoutMs} ms, got none`);
      await sleep(20);
    }
  }

  /** checkTerms returns the term the connected nodes agree on, failing if they disagree. */
  checkTerms(): number {
    let term = -1;
    for (const id of this.connected) {
      const t = this.c.state(id).term;
      if (term === -1) term = t;
      else expect(t, 'servers disagree on term').toBe(term);
    }
    return term;
  }

  /** checkNoLeader fails if any connected node believes it leads. */
  checkNoLeader(): void {
    for (const id of this.connected) {
      const s = this.c.state(id);
      expect(s.alive && s.role === 'leader', `${id} is leader, but should not be`).toBe(false);
    }
  }

  /** nCommitted is how many nodes applied `index`, and the command they agree on. */
  nCommitted(index: number): { count: number; command: string | undefined } {
    this.check();
    let count = 0;
    let command: string | undefined;
    for (const [, applied] of this.applied) {
      const v = applied.get(index);
      if (v !== undefined) {
        count++;
        command = v;
      }
    }
    return { count, command };
  }

  /**
   * one submits a command and waits until `expected` nodes applied it at the
   * same index, as the lab's `one()`: it tries each node until one leads, and
   * with `retry` submits again if the first attempt does not commit in time.
   */
  async one(command: string, expected: number, retry: boolean, timeoutMs = 10_000): Promise<number> {
    const deadline = Date.now() + timeoutMs;
    let starter = 0;
    while (Date.now() < deadline) {
      let index = -1;
      for (let k = 0; k < this.ids.length; k++) {
        const id = this.ids[(starter + k) % this.ids.length]!;
        starter = (starter + 1) % this.ids.length;
        if (!this.connected.has(id) || !this.c.state(id).alive) continue;
        const r = await this.c.submit(id, cmd(command));
        if (r.isLeader) {
          index = r.index;
          break;
        }
      }
      if (index !== -1) {
        const until = Date.now() + 2_000;
        while (Date.now() < until) {
          const { count, command: got } = this.nCommitted(index);
          if (count > 0 && count >= expected && got === command) return index;
          await sleep(20);
        }
        if (!retry) throw new Error(`one(${command}) failed to reach agreement on ${expected} servers`);
      } else {
        await sleep(50);
      }
    }
    throw new Error(`one(${command}) failed to reach agreement within ${timeoutMs} ms`);
  }

  /** waitCommitted waits until at least `n` nodes applied `index`; returns the command. */
  async waitCommitted(
    index: number,
    n: number,
    startTerm = -1,
    timeoutMs = 5_000,
  ): Promise<string | undefined> {
    const deadline = Date.now() + timeoutMs;
    while (Date.now() < deadline) {
      const { count, command } = this.nCommitted(index);
      if (count >= n) return command;
      if (startTerm > -1) {
        // The term moved on: the entry may never commit, which the caller handles.
        for (const id of this.ids) if (this.c.state(id).term > startTerm) return undefined;
      }
      await sleep(20);
    }
    return undefined;
  }

  /** appliedAnywhere tells whether any node applied `command` at any index. */
  appliedAnywhere(command: string): boolean {
    for (const [, applied] of this.applied) for (const v of applied.values()) if (v === command) return true;
    return false;
  }

  /** rpcTotal is the number of RPC messages sent by every node so far. */
  rpcTotal(): number {
    return Object.values(this.c.stats().rpcs).reduce((a, b) => a + b, 0);
  }

  /** cleanup stops the cluster and fails on any apply error. */
  async cleanup(): Promise<void> {
    this.unsubscribe();
    await this.c.stop();
    this.check();
  }
}

/** withMit runs a test body against a fresh cluster, always stopping it. */
export async function withMit(
  n: number,
  options: MitOptions,
  body: (m: Mit) => Promise<void>,
): Promise<void> {
  const m = await Mit.make(n, options);
  try {
    await body(m);
  } finally {
    await m.cleanup();
  }
}

/**
 * testRandom is a seeded random source for a scenario's choices (which node to
 * crash, which command to send); it prints its seed, and XRAFT_SEED replays
 * the same choices (timing on real threads still varies).
 */
export function testRandom(name: string): { seed: number; random: () => number; int: (n: number) => number } {
  const seed = testSeed();
  console.log(`${name}: seed ${seed} (replay the choices with XRAFT_SEED=${seed})`);
  const random = seededRandom(seed);
  return { seed, random, int: (n: number) => Math.floor(random() * n) };
}
