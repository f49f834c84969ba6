/**
 * The DHT (src/discovery/): card records that only their owner can publish, refused when forged,
 * stale, oversize or of any other kind; a node publishing its card and another finding it by peer
 * id alone; a bounded "not found"; and a sender that looks a peer up again when its card went stale.
 */
import { describe, it, after, before } from 'node:test'
import assert from 'node:assert/strict'
import { generateKeyPair } from '@libp2p/crypto/keys'
import { peerIdFromPrivateKey } from '@libp2p/peer-id'
import { multiaddr } from '@multiformats/multiaddr'
import type { Ed25519PrivateKey } from '@libp2p/interface'
import { CardRecords, CardRecordError, cardRecordKey, CARD_RECORD_TTL_MS, MAX_CARD_RECORD_TTL_MS, type CardRefusal } from '../src/discovery/card-records.js'
import { decodeCard, encodeCardBytes, MAX_CARD_BYTES } from '../src/contacts/card.js'
import { localKeys, type LocalKeys } from '../src/crypto/keys.js'
import type { PigeonNode, PublishState, ReceiptEvent, RelayRecord } from '../src/index.js'
import { relayScore } from '../src/discovery/relay-finder.js'
import { Nodes, nextEvent, tempDir } from './helpers.js'
import { Daemon, pigeon } from './cli-helpers.js'

const DEADLINE = 20_000
const NOW = 1_800_000_000_000

async function keys (): Promise<{ key: Ed25519PrivateKey, local: LocalKeys }> {
  const key = await generateKeyPair('Ed25519')
  return { key, local: localKeys(key, peerIdFromPrivateKey(key)) }
}

function record (local: LocalKeys, timestamp = NOW, expires = timestamp + CARD_RECORD_TTL_MS): Uint8Array {
  return encodeCardBytes(local, [multiaddr('/ip4/198.18.0.7/tcp/4001')], [], { timestamp, expires })
}

function refusedFor (records: CardRecords, key: Uint8Array, value: Uint8Array, reason: CardRefusal): void {
  const before = records.refused[reason]
  assert.throws(() => records.check(key, value), (err: unknown) => err instanceof CardRecordError && err.reason === reason)
  assert.equal(records.refused[reason], before + 1, `counted as ${reason}`)
}

describe('card records', () => {
  let alice: LocalKeys
  let mallory: LocalKeys
  before(async () => {
    alice = (await keys()).local
    mallory = (await keys()).local
  })

  it('accepts a card signed by the peer its key names, with an expiry to come', () => {
    const records = new CardRecords({ now: () => NOW })
    const card = records.check(cardRecordKey(alice.peerId), record(alice))
    assert.ok(card.peerId.equals(alice.peerId))
    assert.deepEqual(card.addrs.map(String), ['/ip4/198.18.0.7/tcp/4001'])
  })

  it('refuses forged, wrong-key, expired, future, oversize and malformed records, and counts each', () => {
    const records = new CardRecords({ now: () => NOW })
    const key = cardRecordKey(alice.peerId)
    // Mallory's own valid card, stored under alice's key.
    refusedFor(records, key, record(mallory), 'wrong-peer')
    // Alice's card with one byte of its signature changed.
    const forged = record(alice)
    forged[forged.length - 1] ^= 1
    refusedFor(records, key, forged, 'signature')
    refusedFor(records, key, record(alice, NOW - CARD_RECORD_TTL_MS - 1), 'expired')
    refusedFor(records, key, record(alice, NOW, 0), 'expired')
    refusedFor(records, key, record(alice, NOW, NOW + MAX_CARD_RECORD_TTL_MS + 1), 'expired')
    refusedFor(records, key, record(alice, NOW + 60 * 60_000), 'future')
    refusedFor(records, key, new Uint8Array(MAX_CARD_BYTES + 1), 'oversize')
    refusedFor(records, key, new Uint8Array([1, 2, 3]), 'malformed')
    refusedFor(records, new TextEncoder().encode('/pigeon-card/not-a-peer'), record(alice), 'key')
    refusedFor(records, new TextEncoder().encode(`/pk/${alice.peerId.toString()}`), record(alice), 'key')
  })

  it('refuses a card older than one already seen for that peer, and picks the newest of several', () => {
    const records = new CardRecords({ now: () => NOW })
    const key = cardRecordKey(alice.peerId)
    const older = record(alice, NOW - 1000)
    const newer = record(alice, NOW)
    assert.equal(records.select(key, [older, newer, record(mallory, NOW + 5000)]), 1, 'the newest valid one, never a forged one')
    records.check(key, newer)
    refusedFor(records, key, older, 'stale')
    records.check(key, newer)
  })

  it('refuses every other record kind: the DHT stores cards only', async () => {
    const records = new CardRecords({ now: () => NOW })
    await assert.rejects(records.refuse(), (err: unknown) => err instanceof CardRecordError && err.reason === 'kind')
    assert.equal(records.refused.kind, 1)
  })
})

