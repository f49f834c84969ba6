/**
 * Records where each timer and libuv handle (socket, server, pipe, child process) was created, so
 * a process that does not exit can say what holds it open and which code made it. Test builds
 * only: loaded with `--import` into test files (leak-guard.ts) and into the `pigeon start`
 * processes the CLI tests spawn (cli-helpers.ts).
 *
 * In a process started with HANDLE_TRACKER_REPORT_AT_EXIT=1, it also writes the report to stderr
 * when the process is made to exit (process.exit) while handles are still open: that is how
 * `pigeon start`'s exit grace names the code that left something open.
 */
import { createHook, type AsyncHook } from 'node:async_hooks'
import { writeSync } from 'node:fs'

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
  const lines = (stack ?? '').split('\n').slice(1).filter(l => !l.includes('handle-tracker.js') && !l.includes('node:internal'))
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

/** Each handle that holds the event loop open, with where it was created; empty if none. */
export function openHandles (): string[] {
  const lines: string[] = []
  for (const [id, t] of live) {
    const resource = t.resource.deref()
    if (!holdsLoop(resource)) continue
    lines.push(`--- ${t.type}${where(resource)} (async id ${id}), created at:\n${frames(t.created.stack)}`)
  }
  return lines
}

if (process.env.HANDLE_TRACKER_REPORT_AT_EXIT === '1') {
  process.on('exit', () => {
    const open = openHandles()
    if (open.length > 0) writeSync(2, `open handles at exit (${JSON.stringify(process.getActiveResourcesInfo())}):\n${open.join('\n')}\n`)
  })
}

