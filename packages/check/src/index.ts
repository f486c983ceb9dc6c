export {
  type CheckOptions,
  type CheckResult,
  checkHistory,
  checkPartition,
  type PartitionOutcome,
  type PartitionResult,
  type Verdict,
} from './checker.js';
export { type Explanation, explain } from './explain.js';
export { History, type HistoryOptions, type OpId } from './history.js';
export {
  type AnyModel,
  type Model,
  type ModelInput,
  type ModelOutput,
  outputOf,
  type Partition,
  partitionsOf,
  type StepResult,
  UNKNOWN,
  type Unknown,
} from './model.js';
export {
  type KvBytes,
  type KvInput,
  type KvOutput,
  type KvState,
  kvModel,
  kvText,
} from './models/kv.js';
export {
  type RegisterInput,
  type RegisterOutput,
  type RegisterValue,
  registerModel,
} from './models/register.js';
export { type ModelName, modelByName, models } from './models/registry.js';
export type {
  ClientId,
  CompletedOperation,
  Operation,
  Time,
  UnknownOperation,
} from './operation.js';
export { timeOrigin, validateOperation } from './operation.js';
export {
  CheckerPool,
  type CheckerPoolOptions,
  checkHistoryParallel,
  type OperationOf,
  type ParallelCheckOptions,
} from './parallel.js';
export { explanationTimeline, renderTimeline, type TimelineOptions } from './timeline.js';
