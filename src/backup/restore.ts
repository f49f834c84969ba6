/**
 * Restoring a backup into a data dir that holds no node yet. The store is written to a
 * temporary directory beside its final place and moved there only when the whole file has
 * been read and checked, so a wrong passphrase or a damaged file leaves the data dir as it was.
 */
import { createReadStream } from 'node:fs'
import { link, mkdir, open, readdir, rename, rm, rmdir, stat } from 'node:fs/promises'
import { join } from 'node:path'
import { ClassicLevel } from 'classic-level'
import { peerIdFromPrivateKey } from '@libp2p/peer-id'
import { privateKeyFromProtobuf } from '@libp2p/crypto/keys'
import { IDENTITY_FILE, STORE_DIR } from '../constants.js'
import { BackupFormatError, RestoreRefusedError } from '../errors.js'
import { controlAnswers, readControlFile } from '../control/control-file.js'
import { readBackup, type BackupInfo, type OpenOptions } from './format.js'
import { sublevelOf, syncDir, type BackupProgress } from './backup.js'

/** Entries per LevelDB batch while restoring. */
const RESTORE_BATCH = 1000

export interface RestoreOptions extends OpenOptions {
  onProgress?: (progress: BackupProgress) => void
  /** Stops the restore; nothing is written. */
  signal?: AbortSignal
}

export interface RestoreSummary {
  dataDir: string
  peerId: string
  /** When the backup was taken. */
  createdAt: number
  entries: number
  sublevels: Record<string, number>
  encrypted: boolean
}

async function exists (path: string): Promise<boolean> {
  try {
    await stat(path)
    return true
  } catch (err: any) {
    if (err.code === 'ENOENT') return false
    throw err
  }
}

/**
 * Throws RestoreRefusedError if a node runs with `dataDir` or it already holds an identity
 * or a store with data in it. An absent or empty dir, or one with an empty store, is fine.
 */
export async function checkRestoreTarget (dataDir: string): Promise<void> {
  const control = await readControlFile(dataDir)
  // As `start` decides: a control file whose pid lives and whose API answers with its token.
  if (control != null && await controlAnswers(control)) {
    throw new RestoreRefusedError(`a pigeon node (pid ${control.pid}) is running with data dir ${dataDir}; stop it and restore into a new data dir`)
  }
  if (await exists(join(dataDir, IDENTITY_FILE))) throw new RestoreRefusedError(`data dir ${dataDir} already holds an identity; restore into a new data dir`)
  const storeDir = join(dataDir, STORE_DIR)
  if (await exists(storeDir)) {
    const db = new ClassicLevel(storeDir, { createIfMissing: false })
    try {
      await db.open()
    } catch (err: any) {
      const code = err.code === 'LEVEL_DATABASE_NOT_OPEN' ? err.cause?.code : err.code
      if (code === 'LEVEL_LOCKED') throw new RestoreRefusedError(`the store in ${dataDir} is in use by another process; restore into a new data dir`)
      // Not a LevelDB (or not one we can open): not ours to replace.
      if ((await readdir(storeDir)).length > 0) throw new RestoreRefusedError(`data dir ${dataDir} holds a store that cannot be opened (${String(err.cause?.message ?? err.message)}); restore into a new data dir`)
      return
    }
    try {
      for await (const _ of db.keys({ limit: 1 })) throw new RestoreRefusedError(`data dir ${dataDir} already holds a store with data; restore into a new data dir`)
    } finally {
      await db.close()
    }
  }
}

/**
 * Restores a backup (a file path or a stream of its bytes) into `dataDir`. Refuses a live or
 * non-empty data dir (checkRestoreTarget); throws BackupFormatError or BackupPassphraseError
 * for a bad file or passphrase, having written nothing.
 */
export async function restoreBackup (source: string | AsyncIterable<Uint8Array>, dataDir: string, options: RestoreOptions = {}): Promise<RestoreSummary> {
  await checkRestoreTarget(dataDir)
  const createdDir = !await exists(dataDir)
  await mkdir(dataDir, { recursive: true, mode: 0o700 })
  const tmpStore = join(dataDir, `${STORE_DIR}.restoring-${process.pid}`)
  const tmpIdentity = join(dataDir, `${IDENTITY_FILE}.restoring-${process.pid}`)
  const storeDir = join(dataDir, STORE_DIR)
  await rm(tmpStore, { recursive: true, force: true })
  const db = new ClassicLevel<Uint8Array, Uint8Array>(tmpStore, { keyEncoding: 'view', valueEncoding: 'view' })
  let dbOpen = false
  let movedStore = false
  try {
    await db.open()
    dbOpen = true
    let info: BackupInfo | undefined
    let identity: Uint8Array | undefined
    let encrypted = false
    let entries = 0
    let bytes = 0
    const sublevels: Record<string, number> = {}
    let batch = db.batch()
    const input = typeof source === 'string' ? createReadStream(source) : source
    for await (const record of readBackup(input, { ...options, onHeader: (h) => { encrypted = h.encryption != null; options.onHeader?.(h) } })) {
      options.signal?.throwIfAborted()
      if (record.type === 'info') info = record.info
      else if (record.type === 'identity') identity = record.key
      else if (record.type === 'entry') {
        batch.put(record.key, record.value)
        entries++
        bytes += record.key.length + record.value.length
        const name = sublevelOf(record.key)
        sublevels[name] = (sublevels[name] ?? 0) + 1
        if (batch.length >= RESTORE_BATCH) {
          await batch.write()
          batch = db.batch()
          options.onProgress?.({ entries, bytes })
        }
      }
    }
    if (info == null || identity == null) throw new BackupFormatError('the backup is damaged: it lacks its INFO or IDENTITY record')
    let peerId: string
    try {
      const key = privateKeyFromProtobuf(identity)
      if (key.type !== 'Ed25519') throw new Error(`a ${key.type} key`)
      peerId = peerIdFromPrivateKey(key).toString()
    } catch (err: any) {
      throw new BackupFormatError(`the backup's identity is unusable: ${String(err.message)}`)
    }
    if (peerId !== info.peerId) throw new BackupFormatError(`the backup's identity (${peerId}) is not the peer it names (${info.peerId})`)
    // The last write is synced: LevelDB's log then holds everything before it too.
    await batch.write({ sync: true } as any)
    options.onProgress?.({ entries, bytes })
    await db.close()
    dbOpen = false

    // Another restore or a `start` may have raced us since the check: look again, then move in.
    await checkRestoreTarget(dataDir)
    await rm(storeDir, { recursive: true, force: true })
    await rename(tmpStore, storeDir)
    movedStore = true
    const file = await open(tmpIdentity, 'w', 0o600)
    try {
      await file.writeFile(identity)
      await file.sync()
    } finally {
      await file.close()
    }
    // link() fails if the identity appeared meanwhile, where rename() would replace it.
    try {
      await link(tmpIdentity, join(dataDir, IDENTITY_FILE))
    } catch (err: any) {
      if (err.code === 'EEXIST') throw new RestoreRefusedError(`an identity appeared in ${dataDir} during the restore; nothing was restored`)
      throw err
    }
    await rm(tmpIdentity, { force: true })
    await syncDir(dataDir)
    return { dataDir, peerId, createdAt: info.createdAt, entries, sublevels, encrypted }
  } catch (err) {
    if (dbOpen) await db.close().catch(() => {})
    await rm(tmpStore, { recursive: true, force: true })
    await rm(tmpIdentity, { force: true })
    if (movedStore) await rm(storeDir, { recursive: true, force: true })
    if (createdDir) await rmdir(dataDir).catch(() => {})
    throw err
  }
}
