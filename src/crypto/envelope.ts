/**
 * Sealing scheme 1: a message sealed for one recipient and signed by its sender.
 *
 *   ephemeral X25519 key pair (e, E); recipient's X25519 key R, derived from its Ed25519 identity
 *   shared = X25519(e, R)
 *   key    = HKDF-SHA256(ikm = shared, salt = E || R, info = "pigeon/dm/1 xchacha20poly1305", 32)
 *   aad    = header (scheme, id, recipient, E)
 *   ciphertext = XChaCha20-Poly1305(key, nonce, aad, Sealed{ sender, signature, body })
 *
 * The sender's identity and signature travel inside the ciphertext, so a relay that stores the
 * envelope sees only the recipient and an id. The signature covers the header and the body,
 * which binds it to this recipient: a recipient cannot re-seal a signed message to a third party
 * as if the sender had addressed it there. docs/protocol.md gives the exact bytes.
 */
import { diffieHellman, generateKeyPairSync, hkdfSync, randomBytes, sign, verify } from 'node:crypto'
import { xchacha20poly1305 } from '@noble/ciphers/chacha.js'
import { Envelope, Sealed, Body } from '../wire/pb/wire.js'
import { MESSAGE_ID_LENGTH, SCHEME_X25519_XCHACHA } from '../constants.js'
import { EnvelopeRejectedError } from '../errors.js'
import { peerIdFromBytes, peerKeys, x25519PublicKeyObject, type LocalKeys, type PeerKeys } from './keys.js'
import type { PeerId } from '@libp2p/interface'

const HKDF_INFO = new TextEncoder().encode('pigeon/dm/1 xchacha20poly1305')
const SIGNATURE_CONTEXT = new TextEncoder().encode('pigeon-dm-sig-v1\0')
const X25519_KEY_LENGTH = 32
const NONCE_LENGTH = 24
/** A read receipt may name at most this many messages: bounds what one envelope can touch. */
export const MAX_RECEIPT_REFS = 1024

/** Why an envelope was refused; REJECT_REASON_CODES (src/wire/constants.ts) gives each its wire code. */
export type RejectReason = 'malformed' | 'wrong-recipient' | 'bad-signature' | 'unsupported-scheme' | 'decrypt-failed' | 'too-large' | 'sender-mismatch' | 'unsupported-kind'

export interface OpenedEnvelope {
  sender: PeerId
  body: Body
}

function concat (parts: Uint8Array[]): Uint8Array {
  return Buffer.concat(parts)
}

/** The authenticated header: scheme (1 byte), id, recipient length (1 byte), recipient, ephemeral key. */
function header (scheme: number, id: Uint8Array, recipient: Uint8Array, ephemeralKey: Uint8Array): Uint8Array {
  return concat([Uint8Array.of(scheme), id, Uint8Array.of(recipient.byteLength), recipient, ephemeralKey])
}

function deriveKey (shared: Uint8Array, ephemeralKey: Uint8Array, recipientX25519: Uint8Array): Uint8Array {
  return new Uint8Array(hkdfSync('sha256', shared, concat([ephemeralKey, recipientX25519]), HKDF_INFO, 32))
}

function isAllZero (bytes: Uint8Array): boolean {
  let acc = 0
  for (const b of bytes) acc |= b
  return acc === 0
}

