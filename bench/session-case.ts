/**
 * session case: the per-message cryptography of direct messages, in one process, no network and
 * no store, so that the cost the session scheme (scheme 2, src/session/) removes can be seen
 * before it is on the wire.
 *
 * - session-crypto (steady state): seal and open of a body with a 256-byte text, alternating turns the way
 *   a conversation does (BENCH_SESSION_TURN messages each way, then a DH ratchet step). Pigeon's
 *   figures for scheme 1 (src/crypto/envelope.ts: X25519, Ed25519 sign and verify,
 *   XChaCha20-Poly1305) and scheme 2 (the Double Ratchet with header encryption), beside the
 *   baseline: one AES-256-GCM seal and open under a fixed key in node:crypto, the least any
 *   authenticated encryption of the body costs.
 * - session-first-contact: a PQXDH handshake with its first message (startSession plus
 *   acceptSession, with and without one-time prekeys), beside scheme 1's seal plus open of one
 *   message.
 */
import { createCipheriv, createDecipheriv, randomBytes } from 'node:crypto'
import { generateKeyPair } from '@libp2p/crypto/keys'
import { peerIdFromPrivateKey } from '@libp2p/peer-id'
import { localKeys, type LocalKeys } from '../src/crypto/keys.js'
import { open, seal } from '../src/crypto/envelope.js'
import { acceptSession, checkBundle, generateDh, generateKem, generateOneTimePrekeys, initInitiator, initResponder, PREKEY_KIND, ratchetDecrypt, ratchetEncrypt, signPrekey, startSession, type PrekeySecrets, type RatchetState } from '../src/session/index.js'
import { PrekeyBundle } from '../src/session/pb/session.js'
import { Body } from '../src/wire/pb/wire.js'
import { BODY_KIND } from '../src/wire/constants.js'
import { emit, envCount, progress } from './output.js'
import { round } from './stats.js'

const BODY_BYTES = 256

async function identity (): Promise<LocalKeys> {
  const key = await generateKeyPair('Ed25519')
  return localKeys(key, peerIdFromPrivateKey(key))
}

/** Microseconds per call of `fn` over `count` calls, after `count / 10` warm-up calls. */
function perCall (count: number, fn: (i: number) => void): number {
  for (let i = 0; i < Math.max(1, Math.floor(count / 10)); i++) fn(i)
  const began = performance.now()
  for (let i = 0; i < count; i++) fn(i)
  return (performance.now() - began) * 1000 / count
}

