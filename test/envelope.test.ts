import { describe, it, before } from 'node:test'
import assert from 'node:assert/strict'
import { createPublicKey, diffieHellman, hkdfSync, randomBytes, type KeyObject } from 'node:crypto'
import { xchacha20poly1305 } from '@noble/ciphers/chacha.js'
import { open, seal } from '../src/crypto/envelope.js'
import type { LocalKeys } from '../src/crypto/keys.js'
import { signReceipt, verifyReceipt } from '../src/crypto/receipt.js'
import { Body, Envelope } from '../src/wire/pb/wire.js'
import { SCHEME_X25519_XCHACHA } from '../src/constants.js'
import { BODY_KIND } from '../src/wire/constants.js'
import { HKDF_INFO, headerBytes, newId, newKeys, sealedOf, sealRaw, signEnvelope, textBody } from './crypto-helpers.js'

// --- helpers --------------------------------------------------------------------------------
// sealRaw and friends (./crypto-helpers.ts) are an independent implementation of sealing
// scheme 1, so that the tests can build envelopes that decrypt but carry a forged or malformed
// Sealed inside.

function flipBit (bytes: Uint8Array, index = 0, bit = 0): Uint8Array<ArrayBuffer> {
  const copy = new Uint8Array(bytes)
  copy[index] ^= 1 << bit
  return copy
}

function rejectedWith (reason: string): (err: any) => boolean {
  return (err: any) => {
    assert.equal(err.name, 'EnvelopeRejectedError', `expected EnvelopeRejectedError, got ${err.name}: ${err.message}`)
    assert.equal(err.reason, reason, err.message)
    return true
  }
}

// --- tests ----------------------------------------------------------------------------------

