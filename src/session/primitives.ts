/**
 * The cryptographic functions the session scheme (scheme 2) is written in, named as Signal's
 * Double Ratchet and PQXDH specifications name them: GENERATE_DH, DH, KDF_RK_HE, KDF_CK, ENCRYPT,
 * HENCRYPT and their inverses. All run in OpenSSL through node:crypto (X25519, HKDF-SHA256,
 * HMAC-SHA256, AES-256-GCM); ML-KEM-768 is @noble/post-quantum's (kem.ts).
 *
 * Randomness comes from a `Random` the caller may pass, so that the test vectors in
 * docs/protocol.md can be reproduced; nodes use node:crypto's.
 */
import { createHmac, createCipheriv, createDecipheriv, createPrivateKey, createPublicKey, diffieHellman, hkdfSync, randomBytes as osRandomBytes } from 'node:crypto'
import { SessionError } from './errors.js'

export const KEY_LENGTH = 32
const GCM_NONCE_LENGTH = 12
const GCM_TAG_LENGTH = 16

/** Where random bytes come from. */
export interface Random {
  bytes(length: number): Uint8Array
}

export const osRandom: Random = { bytes: (length) => new Uint8Array(osRandomBytes(length)) }

/** An X25519 key pair, as raw bytes (the secret is the RFC 7748 scalar, before clamping). */
export interface DhKeyPair {
  secret: Uint8Array
  public: Uint8Array
}

function b64url (bytes: Uint8Array): string {
  return Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength).toString('base64url')
}

function privateKeyObject (secret: Uint8Array): ReturnType<typeof createPrivateKey> {
  // OpenSSL derives the public half itself when only `d` is given through PKCS8; JWK needs `x`,
  // so the secret goes in as PKCS8 DER: a fixed 16-byte prefix and the 32 secret bytes.
  return createPrivateKey({ key: Buffer.concat([X25519_PKCS8_PREFIX, secret]), format: 'der', type: 'pkcs8' })
}

const X25519_PKCS8_PREFIX = Buffer.from('302e020100300506032b656e04220420', 'hex')

/** GENERATE_DH: a fresh X25519 key pair. */
export function generateDh (random: Random = osRandom): DhKeyPair {
  const secret = random.bytes(KEY_LENGTH)
  return { secret, public: dhPublic(secret) }
}

/** The X25519 public key of a secret. */
export function dhPublic (secret: Uint8Array): Uint8Array {
  const jwk = createPublicKey(privateKeyObject(secret)).export({ format: 'jwk' })
  return new Uint8Array(Buffer.from(jwk.x ?? '', 'base64url'))
}

/**
 * DH: X25519(secret, public). Refuses a public key of the wrong length and one of low order
 * (an all-zero output, which anyone could compute).
 */
export function dh (secret: Uint8Array, publicKey: Uint8Array): Uint8Array {
  if (publicKey.byteLength !== KEY_LENGTH) throw new SessionError('malformed', 'an X25519 public key must be 32 bytes')
  let out: Uint8Array
  try {
    const pub = createPublicKey({ key: { kty: 'OKP', crv: 'X25519', x: b64url(publicKey) }, format: 'jwk' })
    out = new Uint8Array(diffieHellman({ privateKey: privateKeyObject(secret), publicKey: pub }))
  } catch {
    throw new SessionError('malformed', 'invalid X25519 public key')
  }
  let acc = 0
  for (const b of out) acc |= b
  if (acc === 0) throw new SessionError('malformed', 'low-order X25519 public key')
  return out
}

/** HKDF-SHA256. */
export function hkdf (ikm: Uint8Array, salt: Uint8Array, info: Uint8Array, length: number): Uint8Array {
  return new Uint8Array(hkdfSync('sha256', ikm, salt, info, length))
}

function hmac (key: Uint8Array, data: Uint8Array): Uint8Array {
  return new Uint8Array(createHmac('sha256', key).update(data).digest())
}

const RK_INFO = new TextEncoder().encode('pigeon-ratchet-rk-v1')
const MK_INFO = new TextEncoder().encode('pigeon-ratchet-mk-v1')
const CK_MESSAGE = Uint8Array.of(0x01)
const CK_CHAIN = Uint8Array.of(0x02)

/**
 * KDF_RK_HE(rk, dh_out): HKDF-SHA256 with the root key as salt and the DH output as input key
 * material; 96 bytes split into the new root key, a chain key and the next header key.
 */
