/**
 * A raw libp2p node that speaks /pigeon/dm/1.0.0 badly on purpose, against a real pigeon node
 * over TCP on 127.0.0.1. After each abuse the pigeon node must still take a message from an
 * honest pigeon node.
 */
import { describe, it, before, after, afterEach } from 'node:test'
import assert from 'node:assert/strict'
import { createLibp2p, type Libp2p } from 'libp2p'
import { tcp } from '@libp2p/tcp'
import { noise } from '@chainsafe/libp2p-noise'
import { yamux } from '@chainsafe/libp2p-yamux'
import { identify } from '@libp2p/identify'
import { generateKeyPair } from '@libp2p/crypto/keys'
import { peerIdFromPrivateKey } from '@libp2p/peer-id'
import { pbStream } from '@libp2p/utils'
import { Nodes } from './helpers.js'
import { newId, newKeys, textBody } from './crypto-helpers.js'
import { Ack, Batch, Body, type Envelope } from '../src/wire/pb/wire.js'
import { seal } from '../src/crypto/envelope.js'
import { localKeys, peerKeys, type LocalKeys, type PeerKeys } from '../src/crypto/keys.js'
import { verifyReceipt } from '../src/crypto/receipt.js'
import { BODY_KIND, REJECT_REASON_CODES } from '../src/wire/constants.js'
import { DM_PROTOCOL, MAX_BATCH_ENVELOPES, MAX_ENVELOPE_BYTES, MAX_FRAME_BYTES, MAX_TEXT_BYTES } from '../src/constants.js'
import type { PigeonNode } from '../src/index.js'
import type { Multiaddr } from '@multiformats/multiaddr'
import type { Stream } from '@libp2p/interface'

/** Deadline for any one network step: generous for a loaded machine, short next to the test timeout. */
const STEP_MS = 10_000

// --- helpers --------------------------------------------------------------------------------

/** Unsigned LEB128, as the length prefix of a frame. */
const varint = {
  encode (n: number): Uint8Array {
    const out: number[] = []
    do {
      out.push((n & 0x7f) | (n > 0x7f ? 0x80 : 0))
      n = Math.floor(n / 128)
    } while (n > 0)
    return Uint8Array.from(out)
  }
}

function hex (bytes: Uint8Array): string {
  return Buffer.from(bytes).toString('hex')
}

/**
 * Resolves when the far end of `stream` is done with it: 'reset' when it aborted the stream,
 * 'closed' when it closed its writable end. Rejects when `signal` fires first.
 */
async function remoteEnd (stream: Stream, signal: AbortSignal): Promise<'reset' | 'closed'> {
  const state = (): 'reset' | 'closed' | undefined => {
    if (stream.status === 'reset' || stream.status === 'aborted') return 'reset'
    if (stream.remoteWriteStatus === 'closed' || stream.status === 'closed') return 'closed'
    return undefined
  }
  return await new Promise((resolve, reject) => {
    const done = (): void => {
      stream.removeEventListener('close', check)
      stream.removeEventListener('remoteCloseWrite', check)
      signal.removeEventListener('abort', onAbort)
    }
    const check = (): void => {
      const s = state()
      if (s == null) return
      done()
      resolve(s)
    }
    const onAbort = (): void => {
      done()
      reject(new Error(`stream still open (status ${stream.status}, remote write ${stream.remoteWriteStatus}) when the deadline passed`))
    }
    stream.addEventListener('close', check)
    stream.addEventListener('remoteCloseWrite', check)
    signal.addEventListener('abort', onAbort, { once: true })
    check()
  })
}

// --- tests ----------------------------------------------------------------------------------

