/**
 * Exactly-once for HTTP retries. A KvClient applies a write once however often
 * *it* retries (thesis §6.3: one session, one seq per call), but an HTTP client
 * that retries a request starts a new call with a new seq. So the HTTP layer
 * remembers, per request id, the answer it gave (or the call still under way)
 * and serves duplicates from memory instead of running them again.
 */

/** DEFAULT_DEDUP_CAPACITY is how many request ids {@link RequestDedup} remembers by default. */
export const DEFAULT_DEDUP_CAPACITY = 10_000;

/** DedupOutcome is what {@link RequestDedup.run} gives back. */
export type DedupOutcome<T> =
  /** `value` is the answer; `replayed` when it was the answer of an earlier request with the same id. */
  | { readonly kind: 'answer'; readonly value: T; readonly replayed: boolean }
  /** The id was used before for a different request (`previous` describes it); nothing ran. */
  | { readonly kind: 'conflict'; readonly previous: string };

interface Entry<T> {
  /** What the request was (method, path, body), so a reused id for another request is refused. */
  readonly fingerprint: string;
  readonly answer: Promise<T>;
  settled: boolean;
}

/**
 * RequestDedup is a bounded map from request id to the answer of the request
 * that first carried it, least recently used first out:
 * - a duplicate that arrives while the first is still running waits for, and
 *   gets, the same answer; so does one arriving later;
 * - answers `keep` refuses (a request surely not applied, e.g. no leader found)
 *   are forgotten once given, so a retry with the same id runs afresh;
 * - past `capacity` ids, the least recently used answered one is forgotten: a
 *   retry with that id afterwards runs again (and may apply twice). Requests
 *   still running are never evicted, so the map may briefly exceed `capacity`
 *   by the number of requests in flight.
 */
export class RequestDedup<T> {
  /** Invariant: iteration order is least recently used first. */
  private readonly entries = new Map<string, Entry<T>>();

  constructor(
    readonly capacity = DEFAULT_DEDUP_CAPACITY,
    private readonly keep: (answer: T) => boolean = () => true,
  ) {
    if (!(Number.isSafeInteger(capacity) && capacity > 0)) {
      throw new RangeError(`RequestDedup capacity must be a positive integer, got ${capacity}`);
    }
  }

  /** size is how many ids are remembered (answered or in flight). */
  get size(): number {
    return this.entries.size;
  }

  /**
   * run answers the request `id` describes by `fingerprint`: with the answer
   * already given (or under way) for `id`, or else by calling `execute`, which
   * should not reject (turn failures into answers); if it does, the id is
   * forgotten and every request waiting on it gets the rejection.
   */
  async run(id: string, fingerprint: string, execute: () => Promise<T>): Promise<DedupOutcome<T>> {
    const known = this.entries.get(id);
    if (known !== undefined) {
      if (known.fingerprint !== fingerprint) return { kind: 'conflict', previous: known.fingerprint };
      this.entries.delete(id);
      this.entries.set(id, known);
      return { kind: 'answer', value: await known.answer, replayed: true };
    }
    const entry: Entry<T> = { fingerprint, answer: execute(), settled: false };
    this.entries.set(id, entry);
    this.evict();
    let value: T;
    try {
      value = await entry.answer;
    } catch (err) {
      if (this.entries.get(id) === entry) this.entries.delete(id);
      throw err;
    }
    entry.settled = true;
    if (!this.keep(value) && this.entries.get(id) === entry) this.entries.delete(id);
    this.evict();
    return { kind: 'answer', value, replayed: false };
  }

  /** evict forgets the least recently used answered ids until at most `capacity` remain (or only running ones). */
  private evict(): void {
    if (this.entries.size <= this.capacity) return;
    for (const [id, entry] of this.entries) {
      if (this.entries.size <= this.capacity) return;
      if (entry.settled) this.entries.delete(id);
    }
  }
}
