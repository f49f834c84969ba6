/**
 * `pigeon backup` and `pigeon restore`: flags and output; the work is in src/backup/.
 */
import { createReadStream } from 'node:fs'
import { readFile, stat } from 'node:fs/promises'
import { resolve } from 'node:path'
import type { BackupProgress, ControlClient } from '../src/index.js'
import { CliError } from './errors.js'
import { bytes, time } from './format.js'

/** The environment variable that holds a backup passphrase when no file is named. */
export const PASSPHRASE_ENV = 'PIGEON_BACKUP_PASSPHRASE'
/** Redraw the progress line at most this often. */
const PROGRESS_INTERVAL_MS = 100

export interface PassphraseOptions { passphraseFile?: string }

/** The passphrase from --passphrase-file (one trailing newline dropped) or the environment; undefined for none. */
async function passphrase (opts: PassphraseOptions): Promise<string | undefined> {
  if (opts.passphraseFile != null) {
    let text: string
    try {
      text = await readFile(opts.passphraseFile, 'utf8')
    } catch (err: any) {
      throw new CliError(`cannot read the passphrase file ${opts.passphraseFile}: ${String(err.code ?? err.message)}`)
    }
    text = text.replace(/\r?\n$/, '')
    if (text.length === 0) throw new CliError(`the passphrase file ${opts.passphraseFile} is empty`)
    return text
  }
  const env = process.env[PASSPHRASE_ENV]
  if (env != null && env.length > 0) return env
  return undefined
}

/** A one-line progress display on stderr, only when stderr is a terminal. */
function progressLine (render: (p: BackupProgress) => string): { update: (p: BackupProgress) => void, done: () => void } {
  if (process.stderr.isTTY !== true) return { update: () => {}, done: () => {} }
  let last = 0
  let shown = false
  return {
    update: (p) => {
      const now = Date.now()
      if (now - last < PROGRESS_INTERVAL_MS) return
      last = now
      shown = true
      process.stderr.write(`\r${render(p)}\x1b[K`)
    },
    done: () => { if (shown) process.stderr.write('\r\x1b[K') }
  }
}

function sublevelList (sublevels: Record<string, number>): string {
  return Object.entries(sublevels).map(([name, n]) => `${name === '' ? '(root)' : name} ${n}`).join(', ')
}

export async function backupCommand (api: ControlClient, file: string, opts: PassphraseOptions, json: boolean): Promise<void> {
  const path = resolve(file)
  const secret = await passphrase(opts)
  const progress = progressLine(p => `pigeon: backing up… ${p.entries} entries, ${bytes(p.bytes)}`)
  const controller = new AbortController()
  const stop = (): void => { controller.abort() }
  process.once('SIGINT', stop)
  process.once('SIGTERM', stop)
  let summary
  try {
    const payload = await api.download('/v1/backup', controller.signal)
    const { writeBackupFile } = await import('../src/backup/index.js')
    summary = await writeBackupFile(path, payload, { passphrase: secret, onProgress: progress.update, signal: controller.signal })
  } catch (err: any) {
    if (controller.signal.aborted) throw new CliError('backup interrupted; no file written')
    if (err.name === 'TypeError' || err.name === 'AbortError') throw new CliError(`the node stopped sending the backup (${String(err.cause?.code ?? err.message)}); no file written`)
    throw err
  } finally {
    progress.done()
    process.off('SIGINT', stop)
    process.off('SIGTERM', stop)
  }
  if (json) {
    process.stdout.write(JSON.stringify(summary) + '\n')
  } else {
    process.stdout.write(`backed up ${summary.peerId} to ${summary.file}: ${summary.entries} entries (${sublevelList(summary.sublevels)}), ${bytes(summary.bytes)}, ${summary.encrypted ? 'encrypted' : 'not encrypted'}\n`)
  }
}

export async function restoreCommand (file: string, dataDir: string, opts: PassphraseOptions, json: boolean): Promise<void> {
  const path = resolve(file)
  let size: number
  try {
    size = (await stat(path)).size
  } catch (err: any) {
    throw new CliError(`cannot read the backup ${path}: ${String(err.code ?? err.message)}`)
  }
  const secret = await passphrase(opts)
  let read = 0
  const counted = async function * (): AsyncGenerator<Uint8Array> {
    for await (const chunk of createReadStream(path)) {
      read += (chunk as Buffer).length
      yield chunk as Buffer
    }
  }
  const width = 30
  const progress = progressLine(p => {
    const fraction = size === 0 ? 1 : Math.min(read / size, 1)
    const filled = Math.round(fraction * width)
    return `pigeon: restoring [${'#'.repeat(filled)}${'.'.repeat(width - filled)}] ${Math.floor(fraction * 100)}% ${p.entries} entries`
  })
  let summary
  try {
    const { restoreBackup } = await import('../src/backup/index.js')
    summary = await restoreBackup(counted(), dataDir, { passphrase: secret, onProgress: progress.update })
  } finally {
    progress.done()
  }
  if (json) {
    process.stdout.write(JSON.stringify({ ...summary, file: path }) + '\n')
  } else {
    process.stdout.write(`restored ${summary.peerId} (backup of ${time(summary.createdAt)}) into ${summary.dataDir}: ${summary.entries} entries; start it with: pigeon --data-dir ${summary.dataDir} start\n`)
  }
}

