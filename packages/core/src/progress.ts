import { Inflights } from './inflights.js';
import type { Snapshot } from './snapshot.js';

/**
 * ProgressState is how a leader replicates to one follower:
 * `probe` sends one AppendEntries at a time until it finds where the logs
 * match; `replicate` streams entries optimistically, bounded by inflights;
 * `snapshot` sends the leader's snapshot in chunks, because the entries the
 * follower needs next are compacted away (§7).
 */
export type ProgressState = 'probe' | 'replicate' | 'snapshot';

/**
 * Progress is a leader's view of one follower (Figure 2 "volatile state on
 * leaders": nextIndex, matchIndex), with flow-control state.
 */
export class Progress {
  /** Highest index known to be replicated on the follower. Invariant: never decreases within a term. */
  matchIndex = 0;
  /** Index of the next entry to send. Invariant: matchIndex < nextIndex. */
  nextIndex: number;
  state: ProgressState = 'probe';
  /** In probe state: an AppendEntries is outstanding; wait for its answer or a heartbeat response. */
  probeSent = false;
  /** Heard from this follower since the last CheckQuorum round (§6.2). */
  recentActive = false;
  readonly inflights: Inflights;
  /** In snapshot state: the snapshot being sent, the next byte to send, and the bytes the follower holds. */
  snapshot: Snapshot | null = null;
  snapshotSent = 0;
  snapshotAcked = 0;
  /** `snapshotAcked` at the follower's previous heartbeat answer: no change since means a loss. */
  snapshotAckedAtBeat = -1;

  constructor(nextIndex: number, maxInflightMessages: number, maxInflightBytes: number) {
    this.nextIndex = nextIndex;
    this.inflights = new Inflights(maxInflightMessages, maxInflightBytes);
  }

  /** becomeProbe falls back to probing from just after matchIndex. */
  becomeProbe(): void {
    this.snapshot = null;
    this.state = 'probe';
    this.probeSent = false;
    this.nextIndex = this.matchIndex + 1;
    this.inflights.reset();
  }

  /** becomeReplicate starts streaming from just after matchIndex. */
  becomeReplicate(): void {
    this.snapshot = null;
    this.state = 'replicate';
    this.probeSent = false;
    this.nextIndex = this.matchIndex + 1;
    this.inflights.reset();
  }

  /** becomeSnapshot starts sending `snapshot`; appends pause until the follower has installed it. */
  becomeSnapshot(snapshot: Snapshot): void {
    this.state = 'snapshot';
    this.snapshot = snapshot;
    this.snapshotSent = 0;
    this.snapshotAcked = 0;
    this.snapshotAckedAtBeat = -1;
    this.probeSent = false;
    this.inflights.reset();
  }

  /** isPaused tells whether no AppendEntries with entries may be sent now. */
  isPaused(): boolean {
    if (this.state === 'snapshot') return true;
    return this.state === 'probe' ? this.probeSent : this.inflights.full();
  }

  /** sentEntries records an AppendEntries carrying entries up to `lastIndex`. */
  sentEntries(count: number, lastIndex: number, bytes: number): void {
    if (this.state === 'replicate') {
      if (count > 0) {
        this.nextIndex = lastIndex + 1;
        this.inflights.add(lastIndex, bytes);
      }
    } else {
      this.probeSent = true;
    }
  }

  /**
   * maybeUpdate records a successful AppendEntries up to `index`; returns
   * false when the acknowledgement is old news (a duplicate or reordered reply).
   */
  maybeUpdate(index: number): boolean {
    if (index <= this.matchIndex) return false;
    this.matchIndex = index;
    this.probeSent = false;
    if (this.nextIndex <= index) this.nextIndex = index + 1;
    return true;
  }

  /**
   * maybeDecrTo handles a rejection of the AppendEntries whose prevLogIndex was
   * `rejected`, moving nextIndex back to `probeFrom` + 1 at most. Returns false
   * when the rejection is stale (it answers a message this progress has moved past).
   */
  maybeDecrTo(rejected: number, probeFrom: number): boolean {
    if (this.state === 'snapshot') return false; // it answers an append from before the snapshot
    if (this.state === 'replicate') {
      if (rejected <= this.matchIndex) return false;
      this.nextIndex = this.matchIndex + 1;
      return true;
    }
    if (this.nextIndex - 1 !== rejected) return false;
    this.nextIndex = Math.max(Math.min(rejected, probeFrom + 1), this.matchIndex + 1);
    this.probeSent = false;
    return true;
  }
}
