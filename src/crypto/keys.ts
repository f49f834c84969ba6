/**
 * Key handling for the envelope scheme.
 *
 * Curve operations run in OpenSSL through node:crypto: measured on this project's
 * 2-core machine, X25519 is ~42 µs there against ~2 ms in @noble/curves, and an
 * Ed25519 verify ~140 µs against ~1.8 ms (docs/architecture.md, "Cryptography").
 * @noble/curves still does the Ed25519 -> X25519 (birational map) conversion and
 * @noble/ciphers the XChaCha20-Poly1305 AEAD, which OpenSSL lacks.
 */
import { createPrivateKey, createPublicKey, type KeyObject } from 'node:crypto'
import { ed25519 } from '@noble/curves/ed25519.js'
import { peerIdFromMultihash } from '@libp2p/peer-id'
import * as Digest from 'multiformats/hashes/digest'
import type { Ed25519PrivateKey, PeerId } from '@libp2p/interface'

/** How many peers' key objects to keep: a cache, so the bound only trades memory for re-imports. */
const KEY_CACHE_SIZE = 4096

function b64url (bytes: Uint8Array): string {
  return Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength).toString('base64url')
}

export function ed25519PublicKeyObject (raw: Uint8Array): KeyObject {
  return createPublicKey({ key: { kty: 'OKP', crv: 'Ed25519', x: b64url(raw) }, format: 'jwk' })
}

export function x25519PublicKeyObject (raw: Uint8Array): KeyObject {
  return createPublicKey({ key: { kty: 'OKP', crv: 'X25519', x: b64url(raw) }, format: 'jwk' })
}

/** The key objects of a remote peer, derived from its Ed25519 peer id. */
export interface PeerKeys {
  peerId: PeerId
  /** Multihash bytes of the peer id, as they appear on the wire. */
  idBytes: Uint8Array
  ed25519: KeyObject
  x25519Raw: Uint8Array
  x25519: KeyObject
}

const cache = new Map<string, PeerKeys>()

/** Returns the peer's keys, or undefined when the peer id does not embed a valid Ed25519 key. */
export function peerKeys (peerId: PeerId): PeerKeys | undefined {
  const id = peerId.toString()
  const hit = cache.get(id)
  if (hit != null) return hit
  if (peerId.type !== 'Ed25519') return undefined
  const edRaw = peerId.publicKey.raw
  let keys: PeerKeys
  try {
    // Throws for bytes that are not a valid curve point (or are the identity point).
    const x25519Raw = ed25519.utils.toMontgomery(edRaw)
    keys = {
      peerId,
      idBytes: peerId.toMultihash().bytes,
      ed25519: ed25519PublicKeyObject(edRaw),
      x25519Raw,
      x25519: x25519PublicKeyObject(x25519Raw)
    }
  } catch {
    return undefined
  }
  if (cache.size >= KEY_CACHE_SIZE) {
    const oldest = cache.keys().next().value
    if (oldest != null) cache.delete(oldest)
  }
  cache.set(id, keys)
  return keys
}

/** Peer ids by their wire bytes (base64): the same few peers send most envelopes and frames. */
const ids = new Map<string, PeerId | undefined>()

/** Parses peer id bytes from the wire; undefined when they are not a valid Ed25519 peer id. */
export function peerIdFromBytes (bytes: Uint8Array): PeerId | undefined {
  const k = Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength).toString('base64')
  if (ids.has(k)) return ids.get(k)
  let peerId: PeerId | undefined
  try {
    const parsed = peerIdFromMultihash(Digest.decode(bytes))
    peerId = parsed.type === 'Ed25519' ? parsed : undefined
  } catch {
    peerId = undefined
  }
  if (ids.size >= KEY_CACHE_SIZE) ids.delete(ids.keys().next().value as string)
  ids.set(k, peerId)
  return peerId
}

/** The local node's keys: signing and decryption. */
export interface LocalKeys extends PeerKeys {
  ed25519Private: KeyObject
  x25519Private: KeyObject
}

export function localKeys (privateKey: Ed25519PrivateKey, peerId: PeerId): LocalKeys {
  const seed = privateKey.raw.subarray(0, 32)
  const edPub = privateKey.publicKey.raw
  const xSecret = ed25519.utils.toMontgomerySecret(seed)
  const remote = peerKeys(peerId)
  if (remote == null) throw new Error('local identity is not Ed25519')
  const x25519Private = createPrivateKey({
    key: { kty: 'OKP', crv: 'X25519', d: b64url(xSecret), x: b64url(remote.x25519Raw) },
    format: 'jwk'
  })
  return {
    ...remote,
    ed25519Private: createPrivateKey({ key: { kty: 'OKP', crv: 'Ed25519', d: b64url(seed), x: b64url(edPub) }, format: 'jwk' }),
    x25519Private
  }
}
