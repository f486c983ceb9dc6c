// The nemesis: faults injected into a running cluster from a seeded PRNG,
// through the Cluster API only, as Jepsen's nemesis does.
import { setTimeout as sleep } from 'node:timers/promises';
import type { NodeId } from '@xraft/core';
import type { Cluster, KillMode } from '../../src/index.js';

/**
 * FaultKind names a fault the nemesis can inject:
 * - `partition-halves`: the nodes shuffled and split into two halves;
 * - `partition-split`: the nodes split into three groups, none a majority (no quorum anywhere);
 * - `isolate-leader`: the leader (as the nodes report it) with others in a minority;
 * - `one-way`: one-way link failures (`setLink`): the leader deaf, the leader
 *   mute, or random directed links down;
 * - `crash`: a worker terminated (`crash`), restarted from its storage when healed;
 * - `kill`: a worker dying on its own (throw, rejection, exit, terminate),
 *   restarted by the supervisor;
 * - `pause`: process pauses (`pause`) of 100 ms up to `maxPauseMs`, of one node, or
 *   (one time in three) of a majority at once;
 * - `network`: every link lossy, delayed and reordering (`setNetwork`).
 */
export type FaultKind =
  | 'partition-halves'
  | 'partition-split'
  | 'isolate-leader'
  | 'one-way'
  | 'crash'
  | 'kill'
  | 'pause'
  | 'network';

/** NemesisOptions configure a {@link Nemesis}. */
export interface NemesisOptions {
  readonly kinds: readonly FaultKind[];
  readonly random: () => number;
  /** How long a fault holds before the nemesis heals it, [min, max] ms. */
  readonly holdMs?: readonly [number, number];
  /** Quiet time after a heal, [min, max] ms. */
  readonly quietMs?: readonly [number, number];
  /** Probability that a second fault joins the first. */
  readonly combine?: number;
  /** Longest process pause, ms. */
  readonly maxPauseMs?: number;
  readonly log?: (line: string) => void;
}

const KILL_MODES: readonly KillMode[] = ['throw', 'rejection', 'exit', 'terminate'];

/**
 * Nemesis injects faults into `c`: in rounds, one fault (sometimes two) held
 * for a while, then everything healed, then quiet. Every choice comes from
 * `random`; only the timing of real threads varies between runs of a seed.
 */
export class Nemesis {
  /** Faults injected, by kind. */
  readonly counts = new Map<FaultKind, number>();
  /** Faults that could not be injected (the node was down or restarting), by kind. */
  readonly skipped = new Map<FaultKind, number>();
  /** Nodes crashed by the nemesis, restarted when it heals. */
  private readonly down = new Set<NodeId>();
  /** When the last process pause ends (performance.now() time). */
  private pausedUntil = 0;
  private stopped = false;
  private readonly o: Required<NemesisOptions>;

  constructor(
    private readonly c: Cluster,
    options: NemesisOptions,
  ) {
    this.o = {
      holdMs: [400, 2_000],
      quietMs: [200, 800],
      combine: 0.25,
      maxPauseMs: 2_000,
      log: () => {},
      ...options,
    };
    if (this.o.kinds.length === 0) throw new RangeError('Nemesis: no fault kinds');
  }

  /** run injects faults in rounds until `durationMs` passed or {@link stop} was called, then heals everything. */
  async run(durationMs: number): Promise<void> {
    const end = performance.now() + durationMs;
    while (!this.stopped && performance.now() < end) {
      await this.inject(this.pick(this.o.kinds));
      if (this.random() < this.o.combine) await this.inject(this.pick(this.o.kinds));
      await sleep(this.between(this.o.holdMs));
      await this.heal();
      await sleep(this.between(this.o.quietMs));
    }
    await this.heal();
  }

  /** stop ends {@link run} after its current round. */
  stop(): void {
    this.stopped = true;
  }

  /**
   * heal undoes every fault: links up, network reliable, crashed nodes
   * restarted, nodes the supervisor gave up on restarted; then waits out any
   * process pause still running.
   */
  async heal(): Promise<void> {
    await this.c.heal();
    await this.c.setNetwork({});
    for (const id of this.c.ids) {
      const phase = this.c.state(id).worker;
      if (this.down.has(id) || phase === 'down' || phase === 'failed') {
        await this.c.restart(id);
        this.o.log(`nemesis: restarted ${id}`);
      }
    }
    this.down.clear();
    const left = this.pausedUntil - performance.now();
    if (left > 0) await sleep(left);
  }

  /** summary lists the faults injected (and skipped) by kind. */
  summary(): string {
    const list = (m: Map<FaultKind, number>) => [...m].map(([k, n]) => `${k} ${n}`).join(', ');
    const skipped = list(this.skipped);
    return `${list(this.counts) || 'none'}${skipped ? ` (skipped: ${skipped})` : ''}`;
  }

  private async inject(kind: FaultKind): Promise<void> {
    try {
      const what = await this.apply(kind);
      this.counts.set(kind, (this.counts.get(kind) ?? 0) + 1);
      this.o.log(`nemesis: ${what}`);
    } catch (err) {
      // The chosen node was down or restarting (a control call can then fail): count it, go on.
      this.skipped.set(kind, (this.skipped.get(kind) ?? 0) + 1);
      this.o.log(`nemesis: ${kind} skipped: ${(err as Error).message}`);
    }
  }

