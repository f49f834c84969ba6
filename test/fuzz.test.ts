/**
 * Property-based tests: every decoder that sees bytes from the network, and open(), on random
 * input and on mutations of valid encodings. A decoder may refuse its input, but only by
 * throwing an Error: never a hang, a crash, a non-Error throw, or a result that breaks limits.
 */
import { describe, it, before } from 'node:test'
import assert from 'node:assert/strict'
import { sign } from 'node:crypto'
import fc from 'fast-check'
import { multiaddr } from '@multiformats/multiaddr'
import { Ack, Batch, Body, Envelope, Sealed } from '../src/wire/pb/wire.js'
import { open, seal, MAX_RECEIPT_REFS, type OpenedEnvelope, type RejectReason } from '../src/crypto/envelope.js'
import type { LocalKeys, PeerKeys } from '../src/crypto/keys.js'
import { CARD_PREFIX, decodeCard, encodeCard, type ContactCard } from '../src/contacts/card.js'
import { Card, SignedCard } from '../src/contacts/pb/card.js'
import { MAX_BATCH_ENVELOPES, SCHEME_X25519_XCHACHA } from '../src/constants.js'
import { BODY_KIND, REJECT_REASON_CODES } from '../src/wire/constants.js'
import { newId, newKeys, sealedOf, sealRaw, signEnvelope, textBody } from './crypto-helpers.js'
import { decodeInvite, FrameRejectedError, INVITE_PREFIX, openFrame, sealPost } from '../src/channels/crypto.js'
import { Post as ChannelPost } from '../src/channels/pb/channel.js'
import { InvalidInviteError } from '../src/errors.js'

const FRAME_REASONS = new Set(['too-large', 'malformed', 'unsupported-version', 'decrypt-failed', 'bad-signature'])

/** Enough runs to reach the odd corners, few enough that the file runs in seconds. */
const RUNS = 500
/** A hang fails the test instead of stalling the run. */
const DEADLINE = { timeout: 60_000 }

const REASONS = new Set<string>(Object.keys(REJECT_REASON_CODES).filter(name => name !== 'unknown'))

// --- helpers --------------------------------------------------------------------------------

/** Runs `fn`; returns its result, or undefined when it threw an Error. Anything else thrown fails. */
function attempt<T> (fn: () => T): T | undefined {
  try {
    return fn()
  } catch (err) {
    assert.ok(err instanceof Error, `threw a non-Error: ${String(err)}`)
    assert.equal(typeof err.message, 'string')
    return undefined
  }
}

/** One edit to a byte string. Positions are taken modulo the length when applied. */
type Mutation =
  | { op: 'flip', at: number, bit: number }
  | { op: 'set', at: number, value: number }
  | { op: 'insert', at: number, bytes: Uint8Array }
  | { op: 'delete', at: number, length: number }
  | { op: 'truncate', at: number }
  | { op: 'duplicate', at: number, length: number }

/** Byte runs that decoders find hard: huge varints, big lengths, bad wire types, field tags. */
const nastyBytes = fc.oneof(
  fc.constantFrom(
    Uint8Array.of(0xff, 0xff, 0xff, 0xff, 0x0f),
    Uint8Array.of(0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x01),
    Uint8Array.of(0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff),
    Uint8Array.of(0x80),
    Uint8Array.of(0x0a, 0xff, 0xff, 0xff, 0x7f),
    Uint8Array.of(0x0f), Uint8Array.of(0x0b), Uint8Array.of(0x0c), Uint8Array.of(0x3f),
    Uint8Array.of(0x08, 0xff, 0xff, 0xff, 0xff, 0x0f),
    Uint8Array.of(0x0a, 0x00), Uint8Array.of(0x12, 0x00), Uint8Array.of(0x22, 0x00)
  ),
  fc.uint8Array({ minLength: 1, maxLength: 16 })
)

