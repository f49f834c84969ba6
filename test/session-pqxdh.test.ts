/**
 * PQXDH (src/session/pqxdh.ts) and the prekeys it uses (prekeys.ts): both sides reach the same
 * session with and without one-time prekeys, and every bad bundle or handshake is refused with
 * a reason: a bad signature, a used one-time prekey, a replay, tampering, impersonation. The
 * decoders are fuzzed with fast-check.
 */
import { describe, it, before } from 'node:test'
import assert from 'node:assert/strict'
import fc from 'fast-check'
import {
  acceptSession, checkBundle, decodeInit, KEM_PUBLIC_KEY_LENGTH, MAX_BUNDLE_BYTES, PREKEY_KIND, ratchetDecrypt, ratchetEncrypt,
  ratchetFromJson, SESSION_REFUSALS, SessionError, signPrekey, startSession, decodeHeader
} from '../src/session/index.js'
import { PrekeyBundle, SessionInit } from '../src/session/pb/session.js'
import { newKeys } from './crypto-helpers.js'
import { refusal, responder, seededRandom, type Responder } from './session-helpers.js'
import type { LocalKeys } from '../src/crypto/keys.js'

const NOW = 1_800_000_000_000
const text = (s: string): Uint8Array => new TextEncoder().encode(s)
const str = (b: Uint8Array): string => new TextDecoder().decode(b)

