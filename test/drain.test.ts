/**
 * The recipient's drain of a home relay (src/mailbox/home-relays.ts) against relays that page
 * small: one that says when a page is the last (`Response.more`) and one that predates it.
 * The relay is a stand-in MailboxClient; the store is a real in-memory Store.
 */
import { describe, it, after } from 'node:test'
import assert from 'node:assert/strict'
import { randomBytes } from 'node:crypto'
import { generateKeyPair } from '@libp2p/crypto/keys'
import { peerIdFromPrivateKey } from '@libp2p/peer-id'
import { defaultLogger } from '@libp2p/logger'
import { HomeRelays } from '../src/mailbox/home-relays.js'
import { Store } from '../src/store/store.js'
import { Body, Envelope } from '../src/wire/pb/wire.js'
import { BODY_KIND } from '../src/wire/constants.js'
import { nextEvent } from './helpers.js'
import type { FetchedPage, MailboxClient } from '../src/mailbox/index.js'
import type { IncomingMessage } from '../src/dm/index.js'
import type { Libp2p, PeerId } from '@libp2p/interface'
import { TypedEventEmitter } from 'main-event'

const DEADLINE = 10_000
const PAGE = 2

/** A relay holding `count` envelopes that answers at most PAGE per FETCH, with or without `more`. */
class PagingRelay extends TypedEventEmitter<{ deleted: CustomEvent<number> }> implements MailboxClient {
  readonly held = new Map<string, Uint8Array>()
  /** Ids in the order the relay stored them; a cursor is a position in it. */
  private readonly order: string[] = []
  fetches = 0
  private readonly sendsMore: boolean

  constructor (count: number, recipient: PeerId, sendsMore: boolean) {
    super()
    this.sendsMore = sendsMore
    for (let i = 0; i < count; i++) {
      const id = new Uint8Array(randomBytes(16))
      const body = Body.encode({ kind: BODY_KIND.TEXT, timestamp: BigInt(Date.now()), text: `mail ${i}`, refs: [], relays: [] })
      // The drain only decodes the envelope and hands it to `open` (a stand-in below), so the
      // body travels unsealed in the ciphertext field.
      const hex = Buffer.from(id).toString('hex')
      this.order.push(hex)
      this.held.set(hex, Envelope.encode({ scheme: 1, id, recipient: recipient.toMultihash().bytes, ephemeralKey: new Uint8Array(32), nonce: new Uint8Array(24), ciphertext: body }))
    }
  }

  async deposit (): Promise<never> { throw new Error('not used') }

  async fetch (_relay: PeerId, cursor: Uint8Array): Promise<FetchedPage> {
    this.fetches++
    const after = cursor.byteLength === 0 ? 0 : cursor[0]
    const end = Math.min(after + PAGE, this.order.length)
    // What lies ahead of the cursor has not been fetched, so none of it is deleted yet.
    const page = this.order.slice(after, end).filter(id => this.held.has(id))
    return {
      mail: page.map(id => ({ id, envelope: this.held.get(id)!, storedAt: Date.now() })),
      next: page.length === 0 ? new Uint8Array(0) : Uint8Array.of(end),
      ...(this.sendsMore ? { more: end < this.order.length } : {})
    }
  }

  async delete (_relay: PeerId, ids: string[]): Promise<number> {
    let n = 0
    for (const id of ids) if (this.held.delete(id)) n++
    this.safeDispatchEvent('deleted', { detail: this.held.size })
    return n
  }
}

describe('draining a home relay', () => {
  const stores: Store[] = []
  after(async () => { for (const s of stores) await s.close() })

  async function drain (count: number, sendsMore: boolean): Promise<{ relay: PagingRelay, persisted: string[] }> {
    const sender = peerIdFromPrivateKey(await generateKeyPair('Ed25519'))
    const self = peerIdFromPrivateKey(await generateKeyPair('Ed25519'))
    const relayPeer = peerIdFromPrivateKey(await generateKeyPair('Ed25519'))
    const relay = new PagingRelay(count, self, sendsMore)
    const store = await Store.memory()
    stores.push(store)
    const persisted: string[] = []
    const events = new TypedEventEmitter<{ persisted: CustomEvent<number> }>()
    const homes = new HomeRelays({
      store,
      libp2p: { getPeers: () => [] } as unknown as Libp2p,
      mailbox: relay,
      self,
      log: defaultLogger().forComponent('test:drain'),
      receiver: {
        receive: async (envelopes) => {
          const accepted: IncomingMessage[] = envelopes.map(envelope => ({ id: envelope.id, sender, body: Body.decode(envelope.ciphertext) }))
          for (const m of accepted) persisted.push(m.body.text)
          events.safeDispatchEvent('persisted', { detail: persisted.length })
          return { accepted, rejected: [] }
        }
      },
      listenVia: async () => {},
      receipt: async () => {}
    })
    await homes.start()
    try {
      const all = nextEvent<number>(events, 'persisted', n => n === count, DEADLINE)
      // The drain deletes each page after storing it: the last delete comes after the last persist.
      const emptied = nextEvent<number>(relay, 'deleted', left => left === 0, DEADLINE)
      homes.drain(relayPeer)
      await all
      await emptied
    } finally {
      homes.stop()
    }
    return { relay, persisted }
  }

  it('stops after the page a relay calls the last, without fetching an empty one', async () => {
    const { relay, persisted } = await drain(5, true)
    assert.deepEqual(persisted, ['mail 0', 'mail 1', 'mail 2', 'mail 3', 'mail 4'])
    assert.equal(relay.held.size, 0, 'every page deleted after it was stored')
    assert.equal(relay.fetches, 3, 'pages of 2, 2 and 1')
  })

  it('fetches from a relay that predates `more` until a page comes back empty', async () => {
    const { relay, persisted } = await drain(5, false)
    assert.deepEqual(persisted, ['mail 0', 'mail 1', 'mail 2', 'mail 3', 'mail 4'])
    assert.equal(relay.held.size, 0)
    assert.equal(relay.fetches, 4, 'pages of 2, 2 and 1, then the empty one')
  })
})
