import { EntryList, NIL } from './entries.js';
import { type Explanation, explain } from './explain.js';
import { type Model, outputOf, type Partition, partitionsOf } from './model.js';
import { type Operation, timeOrigin, validateOperation } from './operation.js';
import { Search, type SearchResult } from './search.js';
import { unknownClasses } from './symmetry.js';

/**
 * Verdict is the answer of a linearizability check: `ok` (linearizable),
 * `illegal` (not linearizable), or `unknown` (the time budget ran out).
 */
export type Verdict = 'ok' | 'illegal' | 'unknown';

/** CheckOptions bounds a check. */
export interface CheckOptions {
  /**
   * Wall-clock budget for the whole history in milliseconds (default: none).
   * Partitions not decided in time are `unknown`.
   */
  readonly timeoutMs?: number;
}

/** PartitionResult is the verdict on one partition (one key of a KV store). */
export interface PartitionResult {
  readonly key: string;
  /** Number of operations in the partition. */
  readonly ops: number;
  readonly result: Verdict;
  /** Search steps taken (candidates tried plus backtracks). */
  readonly steps: number;
  /** Wall milliseconds spent on the partition. */
  readonly ms: number;
}

/**
 * CheckResult is the verdict on a history: `illegal` if any partition is,
 * else `unknown` if any partition ran out of time, else `ok`.
 */
export interface CheckResult {
  readonly result: Verdict;
  /** One result per partition, in the model's partition order. */
  readonly partitions: readonly PartitionResult[];
  /** Why the first illegal partition is not linearizable; set exactly when `result` is `illegal`. */
  readonly explanation?: Explanation;
  /** Wall milliseconds spent on the whole check. */
  readonly ms: number;
}

/** PartitionOutcome is what the search reports for one partition (structured-clone friendly). */
export interface PartitionOutcome {
  readonly result: Verdict;
  /** For `illegal`: the longest linearizable prefix found, as indices into the partition's operations. */
  readonly longest?: readonly number[];
  readonly steps: number;
  readonly ms: number;
}

/** SLICE is how many steps each search takes per turn when two take turns. */
const SLICE = 1 << 16;

/**
 * checkPartition decides whether `ops` are linearizable with respect to
 * `model` by Wing and Gong's search with Lowe's memoisation, as Porcupine
 * does (see {@link Search}). Unknown-outcome reads are dropped first: they
 * constrain nothing.
 *
 * With unknown-outcome operations, two searches take turns, {@link SLICE}
 * steps at a time, and the first to decide wins: one allows only one such
 * operation at a time between completed ones, the other any number. Runs of them
 * (appends in a row, say) can be ordered in factorially many ways, and most
 * histories need none, so the first often settles in a fraction of the
 * steps; but when a history does need a run, it must exhaust its space
 * before giving up, while the second finds the run at once. Taking turns
 * costs at most twice the better of the two. Only the unrestricted search
 * can call a history illegal.
 *
 * Stops at `deadline` (a `Date.now()` time) with `unknown`. The records must
 * be valid ({@link validateOperation}); {@link checkHistory} checks that.
 */
export function checkPartition<State, Input, Output>(
  model: Model<State, Input, Output>,
  ops: readonly Operation<Input, Output>[],
  deadline = Number.POSITIVE_INFINITY,
): PartitionOutcome {
  const t0 = performance.now();
  const ids: number[] = [];
  for (let i = 0; i < ops.length; i++) {
    const op = ops[i] as Operation<Input, Output>;
    if (op.status === 'unknown' && model.readOnly?.(op.input)) continue;
    ids.push(i);
  }
  const list = new EntryList(ops, ids, timeOrigin(ops));
  const inputs = ops.map((op) => op.input);
  const p = {
    model,
    inputs,
    outputs: ops.map(outputOf),
    classes: unknownClasses(unknownInputs(list, inputs)),
  };
  const full = new Search(p, list, Number.POSITIVE_INFINITY);
  const all = list.unknown > 0 ? [new Search(p, list.clone(), 1), full] : [full];
  const searches = [...all];
  let result: SearchResult | undefined;
  while (result === undefined) {
    for (const s of [...searches]) {
      const r = s.advance(SLICE, deadline);
      if (r === undefined) continue;
      if (r.result === 'illegal' && s !== full) searches.splice(searches.indexOf(s), 1);
      else {
        result = r;
        break;
      }
    }
  }
  return {
    result: result.result,
    ...(result.result === 'illegal' ? { longest: result.longest ?? [] } : {}),
    steps: all.reduce((n, s) => n + s.steps, 0),
    ms: performance.now() - t0,
  };
}

/** unknownInputs lists the inputs of the unknown-outcome operations of `list` by slot. */
function unknownInputs(list: EntryList, inputs: readonly unknown[]): unknown[] {
  const out: unknown[] = new Array(list.unknown);
  for (let n = list.first(EntryList.UNKNOWN); n !== NIL; n = list.next[n] as number) {
    out[list.slot[n] as number] = inputs[list.op[n] as number];
  }
  return out;
}

/**
 * checkHistory checks a history against `model`: it validates the records,
 * splits them with `model.partition` and checks each partition with
 * {@link checkPartition} under one shared time budget. For an illegal
 * history it explains the first illegal partition.
 */
export function checkHistory<State, Input, Output>(
  model: Model<State, Input, Output>,
  ops: readonly Operation<Input, Output>[],
  options: CheckOptions = {},
): CheckResult {
  const t0 = performance.now();
  const deadline = deadlineOf(options);
  ops.forEach(validateOperation);
  const parts = partitionsOf(model, ops);
  const outcomes = parts.map((p) => checkPartition(model, p.ops, deadline));
  return summarise(model, ops, parts, outcomes, t0);
}

/** deadlineOf turns `options.timeoutMs` into a `Date.now()` deadline, validating it. */
export function deadlineOf(options: CheckOptions): number {
  const ms = options.timeoutMs;
  if (ms === undefined) return Number.POSITIVE_INFINITY;
  if (!(typeof ms === 'number' && ms > 0))
    throw new RangeError(`timeoutMs must be a positive number of milliseconds, got ${String(ms)}`);
  return Date.now() + ms;
}

/** summarise combines per-partition outcomes into a {@link CheckResult} (shared with the parallel checker). */
export function summarise<State, Input, Output>(
  model: Model<State, Input, Output>,
  ops: readonly Operation<Input, Output>[],
  parts: readonly Partition<Input, Output>[],
  outcomes: readonly PartitionOutcome[],
  t0: number,
): CheckResult {
  const partitions = parts.map((p, k): PartitionResult => {
    const o = outcomes[k] as PartitionOutcome;
    return { key: p.key, ops: p.ops.length, result: o.result, steps: o.steps, ms: o.ms };
  });
  const bad = outcomes.findIndex((o) => o.result === 'illegal');
  if (bad >= 0) {
    const part = parts[bad] as Partition<Input, Output>;
    const longest = (outcomes[bad] as PartitionOutcome).longest ?? [];
    const explanation = explain(model, part, longest, timeOrigin(ops));
    return { result: 'illegal', partitions, explanation, ms: performance.now() - t0 };
  }
  const result = outcomes.some((o) => o.result === 'unknown') ? 'unknown' : 'ok';
  return { result, partitions, ms: performance.now() - t0 };
}
