/**
 * The node's identity: an Ed25519 key in the data dir, readable by its owner only.
 * The peer id is derived from it, so it is stable for as long as the file is.
 */
import { mkdir, open, readFile, chmod } from 'node:fs/promises'
import { join } from 'node:path'
import { generateKeyPair, privateKeyFromProtobuf, privateKeyToProtobuf } from '@libp2p/crypto/keys'
import { IDENTITY_FILE } from '../constants.js'
import { IdentityExistsError, InvalidIdentityError } from '../errors.js'
import type { Ed25519PrivateKey } from '@libp2p/interface'

export function identityPath (dataDir: string): string {
  return join(dataDir, IDENTITY_FILE)
}

/** Creates a new identity; refuses to replace one that exists. */
export async function createIdentity (dataDir: string): Promise<Ed25519PrivateKey> {
  await mkdir(dataDir, { recursive: true, mode: 0o700 })
  const key = await generateKeyPair('Ed25519')
  let file
  try {
    // 'wx' fails if the file exists, so two racing `init`s cannot both write.
    file = await open(identityPath(dataDir), 'wx', 0o600)
  } catch (err: any) {
    if (err.code === 'EEXIST') throw new IdentityExistsError(`an identity already exists at ${identityPath(dataDir)}`)
    throw err
  }
  try {
    await file.writeFile(privateKeyToProtobuf(key))
    await file.sync()
  } finally {
    await file.close()
  }
  return key
}

/** Loads the identity, or returns undefined when there is none. */
export async function loadIdentity (dataDir: string): Promise<Ed25519PrivateKey | undefined> {
  let bytes: Uint8Array
  try {
    bytes = await readFile(identityPath(dataDir))
  } catch (err: any) {
    if (err.code === 'ENOENT') return undefined
    throw err
  }
  let key
  try {
    key = privateKeyFromProtobuf(bytes)
  } catch (err: any) {
    throw new InvalidIdentityError(`identity file ${identityPath(dataDir)} is unreadable: ${err.message}`)
  }
  if (key.type !== 'Ed25519') throw new InvalidIdentityError(`identity file ${identityPath(dataDir)} holds a ${key.type} key; pigeon needs Ed25519`)
  // Repair a mode loosened by a copy or an archive tool.
  await chmod(identityPath(dataDir), 0o600)
  return key
}

export async function loadOrCreateIdentity (dataDir: string): Promise<Ed25519PrivateKey> {
  const existing = await loadIdentity(dataDir)
  if (existing != null) return existing
  try {
    return await createIdentity(dataDir)
  } catch (err) {
    // Lost a race with another process creating it: use theirs.
    if (err instanceof IdentityExistsError) {
      const key = await loadIdentity(dataDir)
      if (key != null) return key
    }
    throw err
  }
}
