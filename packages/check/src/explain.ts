import { type Model, outputOf, type Partition } from './model.js';
import { type CompletedOperation, formatMs, type Operation, relativeNs, type Time } from './operation.js';

/**
 * Explanation says why a partition is not linearizable, in the style of
 * Porcupine's partial linearizations: the longest linearizable prefix the
 * search found, and the operations that could come next in real-time order
 * yet are illegal after it.
 */
export interface Explanation {
  /** The partition's key (`''` for an unpartitioned model). */
  readonly key: string;
  /** The partition's operations; the indices below point into this array. */
  readonly ops: readonly Operation<unknown, unknown>[];
  /** The longest linearizable prefix found, in linearization order. */
  readonly prefix: readonly number[];
  /**
   * The completed operations that could come next in real-time order, yet
   * are each illegal after the prefix.
   */
  readonly stuck: readonly number[];
  /** The model's description of each operation (`describe`), for {@link renderTimeline}. */
  readonly labels: readonly string[];
  /** The zero of the relative times shown: the history's first call. */
  readonly origin: Time;
  /** The explanation as text lines (see {@link text}). */
  readonly lines: readonly string[];
  /** The lines joined: something to print in a test failure. */
  readonly text: string;
}

/** How many prefix operations an explanation lists (the last ones: those nearest the failure). */
const PREFIX_LINES = 12;

/**
 * explain builds the {@link Explanation} of an illegal partition from the
 * longest prefix its search found (indices into `part.ops`). Times are shown
 * in milliseconds relative to `origin`.
 */
export function explain<State, Input, Output>(
  model: Model<State, Input, Output>,
  part: Partition<Input, Output>,
  longest: readonly number[],
  origin: Time,
): Explanation {
  const ops = part.ops;
  const labels = ops.map((op) => model.describe(op.input, outputOf(op)));
  const showState = (s: State) => (model.describeState ? model.describeState(s) : model.key(s));
  const clientWidth = ops.reduce((w, op) => Math.max(w, String(op.clientId).length), 0);
  const labelWidth = Math.min(
    48,
    labels.reduce((w, l) => Math.max(w, l.length), 0),
  );
  const row = (i: number) => {
    const op = ops[i] as Operation<Input, Output>;
    const call = formatMs(relativeNs(op.call, origin));
    const ret = op.status === 'ok' ? formatMs(relativeNs(op.return, origin)) : '? (unknown outcome)';
    return `client ${String(op.clientId).padEnd(clientWidth)}  ${(labels[i] as string).padEnd(labelWidth)}  ${call} .. ${ret}`;
  };

  let state = model.init();
  for (const i of longest) {
    const op = ops[i] as Operation<Input, Output>;
    state = model.step(state, op.input, outputOf(op)).state;
  }
  // The completed operations left, and those real-time order lets come next:
  // called no later than the earliest return among them (calls sort before
  // returns at equal times). Unknown-outcome operations never have to come
  // next, so they are only counted.
  const done = new Set(longest);
  const remaining: number[] = [];
  ops.forEach((op, i) => {
    if (!done.has(i) && op.status === 'ok') remaining.push(i);
  });
  let firstReturn = Number.POSITIVE_INFINITY;
  let blocker = -1;
  for (const i of remaining) {
    const ret = relativeNs((ops[i] as CompletedOperation<Input, Output>).return, origin);
    if (ret < firstReturn) [firstReturn, blocker] = [ret, i];
  }
  const callOf = (i: number) => relativeNs((ops[i] as Operation<Input, Output>).call, origin);
  const stuck = remaining
    .filter((i) => callOf(i) <= firstReturn)
    .sort((a, b) => callOf(a) - callOf(b) || a - b);
  const optional = ops.filter(
    (op, i) =>
      op.status === 'unknown' && !done.has(i) && !model.readOnly?.(op.input) && callOf(i) <= firstReturn,
  ).length;

  const where = part.key === '' ? '' : ` on key ${JSON.stringify(part.key)}`;
  const lines = [
    `not linearizable${where}: ${ops.length} operations; the longest linearizable prefix has ${longest.length}`,
  ];
  if (longest.length > PREFIX_LINES) lines.push(`  ... ${longest.length - PREFIX_LINES} earlier operations`);
  for (let k = Math.max(0, longest.length - PREFIX_LINES); k < longest.length; k++) {
    lines.push(`  ${String(k + 1).padStart(4)}. ${row(longest[k] as number)}`);
  }
  lines.push(`  state after the prefix: ${showState(state)}`);
  lines.push('none of these can be linearized next:');
  for (const i of stuck) {
    const op = ops[i] as Operation<Input, Output>;
    const r = model.step(state, op.input, outputOf(op));
    const why = r.ok
      ? `legal (state would be ${showState(r.state)}) but nothing can follow it`
      : `illegal in state ${showState(state)}`;
    lines.push(`        ${row(i)}  <- ${why}`);
  }
  if (optional > 0) {
    lines.push(`  (${plural(optional, 'operation')} of unknown outcome may also take effect here, or never)`);
  }
  if (remaining.length > stuck.length && blocker >= 0) {
    const op = ops[blocker] as Operation<Input, Output>;
    lines.push(
      `  (${plural(remaining.length - stuck.length, 'more operation')}, called after client ${String(op.clientId)}'s ` +
        `${labels[blocker]} returned at ${formatMs(firstReturn)}, must come later)`,
    );
  }
  return {
    key: part.key,
    ops,
    prefix: [...longest],
    stuck,
    labels,
    origin,
    lines,
    text: lines.join('\n'),
  };
}

function plural(n: number, noun: string): string {
  return `${n} ${noun}${n === 1 ? '' : 's'}`;
}
