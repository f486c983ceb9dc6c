import type { ClientId, Operation } from './operation.js';

/** OpId identifies an invoked operation within its {@link History}. */
export type OpId = number;

/** HistoryOptions configures a {@link History}. */
export interface HistoryOptions {
  /** The clock, in nanoseconds; default `process.hrtime.bigint`. Must never go backwards. */
  readonly now?: () => bigint;
}

type Outcome = 'pending' | 'ok' | 'fail' | 'unknown';

interface Slot<Input, Output> {
  readonly clientId: ClientId;
  readonly input: Input;
  readonly call: bigint;
  outcome: Outcome;
  output?: Output;
  ret?: bigint;
}

/**
 * History records a concurrent history as clients run operations against the
 * system under test, in the style of Jepsen and Porcupine: {@link invoke}
 * when a request is sent, then exactly one of {@link ok} (the response
 * arrived), {@link fail} (the operation definitely did not take effect) or
 * {@link info} (unknown outcome: it may take effect at any time, or never).
 * Times come from a monotonic nanosecond clock.
 */
export class History<Input = unknown, Output = unknown> {
  private readonly slots: Slot<Input, Output>[] = [];
  private readonly now: () => bigint;
  private open = 0;

  constructor(options: HistoryOptions = {}) {
    this.now = options.now ?? (() => process.hrtime.bigint());
  }

  /** invoke records that `clientId` sent `input` now, and returns the operation's id. */
  invoke(clientId: ClientId, input: Input): OpId {
    this.slots.push({ clientId, input, call: this.now(), outcome: 'pending' });
    this.open++;
    return this.slots.length - 1;
  }

  /** ok records that the response `output` of operation `id` arrived now. */
  ok(id: OpId, output?: Output): void {
    const slot = this.complete(id, 'ok');
    slot.ret = this.now();
    slot.output = output;
  }

  /** fail records that operation `id` definitely did not take effect: it is left out of the history. */
  fail(id: OpId): void {
    this.complete(id, 'fail');
  }

  /**
   * info records that the outcome of operation `id` is unknown (a timeout, a
   * lost connection): it stays concurrent with everything after its call.
   */
  info(id: OpId): void {
    this.complete(id, 'unknown');
  }

  /** pending is the number of operations invoked but not yet completed. */
  get pending(): number {
    return this.open;
  }

  /**
   * operations is the history so far as plain records in invocation order:
   * failed operations left out, pending ones reported as unknown.
   */
  operations(): Operation<Input, Output>[] {
    const out: Operation<Input, Output>[] = [];
    for (const s of this.slots) {
      if (s.outcome === 'fail') continue;
      if (s.outcome === 'ok') {
        out.push({
          status: 'ok',
          clientId: s.clientId,
          input: s.input,
          output: s.output as Output,
          call: s.call,
          return: s.ret as bigint,
        });
      } else {
        out.push({ status: 'unknown', clientId: s.clientId, input: s.input, call: s.call });
      }
    }
    return out;
  }

  private complete(id: OpId, outcome: Outcome): Slot<Input, Output> {
    const slot = Number.isInteger(id) ? this.slots[id] : undefined;
    if (slot === undefined)
      throw new RangeError(`no operation ${id} in this history (ids come from invoke())`);
    if (slot.outcome !== 'pending')
      throw new Error(
        `operation ${id} of client ${String(slot.clientId)} already completed as ${slot.outcome}`,
      );
    slot.outcome = outcome;
    this.open--;
    return slot;
  }
}
