/**
 * Relays: store-and-forward mailboxes for offline peers, with real nodes and LevelDB on 127.0.0.1.
 */
import { describe, it, after } from 'node:test'
import assert from 'node:assert/strict'
import { statusText } from '../cli/format.js'
import { randomBytes } from 'node:crypto'
import { generateKeyPair } from '@libp2p/crypto/keys'
import { Nodes, nextEvent, tempDir } from './helpers.js'
import { localKeys, peerKeys } from '../src/crypto/keys.js'
import { seal } from '../src/crypto/envelope.js'
import { Body, Envelope } from '../src/wire/pb/wire.js'
import { decodeCard, type InboxRecord, type OutboxRecord, type PigeonNode, type ReceiptEvent } from '../src/index.js'
import type { PeerId } from '@libp2p/interface'

const DEADLINE = 20_000

describe('relays', () => {
  const nodes = new Nodes()
  const dirs: Array<() => Promise<void>> = []
  after(async () => {
    await nodes.cleanup()
    for (const c of dirs) await c()
  })
  const dir = async (): Promise<string> => { const t = await tempDir(); dirs.push(t.cleanup); return t.dir }

  /** bob on a data dir with `relays` as home relays, known to alice as a contact; bob then goes offline. */
  async function offlineBob (alice: PigeonNode, relays: PigeonNode[], bobDir: string): Promise<void> {
    const bob = await nodes.node({ dataDir: bobDir })
    for (const relay of relays) await bob.addRelay(relay.card())
    assert.equal(bob.relays().length, relays.length)
    await alice.addContact('bob', bob.card())
    await bob.addContact('alice', alice.card())
    await bob.stop()
  }

  /**
   * A node that deposits straight into `relay`'s mailboxes, and seals texts for it with
   * `envelope(to, text, id)` (a random id unless given).
   */
  async function depositor (relay: PigeonNode): Promise<{ node: PigeonNode, envelope: (to: PeerId, text: string, id?: Uint8Array) => Uint8Array }> {
    const key = await generateKeyPair('Ed25519')
    const node = await nodes.node({ memory: true, privateKey: key })
    await node.libp2p.peerStore.merge(relay.peerId, { multiaddrs: relay.libp2p.getMultiaddrs() })
    const keys = localKeys(key, node.peerId)
    return {
      node,
      envelope: (to, text, id = new Uint8Array(randomBytes(16))) => {
        const recipient = peerKeys(to)
        assert.ok(recipient != null)
        const body = Body.encode({ kind: 0, timestamp: BigInt(Date.now()), text, refs: [], relays: [] })
        return Envelope.encode(seal(keys, recipient, id, body))
      }
    }
  }

  /** bob, in memory and not dialable, connected to `relay` as his home relay. */
  async function connectedBob (relay: PigeonNode): Promise<PigeonNode> {
    const bob = await nodes.node({ memory: true, listen: [] })
    const bobConnected = nextEvent(relay.libp2p, 'peer:connect', (p: any) => p.equals(bob.peerId), DEADLINE)
    await bob.addRelay(relay.card())
    await bobConnected
    return bob
  }

  it('holds mail for an offline peer and hands it over when it comes back; the sender sees stored, then delivered', async () => {
    const relay = await nodes.node({ relay: true })
    const alice = await nodes.node()
    const bobDir = await dir()
    await offlineBob(alice, [relay], bobDir)

    const stored = nextEvent<ReceiptEvent>(alice, 'receipt', r => r.state === 'stored', DEADLINE)
    const id = await alice.send('bob', 'while you were away')
    assert.deepEqual((await stored).relays, [relay.peerId.toString()])
    assert.equal((await alice.message(id)).state, 'sent')
    assert.equal((await relay.status()).relay?.messages, 1)

    const bob = await nodes.node({ dataDir: bobDir })
    const arrived = await nextEvent<InboxRecord>(bob, 'message', m => m.id === id, DEADLINE)
    assert.equal(arrived.text, 'while you were away')
    const delivered = await alice.waitFor(id, 'delivered', { signal: AbortSignal.timeout(DEADLINE) })
    assert.equal(delivered.state, 'delivered')
    assert.deepEqual(delivered.storedAt, [relay.peerId.toString()])
    assert.equal((await bob.inbox()).length, 1)

    // What bob's node says of the relay: connected, its round trip, and the one message it held
    // when bob's drain began (the only drain: nothing was deposited since).
    const [health] = await bob.relayHealth()
    assert.equal(health.peerId, relay.peerId.toString())
    assert.equal(health.connected, true)
    assert.ok(health.rttMs != null && health.rttMs >= 0, JSON.stringify(health))
    assert.equal(health.mail?.messages, 1)
    assert.ok((health.mail?.bytes ?? 0) > 0)
  })

  it('sends a backlog for an offline peer straight to its relays, not at the pace of the retry backoff', async () => {
    const relay = await nodes.node({ relay: true })
    // A long backoff: without the relay shortcut only the first batches would be stored in time.
    const alice = await nodes.node({ retryMin: 60_000, retryMax: 60_000 })
    const bobDir = await dir()
    await offlineBob(alice, [relay], bobDir)
    const count = 300
    let stored = 0
    const allStored = new Promise<void>(resolve => {
      alice.addEventListener('receipt', (evt) => { if (evt.detail.state === 'stored' && ++stored === count) resolve() })
    })
    for (let i = 0; i < count; i++) await alice.send('bob', `backlog ${i}`)
    await Promise.race([allStored, new Promise((_resolve, reject) => setTimeout(() => { reject(new Error(`${stored} of ${count} stored in time`)) }, DEADLINE).unref())])
    assert.equal((await relay.status()).relay?.messages, count)
  })

  it('returns the delivery receipt through the sender\'s own relay when the sender is offline too', async () => {
    const aliceRelay = await nodes.node({ relay: true })
    const bobRelay = await nodes.node({ relay: true })
    const aliceDir = await dir()
    const bobDir = await dir()
    let alice = await nodes.node({ dataDir: aliceDir })
    await alice.addRelay(aliceRelay.card())
    await offlineBob(alice, [bobRelay], bobDir)

    const stored = nextEvent<ReceiptEvent>(alice, 'receipt', r => r.state === 'stored', DEADLINE)
    const id = await alice.send('bob', 'reply when you can')
    await stored
    await alice.stop()

    // bob comes back while alice is away: his receipt can only go to alice's relay, named in
    // her card (and inside her message).
    const bob = await nodes.createOnly({ dataDir: bobDir })
    const arrived = nextEvent<InboxRecord>(bob, 'message', m => m.id === id, DEADLINE)
    const parked = nextEvent<OutboxRecord>(bob, 'outbox', r => r.kind === 'delivery-receipt' && r.storedAt?.includes(aliceRelay.peerId.toString()) === true, DEADLINE)
    await bob.start()
    await arrived
    assert.deepEqual((await parked).refs, [id])
    assert.equal((await aliceRelay.status()).relay?.messages, 1)

    alice = await nodes.node({ dataDir: aliceDir })
    const delivered = await alice.waitFor(id, 'delivered', { signal: AbortSignal.timeout(DEADLINE) })
    assert.equal(delivered.state, 'delivered')
  })

  it('pushes a deposit at once to a recipient connected to its relay', async () => {
    const relay = await nodes.node({ relay: true })
    const bob = await connectedBob(relay)
    // A sender that deposits straight into the mailbox: after this, only the relay's NOTIFY
    // can make bob look again.
    const sender = await depositor(relay)
    const id = new Uint8Array(randomBytes(16))
    const arrived = nextEvent<InboxRecord>(bob, 'message', m => m.text === 'pushed to you', DEADLINE)
    const [outcome] = await sender.node.libp2p.services.mailbox.deposit(relay.peerId, [sender.envelope(bob.peerId, 'pushed to you', id)])
    assert.equal(outcome.refused, undefined)
    assert.equal((await arrived).id, Buffer.from(id).toString('hex'))
  })

  it('makes a peer that cannot be dialled reachable through its relay (circuit addresses in its card)', async () => {
    const relay = await nodes.node({ relay: true })
    // No hole punching: this is about the relayed connection, which an upgrade would replace
    // (test/hole-punch.test.ts).
    const alice = await nodes.node({ webrtc: false })
    const bob = await nodes.node({ memory: true, listen: [] })
    const reserved = nextEvent(bob.libp2p, 'self:peer:update', () => bob.addresses().some(a => a.includes('/p2p-circuit')), DEADLINE)
    await bob.addRelay(relay.card())
    await reserved
    const card = decodeCard(bob.card())
    assert.ok(card.addrs.some(a => a.toString().includes(`/p2p/${relay.peerId.toString()}/p2p-circuit`)), card.addrs.join(' '))

    await alice.addContact('bob', bob.card())
    const id = await alice.send('bob', 'through the relay, not into its mailbox')
    const delivered = await alice.waitFor(id, 'delivered', { signal: AbortSignal.timeout(DEADLINE) })
    assert.equal(delivered.storedAt, undefined, 'delivered directly over the relayed connection, never deposited')
    assert.equal((await bob.inbox())[0].text, 'through the relay, not into its mailbox')
    const status = await alice.status()
    assert.equal(status.connections.relayed, 1, 'alice reaches bob through the relay\'s circuit')
    assert.match(statusText(status), /^peers +2 connected \(1 direct, 1 relayed\)$/m)
  })

  it('reserves on the relay again after the relay restarts', async () => {
    const relayDir = await dir()
    let relay = await nodes.node({ relay: true, dataDir: relayDir })
    const bob = await nodes.node({ memory: true, listen: [] })
    const circuit = (): boolean => bob.addresses().some(a => a.includes('/p2p-circuit'))
    const reserved = nextEvent(bob.libp2p, 'self:peer:update', circuit, DEADLINE)
    await bob.addRelay(relay.card())
    await reserved
    const lost = nextEvent(bob.libp2p, 'self:peer:update', () => !circuit(), DEADLINE)
    await relay.stop()
    await lost
    // Same data dir, same remembered port: bob's redial loop finds it and reserves again.
    const again = nextEvent(bob.libp2p, 'self:peer:update', circuit, DEADLINE)
    relay = await nodes.node({ relay: true, dataDir: relayDir })
    await again
    assert.ok(circuit())
    // The address is backed by a reservation the restarted relay really holds.
    const server = (relay.libp2p.services as unknown as { circuitRelay: { reservations: { has: (peer: unknown) => boolean } } }).circuitRelay
    assert.ok(server.reservations.has(bob.peerId), 'the restarted relay holds a reservation for bob')
  })

  it('a relay with an allow-list serves circuit reservations to those peers only', async () => {
    const bob = await nodes.node({ memory: true, listen: [] })
    const mallory = await nodes.node({ memory: true, listen: [] })
    const relay = await nodes.node({ relay: { serve: [bob.peerId.toString()] } })
    const relayAddr = relay.addresses()[0]
    for (const node of [bob, mallory]) {
      await node.libp2p.peerStore.merge(relay.peerId, { multiaddrs: relay.libp2p.getMultiaddrs() })
      await node.libp2p.services.relayListener.listenVia(relayAddr)
    }
    assert.ok(bob.addresses().some(a => a.includes('/p2p-circuit')), 'bob is served')
    assert.ok(!mallory.addresses().some(a => a.includes('/p2p-circuit')), 'mallory is refused')
  })

  it('gives a peer only its own mail', async () => {
    const relay = await nodes.node({ relay: true })
    const alice = await nodes.node()
    const bobDir = await dir()
    await offlineBob(alice, [relay], bobDir)
    const stored = nextEvent<ReceiptEvent>(alice, 'receipt', r => r.state === 'stored', DEADLINE)
    await alice.send('bob', 'for bob only')
    await stored

    const mallory = await nodes.node({ memory: true })
    await mallory.libp2p.peerStore.merge(relay.peerId, { multiaddrs: relay.libp2p.getMultiaddrs() })
    const page = await mallory.libp2p.services.mailbox.fetch(relay.peerId, new Uint8Array(0), 100)
    assert.deepEqual(page.mail, [])
    assert.equal(await mallory.libp2p.services.mailbox.delete(relay.peerId, ['00'.repeat(16)]), 0)
    assert.equal((await relay.status()).relay?.messages, 1, 'bob\'s mail is untouched')
  })

  it('keeps mailboxes across a relay restart', async () => {
    const relayDir = await dir()
    let relay = await nodes.node({ relay: true, dataDir: relayDir })
    const alice = await nodes.node()
    const bobDir = await dir()
    await offlineBob(alice, [relay], bobDir)
    const stored = nextEvent<ReceiptEvent>(alice, 'receipt', r => r.state === 'stored', DEADLINE)
    const id = await alice.send('bob', 'survives the relay restarting')
    await stored
    await relay.stop()
    relay = await nodes.node({ relay: true, dataDir: relayDir })
    assert.equal((await relay.status()).relay?.messages, 1)

    const bob = await nodes.node({ dataDir: bobDir })
    await nextEvent<InboxRecord>(bob, 'message', m => m.id === id, DEADLINE)
    await alice.waitFor(id, 'delivered', { signal: AbortSignal.timeout(DEADLINE) })
  })

  it('enforces quotas and size limits with a reason the sender sees, and sweeps expired mail', async () => {
    const relay = await nodes.node({ relay: { quotaMessages: 2, maxEnvelopeBytes: 2048, ttl: 60_000 } })
    const alice = await nodes.node()
    const bobDir = await dir()
    await offlineBob(alice, [relay], bobDir)

    for (const text of ['one', 'two']) {
      const stored = nextEvent<ReceiptEvent>(alice, 'receipt', r => r.state === 'stored', DEADLINE)
      await alice.send('bob', text)
      await stored
    }
    // Refused deposits stay queued, with the relay's reason in lastError for the CLI and status.
    // An event carries the live record, which the next attempt may already have taken: its state
    // is checked when the event fires.
    const quota = nextEvent<OutboxRecord>(alice, 'outbox', r => r.text === 'three' && r.state === 'queued' && r.lastError?.includes('quota-exceeded') === true, DEADLINE)
    const tooLarge = nextEvent<OutboxRecord>(alice, 'outbox', r => r.text?.startsWith('xxx') === true && r.state === 'queued' && r.lastError?.includes('too-large') === true, DEADLINE)
    await alice.send('bob', 'three')
    await alice.send('bob', 'x'.repeat(4000))
    await quota
    await tooLarge
    const refused = (await relay.status()).relay?.refused ?? {}
    assert.ok((refused['quota-exceeded'] ?? 0) >= 1, JSON.stringify(refused))
    assert.ok((refused['too-large'] ?? 0) >= 1, JSON.stringify(refused))

    const swept = await relay.libp2p.services.mailbox.sweep(Date.now() + 120_000)
    assert.equal(swept, 2)
    assert.equal((await relay.status()).relay?.messages, 0)
  })

  it('checks concurrent deposits against each other: a quota is never overrun and one envelope deposited by many is stored once', async () => {
    const relayDir = await dir()
    let relay = await nodes.node({ relay: { quotaMessages: 10 }, dataDir: relayDir })
    const bob = (await nodes.node({ memory: true })).peerId
    const senders = await Promise.all([1, 2, 3, 4].map(async () => await depositor(relay)))
    const shared = senders[0].envelope(bob, 'concurrent')
    // 4 senders x (5 deposits of their own + the shared one), all in flight at once: 21 distinct
    // envelopes for a mailbox that holds 10.
    const outcomes = await Promise.all(senders.flatMap(({ node, envelope }) => [
      ...[1, 2, 3, 4, 5].map(async () => node.libp2p.services.mailbox.deposit(relay.peerId, [envelope(bob, 'concurrent')])),
      node.libp2p.services.mailbox.deposit(relay.peerId, [shared])
    ]))
    const all = outcomes.flat()
    assert.equal(all.length, 24)
    const storedIds = new Set(all.filter(o => o.refused == null).map(o => o.id))
    assert.equal(storedIds.size, 10, JSON.stringify(all))
    assert.ok(all.every(o => o.refused == null || o.refused === 'quota-exceeded'), JSON.stringify(all))
    const sharedId = Buffer.from(Envelope.decode(shared).id).toString('hex')
    const sharedAnswers = new Set(all.filter(o => o.id === sharedId).map(o => o.refused ?? 'stored'))
    assert.equal(sharedAnswers.size, 1, 'every depositor of the same envelope hears the same answer')
    assert.equal((await relay.status()).relay?.messages, 10)
    await relay.stop()
    relay = await nodes.node({ relay: true, dataDir: relayDir })
    assert.equal((await relay.status()).relay?.messages, 10, 'what was answered stored is on disk')
  })

  it('pages a mailbox and says whether more remains after each page, so a drain needs no empty fetch', async () => {
    const relay = await nodes.node({ relay: true })
    const sender = await depositor(relay)
    const bob = await nodes.node({ memory: true, listen: [] })
    await bob.libp2p.peerStore.merge(relay.peerId, { multiaddrs: relay.libp2p.getMultiaddrs() })
    const ids = Array.from({ length: 5 }, () => new Uint8Array(randomBytes(16)))
    const outcomes = await sender.node.libp2p.services.mailbox.deposit(relay.peerId, ids.map(id => sender.envelope(bob.peerId, 'paged', id)))
    assert.ok(outcomes.every(o => o.refused == null))

    const pages: Array<{ ids: string[], more?: boolean }> = []
    let cursor: Uint8Array = new Uint8Array(0)
    for (let i = 0; i < 4; i++) {
      const page = await bob.libp2p.services.mailbox.fetch(relay.peerId, cursor, 2)
      pages.push({ ids: page.mail.map(m => m.id), more: page.more })
      cursor = page.next
      if (page.mail.length === 0) break
    }
    const hex = ids.map(id => Buffer.from(id).toString('hex'))
    assert.deepEqual(pages, [
      { ids: hex.slice(0, 2), more: true },
      { ids: hex.slice(2, 4), more: true },
      { ids: hex.slice(4), more: false },
      { ids: [], more: false }
    ])
    // A page of exactly what remains says so too.
    assert.equal((await bob.libp2p.services.mailbox.fetch(relay.peerId, new Uint8Array(0), 5)).more, false)
    assert.equal((await bob.libp2p.services.mailbox.fetch(relay.peerId, new Uint8Array(0), 4)).more, true)
  })

  it('a recipient connected to its relay gets every envelope of a burst of deposits, each once', async () => {
    const relay = await nodes.node({ relay: true })
    const bob = await connectedBob(relay)
    const sender = await depositor(relay)
    const count = 40
    const texts = new Set(Array.from({ length: count }, (_, i) => `burst ${i}`))
    const seen = new Set<string>()
    const all = nextEvent<InboxRecord>(bob, 'message', m => {
      if (texts.has(m.text)) seen.add(m.text)
      return seen.size === count
    }, DEADLINE)
    // One at a time and not waiting for bob: deposits land while earlier NOTIFYs and drains are in flight.
    for (const text of texts) {
      const [outcome] = await sender.node.libp2p.services.mailbox.deposit(relay.peerId, [sender.envelope(bob.peerId, text)])
      assert.equal(outcome.refused, undefined)
    }
    await all
    assert.equal((await bob.inbox({ limit: 1000 })).filter(m => texts.has(m.text)).length, count, 'each once')
  })
})
