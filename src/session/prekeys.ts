/**
 * Prekeys for PQXDH: made and signed by their owner, checked by whoever starts a session.
 *
 * - The X25519 signed prekey (kind 1) and the ML-KEM-768 last-resort prekey (kind 2) are
 *   medium-term: they go in the owner's card and are rotated on a schedule.
 * - One-time prekeys, X25519 (unsigned, as in X3DH) and ML-KEM-768 (kind 3, signed, as in
 *   PQXDH), are handed out by the owner's relays, each at most once.
 *
 * A signature is Ed25519 by the identity key over
 * "pigeon-prekey-v1\0" || kind (1 byte) || id (uint32, big-endian) || public key.
 * Secrets are kept as what regenerates them: the X25519 scalar, and the 64-byte ML-KEM seed.
 */
import { sign, verify, type KeyObject } from 'node:crypto'
import { ml_kem768 as mlKem } from '@noble/post-quantum/ml-kem.js'
import { SessionError } from './errors.js'
import { generateDh, KEY_LENGTH, osRandom, concatBytes, type DhKeyPair, type Random } from './primitives.js'
import { PrekeyBundle, type SignedPrekey } from './pb/session.js'
import { peerIdFromBytes, peerKeys, type PeerKeys } from '../crypto/keys.js'

export const PREKEY_KIND = { SIGNED: 1, PQ_LAST_RESORT: 2, PQ_ONE_TIME: 3 } as const
export type PrekeyKind = typeof PREKEY_KIND[keyof typeof PREKEY_KIND]

export const KEM_PUBLIC_KEY_LENGTH = 1184
export const KEM_CIPHERTEXT_LENGTH = 1088
const KEM_SEED_LENGTH = 64
const SIGNATURE_LENGTH = 64
const SIGNATURE_CONTEXT = new TextEncoder().encode('pigeon-prekey-v1\0')
/** A bundle: the identity, two signed prekeys and two one-time ones, with room for framing. */
export const MAX_BUNDLE_BYTES = 4096

/** An ML-KEM-768 key pair, kept as its seed. */
export interface KemKeyPair {
  seed: Uint8Array
  public: Uint8Array
}

export function generateKem (random: Random = osRandom): KemKeyPair {
  const seed = random.bytes(KEM_SEED_LENGTH)
  return { seed, public: mlKem.keygen(seed).publicKey }
}

export function kemSecretKey (pair: Pick<KemKeyPair, 'seed'>): Uint8Array {
  return mlKem.keygen(pair.seed).secretKey
}

export function kemEncapsulate (publicKey: Uint8Array, random: Random = osRandom): { ciphertext: Uint8Array, secret: Uint8Array } {
  if (publicKey.byteLength !== KEM_PUBLIC_KEY_LENGTH) throw new SessionError('malformed', `an ML-KEM-768 public key is ${KEM_PUBLIC_KEY_LENGTH} bytes`)
  try {
    const { cipherText, sharedSecret } = mlKem.encapsulate(publicKey, random.bytes(32))
    return { ciphertext: cipherText, secret: sharedSecret }
  } catch {
    throw new SessionError('malformed', 'invalid ML-KEM-768 public key')
  }
}

/** ML-KEM decapsulation; a wrong ciphertext yields an unrelated secret (implicit rejection). */
export function kemDecapsulate (ciphertext: Uint8Array, pair: Pick<KemKeyPair, 'seed'>): Uint8Array {
  if (ciphertext.byteLength !== KEM_CIPHERTEXT_LENGTH) throw new SessionError('malformed', `an ML-KEM-768 ciphertext is ${KEM_CIPHERTEXT_LENGTH} bytes`)
  return mlKem.decapsulate(ciphertext, kemSecretKey(pair))
}

function signedBytes (kind: PrekeyKind, id: number, publicKey: Uint8Array): Uint8Array {
  const idBytes = new Uint8Array(4)
  new DataView(idBytes.buffer).setUint32(0, id)
  return concatBytes(SIGNATURE_CONTEXT, Uint8Array.of(kind), idBytes, publicKey)
}

/** A prekey signed by the identity key `signer` (an Ed25519 private KeyObject). */
export function signPrekey (signer: KeyObject, kind: PrekeyKind, id: number, publicKey: Uint8Array): SignedPrekey {
  if (!Number.isInteger(id) || id < 0 || id > 0xffffffff) throw new RangeError('a prekey id is a uint32')
  return { id, publicKey: publicKey as Uint8Array<ArrayBuffer>, signature: new Uint8Array(sign(null, signedBytes(kind, id, publicKey), signer)) }
}

