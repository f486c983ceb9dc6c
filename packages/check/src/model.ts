import type { Operation } from './operation.js';

/**
 * UNKNOWN stands for the output of an operation whose outcome is unknown. A
 * model must accept any output for it: {@link Model.step} returns `ok: true`
 * and the state as if the operation took effect at that point. (Whether it
 * takes effect at all is the checker's business.)
 */
export const UNKNOWN: unique symbol = Symbol('xraft.check.unknown-output');

/** Unknown is the type of {@link UNKNOWN}. */
export type Unknown = typeof UNKNOWN;

/** StepResult is the outcome of applying one operation to a state. */
export interface StepResult<State> {
  /** Whether the operation, with its observed output, is legal in the state. */
  readonly ok: boolean;
  /** The state after the operation when `ok` (the unchanged state otherwise). */
  readonly state: State;
}

/** Partition is a sub-history the checker may check on its own. */
export interface Partition<Input, Output> {
  /** Names the partition in results and explanations (e.g. the key of a KV store). */
  readonly key: string;
  readonly ops: readonly Operation<Input, Output>[];
}

/**
 * Model is a sequential specification, as Porcupine's `Model`: the checker
 * looks for an order of the operations, consistent with real time, in which
 * every operation is legal. Models must be deterministic and pure; states
 * are immutable values.
 */
export interface Model<State, Input, Output> {
  /** The model's name (what {@link checkHistoryParallel} looks it up by). */
  readonly name: string;
  /** init is the initial state. */
  init(): State;
  /**
   * step applies `input` with its observed `output` ({@link UNKNOWN} for an
   * unknown outcome, which must always be accepted) to `state`.
   */
  step(state: State, input: Input, output: Output | Unknown): StepResult<State>;
  /**
   * key is a string that is equal for two states exactly when they are equal:
   * the state half of Lowe's memoisation cache.
   */
  key(state: State): string;
  /**
   * partition splits a history into independent sub-histories, each checked
   * on its own (P-compositionality: Horn and Kroening 2015, as in Porcupine).
   * Only valid when the object is a product of independent objects, such as
   * a KV store per key. Default: one partition holding everything.
   */
  partition?(ops: readonly Operation<Input, Output>[]): Partition<Input, Output>[];
  /** describe renders one operation for explanations, e.g. `get("x") -> "1"`. */
  describe(input: Input, output: Output | Unknown): string;
  /** describeState renders a state for explanations (default: its {@link key}). */
  describeState?(state: State): string;
  /**
   * readOnly tells whether `input` never changes the state. An operation
   * that is read-only and of unknown outcome constrains nothing, so the
   * checker drops it before searching.
   */
  readOnly?(input: Input): boolean;
}

/** AnyModel is a model of any types (for registries and untyped callers). */
// biome-ignore lint/suspicious/noExplicitAny: a registry holds models of unrelated types
export type AnyModel = Model<any, any, any>;

/** ModelInput is the input type of a model. */
export type ModelInput<M> = M extends Model<unknown, infer I, unknown> ? I : never;

/** ModelOutput is the output type of a model. */
export type ModelOutput<M> = M extends Model<unknown, unknown, infer O> ? O : never;

/** outputOf is an operation's output as a model sees it: {@link UNKNOWN} for an unknown outcome. */
export function outputOf<Input, Output>(op: Operation<Input, Output>): Output | Unknown {
  return op.status === 'ok' ? (op.output as Output) : UNKNOWN;
}

/** partitionsOf applies `model.partition`, or makes one partition (key `''`) of the whole history. */
export function partitionsOf<Input, Output>(
  model: Model<unknown, Input, Output>,
  ops: readonly Operation<Input, Output>[],
): Partition<Input, Output>[] {
  if (model.partition) return model.partition(ops);
  return ops.length === 0 ? [] : [{ key: '', ops }];
}
