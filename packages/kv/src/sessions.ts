import type { KvCommandResult } from './commands.js';

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
    readonly results = new Map<number, KvCommandResult>(),
  ) {}

  /** ack raises `ackedSeq` (requests may arrive out of order, so it only grows) and drops the results below it. */
  ack(ackedSeq: number): void {
    if (ackedSeq <= this.ackedSeq) return;
    this.ackedSeq = ackedSeq;
    for (const seq of this.results.keys()) if (seq < ackedSeq) this.results.delete(seq);
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
