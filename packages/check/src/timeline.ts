import { Buffer } from 'node:buffer';
import type { Explanation } from './explain.js';
import { type ClientId, formatMs, type Operation, relativeNs, type Time, timeOrigin } from './operation.js';

/** TimelineOptions configures {@link renderTimeline}. */
export interface TimelineOptions {
  /** A heading above the lanes. */
  readonly title?: string;
  /** The text of each operation's bar (default: its input and output as JSON). */
  readonly labels?: readonly string[];
  /** Operations to draw in red: those that could not be linearized. */
  readonly highlight?: readonly number[];
  /** A (partial) linearization: its operations are drawn in green and numbered in order. */
  readonly order?: readonly number[];
  /** The zero of the time axis (default: the first call). */
  readonly origin?: Time;
  /** Width of the picture in pixels (default 1000). */
  readonly width?: number;
}

const LEFT = 110;
const RIGHT = 40;
const ROW = 22;
const BAR = 16;
const LANE_GAP = 10;
const BOTTOM = 56;

/**
 * renderTimeline draws a history as a self-contained SVG document, like
 * Porcupine's visualisation: one lane per client, time flowing right, each
 * operation a bar from its call to its return, labelled. Unknown-outcome
 * operations run open-ended off the right edge. `order` numbers and colours
 * a linearization; `highlight` marks operations in red. Hover a bar for its
 * exact times.
 */
export function renderTimeline(
  ops: readonly Operation<unknown, unknown>[],
  options: TimelineOptions = {},
): string {
  const width = options.width ?? 1000;
  const origin = options.origin ?? timeOrigin(ops);
  const top = options.title === undefined ? 14 : 42;
  const plotRight = width - RIGHT;
  const call = ops.map((op) => relativeNs(op.call, origin));
  const ret = ops.map((op) =>
    op.status === 'ok' ? relativeNs(op.return, origin) : Number.POSITIVE_INFINITY,
  );
  let t0 = Number.POSITIVE_INFINITY;
  let t1 = Number.NEGATIVE_INFINITY;
  ops.forEach((_, i) => {
    const c = call[i] as number;
    const r = ret[i] as number;
    t0 = Math.min(t0, c);
    t1 = Math.max(t1, c, Number.isFinite(r) ? r : c);
  });
  if (!Number.isFinite(t0)) [t0, t1] = [0, 1];
  const span = t1 > t0 ? t1 - t0 : 1;
  const x = (t: number) => LEFT + ((t - t0) / span) * (plotRight - LEFT - 10);

  // One lane per client, split into rows where a client's operations overlap
  // (concurrent requests, or an unknown operation that never ends).
  const clients = [...new Set(ops.map((op) => op.clientId))].sort(byClient);
  const rowOf = new Int32Array(ops.length);
  const laneRows = new Map<ClientId, number[]>(clients.map((c) => [c, []]));
  const byCall = ops.map((_, i) => i).sort((a, b) => (call[a] as number) - (call[b] as number) || a - b);
  for (const i of byCall) {
    const ends = laneRows.get((ops[i] as Operation).clientId) as number[];
    let row = ends.findIndex((end) => end < (call[i] as number));
    if (row < 0) row = ends.push(0) - 1;
    ends[row] = ret[i] as number;
    rowOf[i] = row;
  }
  const laneTop = new Map<ClientId, number>();
  let y = top;
  for (const c of clients) {
    laneTop.set(c, y);
    y += Math.max(1, (laneRows.get(c) as number[]).length) * ROW + LANE_GAP;
  }
  const height = y + BOTTOM;

  const highlight = new Set(options.highlight ?? []);
  const rank = new Map((options.order ?? []).map((i, k) => [i, k + 1]));
  const out: string[] = [
    `<svg xmlns="http://www.w3.org/2000/svg" width="${width}" height="${height}" viewBox="0 0 ${width} ${height}" font-family="ui-monospace, Menlo, Consolas, monospace" font-size="11">`,
    '<style>',
    '.op rect, .op path { fill: #e4ecf5; stroke: #5b7fa6; }',
    '.op.lin rect, .op.lin path { fill: #dcf1dc; stroke: #3f8f3f; }',
    '.op.stuck rect, .op.stuck path { fill: #f9d4d0; stroke: #c0392b; stroke-width: 2; }',
    '.op .edge { fill: none !important; stroke-dasharray: 4 3; }',
    '.op .body { stroke: none !important; }',
    '.lane { fill: #f7f7f7; } .axis { stroke: #999; } .muted { fill: #666; }',
    '</style>',
    `<rect width="${width}" height="${height}" fill="#fff"/>`,
  ];
  if (options.title !== undefined) {
    out.push(`<text x="12" y="24" font-size="14" font-weight="bold">${esc(options.title)}</text>`);
  }
  for (const c of clients) {
    const ly = laneTop.get(c) as number;
    const h = Math.max(1, (laneRows.get(c) as number[]).length) * ROW;
    out.push(`<rect class="lane" x="0" y="${ly - 3}" width="${width}" height="${h + 6}"/>`);
    out.push(`<text x="12" y="${ly + ROW / 2 + 4}">client ${esc(String(c))}</text>`);
  }
  ops.forEach((op, i) => {
    const by = (laneTop.get(op.clientId) as number) + (rowOf[i] as number) * ROW + (ROW - BAR) / 2;
    const x1 = x(call[i] as number);
    const open = op.status !== 'ok';
    const x2 = open ? width - 8 : Math.max(x1 + 2, x(ret[i] as number));
    const cls = `op${highlight.has(i) ? ' stuck' : rank.has(i) ? ' lin' : ''}${open ? ' unknown' : ''}`;
    const n = rank.get(i);
    const label = `${n === undefined ? '' : `#${n} `}${options.labels?.[i] ?? defaultLabel(op)}`;
    const times = `${formatMs(call[i] as number)} .. ${open ? '? (unknown outcome)' : formatMs(ret[i] as number)}`;
    out.push(`<g class="${cls}"><title>${esc(`client ${String(op.clientId)}: ${label}\n${times}`)}</title>`);
    const w = (x2 - x1).toFixed(1);
    if (open) {
      // Open-ended: no right edge, a dashed outline and an arrow off the plot.
      out.push(`<rect class="body" x="${x1.toFixed(1)}" y="${by}" width="${w}" height="${BAR}"/>`);
      out.push(
        `<path class="edge" d="M${x2.toFixed(1)},${by} H${x1.toFixed(1)} V${by + BAR} H${x2.toFixed(1)}"/>`,
      );
      out.push(`<text x="${(x2 - 2).toFixed(1)}" y="${by + 12}" text-anchor="end" class="muted">→?</text>`);
    } else {
      out.push(`<rect x="${x1.toFixed(1)}" y="${by}" width="${w}" height="${BAR}" rx="2"/>`);
    }
    out.push(
      `<svg x="${x1.toFixed(1)}" y="${by}" width="${w}" height="${BAR}"><text x="3" y="12">${esc(label)}</text></svg></g>`,
    );
  });
  // The time axis, in milliseconds from the origin.
  const ay = y + 6;
  out.push(`<line class="axis" x1="${LEFT}" y1="${ay}" x2="${plotRight}" y2="${ay}"/>`);
  const step = niceStep(span / 6);
  for (let t = Math.ceil(t0 / step) * step; t <= t1; t += step) {
    const tx = x(t).toFixed(1);
    out.push(`<line class="axis" x1="${tx}" y1="${ay}" x2="${tx}" y2="${ay + 4}"/>`);
    out.push(`<text x="${tx}" y="${ay + 16}" text-anchor="middle" class="muted">${esc(formatMs(t))}</text>`);
  }
  out.push(
    `<text x="12" y="${ay + 38}" class="muted">green #n: longest linearizable prefix, in order · red: cannot be linearized next · open, dashed: unknown outcome</text>`,
  );
  out.push('</svg>');
  return `${out.join('\n')}\n`;
}

