/**
 * The control file tells clients where this data dir's node listens and with which token.
 * It is written atomically (temp file, then rename) with mode 0600, and removed at shutdown.
 */
import { readFile, rename, rm, writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import { CONTROL_FILE } from '../constants.js'

export interface ControlInfo {
  url: string
  token: string
  pid: number
  peerId: string
  startedAt: number
}

export function controlPath (dataDir: string): string {
  return join(dataDir, CONTROL_FILE)
}

export async function writeControlFile (dataDir: string, info: ControlInfo): Promise<void> {
  const tmp = `${controlPath(dataDir)}.${process.pid}.tmp`
  await writeFile(tmp, JSON.stringify(info, null, 2) + '\n', { mode: 0o600 })
  await rename(tmp, controlPath(dataDir))
}

export async function readControlFile (dataDir: string): Promise<ControlInfo | undefined> {
  let text: string
  try {
    text = await readFile(controlPath(dataDir), 'utf8')
  } catch (err: any) {
    if (err.code === 'ENOENT') return undefined
    throw err
  }
  try {
    const info = JSON.parse(text)
    if (typeof info.url !== 'string' || typeof info.token !== 'string' || !Number.isInteger(info.pid)) return undefined
    return info
  } catch {
    return undefined
  }
}

/** Removes the control file if it still describes this process. */
export async function removeControlFile (dataDir: string): Promise<void> {
  const info = await readControlFile(dataDir)
  if (info?.pid === process.pid) await rm(controlPath(dataDir), { force: true })
}

/** How long a control API named in a data dir may take to answer before its file counts as stale. */
const LIVENESS_TIMEOUT_MS = 2_000

/**
 * Whether a node runs with this control file: its process lives and its API answers with the
 * file's token (a pid can be reused after a crash).
 */
export async function controlAnswers (info: ControlInfo): Promise<boolean> {
  if (!processAlive(info.pid)) return false
  try {
    const res = await fetch(`${info.url}/v1/id`, { headers: { authorization: `Bearer ${info.token}` }, signal: AbortSignal.timeout(LIVENESS_TIMEOUT_MS) })
    return res.ok
  } catch {
    return false
  }
}

/** True when a process with this pid exists (signal 0 checks without sending anything). */
export function processAlive (pid: number): boolean {
  try {
    process.kill(pid, 0)
    return true
  } catch (err: any) {
    return err.code === 'EPERM'
  }
}
