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
