import { describe, it, before } from 'node:test'
import assert from 'node:assert/strict'
import { sign } from 'node:crypto'
import { generateKeyPair } from '@libp2p/crypto/keys'
import { peerIdFromPrivateKey } from '@libp2p/peer-id'
import { multiaddr } from '@multiformats/multiaddr'
import { CARD_PREFIX, MAX_CARD_CHARS, decodeCard, encodeCard } from '../src/contacts/card.js'
import { Card, SignedCard } from '../src/contacts/pb/card.js'
import { localKeys, type LocalKeys } from '../src/crypto/keys.js'
import { InvalidCardError, PigeonError } from '../src/errors.js'
import { PrekeyStore } from '../src/session/prekey-store.js'
import { checkBundle } from '../src/session/prekeys.js'
import { PrekeyBundle } from '../src/session/pb/session.js'

// --- helpers --------------------------------------------------------------------------------

const SIGNATURE_CONTEXT = Buffer.from('pigeon-card-v1\0')

async function newKeys (): Promise<LocalKeys> {
  const privateKey = await generateKeyPair('Ed25519')
  return localKeys(privateKey, peerIdFromPrivateKey(privateKey))
}

/** The signed envelope and the Card inside a card string. */
function parse (text: string): { signed: SignedCard, card: Card } {
  assert.ok(text.startsWith(CARD_PREFIX))
  const signed = SignedCard.decode(Buffer.from(text.slice(CARD_PREFIX.length), 'base64url'))
  return { signed, card: Card.decode(signed.card) }
}

/** A card string carrying `card` bytes and `signature` as they are. */
function format (card: Uint8Array, signature: Uint8Array): string {
  return CARD_PREFIX + Buffer.from(SignedCard.encode({ card: card as Uint8Array<ArrayBuffer>, signature: signature as Uint8Array<ArrayBuffer> })).toString('base64url')
}

/** The signature the card format asks for, over these exact card bytes, by `signer`. */
function signBytes (signer: LocalKeys, card: Uint8Array): Uint8Array {
  return new Uint8Array(sign(null, Buffer.concat([SIGNATURE_CONTEXT, card]), signer.ed25519Private))
}

/** Signs `card` with `signer`, whoever the card names. */
function signAs (signer: LocalKeys, card: Card): string {
  const bytes = Card.encode(card)
  return format(bytes, signBytes(signer, bytes))
}

function baseCard (keys: LocalKeys, fields: Partial<Card> = {}): Card {
  return {
    version: 1,
    peerId: keys.idBytes as Uint8Array<ArrayBuffer>,
    addrs: [multiaddr('/ip4/127.0.0.1/tcp/4001').bytes as Uint8Array<ArrayBuffer>],
    relays: [],
    timestamp: 1_700_000_000_000n,
    expires: 0n,
    ...fields
  }
}

/** Asserts that decoding `text` fails with InvalidCardError and a message matching `message`. */
function assertInvalid (text: string, message: RegExp, what?: string): void {
  assert.throws(() => decodeCard(text), (err: any) => {
    assert.equal(err.name, 'InvalidCardError', `${what ?? ''} expected InvalidCardError, got ${err.name}: ${err.message}`)
    assert.ok(err instanceof InvalidCardError)
    assert.ok(err instanceof PigeonError)
    assert.match(err.message, message, what)
    return true
  }, what)
}

// --- tests ----------------------------------------------------------------------------------

