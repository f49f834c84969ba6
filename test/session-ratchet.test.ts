/**
 * The Double Ratchet with header encryption (src/session/ratchet.ts), as a pure state machine:
 * no network, no store, a clock passed in. Known-answer checks of the KDFs against an
 * independent implementation (@noble/hashes), and property tests (fast-check) of delivery in
 * any order, with loss, duplicates and a restart (the state through JSON) at every step.
 */
import { describe, it } from 'node:test'
import assert from 'node:assert/strict'
import fc from 'fast-check'
import { hkdf as nobleHkdf } from '@noble/hashes/hkdf.js'
import { hmac as nobleHmac } from '@noble/hashes/hmac.js'
import { sha256 } from '@noble/hashes/sha2.js'
import {
  canSend, decodeHeader, generateDh, hdecrypt, initInitiator, initResponder, kdfCk, kdfRk, MAX_SKIP, MAX_SKIPPED_KEYS,
  ratchetDecrypt, ratchetEncrypt, ratchetFromJson, ratchetToJson, SessionError, SKIPPED_KEY_TTL_MS, HEADER_LENGTH, HEADER_OVERHEAD,
  type RatchetState
} from '../src/session/index.js'
import { refusal, seededRandom } from './session-helpers.js'

const AD = new TextEncoder().encode('alice-id||bob-id')
const NOW = 1_800_000_000_000
const text = (s: string): Uint8Array => new TextEncoder().encode(s)
const str = (b: Uint8Array): string => new TextDecoder().decode(b)
const hex = (b: Uint8Array): string => Buffer.from(b).toString('hex')

interface Sealed { header: Uint8Array, ciphertext: Uint8Array }

/** Alice and Bob right after a handshake: Alice can send, Bob can once he has received. */
function pair (seed = 'pair'): { alice: RatchetState, bob: RatchetState } {
  const random = seededRandom(seed)
  const sk = random.bytes(32)
  const hka = random.bytes(32)
  const nhkb = random.bytes(32)
  const bobKey = generateDh(random)
  return { alice: initInitiator(sk, bobKey.public, hka, nhkb, random), bob: initResponder(sk, bobKey, hka, nhkb) }
}

