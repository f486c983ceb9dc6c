import type { Message, NodeId } from '@xraft/core';
import type { FaultKind, FaultProfile } from './faults.js';
import type { NodeHost } from './host.js';
import type { Network } from './network.js';
import type { Rng } from './rng.js';
import type { Scheduler, Task } from './scheduler.js';
import type { SimEvent } from './trace.js';
import type { Workload } from './workload.js';

/** NemesisStats counts the faults injected. */
export interface NemesisStats {
  faults: number;
  crashes: number;
  restarts: number;
  pauses: number;
  partitions: number;
  storms: number;
}

/**
 * Nemesis injects faults drawn from a {@link FaultProfile} and the run's seed,
 * as a Poisson process over virtual time. It decides at each fault what to
 * hit from the state of the cluster (who leads, who has a write in flight),
 * so the schedule adapts to the run while remaining a pure function of the
 * seed. Every fault carries its own end (a restart, a heal, a resume); {@link
 * Nemesis.healAll} ends all of them at once for the liveness check.
 *
 * One network fault (partition, cut links, Figure-8 isolation) is active at a
 * time: a new one replaces the previous.
 */
export class Nemesis {
  readonly stats: NemesisStats = { faults: 0, crashes: 0, restarts: 0, pauses: 0, partitions: 0, storms: 0 };
  private readonly down = new Map<NodeId, Task | null>();
  private next: Task | null = null;
  private netHeal: Task | null = null;
  private weatherEnd: Task | null = null;
  private readonly slowDisks = new Map<NodeId, Task>();
  private readonly pending = new Set<Task>();
  private running = false;

  constructor(
    private readonly hosts: readonly NodeHost[],
    private readonly scheduler: Scheduler,
    private readonly network: Network,
    private readonly workload: Workload,
    private readonly rng: Rng,
    readonly profile: FaultProfile,
    private readonly record: (e: SimEvent) => void,
  ) {}

  /** start begins injecting faults. */
  start(): void {
    if (this.running || !Number.isFinite(this.profile.meanIntervalMs)) return;
    this.running = true;
    this.scheduleNext();
  }

  /**
   * healAll stops injecting and ends every fault: crashed servers restart,
   * links come back; paused processes resume at the end of their pause.
   */
  healAll(): void {
    this.running = false;
    for (const t of [this.next, this.netHeal, this.weatherEnd, ...this.slowDisks.values(), ...this.pending]) {
      if (t) this.scheduler.cancel(t);
    }
    this.next = this.netHeal = this.weatherEnd = null;
    this.slowDisks.clear();
    this.pending.clear();
    this.network.heal();
    // Paused processes resume when their pause ends (at most pauseMs from now).
    for (const id of [...this.down.keys()]) this.restart(id);
  }