const mutation: fc.Arbitrary<Mutation> = fc.oneof(
  { weight: 4, arbitrary: fc.record({ op: fc.constant('flip' as const), at: fc.nat(), bit: fc.integer({ min: 0, max: 7 }) }) },
  { weight: 2, arbitrary: fc.record({ op: fc.constant('set' as const), at: fc.nat(), value: fc.constantFrom(0x00, 0x01, 0x7f, 0x80, 0xff) }) },
  { weight: 2, arbitrary: fc.record({ op: fc.constant('insert' as const), at: fc.nat(), bytes: nastyBytes }) },
  { weight: 1, arbitrary: fc.record({ op: fc.constant('delete' as const), at: fc.nat(), length: fc.integer({ min: 1, max: 8 }) }) },
  { weight: 1, arbitrary: fc.record({ op: fc.constant('truncate' as const), at: fc.nat() }) },
  { weight: 1, arbitrary: fc.record({ op: fc.constant('duplicate' as const), at: fc.nat(), length: fc.integer({ min: 1, max: 64 }) }) }
)

const mutations = fc.array(mutation, { minLength: 1, maxLength: 4 })

function mutate (input: Uint8Array, edits: Mutation[]): Uint8Array {
  let bytes = Uint8Array.from(input)
  for (const m of edits) {
    const at = bytes.byteLength === 0 ? 0 : m.at % bytes.byteLength
    switch (m.op) {
      case 'flip':
        if (bytes.byteLength > 0) bytes[at] ^= 1 << m.bit
        break
      case 'set':
        if (bytes.byteLength > 0) bytes[at] = m.value
        break
      case 'insert':
        bytes = Uint8Array.from([...bytes.subarray(0, at), ...m.bytes, ...bytes.subarray(at)])
        break
      case 'delete':
        bytes = Uint8Array.from([...bytes.subarray(0, at), ...bytes.subarray(at + m.length)])
        break
      case 'truncate':
        bytes = bytes.slice(0, at)
        break
      case 'duplicate':
        bytes = Uint8Array.from([...bytes.subarray(0, at + m.length), ...bytes.subarray(at)])
        break
    }
  }
  return bytes
}

const randomBytesArb = fc.uint8Array({ maxLength: 2048 })

/** A Sealed holding `body`, signed by `signer` for this header but naming `sender`. */
function signedSealed (signer: LocalKeys, sender: Uint8Array, recipient: PeerKeys, id: Uint8Array, ephemeralKey: Uint8Array, body: Uint8Array): Uint8Array {
  return sealedOf(sender, signEnvelope(signer, id, recipient, ephemeralKey, body), body)
}

/** open(), asserting that any refusal is an EnvelopeRejectedError with a known reason. */
function openOrReject (keys: LocalKeys, env: Envelope): OpenedEnvelope | undefined {
  try {
    return open(keys, env)
  } catch (err: any) {
    assert.ok(err instanceof Error, `threw a non-Error: ${String(err)}`)
    assert.equal(err.name, 'EnvelopeRejectedError', `${err.name}: ${err.message}`)
    const reason = String((err as Error & { reason?: RejectReason }).reason)
    assert.ok(REASONS.has(reason), `unknown reason ${reason}`)
    return undefined
  }
}

function assertEnvelopeShape (env: Envelope): void {
  assert.equal(typeof env.scheme, 'number')
  for (const field of [env.id, env.recipient, env.ephemeralKey, env.nonce, env.ciphertext]) assert.ok(field instanceof Uint8Array)
}

// --- decoders on bytes ----------------------------------------------------------------------

