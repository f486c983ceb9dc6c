import {
  checkHistory,
  type KvInput,
  type KvOutput,
  kvModel,
  kvText,
  type Operation,
  type Verdict,
} from '@xraft/check';
import type { Value } from '@xraft/kv';
import type { KvCall } from './kv-workload.js';

/** FINAL_CLIENT is the client id of the final reads in a checked history. */
export const FINAL_CLIENT = 'final';

/** KvCheckSummary is what the linearizability check of one run found (its times are wall-clock). */
export interface KvCheckSummary {
  /** `ok`, `illegal`, or `unknown` when the check ran out of its time budget. */
  readonly verdict: Verdict;
  /** Operations checked: every call not surely failed, plus one final read per key. */
  readonly ops: number;
  /** Keys checked one by one (the KV model is partitioned per key). */
  readonly partitions: number;
  /** Search steps over every key. */
  readonly steps: number;
  /** Wall milliseconds the check took. */
  readonly ms: number;
}

/** KvFinding is one problem the checks of a run's history found. */
export interface KvFinding {
  readonly property: 'Linearizability' | 'Exactly Once';
  readonly message: string;
}

/** nanos turns virtual milliseconds into the checker's nanoseconds. */
function nanos(ms: number): number {
  return Math.round(ms * 1e6);
}

/**
 * historyOf turns the calls of a run into the checker's records, Jepsen
 * style: completed calls with their output and virtual call/return times;
 * calls whose outcome is unknown (or still pending) as unknown, concurrent
 * with everything after their call; calls surely not applied left out. Then
 * one read per key of its final value, taken at `at` when every call has
 * ended and the cluster is quiet.
 */
export function historyOf(
  calls: readonly KvCall[],
  finals: ReadonlyMap<string, Value | undefined>,
  at: number,
): Operation<KvInput, KvOutput>[] {
  const ops: Operation<KvInput, KvOutput>[] = [];
  for (const c of calls) {
    if (c.status === 'fail') continue;
    if (c.status === 'ok') {
      ops.push({
        status: 'ok',
        clientId: c.client,
        input: c.input,
        output: c.output,
        call: nanos(c.call),
        return: nanos(c.ret),
      });
    } else {
      ops.push({ status: 'unknown', clientId: c.client, input: c.input, call: nanos(c.call) });
    }
  }
  const t = nanos(at);
  for (const [key, value] of finals) {
    ops.push({
      status: 'ok',
      clientId: FINAL_CLIENT,
      input: { op: 'get', key },
      output: value,
      call: t,
      return: t,
    });
  }
  return ops;
}

/** How many problems of one kind a finding lists before summing up the rest. */
const MAX_LISTED = 8;

/**
 * checkExactlyOnce checks the appends of a run against the final values
 * (thesis §6.3: each command applied exactly once however often it is
 * retried). Every append writes a unique suffix `<client>.<n>;`, so a final
 * value splits into the writes that built it. In every key, no suffix may
 * appear twice, an append reported as surely not applied may not appear, and
 * a suffix must come from an append to that key; in an append-only key, every
 * acknowledged append must appear (exactly once), unknown ones at most once.
 * Returns the problems found, readable.
 */
export function checkExactlyOnce(
  calls: readonly KvCall[],
  finals: ReadonlyMap<string, Value | undefined>,
  appendKeys: ReadonlySet<string>,
): string[] {
  const appends = new Map<string, KvCall>();
  for (const c of calls) if (c.token !== null) appends.set(c.token, c);
  const problems: string[] = [];
  const who = (c: KvCall) => `append #${c.id} of ${c.client} (${c.status})`;
  for (const [key, value] of finals) {
    const counts = new Map<string, number>();
    for (const part of value === undefined ? [] : kvText(value).split(';')) {
      if (/^\d+\.\d+$/.test(part)) counts.set(part, (counts.get(part) ?? 0) + 1);
    }
    for (const [token, n] of counts) {
      const c = appends.get(token);
      if (c === undefined) problems.push(`key "${key}" holds "${token};", which no client appended`);
      else if (c.input.key !== key)
        problems.push(`key "${key}" holds "${token};" of ${who(c)} to key "${String(c.input.key)}"`);
      else if (n > 1) problems.push(`key "${key}" holds "${token};" of ${who(c)} ${n} times`);
      else if (c.status === 'fail')
        problems.push(`key "${key}" holds "${token};" of ${who(c)}, reported not applied: ${c.error}`);
    }
    if (!appendKeys.has(key)) continue;
    for (const c of calls) {
      if (c.token !== null && c.input.key === key && c.status === 'ok' && !counts.has(c.token)) {
        problems.push(
          `key "${key}" lacks "${c.token};" of ${who(c)}, acknowledged at ${c.ret.toFixed(3)} ms`,
        );
      }
    }
  }
  return problems;
}

/**
 * checkKv runs both checks on a run's history: exactly-once on the final
 * values, and linearizability of every call and the final reads against
 * `kvModel` (`@xraft/check`), within `timeoutMs` of wall time.
 */
export function checkKv(
  calls: readonly KvCall[],
  finals: ReadonlyMap<string, Value | undefined>,
  appendKeys: ReadonlySet<string>,
  at: number,
  timeoutMs: number,
): { summary: KvCheckSummary; findings: KvFinding[] } {
  const findings: KvFinding[] = [];
  const problems = checkExactlyOnce(calls, finals, appendKeys);
  if (problems.length > 0) {
    const more = problems.length > MAX_LISTED ? `\n  … and ${problems.length - MAX_LISTED} more` : '';
    findings.push({
      property: 'Exactly Once',
      message: `${problems.length} append(s) not applied exactly once:\n  ${problems.slice(0, MAX_LISTED).join('\n  ')}${more}`,
    });
  }
  const ops = historyOf(calls, finals, at);
  const r = checkHistory(kvModel, ops, { timeoutMs });
  if (r.result === 'illegal' && r.explanation) {
    const e = r.explanation;
    const part = r.partitions.find((p) => p.key === e.key);
    const first = calls[0]?.call ?? at;
    findings.push({
      property: 'Linearizability',
      message: `the history of key "${e.key}" (${part?.ops ?? '?'} operations; times in virtual ms from the first call, at ${(first / 1000).toFixed(6)}s) is not linearizable:\n${e.text}`,
    });
  }
  let steps = 0;
  for (const p of r.partitions) steps += p.steps;
  return {
    summary: { verdict: r.result, ops: ops.length, partitions: r.partitions.length, steps, ms: r.ms },
    findings,
  };
}
