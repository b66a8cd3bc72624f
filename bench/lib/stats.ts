// Exact percentiles from every recorded latency (autocannon's own histogram rounds to whole
// milliseconds, too coarse for a 5 ms target).
export interface LatencySummary {
  readonly count: number;
  readonly min: number;
  readonly mean: number;
  readonly p50: number;
  readonly p90: number;
  readonly p99: number;
  readonly p999: number;
  readonly max: number;
}

const round = (x: number) => Math.round(x * 100) / 100;

/** Nearest-rank percentile of sorted values. */
export function percentile(sorted: ArrayLike<number>, p: number): number {
  if (sorted.length === 0) return Number.NaN;
  const rank = Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1));
  return sorted[rank]!;
}

export function summarize(values: readonly number[]): LatencySummary {
  const sorted = Float64Array.from(values).sort();
  const sum = values.reduce((a, b) => a + b, 0);
  return {
    count: sorted.length,
    min: round(sorted[0] ?? Number.NaN),
    mean: round(sum / Math.max(1, sorted.length)),
    p50: round(percentile(sorted, 50)),
    p90: round(percentile(sorted, 90)),
    p99: round(percentile(sorted, 99)),
    p999: round(percentile(sorted, 99.9)),
    max: round(sorted[sorted.length - 1] ?? Number.NaN),
  };
}

/** The latency distribution in a few points: each percentile from 1 to 99, then 99.5, 99.9 and
 *  the maximum, as [{ p, ms }] (nearest rank): enough to draw it, small enough to keep. */
export function quantiles(values: readonly number[]): Array<{ p: number; ms: number }> {
  if (values.length === 0) return [];
  const sorted = Float64Array.from(values).sort();
  const ps = [...Array.from({ length: 99 }, (_, i) => i + 1), 99.5, 99.9, 100];
  return ps.map((p) => ({ p, ms: round(percentile(sorted, p)) }));
}