describe('the Double Ratchet with header encryption', () => {
  it('KDF_CK and KDF_RK_HE are HMAC-SHA256 and HKDF-SHA256 as docs/protocol.md gives them (checked against @noble/hashes)', () => {
    const ck = Uint8Array.from({ length: 32 }, (_, i) => i)
    const rk = Uint8Array.from({ length: 32 }, (_, i) => 0x40 + i)
    const dhOut = Uint8Array.from({ length: 32 }, (_, i) => 0x80 + i)
    const c = kdfCk(ck)
    assert.equal(hex(c.mk), hex(nobleHmac(sha256, ck, Uint8Array.of(1))))
    assert.equal(hex(c.ck), hex(nobleHmac(sha256, ck, Uint8Array.of(2))))
    const r = kdfRk(rk, dhOut)
    const expected = nobleHkdf(sha256, dhOut, rk, text('pigeon-ratchet-rk-v1'), 96)
    assert.equal(hex(r.rk) + hex(r.ck) + hex(r.nhk), hex(expected))
    // The vector printed in docs/protocol.md, section 19.6.
    assert.equal(hex(c.mk), '9b4c8120a4823a95f47cde17a244f4507244ee6e3957d1fab9fa29b44d3829b7')
  })

  it('carries a conversation of several turns both ways, and the responder sends only after it has received', () => {
    let { alice, bob } = pair()
    assert.equal(canSend(bob), false)
    assert.throws(() => ratchetEncrypt(bob, text('too early'), AD, { now: NOW }))
    for (let turn = 0; turn < 4; turn++) {
      for (let i = 0; i < 3; i++) {
        const m = ratchetEncrypt(alice, text(`a${turn}.${i}`), AD, { now: NOW })
        alice = m.state
        const d = ratchetDecrypt(bob, m.header, m.ciphertext, AD, { now: NOW })
        bob = d.state
        assert.equal(str(d.plaintext), `a${turn}.${i}`)
      }
      const r = ratchetEncrypt(bob, text(`b${turn}`), AD, { now: NOW })
      bob = r.state
      const d = ratchetDecrypt(alice, r.header, r.ciphertext, AD, { now: NOW })
      alice = d.state
      assert.equal(str(d.plaintext), `b${turn}`)
    }
  })

  it('encrypts headers: a relay sees neither the ratchet key nor the counters', () => {
    let { alice } = pair()
    const headers: Uint8Array[] = []
    for (let i = 0; i < 3; i++) {
      const m = ratchetEncrypt(alice, text('x'), AD, { now: NOW })
      alice = m.state
      headers.push(m.header)
    }
    const ratchetKey = Buffer.from(alice.dhs.public)
    for (const h of headers) {
      assert.equal(h.byteLength, HEADER_LENGTH + HEADER_OVERHEAD)
      assert.equal(Buffer.from(h).indexOf(ratchetKey), -1, 'the ratchet public key is not in the clear')
      const plain = hdecrypt(alice.hks!, h)
      assert.ok(plain != null)
      assert.deepEqual(decodeHeader(plain).dh, alice.dhs.public)
    }
    // The same key, consecutive counters: nothing in common between the encrypted headers.
    assert.notEqual(hex(headers[0]).slice(0, 24), hex(headers[1]).slice(0, 24))
  })

  it('refuses a tampered message, a garbage header and an unknown session with a reason, and changes nothing', () => {
    let { alice, bob } = pair()
    const m = ratchetEncrypt(alice, text('hello'), AD, { now: NOW })
    alice = m.state
    const before = JSON.stringify(ratchetToJson(bob))
    const flipped = Uint8Array.from(m.ciphertext)
    flipped[0] ^= 1
    assert.equal(refusal(() => ratchetDecrypt(bob, m.header, flipped, AD, { now: NOW })), 'decrypt-failed')
    assert.equal(refusal(() => ratchetDecrypt(bob, m.header, m.ciphertext, text('other ad'), { now: NOW })), 'decrypt-failed')
    assert.equal(refusal(() => ratchetDecrypt(bob, new Uint8Array(68), m.ciphertext, AD, { now: NOW })), 'unknown-session')
    assert.equal(refusal(() => ratchetDecrypt(bob, new Uint8Array(3), m.ciphertext, AD, { now: NOW })), 'unknown-session')
    const stranger = pair('stranger')
    const other = ratchetEncrypt(stranger.alice, text('not yours'), AD, { now: NOW })
    assert.equal(refusal(() => ratchetDecrypt(bob, other.header, other.ciphertext, AD, { now: NOW })), 'unknown-session')
    assert.equal(JSON.stringify(ratchetToJson(bob)), before, 'refusals change nothing')
    const d = ratchetDecrypt(bob, m.header, m.ciphertext, AD, { now: NOW })
    assert.equal(str(d.plaintext), 'hello', 'the genuine message still opens')
    bob = d.state
    assert.equal(refusal(() => ratchetDecrypt(bob, m.header, m.ciphertext, AD, { now: NOW })), 'duplicate')
  })

  it(`refuses a message more than MAX_SKIP (${MAX_SKIP}) ahead, and still takes the ones before it`, () => {
    let { alice, bob } = pair()
    const sent: Sealed[] = []
    for (let i = 0; i <= MAX_SKIP + 1; i++) {
      const m = ratchetEncrypt(alice, text(String(i)), AD, { now: NOW })
      alice = m.state
      sent.push(m)
    }
    const last = sent[MAX_SKIP + 1]
    assert.equal(refusal(() => ratchetDecrypt(bob, last.header, last.ciphertext, AD, { now: NOW })), 'too-far-ahead')
    const edge = ratchetDecrypt(bob, sent[MAX_SKIP].header, sent[MAX_SKIP].ciphertext, AD, { now: NOW })
    assert.equal(str(edge.plaintext), String(MAX_SKIP), 'exactly MAX_SKIP ahead is taken')
    bob = edge.state
    assert.equal(bob.skipped.length, MAX_SKIP)
    assert.equal(str(ratchetDecrypt(bob, sent[0].header, sent[0].ciphertext, AD, { now: NOW }).plaintext), '0')
  })

  it(`keeps at most ${MAX_SKIPPED_KEYS} skipped keys, dropping the oldest, and lets them expire after ${SKIPPED_KEY_TTL_MS / 86_400_000} days`, () => {
    let { alice, bob } = pair()
    const firsts: Sealed[] = []
    // Three of Alice's chains, each with 900 messages Bob never gets but the last of.
    for (let chain = 0; chain < 3; chain++) {
      let m: Sealed & { state: RatchetState } | undefined
      for (let i = 0; i < 900; i++) {
        m = ratchetEncrypt(alice, text(`${chain}.${i}`), AD, { now: NOW })
        alice = m.state
        if (i === 0) firsts.push(m)
      }
      bob = ratchetDecrypt(bob, m!.header, m!.ciphertext, AD, { now: NOW + chain }).state
      const reply = ratchetEncrypt(bob, text('ok'), AD, { now: NOW })
      bob = reply.state
      alice = ratchetDecrypt(alice, reply.header, reply.ciphertext, AD, { now: NOW }).state
    }
    assert.equal(bob.skipped.length, MAX_SKIPPED_KEYS)
    assert.equal(refusal(() => ratchetDecrypt(bob, firsts[0].header, firsts[0].ciphertext, AD, { now: NOW })), 'unknown-session', 'the oldest were dropped')
    assert.equal(str(ratchetDecrypt(bob, firsts[2].header, firsts[2].ciphertext, AD, { now: NOW }).plaintext), '2.0')
    assert.equal(refusal(() => ratchetDecrypt(bob, firsts[2].header, firsts[2].ciphertext, AD, { now: NOW + 2 + SKIPPED_KEY_TTL_MS })), 'duplicate', 'expired: refused as one whose key is gone')
  })

  it('stores and restores its state as JSON, refusing a damaged one', () => {
    const { alice } = pair()
    const restored = ratchetFromJson(JSON.parse(JSON.stringify(ratchetToJson(alice))))
    assert.deepEqual(ratchetToJson(restored), ratchetToJson(alice))
    const damaged = ratchetToJson(alice)
    damaged.rk = Buffer.from('short').toString('base64')
    assert.equal(refusal(() => ratchetFromJson(damaged)), 'malformed')
    assert.equal(refusal(() => ratchetFromJson({ ...ratchetToJson(alice), ns: -1 })), 'malformed')
  })

  it('delivers every message exactly once in any order, with loss, duplicates and a restart at any step (property)', () => {
    type Action =
      | { kind: 'send', from: 0 | 1 }
      | { kind: 'deliver', pick: number, dup: boolean }
      | { kind: 'drop', pick: number }
      | { kind: 'restart', who: 0 | 1 }
    const action: fc.Arbitrary<Action> = fc.oneof(
      fc.record({ kind: fc.constant('send' as const), from: fc.constantFrom(0 as const, 1 as const) }),
      fc.record({ kind: fc.constant('deliver' as const), pick: fc.nat(), dup: fc.boolean() }),
      fc.record({ kind: fc.constant('drop' as const), pick: fc.nat() }),
      fc.record({ kind: fc.constant('restart' as const), who: fc.constantFrom(0 as const, 1 as const) })
    )
    fc.assert(fc.property(fc.array(action, { maxLength: 80 }), fc.string(), (actions, seed) => {
      const p = pair(seed)
      const states: RatchetState[] = [p.alice, p.bob]
      interface InFlight extends Sealed { to: 0 | 1, text: string, delivered: boolean }
      const flight: InFlight[] = []
      let count = 0
      for (const a of actions) {
        if (a.kind === 'send') {
          if (!canSend(states[a.from])) continue
          const t = `m${count++}`
          const m = ratchetEncrypt(states[a.from], text(t), AD, { now: NOW })
          states[a.from] = m.state
          flight.push({ header: m.header, ciphertext: m.ciphertext, to: a.from === 0 ? 1 : 0, text: t, delivered: false })
        } else if (a.kind === 'deliver' || a.kind === 'drop') {
          const pending = flight.filter(f => a.kind === 'deliver' && a.dup ? f.delivered : !f.delivered)
          if (pending.length === 0) continue
          const f = pending[a.pick % pending.length]
          if (a.kind === 'drop') {
            flight.splice(flight.indexOf(f), 1)
            continue
          }
          const before = JSON.stringify(ratchetToJson(states[f.to]))
          try {
            const d = ratchetDecrypt(states[f.to], f.header, f.ciphertext, AD, { now: NOW })
            assert.ok(!f.delivered, `a duplicate of ${f.text} was accepted`)
            assert.equal(str(d.plaintext), f.text)
            states[f.to] = d.state
            f.delivered = true
          } catch (err) {
            assert.ok(err instanceof SessionError, String(err))
            assert.ok(f.delivered, `${f.text} was refused (${err.reason}) though never delivered`)
            assert.ok(['duplicate', 'unknown-session'].includes(err.reason), err.reason)
            assert.equal(JSON.stringify(ratchetToJson(states[f.to])), before, 'a refusal changed the state')
          }
        } else {
          states[a.who] = ratchetFromJson(JSON.parse(JSON.stringify(ratchetToJson(states[a.who]))))
        }
      }
      // Whatever is still in flight arrives in the end, in reverse order.
      for (const f of flight.filter(f => !f.delivered).reverse()) {
        const d = ratchetDecrypt(states[f.to], f.header, f.ciphertext, AD, { now: NOW })
        assert.equal(str(d.plaintext), f.text)
        states[f.to] = d.state
      }
    }), { numRuns: 200 })
  })
})
