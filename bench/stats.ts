/**
 * Percentiles over latency samples, nearest-rank: the value reported is one that was
 * actually measured, so a p99 over 300 samples is the third-slowest round trip.
 */

export interface Summary {
  count: number
  p50: number
  p99: number
  min: number
  max: number
  mean: number
}

/** Nearest-rank percentile of an ascending array; `p` in (0, 100]. */
export function percentile (sorted: readonly number[], p: number): number {
  if (sorted.length === 0) throw new RangeError('no samples')
  const rank = Math.ceil((p / 100) * sorted.length)
  return sorted[Math.min(sorted.length, Math.max(1, rank)) - 1]
}

export function summarize (samples: readonly number[]): Summary {
  const sorted = [...samples].sort((a, b) => a - b)
  const sum = sorted.reduce((a, b) => a + b, 0)
  return {
    count: sorted.length,
    p50: percentile(sorted, 50),
    p99: percentile(sorted, 99),
    min: sorted[0],
    max: sorted[sorted.length - 1],
    mean: sum / sorted.length
  }
}

/** Rounds for printing: enough digits to compare runs, not so many that they look precise. */
export function round (value: number, digits = 3): number {
  const f = 10 ** digits
  return Math.round(value * f) / f
}

/** Middle value; the mean of the two middle ones for an even count. */
export function median (values: readonly number[]): number {
  if (values.length === 0) throw new RangeError('no values')
  const sorted = [...values].sort((a, b) => a - b)
  const mid = sorted.length >> 1
  return sorted.length % 2 === 1 ? sorted[mid] : (sorted[mid - 1] + sorted[mid]) / 2
}