  /** inject performs one fault of the given kind now (also used by tests and demos). */
  inject(kind: FaultKind): void {
    this.stats.faults++;
    const p = this.profile;
    const rng = this.rng;
    switch (kind) {
      case 'crash': {
        const victim = this.pickUp();
        if (victim && this.canCrashOne()) this.crash(victim, rng.float(p.downMs[0], p.downMs[1]));
        return;
      }
      case 'crashLeader': {
        const leader = this.leader();
        if (leader && this.canCrashOne()) this.crash(leader.id, rng.float(p.downMs[0], p.downMs[1]));
        return;
      }
      case 'crashPending': {
        // Aim between "Ready handed out" and "durable": prefer the leader, else anyone with a write in flight.
        const leader = this.leader();
        const candidates = this.hosts.filter((h) => h.alive && h.disk.pendingWrites() > 0);
        const victim =
          leader && leader.disk.pendingWrites() > 0
            ? leader
            : candidates.length > 0
              ? rng.pick(candidates)
              : null;
        if (victim && this.canCrashOne()) this.crash(victim.id, rng.float(p.downMs[0], p.downMs[1]));
        return;
      }
      case 'crashAll': {
        for (const h of this.hosts) if (h.alive) this.crash(h.id, rng.float(p.downMs[0], p.downMs[1]));
        return;
      }
      case 'pause':
      case 'pauseLeader': {
        const victim = kind === 'pauseLeader' ? this.leader()?.id : this.pickUp();
        if (!victim) return;
        const until = this.scheduler.now + rng.float(p.pauseMs[0], p.pauseMs[1]);
        this.scheduler.pause(victim, until);
        this.stats.pauses++;
        this.record({ kind: 'pause', time: this.scheduler.now, node: victim, until });
        return;
      }
      case 'partition':
        this.randomPartition();
        return;
      case 'isolateLeader': {
        const leader = this.leader();
        if (!leader) {
          this.randomPartition();
          return;
        }
        const others = rng.shuffle(this.hosts.filter((h) => h !== leader).map((h) => h.id));
        const withLeader = rng.chance(0.5) && others.length >= 4 ? others.splice(0, 1) : [];
        this.setPartition([[leader.id, ...withLeader], others]);
        return;
      }
      case 'oneWay': {
        this.startNetworkFault();
        const cuts = rng.int(1, Math.max(1, this.hosts.length - 1));
        for (let i = 0; i < cuts && this.hosts.length > 1; i++) {
          const from = rng.pick(this.hosts).id;
          const to = rng.pick(this.hosts.filter((h) => h.id !== from)).id;
          this.network.setLink(from, to, false);
          this.record({ kind: 'link', time: this.scheduler.now, node: null, from, to, up: false });
        }
        this.endNetworkFaultAfter(rng.float(p.outageMs[0], p.outageMs[1]));
        return;
      }
      case 'leaderFlap':
        this.leaderFlap();
        return;
      case 'weather': {
        if (this.weatherEnd) this.scheduler.cancel(this.weatherEnd);
        this.stats.storms++;
        this.network.conditions = p.storm;
        this.record({
          kind: 'note',
          time: this.scheduler.now,
          node: null,
          text: 'network storm: heavy loss, duplication and delay',
        });
        this.weatherEnd = this.scheduler.after(rng.float(p.outageMs[0], p.outageMs[1]) * 2, () => {
          this.weatherEnd = null;
          this.network.conditions = p.network;
          this.record({ kind: 'note', time: this.scheduler.now, node: null, text: 'network storm over' });
        });
        return;
      }
      case 'slowDisk': {
        const victim = rng.chance(0.5) ? (this.leader() ?? rng.pick(this.hosts)) : rng.pick(this.hosts);
        const prev = this.slowDisks.get(victim.id);
        if (prev) this.scheduler.cancel(prev);
        victim.disk.conditions = p.slowDisk;
        this.record({
          kind: 'note',
          time: this.scheduler.now,
          node: victim.id,
          text: `${victim.id} disk slow`,
        });
        this.slowDisks.set(
          victim.id,
          this.scheduler.after(rng.float(p.outageMs[0], p.outageMs[1]) * 2, () => {
            this.slowDisks.delete(victim.id);
            victim.disk.conditions = p.disk;
            this.record({
              kind: 'note',
              time: this.scheduler.now,
              node: victim.id,
              text: `${victim.id} disk fast again`,
            });
          }),
        );
        return;
      }
      case 'transfer': {
        const leader = this.leader();
        if (!leader || this.hosts.length < 2) return;
        const to = rng.pick(this.hosts.filter((h) => h !== leader)).id;
        this.record({
          kind: 'note',
          time: this.scheduler.now,
          node: leader.id,
          text: `${leader.id} asked to transfer leadership to ${to}`,
        });
        // A request to the process: it waits while the process is paused.
        this.scheduler.after(0, () => leader.transferLeadership(to), leader.id);
        return;
      }
    }
  }

  /**
   * onSend sees every message leave a server; with a small probability it
   * crashes the sender of a vote or an append acknowledgement within the next
   * couple of milliseconds, and restarts it soon after, so that the restarted
   * server faces the same election or the same leader with whatever reached its disk.
   */
  onSend(host: NodeHost, m: Message): void {
    if (!this.running) return;
    const p = this.profile;
    const rate =
      m.type === 'RequestVoteResponse' && m.granted
        ? p.crashAfterVote
        : m.type === 'AppendEntriesResponse' && m.success
          ? p.crashAfterAck
          : 0;
    if (rate === 0 || !this.rng.chance(rate) || !this.canCrashOne()) return;
    this.stats.faults++;
    const at = this.scheduler.after(this.rng.float(0, 2), () => {
      this.pending.delete(at);
      this.crash(host.id, this.rng.float(1, 100));
    });
    this.pending.add(at);
  }

  /** crash kills a server now and schedules its restart after `downMs` (Infinity: stays down until healAll). */
  crash(id: NodeId, downMs: number): void {
    const host = this.host(id);
    if (!host.alive) return;
    host.crash();
    this.stats.crashes++;
    const restart = Number.isFinite(downMs) ? this.scheduler.after(downMs, () => this.restart(id)) : null;
    this.down.set(id, restart);
  }

  /** restart boots a crashed server from its disk. */
  restart(id: NodeId): void {
    const t = this.down.get(id);
    if (t) this.scheduler.cancel(t);
    this.down.delete(id);
    const host = this.host(id);
    if (host.alive) return;
    this.stats.restarts++;
    host.start();
  }

