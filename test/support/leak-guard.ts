/**
 * Loaded into every test file's process (`node --test --import`). When the file's tests and hooks
 * have all run, the process must exit on its own: a timer, socket or server left behind keeps it
 * alive and would hang `node --test` (and CI) for good. If the process is still alive
 * LEAK_GRACE_MS after the last hook, this prints each handle that holds it open, with the stack
 * that created it, and exits with code 1: the file fails within seconds, naming the leak.
 *
 * The check's own timer is unref'd, so a file that exits cleanly never sees it.
 */
import { createHook, type AsyncHook } from 'node:async_hooks'
import { writeSync } from 'node:fs'
import { after } from 'node:test'

/** How long a file's process may stay alive after its last test and hook. */
export const LEAK_GRACE_MS = Number(process.env.PIGEON_LEAK_GRACE_MS ?? 5_000)
/** Frames kept per creation stack: enough to reach the product code that made the handle. */
const STACK_FRAMES = 25

interface Tracked {
  type: string
  resource: WeakRef<object>
  created: { stack?: string }
}

/** Resources that can keep the event loop alive (not promises, microtasks or ticks). */
const IGNORED = new Set(['PROMISE', 'Microtask', 'TickObject', 'RANDOMBYTESREQUEST', 'PBKDF2REQUEST'])

const live = new Map<number, Tracked>()
const hook: AsyncHook = createHook({
  init (asyncId, type, _trigger, resource) {
    if (IGNORED.has(type)) return
    const created: { stack?: string } = {}
    const limit = Error.stackTraceLimit
    Error.stackTraceLimit = STACK_FRAMES
    Error.captureStackTrace(created)
    Error.stackTraceLimit = limit
    live.set(asyncId, { type, resource: new WeakRef(resource), created })
  },
  destroy (asyncId) {
    live.delete(asyncId)
  }
})
hook.enable()

/** Whether a resource still holds the event loop open (Timeouts and handles answer hasRef()). */
function holdsLoop (resource: object | undefined): boolean {
  if (resource == null) return false
  const r = resource as { hasRef?: () => boolean, _destroyed?: boolean, fd?: number }
  if (r._destroyed === true) return false
  // The process's own stdin, stdout and stderr (the test runner reads them) are not leaks.
  if (typeof r.fd === 'number' && r.fd >= 0 && r.fd <= 2) return false
  // Timeouts, Immediates and libuv handles (sockets, servers, pipes, child processes) answer
  // hasRef(); other async resources (requests, streams' end callbacks) cannot hold the loop alone.
  return typeof r.hasRef === 'function' && r.hasRef()
}

/** The frames of a creation stack outside Node and this guard (all but the guard's if none are). */
function frames (stack: string | undefined): string {
  const lines = (stack ?? '').split('\n').slice(1).filter(l => !l.includes('leak-guard.js') && !l.includes('node:internal'))
  const ours = lines.filter(l => !/[( ]node:/.test(l))
  return (ours.length > 0 ? ours : lines).slice(0, 12).join('\n')
}

/** The local (and remote) address of a socket or server handle, to tell them apart. */
function where (resource: object | undefined): string {
  const h = resource as { getsockname?: (out: Record<string, unknown>) => number, getpeername?: (out: Record<string, unknown>) => number }
  const parts: string[] = []
  for (const [name, fn] of [['local', h?.getsockname], ['remote', h?.getpeername]] as const) {
    if (typeof fn !== 'function') continue
    const out: Record<string, unknown> = {}
    try { if (fn.call(h, out) === 0 && out.address != null) parts.push(`${name} ${String(out.address)}:${String(out.port)}`) } catch {}
  }
  return parts.length > 0 ? ` [${parts.join(', ')}]` : ''
}

export function leakReport (): string {
  const active = process.getActiveResourcesInfo()
  const lines = [`process still alive ${LEAK_GRACE_MS} ms after its last test; active resources: ${JSON.stringify(active)}`]
  for (const [id, t] of live) {
    const resource = t.resource.deref()
    if (!holdsLoop(resource)) continue
    lines.push(`--- ${t.type}${where(resource)} (async id ${id}), created at:\n${frames(t.created.stack)}`)
  }
  return lines.join('\n')
}

after(() => {
  const timer = setTimeout(() => {
    writeSync(2, `\nLEAK: ${leakReport()}\n`)
    process.exit(1)
  }, LEAK_GRACE_MS)
  timer.unref()
})