describe('protobuf decoders on hostile bytes', () => {
  let alice: LocalKeys
  let bob: LocalKeys
  let validBatch: Uint8Array
  let validAck: Uint8Array
  let validSealed: Uint8Array
  let validBodies: Uint8Array[]

  before(async () => {
    [alice, bob] = await Promise.all([newKeys(), newKeys()])
    const envelopes = [seal(alice, bob, newId(), textBody('one')), seal(alice, bob, newId(), textBody('two'))]
    validBatch = Batch.encode({ envelopes })
    validAck = Ack.encode({
      accepted: envelopes.map(e => e.id),
      timestamp: 1_700_000_000_000n,
      signature: new Uint8Array(64).fill(1),
      rejected: [{ id: newId(), reason: REJECT_REASON_CODES['bad-signature'] }]
    })
    validSealed = Sealed.encode({ sender: alice.idBytes as Uint8Array<ArrayBuffer>, signature: new Uint8Array(64).fill(2), body: textBody('inner') })
    validBodies = [
      textBody('hello, 世界 👋'),
      Body.encode({ kind: BODY_KIND.READ_RECEIPT, timestamp: 5n, text: '', refs: [newId(), newId(), newId()] })
    ]
  })

  const decoders: Array<[string, (bytes: Uint8Array) => void]> = [
    ['Envelope', (bytes) => { assertEnvelopeShape(Envelope.decode(bytes)) }],
    ['Batch', (bytes) => {
      const batch = Batch.decode(bytes, { limits: { envelopes: MAX_BATCH_ENVELOPES } })
      assert.ok(batch.envelopes.length <= MAX_BATCH_ENVELOPES)
      batch.envelopes.forEach(assertEnvelopeShape)
    }],
    ['Ack', (bytes) => {
      const ack = Ack.decode(bytes, { limits: { accepted: 4, rejected: 4 } })
      assert.ok(ack.accepted.length <= 4 && ack.rejected.length <= 4)
      assert.equal(typeof ack.timestamp, 'bigint')
      for (const r of ack.rejected) assert.ok(Number.isInteger(r.reason) && r.reason >= 0 && r.reason <= 0xffffffff, `reason ${r.reason}`)
    }],
    ['Sealed', (bytes) => {
      const sealed = Sealed.decode(bytes)
      for (const field of [sealed.sender, sealed.signature, sealed.body]) assert.ok(field instanceof Uint8Array)
    }],
    ['Body', (bytes) => {
      const body = Body.decode(bytes, { limits: { refs: MAX_RECEIPT_REFS } })
      assert.ok(Number.isInteger(body.kind) && body.kind >= 0 && body.kind <= 0xffffffff, `kind ${body.kind}`)
      assert.equal(typeof body.text, 'string')
      assert.ok(body.refs.length <= MAX_RECEIPT_REFS)
    }]
  ]

  for (const [name, decode] of decoders) {
    it(`${name}.decode on random bytes returns a well-formed value or throws an Error`, DEADLINE, () => {
      fc.assert(fc.property(randomBytesArb, (bytes) => { attempt(() => { decode(bytes) }) }), { numRuns: RUNS })
    })
  }

  it('each decoder on mutations of each valid encoding returns a well-formed value or throws an Error', DEADLINE, () => {
    const seeds = [validBatch, validAck, validSealed, ...validBodies, Envelope.encode(Batch.decode(validBatch).envelopes[0])]
    fc.assert(fc.property(fc.constantFrom(...seeds), mutations, (seed, edits) => {
      const bytes = mutate(seed, edits)
      for (const [, decode] of decoders) attempt(() => { decode(bytes) })
    }), { numRuns: RUNS * 2 })
  })

  it('Batch.decode stops at the envelope limit however the count is reached', DEADLINE, () => {
    const one = Batch.encode({ envelopes: [Batch.decode(validBatch).envelopes[0]] })
    fc.assert(fc.property(fc.integer({ min: 0, max: MAX_BATCH_ENVELOPES + 8 }), (count) => {
      // repeated fields concatenate: n copies of a one-envelope batch are an n-envelope batch
      const bytes = Buffer.concat(Array.from({ length: count }, () => one))
      const batch = attempt(() => Batch.decode(bytes, { limits: { envelopes: MAX_BATCH_ENVELOPES } }))
      assert.equal(batch == null, count > MAX_BATCH_ENVELOPES, `count ${count}`)
      if (batch != null) assert.equal(batch.envelopes.length, count)
    }), { numRuns: 100 })
  })

  it('Body.decode stops at the refs limit', DEADLINE, () => {
    const ref = Body.encode({ kind: BODY_KIND.READ_RECEIPT, timestamp: 0n, text: '', refs: [newId()] })
    const tooMany = Buffer.concat(Array.from({ length: MAX_RECEIPT_REFS + 1 }, () => ref))
    assert.throws(() => Body.decode(tooMany, { limits: { refs: MAX_RECEIPT_REFS } }), (err: any) => err instanceof Error)
    assert.equal(Body.decode(tooMany.subarray(ref.byteLength), { limits: { refs: MAX_RECEIPT_REFS } }).refs.length, MAX_RECEIPT_REFS)
  })
})

