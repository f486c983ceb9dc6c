/**
 * Latency histograms: HdrHistogram (hdr-histogram-js) in microseconds, 3
 * significant digits, up to 10 minutes; serialized as HdrHistogram's
 * compressed base64 to cross threads and to be kept in the JSON results.
 */
import hdr from 'hdr-histogram-js';

/** Histogram is hdr-histogram-js's histogram type. */
export type Histogram = ReturnType<typeof hdr.build>;

/** newHistogram makes an empty latency histogram (values in µs). */
export function newHistogram(): Histogram {
  return hdr.build({
    lowestDiscernibleValue: 1,
    highestTrackableValue: 600_000_000,
    numberOfSignificantValueDigits: 3,
    useWebAssembly: false,
  });
}

/** encodeHistogram is `h` as HdrHistogram's compressed base64. */
export function encodeHistogram(h: Histogram): string {
  return hdr.encodeIntoCompressedBase64(h);
}

/** mergeHistograms adds the encoded histograms into one. */
export function mergeHistograms(encoded: readonly string[]): Histogram {
  const total = newHistogram();
  for (const e of encoded) total.add(hdr.decodeFromCompressedBase64(e, 32, false));
  return total;
}

/** LatencySummary is a histogram's percentiles, in ms (never a mean: STYLE.md). */
export interface LatencySummary {
  readonly count: number;
  readonly min: number;
  readonly p50: number;
  readonly p90: number;
  readonly p99: number;
  readonly p999: number;
  readonly max: number;
}

/** summarize is `h`'s percentiles in ms; all zero when it is empty. */
export function summarize(h: Histogram): LatencySummary {
  const ms = (us: number) => Math.round(us) / 1000;
  if (h.totalCount === 0) return { count: 0, min: 0, p50: 0, p90: 0, p99: 0, p999: 0, max: 0 };
  return {
    count: h.totalCount,
    min: ms(h.minNonZeroValue),
    p50: ms(h.getValueAtPercentile(50)),
    p90: ms(h.getValueAtPercentile(90)),
    p99: ms(h.getValueAtPercentile(99)),
    p999: ms(h.getValueAtPercentile(99.9)),
    max: ms(h.maxValue),
  };
}
