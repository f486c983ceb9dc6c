import type { Clock, NodeId } from '@xraft/core';

/**
 * Task is one scheduled action of the simulation: a timer firing, a message
 * arriving, a write becoming durable, a client request, a fault.
 *
 * Tasks run in (time, due, seq) order: `seq` is a global counter, so two tasks
 * due at the same virtual instant run in the order they were scheduled. That
 * order is what makes a run a pure function of its seed.
 */
export interface Task {
  /** Virtual time, in milliseconds, at which the task runs. */
  time: number;
  /** When the task first came due: its time, unless a pause deferred it. Deferred tasks keep their order. */
  readonly due: number;
  /** Tie-breaker among tasks due at the same time: scheduling order. */
  readonly seq: number;
  /** The node whose process runs this task; its tasks wait while it is paused. Null for the environment. */
  readonly owner: NodeId | null;
  readonly fn: () => void;
  /** Set by {@link Scheduler.cancel}; a cancelled task stays in the heap and is skipped when popped. */
  cancelled: boolean;
}

/**
 * Scheduler is the simulation's virtual time: a binary heap of {@link Task}s
 * ordered by (time, seq). Nothing happens between tasks; `now` jumps from one
 * to the next, so ten virtual seconds cost only the work done in them.
 *
 * A paused node (a process pause: GC, SIGSTOP, a VM migration) runs none of
 * its tasks: those that come due during the pause are deferred to the end of
 * the pause, in the order they came due, as an event loop catching up would,
 * and ahead of tasks that come due at that very instant.
 */
export class Scheduler {
  /** Current virtual time in milliseconds. Invariant: never decreases. */
  now = 0;
  /** Tasks run so far (cancelled ones excluded). */
  steps = 0;
  private readonly heap: Task[] = [];
  private seq = 0;
  private readonly pausedUntil = new Map<NodeId, number>();

  /** at schedules `fn` at virtual time `time` (clamped to now), on behalf of `owner`. */
  at(time: number, fn: () => void, owner: NodeId | null = null): Task {
    const t = Math.max(time, this.now);
    const task: Task = { time: t, due: t, seq: ++this.seq, owner, fn, cancelled: false };
    this.push(task);
    return task;
  }

  /** after schedules `fn` `delay` virtual milliseconds from now. */
  after(delay: number, fn: () => void, owner: NodeId | null = null): Task {
    return this.at(this.now + delay, fn, owner);
  }

  /** cancel makes a scheduled task a no-op. Cancelling twice, or a task that ran, is harmless. */
  cancel(task: Task): void {
    task.cancelled = true;
  }

  /** pending is the number of tasks in the heap, cancelled ones included. */
  pending(): number {
    return this.heap.length;
  }

  /** nextTime is the due time of the earliest task, or Infinity when none is left. */
  nextTime(): number {
    for (;;) {
      const top = this.heap[0];
      if (top === undefined) return Number.POSITIVE_INFINITY;
      if (!top.cancelled) return top.time;
      this.pop();
    }
  }

  /**
   * pause stops `owner`'s process until virtual time `until`: its tasks that
   * come due meanwhile run at `until` instead. A longer pause extends a shorter one.
   * There is no early resume: tasks already deferred would then run after
   * later ones of the same process (a disk write completing out of order).
   */
  pause(owner: NodeId, until: number): void {
    const current = this.pausedUntil.get(owner) ?? 0;
    if (until > current) this.pausedUntil.set(owner, until);
  }

  /**
   * endPause forgets `owner`'s pause at once. Only for a crash: the tasks that
   * must stay in order (timers, disk writes) died with the process, and what
   * remains deferred (messages in flight to it) may arrive in any order.
   */
  endPause(owner: NodeId): void {
    this.pausedUntil.delete(owner);
  }

  /** isPaused tells whether `owner`'s process is paused at the current time. */
  isPaused(owner: NodeId): boolean {
    const until = this.pausedUntil.get(owner);
    return until !== undefined && until > this.now;
  }

  /** pausedUntilTime is when `owner`'s pause ends, or 0 when it is not paused. */
  pausedUntilTime(owner: NodeId): number {
    const until = this.pausedUntil.get(owner);
    return until !== undefined && until > this.now ? until : 0;
  }