// --- contact cards --------------------------------------------------------------------------

describe('decodeCard on hostile text', () => {
  let alice: LocalKeys
  let card: string
  let cardBytes: Uint8Array
  let original: ContactCard

  before(async () => {
    alice = await newKeys()
    card = encodeCard(alice, [multiaddr('/ip4/127.0.0.1/tcp/4001'), multiaddr('/ip6/::1/tcp/4002/ws')], [multiaddr('/ip4/192.0.2.7/tcp/4001/p2p/12D3KooWD3eckifWpRn9wQpMG9R9hX3sD158z7EqHWmweQAJU5SA')], { timestamp: 1_700_000_000_000 })
    cardBytes = Buffer.from(card.slice(CARD_PREFIX.length), 'base64url')
    original = decodeCard(card)
  })

  /** decodeCard must accept only the original card's content, or throw InvalidCardError. */
  function check (text: string): void {
    let decoded: ContactCard
    try {
      decoded = decodeCard(text)
    } catch (err: any) {
      assert.ok(err instanceof Error, `threw a non-Error: ${String(err)}`)
      assert.equal(err.name, 'InvalidCardError', `${err.name}: ${err.message}`)
      return
    }
    assert.ok(decoded.peerId.equals(original.peerId))
    assert.deepEqual(decoded.addrs.map(a => a.toString()), original.addrs.map(a => a.toString()))
    assert.deepEqual(decoded.relays.map(r => r.toString()), original.relays.map(r => r.toString()))
    assert.equal(decoded.timestamp, original.timestamp)
  }

  const base64urlChar = fc.constantFrom(...'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_'.split(''))
  const texts = fc.oneof(
    fc.string({ maxLength: 200 }),
    fc.string({ unit: 'binary', maxLength: 200 }),
    fc.string({ unit: base64urlChar, maxLength: 600 }).map(s => CARD_PREFIX + s),
    fc.uint8Array({ maxLength: 400 }).map(b => CARD_PREFIX + Buffer.from(b).toString('base64url'))
  )

  it('random strings are refused with InvalidCardError', DEADLINE, () => {
    fc.assert(fc.property(texts, (text) => { check(text) }), { numRuns: RUNS })
  })

  const mutatedCards = fc.oneof(
    // edits to the protobuf bytes, re-encoded as a well-formed card string
    mutations.map(edits => () => CARD_PREFIX + Buffer.from(mutate(cardBytes, edits)).toString('base64url')),
    // edits to the text itself
    mutations.map(edits => () => Buffer.from(mutate(Buffer.from(card), edits)).toString('latin1'))
  )

  it('mutated valid cards are refused with InvalidCardError, or decode to the original content', DEADLINE, () => {
    fc.assert(fc.property(mutatedCards, (make) => { check(make()) }), { numRuns: RUNS * 2 })
  })

  it('a card naming an Ed25519 key that is not a curve point is refused with InvalidCardError', DEADLINE, () => {
    // peer ids for arbitrary 32-byte keys, about half of which are not points: signed, so
    // only the key check can refuse them
    fc.assert(fc.property(fc.uint8Array({ minLength: 32, maxLength: 32 }), (key) => {
      const peerId = Uint8Array.from([...alice.idBytes.subarray(0, alice.idBytes.byteLength - 32), ...key])
      const card = Card.encode({ version: 1, peerId, addrs: [], relays: [], timestamp: 1n })
      const signature = new Uint8Array(sign(null, Buffer.concat([Buffer.from('pigeon-card-v1\0'), card]), alice.ed25519Private))
      const text = CARD_PREFIX + Buffer.from(SignedCard.encode({ card, signature })).toString('base64url')
      assert.throws(() => decodeCard(text), (err: any) => err.name === 'InvalidCardError')
    }), { numRuns: 100 })
  })
})