describe('a hostile peer on /pigeon/dm/1.0.0', () => {
  const nodes = new Nodes()
  let target: PigeonNode
  let honest: PigeonNode
  let targetAddr: Multiaddr
  let targetKeys: PeerKeys
  let attacker: Libp2p
  let attackerKeys: LocalKeys
  let carol: LocalKeys
  let honestCount = 0

  before(async () => {
    target = await nodes.node({ memory: true })
    honest = await nodes.node({ memory: true })
    await honest.addContact('target', target.card())
    targetAddr = target.libp2p.getMultiaddrs()[0]
    targetKeys = peerKeys(target.peerId) as PeerKeys

    // The attacker is a real peer with its own Ed25519 identity, so it can seal envelopes.
    const privateKey = await generateKeyPair('Ed25519')
    attackerKeys = localKeys(privateKey, peerIdFromPrivateKey(privateKey))
    attacker = await createLibp2p({
      privateKey,
      addresses: { listen: ['/ip4/127.0.0.1/tcp/0'] },
      transports: [tcp()],
      connectionEncrypters: [noise()],
      streamMuxers: [yamux()],
      services: { identify: identify() }
    })
    carol = await newKeys()
  })

  after(async () => {
    await attacker?.stop()
    await nodes.cleanup()
  })

  /** Streams opened by the current test: a failed test must not leave them holding stream slots. */
  const opened: Stream[] = []
  afterEach(() => {
    for (const stream of opened.splice(0)) stream.abort(new Error('test over'))
  })

  async function openDm (): Promise<Stream> {
    const stream = await attacker.dialProtocol(targetAddr, DM_PROTOCOL, { signal: AbortSignal.timeout(STEP_MS) })
    opened.push(stream)
    return stream
  }

  /** Writes one batch and reads the ack, as an honest sender would. */
  async function exchange (stream: Stream, envelopes: Envelope[]): Promise<Ack> {
    const pb = pbStream(stream, { maxDataLength: MAX_FRAME_BYTES })
    const signal = AbortSignal.timeout(STEP_MS)
    await pb.write({ envelopes }, Batch, { signal })
    const ack = await pb.read(Ack, { signal })
    pb.unwrap()
    return ack
  }

  /** Writes raw bytes, ignoring backpressure: the far end decides what to do with them. */
  function sendRaw (stream: Stream, bytes: Uint8Array): void {
    stream.send(bytes)
  }

  function fromAttacker (text: string, id = newId()): Envelope {
    return seal(attackerKeys, targetKeys, id, textBody(text))
  }

  async function inboxFromAttacker (): Promise<Array<{ id: string, text: string }>> {
    return (await target.inbox({ from: attacker.peerId.toString() })).map(r => ({ id: r.id, text: r.text }))
  }

  /** The target still takes a message from an honest pigeon node, end to end. */
  async function assertTargetWorks (): Promise<void> {
    const text = `still alive ${++honestCount}`
    const id = await honest.send('target', text)
    await honest.waitFor(id, 'delivered', { signal: AbortSignal.timeout(STEP_MS) })
    const got = await target.inbox({ from: honest.peerId.toString() })
    assert.ok(got.some(r => r.id === id && r.text === text), 'the honest message is in the inbox')
  }

  const junk: Array<[string, Uint8Array]> = [
    // a frame of 3 bytes holding a field with wire type 7, which does not exist
    ['a field with an invalid wire type', Uint8Array.of(3, 0x3f, 0x3f, 0x3f)],
    // a frame whose only envelope's length runs past the end of the frame
    ['an envelope whose length runs past the frame', Uint8Array.of(3, 0x0a, 0x7f, 0x01)],
    // plain text, as a confused HTTP client would send: "G" is a 71-byte length, then junk
    ['an HTTP request', Buffer.from('GET / HTTP/1.1\r\nHost: pigeon\r\n\r\n' + 'x'.repeat(100))],
    // an envelope whose scheme field is a varint that never ends inside the frame
    ['a truncated varint inside the frame', Uint8Array.of(4, 0x0a, 0x02, 0x08, 0xff)]
  ]
  for (const [what, bytes] of junk) {
    it(`resets a stream that sends ${what}, and keeps working`, async () => {
      const before = await inboxFromAttacker()
      const stream = await openDm()
      sendRaw(stream, bytes)
      assert.equal(await remoteEnd(stream, AbortSignal.timeout(STEP_MS)), 'reset')
      assert.deepEqual(await inboxFromAttacker(), before)
      await assertTargetWorks()
    })
  }

  it('resets a stream whose length prefix never ends', async () => {
    const stream = await openDm()
    // A frame length is at most 3 varint bytes (MAX_FRAME_BYTES < 2^21): by the 4th byte the
    // prefix is invalid. Every other malformed frame in this file is reset within milliseconds.
    sendRaw(stream, new Uint8Array(16).fill(0xff))
    assert.equal(await remoteEnd(stream, AbortSignal.timeout(2_000)), 'reset')
    await assertTargetWorks()
  })

  it('resets a stream that announces a frame longer than MAX_FRAME_BYTES, without reading it', async () => {
    const stream = await openDm()
    sendRaw(stream, varint.encode(MAX_FRAME_BYTES + 1))
    assert.equal(await remoteEnd(stream, AbortSignal.timeout(STEP_MS)), 'reset')
    await assertTargetWorks()
  })

  it('resets a stream that sends a whole frame longer than MAX_FRAME_BYTES', async () => {
    const stream = await openDm()
    // a real batch, padded past the cap with a field the decoder would skip
    const env = fromAttacker('padded')
    const batch = Batch.encode({ envelopes: [env] })
    const padding = new Uint8Array(MAX_FRAME_BYTES + 1 - batch.byteLength - 1 - 3)
    const frame = new Uint8Array([...batch, 0x12, ...varint.encode(padding.byteLength), ...padding])
    assert.ok(frame.byteLength > MAX_FRAME_BYTES)
    sendRaw(stream, new Uint8Array([...varint.encode(frame.byteLength), ...frame]))
    assert.equal(await remoteEnd(stream, AbortSignal.timeout(STEP_MS)), 'reset')
    assert.ok(!(await inboxFromAttacker()).some(r => r.id === hex(env.id)), 'nothing from the oversized frame was stored')
    await assertTargetWorks()
  })

  it('takes a frame of exactly MAX_FRAME_BYTES', async () => {
    const stream = await openDm()
    const env = fromAttacker('exactly at the cap')
    const batch = Batch.encode({ envelopes: [env] })
    // pad with an unknown field to the byte: tag (1) + length varint (3) + padding
    const padding = new Uint8Array(MAX_FRAME_BYTES - batch.byteLength - 1 - 3)
    const frame = new Uint8Array([...batch, 0x12, ...varint.encode(padding.byteLength), ...padding])
    assert.equal(frame.byteLength, MAX_FRAME_BYTES)
    sendRaw(stream, new Uint8Array([...varint.encode(frame.byteLength), ...frame]))
    const ack = await pbStream(stream, { maxDataLength: MAX_FRAME_BYTES }).read(Ack, { signal: AbortSignal.timeout(STEP_MS) })
    assert.deepEqual(ack.accepted.map(hex), [hex(env.id)])
    await stream.close({ signal: AbortSignal.timeout(STEP_MS) })
    const inbox = await inboxFromAttacker()
    assert.ok(inbox.some(m => m.id === hex(env.id)))
  })

  it('closes or resets a stream that ends in the middle of a frame', async () => {
    const stream = await openDm()
    const env = fromAttacker('cut short')
    const frame = Batch.encode({ envelopes: [env] })
    sendRaw(stream, new Uint8Array([...varint.encode(frame.byteLength), ...frame.subarray(0, 10)]))
    await stream.close({ signal: AbortSignal.timeout(STEP_MS) })
    assert.ok(['reset', 'closed'].includes(await remoteEnd(stream, AbortSignal.timeout(STEP_MS))))
    assert.ok(!(await inboxFromAttacker()).some(r => r.id === hex(env.id)))
    await assertTargetWorks()
  })

  it('refuses an envelope sealed for another peer with WRONG_RECIPIENT, and stores nothing', async () => {
    const before = await target.inbox()
    const stream = await openDm()
    const env = seal(attackerKeys, peerKeys(carol.peerId) as PeerKeys, newId(), textBody('for carol'))
    const ack = await exchange(stream, [env])
    assert.deepEqual(ack.accepted, [])
    assert.equal(ack.signature.byteLength, 0, 'no receipt without accepted ids')
    assert.deepEqual(ack.rejected.map(r => [hex(r.id), r.reason]), [[hex(env.id), REJECT_REASON_CODES['wrong-recipient']]])
    assert.equal(await remoteEnd(stream, AbortSignal.timeout(STEP_MS)), 'closed', 'the target stops talking after a rejection')
    await stream.close()
    assert.deepEqual(await target.inbox(), before)
    await assertTargetWorks()
  })

  it('accepts the attacker\'s own envelope once, and acks replays without storing them again', async () => {
    const id = newId()
    const env = fromAttacker('a real message from a real peer', id)

    const first = await openDm()
    let ack = await exchange(first, [env])
    assert.deepEqual(ack.accepted.map(hex), [hex(id)])
    assert.deepEqual(ack.rejected, [])
    assert.ok(verifyReceipt(attackerKeys, targetKeys, ack.timestamp, ack.accepted, ack.signature), 'the receipt is signed by the target')
    // the message is durable before the ack: no wait needed
    let inbox = await target.inbox({ from: attacker.peerId.toString() })
    assert.equal(inbox.filter(r => r.id === hex(id)).length, 1)
    const record = inbox.find(r => r.id === hex(id))
    assert.equal(record?.text, 'a real message from a real peer')
    assert.equal(record?.request, true, 'the attacker is not a contact')

    // the same envelope again on the same stream
    ack = await exchange(first, [env])
    assert.deepEqual(ack.accepted.map(hex), [hex(id)], 'a replay is acknowledged: the target holds it')
    assert.ok(verifyReceipt(attackerKeys, targetKeys, ack.timestamp, ack.accepted, ack.signature))
    await first.close({ signal: AbortSignal.timeout(STEP_MS) })

    // and on a new stream
    const second = await openDm()
    ack = await exchange(second, [env])
    assert.deepEqual(ack.accepted.map(hex), [hex(id)])
    await second.close({ signal: AbortSignal.timeout(STEP_MS) })

    // twice in one batch
    const third = await openDm()
    ack = await exchange(third, [env, env])
    assert.deepEqual(ack.accepted.map(hex), [hex(id), hex(id)])
    await third.close({ signal: AbortSignal.timeout(STEP_MS) })

    // with the same id but other content: the id is taken, the new text is not stored
    const fourth = await openDm()
    ack = await exchange(fourth, [fromAttacker('same id, other text', id)])
    assert.deepEqual(ack.accepted.map(hex), [hex(id)])
    await fourth.close({ signal: AbortSignal.timeout(STEP_MS) })

    inbox = await target.inbox({ from: attacker.peerId.toString() })
    assert.deepEqual(inbox.filter(r => r.id === hex(id)).map(r => r.text), ['a real message from a real peer'])
  })

  it('stores a replay sent on parallel streams exactly once', async () => {
    const id = newId()
    const env = fromAttacker('raced', id)
    const streams = await Promise.all([openDm(), openDm(), openDm()])
    const acks = await Promise.all(streams.map(async s => exchange(s, [env])))
    for (const ack of acks) assert.deepEqual(ack.accepted.map(hex), [hex(id)])
    await Promise.all(streams.map(async s => s.close({ signal: AbortSignal.timeout(STEP_MS) })))
    const inbox = await inboxFromAttacker()
    assert.equal(inbox.filter(r => r.id === hex(id)).length, 1)
  })

  it('refuses an envelope sealed by a third peer with SENDER_MISMATCH', async () => {
    const before = await target.inbox()
    const stream = await openDm()
    // carol's genuine envelope to the target, relayed by the attacker
    const env = seal(carol, targetKeys, newId(), textBody('from carol, via the attacker'))
    const ack = await exchange(stream, [env])
    assert.deepEqual(ack.accepted, [])
    assert.deepEqual(ack.rejected.map(r => [hex(r.id), r.reason]), [[hex(env.id), REJECT_REASON_CODES['sender-mismatch']]])
    assert.equal(await remoteEnd(stream, AbortSignal.timeout(STEP_MS)), 'closed')
    await stream.close()
    assert.deepEqual(await target.inbox(), before)
    assert.deepEqual(await target.inbox({ from: carol.peerId.toString() }), [])
  })

  it('resets a batch of more than MAX_BATCH_ENVELOPES envelopes, storing none of them', async () => {
    const envelopes = Array.from({ length: MAX_BATCH_ENVELOPES + 1 }, (_, i) => fromAttacker(`flood ${i}`))
    const ids = new Set(envelopes.map(e => hex(e.id)))
    const frame = Batch.encode({ envelopes })
    assert.ok(frame.byteLength < MAX_FRAME_BYTES, 'the frame itself is within the cap')
    const stream = await openDm()
    sendRaw(stream, new Uint8Array([...varint.encode(frame.byteLength), ...frame]))
    assert.equal(await remoteEnd(stream, AbortSignal.timeout(STEP_MS)), 'reset')
    assert.deepEqual((await inboxFromAttacker()).filter(r => ids.has(r.id)), [])
    await assertTargetWorks()
  })

  it('takes a batch of exactly MAX_BATCH_ENVELOPES envelopes', async () => {
    const envelopes = Array.from({ length: MAX_BATCH_ENVELOPES }, (_, i) => fromAttacker(`full batch ${i}`))
    const stream = await openDm()
    const ack = await exchange(stream, envelopes)
    assert.deepEqual(ack.accepted.map(hex), envelopes.map(e => hex(e.id)))
    assert.ok(verifyReceipt(attackerKeys, targetKeys, ack.timestamp, ack.accepted, ack.signature))
    await stream.close({ signal: AbortSignal.timeout(STEP_MS) })
    const stored = new Set((await inboxFromAttacker()).map(r => r.id))
    assert.ok(envelopes.every(e => stored.has(hex(e.id))))
  })

  it('refuses text larger than MAX_TEXT_BYTES with TOO_LARGE, counting bytes not characters', async () => {
    const cases: Array<[string, string]> = [
      ['one byte over', 'x'.repeat(MAX_TEXT_BYTES + 1)],
      ['three-byte characters', '€'.repeat(Math.floor(MAX_TEXT_BYTES / 3) + 1)],
      ['an envelope over MAX_ENVELOPE_BYTES', 'y'.repeat(MAX_ENVELOPE_BYTES)]
    ]
    for (const [what, text] of cases) {
      const stream = await openDm()
      const env = fromAttacker(text)
      const ack = await exchange(stream, [env])
      assert.deepEqual(ack.accepted, [], what)
      assert.deepEqual(ack.rejected.map(r => [hex(r.id), r.reason]), [[hex(env.id), REJECT_REASON_CODES['too-large']]], what)
      await stream.close()
    }
    const stored = await inboxFromAttacker()
    assert.ok(stored.every(r => Buffer.byteLength(r.text) <= MAX_TEXT_BYTES))

    // the cap itself is allowed
    const stream = await openDm()
    const env = fromAttacker('z'.repeat(MAX_TEXT_BYTES))
    const ack = await exchange(stream, [env])
    assert.deepEqual(ack.accepted.map(hex), [hex(env.id)])
    await stream.close({ signal: AbortSignal.timeout(STEP_MS) })
  })

  it('answers each bad envelope in a batch with its reason, and keeps the good ones', async () => {
    const good = fromAttacker('the good one')
    const badScheme = { ...fromAttacker('x'), scheme: 2 }
    const tampered = fromAttacker('x')
    tampered.ciphertext = new Uint8Array(tampered.ciphertext)
    tampered.ciphertext[0] ^= 1
    const shortId = { ...fromAttacker('x'), id: new Uint8Array(4) }
    const empty = seal(attackerKeys, targetKeys, newId(), textBody(''))
    const badRefs = seal(attackerKeys, targetKeys, newId(), Body.encode({ kind: BODY_KIND.READ_RECEIPT, timestamp: 1n, text: '', refs: [Uint8Array.of(1)] }))
    const futureKind = seal(attackerKeys, targetKeys, newId(), Body.encode({ kind: 7, timestamp: 1n, text: 'from a later version', refs: [] }))

    const stream = await openDm()
    const ack = await exchange(stream, [good, badScheme, tampered, shortId, empty, badRefs, futureKind])
    assert.deepEqual(ack.accepted.map(hex), [hex(good.id)])
    assert.ok(verifyReceipt(attackerKeys, targetKeys, ack.timestamp, ack.accepted, ack.signature))
    assert.deepEqual(ack.rejected.map(r => [hex(r.id), r.reason]), [
      [hex(badScheme.id), REJECT_REASON_CODES['unsupported-scheme']],
      [hex(tampered.id), REJECT_REASON_CODES['decrypt-failed']],
      [hex(shortId.id), REJECT_REASON_CODES['malformed']],
      [hex(empty.id), REJECT_REASON_CODES['malformed']],
      [hex(badRefs.id), REJECT_REASON_CODES['malformed']],
      [hex(futureKind.id), REJECT_REASON_CODES['unsupported-kind']]
    ])
    assert.equal(await remoteEnd(stream, AbortSignal.timeout(STEP_MS)), 'closed')
    await stream.close()
    const inbox = await inboxFromAttacker()
    assert.ok(inbox.some(r => r.id === hex(good.id)))
    assert.ok(!inbox.some(r => [badScheme, tampered, empty, badRefs, futureKind].some(e => r.id === hex(e.id))))
    await assertTargetWorks()
  })

  it('answers an empty batch with an empty ack and keeps the stream', async () => {
    const stream = await openDm()
    let ack = await exchange(stream, [])
    assert.deepEqual(ack.accepted, [])
    assert.deepEqual(ack.rejected, [])
    assert.equal(ack.signature.byteLength, 0)
    const env = fromAttacker('after an empty batch')
    ack = await exchange(stream, [env])
    assert.deepEqual(ack.accepted.map(hex), [hex(env.id)])
    await stream.close({ signal: AbortSignal.timeout(STEP_MS) })
  })

  it('closes a stream cleanly when the peer ends it between frames', async () => {
    const stream = await openDm()
    await exchange(stream, [fromAttacker('and goodbye')])
    await stream.close({ signal: AbortSignal.timeout(STEP_MS) })
    assert.equal(await remoteEnd(stream, AbortSignal.timeout(STEP_MS)), 'closed')
  })
})