/** Seals `body` (an encoded Body) for `recipient`, signed by `local`. */
export function seal (local: LocalKeys, recipient: PeerKeys, id: Uint8Array, body: Uint8Array): Envelope {
  const eph = generateKeyPairSync('x25519')
  const ephemeralKey = new Uint8Array(Buffer.from(eph.publicKey.export({ format: 'jwk' }).x ?? '', 'base64url'))
  const shared = diffieHellman({ privateKey: eph.privateKey, publicKey: recipient.x25519 })
  const key = deriveKey(shared, ephemeralKey, recipient.x25519Raw)
  const head = header(SCHEME_X25519_XCHACHA, id, recipient.idBytes, ephemeralKey)
  const signature = sign(null, concat([SIGNATURE_CONTEXT, head, body]), local.ed25519Private)
  const plaintext = Sealed.encode({ sender: local.idBytes as Uint8Array<ArrayBuffer>, signature, body: body as Uint8Array<ArrayBuffer> })
  const nonce = randomBytes(NONCE_LENGTH)
  const ciphertext = xchacha20poly1305(key, nonce, head).encrypt(plaintext)
  return {
    scheme: SCHEME_X25519_XCHACHA,
    id: id as Uint8Array<ArrayBuffer>,
    recipient: recipient.idBytes as Uint8Array<ArrayBuffer>,
    ephemeralKey: ephemeralKey as Uint8Array<ArrayBuffer>,
    nonce: new Uint8Array(nonce),
    ciphertext: ciphertext as Uint8Array<ArrayBuffer>
  }
}

function equalBytes (a: Uint8Array, b: Uint8Array): boolean {
  return a.byteLength === b.byteLength && Buffer.compare(a, b) === 0
}

/**
 * Opens an envelope addressed to `local`. Throws EnvelopeRejectedError with the reason when the
 * envelope is not for this node, does not decrypt, or its signature does not verify.
 */
export function open (local: LocalKeys, env: Envelope): OpenedEnvelope {
  if (env.scheme !== SCHEME_X25519_XCHACHA) throw new EnvelopeRejectedError('unsupported-scheme', `unsupported sealing scheme ${env.scheme}`)
  if (env.id.byteLength !== MESSAGE_ID_LENGTH || env.ephemeralKey.byteLength !== X25519_KEY_LENGTH || env.nonce.byteLength !== NONCE_LENGTH) {
    throw new EnvelopeRejectedError('malformed', 'envelope field has the wrong length')
  }
  if (!equalBytes(env.recipient, local.idBytes)) throw new EnvelopeRejectedError('wrong-recipient', 'envelope is addressed to another peer')

  let shared: Uint8Array
  try {
    shared = diffieHellman({ privateKey: local.x25519Private, publicKey: x25519PublicKeyObject(env.ephemeralKey) })
  } catch {
    throw new EnvelopeRejectedError('malformed', 'invalid ephemeral key')
  }
  // A low-order ephemeral key gives an all-zero secret that anyone could compute.
  if (isAllZero(shared)) throw new EnvelopeRejectedError('malformed', 'low-order ephemeral key')

  const key = deriveKey(shared, env.ephemeralKey, local.x25519Raw)
  const head = header(env.scheme, env.id, env.recipient, env.ephemeralKey)
  let plaintext: Uint8Array
  try {
    plaintext = xchacha20poly1305(key, env.nonce, head).decrypt(env.ciphertext)
  } catch {
    throw new EnvelopeRejectedError('decrypt-failed', 'envelope does not decrypt')
  }

  let sealed: Sealed
  try {
    sealed = Sealed.decode(plaintext)
  } catch {
    throw new EnvelopeRejectedError('malformed', 'sealed content does not decode')
  }
  const sender = peerIdFromBytes(sealed.sender)
  const senderKeys = sender == null ? undefined : peerKeys(sender)
  if (sender == null || senderKeys == null) throw new EnvelopeRejectedError('malformed', 'sender is not an Ed25519 peer id')
  if (!verify(null, concat([SIGNATURE_CONTEXT, head, sealed.body]), senderKeys.ed25519, sealed.signature)) {
    throw new EnvelopeRejectedError('bad-signature', 'sender signature does not verify')
  }
  let body: Body
  try {
    body = Body.decode(sealed.body, { limits: { refs: MAX_RECEIPT_REFS } })
  } catch {
    throw new EnvelopeRejectedError('malformed', 'message body does not decode')
  }
  return { sender, body }
}
