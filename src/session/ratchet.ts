/**
 * The Double Ratchet with header encryption, as Signal's specification (revision 4, section
 * 4 "Double Ratchet with header encryption") gives it, on the functions of primitives.ts.
 *
 * Every function is pure: it takes a state and returns a new one, leaving its argument as it
 * was (no key array in a state is ever written into; a new state shares the ones it did not
 * replace). A message that is refused (a header that opens under no key, a body that does not
 * authenticate, a counter too far ahead) therefore changes nothing, and the caller writes the
 * returned state in the same batch as the message it belongs to, or not at all.
 *
 * Bounds: a message may be at most MAX_SKIP ahead of the last one received in its chain; at most
 * MAX_SKIPPED_KEYS keys of skipped messages are kept per session (the oldest go first), each for
 * at most SKIPPED_KEY_TTL_MS.
 */
import { SessionError } from './errors.js'
import { concatBytes, decrypt, dh, encrypt, generateDh, hdecrypt, hencrypt, kdfCk, kdfRk, KEY_LENGTH, osRandom, type DhKeyPair, type Random } from './primitives.js'

/** How far ahead of the last message received in a chain a message may be. */
export const MAX_SKIP = 1000
/** Keys of skipped messages kept per session. */
export const MAX_SKIPPED_KEYS = 2000
/** How long the key of a skipped message is kept: as long as a relay holds mail. */
export const SKIPPED_KEY_TTL_MS = 30 * 24 * 60 * 60_000
/** A header: the sender's ratchet public key, PN and N (both big-endian uint32). */
export const HEADER_LENGTH = KEY_LENGTH + 8

export interface SkippedKey {
  /** The header key of the chain the message was in. */
  hk: Uint8Array
  n: number
  mk: Uint8Array
  /** When it was skipped (ms since the epoch). */
  at: number
}

/** The state of one session, named as in the specification. */
export interface RatchetState {
  dhs: DhKeyPair
  dhr?: Uint8Array
  rk: Uint8Array
  cks?: Uint8Array
  ckr?: Uint8Array
  hks?: Uint8Array
  hkr?: Uint8Array
  nhks: Uint8Array
  nhkr: Uint8Array
  ns: number
  nr: number
  pn: number
  /** Oldest first. */
  skipped: SkippedKey[]
}

export interface Header {
  dh: Uint8Array
  pn: number
  n: number
}

export interface RatchetOptions {
  /** The time now, ms since the epoch: skipped keys are stamped with it and expire by it. */
  now: number
  random?: Random
}

/** RatchetInitAliceHE: the initiator, who knows the responder's ratchet (signed pre)key. */
export function initInitiator (sk: Uint8Array, theirRatchetKey: Uint8Array, sharedHka: Uint8Array, sharedNhkb: Uint8Array, random: Random = osRandom): RatchetState {
  const dhs = generateDh(random)
  const { rk, ck, nhk } = kdfRk(sk, dh(dhs.secret, theirRatchetKey))
  return { dhs, dhr: theirRatchetKey, rk, cks: ck, nhks: nhk, hks: sharedHka, nhkr: sharedNhkb, ns: 0, nr: 0, pn: 0, skipped: [] }
}

/** RatchetInitBobHE: the responder, whose key pair the initiator used. It sends only after it has received. */
export function initResponder (sk: Uint8Array, ourRatchetKey: DhKeyPair, sharedHka: Uint8Array, sharedNhkb: Uint8Array): RatchetState {
  return { dhs: ourRatchetKey, rk: sk, nhks: sharedNhkb, nhkr: sharedHka, ns: 0, nr: 0, pn: 0, skipped: [] }
}

export function encodeHeader (h: Header): Uint8Array {
  const out = new Uint8Array(HEADER_LENGTH)
  out.set(h.dh, 0)
  const view = new DataView(out.buffer)
  view.setUint32(KEY_LENGTH, h.pn)
  view.setUint32(KEY_LENGTH + 4, h.n)
  return out
}

export function decodeHeader (bytes: Uint8Array): Header {
  if (bytes.byteLength !== HEADER_LENGTH) throw new SessionError('malformed', `a header is ${HEADER_LENGTH} bytes`)
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength)
  return { dh: bytes.slice(0, KEY_LENGTH), pn: view.getUint32(KEY_LENGTH), n: view.getUint32(KEY_LENGTH + 4) }
}

