import { CALL, type EntryList, NIL, RETURN, UNKNOWN_CALL } from './entries.js';
import { Memo, OpSet } from './memo.js';
import type { Model, Unknown } from './model.js';
import type { UnknownClasses } from './symmetry.js';

/** SearchResult is the outcome of a finished {@link Search}. */
export interface SearchResult {
  readonly result: 'ok' | 'illegal' | 'unknown';
  /** For `illegal`: the longest linearizable prefix, as operation indices. */
  readonly longest?: readonly number[];
}

/** SearchInput is a partition prepared for a {@link Search}. */
export interface SearchInput<State, Input, Output> {
  readonly model: Model<State, Input, Output>;
  readonly inputs: readonly Input[];
  /** Outputs by operation index, {@link UNKNOWN} for unknown outcomes. */
  readonly outputs: readonly (Output | Unknown)[];
  /** Classes of equal unknown-outcome operations, by slot. */
  readonly classes: UnknownClasses;
}

/**
 * Search is Wing and Gong's search (Wing & Gong 1993) with Lowe's
 * memoisation (Lowe 2017), as in Porcupine, run in slices so two searches
 * can take turns. A configuration is the operations linearized so far and
 * the model state. From one, walk the completed list from the front: at a
 * call entry, if the operation is legal in the state and the new
 * configuration is not known to fail, linearize it (lift it, start again
 * from the front). The first return entry bounds the walk: its operation
 * must precede anything called later. Then try the unknown-outcome
 * operations called by then. With none left, the configuration has failed:
 * record it in the {@link Memo} and backtrack. The history is linearizable
 * once every completed operation is linearized; unknown ones left over take
 * effect never.
 *
 * Unknown-outcome operations get three prunings Porcupine lacks, each sound
 * (a pruned branch's completions are all completions of a branch that is
 * searched): dominance in the memo, symmetry between equal inputs, and
 * skipping one that would leave the state as it is. `runCap` bounds how many
 * of them may be linearized in a row; with a finite cap, `illegal` only
 * means "not with runs that short".
 */
export class Search<State, Input, Output> {
  /** Search steps taken so far (candidates tried plus backtracks). */
  steps = 0;
  private readonly used: Int32Array; // per class, how many are linearized (always the earliest)
  private readonly completed: OpSet;
  private readonly unknown: OpSet;
  private readonly memo = new Memo();
  // The stack: each linearized call entry, with the state before it, the key
  // of the state after it, the walk's bound then, and the run of unknown
  // operations before it.
  private readonly stackNode: Int32Array;
  private readonly stackState: State[];
  private readonly stackKey: string[];
  private readonly stackBound: Float64Array;
  private readonly stackRun: Int32Array;
  private readonly initialKey: string;
  private depth = 0;
  private completedDepth = 0;
  private state: State;
  private stateKey: string;
  // Where the walk is: in the completed list, or past its first return entry
  // (at time `bound`) among the unknown-outcome calls; and how many unknown
  // operations were linearized in a row just before.
  private node: number;
  private amongUnknown = false;
  private bound = 0;
  private run = 0;
  private longest: number[] | undefined;
  private longestCompleted = -1;
  private longestDepth = 0;

  /** Prepares a search of `list`, which it then owns (lifting entries in and out). */
  constructor(
    private readonly p: SearchInput<State, Input, Output>,
    private readonly list: EntryList,
    readonly runCap: number,
  ) {
    const size = list.completed + list.unknown;
    this.used = new Int32Array(p.classes.count);
    this.completed = new OpSet(list.completed);
    this.unknown = new OpSet(list.unknown);
    this.stackNode = new Int32Array(size);
    this.stackState = new Array(size);
    this.stackKey = new Array(size);
    this.stackBound = new Float64Array(size);
    this.stackRun = new Int32Array(size);
    this.state = p.model.init();
    this.stateKey = p.model.key(this.state);
    this.initialKey = this.stateKey;
    this.node = list.first(list.completedHead);
  }

