// The checks run on a finished history: linearizability with @xraft/check,
// and the fate of every traced append in the final values.
import { writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import {
  type CheckResult,
  checkHistory,
  explanationTimeline,
  type KvInput,
  type KvOutput,
  kvModel,
  type Operation,
} from '@xraft/check';
import type { Cluster } from '../../src/index.js';
import type { AppendRecord, Recorder } from './recorder.js';

/** CheckSummary is what {@link checkLinearizable} measured. */
export interface CheckSummary {
  readonly ops: number;
  readonly keys: number;
  readonly ms: number;
  readonly steps: number;
}

/**
 * checkLinearizable checks `ops` against the KV model (per key, Porcupine
 * style) within `timeoutMs`. It throws when the history is not linearizable
 * (the explanation in the message, an SVG timeline of the failing key in the
 * temp dir), and also when the checker ran out of time: an undecided history
 * proves nothing, so the workload must stay small enough to decide.
 */
export function checkLinearizable(
  ops: readonly Operation<KvInput, KvOutput>[],
  label: string,
  timeoutMs = 30_000,
): CheckSummary {
  const r: CheckResult = checkHistory(kvModel, ops, { timeoutMs });
  const summary = {
    ops: ops.length,
    keys: r.partitions.length,
    ms: Math.round(r.ms),
    steps: r.partitions.reduce((n, p) => n + p.steps, 0),
  };
  if (r.result === 'illegal') {
    const e = r.explanation!;
    const file = join(tmpdir(), `xraft-${label.replace(/[^\w.-]+/g, '_')}-${Date.now()}.svg`);
    writeFileSync(file, explanationTimeline(e));
    throw new Error(
      `${label}: the history is NOT linearizable (key ${JSON.stringify(e.key)}):\n${e.text}\nTimeline of that key: ${file}`,
    );
  }
  if (r.result === 'unknown') {
    const undecided = r.partitions.filter((p) => p.result === 'unknown');
    throw new Error(
      `${label}: the linearizability checker did not decide within ${timeoutMs} ms (undecided: ${undecided
        .map((p) => `${p.key} with ${p.ops} ops`)
        .join(
          ', ',
        )}). An undecided history proves nothing: make the workload smaller (fewer ops per key, fewer unknown outcomes) or raise the budget.`,
    );
  }
  return summary;
}

/**
 * appendViolations checks the final value of each traced append key (read
 * linearizably once every client stopped) against what the clients were told:
 * every acknowledged append appears exactly once, and one client's
 * acknowledged appends appear in the order it made them (each waited for the
 * previous); an append with an unknown outcome appears at most once; an
 * append that failed (surely not applied) does not appear; nothing appears
 * that no client appended. Suffixes end with `,`. Returns the violations.
 */
export function appendViolations(
  recorder: Recorder,
  finals: ReadonlyMap<string, string | undefined>,
): string[] {
  const out: string[] = [];
  for (const [key, value] of finals) {
    const tokens = (value ?? '').split(',').slice(0, -1);
    if (value !== undefined && value !== '' && !value.endsWith(',')) {
      out.push(`${key}: final value does not end with a whole suffix: ${JSON.stringify(value.slice(-40))}`);
    }
    const seen = new Map<string, number>();
    const positions = new Map<string, Array<{ order: number; pos: number }>>();
    tokens.forEach((token, pos) => {
      const suffix = `${token},`;
      const rec: AppendRecord | undefined = recorder.appends.get(suffix);
      if (rec === undefined || rec.key !== key) {
        out.push(`${key}: ${JSON.stringify(suffix)} at position ${pos} was never appended to ${key}`);
        return;
      }
      seen.set(suffix, (seen.get(suffix) ?? 0) + 1);
      if (seen.get(suffix) === 2) out.push(`${key}: ${suffix} (${rec.outcome}) appears more than once`);
      if (rec.outcome === 'fail') {
        out.push(`${key}: ${suffix} failed (reported not applied) but was applied, at position ${pos}`);
      }
      if (rec.outcome === 'ok') {
        const list = positions.get(rec.client) ?? [];
        list.push({ order: rec.order, pos });
        positions.set(rec.client, list);
      }
    });
    for (const rec of recorder.appends.values()) {
      if (rec.key === key && rec.outcome === 'ok' && !seen.has(rec.suffix)) {
        out.push(`${key}: acknowledged append ${rec.suffix} is missing from the final value`);
      }
    }
    for (const [client, list] of positions) {
      for (let i = 1; i < list.length; i++) {
        const a = list[i - 1]!;
        const b = list[i]!;
        if (b.order < a.order) {
          out.push(
            `${key}: ${client}'s acknowledged appends are out of order at positions ${a.pos} and ${b.pos}`,
          );
        }
      }
    }
  }
  return out;
}

/**
 * watchApplies checks State Machine Safety (§5.4.3) on every apply: no two
 * nodes (or two incarnations of one) apply different commands at one index.
 * Returns the list it fills with violations.
 */
export function watchApplies(c: Cluster): string[] {
  const byIndex = new Map<number, string>();
  const errors: string[] = [];
  c.onApply((id, index, command) => {
    const text = Buffer.from(command.buffer, command.byteOffset, command.byteLength).toString('latin1');
    const prev = byIndex.get(index);
    if (prev === undefined) byIndex.set(index, text);
    else if (prev !== text && errors.length < 10)
      errors.push(`apply mismatch: ${id} applied another command at index ${index}`);
  });
  return errors;
}