  private async apply(kind: FaultKind): Promise<string> {
    const c = this.c;
    const ids = c.ids;
    const n = ids.length;
    const minority = Math.floor((n - 1) / 2);
    switch (kind) {
      case 'partition-halves': {
        const s = this.shuffle(ids);
        const half = this.random() < 0.5 ? Math.floor(n / 2) : Math.ceil(n / 2);
        const a = s.slice(0, half);
        const b = s.slice(half);
        await c.partition(a, b);
        return `partition ${a.join(',')} | ${b.join(',')}`;
      }
      case 'partition-split': {
        const s = this.shuffle(ids);
        // Three groups of at most a minority each (for 3 nodes: 1 | 1 | 1).
        const a = s.slice(0, minority);
        const b = s.slice(minority, 2 * minority);
        const rest = s.slice(2 * minority);
        await c.partition(a, b, rest);
        return `partition ${a.join(',')} | ${b.join(',')} | ${rest.join(',')} (no quorum)`;
      }
      case 'isolate-leader': {
        const leader = this.leaderNow() ?? this.pick(ids);
        const others = this.shuffle(ids.filter((id) => id !== leader));
        const group = [leader, ...others.slice(0, Math.max(0, minority - 1))];
        await c.partition(
          group,
          ids.filter((id) => !group.includes(id)),
        );
        return `isolate leader ${leader} in minority ${group.join(',')}`;
      }
      case 'one-way': {
        const leader = this.leaderNow() ?? this.pick(ids);
        const variant = this.pick(['mute', 'deaf', 'random'] as const);
        if (variant === 'random') {
          const links: string[] = [];
          const k = 1 + Math.floor(this.random() * n);
          for (let i = 0; i < k; i++) {
            const from = this.pick(ids);
            const to = this.pick(ids.filter((id) => id !== from));
            await c.setLink(from, to, false);
            links.push(`${from}->${to}`);
          }
          return `one-way links down: ${links.join(' ')}`;
        }
        for (const other of ids) {
          if (other === leader) continue;
          if (variant === 'mute') await c.setLink(leader, other, false);
          else await c.setLink(other, leader, false);
        }
        return `leader ${leader} ${variant === 'mute' ? 'cannot send' : 'cannot receive'} (one-way links)`;
      }
      case 'crash': {
        if (this.down.size >= minority) throw new Error(`a minority (${minority}) is down already`);
        const id = this.target(ids.filter((x) => !this.down.has(x)));
        this.down.add(id);
        await c.crash(id);
        return `crash ${id}`;
      }
      case 'kill': {
        const id = this.target(ids.filter((x) => !this.down.has(x)));
        const how = this.pick(KILL_MODES);
        await c.kill(id, how);
        return `kill ${id} (${how}); the supervisor restarts it`;
      }
      case 'pause': {
        const up = ids.filter((x) => !this.down.has(x));
        const targets = this.random() < 1 / 3 ? this.shuffle(up).slice(0, minority + 1) : [this.target(up)];
        const ms = Math.round(100 + this.random() * (this.o.maxPauseMs - 100));
        await Promise.all(targets.map((id) => c.pause(id, ms)));
        this.pausedUntil = Math.max(this.pausedUntil, performance.now() + ms);
        return `pause ${targets.join(',')} for ${ms} ms`;
      }
      case 'network': {
        const dropRate = Math.round((0.05 + this.random() * 0.2) * 100) / 100;
        const maxDelay = Math.round(5 + this.random() * 35);
        await c.setNetwork({ dropRate, delayMs: [0, maxDelay], reorder: true });
        return `network: drop ${dropRate}, delay 0-${maxDelay} ms, reordering`;
      }
    }
  }

  /** target picks the leader half the time (if it is among `among`), else any of `among`. */
  private target(among: readonly NodeId[]): NodeId {
    const leader = this.leaderNow();
    if (leader !== null && among.includes(leader) && this.random() < 0.5) return leader;
    return this.pick(among);
  }

  /** leaderNow is the alive node that leads the highest term, as the nodes report it, or null. */
  private leaderNow(): NodeId | null {
    let best: { id: NodeId; term: number } | null = null;
    for (const id of this.c.ids) {
      const s = this.c.state(id);
      if (s.alive && s.role === 'leader' && (best === null || s.term > best.term))
        best = { id, term: s.term };
    }
    return best?.id ?? null;
  }

  private random(): number {
    return this.o.random();
  }

  private between([min, max]: readonly [number, number]): number {
    return min + this.random() * (max - min);
  }

  private pick<T>(list: readonly T[]): T {
    if (list.length === 0) throw new Error('nothing to pick from');
    return list[Math.floor(this.random() * list.length)]!;
  }

  private shuffle<T>(list: readonly T[]): T[] {
    const out = [...list];
    for (let i = out.length - 1; i > 0; i--) {
      const j = Math.floor(this.random() * (i + 1));
      [out[i], out[j]] = [out[j]!, out[i]!];
    }
    return out;
  }
}
