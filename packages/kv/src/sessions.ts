import type { KvCommandResult } from './commands.js';

/**
 * SessionResults holds a session's stored results in ascending seq order.
 * A client has few requests unanswered at a time and acknowledges them
 * roughly in order, so this is a short sorted array that grows at the end and
 * is cut at the front: lookups scan a handful of entries, and nothing is
 * allocated per apply. (A `Map` that empties and refills on every request
 * makes V8 reallocate its table each time it shrinks to empty.)
 */
export class SessionResults {
  /** Invariant: strictly ascending `seq`. */
  private list: KvCommandResult[] = [];

  /** size is the number of stored results. */
  get size(): number {
    return this.list.length;
  }

  /** get returns the stored result of request `seq`, or undefined. */
  get(seq: number): KvCommandResult | undefined {
    const list = this.list;
    for (let i = list.length - 1; i >= 0; i--) {
      const r = list[i]!;
      if (r.seq === seq) return r;
      if (r.seq < seq) return undefined;
    }
    return undefined;
  }

  /** has tells whether a result for `seq` is stored. */
  has(seq: number): boolean {
    return this.get(seq) !== undefined;
  }

  /** set stores `result` under its seq, replacing a result of the same seq. */
  set(result: KvCommandResult): void {
    const list = this.list;
    let i = list.length;
    while (i > 0 && list[i - 1]!.seq > result.seq) i--;
    if (i > 0 && list[i - 1]!.seq === result.seq) list[i - 1] = result;
    else if (i === list.length) list.push(result);
    else list.splice(i, 0, result);
  }

  /** dropBelow discards the results of every seq below `seq`. */
  dropBelow(seq: number): void {
    const list = this.list;
    let k = 0;
    while (k < list.length && list[k]!.seq < seq) k++;
    if (k === 0) return;
    if (k === list.length) list.length = 0;
    else {
      list.copyWithin(0, k);
      list.length -= k;
    }
  }

  /** clear discards every result. */
  clear(): void {
    this.list.length = 0;
  }

  /** values yields the results in ascending seq order. */
  values(): IterableIterator<KvCommandResult> {
    return this.list.values();
  }
}

/**
 * Session is one client's record in the state machine (thesis §6.3): the
 * results of its requests the client may still retry, so a retry returns the
 * original result instead of applying again.
 */
export class Session {
  constructor(
    /** The log index of the client's `register` entry (thesis §6.3). */
    readonly clientId: number,
    /** Log index of the last entry of this client that was applied. */
    public lastActive: number,
    /**
     * The highest "lowest sequence number without a response" the client has
     * sent. It will never retry a request below it, so results below it are
     * discarded and a request below it is stale (never applied).
     * Invariant: no key of `results` is below `ackedSeq`.
     */
    public ackedSeq = 0,
    /** Results of applied requests at or above `ackedSeq`, by sequence number. */
    readonly results = new SessionResults(),
  ) {}

  /** ack raises `ackedSeq` (requests may arrive out of order, so it only grows) and drops the results below it. */
  ack(ackedSeq: number): void {
    if (ackedSeq <= this.ackedSeq) return;
    this.ackedSeq = ackedSeq;
    this.results.dropBelow(ackedSeq);
  }
}

/** SessionLimits bound the session table; every replica must use the same values. */
export interface SessionLimits {
  /** A session expires once more than this many log indexes pass with no entry of its client applied. */
  readonly sessionTimeoutEntries: number;
  /** At most this many sessions; opening one more evicts the least recently active. */
  readonly maxSessions: number;
}

/**
 * SessionTable holds every live session in order of last activity. Sessions
 * expire by rules every replica evaluates identically from the log, never from
 * a local clock (thesis §6.3): inactivity counted in log indexes, and a cap on
 * the number of sessions evicting the least recently active. An expired
 * session is gone for good: client ids are log indexes, never reused.
 */
export class SessionTable {
  /**
   * Live sessions, least recently active first (a touch re-inserts at the end).
   * Invariant: `lastActive` is non-decreasing in iteration order, so expiry only looks at the front.
   */
  private readonly sessions = new Map<number, Session>();

  constructor(readonly limits: SessionLimits) {
    for (const [name, v] of Object.entries(limits)) {
      if (!Number.isSafeInteger(v) || v < 1)
        throw new RangeError(`${name} must be a positive integer, got ${v}`);
    }
  }

  /** size is the number of live sessions. */
  get size(): number {
    return this.sessions.size;
  }

  /** get returns the live session of `clientId`, or undefined if it never existed or expired. */
  get(clientId: number): Session | undefined {
    return this.sessions.get(clientId);
  }

  /** expire drops, before applying the entry at `index`, every session inactive for more than the timeout. */
  expire(index: number): void {
    for (const s of this.sessions.values()) {
      if (index - s.lastActive <= this.limits.sessionTimeoutEntries) return;
      this.sessions.delete(s.clientId);
    }
  }

  /** open starts the session of the `register` entry at `index`, evicting the least recently active beyond the cap. */
  open(index: number): Session {
    const session = new Session(index, index);
    this.sessions.set(index, session);
    for (const s of this.sessions.values()) {
      if (this.sessions.size <= this.limits.maxSessions) break;
      this.sessions.delete(s.clientId);
    }
    return session;
  }

  /** touch records that an entry of `session`'s client was applied at `index`. */
  touch(session: Session, index: number): void {
    session.lastActive = index;
    this.sessions.delete(session.clientId);
    this.sessions.set(session.clientId, session);
  }

  /** values yields the sessions least recently active first (the order snapshots keep). */
  values(): IterableIterator<Session> {
    return this.sessions.values();
  }

  /**
   * load replaces the table with `sessions`, given least recently active first
   * (as {@link values} yields them). Throws a RangeError if they break the
   * table's invariants, leaving it empty.
   */
  load(sessions: Iterable<Session>): void {
    this.sessions.clear();
    let last = 0;
    for (const s of sessions) {
      const problem =
        s.lastActive < last
          ? `session ${s.clientId} is out of activity order`
          : this.sessions.has(s.clientId)
            ? `session ${s.clientId} appears twice`
            : s.lastActive < s.clientId
              ? `session ${s.clientId} was active before it was opened`
              : null;
      if (problem !== null) {
        this.sessions.clear();
        throw new RangeError(problem);
      }
      last = s.lastActive;
      this.sessions.set(s.clientId, s);
    }
  }
}
