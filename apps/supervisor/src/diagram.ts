import { mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { instance } from '@viz-js/viz';
import { raftMachine, statechartToDot, statechartToMermaid } from '@xraft/core';
import type { Cluster } from '@xraft/runtime';
import type { AnyStateNode, StateValue } from 'xstate';

/** DiagramFormat is an output format of `xraft diagram`. */
export type DiagramFormat = 'svg' | 'dot' | 'mermaid';

/**
 * renderStatechart draws the Raft role statechart, offline: Mermaid text, a
 * Graphviz digraph, or SVG rendered from it by Graphviz compiled to
 * WebAssembly (@viz-js/viz). `highlight` marks a node's current state.
 */
export async function renderStatechart(format: DiagramFormat, highlight?: StateValue): Promise<string> {
  const options = highlight === undefined ? {} : { highlight };
  if (format === 'mermaid') return statechartToMermaid(raftMachine, options);
  const dot = statechartToDot(raftMachine, options);
  if (format === 'dot') return dot;
  const viz = await instance();
  return viz.renderString(dot, { format: 'svg' });
}

/** parseStateValue reads a state value given on the command line: `leader` or JSON like `{"follower":"leaderRecent"}`. */
export function parseStateValue(text: string): StateValue {
  const trimmed = text.trim();
  let value: StateValue;
  if (!trimmed.startsWith('{')) value = trimmed;
  else {
    try {
      value = JSON.parse(trimmed) as StateValue;
    } catch (err) {
      throw new Error(`--state: not a state name or JSON state value: ${(err as Error).message}`);
    }
  }
  checkStateValue(raftMachine.root, value, '');
  return value;
}

/** checkStateValue rejects a state value naming states the machine does not have. */
function checkStateValue(node: AnyStateNode, value: StateValue, path: string): void {
  const entries = typeof value === 'string' ? [[value, undefined] as const] : Object.entries(value);
  for (const [key, sub] of entries) {
    const child = node.states[key] as AnyStateNode | undefined;
    if (child === undefined) {
      const known = Object.keys(node.states).join(', ');
      throw new Error(`--state: no state "${path}${key}" (states here: ${known})`);
    }
    if (sub !== undefined) checkStateValue(child, sub as StateValue, `${path}${key}.`);
  }
}

/** diagram is `xraft diagram`: writes the statechart to `out` (a file) or stdout. */
export async function diagram(opts: {
  format: DiagramFormat;
  state?: string;
  out?: string;
}): Promise<number> {
  const text = await renderStatechart(
    opts.format,
    opts.state === undefined ? undefined : parseStateValue(opts.state),
  );
  if (opts.out === undefined) process.stdout.write(text);
  else {
    await writeFile(opts.out, text);
    console.error(`wrote ${opts.out} (${opts.format}, ${text.length.toLocaleString('en')} bytes)`);
  }
  return 0;
}

/**
 * NodeDiagrams keeps, for each live node of a running cluster, its statechart
 * drawn in `<dir>/<id>.svg` and `<dir>/<id>.mmd` with the node's current state
 * highlighted; {@link update} redraws the nodes whose state changed.
 */
export class NodeDiagrams {
  private readonly drawn = new Map<string, string>();
  private running: Promise<void> | null = null;

  constructor(
    private readonly cluster: Pick<Cluster, 'ids' | 'state' | 'status'>,
    readonly dir: string,
  ) {}

  /** update redraws every live node whose state value changed since it was last drawn; one update at a time. */
  update(): Promise<void> {
    this.running ??= this.redraw().finally(() => {
      this.running = null;
    });
    return this.running;
  }

  private async redraw(): Promise<void> {
    await mkdir(this.dir, { recursive: true });
    for (const id of this.cluster.ids) {
      if (!this.cluster.state(id).alive) continue;
      let value: StateValue;
      try {
        value = (await this.cluster.status(id)).stateValue as StateValue;
      } catch {
        continue; // it died or paused meanwhile: drawn next time
      }
      const key = JSON.stringify(value);
      if (this.drawn.get(id) === key) continue;
      const [svg, mermaid] = await Promise.all([
        renderStatechart('svg', value),
        renderStatechart('mermaid', value),
      ]);
      await writeFile(join(this.dir, `${id}.svg`), svg);
      await writeFile(join(this.dir, `${id}.mmd`), mermaid);
      this.drawn.set(id, key);
    }
  }
}
