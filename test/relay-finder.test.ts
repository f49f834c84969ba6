/**
 * The relay finder's decisions, with a fake DHT, a fake relay book, a fake network and node's
 * mock clock: which relays it chooses, when it replaces one, and that a node that lost its own
 * network keeps its relays.
 */
import { describe, it, beforeEach, afterEach, mock } from 'node:test'
import assert from 'node:assert/strict'
import { generateKeyPair } from '@libp2p/crypto/keys'
import { peerIdFromPrivateKey } from '@libp2p/peer-id'
import { defaultLogger } from '@libp2p/logger'
import { RelayFinder, relayScore, SEARCH_BACKOFF_MAX_MS, type RelayBook } from '../src/discovery/relay-finder.js'
import type { PeerId } from '@libp2p/interface'
import type { RelayRecord } from '../src/store/types.js'

const REPLACE_AFTER = 60_000
/** The finder looks at its relays this often (CHECK_INTERVAL_MS in relay-finder.ts). */
const CHECK = 5000

async function peer (): Promise<PeerId> {
  return peerIdFromPrivateKey(await generateKeyPair('Ed25519'))
}

/** Lets every promise the finder's timer started settle (nothing here waits on real I/O). */
async function settle (): Promise<void> {
  for (let i = 0; i < 20; i++) await new Promise(resolve => setImmediate(resolve))
}

describe('the relay finder', () => {
  let self: PeerId
  let providers: PeerId[]
  let records: RelayRecord[]
  let connected: Set<string>
  let answering: Set<string>
  let online: boolean
  let finder: RelayFinder | undefined
  /** When (mock ms since the test began) each search for providers ran. */
  let searches: number[]

  beforeEach(async () => {
    mock.timers.enable({ apis: ['setTimeout', 'Date'], now: 1_000_000 })
    self = await peer()
    providers = await Promise.all(Array.from({ length: 4 }, peer))
    records = []
    connected = new Set()
    answering = new Set()
    online = true
    searches = []
  })

  afterEach(() => {
    finder?.stop()
    mock.timers.reset()
  })

  function start (): RelayFinder {
    const book: RelayBook = {
      list: () => records,
      add: async (card) => {
        const record: RelayRecord = { peerId: card, addrs: [], card, addedAt: Date.now(), source: 'discovered' }
        records = [...records, record]
        connected.add(card)
        return record
      },
      remove: async (peerId) => { records = records.filter(r => r.peerId !== peerId) },
      connected: (peerId) => connected.has(peerId),
      reach: async (peerId) => answering.has(peerId)
    }
    finder = new RelayFinder({
      dht: {
        findProviders: async function * () {
          searches.push(Date.now() - 1_000_000)
          yield { name: 'PROVIDER', providers: providers.map(id => ({ id, multiaddrs: [] })) } as any
        }
      },
      relays: book,
      network: { online: () => online },
      cards: { findCard: async (p) => p.toString() },
      self,
      log: defaultLogger().forComponent('test:relay-finder'),
      target: 2,
      replaceAfter: REPLACE_AFTER
    })
    finder.start()
    return finder
  }

  /** The providers in the order this node ranks them. */
  function ranked (): string[] {
    return providers.map(String).sort((a, b) => relayScore(self, providers.find(p => p.toString() === a)!) < relayScore(self, providers.find(p => p.toString() === b)!) ? -1 : 1)
  }

  async function advance (ms: number): Promise<void> {
    for (let t = 0; t < ms; t += CHECK) {
      mock.timers.tick(Math.min(CHECK, ms - t))
      await settle()
    }
  }

  it('chooses the two relays ranked first for this node', async () => {
    start()
    mock.timers.tick(0)
    await settle()
    assert.deepEqual(records.map(r => r.peerId), ranked().slice(0, 2))
  })

  it('replaces a relay unreachable for replaceAfter that does not answer one more dial, and avoids it', async () => {
    start()
    mock.timers.tick(0)
    await settle()
    const [first, second, third] = ranked()
    connected.delete(first)
    await advance(REPLACE_AFTER)
    assert.deepEqual(records.map(r => r.peerId), [first, second], 'not before replaceAfter')
    await advance(CHECK * 2)
    assert.deepEqual(records.map(r => r.peerId), [second, third], 'replaced by the next ranked, and not chosen again')
  })

  it('keeps a relay that answers the last dial', async () => {
    start()
    mock.timers.tick(0)
    await settle()
    const [first, second] = ranked()
    connected.delete(first)
    answering.add(first)
    await advance(REPLACE_AFTER + CHECK * 2)
    assert.deepEqual(records.map(r => r.peerId), [first, second])
  })

  it('keeps every relay while the node itself is offline, however long', async () => {
    start()
    mock.timers.tick(0)
    await settle()
    const chosen = records.map(r => r.peerId)
    connected.clear()
    online = false
    await advance(REPLACE_AFTER * 3)
    assert.deepEqual(records.map(r => r.peerId), chosen, 'an outage of its own costs no relay')
    // Back online, its clock starts from now: a relay still unreachable is replaced only later.
    online = true
    connected.add(chosen[1])
    await advance(CHECK)
    assert.deepEqual(records.map(r => r.peerId), chosen)
    await advance(REPLACE_AFTER + CHECK)
    assert.ok(!records.some(r => r.peerId === chosen[0]), 'then replaced')
  })

  it('searches less and less often while no relay is found, and at once when one appears after a loss or a return online', async () => {
    const all = providers
    providers = []
    start()
    mock.timers.tick(0)
    await settle()
    await advance(CHECK * 17)
    assert.deepEqual(searches, [0, CHECK, CHECK * 2, CHECK * 3, CHECK * 5, CHECK * 9, CHECK * 17], 'three quick retries, then each wait twice the one before')
    await advance(SEARCH_BACKOFF_MAX_MS * 3)
    const gaps = searches.slice(1).map((t, i) => t - searches[i])
    assert.ok(gaps.every(g => g <= SEARCH_BACKOFF_MAX_MS), `never more than the cap apart: ${gaps.join(', ')}`)
    assert.equal(gaps.at(-1), SEARCH_BACKOFF_MAX_MS, 'and at the cap once reached')
    // The node loses its own network and comes back: it searches at the next check.
    online = false
    await advance(CHECK)
    providers = all
    online = true
    const before = searches.length
    await advance(CHECK)
    assert.equal(searches.length, before + 1, 'searched on coming back online')
    assert.deepEqual(records.map(r => r.peerId), ranked().slice(0, 2))
    // Once it has its relays it does not search at all.
    await advance(CHECK * 10)
    assert.equal(searches.length, before + 1)
  })
})
