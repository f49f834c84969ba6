/**
 * Loaded into every test file's process (`node --test --import`). When the file's tests and hooks
 * have all run, the process must exit on its own: a timer, socket or server left behind keeps it
 * alive and would hang `node --test` (and CI) for good. If the process is still alive
 * LEAK_GRACE_MS after the last hook, this prints each handle that holds it open, with the stack
 * that created it, and exits with code 1: the file fails within seconds, naming the leak.
 *
 * The check's own timer is unref'd, so a file that exits cleanly never sees it.
 */
import { writeSync } from 'node:fs'
import { after } from 'node:test'
import { openHandles } from './handle-tracker.js'

/** How long a file's process may stay alive after its last test and hook. */
export const LEAK_GRACE_MS = Number(process.env.PIGEON_LEAK_GRACE_MS ?? 5_000)

after(() => {
  const timer = setTimeout(() => {
    const active = JSON.stringify(process.getActiveResourcesInfo())
    writeSync(2, `\nLEAK: process still alive ${LEAK_GRACE_MS} ms after its last test; active resources: ${active}\n${openHandles().join('\n')}\n`)
    process.exit(1)
  }, LEAK_GRACE_MS)
  timer.unref()
})