describe('envelope seal/open', () => {
  let alice: LocalKeys
  let bob: LocalKeys
  let carol: LocalKeys

  before(async () => {
    [alice, bob, carol] = await Promise.all([newKeys(), newKeys(), newKeys()])
  })

  it('opens what it sealed: the sender and the body survive the round trip', () => {
    const id = newId()
    const body = textBody('hello bob')
    const env = seal(alice, bob, id, body)

    assert.equal(env.scheme, SCHEME_X25519_XCHACHA)
    assert.deepEqual(env.id, id)
    assert.deepEqual(env.recipient, bob.idBytes)
    assert.equal(env.ephemeralKey.byteLength, 32)
    assert.equal(env.nonce.byteLength, 24)
    assert.ok(!Buffer.from(env.ciphertext).includes(Buffer.from('hello bob')), 'the text is not in the clear')

    // through the wire encoding too
    const opened = open(bob, Envelope.decode(Envelope.encode(env)))
    assert.ok(opened.sender.equals(alice.peerId))
    assert.equal(opened.body.kind, BODY_KIND.TEXT)
    assert.equal(opened.body.text, 'hello bob')
    assert.equal(opened.body.timestamp, 1_700_000_000_000n)
    assert.deepEqual(Body.encode(opened.body), body)
  })

  it('opens a read receipt body with its refs', () => {
    const refs = [newId(), newId()]
    const env = seal(alice, bob, newId(), Body.encode({ kind: BODY_KIND.READ_RECEIPT, timestamp: 5n, text: '', refs }))
    const opened = open(bob, env)
    assert.equal(opened.body.kind, BODY_KIND.READ_RECEIPT)
    assert.deepEqual(opened.body.refs, refs)
  })

  it('seals each message with a fresh ephemeral key and nonce', () => {
    const body = textBody('same text')
    const a = seal(alice, bob, newId(), body)
    const b = seal(alice, bob, newId(), body)
    assert.notDeepEqual(a.ephemeralKey, b.ephemeralKey)
    assert.notDeepEqual(a.nonce, b.nonce)
    assert.notDeepEqual(a.ciphertext, b.ciphertext)
  })

  it('refuses an envelope addressed to another peer', () => {
    const env = seal(alice, bob, newId(), textBody('for bob only'))
    assert.throws(() => open(carol, env), rejectedWith('wrong-recipient'))
    // the sender cannot open it either
    assert.throws(() => open(alice, env), rejectedWith('wrong-recipient'))
  })

  it('refuses an envelope whose recipient field was rewritten to the reader', () => {
    const env = seal(alice, bob, newId(), textBody('for bob only'))
    // carol claims it is hers: the recipient is in the AEAD's associated data and in the key
    assert.throws(() => open(carol, { ...env, recipient: carol.idBytes as Uint8Array<ArrayBuffer> }), rejectedWith('decrypt-failed'))
  })

  it('refuses an envelope whose recipient field was changed to someone else', () => {
    const env = seal(alice, bob, newId(), textBody('x'))
    assert.throws(() => open(bob, { ...env, recipient: flipBit(env.recipient, env.recipient.byteLength - 1) }), rejectedWith('wrong-recipient'))
  })

  it('refuses a tampered ciphertext: any byte, the tag, truncation, extension, empty', () => {
    const env = seal(alice, bob, newId(), textBody('tamper with me'))
    const ct = env.ciphertext
    const variants: Array<[string, Uint8Array<ArrayBuffer>]> = [
      ['first byte', flipBit(ct, 0)],
      ['middle byte', flipBit(ct, ct.byteLength >> 1, 7)],
      ['tag byte', flipBit(ct, ct.byteLength - 1)],
      ['truncated', ct.slice(0, -1)],
      ['extended', new Uint8Array([...ct, 0])],
      ['empty', new Uint8Array(0)]
    ]
    for (const [what, ciphertext] of variants) {
      assert.throws(() => open(bob, { ...env, ciphertext }), rejectedWith('decrypt-failed'), what)
    }
  })

  it('refuses a changed id (it is authenticated)', () => {
    const env = seal(alice, bob, newId(), textBody('x'))
    assert.throws(() => open(bob, { ...env, id: flipBit(env.id, 3) }), rejectedWith('decrypt-failed'))
    assert.throws(() => open(bob, { ...env, id: newId() }), rejectedWith('decrypt-failed'))
  })

  it('refuses a changed nonce', () => {
    const env = seal(alice, bob, newId(), textBody('x'))
    assert.throws(() => open(bob, { ...env, nonce: flipBit(env.nonce, 23, 7) }), rejectedWith('decrypt-failed'))
  })

  it('refuses a changed ephemeral key, including the bit X25519 ignores', () => {
    const env = seal(alice, bob, newId(), textBody('x'))
    assert.throws(() => open(bob, { ...env, ephemeralKey: flipBit(env.ephemeralKey, 0) }), rejectedWith('decrypt-failed'))
    // X25519 masks the top bit of the u-coordinate, so the shared secret is unchanged: the key
    // still differs because the ephemeral key is in the HKDF salt and the associated data.
    assert.throws(() => open(bob, { ...env, ephemeralKey: flipBit(env.ephemeralKey, 31, 7) }), rejectedWith('decrypt-failed'))
  })

  it('refuses an unsupported scheme before anything else', () => {
    const env = seal(alice, bob, newId(), textBody('x'))
    for (const scheme of [0, 2, 255, 0xffffffff]) {
      assert.throws(() => open(bob, { ...env, scheme }), rejectedWith('unsupported-scheme'), `scheme ${scheme}`)
    }
    // even when addressed elsewhere
    assert.throws(() => open(carol, { ...env, scheme: 2 }), rejectedWith('unsupported-scheme'))
  })

  it('refuses fields of the wrong length as malformed', () => {
    const env = seal(alice, bob, newId(), textBody('x'))
    const variants: Array<[string, Envelope]> = [
      ['short id', { ...env, id: env.id.slice(0, 15) }],
      ['long id', { ...env, id: new Uint8Array([...env.id, 0]) }],
      ['empty id', { ...env, id: new Uint8Array(0) }],
      ['short ephemeral key', { ...env, ephemeralKey: env.ephemeralKey.slice(0, 31) }],
      ['long ephemeral key', { ...env, ephemeralKey: new Uint8Array([...env.ephemeralKey, 0]) }],
      ['short nonce', { ...env, nonce: env.nonce.slice(0, 12) }],
      ['empty nonce', { ...env, nonce: new Uint8Array(0) }]
    ]
    for (const [what, bad] of variants) {
      assert.throws(() => open(bob, bad), rejectedWith('malformed'), what)
    }
  })

  it('refuses low-order ephemeral keys as malformed', () => {
    const env = seal(alice, bob, newId(), textBody('x'))
    const hex = (h: string): Uint8Array<ArrayBuffer> => new Uint8Array(Buffer.from(h, 'hex'))
    const ff = 'ff'.repeat(30)
    // Curve25519 points of order 1, 2, 4 and 8 and their non-canonical encodings (the list
    // libsodium blocks): the shared secret with any of them is all zero, which anyone can compute.
    const lowOrder: Array<[string, Uint8Array<ArrayBuffer>]> = [
      ['0', hex('00'.repeat(32))],
      ['1', hex('01' + '00'.repeat(31))],
      ['order 8 (a)', hex('e0eb7a7c3b41b8ae1656e3faf19fc46ada098deb9c32b1fd866205165f49b800')],
      ['order 8 (b)', hex('5f9c95bca3508c24b1d0b1559c83ef5b04445cc4581c8e86d8224eddd09f1157')],
      ['p - 1', hex('ec' + ff + '7f')],
      ['p', hex('ed' + ff + '7f')],
      ['p + 1', hex('ee' + ff + '7f')],
      ['0 with the ignored top bit set', hex('00'.repeat(31) + '80')],
      ['1 with the ignored top bit set', hex('01' + '00'.repeat(30) + '80')]
    ]
    for (const [what, ephemeralKey] of lowOrder) {
      assert.throws(() => open(bob, { ...env, ephemeralKey }), rejectedWith('malformed'), what)
    }
  })

  it('accepts an envelope built by an independent implementation of the scheme', () => {
    // Cross-checks the helpers in ./crypto-helpers.ts against seal/open before they are used to forge.
    const id = newId()
    const body = textBody('independent')
    const env = sealRaw(bob, id, (e) => sealedOf(alice.idBytes, signEnvelope(alice, id, bob, e, body), body))
    const opened = open(bob, env)
    assert.ok(opened.sender.equals(alice.peerId))
    assert.equal(opened.body.text, 'independent')
  })

  it('refuses a forged sender signature', () => {
    const id = newId()
    const body = textBody('I am alice, trust me')
    // a corrupted signature
    let env = sealRaw(bob, id, (e) => sealedOf(alice.idBytes, flipBit(signEnvelope(alice, id, bob, e, body), 10), body))
    assert.throws(() => open(bob, env), rejectedWith('bad-signature'))
    // carol signs but names alice as sender
    env = sealRaw(bob, id, (e) => sealedOf(alice.idBytes, signEnvelope(carol, id, bob, e, body), body))
    assert.throws(() => open(bob, env), rejectedWith('bad-signature'))
    // no signature at all, and one of the wrong length
    env = sealRaw(bob, id, () => sealedOf(alice.idBytes, new Uint8Array(0), body))
    assert.throws(() => open(bob, env), rejectedWith('bad-signature'))
    env = sealRaw(bob, id, (e) => sealedOf(alice.idBytes, signEnvelope(alice, id, bob, e, body).slice(0, 63), body))
    assert.throws(() => open(bob, env), rejectedWith('bad-signature'))
  })

  it('refuses a signature made over other content', () => {
    const id = newId()
    const body = textBody('original')
    const other = textBody('altered')
    // alice's honest signature over `body`, attached to `other`
    let env = sealRaw(bob, id, (e) => sealedOf(alice.idBytes, signEnvelope(alice, id, bob, e, body), other))
    assert.throws(() => open(bob, env), rejectedWith('bad-signature'))
    // a signature for another ephemeral key (from an earlier envelope) is not reusable
    const earlier = seal(alice, bob, id, body)
    env = sealRaw(bob, id, () => sealedOf(alice.idBytes, signEnvelope(alice, id, bob, earlier.ephemeralKey, body), body))
    assert.throws(() => open(bob, env), rejectedWith('bad-signature'))
    // a signature for another id
    env = sealRaw(bob, id, (e) => sealedOf(alice.idBytes, signEnvelope(alice, newId(), bob, e, body), body))
    assert.throws(() => open(bob, env), rejectedWith('bad-signature'))
  })

  it('refuses a message that its recipient re-seals to a third party', () => {
    // bob received a message from alice and tries to pass it to carol as if alice wrote to her
    const id = newId()
    const body = textBody('for bob')
    const toBob = seal(alice, bob, id, body)
    const key = new Uint8Array(hkdfSync('sha256', diffieHellman({ privateKey: bob.x25519Private, publicKey: x25519Of(toBob.ephemeralKey) }),
      Buffer.concat([toBob.ephemeralKey, bob.x25519Raw]), HKDF_INFO, 32))
    const inner = xchacha20poly1305(key, toBob.nonce, headerBytes(id, bob.idBytes, toBob.ephemeralKey)).decrypt(toBob.ciphertext)
    const env = sealRaw(carol, id, () => inner)
    assert.throws(() => open(carol, env), rejectedWith('bad-signature'))
  })

  it('refuses a Sealed that does not decode, or a sender that is not an Ed25519 peer id', () => {
    const id = newId()
    const body = textBody('x')
    // wire type 7 does not exist: not a protobuf
    let env = sealRaw(bob, id, () => Uint8Array.of(0x0f, 0x01))
    assert.throws(() => open(bob, env), rejectedWith('malformed'))
    // empty sender
    env = sealRaw(bob, id, (e) => sealedOf(new Uint8Array(0), signEnvelope(alice, id, bob, e, body), body))
    assert.throws(() => open(bob, env), rejectedWith('malformed'))
    // a sha256 multihash is a valid peer id, but not an Ed25519 one
    env = sealRaw(bob, id, (e) => sealedOf(Uint8Array.of(0x12, 0x20, ...new Uint8Array(32).fill(7)), signEnvelope(alice, id, bob, e, body), body))
    assert.throws(() => open(bob, env), rejectedWith('malformed'))
    // random garbage
    env = sealRaw(bob, id, (e) => sealedOf(new Uint8Array(randomBytes(38)), signEnvelope(alice, id, bob, e, body), body))
    assert.throws(() => open(bob, env), rejectedWith('malformed'))
  })

  it('refuses a sender whose Ed25519 public key is not a curve point', () => {
    // An identity-multihash peer id whose 32 key bytes do not decode to a point: the peer id
    // parses, but the key cannot be used. open() promises an EnvelopeRejectedError.
    const id = newId()
    const body = textBody('x')
    const sender = invalidPointPeerIdBytes(alice.idBytes)
    const env = sealRaw(bob, id, (e) => sealedOf(sender, signEnvelope(alice, id, bob, e, body), body))
    assert.throws(() => open(bob, env), rejectedWith('malformed'))
  })

  it('refuses a correctly signed body that does not decode', () => {
    const id = newId()
    for (const body of [Uint8Array.of(0x0f), Uint8Array.of(0x0a, 0x05, 0x01)]) {
      const env = sealRaw(bob, id, (e) => sealedOf(alice.idBytes, signEnvelope(alice, id, bob, e, body), body))
      assert.throws(() => open(bob, env), rejectedWith('malformed'))
    }
  })
})

