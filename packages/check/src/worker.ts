import { checkPartition, type PartitionOutcome } from './checker.js';
import { modelByName } from './models/registry.js';
import { type Operation, relativeNs, timeOrigin } from './operation.js';

/**
 * PackedPartition is a partition's operations in columns, for the trip to
 * a worker thread: structured cloning a few arrays is much cheaper than
 * cloning an object per operation, and the worker needs neither client ids
 * nor absolute times.
 */
export interface PackedPartition {
  readonly inputs: readonly unknown[];
  /** Outputs of completed operations (`undefined` for unknown ones). */
  readonly outputs: readonly unknown[];
  /** 1 for a completed operation, 0 for an unknown outcome. */
  readonly completed: Uint8Array;
  /** Call times, ns from the partition's first call. */
  readonly calls: Float64Array;
  /** Return times, ns from the partition's first call (unused for unknown outcomes). */
  readonly returns: Float64Array;
}

/** CheckTask is one piscina task: some partitions of a history, checked against a built-in model. */
export interface CheckTask {
  /** A name from {@link models}: functions do not cross threads, names do. */
  readonly model: string;
  readonly partitions: readonly PackedPartition[];
  /** When to give up, as a `Date.now()` time (shared by every thread). */
  readonly deadline: number;
}

/** pack puts a partition's operations into columns. */
export function pack(ops: readonly Operation<unknown, unknown>[]): PackedPartition {
  const origin = timeOrigin(ops);
  const n = ops.length;
  const p = {
    inputs: new Array<unknown>(n),
    outputs: new Array<unknown>(n),
    completed: new Uint8Array(n),
    calls: new Float64Array(n),
    returns: new Float64Array(n),
  };
  ops.forEach((op, i) => {
    p.inputs[i] = op.input;
    p.calls[i] = relativeNs(op.call, origin);
    if (op.status === 'ok') {
      p.outputs[i] = op.output;
      p.completed[i] = 1;
      p.returns[i] = relativeNs(op.return, origin);
    }
  });
  return p;
}

/** unpack turns columns back into operations (with client ids dropped). */
export function unpack(p: PackedPartition): Operation<unknown, unknown>[] {
  return p.inputs.map(
    (input, i): Operation<unknown, unknown> =>
      p.completed[i] === 1
        ? {
            status: 'ok',
            clientId: 0,
            input,
            output: p.outputs[i],
            call: p.calls[i] as number,
            return: p.returns[i] as number,
          }
        : { status: 'unknown', clientId: 0, input, call: p.calls[i] as number },
  );
}

/** runCheckTask checks a task's partitions one after another (the body of a worker task; usable in-process). */
export function runCheckTask(task: CheckTask): PartitionOutcome[] {
  const model = modelByName(task.model);
  return task.partitions.map((p) => checkPartition(model, unpack(p), task.deadline));
}

/** The piscina entry point: one {@link CheckTask} in, one outcome per partition out. */
export default function task(t: CheckTask): PartitionOutcome[] {
  return runCheckTask(t);
}
