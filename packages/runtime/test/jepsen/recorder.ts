// Records every KvClient call into an @xraft/check History, classifying each
// outcome by exactly what the KvClient's errors guarantee (kv/src/errors.ts,
// kv/src/client.ts), as Jepsen's :ok / :fail / :info.
import { History, type KvInput, type KvOutput, type Operation } from '@xraft/check';
import {
  ClosedError,
  type KvClient,
  NotLeaderError,
  RequestRejectedError,
  SessionExpiredError,
  TimeoutError,
} from '@xraft/kv';

/** Input is one KV operation of a test, with string keys and values (a {@link KvInput}). */
export type Input =
  | { readonly op: 'get'; readonly key: string }
  | { readonly op: 'put'; readonly key: string; readonly value: string }
  | { readonly op: 'append'; readonly key: string; readonly suffix: string }
  | {
      readonly op: 'cas';
      readonly key: string;
      readonly expected: string | undefined;
      readonly value: string;
    }
  | { readonly op: 'delete'; readonly key: string };

/** Output is what a call answered: a get's value (undefined when absent), a cas's or delete's flag. */
export type Output = string | boolean | undefined;

/**
 * Outcome is what a caller knows of a call, in Jepsen's terms: `ok` (it took
 * effect once, between call and return), `fail` (it surely did not take
 * effect) or `unknown` (it may take effect at any time after its call, or never).
 */
export type Outcome = 'ok' | 'fail' | 'unknown';

/** Result is one recorded call: its outcome, the output when ok, the error otherwise. */
export interface Result {
  readonly outcome: Outcome;
  readonly output?: Output;
  readonly error?: unknown;
}

/** AppendRecord is the fate of one append, found by its unique suffix. */
export interface AppendRecord {
  readonly client: string;
  readonly key: string;
  readonly suffix: string;
  /** Position among this client's appends (they are sequential per client). */
  readonly order: number;
  outcome: Outcome | 'pending';
}

/**
 * outcomeOf classifies an error of a KvClient call:
 * - a read (`get`) has no effect whatever happened, so any failure is `fail`;
 * - NotLeaderError is raised only for writes no attempt may have delivered
 *   (client.ts `exchangeFor` fails just the calls without `maybeSent`): `fail`;
 * - RequestRejectedError: the request never reached the log: `fail`;
 * - TimeoutError, ClosedError, SessionExpiredError say "may or may not have
 *   been applied": `unknown`;
 * - anything else is unexpected (`expected: false`), and `unknown` to be safe.
 */
export function outcomeOf(err: unknown, write: boolean): { outcome: 'fail' | 'unknown'; expected: boolean } {
  const expected =
    err instanceof NotLeaderError ||
    err instanceof RequestRejectedError ||
    err instanceof TimeoutError ||
    err instanceof ClosedError ||
    err instanceof SessionExpiredError;
  if (!write) return { outcome: 'fail', expected };
  if (err instanceof NotLeaderError || err instanceof RequestRejectedError)
    return { outcome: 'fail', expected };
  return { outcome: 'unknown', expected };
}

/**
 * Recorder runs KV calls on behalf of named clients and records each one in
 * a History (call and return times from `process.hrtime.bigint()`), with
 * per-outcome counts, error counts by name, and the fate of every append.
 */
export class Recorder {
  readonly history = new History<KvInput, KvOutput>();
  readonly counts: Record<Outcome, number> = { ok: 0, fail: 0, unknown: 0 };
  /** Errors seen, by error name. */
  readonly errors = new Map<string, number>();
  /** Errors no KvClient contract allows (a bug in the client or the cluster). */
  readonly unexpected: string[] = [];
  /** Every append, by its suffix (suffixes must be unique). */
  readonly appends = new Map<string, AppendRecord>();
  private readonly appendOrder = new Map<string, number>();

  /**
   * With `traceAppends` (the default) every append must carry a suffix never
   * appended before, and its fate is kept in {@link appends}.
   */
  constructor(private readonly traceAppends = true) {}

  /** call runs `input` through `kv` as client `client` and records it; it never rejects. */
  async call(client: string, kv: KvClient, input: Input): Promise<Result> {
    let append: AppendRecord | undefined;
    if (input.op === 'append' && this.traceAppends) {
      if (this.appends.has(input.suffix)) throw new Error(`append suffix ${input.suffix} is not unique`);
      const order = this.appendOrder.get(client) ?? 0;
      this.appendOrder.set(client, order + 1);
      append = { client, key: input.key, suffix: input.suffix, order, outcome: 'pending' };
      this.appends.set(input.suffix, append);
    }
    const id = this.history.invoke(client, input);
    let result: Result;
    try {
      const output = await perform(kv, input);
      this.history.ok(id, output);
      result = { outcome: 'ok', output };
    } catch (err) {
      const { outcome, expected } = outcomeOf(err, input.op !== 'get');
      const name = err instanceof Error ? err.name : typeof err;
      this.errors.set(name, (this.errors.get(name) ?? 0) + 1);
      if (!expected) this.unexpected.push(`${client} ${describe(input)}: ${String(err)}`);
      if (outcome === 'fail') this.history.fail(id);
      else this.history.info(id);
      result = { outcome, error: err };
    }
    this.counts[result.outcome]++;
    if (append !== undefined) append.outcome = result.outcome;
    return result;
  }

  /** operations is the history recorded so far (failed calls left out, pending ones unknown). */
  operations(): Operation<KvInput, KvOutput>[] {
    return this.history.operations();
  }

  /** total is the number of calls completed. */
  get total(): number {
    return this.counts.ok + this.counts.fail + this.counts.unknown;
  }

  /** summary is a one-line account: calls by outcome, then errors by name. */
  summary(): string {
    const errors = [...this.errors].map(([name, n]) => `${name} ${n}`).join(', ');
    return `${this.total} ops (ok ${this.counts.ok}, fail ${this.counts.fail}, unknown ${this.counts.unknown})${errors ? `; errors: ${errors}` : ''}`;
  }
}

/** perform makes the KvClient call `input` names and returns its output as the KV model states it. */
async function perform(kv: KvClient, input: Input): Promise<Output> {
  switch (input.op) {
    case 'get': {
      const v = await kv.get(input.key);
      if (v instanceof Uint8Array)
        throw new Error(`get(${input.key}) returned bytes; the tests write strings`);
      return v;
    }
    case 'put':
      await kv.put(input.key, input.value);
      return undefined;
    case 'append':
      await kv.append(input.key, input.suffix);
      return undefined;
    case 'cas':
      return kv.cas(input.key, input.expected, input.value);
    case 'delete':
      return kv.delete(input.key);
  }
}

/** describe renders an input for messages. */
export function describe(input: Input): string {
  switch (input.op) {
    case 'get':
    case 'delete':
      return `${input.op}(${input.key})`;
    case 'put':
      return `put(${input.key}, ${input.value})`;
    case 'append':
      return `append(${input.key}, ${input.suffix})`;
    case 'cas':
      return `cas(${input.key}, ${input.expected ?? 'absent'}, ${input.value})`;
  }
}