export function kdfRk (rk: Uint8Array, dhOut: Uint8Array): { rk: Uint8Array, ck: Uint8Array, nhk: Uint8Array } {
  const out = hkdf(dhOut, rk, RK_INFO, 3 * KEY_LENGTH)
  return { rk: out.slice(0, 32), ck: out.slice(32, 64), nhk: out.slice(64, 96) }
}

/** KDF_CK(ck): the message key HMAC-SHA256(ck, 0x01) and the next chain key HMAC-SHA256(ck, 0x02). */
export function kdfCk (ck: Uint8Array): { ck: Uint8Array, mk: Uint8Array } {
  return { ck: hmac(ck, CK_CHAIN), mk: hmac(ck, CK_MESSAGE) }
}

function gcmSeal (key: Uint8Array, nonce: Uint8Array, plaintext: Uint8Array, ad: Uint8Array): Uint8Array {
  const cipher = createCipheriv('aes-256-gcm', key, nonce, { authTagLength: GCM_TAG_LENGTH })
  cipher.setAAD(ad)
  return new Uint8Array(Buffer.concat([cipher.update(plaintext), cipher.final(), cipher.getAuthTag()]))
}

/** AES-256-GCM open; undefined when the tag does not verify. */
function gcmOpen (key: Uint8Array, nonce: Uint8Array, sealed: Uint8Array, ad: Uint8Array): Uint8Array | undefined {
  if (sealed.byteLength < GCM_TAG_LENGTH) return undefined
  try {
    const decipher = createDecipheriv('aes-256-gcm', key, nonce, { authTagLength: GCM_TAG_LENGTH })
    decipher.setAAD(ad)
    decipher.setAuthTag(sealed.subarray(sealed.byteLength - GCM_TAG_LENGTH))
    return new Uint8Array(Buffer.concat([decipher.update(sealed.subarray(0, sealed.byteLength - GCM_TAG_LENGTH)), decipher.final()]))
  } catch {
    return undefined
  }
}

/**
 * ENCRYPT(mk, plaintext, ad): AES-256-GCM under a key and nonce that HKDF derives from the
 * message key (44 bytes: key, then nonce). A message key encrypts exactly one message, so the
 * derived nonce never repeats under its key.
 */
export function encrypt (mk: Uint8Array, plaintext: Uint8Array, ad: Uint8Array): Uint8Array {
  const kn = hkdf(mk, new Uint8Array(KEY_LENGTH), MK_INFO, KEY_LENGTH + GCM_NONCE_LENGTH)
  return gcmSeal(kn.subarray(0, KEY_LENGTH), kn.subarray(KEY_LENGTH), plaintext, ad)
}

/** DECRYPT(mk, ciphertext, ad); undefined when it does not authenticate. */
export function decrypt (mk: Uint8Array, ciphertext: Uint8Array, ad: Uint8Array): Uint8Array | undefined {
  const kn = hkdf(mk, new Uint8Array(KEY_LENGTH), MK_INFO, KEY_LENGTH + GCM_NONCE_LENGTH)
  return gcmOpen(kn.subarray(0, KEY_LENGTH), kn.subarray(KEY_LENGTH), ciphertext, ad)
}

/** Bytes HENCRYPT adds to a header: the nonce and the tag. */
export const HEADER_OVERHEAD = GCM_NONCE_LENGTH + GCM_TAG_LENGTH

/**
 * HENCRYPT(hk, header): AES-256-GCM under the header key with a random 96-bit nonce, written
 * before the ciphertext. A header key encrypts every header of one sending chain, hence the
 * random nonce.
 */
export function hencrypt (hk: Uint8Array, header: Uint8Array, random: Random = osRandom): Uint8Array {
  const nonce = random.bytes(GCM_NONCE_LENGTH)
  return new Uint8Array(Buffer.concat([nonce, gcmSeal(hk, nonce, header, new Uint8Array(0))]))
}

/** HDECRYPT(hk, encHeader); undefined when it does not authenticate under that key. */
export function hdecrypt (hk: Uint8Array, encHeader: Uint8Array): Uint8Array | undefined {
  if (encHeader.byteLength < HEADER_OVERHEAD) return undefined
  return gcmOpen(hk, encHeader.subarray(0, GCM_NONCE_LENGTH), encHeader.subarray(GCM_NONCE_LENGTH), new Uint8Array(0))
}

export function concatBytes (...parts: Uint8Array[]): Uint8Array {
  return new Uint8Array(Buffer.concat(parts))
}

export function equalBytes (a: Uint8Array, b: Uint8Array): boolean {
  return a.byteLength === b.byteLength && Buffer.compare(a, b) === 0
}
