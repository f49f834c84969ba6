/**
 * Waiting for a process to go quiet. A gossipsub burst is not over when the last receiver has
 * the last message: every receiver still forwards its copies to its mesh, and each copy is
 * decoded (with default options also signature-checked) before it is found a duplicate. That
 * tail runs for seconds after a raw burst; left alone it would eat into the next pigeon round,
 * and the other way round. It is also work the burst caused, so the channel case reports when
 * it ended and what CPU it took.
 */
import { race } from './deadline.js'
import type { AbortOptions } from '@libp2p/interface'

/**
 * Share of one window the main thread may spend on the CPU for the window to count as quiet:
 * heartbeats and timers only. Measured as thread CPU time rather than event-loop utilisation,
 * which reads about 0.9 in a process run with --cpu-prof even when it does nothing.
 */
const QUIET_SHARE = 0.05
/** One window of measurement. */
const WINDOW_MS = 200
/** Quiet windows in a row that make the process quiet. */
const QUIET_WINDOWS = 2

export interface Quiet {
  /** performance.now() when the quiet windows began: the end of the last busy one. */
  since: number
  /** process.cpuUsage() at `since`. */
  cpu: NodeJS.CpuUsage
  /** How long the wait took. */
  waitedMs: number
}

/** Resolves once this process's main thread has been nearly idle for QUIET_WINDOWS windows in a row. */
export async function quiet (options: AbortOptions): Promise<Quiet> {
  const start = performance.now()
  let calm = 0
  let since = start
  let cpu = process.cpuUsage()
  while (calm < QUIET_WINDOWS) {
    const windowStart = performance.now()
    const windowCpu = process.cpuUsage()
    const before = process.threadCpuUsage()
    await race(new Promise(resolve => setTimeout(resolve, WINDOW_MS)), options.signal)
    const used = process.threadCpuUsage(before)
    const share = (used.user + used.system) / 1000 / (performance.now() - windowStart)
    if (share < QUIET_SHARE) {
      if (calm++ === 0) {
        since = windowStart
        cpu = windowCpu
      }
    } else {
      calm = 0
    }
  }
  return { since, cpu, waitedMs: performance.now() - start }
}