  /** leader is the running server that leads the highest term, if any. */
  leader(): NodeHost | null {
    let best: NodeHost | null = null;
    for (const h of this.hosts) {
      const r = h.raft;
      if (r !== null && r.role === 'leader' && (best === null || r.term > best.raft!.term)) best = h;
    }
    return best;
  }

  private scheduleNext(): void {
    this.next = this.scheduler.after(this.rng.exp(this.profile.meanIntervalMs), () => {
      this.next = null;
      if (!this.running) return;
      this.inject(this.rng.weighted(this.profile.weights));
      this.scheduleNext();
    });
  }

  private canCrashOne(): boolean {
    const max = Math.max(1, Math.floor(this.hosts.length * this.profile.maxDownFraction));
    return this.down.size < max;
  }

  private pickUp(): NodeId | null {
    const up = this.hosts.filter((h) => h.alive);
    return up.length === 0 ? null : this.rng.pick(up).id;
  }

  private randomPartition(): void {
    const ids = this.rng.shuffle(this.hosts.map((h) => h.id));
    if (ids.length < 2) return;
    const cut = this.rng.int(1, ids.length - 1);
    const left = ids.slice(0, cut);
    const right = ids.slice(cut);
    if (ids.length >= 3 && this.rng.chance(0.25)) {
      // A bridge: one server talks to both sides, which cannot talk to each other (non-transitive).
      const bridge = right.length > 1 ? right.pop()! : left.pop()!;
      this.startNetworkFault();
      for (const a of left) {
        for (const b of right) {
          this.network.setLink(a, b, false);
          this.network.setLink(b, a, false);
        }
      }
      this.stats.partitions++;
      this.record({
        kind: 'note',
        time: this.scheduler.now,
        node: null,
        text: `partition {${left.join(',')}} | {${right.join(',')}} bridged by ${bridge}`,
      });
      this.endNetworkFaultAfter(this.rng.float(this.profile.outageMs[0], this.profile.outageMs[1]));
      return;
    }
    this.setPartition([left, right]);
  }

  private setPartition(groups: NodeId[][]): void {
    this.startNetworkFault();
    this.network.partition(groups);
    this.stats.partitions++;
    this.record({ kind: 'partition', time: this.scheduler.now, node: null, groups });
    this.endNetworkFaultAfter(this.rng.float(this.profile.outageMs[0], this.profile.outageMs[1]));
  }

  /**
   * leaderFlap is the schedule of Figure 8: the leader takes a few commands
   * that reach at most one follower, then crashes before it can commit them
   * and comes back a little later. Repeated, it leaves entries of several
   * terms on minorities, which later leaders must overwrite or commit
   * correctly (only through an entry of their own term, §5.4.2).
   */
  private leaderFlap(): void {
    const leader = this.leader();
    if (!leader) return;
    const rng = this.rng;
    const others = this.hosts.filter((h) => h !== leader).map((h) => h.id);
    const keep = rng.shuffle(others).slice(0, rng.chance(0.5) ? 1 : 0);
    this.startNetworkFault();
    for (const to of others) {
      if (!keep.includes(to)) {
        this.network.setLink(leader.id, to, false);
        this.record({ kind: 'link', time: this.scheduler.now, node: null, from: leader.id, to, up: false });
      }
    }
    const commands = Array.from({ length: rng.int(1, 3) }, () => this.workload.command());
    this.workload.submit(leader.id, commands);
    const crashAt = this.scheduler.after(rng.float(5, 60), () => {
      this.pending.delete(crashAt);
      this.crash(leader.id, rng.float(30, 600));
      this.network.heal();
      this.record({ kind: 'note', time: this.scheduler.now, node: null, text: 'links healed' });
      if (this.netHeal) this.scheduler.cancel(this.netHeal);
      this.netHeal = null;
    });
    this.pending.add(crashAt);
  }

  private startNetworkFault(): void {
    if (this.netHeal) this.scheduler.cancel(this.netHeal);
    this.netHeal = null;
    this.network.heal();
  }

  private endNetworkFaultAfter(ms: number): void {
    this.netHeal = this.scheduler.after(ms, () => {
      this.netHeal = null;
      this.network.heal();
      this.record({ kind: 'note', time: this.scheduler.now, node: null, text: 'network healed' });
    });
  }

  private host(id: NodeId): NodeHost {
    const h = this.hosts.find((x) => x.id === id);
    if (!h) throw new RangeError(`unknown server ${id}`);
    return h;
  }
}