  /**
   * advance searches for about `budget` more steps and returns the result, or
   * undefined if undecided yet. Gives `unknown` once past `deadline` (a
   * `Date.now()` time).
   */
  advance(budget: number, deadline: number): SearchResult | undefined {
    const { model, inputs, outputs, classes } = this.p;
    const { list, used, completed, unknown, memo, runCap } = this;
    const { stackNode, stackState, stackKey, stackBound, stackRun } = this;
    const { next, kind, op: opOf, slot, time } = list;
    const completedHead = list.completedHead;
    let { depth, completedDepth, state, stateKey, node, amongUnknown, bound, run, steps } = this;
    const stop = steps + budget;
    const save = () => {
      Object.assign(this, { depth, completedDepth, state, stateKey, node, amongUnknown, bound, run, steps });
    };

    while (list.first(completedHead) !== NIL) {
      if ((++steps & 0x3ff) === 0) {
        if (Date.now() > deadline) {
          save();
          return { result: 'unknown' };
        }
        if (steps >= stop) {
          save();
          return undefined;
        }
      }
      if (!amongUnknown && kind[node] === RETURN) {
        // Nothing called after this return may precede its operation.
        bound = time[node] as number;
        amongUnknown = true;
        node = run < runCap ? list.first(list.unknownHead) : NIL;
        continue;
      }
      if (amongUnknown && (node === NIL || (time[node] as number) > bound)) {
        // Every candidate tried: this configuration fails. Explain with the
        // failed configuration that linearized the most completed
        // operations, and of those the fewest unknown ones.
        if (
          completedDepth > this.longestCompleted ||
          (completedDepth === this.longestCompleted && depth < this.longestDepth)
        ) {
          this.longestCompleted = completedDepth;
          this.longestDepth = depth;
          this.longest = Array.from(stackNode.subarray(0, depth), (n) => opOf[n] as number);
        }
        if (depth === 0) {
          save();
          return { result: 'illegal', longest: this.longest ?? [] };
        }
        // Under a run cap, a configuration inside a run may have failed for
        // want of room: only those at a run's start fail for good.
        if (run === 0 || runCap === Number.POSITIVE_INFINITY) memo.fail(completed, unknown, stateKey);
        depth--;
        node = stackNode[depth] as number;
        state = stackState[depth] as State;
        stateKey = depth > 0 ? (stackKey[depth - 1] as string) : this.initialKey;
        run = stackRun[depth] as number;
        if (kind[node] === CALL) {
          completed.delete(slot[node] as number);
          completedDepth--;
        } else {
          unknown.delete(slot[node] as number);
          const c = classes.classOf[slot[node] as number] as number;
          used[c] = (used[c] as number) - 1;
        }
        list.unlift(node);
        amongUnknown = kind[node] === UNKNOWN_CALL;
        bound = stackBound[depth] as number;
        node = next[node] as number;
        continue;
      }
      // A candidate: try to linearize its operation here (of equal unknown
      // operations, only the earliest left).
      if (amongUnknown) {
        const u = slot[node] as number;
        if (classes.rankOf[u] !== used[classes.classOf[u] as number]) {
          node = next[node] as number;
          continue;
        }
      }
      const i = opOf[node] as number;
      const r = model.step(state, inputs[i] as Input, outputs[i] as Output | Unknown);
      if (r.ok) {
        const set = kind[node] === CALL ? completed : unknown;
        set.add(slot[node] as number);
        const key = model.key(r.state);
        // An unknown operation that leaves the state as it was is no use
        // here: whatever could follow it can follow without it.
        const useless = set === unknown && key === stateKey;
        if (!useless && !memo.dominated(completed, unknown, key)) {
          stackNode[depth] = node;
          stackState[depth] = state;
          stackKey[depth] = key;
          stackBound[depth] = bound;
          stackRun[depth] = run;
          depth++;
          if (set === completed) {
            completedDepth++;
            run = 0;
          } else {
            const c = classes.classOf[slot[node] as number] as number;
            used[c] = (used[c] as number) + 1;
            run++;
          }
          state = r.state;
          stateKey = key;
          list.lift(node);
          node = list.first(completedHead);
          amongUnknown = false;
          continue;
        }
        set.delete(slot[node] as number);
      }
      node = next[node] as number;
    }
    save();
    return { result: 'ok' };
  }
}
