import type { AnyStateMachine, AnyStateNode, StateValue } from 'xstate';

/** DiagramOptions tunes {@link statechartToMermaid} and {@link statechartToDot}. */
export interface DiagramOptions {
  /** A state value (e.g. a node's current state) to highlight. */
  readonly highlight?: StateValue;
  /** List the events each state handles without changing state (default true). */
  readonly handlers?: boolean;
}

interface TransitionLike {
  readonly eventType: string;
  readonly guard?: unknown;
  readonly target?: readonly AnyStateNode[];
  readonly actions: readonly unknown[];
}

const ROOT_SOURCE = 'any_role';

/**
 * statechartToMermaid draws a machine as a Mermaid `stateDiagram-v2`, read
 * from the machine definition itself, so the picture cannot drift from the
 * code. Transitions declared on the root (rules shared by every role) are
 * drawn from an "any role" pseudo-state.
 */
export function statechartToMermaid(machine: AnyStateMachine, options: DiagramOptions = {}): string {
  const handlers = options.handlers ?? true;
  const lines: string[] = ['stateDiagram-v2'];
  const root = machine.root;
  const active = options.highlight === undefined ? new Set<string>() : activeIds(root, options.highlight);

  // Every edge is drawn inside the lowest composite holding both ends, between
  // that composite's children: Mermaid cannot draw into another composite.
  // Per container, per edge, per event: the guards of the transitions it stands for.
  const edges = new Map<string, Map<string, Map<string, string[]>>>();
  const addEdge = (container: AnyStateNode, from: string, to: string, event: string, guard: string) => {
    const perContainer = edges.get(nodeId(container)) ?? new Map<string, Map<string, string[]>>();
    const key = `${from} --> ${to}`;
    const perEdge = perContainer.get(key) ?? new Map<string, string[]>();
    const guards = perEdge.get(event) ?? [];
    if (!guards.includes(guard)) guards.push(guard);
    perEdge.set(event, guards);
    perContainer.set(key, perEdge);
    edges.set(nodeId(container), perContainer);
  };
  const visit = (source: AnyStateNode): void => {
    for (const t of ownTransitions(source)) {
      for (const target of t.target ?? []) {
        const lca = commonAncestor(source, target);
        const from = source === lca ? undefined : childOn(lca, source);
        const to = childOn(lca, target);
        let event = eventName(t);
        if (from !== undefined && from !== source)
          event = `${source.path.slice(from.path.length).join('.')}: ${event}`;
        if (to !== target) event = `${event} → ${target.key}`;
        addEdge(lca, from === undefined ? ROOT_SOURCE : nodeId(from), nodeId(to), event, guardName(t.guard));
      }
    }
    for (const child of Object.values(source.states) as AnyStateNode[]) visit(child);
  };
  visit(root);

  const emitEdges = (container: AnyStateNode, indent: string): void => {
    for (const [key, perEdge] of edges.get(nodeId(container)) ?? []) {
      const texts = [...perEdge].map(([event, guards]) => withGuards(event, guards));
      lines.push(`${indent}${key} : ${texts.join('<br/>')}`);
    }
  };

  const emitState = (node: AnyStateNode, indent: string): void => {
    const id = nodeId(node);
    const children = Object.values(node.states) as AnyStateNode[];
    lines.push(`${indent}state "${node.key}" as ${id}`);
    if (children.length > 0) {
      lines.push(`${indent}state ${id} {`);
      const inner = `${indent}  `;
      if (node.type === 'parallel') {
        children.forEach((child, i) => {
          if (i > 0) lines.push(`${inner}--`);
          emitState(child, inner);
        });
      } else {
        const initial = node.initial?.target?.[0] as AnyStateNode | undefined;
        if (initial) lines.push(`${inner}[*] --> ${nodeId(initial)}`);
        for (const child of children) emitState(child, inner);
      }
      emitEdges(node, inner);
      lines.push(`${indent}}`);
    }
    if (handlers) {
      const handled = ownTransitions(node)
        .filter((t) => t.target === undefined || t.target.length === 0)
        .map((t) => {
          const acts = actionNames(t.actions);
          return `${label(t)}${acts ? ` / ${acts}` : ''}`;
        });
      // Mermaid gives composite states no description rows: their handlers go in a note.
      if (children.length === 0) for (const h of handled) lines.push(`${indent}${id} : ${h}`);
      else if (handled.length > 0) {
        lines.push(
          `${indent}note right of ${id}`,
          ...handled.map((h) => `${indent}  ${h}`),
          `${indent}end note`,
        );
      }
    }
  };

  lines.push(`  [*] --> ${nodeId(root.initial!.target![0] as AnyStateNode)}`);
  for (const child of Object.values(root.states) as AnyStateNode[]) emitState(child, '  ');
  if (ownTransitions(root).some((t) => (t.target?.length ?? 0) > 0)) {
    lines.push(`  state "any role" as ${ROOT_SOURCE}`);
    lines.push(`  classDef shared stroke-dasharray: 5 5`);
    lines.push(`  class ${ROOT_SOURCE} shared`);
  }
  emitEdges(root, '  ');
  if (active.size > 0) {
    lines.push('  classDef active fill:#f9a825,stroke:#e65100,color:#000');
    lines.push(`  class ${[...active].join(',')} active`);
  }
  return `${lines.join('\n')}\n`;
}