describe('finding peers on the DHT', () => {
  const nodes = new Nodes()
  after(async () => { await nodes.cleanup() })

  /** DHT servers on loopback, joined through the first, with every address passed on. */
  const servers: PigeonNode[] = []
  const lab = { dht: 'server' as const, dhtAddresses: 'all' as const }
  let bootstrap: string[]

  before(async () => {
    servers.push(await nodes.node(lab))
    bootstrap = [servers[0].addresses()[0]]
    for (let i = 0; i < 4; i++) servers.push(await nodes.node({ ...lab, bootstrap }))
  })

  /** A node that joins the lab DHT as a client and has published its card. */
  async function published (init: Record<string, unknown> = {}): Promise<PigeonNode> {
    const node = await nodes.createOnly({ dht: 'client', dhtAddresses: 'all', bootstrap, ...init })
    const done = nextEvent<PublishState>(node, 'card:published', () => true, DEADLINE)
    await node.start()
    await done
    return node
  }

  it('adds a contact by peer id alone, with the card its owner published, and messages it', async () => {
    const bob = await published()
    const alice = await published()
    const contact = await alice.addContact('bob', bob.peerId.toString())
    assert.equal(contact.peerId, bob.peerId.toString())
    assert.deepEqual(contact.addrs, decodeCard(bob.card()).addrs.map(String))
    const id = await alice.send('bob', 'found you on the DHT')
    await alice.waitFor(id, 'delivered', { signal: AbortSignal.timeout(DEADLINE) })
    const [received] = await bob.inbox()
    assert.equal(received.text, 'found you on the DHT')
    assert.equal(received.request, true, 'bob has not added alice: a request')
    const status = await alice.status()
    assert.equal(status.dht.mode, 'client')
    assert.ok(status.dht.routingTable >= 1)
    assert.ok(status.dht.published != null && status.dht.published.peers >= 1)
  })

  it('says a peer id nobody published is not found, in bounded time', async () => {
    const alice = await published()
    const nobody = peerIdFromPrivateKey(await generateKeyPair('Ed25519'))
    const began = Date.now()
    await assert.rejects(alice.addContact('carol', nobody.toString()), (err: any) => {
      assert.equal(err.name, 'PeerNotFoundError')
      assert.match(err.message, /not found on the network \(is carol's node online, or has it ever been\?\)/)
      return true
    })
    assert.ok(Date.now() - began < 16_000, 'within the lookup deadline')
    assert.deepEqual(alice.contacts(), [])
    await assert.rejects(alice.addContact('carol', 'not-a-peer-id'), /neither a contact card .* nor a peer id/)
  })

  it('refuses forged and replayed records sent to its servers, and still finds the genuine card', async () => {
    const bobKey = await generateKeyPair('Ed25519')
    const bobKeys = localKeys(bobKey, peerIdFromPrivateKey(bobKey))
    const oldCard = encodeCardBytes(bobKeys, [multiaddr('/ip4/198.18.0.99/tcp/1')], [], { timestamp: Date.now() - 60_000, expires: Date.now() + CARD_RECORD_TTL_MS })
    const bob = await published({ privateKey: bobKey })
    const mallory = await published()
    const malloryKeys = (await keys()).local
    const refused = (reason: CardRefusal): number => servers.reduce((n, s) => n + (s as any).discovery.status().refused[reason], 0)
    const before = { wrong: refused('wrong-peer'), stale: refused('stale') }
    const dht = mallory.libp2p.services.dht!
    const key = cardRecordKey(bob.peerId)
    for await (const _ of dht.put(key, encodeCardBytes(malloryKeys, [multiaddr('/ip4/198.18.0.66/tcp/1')], [], { expires: Date.now() + 60_000 }), { signal: AbortSignal.timeout(DEADLINE) })) {}
    for await (const _ of dht.put(key, oldCard, { signal: AbortSignal.timeout(DEADLINE) })) {}
    assert.ok(refused('wrong-peer') > before.wrong, 'servers refused the card of another peer')
    assert.ok(refused('stale') > before.stale, 'servers refused the replayed older card')
    const alice = await published()
    const found = decodeCard(await alice.findCard(bob.peerId))
    assert.deepEqual(found.addrs.map(String), decodeCard(bob.card()).addrs.map(String), 'the genuine, newest card')
  })

  it('looks a peer up again when delivery fails, and reaches the relay it moved to', async () => {
    const bob = await published()
    const alice = await published()
    await alice.addContact('bob', bob.peerId.toString())
    assert.deepEqual(alice.contacts()[0].relays, [], 'bob had no relay when alice added him')
    const relay = await nodes.node({ relay: true, dhtAddresses: 'all', bootstrap })
    const changedAt = Date.now()
    const republished = nextEvent<PublishState>(bob, 'card:published', p => p.card >= changedAt, DEADLINE)
    await bob.addRelay(relay.card())
    await republished
    await bob.stop()
    const stored = nextEvent<ReceiptEvent>(alice, 'receipt', r => r.state === 'stored', DEADLINE)
    const id = await alice.send('bob', 'while you were away')
    const receipt = await stored
    assert.equal(receipt.id, id)
    assert.deepEqual(receipt.relays, [relay.peerId.toString()], 'held by the relay bob named in his newer card')
    assert.equal(alice.contacts()[0].relays.length, 1, 'the contact took bob\'s newer card')
  })
  it('pigeon contacts add takes a peer id; nobody published is exit 1, a malformed id exit 2, each one line', async () => {
    const bob = await published()
    const { dir, cleanup } = await tempDir()
    const alice = await Daemon.start(dir, { args: ['--dht', 'client', '--dht-addresses', 'all', '--bootstrap', ...bootstrap] })
    try {
      const run = async (...args: string[]): ReturnType<typeof pigeon> => await pigeon(['--data-dir', dir, ...args])
      const added = await run('contacts', 'add', 'bob', bob.peerId.toString())
      assert.equal(added.code, 0, added.stderr)
      assert.equal(added.stdout, `added bob (${bob.peerId.toString()})\n`)
      const nobody = peerIdFromPrivateKey(await generateKeyPair('Ed25519')).toString()
      const missing = await run('contacts', 'add', 'carol', nobody)
      assert.equal(missing.code, 1, missing.stderr)
      assert.equal(missing.stderr, `pigeon: ${nobody} was not found on the network (is carol's node online, or has it ever been?)\n`)
      const malformed = await run('contacts', 'add', 'carol', '12D3KooWnotapeerid')
      assert.equal(malformed.code, 2, malformed.stderr)
      assert.equal(malformed.stderr, 'pigeon: "12D3KooWnotapeerid" is neither a contact card (pigeon-card:…) nor a peer id\n')
      const status = await run('status')
      assert.match(status.stdout, /^dht +client, [1-9]\d* servers? known, card (published \S+ ago to \d+ peers?|not published yet)/m)
    } finally {
      await alice.stop()
      await cleanup()
    }
  })
})

describe('relays chosen on the DHT', () => {
  const nodes = new Nodes()
  const cleanups: Array<() => Promise<void>> = []
  after(async () => {
    await nodes.cleanup()
    for (const c of cleanups) await c()
  })
  const lab = { dhtAddresses: 'all' as const }
  const relays: PigeonNode[] = []
  let bootstrap: string[]

  before(async () => {
    const seed = await nodes.node({ ...lab, dht: 'server' })
    bootstrap = [seed.addresses()[0]]
    for (let i = 0; i < 3; i++) relays.push(await nodes.createOnly({ ...lab, relay: true, bootstrap }))
    // Every relay is on the DHT as a provider before any node looks, so the choice is among all three.
    const advertised = relays.map(async relay => await nextEvent(relay, 'relay:advertised', () => true, DEADLINE))
    for (const relay of relays) await relay.start()
    await Promise.all(advertised)
  })

  /** Resolves with bob's relays once `match` accepts them. */
  async function relaysWhen (node: PigeonNode, match: (list: RelayRecord[]) => boolean): Promise<RelayRecord[]> {
    if (match(node.relays())) return node.relays()
    return await nextEvent<RelayRecord[]>(node, 'relays:change', match, DEADLINE)
  }

  it('a node given no relay chooses two by rendezvous score, and its mail waits there while it is away', async () => {
    const { dir, cleanup } = await tempDir()
    cleanups.push(cleanup)
    const bobInit = { ...lab, dht: 'client' as const, bootstrap, dataDir: dir, relayReplaceAfter: 1000 }
    let bob = await nodes.createOnly(bobInit)
    const chosen = relaysWhen(bob, list => list.length === 2)
    await bob.start()
    const list = await chosen
    const listed = Date.now()
    assert.ok(list.every(r => r.source === 'discovered'))
    const best = relays.map(r => r.peerId).sort((a, b) => relayScore(bob.peerId, a) < relayScore(bob.peerId, b) ? -1 : 1).slice(0, 2).map(String)
    assert.deepEqual(list.map(r => r.peerId).sort(), best.sort(), 'the two relays with bob\'s lowest rendezvous scores')
    // Bob's card on the DHT names them.
    await nextEvent<PublishState>(bob, 'card:published', p => p.card >= listed, DEADLINE)

    const alice = await nodes.node({ ...lab, dht: 'client', bootstrap, autoRelays: 0 })
    await alice.addContact('bob', bob.peerId.toString())
    assert.equal(alice.contacts()[0].relays.length > 0, true, 'alice found bob\'s relays in his card')
    await bob.stop()
    const stored = nextEvent<ReceiptEvent>(alice, 'receipt', r => r.state === 'stored', DEADLINE)
    const id = await alice.send('bob', 'held by relays nobody configured')
    await stored

    bob = await nodes.createOnly(bobInit)
    const arrived = nextEvent<{ text: string }>(bob, 'message', m => m.text === 'held by relays nobody configured', DEADLINE)
    await bob.start()
    await arrived
    await alice.waitFor(id, 'delivered', { signal: AbortSignal.timeout(DEADLINE) })
  })

  it('replaces a chosen relay that dies, within a bounded time', async () => {
    const bob = await nodes.createOnly({ ...lab, dht: 'client', bootstrap, relayReplaceAfter: 1000 })
    const chosen = relaysWhen(bob, list => list.length === 2)
    await bob.start()
    const first = (await chosen).map(r => r.peerId)
    const dead = relays.find(r => r.peerId.toString() === first[0])!
    const spare = relays.find(r => !first.includes(r.peerId.toString()))!
    const began = Date.now()
    const replaced = relaysWhen(bob, list => list.length === 2 && !list.some(r => r.peerId === first[0]))
    await dead.stop()
    const after = await replaced
    assert.deepEqual(after.map(r => r.peerId).sort(), [first[1], spare.peerId.toString()].sort())
    assert.ok(Date.now() - began < DEADLINE, 'replaced within the deadline')
  })
})

