/** What every case shares: settings from the environment, progress on stderr, results on stdout. */
import { format } from 'node:util'

export function envCount (name: string, fallback: number): number {
  const raw = process.env[name]
  if (raw == null || raw === '') return fallback
  const n = Number(raw)
  if (!Number.isInteger(n) || n < 1) throw new RangeError(`${name} must be a positive integer, got "${raw}"`)
  return n
}

export function progress (fmt: string, ...args: unknown[]): void {
  process.stderr.write(format(`[bench] ${fmt}`, ...args) + '\n')
}

/** A reader that went away (`| head -1`) must not stop the run before it cleans up. */
let stdoutOpen = true
process.stdout.on('error', (err: NodeJS.ErrnoException) => {
  if (err.code !== 'EPIPE') throw err
  stdoutOpen = false
})

/** One result: one JSON object on one line of stdout. */
export function emit (line: Record<string, unknown>): void {
  if (stdoutOpen) process.stdout.write(JSON.stringify(line) + '\n')
}