export async function sessionCase (): Promise<void> {
  const count = envCount('BENCH_SESSION_COUNT', 5000)
  const turn = envCount('BENCH_SESSION_TURN', 10)
  const [alice, bob] = [await identity(), await identity()]
  // A text body as direct messages carry it (its encoding adds a few bytes to the text).
  const body = Body.encode({ kind: BODY_KIND.TEXT, timestamp: BigInt(Date.now()), text: 'x'.repeat(BODY_BYTES), refs: [], channel: new Uint8Array(0), relays: [], addrs: [] })
  const id = randomBytes(16)

  // Baseline: AES-256-GCM seal and open under one key.
  const key = randomBytes(32)
  const raw = perCall(count, () => {
    const nonce = randomBytes(12)
    const c = createCipheriv('aes-256-gcm', key, nonce)
    const ct = Buffer.concat([c.update(body), c.final()])
    const tag = c.getAuthTag()
    const d = createDecipheriv('aes-256-gcm', key, nonce)
    d.setAuthTag(tag)
    Buffer.concat([d.update(ct), d.final()])
  })

  const scheme1 = perCall(count, () => { open(bob, seal(alice, bob, id, body)) })

  // Scheme 2, steady state: a session already made; turns of `turn` messages each way.
  const sk = randomBytes(32)
  const hka = randomBytes(32)
  const nhkb = randomBytes(32)
  const bobRatchet = generateDh()
  const ad = Buffer.concat([alice.idBytes, bob.idBytes, id])
  let a: RatchetState = initInitiator(sk, bobRatchet.public, hka, nhkb)
  let b: RatchetState = initResponder(sk, bobRatchet, hka, nhkb)
  const now = Date.now()
  const scheme2 = perCall(count, (i) => {
    const aliceSends = Math.floor(i / turn) % 2 === 0
    const [from, to] = aliceSends ? [a, b] : [b, a]
    const m = ratchetEncrypt(from, body, ad, { now })
    const d = ratchetDecrypt(to, m.header, m.ciphertext, ad, { now })
    if (aliceSends) { a = m.state; b = d.state } else { b = m.state; a = d.state }
  })
  progress('session: per message, seal and open: raw AES-GCM %d µs, scheme 1 %d µs, scheme 2 %d µs', round(raw, 1), round(scheme1, 1), round(scheme2, 1))
  emit({
    bench: 'session-crypto',
    topology: 'one-process',
    text_bytes: BODY_BYTES,
    body_bytes: body.byteLength,
    messages: count,
    turn,
    raw_us: round(raw, 1),
    scheme1_us: round(scheme1, 1),
    pigeon_us: round(scheme2, 1),
    ratio: round(raw / scheme2, 3),
    scheme1_ratio: round(raw / scheme1, 3),
    speedup_over_scheme1: round(scheme1 / scheme2, 2)
  })

  // First contact: PQXDH and the first message, with and without one-time prekeys.
  const signed = { id: 1, pair: generateDh() }
  const pq = { id: 2, pair: generateKem() }
  const handshakes = Math.max(20, Math.floor(count / 50))
  const oneTime = generateOneTimePrekeys(bob.ed25519Private, 100, handshakes * 2)
  const x = new Map(oneTime.x25519.map(k => [k.id, k.pair]))
  const kem = new Map(oneTime.kem.map(k => [k.id, k]))
  const secrets: PrekeySecrets = {
    signedPrekey: (i) => i === signed.id ? signed.pair : undefined,
    pqPrekey: (i, one) => one ? kem.get(i)?.pair : i === pq.id ? pq.pair : undefined,
    oneTimePrekey: (i) => x.get(i)
  }
  const base = {
    identity: bob.idBytes as Uint8Array<ArrayBuffer>,
    signedPrekey: signPrekey(bob.ed25519Private, PREKEY_KIND.SIGNED, signed.id, signed.pair.public),
    pqPrekey: signPrekey(bob.ed25519Private, PREKEY_KIND.PQ_LAST_RESORT, pq.id, pq.pair.public)
  }
  const lastResort = PrekeyBundle.encode(base)
  const fallback = perCall(handshakes, () => {
    acceptSession(bob, startSession(alice, checkBundle(lastResort, bob), body, { now }).init, secrets, { now })
  })
  let next = 0
  const withOneTime = perCall(handshakes, () => {
    const otk = oneTime.kem[next]
    const bundle = PrekeyBundle.encode({ ...base, oneTimePrekey: { id: oneTime.x25519[next].id, publicKey: oneTime.x25519[next].pair.public as Uint8Array<ArrayBuffer> }, pqOneTimePrekey: otk.signed })
    next++
    acceptSession(bob, startSession(alice, checkBundle(bundle, bob), body, { now }).init, secrets, { now })
  })
  progress('session: first contact (PQXDH and first message) %d µs without one-time prekeys, %d µs with; scheme 1 message %d µs', round(fallback), round(withOneTime), round(scheme1))
  emit({
    bench: 'session-first-contact',
    topology: 'one-process',
    handshakes,
    pigeon_us: round(withOneTime),
    pigeon_last_resort_us: round(fallback),
    scheme1_message_us: round(scheme1, 1),
    ratio: round(scheme1 / withOneTime, 3),
    handshake_per_steady_message: round(withOneTime / scheme2, 1)
  })
}
