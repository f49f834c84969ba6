/**
 * Safety numbers: 60 digits two people compare out of band (in person, or over a channel they
 * trust) to know that neither node talks to an impostor. Both sides compute the same number.
 *
 * It is Signal's numeric fingerprint (NumericFingerprintGenerator, version 0), on pigeon's
 * identities: for each peer,
 *
 *   h = SHA-512(u16be 0 || identity public key || peer id string)
 *   5,200 times: h = SHA-512(h || identity public key)
 *   30 digits: the first 30 bytes of h as six u40be numbers, each mod 100,000, five digits each
 *
 * where the identity public key is the 32-byte Ed25519 key the peer id embeds. The safety number
 * is the two 30-digit halves in ascending order, so it does not depend on who computes it. A
 * half has about 100 bits; the iterations make each try at a new identity whose half matches a
 * given one cost 5,200 hashes more (Signal's figure, kept).
 */
import { createHash } from 'node:crypto'
import type { PeerId } from '@libp2p/interface'

const VERSION = 0
const ITERATIONS = 5200
const CHUNKS = 6
const CHUNK_BYTES = 5
/** What a QR code of the safety number holds: this prefix and the 60 digits. */
export const SAFETY_QR_PREFIX = 'pigeon-safety:0:'

function half (peer: PeerId): string {
  const key = peer.publicKey?.raw
  if (key == null) throw new Error('a safety number needs a peer id that embeds its key')
  let h = createHash('sha512').update(Uint8Array.of(VERSION >> 8, VERSION & 0xff)).update(key).update(peer.toString()).digest()
  for (let i = 0; i < ITERATIONS; i++) h = createHash('sha512').update(h).update(key).digest()
  let out = ''
  for (let c = 0; c < CHUNKS; c++) {
    const n = h.readUIntBE(c * CHUNK_BYTES, CHUNK_BYTES)
    out += (n % 100_000).toString().padStart(5, '0')
  }
  return out
}

export interface SafetyNumber {
  /** 60 digits. */
  digits: string
  /** The digits in 12 groups of 5, as shown. */
  groups: string[]
  /** What a QR code shows, for a scanner to compare. */
  qr: string
}

export function safetyNumber (a: PeerId, b: PeerId): SafetyNumber {
  const digits = [half(a), half(b)].sort().join('')
  return { digits, groups: digits.match(/\d{5}/g) ?? [], qr: SAFETY_QR_PREFIX + digits }
}
