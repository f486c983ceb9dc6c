import { existsSync } from 'node:fs';
import { availableParallelism } from 'node:os';
import { fileURLToPath } from 'node:url';
import { Piscina } from 'piscina';
import {
  type CheckOptions,
  type CheckResult,
  deadlineOf,
  type PartitionOutcome,
  summarise,
} from './checker.js';
import { type ModelInput, type ModelOutput, type Partition, partitionsOf } from './model.js';
import { type ModelName, modelByName, type models } from './models/registry.js';
import { type Operation, validateOperation } from './operation.js';
import { type CheckTask, pack } from './worker.js';

/** CheckerPoolOptions sizes a {@link CheckerPool}. */
export interface CheckerPoolOptions {
  /** Worker threads (default: `os.availableParallelism()`). */
  readonly threads?: number;
}

/** ParallelCheckOptions bounds a parallel check and sizes its thread pool. */
export interface ParallelCheckOptions extends CheckOptions, CheckerPoolOptions {}

/** OperationOf is the operation type of the built-in model `N`. */
export type OperationOf<N extends ModelName> = Operation<
  ModelInput<(typeof models)[N]>,
  ModelOutput<(typeof models)[N]>
>;

/**
 * CheckerPool checks histories on worker threads (piscina), partitions in
 * parallel, as Porcupine checks partitions in goroutines. Keep one for many
 * checks (its workers stay warm); {@link destroy} it when done. Workers run
 * built JavaScript: under vitest, `pnpm build` first.
 */
export class CheckerPool {
  /** Number of worker threads. */
  readonly threads: number;
  private readonly pool: Piscina<CheckTask, PartitionOutcome[]>;

  constructor(options: CheckerPoolOptions = {}) {
    this.threads = threadsOf(options);
    this.pool = new Piscina<CheckTask, PartitionOutcome[]>({
      filename: workerUrl().href,
      minThreads: this.threads,
      maxThreads: this.threads,
    });
  }

  /**
   * check is {@link checkHistory} with the model named (functions do not
   * cross threads) and the partitions spread over the workers: largest
   * first, small ones batched together, each shipped as columns.
   */
  async check<N extends ModelName>(
    modelName: N,
    ops: readonly OperationOf<N>[],
    options: CheckOptions = {},
  ): Promise<CheckResult> {
    const t0 = performance.now();
    const model = modelByName(modelName);
    const deadline = deadlineOf(options);
    ops.forEach(validateOperation);
    const parts = partitionsOf<unknown, unknown>(model, ops);
    const outcomes: PartitionOutcome[] = new Array(parts.length);
    await Promise.all(
      batch(parts, this.threads).map(async (ks) => {
        const task: CheckTask = {
          model: modelName,
          partitions: ks.map((k) => pack(parts[k]!.ops)),
          deadline,
        };
        const res = await this.pool.run(task);
        ks.forEach((k, j) => {
          outcomes[k] = res[j] as PartitionOutcome;
        });
      }),
    );
    return summarise<unknown, unknown, unknown>(model, ops, parts, outcomes, t0);
  }

  /** destroy stops the worker threads; the pool cannot be used afterwards. */
  async destroy(): Promise<void> {
    await this.pool.destroy();
  }
}

/**
 * checkHistoryParallel checks one history on a fresh {@link CheckerPool}
 * and destroys it before the promise settles, so no thread outlives the
 * call. Fresh workers start cold (unoptimised code): for many checks, keep
 * a `CheckerPool`.
 */
export async function checkHistoryParallel<N extends ModelName>(
  modelName: N,
  ops: readonly OperationOf<N>[],
  options: ParallelCheckOptions = {},
): Promise<CheckResult> {
  modelByName(modelName);
  deadlineOf(options);
  const pool = new CheckerPool(options);
  try {
    return await pool.check(modelName, ops, options);
  } finally {
    await pool.destroy();
  }
}

function threadsOf(options: CheckerPoolOptions): number {
  const threads = options.threads ?? availableParallelism();
  if (!(Number.isInteger(threads) && threads >= 1))
    throw new RangeError(`threads must be a positive integer, got ${String(threads)}`);
  return threads;
}

/**
 * batch groups partition indices into tasks: largest partitions first (so
 * the longest work starts first), small ones packed together until a task
 * holds about 1/(4 × threads) of all operations, to amortise messaging.
 */
function batch(parts: readonly Partition<unknown, unknown>[], threads: number): number[][] {
  const total = parts.reduce((n, p) => n + p.ops.length, 0);
  const target = Math.max(1, Math.ceil(total / (threads * 4)));
  const order = parts.map((_, k) => k).sort((a, b) => parts[b]!.ops.length - parts[a]!.ops.length || a - b);
  const out: number[][] = [];
  let cur: number[] = [];
  let size = 0;
  for (const k of order) {
    cur.push(k);
    size += parts[k]!.ops.length;
    if (size >= target) {
      out.push(cur);
      cur = [];
      size = 0;
    }
  }
  if (cur.length > 0) out.push(cur);
  return out;
}

/**
 * workerUrl locates the worker's entry: `worker.js` beside this module when
 * running from `dist/`, `../dist/worker.js` when this module runs from
 * `src/` (vitest): the worker always runs as built JavaScript (the approach
 * of `@xraft/runtime`'s node workers).
 */
function workerUrl(): URL {
  const here = import.meta.url;
  const url = here.endsWith('.ts') ? new URL('../dist/worker.js', here) : new URL('./worker.js', here);
  if (!existsSync(url)) {
    throw new Error(
      `the checker worker ${fileURLToPath(url)} does not exist: run \`pnpm build\` first (workers run built JavaScript, also under vitest)`,
    );
  }
  return url;
}
