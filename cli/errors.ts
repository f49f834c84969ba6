/**
 * How the CLI fails: one readable line on stderr and a documented exit code; the stack only
 * with --verbose.
 */
export const EXIT = {
  OK: 0,
  ERROR: 1,
  USAGE: 2,
  NOT_RUNNING: 3,
  TIMEOUT: 4
} as const

export class CliError extends Error {
  constructor (message: string, readonly exitCode: number = EXIT.ERROR) {
    super(message)
  }
}

export function exitCodeFor (err: any): number {
  if (err instanceof CliError) return err.exitCode
  if (err?.name === 'NodeNotRunningError') return EXIT.NOT_RUNNING
  // Not a mistake of the user's: nobody published that peer's card (yet).
  if (err?.remoteName === 'PeerNotFoundError' || err?.name === 'PeerNotFoundError') return EXIT.ERROR
  if (err?.name === 'ConfigError') return EXIT.USAGE
  if (err?.name === 'TimeoutError' || err?.status === 408) return EXIT.TIMEOUT
  if (err?.status === 400 || err?.status === 404) return EXIT.USAGE
  if (err?.status === 409) return EXIT.ERROR
  return EXIT.ERROR
}

export function report (err: any, verbose: boolean): number {
  const message = String(err?.message ?? err).split('\n')[0]
  process.stderr.write(`pigeon: ${message}\n`)
  if (verbose && err?.stack != null) process.stderr.write(`${err.stack}\n`)
  return exitCodeFor(err)
}