// --- open() ---------------------------------------------------------------------------------

describe('open() on hostile envelopes', () => {
  let alice: LocalKeys
  let bob: LocalKeys
  const text = 'the original text'
  let body: Uint8Array
  let env: Envelope
  let encoded: Uint8Array

  before(async () => {
    [alice, bob] = await Promise.all([newKeys(), newKeys()])
    body = textBody(text)
    env = seal(alice, bob, newId(), body)
    encoded = Envelope.encode(env)
  })

  function assertOriginal (opened: OpenedEnvelope): void {
    assert.ok(opened.sender.equals(alice.peerId), 'sender changed')
    assert.equal(opened.body.text, text)
    assert.deepEqual(Body.encode(opened.body), body)
  }

  it('mutated encodings never open to altered content', DEADLINE, () => {
    // Some edits (an unknown field inserted, a non-minimal varint) leave every field as it was:
    // those open, to the same content. Nothing else may open.
    fc.assert(fc.property(mutations, (edits) => {
      const decoded = attempt(() => Envelope.decode(mutate(encoded, edits)))
      if (decoded == null) return
      const result = openOrReject(bob, decoded)
      if (result != null) assertOriginal(result)
    }), { numRuns: RUNS * 2 })
  })

  const field = fc.constantFrom('scheme', 'id', 'recipient', 'ephemeralKey', 'nonce', 'ciphertext') as fc.Arbitrary<keyof Envelope>

  it('mutated fields never open to altered content', DEADLINE, () => {
    fc.assert(fc.property(field, mutations, fc.nat(), (name, edits, scheme) => {
      const tampered: Envelope = { ...env }
      if (name === 'scheme') tampered.scheme = scheme
      else (tampered as any)[name] = mutate(env[name] as Uint8Array, edits)
      const result = openOrReject(bob, tampered)
      if (result != null) assertOriginal(result)
    }), { numRuns: RUNS * 2 })
  })

  it('random envelopes addressed to the reader are refused', DEADLINE, () => {
    const envelopes = fc.record({
      scheme: fc.oneof(fc.constant(SCHEME_X25519_XCHACHA), fc.nat()),
      id: fc.oneof(fc.uint8Array({ minLength: 16, maxLength: 16 }), fc.uint8Array({ maxLength: 40 })),
      recipient: fc.oneof(fc.constant(bob.idBytes), fc.uint8Array({ maxLength: 40 })),
      ephemeralKey: fc.oneof(fc.uint8Array({ minLength: 32, maxLength: 32 }), fc.uint8Array({ maxLength: 40 })),
      nonce: fc.oneof(fc.uint8Array({ minLength: 24, maxLength: 24 }), fc.uint8Array({ maxLength: 40 })),
      ciphertext: fc.uint8Array({ maxLength: 512 })
    })
    fc.assert(fc.property(envelopes, (random) => {
      assert.equal(openOrReject(bob, random as Envelope), undefined, 'a random envelope opened')
    }), { numRuns: RUNS })
  })

  it('decryptable envelopes with arbitrary signed bodies open to that body or are refused as malformed', DEADLINE, () => {
    const bodies = fc.oneof(fc.uint8Array({ maxLength: 256 }), mutations.map(edits => mutate(body, edits)))
    fc.assert(fc.property(bodies, (raw) => {
      const id = newId()
      const sealed = sealRaw(bob, id, (e) => signedSealed(alice, alice.idBytes, bob, id, e, raw))
      try {
        const result = open(bob, sealed)
        assert.ok(result.sender.equals(alice.peerId))
        assert.deepEqual(result.body, Body.decode(raw, { limits: { refs: MAX_RECEIPT_REFS } }))
      } catch (err: any) {
        assert.equal(err.name, 'EnvelopeRejectedError', `${err.name}: ${err.message}`)
        assert.equal(err.reason, 'malformed')
      }
    }), { numRuns: RUNS })
  })

  it('decryptable envelopes with arbitrary Sealed content are refused with EnvelopeRejectedError', DEADLINE, () => {
    fc.assert(fc.property(sealedContent(), (make) => {
      const id = newId()
      openOrReject(bob, sealRaw(bob, id, (e) => make(id, e)))
    }), { numRuns: RUNS })
  })

  /** Sealed plaintexts: random bytes, or Sealed messages with random senders and signatures. */
  function sealedContent (): fc.Arbitrary<(id: Uint8Array, ephemeralKey: Uint8Array) => Uint8Array> {
    const identityPrefix = alice.idBytes.subarray(0, alice.idBytes.byteLength - 32)
    const sender = fc.oneof(
      fc.uint8Array({ maxLength: 64 }),
      // an identity multihash of any 32 bytes: a well-formed Ed25519 peer id, maybe not a point
      fc.uint8Array({ minLength: 32, maxLength: 32 }).map(key => Uint8Array.from([...identityPrefix, ...key]))
    )
    return fc.oneof(
      fc.uint8Array({ maxLength: 256 }).map(raw => () => raw),
      fc.tuple(sender, fc.uint8Array({ maxLength: 80 }), fc.uint8Array({ maxLength: 64 })).map(([s, sig, b]) => () =>
        Sealed.encode({ sender: s, signature: sig, body: b })),
      // alice signs, but the Sealed names someone else
      sender.map(s => (id: Uint8Array, e: Uint8Array) => signedSealed(alice, s, bob, id, e, body))
    )
  }
})

