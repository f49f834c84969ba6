/** Deadlines for waits that take no signal of their own. */

export class DeadlineError extends Error {
  override name = 'DeadlineError'
}

/** Settles like `promise`, or rejects when `signal` fires first. */
export async function race<T> (promise: Promise<T>, signal?: AbortSignal): Promise<T> {
  if (signal == null) return await promise
  signal.throwIfAborted()
  const { promise: aborted, reject } = Promise.withResolvers<never>()
  const onAbort = (): void => { reject(signal.reason ?? new DeadlineError('deadline passed')) }
  signal.addEventListener('abort', onAbort, { once: true })
  try {
    return await Promise.race([promise, aborted])
  } finally {
    signal.removeEventListener('abort', onAbort)
  }
}

/** How often `waitUntil` looks again: a setup step, not a timed one. */
const POLL_MS = 50

/**
 * Resolves once `condition()` holds, looking every POLL_MS; rejects when `signal` fires first,
 * naming what it waited for. For state that announces no event of its own (a gossipsub mesh).
 */
export async function waitUntil (condition: () => boolean, what: string, options: { signal?: AbortSignal }): Promise<void> {
  while (!condition()) {
    if (options.signal?.aborted === true) throw new DeadlineError(`gave up waiting for ${what}`)
    await new Promise(resolve => setTimeout(resolve, POLL_MS))
  }
}