describe('contact cards', () => {
  let alice: LocalKeys
  let bob: LocalKeys

  before(async () => {
    [alice, bob] = await Promise.all([newKeys(), newKeys()])
  })

  it('round trips peer id, addresses, relays, timestamp and expiry', () => {
    const addrs = [
      multiaddr('/ip4/127.0.0.1/tcp/4001'),
      multiaddr('/ip4/192.168.1.20/tcp/4002/ws'),
      multiaddr('/ip6/::1/tcp/4003'),
      multiaddr('/dns4/pigeon.example.com/tcp/443/wss')
    ]
    const relays = [multiaddr('/ip4/192.0.2.7/tcp/4001/p2p/12D3KooWD3eckifWpRn9wQpMG9R9hX3sD158z7EqHWmweQAJU5SA')]
    const text = encodeCard(alice, addrs, relays, { timestamp: 1_700_000_000_123, expires: 1_700_086_400_123 })
    assert.ok(text.startsWith(CARD_PREFIX))
    assert.match(text.slice(CARD_PREFIX.length), /^[A-Za-z0-9_-]+$/, 'base64url, no padding')

    const card = decodeCard(text)
    assert.ok(card.peerId.equals(alice.peerId))
    assert.deepEqual(card.addrs.map(a => a.toString()), addrs.map(a => a.toString()))
    assert.deepEqual(card.relays.map(r => r.toString()), relays.map(r => r.toString()))
    assert.equal(card.timestamp, 1_700_000_000_123)
    assert.equal(card.expires, 1_700_086_400_123)
  })

  it('round trips a card with no addresses, and uses the current time by default', () => {
    const before = Date.now()
    const card = decodeCard(encodeCard(alice, []))
    assert.ok(card.peerId.equals(alice.peerId))
    assert.deepEqual(card.addrs, [])
    assert.ok(card.timestamp >= before && card.timestamp <= Date.now())
    assert.equal(card.expires, 0, 'a pasted card does not expire')
  })

  it('accepts a card with surrounding whitespace, as pasted', () => {
    const text = encodeCard(alice, [multiaddr('/ip4/10.0.0.1/tcp/1')])
    assert.ok(decodeCard(`  \n${text}\r\n\t`).peerId.equals(alice.peerId))
  })

  it('keeps at most 32 addresses when encoding', () => {
    const addrs = Array.from({ length: 40 }, (_, i) => multiaddr(`/ip4/10.0.0.${i}/tcp/4001`))
    const card = decodeCard(encodeCard(alice, addrs))
    assert.equal(card.addrs.length, 32)
    assert.equal(card.addrs[31].toString(), '/ip4/10.0.0.31/tcp/4001')
  })

  it('accepts a card signed by the independent signer in this test (checks the helper)', () => {
    assert.ok(decodeCard(signAs(alice, baseCard(alice))).peerId.equals(alice.peerId))
  })

  it('refuses a card without the prefix', () => {
    const text = encodeCard(alice, [])
    const b64 = text.slice(CARD_PREFIX.length)
    assertInvalid(b64, /starts with/, 'no prefix')
    assertInvalid('', /starts with/, 'empty')
    assertInvalid('   ', /starts with/, 'blank')
    assertInvalid('pigeon-crad:' + b64, /starts with/, 'misspelt prefix')
    assertInvalid('Pigeon-card:' + b64, /starts with/, 'prefix in another case')
    assertInvalid('x' + text, /starts with/, 'something before the prefix')
    assertInvalid(alice.peerId.toString(), /starts with/, 'a bare peer id')
  })

  it('refuses a card with characters outside base64url', () => {
    const text = encodeCard(alice, [])
    const cut = CARD_PREFIX.length + 10
    for (const bad of ['+', '/', '=', ' ', '.', 'é', '\u0000', '\n']) {
      assertInvalid(text.slice(0, cut) + bad + text.slice(cut), /base64url/, JSON.stringify(bad))
    }
    assertInvalid(text + '==', /base64url/, 'padding')
  })

  it('refuses base64url that is not a card', () => {
    assertInvalid(CARD_PREFIX, /Ed25519 peer id|version/, 'empty body')
    assertInvalid(CARD_PREFIX + Buffer.from([0x3f, 0x01]).toString('base64url'), /does not decode/, 'invalid wire type')
    assertInvalid(CARD_PREFIX + Buffer.from([0x12, 0x7f, 0x01]).toString('base64url'), /does not decode/, 'length past the end')
    assertInvalid(encodeCard(alice, []).slice(0, -8), /./, 'truncated')
    assertInvalid(format(Uint8Array.of(0x3f), new Uint8Array(64)), /does not decode/, 'a signed envelope holding a card that does not decode')
  })

  it('refuses a card whose signature has a flipped byte', () => {
    const { signed } = parse(encodeCard(alice, [multiaddr('/ip4/127.0.0.1/tcp/4001')]))
    for (const index of [0, 31, 63]) {
      const signature = new Uint8Array(signed.signature)
      signature[index] ^= 0x01
      assertInvalid(format(signed.card, signature), /signature/, `byte ${index}`)
    }
    assertInvalid(format(signed.card, new Uint8Array(0)), /signature/, 'no signature')
    assertInvalid(format(signed.card, signed.signature.slice(0, 63)), /signature/, 'truncated signature')
    assertInvalid(format(signed.card, new Uint8Array([...signed.signature, 0])), /signature/, 'extended signature')
  })

  it('refuses a card signed by another peer', () => {
    // bob signs a card that names alice
    assertInvalid(signAs(bob, baseCard(alice)), /signature/, 'bob signs for alice')
    // alice's genuine signature, with bob's peer id swapped into the card
    const { signed, card } = parse(encodeCard(alice, []))
    assertInvalid(format(Card.encode({ ...card, peerId: bob.idBytes as Uint8Array<ArrayBuffer> }), signed.signature), /signature/, 'peer id swapped')
    // bob's genuine card bytes with alice's signature
    const bobs = parse(encodeCard(bob, []))
    assertInvalid(format(bobs.signed.card, signed.signature), /signature/, 'signatures swapped')
  })

  it('refuses a card whose signed content was changed', () => {
    const { signed, card } = parse(encodeCard(alice, [multiaddr('/ip4/127.0.0.1/tcp/4001')], [], { timestamp: 1000 }))
    const evil = multiaddr('/ip4/6.6.6.6/tcp/4001').bytes as Uint8Array<ArrayBuffer>
    const variants: Array<[string, Card]> = [
      ['address replaced', { ...card, addrs: [evil] }],
      ['address added', { ...card, addrs: [...card.addrs, evil] }],
      ['addresses removed', { ...card, addrs: [] }],
      ['timestamp changed', { ...card, timestamp: 2000n }],
      ['relay added', { ...card, relays: [multiaddr('/ip4/192.0.2.7/tcp/4001/p2p/12D3KooWD3eckifWpRn9wQpMG9R9hX3sD158z7EqHWmweQAJU5SA').bytes as Uint8Array<ArrayBuffer>] }]
    ]
    for (const [what, changed] of variants) assertInvalid(format(Card.encode(changed), signed.signature), /signature/, what)
    // an unknown field appended to the signed bytes is a change too
    assertInvalid(format(new Uint8Array([...signed.card, 0x78, 0x01]), signed.signature), /signature/, 'field appended')
  })

  it('accepts a card carrying a field this version does not know, as signed by its owner', () => {
    // field 15 (varint): a later version's addition. The signature is over the bytes as carried,
    // so an older reader verifies it without understanding it.
    const bytes = new Uint8Array([...Card.encode(baseCard(alice)), 0x78, 0x2a])
    const card = decodeCard(format(bytes, signBytes(alice, bytes)))
    assert.ok(card.peerId.equals(alice.peerId))
    assert.deepEqual(card.addrs.map(a => a.toString()), ['/ip4/127.0.0.1/tcp/4001'])
  })

  it('refuses a card longer than MAX_CARD_CHARS, even when its signature is good', () => {
    assertInvalid(CARD_PREFIX + 'A'.repeat(MAX_CARD_CHARS), /longer than/, 'long junk')
    // a genuine card padded out with long DNS names, within the address limit
    const long = `/dns4/${'a'.repeat(63)}.${'b'.repeat(63)}.${'c'.repeat(63)}.example/tcp/443/wss`
    const addrs = Array.from({ length: 32 }, () => multiaddr(long).bytes as Uint8Array<ArrayBuffer>)
    const text = signAs(alice, baseCard(alice, { addrs }))
    assert.ok(text.length > MAX_CARD_CHARS, `test card is ${text.length} characters`)
    assertInvalid(text, /longer than/, 'signed but too long')
    // the limit is on the card itself, not on the whitespace around it
    const fits = encodeCard(alice, [])
    assert.ok(decodeCard(fits + ' '.repeat(MAX_CARD_CHARS)).peerId.equals(alice.peerId))
  })

  it('refuses a card with more than 32 addresses or 16 relays, even when signed', () => {
    const addrs = Array.from({ length: 33 }, (_, i) => multiaddr(`/ip4/10.0.0.${i}/tcp/1`).bytes as Uint8Array<ArrayBuffer>)
    assertInvalid(signAs(alice, baseCard(alice, { addrs })), /does not decode/, '33 addresses')
    const relays = Array.from({ length: 17 }, (_, i) => multiaddr(`/ip4/10.0.1.${i}/tcp/1/p2p/12D3KooWD3eckifWpRn9wQpMG9R9hX3sD158z7EqHWmweQAJU5SA`).bytes as Uint8Array<ArrayBuffer>)
    assertInvalid(signAs(alice, baseCard(alice, { relays })), /does not decode/, '17 relays')
  })

  it('refuses a relay address that does not name the relay\'s peer id', () => {
    const relays = [multiaddr('/ip4/10.0.1.1/tcp/1').bytes as Uint8Array<ArrayBuffer>]
    assertInvalid(signAs(alice, baseCard(alice, { relays })), /must end in \/p2p/, 'relay without /p2p')
  })

  it('refuses an unknown version, even when signed', () => {
    assertInvalid(signAs(alice, baseCard(alice, { version: 2 })), /version/, 'version 2')
    assertInvalid(signAs(alice, baseCard(alice, { version: 0 })), /version/, 'version 0')
  })

  it('refuses a card whose peer id is not an Ed25519 identity', () => {
    const sha256PeerId = Uint8Array.of(0x12, 0x20, ...new Uint8Array(32).fill(9))
    assertInvalid(signAs(alice, baseCard(alice, { peerId: sha256PeerId })), /Ed25519 peer id/, 'sha256 multihash')
    assertInvalid(signAs(alice, baseCard(alice, { peerId: new Uint8Array(0) })), /Ed25519 peer id/, 'empty')
    assertInvalid(signAs(alice, baseCard(alice, { peerId: alice.idBytes.slice(0, 20) as Uint8Array<ArrayBuffer> })), /Ed25519 peer id/, 'truncated')
  })

  it('refuses a card whose Ed25519 key is not a curve point', () => {
    const peerId = new Uint8Array(alice.idBytes)
    // y = 2 has no matching x on edwards25519
    peerId.fill(0, peerId.byteLength - 32)
    peerId[peerId.byteLength - 32] = 2
    assertInvalid(signAs(alice, baseCard(alice, { peerId })), /Ed25519 peer id/, 'off-curve key')
  })

  it('refuses a signed card with an address that does not parse', () => {
    for (const bytes of [Uint8Array.of(0xff, 0xff, 0x03), Uint8Array.of(0x04, 1, 2), Uint8Array.of(0x04, 127, 0, 0, 1, 0x06, 1, 2, 3)]) {
      assertInvalid(signAs(alice, baseCard(alice, { addrs: [bytes] })), /invalid address/, Buffer.from(bytes).toString('hex'))
    }
  })

  it('refuses a signed card with an address whose port is cut short', () => {
    // /ip4/127.0.0.1/tcp/ with no port bytes, followed in the card by other fields
    const truncated = Uint8Array.of(0x04, 127, 0, 0, 1, 0x06)
    const text = signAs(alice, baseCard(alice, { addrs: [truncated, multiaddr('/ip4/10.0.0.1/tcp/4001').bytes as Uint8Array<ArrayBuffer>] }))
    assertInvalid(text, /invalid address/, 'tcp without a port')
  })

  it('carries session prekeys that the card and their own signatures vouch for; both or neither, at their lengths', async () => {
    const meta = new Map<string, unknown>()
    const store = await PrekeyStore.open({ getMeta: async (k) => meta.get(k) as any, putMeta: async (k, v) => { meta.set(k, v) } }, alice.ed25519Private, Date.now())
    const addrs = Array.from({ length: 16 }, (_, i) => multiaddr(`/ip4/203.0.113.${i}/tcp/4001`))
    const text = encodeCard(alice, addrs, [multiaddr(`/ip4/203.0.113.7/tcp/4001/p2p/${bob.peerId.toString()}`)], {}, store.current())
    assert.ok(text.length <= MAX_CARD_CHARS, `${text.length} characters`)
    const card = decodeCard(text)
    const hexOf = (p: any): unknown => JSON.parse(JSON.stringify(p, (_k, v) => v instanceof Uint8Array ? Buffer.from(v).toString('hex') : v?.type === 'Buffer' ? Buffer.from(v.data).toString('hex') : v))
    assert.deepEqual(hexOf(card.prekeys), hexOf(store.current()))
    const checked = checkBundle(PrekeyBundle.encode({ identity: alice.idBytes as Uint8Array<ArrayBuffer>, ...card.prekeys! }), alice)
    assert.equal(checked.pqPrekey.publicKey.byteLength, 1184)
    assert.equal(decodeCard(encodeCard(alice, addrs)).prekeys, undefined, 'a card without prekeys: scheme 1 only')

    const { signedPrekey, pqPrekey } = store.current()
    assertInvalid(signAs(alice, baseCard(alice, { signedPrekey })), /both session prekeys or neither/)
    const short = { ...pqPrekey, publicKey: pqPrekey.publicKey.subarray(1) }
    assertInvalid(signAs(alice, baseCard(alice, { signedPrekey, pqPrekey: short })), /wrong length/)
  })
})