/** Throws SessionError ('bad-signature' or 'malformed') unless `owner` signed this prekey of this kind. */
export function checkPrekey (owner: PeerKeys, kind: PrekeyKind, prekey: SignedPrekey | undefined): SignedPrekey {
  if (prekey == null) throw new SessionError('malformed', 'a signed prekey is missing')
  const length = kind === PREKEY_KIND.SIGNED ? KEY_LENGTH : KEM_PUBLIC_KEY_LENGTH
  if (prekey.publicKey.byteLength !== length || prekey.signature.byteLength !== SIGNATURE_LENGTH) throw new SessionError('malformed', 'a signed prekey has the wrong length')
  if (!verify(null, signedBytes(kind, prekey.id, prekey.publicKey), owner.ed25519, prekey.signature)) {
    throw new SessionError('bad-signature', 'a prekey is not signed by its owner\'s identity key')
  }
  return prekey
}

/** A bundle whose every signature was checked, for the peer it names. */
export interface CheckedBundle {
  owner: PeerKeys
  signedPrekey: SignedPrekey
  pqPrekey: SignedPrekey
  oneTimePrekey?: { id: number, publicKey: Uint8Array }
  pqOneTimePrekey?: SignedPrekey
}

/**
 * Decodes and checks a bundle: size, every length, every signature. `expected`, when given, is
 * the peer the bundle must belong to.
 */
export function checkBundle (bytes: Uint8Array, expected?: PeerKeys): CheckedBundle {
  if (bytes.byteLength > MAX_BUNDLE_BYTES) throw new SessionError('malformed', `a prekey bundle is at most ${MAX_BUNDLE_BYTES} bytes`)
  let bundle: PrekeyBundle
  try {
    bundle = PrekeyBundle.decode(bytes)
  } catch {
    throw new SessionError('malformed', 'the prekey bundle does not decode')
  }
  const peer = peerIdFromBytes(bundle.identity)
  const owner = peer == null ? undefined : peerKeys(peer)
  if (owner == null) throw new SessionError('malformed', 'the prekey bundle does not name an Ed25519 peer id')
  if (expected != null && !owner.peerId.equals(expected.peerId)) throw new SessionError('malformed', 'the prekey bundle is another peer\'s')
  const checked: CheckedBundle = {
    owner,
    signedPrekey: checkPrekey(owner, PREKEY_KIND.SIGNED, bundle.signedPrekey),
    pqPrekey: checkPrekey(owner, PREKEY_KIND.PQ_LAST_RESORT, bundle.pqPrekey)
  }
  if (bundle.oneTimePrekey != null) {
    if (bundle.oneTimePrekey.publicKey.byteLength !== KEY_LENGTH) throw new SessionError('malformed', 'a one-time prekey has the wrong length')
    checked.oneTimePrekey = bundle.oneTimePrekey
  }
  if (bundle.pqOneTimePrekey != null) checked.pqOneTimePrekey = checkPrekey(owner, PREKEY_KIND.PQ_ONE_TIME, bundle.pqOneTimePrekey)
  return checked
}

/** The secret halves a responder keeps, by id; a one-time prekey is gone once used. */
export interface PrekeySecrets {
  signedPrekey(id: number): DhKeyPair | undefined
  pqPrekey(id: number, oneTime: boolean): KemKeyPair | undefined
  oneTimePrekey(id: number): DhKeyPair | undefined
}

/** A fresh set of one-time prekeys (X25519 and ML-KEM) with ids from `firstId`, the ML-KEM ones signed. */
export function generateOneTimePrekeys (signer: KeyObject, firstId: number, count: number, random: Random = osRandom): { x25519: Array<{ id: number, pair: DhKeyPair }>, kem: Array<{ id: number, pair: KemKeyPair, signed: SignedPrekey }> } {
  const x25519 = []
  const kem = []
  for (let i = 0; i < count; i++) {
    const id = (firstId + i) >>> 0
    x25519.push({ id, pair: generateDh(random) })
    const pair = generateKem(random)
    kem.push({ id, pair, signed: signPrekey(signer, PREKEY_KIND.PQ_ONE_TIME, id, pair.public) })
  }
  return { x25519, kem }
}
