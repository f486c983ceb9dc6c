/** Expiring is anything with a deadline (a `Date.now()` time) a {@link Deadlines} watches. */
export interface Expiring {
  readonly deadline: number;
}

/**
 * Deadlines expires items when their deadline passes with one timer for all
 * of them instead of one per item: the timer is armed for the earliest
 * deadline and, when it fires, expires what is due and re-arms for the next.
 * Items added later than the armed time cost no timer call, so a stream of
 * short-lived requests with the same timeout re-arms about once per timeout.
 * While nothing is watched the timer keeps no process alive (it is unref'd).
 */
export class Deadlines<T extends Expiring> {
  private readonly items = new Set<T>();
  private timer: ReturnType<typeof setTimeout> | undefined;
  private armedFor = Number.POSITIVE_INFINITY;

  constructor(
    /** Called once for each item whose deadline passed before it was deleted. */
    private readonly expire: (item: T) => void,
  ) {}

  /** size is the number of items watched. */
  get size(): number {
    return this.items.size;
  }

  /** add watches `item` until it is deleted or expires. */
  add(item: T): void {
    this.items.add(item);
    if (item.deadline < this.armedFor) this.arm(item.deadline);
    else if (this.items.size === 1) this.timer?.ref();
  }

  /** delete stops watching `item`; false if it was not watched (deleted already, or expired). */
  delete(item: T): boolean {
    if (!this.items.delete(item)) return false;
    if (this.items.size === 0) this.timer?.unref();
    return true;
  }

  /** values lists the items watched, in the order they were added. */
  values(): T[] {
    return [...this.items];
  }

  /** close stops the timer and forgets every item without expiring it. */
  close(): void {
    clearTimeout(this.timer);
    this.timer = undefined;
    this.armedFor = Number.POSITIVE_INFINITY;
    this.items.clear();
  }

  private arm(deadline: number): void {
    clearTimeout(this.timer);
    this.armedFor = deadline;
    this.timer = setTimeout(() => this.fire(), Math.max(0, deadline - Date.now()));
  }

  private fire(): void {
    this.timer = undefined;
    this.armedFor = Number.POSITIVE_INFINITY;
    const now = Date.now();
    for (const item of [...this.items]) if (item.deadline <= now && this.delete(item)) this.expire(item);
    let next = Number.POSITIVE_INFINITY;
    for (const item of this.items) if (item.deadline < next) next = item.deadline;
    if (next < this.armedFor) this.arm(next);
  }
}
