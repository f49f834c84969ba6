/**
 * The cryptographic functions the session scheme (scheme 2) is written in, named as Signal's
 * Double Ratchet and PQXDH specifications name them: GENERATE_DH, DH, KDF_RK_HE, KDF_CK, ENCRYPT,
 * HENCRYPT and their inverses. X25519 and HKDF-SHA256 run in OpenSSL through node:crypto;
 * HMAC-SHA256 and (X)ChaCha20-Poly1305 in @noble/*, which for inputs this small costs a third of
 * what creating an OpenSSL context does (measured: HMAC 4.5 against 13 µs, a 266-byte AEAD seal
 * 17 against 26 µs; docs/architecture.md, section 14). ML-KEM-768 is @noble/post-quantum's
 * (prekeys.ts).
 *
 * Randomness comes from a `Random` the caller may pass, so that the test vectors in
 * docs/protocol.md can be reproduced; nodes use node:crypto's.
 */
import { createPrivateKey, createPublicKey, diffieHellman, generateKeyPairSync, hkdfSync, randomBytes as osRandomBytes, type KeyObject } from 'node:crypto'
import { chacha20poly1305, xchacha20poly1305 } from '@noble/ciphers/chacha.js'
import { hmac as nobleHmac } from '@noble/hashes/hmac.js'
import { sha256 } from '@noble/hashes/sha2.js'
import { SessionError } from './errors.js'

export const KEY_LENGTH = 32
const TAG_LENGTH = 16
const HEADER_NONCE_LENGTH = 24
/** A message key is used for one message only, so its nonce can be fixed. */
const MESSAGE_NONCE = new Uint8Array(12)

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

/**
 * OpenSSL key objects of the keys in use, by the very arrays that hold them. Importing a key
 * costs more than the X25519 operation (about 47 µs for a private key, 21 µs for a public one,
 * against 34 µs), and a ratchet step uses each key twice; sessions share their key arrays
 * between successive states, so the objects live as long as some state holds the key.
 */
const privateObjects = new WeakMap<Uint8Array, KeyObject>()
const publicObjects = new WeakMap<Uint8Array, KeyObject>()

function privateKeyObject (secret: Uint8Array): KeyObject {
  let key = privateObjects.get(secret)
  if (key == null) {
    // OpenSSL derives the public half itself when only `d` is given through PKCS8; JWK needs `x`,
    // so the secret goes in as PKCS8 DER: a fixed 16-byte prefix and the 32 secret bytes.
    key = createPrivateKey({ key: Buffer.concat([X25519_PKCS8_PREFIX, secret]), format: 'der', type: 'pkcs8' })
    privateObjects.set(secret, key)
  }
  return key
}

function publicKeyObject (publicKey: Uint8Array): KeyObject {
  let key = publicObjects.get(publicKey)
  if (key == null) {
    key = createPublicKey({ key: { kty: 'OKP', crv: 'X25519', x: b64url(publicKey) }, format: 'jwk' })
    publicObjects.set(publicKey, key)
  }
  return key
}

const X25519_PKCS8_PREFIX = Buffer.from('302e020100300506032b656e04220420', 'hex')

/** GENERATE_DH: a fresh X25519 key pair (from `random` when given one, as tests do; else OpenSSL's). */
export function generateDh (random: Random = osRandom): DhKeyPair {
  if (random !== osRandom) {
    const secret = random.bytes(KEY_LENGTH)
    return { secret, public: dhPublic(secret) }
  }
  const pair = generateKeyPairSync('x25519')
  const secret = new Uint8Array(pair.privateKey.export({ format: 'der', type: 'pkcs8' }).subarray(X25519_PKCS8_PREFIX.byteLength))
  const publicKey = new Uint8Array(Buffer.from(pair.publicKey.export({ format: 'jwk' }).x ?? '', 'base64url'))
  privateObjects.set(secret, pair.privateKey)
  publicObjects.set(publicKey, pair.publicKey)
  return { secret, public: publicKey }
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
    out = new Uint8Array(diffieHellman({ privateKey: privateKeyObject(secret), publicKey: publicKeyObject(publicKey) }))
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

const RK_INFO = new TextEncoder().encode('pigeon-ratchet-rk-v1')
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
  // One keyed HMAC, cloned: the key is padded and hashed in once for both outputs.
  const keyed = nobleHmac.create(sha256, ck)
  const forChain = keyed.clone()
  return { ck: forChain.update(CK_CHAIN).digest(), mk: keyed.update(CK_MESSAGE).digest() }
}

/**
 * ENCRYPT(mk, p, ad): ChaCha20-Poly1305 (RFC 8439) with the message key as key and a nonce of 12
 * zero bytes. A message key encrypts exactly one message, so the key and nonce pair never repeats.
 */
export function encrypt (mk: Uint8Array, plaintext: Uint8Array, ad: Uint8Array): Uint8Array {
  return chacha20poly1305(mk, MESSAGE_NONCE, ad).encrypt(plaintext)
}

/** DECRYPT(mk, ciphertext, ad); undefined when it does not authenticate. */
export function decrypt (mk: Uint8Array, ciphertext: Uint8Array, ad: Uint8Array): Uint8Array | undefined {
  if (ciphertext.byteLength < TAG_LENGTH) return undefined
  try {
    return chacha20poly1305(mk, MESSAGE_NONCE, ad).decrypt(ciphertext)
  } catch {
    return undefined
  }
}

/** Bytes HENCRYPT adds to a header: the nonce and the tag. */
export const HEADER_OVERHEAD = HEADER_NONCE_LENGTH + TAG_LENGTH

/**
 * HENCRYPT(hk, header): XChaCha20-Poly1305 under the header key with a random 24-byte nonce,
 * written before the ciphertext. A header key encrypts every header of one sending chain, hence
 * the random (and long) nonce.
 */
export function hencrypt (hk: Uint8Array, header: Uint8Array, random: Random = osRandom): Uint8Array {
  const nonce = random.bytes(HEADER_NONCE_LENGTH)
  return concatBytes(nonce, xchacha20poly1305(hk, nonce).encrypt(header))
}

/** HDECRYPT(hk, encHeader); undefined when it does not authenticate under that key. */
export function hdecrypt (hk: Uint8Array, encHeader: Uint8Array): Uint8Array | undefined {
  if (encHeader.byteLength < HEADER_OVERHEAD) return undefined
  try {
    return xchacha20poly1305(hk, encHeader.subarray(0, HEADER_NONCE_LENGTH)).decrypt(encHeader.subarray(HEADER_NONCE_LENGTH))
  } catch {
    return undefined
  }
}

export function concatBytes (...parts: Uint8Array[]): Uint8Array {
  return new Uint8Array(Buffer.concat(parts))
}

export function equalBytes (a: Uint8Array, b: Uint8Array): boolean {
  return a.byteLength === b.byteLength && Buffer.compare(a, b) === 0
}