/** Whether the session can send: the responder cannot until the initiator's first message arrived. */
export function canSend (state: RatchetState): boolean {
  return state.cks != null && state.hks != null
}

/** RatchetEncryptHE: the encrypted header and the ciphertext of one message, and the new state. */
export function ratchetEncrypt (state: RatchetState, plaintext: Uint8Array, ad: Uint8Array, options: RatchetOptions): { state: RatchetState, header: Uint8Array, ciphertext: Uint8Array } {
  if (state.cks == null || state.hks == null) throw new Error('this session cannot send before it has received a message')
  const s = { ...state }
  const { ck, mk } = kdfCk(s.cks!)
  s.cks = ck
  const header = hencrypt(s.hks!, encodeHeader({ dh: s.dhs.public, pn: s.pn, n: s.ns }), options.random)
  s.ns += 1
  return { state: s, header, ciphertext: encrypt(mk, plaintext, concatBytes(ad, header)) }
}

/**
 * RatchetDecryptHE: the plaintext of one message and the new state. Throws SessionError, and
 * changes nothing, when the message is refused.
 */
export function ratchetDecrypt (state: RatchetState, header: Uint8Array, ciphertext: Uint8Array, ad: Uint8Array, options: RatchetOptions): { state: RatchetState, plaintext: Uint8Array } {
  // A shallow copy is enough: keys are replaced, never written into, and `skipped` is a new array.
  const s = { ...state }
  s.skipped = state.skipped.filter(k => options.now - k.at < SKIPPED_KEY_TTL_MS)
  const fullAd = concatBytes(ad, header)

  const skipped = trySkipped(s, header)
  if (skipped != null) {
    const plaintext = decrypt(skipped.mk, ciphertext, fullAd)
    if (plaintext == null) throw new SessionError('decrypt-failed', 'the message does not authenticate')
    s.skipped = s.skipped.filter(k => k !== skipped)
    return { state: s, plaintext }
  }

  const { header: h, ratchet } = decryptHeader(s, header)
  if (ratchet) {
    skipMessageKeys(s, h.pn, options.now)
    dhRatchet(s, h, options.random ?? osRandom)
  } else if (h.n < s.nr) {
    throw new SessionError('duplicate', 'a message received before, or whose key has expired')
  }
  skipMessageKeys(s, h.n, options.now)
  const { ck, mk } = kdfCk(s.ckr!)
  s.ckr = ck
  s.nr += 1
  const plaintext = decrypt(mk, ciphertext, fullAd)
  if (plaintext == null) throw new SessionError('decrypt-failed', 'the message does not authenticate')
  return { state: s, plaintext }
}

/** TrySkippedMessageKeysHE, trying each distinct header key once rather than each skipped key. */
function trySkipped (s: RatchetState, header: Uint8Array): SkippedKey | undefined {
  const tried = new Set<string>()
  for (const key of s.skipped) {
    const id = Buffer.from(key.hk).toString('base64')
    if (tried.has(id)) continue
    tried.add(id)
    const plain = hdecrypt(key.hk, header)
    if (plain == null) continue
    const h = decodeHeader(plain)
    return s.skipped.find(k => k.n === h.n && Buffer.compare(k.hk, key.hk) === 0)
  }
  return undefined
}

function decryptHeader (s: RatchetState, header: Uint8Array): { header: Header, ratchet: boolean } {
  if (s.hkr != null) {
    const plain = hdecrypt(s.hkr, header)
    if (plain != null) return { header: decodeHeader(plain), ratchet: false }
  }
  const plain = hdecrypt(s.nhkr, header)
  if (plain != null) return { header: decodeHeader(plain), ratchet: true }
  throw new SessionError('unknown-session', 'the header opens under none of this session\'s keys')
}