// --- channels --------------------------------------------------------------------------------

describe('channel frames and invites on hostile bytes', () => {
  let author: LocalKeys
  const channel = new Uint8Array(16).fill(7)
  const key = new Uint8Array(32).fill(9)
  let valid: Uint8Array
  const post = ChannelPost.encode({ kind: 0, id: new Uint8Array(16).fill(1), wall: 1_700_000_000_000n, counter: 0, text: 'hello channel', relays: [], addrs: [], member: new Uint8Array(0), nextEpoch: 0 })
  before(async () => {
    author = await newKeys()
    valid = sealPost(author, channel, 3, key, post)
  })

  it('random frames are refused with FrameRejectedError and a known reason', DEADLINE, () => {
    fc.assert(fc.property(fc.uint8Array({ maxLength: 2048 }), (bytes) => {
      assert.throws(() => openFrame(bytes, channel, 3, key), (err: any) => err instanceof FrameRejectedError && FRAME_REASONS.has(err.reason))
    }), { numRuns: RUNS })
  })

  it('mutated frames never open to altered content', DEADLINE, () => {
    fc.assert(fc.property(mutations, (edits) => {
      const opened = attempt(() => openFrame(mutate(valid, edits), channel, 3, key))
      if (opened != null) {
        assert.equal(opened.author.toString(), author.peerId.toString())
        assert.deepEqual(ChannelPost.encode(opened.post), post)
      }
    }), { numRuns: RUNS })
  })

  it('a frame opens only in its own channel and epoch', () => {
    assert.equal(openFrame(valid, channel, 3, key).post.text, 'hello channel')
    assert.throws(() => openFrame(valid, channel, 4, key), { reason: 'decrypt-failed' } as any)
    assert.throws(() => openFrame(valid, new Uint8Array(16), 3, key), { reason: 'decrypt-failed' } as any)
  })

  it('random and mutated invite strings are refused with InvalidInviteError', DEADLINE, () => {
    fc.assert(fc.property(fc.string({ maxLength: 400 }), (text) => {
      assert.throws(() => decodeInvite(INVITE_PREFIX + text), InvalidInviteError)
    }), { numRuns: RUNS })
  })
})
