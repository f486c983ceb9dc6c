/** Expiring is anything with a deadline (a `Date.now()` time) a {@link Deadlines} watches. */
export interface Expiring {
  readonly deadline: number;
  /**
   * Where the {@link Deadlines} watching the item keeps it (-1: none); only
   * Deadlines writes it. Items made often should start it at -1, so that
   * they keep one shape.
   */
  deadlineSlot?: number;
}

/**
 * Deadlines expires items when their deadline passes with one timer for all
 * of them instead of one per item: the timer is armed for the earliest
 * deadline and, when it fires, expires what is due and re-arms for the next.
 * Items added later than the armed time cost no timer call, so a stream of
 * short-lived requests with the same timeout re-arms about once per timeout.
 * While nothing is watched the timer keeps no process alive (it is unref'd).
 *
 * Items are kept in an array in the order they were added, each knowing its
 * slot (`deadlineSlot`), so adding and deleting cost no hashing; deleted
 * slots are reclaimed when every item is gone or most slots are empty. An
 * item is watched by one Deadlines at a time.
 */
export class Deadlines<T extends Expiring> {
  /** The items in the order they were added; null where one was deleted. Invariant: `items[i].deadlineSlot === i`. */
  private items: Array<T | null> = [];
  /** Slots in use at the front of `items`. */
  private end = 0;
  /** Items watched: the non-null slots before `end`. */
  private live = 0;
  private timer: ReturnType<typeof setTimeout> | undefined;
  private armedFor = Number.POSITIVE_INFINITY;

  constructor(
    /** Called once for each item whose deadline passed before it was deleted. */
    private readonly expire: (item: T) => void,
  ) {}

  /** size is the number of items watched. */
  get size(): number {
    return this.live;
  }

  /** add watches `item` until it is deleted or expires. */
  add(item: T): void {
    if (this.end === this.items.length) {
      if (this.end >= 32 && this.live * 2 <= this.end) this.compact();
      else this.items.push(null);
    }
    item.deadlineSlot = this.end;
    this.items[this.end++] = item;
    this.live++;
    if (item.deadline < this.armedFor) this.arm(item.deadline);
    else if (this.live === 1) this.timer?.ref();
  }

  /** delete stops watching `item`; false if it was not watched (deleted already, or expired). */
  delete(item: T): boolean {
    const slot = item.deadlineSlot ?? -1;
    if (slot < 0 || slot >= this.end || this.items[slot] !== item) return false;
    this.items[slot] = null;
    item.deadlineSlot = -1;
    if (--this.live === 0) {
      this.end = 0; // Every slot before `end` is null.
      this.timer?.unref();
    } else if (slot === this.end - 1) {
      this.end--;
    }
    return true;
  }

  /** values lists the items watched, in the order they were added. */
  values(): T[] {
    const out: T[] = [];
    for (let i = 0; i < this.end; i++) {
      const item = this.items[i];
      if (item != null) out.push(item);
    }
    return out;
  }

  /** close stops the timer and forgets every item without expiring it. */
  close(): void {
    clearTimeout(this.timer);
    this.timer = undefined;
    this.armedFor = Number.POSITIVE_INFINITY;
    for (let i = 0; i < this.end; i++) {
      const item = this.items[i];
      if (item != null) item.deadlineSlot = -1;
    }
    this.items = [];
    this.end = 0;
    this.live = 0;
  }

  /** compact moves the items to the front, in order, reclaiming deleted slots. */
  private compact(): void {
    let to = 0;
    for (let i = 0; i < this.end; i++) {
      const item = this.items[i];
      if (item == null) continue;
      item.deadlineSlot = to;
      this.items[to++] = item;
    }
    for (let i = to; i < this.end; i++) this.items[i] = null;
    this.end = to;
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
    const due: T[] = [];
    for (let i = 0; i < this.end; i++) {
      const item = this.items[i];
      if (item != null && item.deadline <= now) due.push(item);
    }
    // Expiring one item may delete or add others: each is expired only if still watched.
    for (const item of due) if (this.delete(item)) this.expire(item);
    let next = Number.POSITIVE_INFINITY;
    for (let i = 0; i < this.end; i++) {
      const item = this.items[i];
      if (item != null && item.deadline < next) next = item.deadline;
    }
    if (next < this.armedFor) this.arm(next);
  }
}