function skipMessageKeys (s: RatchetState, until: number, now: number): void {
  if (s.nr + MAX_SKIP < until) throw new SessionError('too-far-ahead', `a message more than ${MAX_SKIP} ahead of the last one received`)
  if (s.ckr == null || s.hkr == null) return
  while (s.nr < until) {
    const { ck, mk } = kdfCk(s.ckr)
    s.ckr = ck
    s.skipped.push({ hk: s.hkr, n: s.nr, mk, at: now })
    s.nr += 1
  }
  if (s.skipped.length > MAX_SKIPPED_KEYS) s.skipped.splice(0, s.skipped.length - MAX_SKIPPED_KEYS)
}

function dhRatchet (s: RatchetState, h: Header, random: Random): void {
  s.pn = s.ns
  s.ns = 0
  s.nr = 0
  s.hks = s.nhks
  s.hkr = s.nhkr
  s.dhr = h.dh
  const recv = kdfRk(s.rk, dh(s.dhs.secret, s.dhr))
  s.rk = recv.rk
  s.ckr = recv.ck
  s.nhkr = recv.nhk
  s.dhs = generateDh(random)
  const send = kdfRk(s.rk, dh(s.dhs.secret, s.dhr))
  s.rk = send.rk
  s.cks = send.ck
  s.nhks = send.nhk
}

// --- storage ----------------------------------------------------------------

type Json = Record<string, unknown>

const b64 = (bytes: Uint8Array | undefined): string | undefined => bytes == null ? undefined : Buffer.from(bytes).toString('base64')

function bytesOf (value: unknown, length?: number): Uint8Array {
  if (typeof value !== 'string') throw new SessionError('malformed', 'stored session field is missing')
  const bytes = new Uint8Array(Buffer.from(value, 'base64'))
  if (length != null && bytes.byteLength !== length) throw new SessionError('malformed', 'stored session key has the wrong length')
  return bytes
}

function countOf (value: unknown): number {
  if (typeof value !== 'number' || !Number.isInteger(value) || value < 0 || value > 0xffffffff) throw new SessionError('malformed', 'stored session counter is invalid')
  return value
}

/** The state as JSON-safe values (base64 keys), for the store. */
export function ratchetToJson (s: RatchetState): Json {
  return {
    dhs: { secret: b64(s.dhs.secret), public: b64(s.dhs.public) },
    dhr: b64(s.dhr),
    rk: b64(s.rk),
    cks: b64(s.cks),
    ckr: b64(s.ckr),
    hks: b64(s.hks),
    hkr: b64(s.hkr),
    nhks: b64(s.nhks),
    nhkr: b64(s.nhkr),
    ns: s.ns,
    nr: s.nr,
    pn: s.pn,
    skipped: s.skipped.map(k => ({ hk: b64(k.hk), n: k.n, mk: b64(k.mk), at: k.at }))
  }
}

/** A state from ratchetToJson's output; SessionError 'malformed' for anything else. */
export function ratchetFromJson (j: Json): RatchetState {
  try {
    return stateFromJson(j)
  } catch (err) {
    if (err instanceof SessionError) throw err
    throw new SessionError('malformed', 'stored session does not decode')
  }
}

function stateFromJson (j: Json): RatchetState {
  const opt = (v: unknown): Uint8Array | undefined => v == null ? undefined : bytesOf(v, KEY_LENGTH)
  const dhs = j.dhs as Json | undefined
  if (dhs == null || !Array.isArray(j.skipped)) throw new SessionError('malformed', 'stored session is incomplete')
  return {
    dhs: { secret: bytesOf(dhs.secret, KEY_LENGTH), public: bytesOf(dhs.public, KEY_LENGTH) },
    dhr: opt(j.dhr),
    rk: bytesOf(j.rk, KEY_LENGTH),
    cks: opt(j.cks),
    ckr: opt(j.ckr),
    hks: opt(j.hks),
    hkr: opt(j.hkr),
    nhks: bytesOf(j.nhks, KEY_LENGTH),
    nhkr: bytesOf(j.nhkr, KEY_LENGTH),
    ns: countOf(j.ns),
    nr: countOf(j.nr),
    pn: countOf(j.pn),
    skipped: (j.skipped as Json[]).map(k => ({ hk: bytesOf(k.hk, KEY_LENGTH), n: countOf(k.n), mk: bytesOf(k.mk, KEY_LENGTH), at: Number(k.at) }))
  }
}
