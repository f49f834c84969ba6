/**
 * PQXDH (Signal's X3DH with ML-KEM-768, specification revision 3), and starting a session with
 * it: the handshake's secret becomes the Double Ratchet's first root key and header keys.
 *
 * Identity keys are the peers' Ed25519 keys (their peer ids); for the Diffie-Hellman steps they
 * are converted to X25519 with the birational map, as scheme 1 does (src/crypto/keys.ts).
 *
 *   DH1 = DH(IK_A, SPK_B)   DH2 = DH(EK_A, IK_B)   DH3 = DH(EK_A, SPK_B)   DH4 = DH(EK_A, OPK_B)
 *   (CT, SS) = ML-KEM-768.Encaps(PQPK_B)       PQPK_B: the one-time ML-KEM prekey if there is one
 *   SK = HKDF-SHA256(salt = 32 zero bytes, ikm = 32 0xFF bytes || DH1 || DH2 || DH3 [|| DH4] || SS,
 *                    info = "pigeon_PQXDH_CURVE25519_SHA-256_ML-KEM-768", 32 bytes)
 *   RK || HKa || NHKb = HKDF-SHA256(salt = 32 zero bytes, ikm = SK, info = "pigeon-session-init-v1", 96)
 *   AD = initiator peer id bytes || responder peer id bytes
 *
 * The initiator's ratchet starts from the responder's signed prekey (RatchetInitAliceHE with
 * RK, SPK_B, HKa, NHKb). The initiator's peer id travels sealed under a key derived from DH3, so
 * a relay that holds the first message cannot tell who sent it.
 */
import { SessionError } from './errors.js'
import { concatBytes, decrypt, dh, encrypt, generateDh, hkdf, KEY_LENGTH, osRandom, type Random } from './primitives.js'
import { checkBundle, kemDecapsulate, kemEncapsulate, type CheckedBundle, type PrekeySecrets } from './prekeys.js'
import { initInitiator, initResponder, ratchetDecrypt, ratchetEncrypt, type RatchetState } from './ratchet.js'
import { SessionInit } from './pb/session.js'
import { peerIdFromBytes, peerKeys, type LocalKeys, type PeerKeys } from '../crypto/keys.js'

const INFO_SK = new TextEncoder().encode('pigeon_PQXDH_CURVE25519_SHA-256_ML-KEM-768')
const INFO_INIT = new TextEncoder().encode('pigeon-session-init-v1')
const INFO_SENDER = new TextEncoder().encode('pigeon-session-sender-v1')
const F = new Uint8Array(KEY_LENGTH).fill(0xff)
const ZERO_SALT = new Uint8Array(KEY_LENGTH)
/** The first message of a session: a handshake plus a message of up to the DM body cap. */
export const MAX_INIT_BYTES = 40 * 1024

/** Local identity: its X25519 secret for the DH steps, its keys for the associated data. */
function x25519SecretOf (local: LocalKeys): Uint8Array {
  const jwk = local.x25519Private.export({ format: 'jwk' })
  return new Uint8Array(Buffer.from(jwk.d ?? '', 'base64url'))
}

interface SessionKeys { rk: Uint8Array, hka: Uint8Array, nhkb: Uint8Array }

function sessionKeys (dhs: Uint8Array[], ss: Uint8Array): SessionKeys {
  const sk = hkdf(concatBytes(F, ...dhs, ss), ZERO_SALT, INFO_SK, KEY_LENGTH)
  const out = hkdf(sk, ZERO_SALT, INFO_INIT, 3 * KEY_LENGTH)
  return { rk: out.slice(0, 32), hka: out.slice(32, 64), nhkb: out.slice(64, 96) }
}

function senderKey (dh3: Uint8Array, ephemeral: Uint8Array): Uint8Array {
  return hkdf(dh3, ephemeral, INFO_SENDER, KEY_LENGTH)
}

export function associatedData (initiator: PeerKeys, responder: PeerKeys): Uint8Array {
  return concatBytes(initiator.idBytes, responder.idBytes)
}

export interface StartedSession {
  state: RatchetState
  /** The encoded SessionInit to send. */
  init: Uint8Array
  ad: Uint8Array
}

/**
 * The initiator's side: a session with the owner of `bundle` (checked with checkBundle), and
 * its first message carrying `plaintext`.
 */