describe('PQXDH and prekeys', () => {
  let alice: LocalKeys
  let mallory: LocalKeys
  let bob: Responder

  before(async () => {
    alice = await newKeys()
    mallory = await newKeys()
    bob = responder(await newKeys(), seededRandom('bob'))
  })

  for (const oneTime of [true, false]) {
    it(`starts a session both sides agree on, ${oneTime ? 'with one-time prekeys (then used up)' : 'with none left (the signed prekeys only)'}, and it carries replies`, () => {
      const checked = checkBundle(bob.bundle({ oneTime }), bob.keys)
      const started = startSession(alice, checked, text('hello bob'), { now: NOW })
      const accepted = acceptSession(bob.keys, started.init, bob.secrets, { now: NOW })
      assert.equal(str(accepted.plaintext), 'hello bob')
      assert.ok(accepted.peer.peerId.equals(alice.peerId), 'bob learns who started it')
      assert.deepEqual(accepted.ad, started.ad)
      if (oneTime) {
        assert.ok(accepted.used.oneTimePrekeyId != null && accepted.used.pqOneTimePrekeyId != null)
      } else {
        assert.deepEqual(accepted.used, { oneTimePrekeyId: undefined, pqOneTimePrekeyId: undefined })
      }
      const reply = ratchetEncrypt(accepted.state, text('hi alice'), accepted.ad, { now: NOW })
      assert.equal(str(ratchetDecrypt(started.state, reply.header, reply.ciphertext, started.ad, { now: NOW }).plaintext), 'hi alice')
    })
  }

  it('hides the initiator from whoever holds the first message: its peer id is not in the clear', () => {
    const started = startSession(alice, checkBundle(bob.bundle(), bob.keys), text('x'), { now: NOW })
    assert.equal(Buffer.from(started.init).indexOf(Buffer.from(alice.idBytes)), -1)
    assert.equal(Buffer.from(started.init).indexOf(Buffer.from(alice.x25519Raw)), -1)
  })

  it('refuses a used one-time prekey, and a replayed handshake once its one-time prekey is gone', async () => {
    const b = responder(await newKeys(), seededRandom('bob-2'), 1)
    const started = startSession(alice, checkBundle(b.bundle(), b.keys), text('once'), { now: NOW })
    const accepted = acceptSession(b.keys, started.init, b.secrets, { now: NOW })
    b.consume(accepted.used)
    assert.deepEqual(b.left(), { x25519: 0, kem: 0 })
    assert.equal(refusal(() => acceptSession(b.keys, started.init, b.secrets, { now: NOW })), 'unknown-prekey')
    // With none left, the bundle falls back to the signed prekeys, as in Signal.
    const fallback = checkBundle(b.bundle(), b.keys)
    assert.equal(fallback.oneTimePrekey, undefined)
    assert.equal(fallback.pqOneTimePrekey, undefined)
    assert.equal(str(acceptSession(b.keys, startSession(alice, fallback, text('again'), { now: NOW }).init, b.secrets, { now: NOW }).plaintext), 'again')
  })

  it('refuses bundles whose prekeys are not signed by their owner, or that belong to someone else', () => {
    const good = PrekeyBundle.decode(bob.bundle())
    const flipped = { ...good, signedPrekey: { ...good.signedPrekey!, signature: Uint8Array.from(good.signedPrekey!.signature, (b, i) => i === 0 ? b ^ 1 : b) } }
    assert.equal(refusal(() => checkBundle(PrekeyBundle.encode(flipped), bob.keys)), 'bad-signature')
    const byMallory = { ...good, pqPrekey: signPrekey(mallory.ed25519Private, PREKEY_KIND.PQ_LAST_RESORT, 8, good.pqPrekey!.publicKey) }
    assert.equal(refusal(() => checkBundle(PrekeyBundle.encode(byMallory))), 'bad-signature')
    // A prekey signed as one kind does not pass as another (the kind is in the signed bytes).
    const asOneTime = { ...good, pqOneTimePrekey: { ...good.pqPrekey! } }
    assert.equal(refusal(() => checkBundle(PrekeyBundle.encode(asOneTime))), 'bad-signature')
    assert.equal(refusal(() => checkBundle(bob.bundle(), alice)), 'malformed', 'not the peer asked for')
    assert.equal(refusal(() => checkBundle(new Uint8Array(MAX_BUNDLE_BYTES + 1))), 'malformed')
    const shortKem = { ...good, pqPrekey: { ...good.pqPrekey!, publicKey: good.pqPrekey!.publicKey.subarray(0, KEM_PUBLIC_KEY_LENGTH - 1) } }
    assert.equal(refusal(() => checkBundle(PrekeyBundle.encode(shortKem))), 'malformed')
  })

  it('refuses a tampered handshake, and one that claims another identity (impersonation)', () => {
    const checked = checkBundle(bob.bundle({ oneTime: false }), bob.keys)
    const init = SessionInit.decode(startSession(alice, checked, text('x'), { now: NOW }).init)
    const kem = Uint8Array.from(init.kemCiphertext)
    kem[10] ^= 1
    assert.equal(refusal(() => acceptSession(bob.keys, SessionInit.encode({ ...init, kemCiphertext: kem }), bob.secrets, { now: NOW })), 'decrypt-failed')
    const sealed = Uint8Array.from(init.sealedIdentity)
    sealed[0] ^= 1
    assert.equal(refusal(() => acceptSession(bob.keys, SessionInit.encode({ ...init, sealedIdentity: sealed }), bob.secrets, { now: NOW })), 'decrypt-failed')
    // Mallory seals Alice's peer id but has only her own identity key: DH1 differs, nothing opens.
    const posing: LocalKeys = { ...mallory, peerId: alice.peerId, idBytes: alice.idBytes, x25519Raw: alice.x25519Raw, ed25519: alice.ed25519 }
    assert.equal(refusal(() => acceptSession(bob.keys, startSession(posing, checked, text('I am alice'), { now: NOW }).init, bob.secrets, { now: NOW })), 'decrypt-failed')
    assert.equal(refusal(() => acceptSession(bob.keys, SessionInit.encode({ ...init, signedPrekeyId: 99 }), bob.secrets, { now: NOW })), 'unknown-prekey')
  })

  it('decoders and refusals hold on random and mutated bytes: only a SessionError with a known reason (fuzz)', () => {
    const reasons = new Set<string>(SESSION_REFUSALS)
    const init = startSession(alice, checkBundle(bob.bundle({ oneTime: false }), bob.keys), text('fuzz'), { now: NOW }).init
    const bundle = bob.bundle({ oneTime: false })
    const mutate = (base: Uint8Array): fc.Arbitrary<Uint8Array> => fc.tuple(fc.nat(base.byteLength - 1), fc.integer({ min: 1, max: 255 }), fc.nat(base.byteLength))
      .map(([at, xor, cut]) => { const b = Uint8Array.from(base); b[at] ^= xor; return cut % 7 === 0 ? b.subarray(0, cut) : b })
    const input = (base: Uint8Array): fc.Arbitrary<Uint8Array> => fc.oneof(fc.uint8Array({ maxLength: 2048 }), mutate(base))
    const onlyRefused = (fn: () => unknown): void => {
      try {
        fn()
      } catch (err) {
        assert.ok(err instanceof SessionError, `threw ${String(err)}`)
        assert.ok(reasons.has(err.reason))
      }
    }
    fc.assert(fc.property(input(init), bytes => {
      onlyRefused(() => decodeInit(bytes))
      onlyRefused(() => acceptSession(bob.keys, bytes, bob.secrets, { now: NOW }))
    }), { numRuns: 150 })
    fc.assert(fc.property(input(bundle), bytes => { onlyRefused(() => checkBundle(bytes)) }), { numRuns: 300 })
    fc.assert(fc.property(fc.uint8Array({ maxLength: 64 }), bytes => { onlyRefused(() => decodeHeader(bytes)) }), { numRuns: 300 })
    fc.assert(fc.property(fc.jsonValue(), json => { onlyRefused(() => ratchetFromJson(json as any)) }), { numRuns: 300 })
  })
})
