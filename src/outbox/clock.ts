/**
 * Time as the outbox sees it: the wall clock and one-shot timers. Injected so the scheduler's
 * backoff and stop can be tested with a fake clock, without waiting.
 */
export interface Clock {
  now(): number
  setTimeout(fn: () => void, ms: number): unknown
  clearTimeout(timer: unknown): void
}

export const systemClock: Clock = {
  now: () => Date.now(),
  setTimeout: (fn, ms) => setTimeout(fn, ms),
  clearTimeout: (timer) => { clearTimeout(timer as ReturnType<typeof setTimeout> | undefined) }
}
