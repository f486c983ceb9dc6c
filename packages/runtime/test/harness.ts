import { onTestFinished } from 'vitest';
import {
  Cluster,
  type ClusterOptions,
  type LogEntry,
  type NodeState,
  type SupervisorEvent,
} from '../src/index.js';

const encoder = new TextEncoder();
const decoder = new TextDecoder();

/** cmd encodes a test command. */
export function cmd(text: string): Uint8Array {
  return encoder.encode(text);
}

/** text decodes a test command. */
export function text(command: Uint8Array): string {
  return decoder.decode(command);
}

/**
 * Harness wraps a started cluster for a test: it stops it when the test ends
 * (pass or fail), records every apply and supervisor event and log line, and
 * checks on every apply that no two nodes apply different commands at the same
 * index and that each node applies in log order (State Machine Safety, §5.4.3).
 */
export class Harness {
  /** The command applied at each index, by whichever node applied it first. */
  readonly byIndex = new Map<number, string>();
  /** Commands each node applied, in order, since its last (re)start. */
  readonly applied = new Map<string, Array<{ index: number; text: string }>>();
  readonly violations: string[] = [];
  readonly events: SupervisorEvent[] = [];
  readonly logs: LogEntry[] = [];
  /** Nodes whose next apply may restart from a low index (their worker was replaced). */
  private readonly replaced = new Set<string>();

  constructor(readonly c: Cluster) {
    for (const id of c.ids) this.applied.set(id, []);
    c.onApply((id, index, command) => {
      const t = text(command);
      const prev = this.byIndex.get(index);
      if (prev === undefined) this.byIndex.set(index, t);
      else if (prev !== t) this.violations.push(`index ${index}: ${id} applied ${t}, another node ${prev}`);
      const list = this.applied.get(id)!;
      const last = list[list.length - 1];
      if (last !== undefined && index <= last.index) {
        if (this.replaced.has(id)) list.length = 0;
        else this.violations.push(`${id} applied ${index} after ${last.index} without a restart`);
      }
      this.replaced.delete(id);
      list.push({ index, text: t });
    });
    c.on('supervisor', (e) => {
      this.events.push(e);
      if (e.type === 'crashed') this.replaced.add(e.id);
    });
    c.on('log', (e) => this.logs.push(e));
  }

  /** start starts a cluster (memory storage unless told otherwise), stopped when the test ends. */
  static async start(options: ClusterOptions = {}): Promise<Harness> {
    const c = await Cluster.start({ storage: 'memory', log: () => {}, ...options });
    onTestFinished(() => c.stop());
    return new Harness(c);
  }

  /** willReplace tells the safety check that `id`'s worker is about to be replaced (crash/restart by the API). */
  willReplace(id: string): void {
    this.replaced.add(id);
  }

  /** texts is what `id` applied since its last (re)start. */
  texts(id: string): string[] {
    return this.applied.get(id)!.map((a) => a.text);
  }

  /** state is `c.state(id)`. */
  state(id: string): NodeState {
    return this.c.state(id);
  }

  /** submitToLeader submits until a node that believes it leads accepts; returns where the command went. */
  async submitToLeader(command: string, timeoutMs = 10_000): Promise<{ leader: string; index: number }> {
    const deadline = performance.now() + timeoutMs;
    for (;;) {
      const leader = await this.c.leader(Math.max(1, deadline - performance.now()));
      const r = await this.c.submit(leader, cmd(command));
      if (r.isLeader) return { leader, index: r.index };
      if (performance.now() > deadline)
        throw new Error(`no leader accepted ${command} within ${timeoutMs} ms`);
      await sleep(10);
    }
  }

  /**
   * replicate submits `command` to the leader until `nodes` have all applied it
   * (resubmitting if a leader change lost it), and returns its index.
   */
  async replicate(
    command: string,
    nodes: readonly string[] = this.c.ids,
    timeoutMs = 15_000,
  ): Promise<number> {
    const deadline = performance.now() + timeoutMs;
    for (;;) {
      const { index } = await this.submitToLeader(command, Math.max(1, deadline - performance.now()));
      const ok = await waitFor(
        () => nodes.every((id) => this.texts(id).includes(command)),
        Math.min(3_000, Math.max(1, deadline - performance.now())),
      ).then(
        () => true,
        () => false,
      );
      if (ok) return index;
      if (performance.now() > deadline) {
        throw new Error(
          `${command} (index ${index}) not applied on ${nodes.join(', ')} within ${timeoutMs} ms`,
        );
      }
    }
  }

  /** noViolations asserts the safety check found nothing. */
  assertSafe(): void {
    if (this.violations.length > 0) throw new Error(`safety violated:\n${this.violations.join('\n')}`);
  }
}

/** waitFor polls `cond` until it holds; rejects after `timeoutMs` with `what` in the message. */
export async function waitFor(cond: () => boolean, timeoutMs = 10_000, what = 'condition'): Promise<void> {
  const deadline = performance.now() + timeoutMs;
  while (!cond()) {
    if (performance.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await sleep(5);
  }
}

/** waitForEvent resolves with the first supervisor event (past or future) matching `pred`. */
export async function waitForEvent(
  h: Harness,
  pred: (e: SupervisorEvent) => boolean,
  timeoutMs = 10_000,
): Promise<SupervisorEvent> {
  await waitFor(() => h.events.some(pred), timeoutMs, 'a supervisor event');
  return h.events.find(pred)!;
}

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}
