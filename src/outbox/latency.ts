/**
 * Delivery latency over a recent window, as `pigeon status` shows it: from `send` accepting a
 * message to this node learning that it was delivered (both on this node's clock). Bounded in
 * samples and in time; a summary sorts at most MAX_SAMPLES numbers.
 */

/** How far back the figures go. */
export const LATENCY_WINDOW_MS = 15 * 60_000
/** Samples kept: the oldest go first when a busy node delivers more within the window. */
const MAX_SAMPLES = 10_000

export interface LatencySummary {
  windowMs: number
  /** Deliveries in the window. */
  count: number
  /** Null when there were none. */
  p50Ms: number | null
  p99Ms: number | null
}

export class DeliveryLatency {
  private readonly at: number[] = []
  private readonly ms: number[] = []

  add (latencyMs: number, now = Date.now()): void {
    this.at.push(now)
    this.ms.push(Math.max(0, latencyMs))
    if (this.at.length > MAX_SAMPLES) {
      this.at.shift()
      this.ms.shift()
    }
  }

  summary (now = Date.now()): LatencySummary {
    let first = 0
    while (first < this.at.length && this.at[first] < now - LATENCY_WINDOW_MS) first++
    this.at.splice(0, first)
    this.ms.splice(0, first)
    const sorted = [...this.ms].sort((a, b) => a - b)
    const pick = (q: number): number | null => sorted.length === 0 ? null : sorted[Math.min(sorted.length - 1, Math.ceil(q * sorted.length) - 1)]
    return { windowMs: LATENCY_WINDOW_MS, count: sorted.length, p50Ms: pick(0.5), p99Ms: pick(0.99) }
  }
}