export function startSession (local: LocalKeys, bundle: CheckedBundle, plaintext: Uint8Array, options: { now: number, random?: Random }): StartedSession {
  const random = options.random ?? osRandom
  const ik = x25519SecretOf(local)
  const ek = generateDh(random)
  const spk = bundle.signedPrekey.publicKey
  const dh1 = dh(ik, spk)
  const dh2 = dh(ek.secret, bundle.owner.x25519Raw)
  const dh3 = dh(ek.secret, spk)
  const dhs = [dh1, dh2, dh3]
  if (bundle.oneTimePrekey != null) dhs.push(dh(ek.secret, bundle.oneTimePrekey.publicKey))
  const pq = bundle.pqOneTimePrekey ?? bundle.pqPrekey
  const kem = kemEncapsulate(pq.publicKey, random)
  const keys = sessionKeys(dhs, kem.secret)
  const ad = associatedData(local, bundle.owner)
  const first = ratchetEncrypt(initInitiator(keys.rk, spk, keys.hka, keys.nhkb, random), plaintext, ad, { now: options.now, random })
  const init = SessionInit.encode({
    ephemeral: ek.public as Uint8Array<ArrayBuffer>,
    sealedIdentity: encrypt(senderKey(dh3, ek.public), local.idBytes, ek.public) as Uint8Array<ArrayBuffer>,
    signedPrekeyId: bundle.signedPrekey.id,
    pqPrekeyId: pq.id,
    pqOneTime: bundle.pqOneTimePrekey != null,
    oneTimePrekeyId: bundle.oneTimePrekey?.id,
    kemCiphertext: kem.ciphertext as Uint8Array<ArrayBuffer>,
    header: first.header as Uint8Array<ArrayBuffer>,
    ciphertext: first.ciphertext as Uint8Array<ArrayBuffer>
  })
  return { state: first.state, init, ad }
}

export interface AcceptedSession {
  state: RatchetState
  /** Who started it (authenticated by DH1: only the holder of its identity key could). */
  peer: PeerKeys
  plaintext: Uint8Array
  ad: Uint8Array
  /** The one-time prekeys it used: the caller deletes them in the same batch as the session. */
  used: { oneTimePrekeyId?: number, pqOneTimePrekeyId?: number }
  /** The handshake's ephemeral key: a second handshake with it is a replay. */
  ephemeral: Uint8Array
}

export function decodeInit (bytes: Uint8Array): SessionInit {
  if (bytes.byteLength > MAX_INIT_BYTES) throw new SessionError('malformed', `a session's first message is at most ${MAX_INIT_BYTES} bytes`)
  try {
    return SessionInit.decode(bytes)
  } catch {
    throw new SessionError('malformed', 'the session\'s first message does not decode')
  }
}

/**
 * The responder's side. Throws SessionError: 'unknown-prekey' for a prekey id it does not hold
 * (a one-time prekey used before included), 'malformed', 'decrypt-failed' (wrong keys, or a
 * tampered handshake). It deletes nothing: the caller deletes `used` with the new session.
 */
export function acceptSession (local: LocalKeys, initBytes: Uint8Array, secrets: PrekeySecrets, options: { now: number, random?: Random }): AcceptedSession {
  const init = decodeInit(initBytes)
  if (init.ephemeral.byteLength !== KEY_LENGTH) throw new SessionError('malformed', 'the ephemeral key must be 32 bytes')
  const spk = secrets.signedPrekey(init.signedPrekeyId)
  if (spk == null) throw new SessionError('unknown-prekey', `no signed prekey ${init.signedPrekeyId}`)
  const pq = secrets.pqPrekey(init.pqPrekeyId, init.pqOneTime)
  if (pq == null) throw new SessionError('unknown-prekey', `no ${init.pqOneTime ? 'one-time' : 'last-resort'} ML-KEM prekey ${init.pqPrekeyId}`)
  const opk = init.oneTimePrekeyId == null ? undefined : secrets.oneTimePrekey(init.oneTimePrekeyId)
  if (init.oneTimePrekeyId != null && opk == null) throw new SessionError('unknown-prekey', `no one-time prekey ${init.oneTimePrekeyId} (used before, or never made)`)

  const dh3 = dh(spk.secret, init.ephemeral)
  const idBytes = decrypt(senderKey(dh3, init.ephemeral), init.sealedIdentity, init.ephemeral)
  if (idBytes == null) throw new SessionError('decrypt-failed', 'the sender\'s identity does not open')
  const sender = peerIdFromBytes(idBytes)
  const peer = sender == null ? undefined : peerKeys(sender)
  if (peer == null) throw new SessionError('malformed', 'the sender is not an Ed25519 peer id')

  const ik = x25519SecretOf(local)
  const dhs = [dh(spk.secret, peer.x25519Raw), dh(ik, init.ephemeral), dh3]
  if (opk != null) dhs.push(dh(opk.secret, init.ephemeral))
  const keys = sessionKeys(dhs, kemDecapsulate(init.kemCiphertext, pq))
  const ad = associatedData(peer, local)
  let first: { state: RatchetState, plaintext: Uint8Array }
  try {
    first = ratchetDecrypt(initResponder(keys.rk, spk, keys.hka, keys.nhkb), init.header, init.ciphertext, ad, options)
  } catch (err) {
    // Keys that do not match the first message's: a tampered or misdirected handshake.
    if (err instanceof SessionError && err.reason === 'unknown-session') throw new SessionError('decrypt-failed', 'the handshake does not match its first message')
    throw err
  }
  return {
    state: first.state,
    peer,
    plaintext: first.plaintext,
    ad,
    used: { oneTimePrekeyId: init.oneTimePrekeyId, pqOneTimePrekeyId: init.pqOneTime ? init.pqPrekeyId : undefined },
    ephemeral: init.ephemeral
  }
}

export { checkBundle }
