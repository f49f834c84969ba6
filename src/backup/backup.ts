/**
 * Taking a backup: one LevelDB iterator over the whole database (every sublevel) reads from
 * the snapshot LevelDB takes when the iterator is created, so the payload is one consistent
 * view of a running node, however busy. The payload is produced as a stream and written to
 * the file as a stream.
 */
import { open, readFile, rename, rm } from 'node:fs/promises'
import { dirname, join } from 'node:path'
import { IDENTITY_FILE } from '../constants.js'
import { VERSION } from '../version.js'
import { BackupSealer, PayloadEncoder, readPayload, type BackupInfo, type SealOptions } from './format.js'
import type { AbstractLevel } from 'abstract-level'
import type { PigeonNode } from '../node.js'

/** Entries read from the iterator per step. */
const ITERATOR_BATCH = 1000

export interface BackupProgress {
  /** Store entries so far. */
  entries: number
  /** Payload bytes so far. */
  bytes: number
}

export interface BackupSummary {
  file: string
  peerId: string
  createdAt: number
  /** Store entries (key/value pairs, all sublevels). */
  entries: number
  /** Entries per sublevel (the `!name!` prefix of the key). */
  sublevels: Record<string, number>
  /** Size of the file written. */
  bytes: number
  encrypted: boolean
}

/**
 * The backup payload of a database and an identity, as a stream of chunks. The snapshot is
 * taken now, when this is called, not when the stream is first read.
 */
export function snapshotPayload (db: AbstractLevel<any, any, any>, identity: Uint8Array, info: BackupInfo): AsyncGenerator<Buffer> {
  const iterator = db.iterator({ keyEncoding: 'view', valueEncoding: 'view' })
  return (async function * () {
    const encoder = new PayloadEncoder()
    try {
      let chunk = encoder.info(info)
      if (chunk != null) yield chunk
      chunk = encoder.identity(identity)
      if (chunk != null) yield chunk
      while (true) {
        const batch = await iterator.nextv(ITERATOR_BATCH)
        if (batch.length === 0) break
        for (const [key, value] of batch) {
          chunk = encoder.entry(key, value)
          if (chunk != null) yield chunk
        }
      }
      yield encoder.end()
    } finally {
      await iterator.close()
    }
  })()
}

/**
 * The backup payload of a running node with a data dir: its identity file and its whole store.
 */
export async function nodePayload (node: PigeonNode): Promise<AsyncGenerator<Buffer>> {
  const location = node.store.location
  if (location == null) throw new TypeError('a node kept in memory has no data dir to back up')
  // The store lives at <data dir>/store, the identity next to it.
  const identity = await readFile(join(dirname(location), IDENTITY_FILE))
  return snapshotPayload(node.store.database, identity, { peerId: node.peerId.toString(), createdAt: Date.now(), version: VERSION })
}

/** The sublevel an entry belongs to: the name in its `!name!` prefix ('' for none). */
export function sublevelOf (key: Uint8Array): string {
  if (key[0] !== 0x21) return ''
  const end = key.indexOf(0x21, 1)
  return end === -1 ? '' : Buffer.from(key.subarray(1, end)).toString('utf8')
}

export interface WriteBackupOptions extends SealOptions {
  onProgress?: (progress: BackupProgress) => void
  /** Stops the backup; no file is written. */
  signal?: AbortSignal
}

/**
 * Writes a backup file from a payload stream (nodePayload's, or the control API's
 * GET /v1/backup). The payload is checked as it passes (record order, END's count and digest);
 * the file is written to `<path>.tmp` with mode 0600 and renamed to `path` only when whole.
 */
export async function writeBackupFile (path: string, payload: AsyncIterable<Uint8Array>, options: WriteBackupOptions = {}): Promise<BackupSummary> {
  const sealer = await BackupSealer.create(options)
  const tmp = `${path}.tmp`
  const file = await open(tmp, 'w', 0o600)
  let closed = false
  try {
    // An old .tmp left by a crash keeps its mode through 'w'; set ours.
    await file.chmod(0o600)
    let written = 0
    const write = async (buf: Buffer): Promise<void> => { await file.write(buf); written += buf.length }
    await write(sealer.preamble())
    let bytes = 0
    const tee = async function * (): AsyncGenerator<Uint8Array> {
      for await (const chunk of payload) {
        options.signal?.throwIfAborted()
        for (const frame of sealer.write(chunk)) await write(frame)
        bytes += chunk.byteLength
        yield chunk
      }
    }
    let info: BackupInfo | undefined
    const sublevels: Record<string, number> = {}
    let entries = 0
    let complete = false
    for await (const record of readPayload(tee())) {
      if (record.type === 'info') info = record.info
      else if (record.type === 'entry') {
        entries++
        const name = sublevelOf(record.key)
        sublevels[name] = (sublevels[name] ?? 0) + 1
        if (entries % ITERATOR_BATCH === 0) options.onProgress?.({ entries, bytes })
      } else if (record.type === 'end') complete = true
    }
    // readPayload only returns normally after END; this guards the invariant.
    if (!complete || info == null) throw new Error('backup payload incomplete')
    options.onProgress?.({ entries, bytes })
    await write(sealer.final())
    await file.sync()
    await file.close()
    closed = true
    await rename(tmp, path)
    await syncDir(dirname(path))
    return { file: path, peerId: info.peerId, createdAt: info.createdAt, entries, sublevels, bytes: written, encrypted: sealer.encrypted }
  } catch (err) {
    if (!closed) await file.close().catch(() => {})
    await rm(tmp, { force: true })
    throw err
  }
}

/** Backs up a node running in this process to `path` (see writeBackupFile). */
export async function backupNode (node: PigeonNode, path: string, options: WriteBackupOptions = {}): Promise<BackupSummary> {
  return await writeBackupFile(path, await nodePayload(node), options)
}

/** Makes a rename durable; best effort (some platforms cannot open a directory). */
export async function syncDir (dir: string): Promise<void> {
  try {
    const handle = await open(dir, 'r')
    try { await handle.sync() } finally { await handle.close() }
  } catch {
    // not supported here
  }
}
