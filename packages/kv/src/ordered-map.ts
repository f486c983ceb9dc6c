/**
 * OrderedMap is a map from string keys kept in key order, for the KV store's
 * point reads and its sorted `list(prefix, limit)`.
 *
 * Values live in a hash map (O(1) `get`); the order lives in a sorted list
 * split into chunks of at most `2 * load` keys, indexed by each chunk's last
 * key (the layout of Python's sortedcontainers). An insert or delete is two
 * binary searches and a splice within one chunk: O(log n + load), with no
 * O(n) array moves however large the map grows. `range` finds its first key
 * by binary search and then walks the chunks in order.
 *
 * Keys compare by UTF-16 code units (JavaScript's `<`, `Array.prototype.sort`),
 * identically on every replica.
 */
export class OrderedMap<V> {
  private readonly values = new Map<string, V>();
  /**
   * The keys in order, in chunks.
   * Invariant: every chunk is non-empty and sorted; all keys of chunks[i] < all keys of chunks[i+1].
   */
  private chunks: string[][] = [];
  /** Invariant: maxes[i] === last key of chunks[i]. */
  private maxes: string[] = [];

  constructor(
    /** Target chunk size: chunks split above 2*load keys and merge with a neighbour below load/2. */
    private readonly load = 512,
  ) {
    if (!Number.isInteger(load) || load < 2)
      throw new RangeError(`OrderedMap load must be an integer >= 2, got ${load}`);
  }

  /** size is the number of keys. */
  get size(): number {
    return this.values.size;
  }

  /** get returns the value of `key`, or undefined. */
  get(key: string): V | undefined {
    return this.values.get(key);
  }

  /** has tells whether `key` is present. */
  has(key: string): boolean {
    return this.values.has(key);
  }

  /** set stores `value` under `key`. */
  set(key: string, value: V): void {
    if (!this.values.has(key)) this.insertKey(key);
    this.values.set(key, value);
  }

  /** delete removes `key`; returns whether it was present. */
  delete(key: string): boolean {
    if (!this.values.delete(key)) return false;
    this.removeKey(key);
    return true;
  }

  /** clear removes every key. */
  clear(): void {
    this.values.clear();
    this.chunks = [];
    this.maxes = [];
  }

  /**
   * range yields, in key order, the keys starting with `prefix` and their
   * values, at most `limit` of them (undefined: no limit).
   */
  *range(prefix: string, limit?: number): Generator<[string, V]> {
    let left = limit ?? Number.POSITIVE_INFINITY;
    if (left <= 0) return;
    let c = lowerBound(this.maxes, prefix);
    if (c === this.chunks.length) return;
    let i = lowerBound(this.chunks[c]!, prefix);
    for (; c < this.chunks.length; c++, i = 0) {
      const chunk = this.chunks[c]!;
      for (; i < chunk.length; i++) {
        const key = chunk[i]!;
        if (!key.startsWith(prefix)) return;
        yield [key, this.values.get(key)!];
        if (--left === 0) return;
      }
    }
  }

  /** entries yields every key and value in key order. */
  entries(): Generator<[string, V]> {
    return this.range('');
  }

  /**
   * loadSorted replaces the contents with `entries`, which must be in strictly
   * increasing key order (as a snapshot writes them): O(n), no sorting.
   * Throws a RangeError naming the first key out of order.
   */
  loadSorted(entries: Iterable<readonly [string, V]>): void {
    this.clear();
    let chunk: string[] = [];
    let prev: string | undefined;
    for (const [key, value] of entries) {
      if (prev !== undefined && !(prev < key)) {
        this.clear();
        throw new RangeError(`keys out of order: ${JSON.stringify(key)} after ${JSON.stringify(prev)}`);
      }
      prev = key;
      this.values.set(key, value);
      chunk.push(key);
      if (chunk.length === this.load) {
        this.chunks.push(chunk);
        this.maxes.push(key);
        chunk = [];
      }
    }
    if (chunk.length > 0) {
      this.chunks.push(chunk);
      this.maxes.push(chunk[chunk.length - 1]!);
    }
  }

  private insertKey(key: string): void {
    if (this.chunks.length === 0) {
      this.chunks.push([key]);
      this.maxes.push(key);
      return;
    }
    // The first chunk whose max is >= key; past the end means key is the new maximum: the last chunk.
    let c = lowerBound(this.maxes, key);
    if (c === this.chunks.length) {
      c--;
      this.maxes[c] = key;
    }
    const chunk = this.chunks[c]!;
    chunk.splice(lowerBound(chunk, key), 0, key);
    if (chunk.length > 2 * this.load) {
      const tail = chunk.splice(this.load);
      this.chunks.splice(c + 1, 0, tail);
      this.maxes.splice(c, 0, chunk[chunk.length - 1]!);
    }
  }

  private removeKey(key: string): void {
    const c = lowerBound(this.maxes, key);
    const chunk = this.chunks[c];
    const i = chunk === undefined ? -1 : lowerBound(chunk, key);
    if (chunk === undefined || chunk[i] !== key) {
      throw new Error(`OrderedMap: key ${JSON.stringify(key)} is in the map but not in its order index`);
    }
    chunk.splice(i, 1);
    if (chunk.length === 0) {
      this.chunks.splice(c, 1);
      this.maxes.splice(c, 1);
      return;
    }
    this.maxes[c] = chunk[chunk.length - 1]!;
    if (chunk.length < this.load / 2 && this.chunks.length > 1) this.merge(c);
  }

  /** merge joins the small chunk `c` with a neighbour, splitting again if the pair is too big. */
  private merge(c: number): void {
    const left = c > 0 ? c - 1 : c;
    const joined = this.chunks[left]!.concat(this.chunks[left + 1]!);
    if (joined.length > 2 * this.load) {
      const half = joined.length >>> 1;
      const a = joined.slice(0, half);
      const b = joined.slice(half);
      this.chunks.splice(left, 2, a, b);
      this.maxes.splice(left, 2, a[a.length - 1]!, b[b.length - 1]!);
    } else {
      this.chunks.splice(left, 2, joined);
      this.maxes.splice(left, 2, joined[joined.length - 1]!);
    }
  }
}

/** lowerBound is the first index of sorted `a` whose element is >= `key` (a.length if none). */
function lowerBound(a: readonly string[], key: string): number {
  let lo = 0;
  let hi = a.length;
  while (lo < hi) {
    const mid = (lo + hi) >>> 1;
    if (a[mid]! < key) lo = mid + 1;
    else hi = mid;
  }
  return lo;
}