/**
 * statechartToDot draws a machine as a Graphviz digraph (composite states as
 * clusters, parallel regions dashed), read from the machine definition. Any
 * Graphviz renderer turns it into SVG offline, e.g. `@viz-js/viz` (WebAssembly).
 */
export function statechartToDot(machine: AnyStateMachine, options: DiagramOptions = {}): string {
  const handlers = options.handlers ?? true;
  const root = machine.root;
  const active = options.highlight === undefined ? new Set<string>() : activeIds(root, options.highlight);
  const q = (text: string) => JSON.stringify(text);
  const composite = (n: AnyStateNode) => Object.keys(n.states).length > 0;
  const anchor = (n: AnyStateNode) => (composite(n) ? `${nodeId(n)}__anchor` : nodeId(n));
  const handled = (n: AnyStateNode) =>
    handlers
      ? ownTransitions(n)
          .filter((t) => t.target === undefined || t.target.length === 0)
          .map((t) => {
            const acts = actionNames(t.actions);
            return `${label(t)}${acts ? ` / ${acts}` : ''}`;
          })
      : [];
  const out: string[] = [
    'digraph statechart {',
    '  compound=true; rankdir=TB; newrank=true; fontname="Helvetica"; fontsize=12;',
    '  node [shape=box, style="rounded,filled", fillcolor="#eef2ff", color="#6366f1", fontname="Helvetica", fontsize=11];',
    '  edge [fontname="Helvetica", fontsize=9, color="#555555"];',
  ];
  const emit = (n: AnyStateNode, indent: string): void => {
    const id = nodeId(n);
    const on = active.has(id);
    const lines = [n.key, ...handled(n)];
    if (!composite(n)) {
      out.push(
        `${indent}${id} [label=${q(lines.join('\n'))}${on ? ', fillcolor="#f9a825", color="#e65100", penwidth=2' : ''}];`,
      );
      return;
    }
    const dashed = n.parent?.type === 'parallel';
    out.push(`${indent}subgraph cluster_${id} {`);
    out.push(
      `${indent}  label=${q(lines.join('\n'))}; style="rounded${dashed ? ',dashed' : ''}${on ? ',filled' : ''}"; fillcolor="#fff3e0"; color=${on ? '"#e65100"' : '"#6366f1"'};`,
    );
    out.push(`${indent}  ${anchor(n)} [shape=point, style=invis, width=0];`);
    const initial = n.type === 'parallel' ? undefined : (n.initial?.target?.[0] as AnyStateNode | undefined);
    if (initial) {
      out.push(
        `${indent}  ${id}__initial [shape=circle, width=0.12, style=filled, fillcolor=black, label=""];`,
      );
      out.push(
        `${indent}  ${id}__initial -> ${anchor(initial)}${composite(initial) ? ` [lhead=cluster_${nodeId(initial)}]` : ''};`,
      );
    }
    for (const child of Object.values(n.states) as AnyStateNode[]) emit(child, `${indent}  `);
    out.push(`${indent}}`);
  };
  const first = root.initial!.target![0] as AnyStateNode;
  out.push('  __start [shape=circle, width=0.15, style=filled, fillcolor=black, label=""];');
  out.push(`  __start -> ${anchor(first)}${composite(first) ? ` [lhead=cluster_${nodeId(first)}]` : ''};`);
  for (const child of Object.values(root.states) as AnyStateNode[]) emit(child, '  ');

  // Edges, one per (source, target), labelled with every event and guard that takes it.
  const edges = new Map<
    string,
    { from: AnyStateNode | null; to: AnyStateNode; events: Map<string, string[]> }
  >();
  const visit = (source: AnyStateNode): void => {
    for (const t of ownTransitions(source)) {
      for (const target of t.target ?? []) {
        const from = source === root ? null : source;
        const key = `${from === null ? ROOT_SOURCE : nodeId(from)}->${nodeId(target)}`;
        const edge = edges.get(key) ?? { from, to: target, events: new Map<string, string[]>() };
        const guards = edge.events.get(eventName(t)) ?? [];
        if (!guards.includes(guardName(t.guard))) guards.push(guardName(t.guard));
        edge.events.set(eventName(t), guards);
        edges.set(key, edge);
      }
    }
    for (const child of Object.values(source.states) as AnyStateNode[]) visit(child);
  };
  visit(root);
  if ([...edges.values()].some((e) => e.from === null)) {
    out.push(`  ${ROOT_SOURCE} [label="any role", style="rounded,dashed", fillcolor=white];`);
  }
  for (const { from, to, events } of edges.values()) {
    const text = [...events].map(([event, guards]) => withGuards(event, guards)).join('\n');
    const attrs = [`label=${q(text)}`];
    if (from !== null && composite(from) && from !== to) attrs.push(`ltail=cluster_${nodeId(from)}`);
    if (composite(to) && from !== to) attrs.push(`lhead=cluster_${nodeId(to)}`);
    out.push(`  ${from === null ? ROOT_SOURCE : anchor(from)} -> ${anchor(to)} [${attrs.join(', ')}];`);
  }
  out.push('}');
  return `${out.join('\n')}\n`;
}