/**
 * explanationTimeline draws the partition of an {@link Explanation}: its
 * longest linearizable prefix numbered in green, the operations that could
 * not follow it in red.
 */
export function explanationTimeline(e: Explanation, title?: string): string {
  return renderTimeline(e.ops, {
    title: title ?? (e.key === '' ? 'not linearizable' : `not linearizable: key ${JSON.stringify(e.key)}`),
    labels: e.labels,
    highlight: e.stuck,
    order: e.prefix,
    origin: e.origin,
  });
}

/** niceStep rounds a tick interval up to 1, 2 or 5 times a power of ten. */
function niceStep(raw: number): number {
  const p = 10 ** Math.floor(Math.log10(raw));
  for (const m of [1, 2, 5]) if (m * p >= raw) return m * p;
  return 10 * p;
}

function byClient(a: ClientId, b: ClientId): number {
  return String(a).localeCompare(String(b), 'en', { numeric: true });
}

function defaultLabel(op: Operation<unknown, unknown>): string {
  const json = (v: unknown) =>
    JSON.stringify(v, (_, x) =>
      typeof x === 'bigint' ? `${x}n` : x instanceof Uint8Array ? Buffer.from(x).toString('hex') : x,
    ) ?? 'undefined';
  return `${json(op.input)} -> ${op.status === 'ok' ? json(op.output) : '?'}`;
}

function esc(s: string): string {
  return s.replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);
}
