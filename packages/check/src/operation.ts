/**
 * ClientId names the client (Jepsen's "process") that issued an operation.
 * The checker uses it only to explain and draw a history; real-time order
 * alone constrains linearizations.
 */
export type ClientId = string | number;

/**
 * Time is a monotonic timestamp in nanoseconds: `process.hrtime.bigint()` in
 * recorded histories, or plain numbers in hand-made ones. Only the order of
 * times matters to the checker; explanations show them in milliseconds
 * relative to the history's first call. Use one kind per history.
 */
export type Time = bigint | number;

/**
 * CompletedOperation is an operation whose response was seen: it took effect
 * exactly once, at some instant between `call` and `return`.
 */
export interface CompletedOperation<Input = unknown, Output = unknown> {
  readonly status: 'ok';
  readonly clientId: ClientId;
  readonly input: Input;
  /** The response; may be left out when it is `undefined` (a write's or a missing key's). */
  readonly output?: Output;
  readonly call: Time;
  /** When the response arrived; never before `call`. */
  readonly return: Time;
}

/**
 * UnknownOperation is an operation whose outcome is unknown (a timeout, a
 * crashed client, Jepsen's `:info`): it took effect at most once, at some
 * instant after `call`, or never. Its return time is +infinity and any
 * response is acceptable.
 */
export interface UnknownOperation<Input = unknown> {
  readonly status: 'unknown';
  readonly clientId: ClientId;
  readonly input: Input;
  readonly output?: undefined;
  readonly call: Time;
  readonly return?: undefined;
}

/**
 * Operation is one record of a concurrent history, as Porcupine's `Operation`
 * plus an outcome status. Records are plain structured-clone-friendly data: a
 * {@link History} produces them, and tests may write them by hand. Operations
 * that definitely did not take effect are simply left out.
 */
export type Operation<Input = unknown, Output = unknown> =
  | CompletedOperation<Input, Output>
  | UnknownOperation<Input>;

/** timeOrigin is the earliest call time of `ops` (0 for none): the zero of relative times. */
export function timeOrigin(ops: readonly Operation<unknown, unknown>[]): Time {
  let origin: Time | undefined;
  for (const op of ops) if (origin === undefined || op.call < origin) origin = op.call;
  return origin ?? 0;
}

/** relativeNs is `t - origin` in nanoseconds, as a number (exact for spans under about 104 days). */
export function relativeNs(t: Time, origin: Time): number {
  if (typeof t === 'bigint' && typeof origin === 'bigint') return Number(t - origin);
  return Number(t) - Number(origin);
}

/** formatMs renders a span in nanoseconds as milliseconds with three decimals. */
export function formatMs(ns: number): string {
  return `${(ns / 1e6).toFixed(3)} ms`;
}

/**
 * validateOperation throws a RangeError naming `index` unless `op` is a
 * well-formed record: a known status, finite times, and `call <= return` for
 * a completed operation.
 */
export function validateOperation(op: Operation<unknown, unknown>, index: number): void {
  const where = `operation ${index} (client ${String(op.clientId)})`;
  const status: unknown = op.status;
  if (status !== 'ok' && status !== 'unknown')
    throw new RangeError(
      `${where}: status must be 'ok' or 'unknown', got ${JSON.stringify(status)} (leave failed operations out)`,
    );
  if (!isTime(op.call)) throw new RangeError(`${where}: call must be a finite time, got ${String(op.call)}`);
  if (op.status === 'ok') {
    if (!isTime(op.return))
      throw new RangeError(`${where}: return must be a finite time, got ${String(op.return)}`);
    if (op.return < op.call)
      throw new RangeError(`${where}: returns (${op.return}) before its call (${op.call})`);
  }
}

function isTime(t: unknown): t is Time {
  return typeof t === 'bigint' || (typeof t === 'number' && Number.isFinite(t));
}