function ancestors(node: AnyStateNode): AnyStateNode[] {
  const out: AnyStateNode[] = [];
  for (let n: AnyStateNode | undefined = node; n; n = n.parent) out.unshift(n);
  return out;
}

/** commonAncestor is the lowest composite strictly containing both states (the source itself for the root). */
function commonAncestor(a: AnyStateNode, b: AnyStateNode): AnyStateNode {
  const pa = ancestors(a);
  const pb = ancestors(b);
  let i = 0;
  while (i < pa.length && i < pb.length && pa[i] === pb[i]) i++;
  const lca = pa[i - 1]!;
  // A transition within one subtree is drawn in the parent of the higher end.
  return lca === a || lca === b ? (lca.parent ?? lca) : lca;
}

/** childOn is the child of `container` on the path to `node` (the node itself if it is one). */
function childOn(container: AnyStateNode, node: AnyStateNode): AnyStateNode {
  const path = ancestors(node);
  return path[path.indexOf(container) + 1] ?? node;
}

function nodeId(node: AnyStateNode): string {
  return node.path.join('_');
}

function ownTransitions(node: AnyStateNode): TransitionLike[] {
  const out: TransitionLike[] = [];
  for (const list of node.transitions.values()) out.push(...(list as TransitionLike[]));
  for (const t of (node.always ?? []) as TransitionLike[]) out.push({ ...t, eventType: '' });
  return out;
}

function eventName(t: TransitionLike): string {
  const after = /^xstate\.after\.([^.]+)\./.exec(t.eventType);
  return after ? `after ${after[1]}` : t.eventType === '' ? 'always' : t.eventType;
}

function label(t: TransitionLike): string {
  return withGuards(eventName(t), [guardName(t.guard)]);
}

/** withGuards labels an event taken under any of `guards` ('' for none: "else" beside others). */
function withGuards(event: string, guards: readonly string[]): string {
  if (guards.length === 1) return guards[0] ? `${event} [${guards[0]}]` : event;
  return `${event} [${guards.map((g) => g || 'else').join(' | ')}]`;
}

function guardName(g: unknown): string {
  if (g === undefined) return '';
  if (typeof g === 'string') return g;
  if (typeof g === 'object' && g !== null && 'type' in g && typeof g.type === 'string') return g.type;
  if (typeof g === 'function') {
    const check = (g as { check?: { name?: string } }).check?.name ?? '';
    const parts = (
      (g as { guards?: unknown[]; guard?: unknown }).guards ?? [(g as { guard?: unknown }).guard]
    ).map(guardName);
    const op = check.replace(/^check/, '').toLowerCase() || 'guard';
    return op === 'not' ? `!${parts[0]}` : parts.join(op === 'and' ? ' && ' : ' || ');
  }
  return 'guard';
}

function actionNames(actions: readonly unknown[]): string {
  return actions
    .map((a) => (typeof a === 'string' ? a : typeof a === 'object' && a && 'type' in a ? String(a.type) : ''))
    .filter(Boolean)
    .join(', ');
}

/** activeIds lists the diagram ids of every state in a state value. */
function activeIds(root: AnyStateNode, value: StateValue): Set<string> {
  const out = new Set<string>();
  const walk = (node: AnyStateNode, v: StateValue): void => {
    if (typeof v === 'string') {
      const child = node.states[v] as AnyStateNode | undefined;
      if (child) out.add(nodeId(child));
      return;
    }
    for (const [key, sub] of Object.entries(v)) {
      const child = node.states[key] as AnyStateNode | undefined;
      if (!child) continue;
      out.add(nodeId(child));
      if (sub !== undefined) walk(child, sub as StateValue);
    }
  };
  walk(root, value);
  return out;
}
