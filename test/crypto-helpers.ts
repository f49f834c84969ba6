/**
 * Keys, ids and bodies for tests, and an independent implementation of sealing scheme 1.
 *
 * The scheme is deliberately re-implemented here from docs/protocol.md (section 6) rather than
 * by calling src/crypto/envelope.ts: the tests check the code against the spec, not against
 * itself, and can build envelopes that decrypt but carry a forged or malformed Sealed inside.
 */
import { diffieHellman, generateKeyPairSync, hkdfSync, randomBytes, sign } from 'node:crypto'
import { generateKeyPair } from '@libp2p/crypto/keys'
import { peerIdFromPrivateKey } from '@libp2p/peer-id'
import { xchacha20poly1305 } from '@noble/ciphers/chacha.js'
import { localKeys, type LocalKeys, type PeerKeys } from '../src/crypto/keys.js'
import { Body, Sealed, type Envelope } from '../src/wire/pb/wire.js'
import { MESSAGE_ID_LENGTH, SCHEME_X25519_XCHACHA } from '../src/constants.js'
import { BODY_KIND } from '../src/wire/constants.js'

/** HKDF info (docs/protocol.md, section 6.3). */
export const HKDF_INFO = Buffer.from('pigeon/dm/1 xchacha20poly1305')
/** Prefix of the sender's signature input (docs/protocol.md, section 6.6). */
export const SIGNATURE_CONTEXT = Buffer.from('pigeon-dm-sig-v1\0')

/** A fresh Ed25519 identity. */
export async function newKeys (): Promise<LocalKeys> {
  const privateKey = await generateKeyPair('Ed25519')
  return localKeys(privateKey, peerIdFromPrivateKey(privateKey))
}

/** A random message id. */
export function newId (): Uint8Array<ArrayBuffer> {
  return new Uint8Array(randomBytes(MESSAGE_ID_LENGTH))
}

/** An encoded text Body, with a fixed timestamp unless one is given. */
export function textBody (text: string, timestamp = 1_700_000_000_000n): Uint8Array<ArrayBuffer> {
  return Body.encode({ kind: BODY_KIND.TEXT, timestamp, text, refs: [] })
}

/** The header: the AEAD's associated data and part of the signature input (section 6.4). */
export function headerBytes (id: Uint8Array, recipient: Uint8Array, ephemeralKey: Uint8Array): Buffer {
  return Buffer.concat([Uint8Array.of(SCHEME_X25519_XCHACHA), id, Uint8Array.of(recipient.byteLength), recipient, ephemeralKey])
}

/** The signature a sender makes over an envelope header and body (section 6.6). */
export function signEnvelope (signer: LocalKeys, id: Uint8Array, recipient: PeerKeys, ephemeralKey: Uint8Array, body: Uint8Array): Uint8Array<ArrayBuffer> {
  return new Uint8Array(sign(null, Buffer.concat([SIGNATURE_CONTEXT, headerBytes(id, recipient.idBytes, ephemeralKey), body]), signer.ed25519Private))
}

/** A Sealed plaintext with every field chosen by the caller. */
export function sealedOf (sender: Uint8Array, signature: Uint8Array, body: Uint8Array): Uint8Array {
  return Sealed.encode({ sender: sender as Uint8Array<ArrayBuffer>, signature: signature as Uint8Array<ArrayBuffer>, body: body as Uint8Array<ArrayBuffer> })
}

/**
 * Encrypts arbitrary plaintext for `recipient` exactly as a sender following section 6 would,
 * so the envelope passes the AEAD and the test controls everything inside it. `makePlaintext`
 * receives the ephemeral key because an honest signature covers it.
 */
export function sealRaw (recipient: PeerKeys, id: Uint8Array<ArrayBuffer>, makePlaintext: (ephemeralKey: Uint8Array) => Uint8Array): Envelope {
  const eph = generateKeyPairSync('x25519')
  const ephemeralKey = new Uint8Array(Buffer.from(eph.publicKey.export({ format: 'jwk' }).x ?? '', 'base64url'))
  const shared = diffieHellman({ privateKey: eph.privateKey, publicKey: recipient.x25519 })
  const key = new Uint8Array(hkdfSync('sha256', shared, Buffer.concat([ephemeralKey, recipient.x25519Raw]), HKDF_INFO, 32))
  const nonce = new Uint8Array(randomBytes(24))
  const ciphertext = xchacha20poly1305(key, nonce, headerBytes(id, recipient.idBytes, ephemeralKey)).encrypt(makePlaintext(ephemeralKey))
  return {
    scheme: SCHEME_X25519_XCHACHA,
    id,
    recipient: recipient.idBytes as Uint8Array<ArrayBuffer>,
    ephemeralKey,
    nonce,
    ciphertext: ciphertext as Uint8Array<ArrayBuffer>
  }
}