  /**
   * runNext runs the earliest task due at or before `limit` and returns true,
   * or returns false when there is none (time then stays where it is).
   */
  runNext(limit = Number.POSITIVE_INFINITY): boolean {
    for (;;) {
      const task = this.heap[0];
      if (task === undefined || task.time > limit) return false;
      this.pop();
      if (task.cancelled) continue;
      this.now = task.time;
      if (task.owner !== null) {
        const until = this.pausedUntil.get(task.owner);
        if (until !== undefined) {
          if (until > this.now) {
            // The process is frozen: the task waits for the end of the pause; (due, seq) keep its order.
            task.time = until;
            this.push(task);
            continue;
          }
          this.pausedUntil.delete(task.owner);
        }
      }
      task.cancelled = true;
      this.steps++;
      task.fn();
      return true;
    }
  }

  /** runUntil runs every task due at or before `time` (or until `stop` says so), then sets now to `time`. */
  runUntil(time: number, stop?: () => boolean): void {
    while (!(stop?.() ?? false) && this.runNext(time)) {}
    if (!(stop?.() ?? false) && this.now < time) this.now = time;
  }

  /** clear drops every task: the end of a run. */
  clear(): void {
    for (const t of this.heap) t.cancelled = true;
    this.heap.length = 0;
  }

  /** clockFor makes the XState clock of one node incarnation; see {@link NodeClock}. */
  clockFor(owner: NodeId, afterFire?: () => void): NodeClock {
    return new NodeClock(this, owner, afterFire);
  }

  private less(a: Task, b: Task): boolean {
    if (a.time !== b.time) return a.time < b.time;
    if (a.due !== b.due) return a.due < b.due;
    return a.seq < b.seq;
  }

  private push(task: Task): void {
    const h = this.heap;
    let i = h.length;
    h.push(task);
    while (i > 0) {
      const parent = (i - 1) >> 1;
      const p = h[parent]!;
      if (!this.less(task, p)) break;
      h[i] = p;
      i = parent;
    }
    h[i] = task;
  }

  private pop(): void {
    const h = this.heap;
    const last = h.pop()!;
    const n = h.length;
    if (n === 0) return;
    let i = 0;
    for (;;) {
      const l = 2 * i + 1;
      if (l >= n) break;
      const r = l + 1;
      const c = r < n && this.less(h[r]!, h[l]!) ? r : l;
      if (!this.less(h[c]!, last)) break;
      h[i] = h[c]!;
      i = c;
    }
    h[i] = last;
  }
}

/**
 * NodeClock is the core's {@link Clock} for one incarnation of one node: the
 * statechart's delayed transitions (election timeout, heartbeat, CheckQuorum)
 * become scheduler tasks owned by the node. {@link NodeClock.cancelAll} is
 * the crash: every timer of the incarnation disappears and the clock refuses
 * new ones, so a dead process never acts again.
 */
export class NodeClock implements Clock {
  private readonly live = new Set<Task>();
  private dead = false;

  constructor(
    private readonly scheduler: Scheduler,
    readonly owner: NodeId,
    /** Runs after every timer callback: the host drains the node and the monitors look at it. */
    private readonly afterFire?: () => void,
  ) {}

  /** setTimeout schedules `fn` `ms` virtual milliseconds from now; the handle is the task. */
  setTimeout(fn: () => void, ms: number): Task | null {
    if (this.dead) return null;
    const task = this.scheduler.after(
      ms,
      () => {
        this.live.delete(task);
        fn();
        this.afterFire?.();
      },
      this.owner,
    );
    this.live.add(task);
    return task;
  }

  /** clearTimeout cancels a timer set by this clock. */
  clearTimeout(handle: unknown): void {
    if (handle === null || handle === undefined) return;
    const task = handle as Task;
    if (this.live.delete(task)) this.scheduler.cancel(task);
  }

  /** timers is the number of timers pending. */
  timers(): number {
    return this.live.size;
  }

  /** cancelAll cancels every pending timer and refuses new ones (the process died). */
  cancelAll(): void {
    this.dead = true;
    for (const t of this.live) this.scheduler.cancel(t);
    this.live.clear();
  }
}
