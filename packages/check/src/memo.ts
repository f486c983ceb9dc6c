/**
 * OpSet is a set of operations (numbered densely from 0) as a bitset with an
 * incrementally maintained Zobrist hash, so hashing costs O(1) per step.
 */
export class OpSet {
  readonly words: Uint32Array;
  private lo = 0;
  private hi = 0;

  constructor(size: number) {
    this.words = new Uint32Array(Math.ceil(size / 32));
  }

  /** add adds operation `i` (which must be absent). */
  add(i: number): void {
    this.words[i >>> 5] = (this.words[i >>> 5] as number) | (1 << (i & 31));
    this.toggle(i);
  }

  /** delete removes operation `i` (which must be present). */
  delete(i: number): void {
    this.words[i >>> 5] = (this.words[i >>> 5] as number) & ~(1 << (i & 31));
    this.toggle(i);
  }

  /** hash is a 53-bit hash of the set, equal for equal sets. */
  hash(): number {
    return (this.hi & 0x1fffff) * 0x100000000 + (this.lo >>> 0);
  }

  private toggle(i: number): void {
    this.lo ^= mix(i, 0x9e3779b9);
    this.hi ^= mix(i, 0x85ebca6b);
  }
}

/** Failed configurations sharing a completed set and a state: their unknown sets, an antichain. */
interface Group {
  readonly completed: Uint32Array;
  readonly unknown: Uint32Array[];
}

/**
 * Memo is Lowe's memoisation cache (Lowe 2017, §4), as in Porcupine, over
 * configurations of the search: (completed operations linearized, unknown
 * operations linearized, model state). It holds configurations whose whole
 * subtree was explored without success.
 *
 * It also prunes by dominance over unknown-outcome operations: a
 * configuration is hopeless if a failed one had the same completed set and
 * state and a subset of its unknown operations. (Every completion of the
 * larger one also completes the smaller: the extra unknown operations may
 * just as well take effect never.) With no unknown operations this is
 * exactly Lowe's cache; with many it keeps their 2^u subsets from
 * multiplying the search.
 */
export class Memo {
  /** Failed configurations by hash of the completed set, then by state key. */
  private readonly buckets = new Map<number, Map<string, Group[]>>();
  private count = 0;

  /** size is the number of unknown sets cached (configurations, less those since dominated). */
  get size(): number {
    return this.count;
  }

  /** dominated tells whether a failed configuration dominates (`completed`, `unknown`, `state`). */
  dominated(completed: OpSet, unknown: OpSet, state: string): boolean {
    const group = this.group(completed, state, false);
    if (group === undefined) return false;
    for (const u of group.unknown) if (subset(u, unknown.words)) return true;
    return false;
  }

  /**
   * fail records that (`completed`, `unknown`, `state`) was explored without
   * success (and so was not dominated); failed sets it dominates are dropped.
   */
  fail(completed: OpSet, unknown: OpSet, state: string): void {
    const sets = (this.group(completed, state, true) as Group).unknown;
    const before = sets.length;
    let kept = 0;
    for (const u of sets) if (!subset(unknown.words, u)) sets[kept++] = u;
    sets.length = kept;
    sets.push(unknown.words.slice());
    this.count += sets.length - before;
  }

  private group(completed: OpSet, state: string, create: boolean): Group | undefined {
    const h = completed.hash();
    let byState = this.buckets.get(h);
    if (byState === undefined) {
      if (!create) return undefined;
      byState = new Map();
      this.buckets.set(h, byState);
    }
    let groups = byState.get(state);
    if (groups === undefined) {
      if (!create) return undefined;
      groups = [];
      byState.set(state, groups);
    }
    for (const g of groups) if (same(g.completed, completed.words)) return g;
    if (!create) return undefined;
    const g = { completed: completed.words.slice(), unknown: [] };
    groups.push(g);
    return g;
  }
}

function same(a: Uint32Array, b: Uint32Array): boolean {
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false;
  return true;
}

function subset(a: Uint32Array, b: Uint32Array): boolean {
  for (let i = 0; i < a.length; i++) if (((a[i] as number) & ~(b[i] as number)) !== 0) return false;
  return true;
}

/** mix is murmur3's 32-bit finaliser of `i` salted with `seed`: a Zobrist key per operation. */
function mix(i: number, seed: number): number {
  let h = (i + seed) | 0;
  h = Math.imul(h ^ (h >>> 16), 0x85ebca6b);
  h = Math.imul(h ^ (h >>> 13), 0xc2b2ae35);
  return h ^ (h >>> 16);
}