describe('delivery receipts', () => {
  let sender: LocalKeys
  let receiver: LocalKeys
  let other: LocalKeys
  const ids = [newId(), newId(), newId()]
  const timestamp = 1_700_000_123_456n

  before(async () => {
    [sender, receiver, other] = await Promise.all([newKeys(), newKeys(), newKeys()])
  })

  it('verifies a receipt signed by the receiver for these ids', () => {
    const sig = signReceipt(receiver, sender, timestamp, ids)
    assert.equal(sig.byteLength, 64)
    assert.equal(verifyReceipt(sender, receiver, timestamp, ids, sig), true)
    assert.equal(verifyReceipt(sender, receiver, timestamp, ids.map(i => new Uint8Array(i)), new Uint8Array(sig)), true, 'copies verify too')
  })

  it('does not verify when the ids change', () => {
    const sig = signReceipt(receiver, sender, timestamp, ids)
    assert.equal(verifyReceipt(sender, receiver, timestamp, ids.slice(0, 2), sig), false, 'one id dropped')
    assert.equal(verifyReceipt(sender, receiver, timestamp, [...ids, newId()], sig), false, 'one id added')
    assert.equal(verifyReceipt(sender, receiver, timestamp, [ids[1], ids[0], ids[2]], sig), false, 'reordered')
    assert.equal(verifyReceipt(sender, receiver, timestamp, [flipBit(ids[0], 15), ids[1], ids[2]], sig), false, 'one bit of one id')
    assert.equal(verifyReceipt(sender, receiver, timestamp, [], sig), false, 'no ids')
  })

  it('does not verify when the timestamp changes', () => {
    const sig = signReceipt(receiver, sender, timestamp, ids)
    assert.equal(verifyReceipt(sender, receiver, timestamp + 1n, ids, sig), false)
    assert.equal(verifyReceipt(sender, receiver, 0n, ids, sig), false)
  })

  it('does not verify when another key signed it, or it was addressed to another sender', () => {
    const byOther = signReceipt(other, sender, timestamp, ids)
    assert.equal(verifyReceipt(sender, receiver, timestamp, ids, byOther), false, 'another signer claiming to be the receiver')
    const forOther = signReceipt(receiver, other, timestamp, ids)
    assert.equal(verifyReceipt(sender, receiver, timestamp, ids, forOther), false, 'a receipt the receiver gave someone else')
    assert.equal(verifyReceipt(other, receiver, timestamp, ids, forOther), true, 'which does verify for that someone')
  })

  it('does not verify a corrupted or truncated signature', () => {
    const sig = signReceipt(receiver, sender, timestamp, ids)
    assert.equal(verifyReceipt(sender, receiver, timestamp, ids, flipBit(sig, 0)), false)
    assert.equal(verifyReceipt(sender, receiver, timestamp, ids, flipBit(sig, 63, 7)), false)
    assert.equal(verifyReceipt(sender, receiver, timestamp, ids, sig.slice(0, 63)), false)
    assert.equal(verifyReceipt(sender, receiver, timestamp, ids, new Uint8Array(0)), false)
  })
})

// --- more helpers ---------------------------------------------------------------------------

/** node:crypto has no raw import for X25519 public keys; JWK is the shortest route. */
function x25519Of (raw: Uint8Array): KeyObject {
  return createPublicKey({ key: { kty: 'OKP', crv: 'X25519', x: Buffer.from(raw).toString('base64url') }, format: 'jwk' })
}

/**
 * The peer id bytes of `idBytes` (an identity multihash of an Ed25519 key) with the key
 * replaced by 32 bytes that are not the encoding of a curve point.
 */
function invalidPointPeerIdBytes (idBytes: Uint8Array): Uint8Array {
  const out = new Uint8Array(idBytes)
  // y = 2 has no matching x on edwards25519: (y^2 - 1) / (d y^2 + 1) is not a square mod p
  const key = new Uint8Array(32)
  key[0] = 2
  out.set(key, out.byteLength - 32)
  return out
}
