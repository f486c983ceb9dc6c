import { type Operation, relativeNs, type Time } from './operation.js';

/** NIL is the end of a list in an {@link EntryList}. */
export const NIL = -1;

/** Entry kinds: the call and the return of a completed operation, the call of an unknown one. */
export const CALL = 0;
export const RETURN = 1;
export const UNKNOWN_CALL = 2;

/**
 * EntryList is a history as Wing and Gong's sequence of call and return
 * entries sorted by time, in doubly linked lists (Wing & Gong 1993; Lowe
 * 2017, §3; Porcupine's entry list). Linearizing an operation lifts its
 * entries out; backtracking unlifts them, restoring the neighbours' links in
 * O(1), as in Knuth's dancing links.
 *
 * There are two lists. The completed list (head {@link EntryList.COMPLETED})
 * holds the calls and returns of completed operations; ties in time put
 * calls first, so operations that touch at one instant count as concurrent
 * (Porcupine's choice too). The unknown list (head {@link EntryList.UNKNOWN})
 * holds the calls of unknown-outcome operations, whose returns would all sit
 * at +infinity: they never bound the search, so the checker keeps them apart
 * and tries them only after the completed candidates.
 */
export class EntryList {
  /** The head sentinel of the completed list. */
  static readonly COMPLETED = 0;
  /** The head sentinel of the unknown list. */
  static readonly UNKNOWN = 1;

  /** next[node] is the following entry, or {@link NIL}. */
  readonly next: Int32Array;
  /** prev[node] is the preceding entry (or the head). */
  readonly prev: Int32Array;
  /** kind[node] is {@link CALL}, {@link RETURN} or {@link UNKNOWN_CALL}. */
  readonly kind: Uint8Array;
  /** op[node] is the index of the entry's operation in the partition. */
  readonly op: Int32Array;
  /**
   * slot[node] numbers the operation among the completed ones, or among the
   * unknown ones (those in call order).
   */
  readonly slot: Int32Array;
  /** match[node] is a call's return entry ({@link NIL} for the others). */
  readonly match: Int32Array;
  /** time[node] is the entry's time in nanoseconds from the origin. */
  readonly time: Float64Array;
  /** Number of completed operations. */
  readonly completed: number;
  /** Number of unknown-outcome operations. */
  readonly unknown: number;
  /** {@link EntryList.COMPLETED}, for callers holding an instance. */
  readonly completedHead = EntryList.COMPLETED;
  /** {@link EntryList.UNKNOWN}, for callers holding an instance. */
  readonly unknownHead = EntryList.UNKNOWN;

  /** Builds the lists of the operations `ids` (indices into `ops`). */
  constructor(ops: readonly Operation<unknown, unknown>[], ids: readonly number[], origin: Time) {
    const size = 2 + 2 * ids.length;
    this.next = new Int32Array(size).fill(NIL);
    this.prev = new Int32Array(size).fill(NIL);
    this.kind = new Uint8Array(size);
    this.op = new Int32Array(size).fill(NIL);
    this.slot = new Int32Array(size).fill(NIL);
    this.match = new Int32Array(size).fill(NIL);
    this.time = new Float64Array(size);
    const completed: number[] = [];
    const unknown: number[] = [];
    let node = 2;
    for (const i of ids) {
      const o = ops[i] as Operation<unknown, unknown>;
      const call = node++;
      this.op[call] = i;
      this.time[call] = relativeNs(o.call, origin);
      if (o.status === 'ok') {
        const ret = node++;
        this.kind[call] = CALL;
        this.kind[ret] = RETURN;
        this.op[ret] = i;
        this.match[call] = ret;
        this.time[ret] = relativeNs(o.return, origin);
        this.slot[call] = this.slot[ret] = completed.length / 2;
        completed.push(call, ret);
      } else {
        this.kind[call] = UNKNOWN_CALL;
        unknown.push(call);
      }
    }
    this.completed = completed.length / 2;
    this.unknown = unknown.length;
    const byTime = (a: number, b: number) =>
      (this.time[a] as number) - (this.time[b] as number) ||
      (this.kind[a] === RETURN ? 1 : 0) - (this.kind[b] === RETURN ? 1 : 0) ||
      (this.op[a] as number) - (this.op[b] as number);
    this.chain(EntryList.COMPLETED, completed.sort(byTime));
    unknown.sort(byTime);
    unknown.forEach((n, k) => {
      this.slot[n] = k;
    });
    this.chain(EntryList.UNKNOWN, unknown);
  }

  /** clone is an independent copy of the list, for a second search over the same entries. */
  clone(): EntryList {
    const copy: EntryList = Object.create(EntryList.prototype);
    Object.assign(copy, this, { next: this.next.slice(), prev: this.prev.slice() });
    return copy;
  }

  /** first is the first entry of the list headed by `head`, or {@link NIL} if it is empty. */
  first(head: number): number {
    return this.next[head] as number;
  }

  /** lift removes the operation of call entry `call` (with its return entry, if any) from its list. */
  lift(call: number): void {
    this.unlink(call);
    if (this.kind[call] === CALL) this.unlink(this.match[call] as number);
  }

  /** unlift puts back what {@link lift}`(call)` removed; lifts must be undone in reverse order. */
  unlift(call: number): void {
    if (this.kind[call] === CALL) this.relink(this.match[call] as number);
    this.relink(call);
  }

  private chain(head: number, nodes: readonly number[]): void {
    let last = head;
    for (const n of nodes) {
      this.next[last] = n;
      this.prev[n] = last;
      last = n;
    }
    this.next[last] = NIL;
  }

  private unlink(n: number): void {
    const p = this.prev[n] as number;
    const x = this.next[n] as number;
    this.next[p] = x;
    if (x !== NIL) this.prev[x] = p;
  }

  private relink(n: number): void {
    const p = this.prev[n] as number;
    const x = this.next[n] as number;
    this.next[p] = n;
    if (x !== NIL) this.prev[x] = n;
  }
}
