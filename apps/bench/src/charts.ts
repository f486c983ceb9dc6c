/**
 * SVG charts of the results, drawn headless with Vega-Lite compiled to Vega
 * and rendered by `view.toSVG()` (no canvas, no native code).
 */
import * as vega from 'vega';
import { compile, type TopLevelSpec } from 'vega-lite';

/** renderSvg renders a Vega-Lite spec to an SVG document. */
export async function renderSvg(spec: TopLevelSpec): Promise<string> {
  const view = new vega.View(vega.parse(compile(spec).spec), { renderer: 'none' });
  try {
    return await view.toSVG();
  } finally {
    view.finalize();
  }
}

/** Point is one value of a line chart: `x`, `y`, and the series it belongs to. */
export interface Point {
  readonly x: number;
  readonly y: number;
  readonly series: string;
}

interface LineChart {
  readonly title: string;
  readonly x: string;
  readonly y: string;
  readonly logX?: boolean;
  readonly logY?: boolean;
  readonly series: string;
  readonly points: readonly Point[];
  /** Facet into small charts by this field of the points (one per value). */
  readonly facet?: { readonly field: string; readonly title: string; readonly values: readonly object[] };
}

/** lineChart is a Vega-Lite spec of lines with points, one line per series. */
export function lineChart(c: LineChart): TopLevelSpec {
  // Ticks at the measured x values only (client counts, core counts).
  const xs = [...new Set((c.facet?.values ?? c.points).map((p) => (p as Point).x))].sort((a, b) => a - b);
  const encoding = {
    x: {
      field: 'x',
      type: 'quantitative' as const,
      title: c.x,
      scale: { ...(c.logX ? { type: 'log' as const } : { zero: false }), nice: false, padding: 16 },
      axis: { grid: true, values: xs, format: 'd' },
    },
    y: {
      field: 'y',
      type: 'quantitative' as const,
      title: c.y,
      scale: c.logY ? { type: 'log' as const } : { zero: true },
    },
    color: {
      field: 'series',
      type: 'nominal' as const,
      title: c.series,
      sort: null,
      legend: { labelLimit: 600, orient: 'bottom' as const, direction: 'vertical' as const },
    },
    tooltip: [{ field: 'series' }, { field: 'x' }, { field: 'y' }],
  };
  const mark = { type: 'line' as const, point: true };
  if (c.facet !== undefined) {
    return {
      $schema: 'https://vega.github.io/schema/vega-lite/v6.json',
      title: c.title,
      data: { values: c.facet.values as object[] },
      facet: { field: c.facet.field, type: 'nominal', title: c.facet.title },
      columns: 2,
      spec: { width: 320, height: 200, mark, encoding },
      resolve: { scale: { y: 'independent' } },
    } as TopLevelSpec;
  }
  return {
    $schema: 'https://vega.github.io/schema/vega-lite/v6.json',
    title: c.title,
    width: 560,
    height: 320,
    data: { values: c.points as unknown as object[] },
    mark,
    encoding,
  } as TopLevelSpec;
}
