import type { Role } from '@xraft/core';

/** ROLES numbers the roles for the shared status cell. */
const ROLES: readonly Role[] = ['follower', 'precandidate', 'candidate', 'leader'];

/** StatusFields is what a node worker publishes about itself after every turn of its Ready loop. */
export interface StatusFields {
  readonly role: Role;
  readonly term: number;
  /** Index of the leader in the cluster's id list, -1 when unknown. */
  readonly leader: number;
  readonly commitIndex: number;
  /** Highest index the worker's state machine has applied. */
  readonly lastApplied: number;
  readonly lastLogIndex: number;
}

const SEQ = 0;
/** Float64 slots after the 8-byte sequence header. */
const FIELDS = 6;

/**
 * StatusCell is one node's status in a SharedArrayBuffer: the worker writes,
 * the main thread reads, synchronously and without messages, so `c.state(id)`
 * is always as fresh as the worker's last turn. A seqlock keeps reads
 * consistent: the writer makes the sequence odd while it writes; a reader
 * retries until it sees the same even sequence before and after.
 * A fresh cell is made for every incarnation of a worker, so a worker killed
 * mid-write cannot leave its successor's cell odd.
 */
export class StatusCell {
  private readonly seq: Int32Array;
  private readonly fields: Float64Array;

  constructor(readonly buffer: SharedArrayBuffer) {
    this.seq = new Int32Array(buffer, 0, 2);
    this.fields = new Float64Array(buffer, 8, FIELDS);
  }

  /** create allocates the buffer of a new cell; it reads as null until first written. */
  static create(): StatusCell {
    return new StatusCell(new SharedArrayBuffer(8 + FIELDS * 8));
  }

  /** write publishes `s` (worker side). */
  write(s: StatusFields): void {
    Atomics.add(this.seq, SEQ, 1);
    const f = this.fields;
    f[0] = ROLES.indexOf(s.role);
    f[1] = s.term;
    f[2] = s.leader;
    f[3] = s.commitIndex;
    f[4] = s.lastApplied;
    f[5] = s.lastLogIndex;
    Atomics.add(this.seq, SEQ, 1);
  }

  /** read returns the last status written, or null if none was (main-thread side). */
  read(): StatusFields | null {
    for (let attempt = 0; attempt < 1000; attempt++) {
      const before = Atomics.load(this.seq, SEQ);
      if (before === 0) return null;
      if (before % 2 === 1) continue;
      const f = this.fields;
      const s: StatusFields = {
        role: ROLES[f[0]!] ?? 'follower',
        term: f[1]!,
        leader: f[2]!,
        commitIndex: f[3]!,
        lastApplied: f[4]!,
        lastLogIndex: f[5]!,
      };
      if (Atomics.load(this.seq, SEQ) === before) return s;
    }
    return null;
  }
}

/** CounterName names the slots of {@link Counters}. */
export type CounterName = 'rpcs' | 'bytes' | 'dropped' | 'batches' | 'malformed';
const SLOT: Readonly<Record<CounterName, number>> = {
  rpcs: 0,
  bytes: 1,
  dropped: 2,
  batches: 3,
  malformed: 4,
};

/**
 * Counters are one node's traffic counters in a SharedArrayBuffer, kept
 * across the node's restarts (the supervisor hands every incarnation the same
 * buffer). Only the node's current worker writes them; each slot is a single
 * aligned float64, read whole.
 */
export class Counters {
  private readonly slots: Float64Array;

  constructor(readonly buffer: SharedArrayBuffer) {
    this.slots = new Float64Array(buffer);
  }

  /** create allocates zeroed counters. */
  static create(): Counters {
    return new Counters(new SharedArrayBuffer(Object.keys(SLOT).length * 8));
  }

  /** add increases one counter. */
  add(name: CounterName, n: number): void {
    const i = SLOT[name];
    this.slots[i] = this.slots[i]! + n;
  }

  /** get reads one counter. */
  get(name: CounterName): number {
    return this.slots[SLOT[name]]!;
  }
}
