/**
 * This node's home relays: the always-on nodes that hold its mail while it is offline. The node
 * stays connected to them, names them in its contact card and in every message it seals, and
 * drains its mailbox from each one when it connects and whenever a relay says mail is waiting.
 *
 * Draining is crash-safe in this order: open and persist the messages, queue a delivery receipt
 * for each sender, and only then delete them at the relay. A crash in between fetches the same
 * mail again, and the inbox drops it as a duplicate.
 */
import { peerIdFromString } from '@libp2p/peer-id'
import { multiaddr, type Multiaddr } from '@multiformats/multiaddr'
import { Envelope } from '../wire/pb/wire.js'
import { BODY_KIND } from '../wire/constants.js'
import { decodeCard } from '../contacts/card.js'
import { ContactError } from '../errors.js'
import { MAX_MAILBOX_BATCH } from './constants.js'
import type { FetchedMail, MailboxClient } from './index.js'
import type { EnvelopeReceiver } from '../dm/index.js'
import type { Store } from '../store/store.js'
import type { RelayRecord } from '../store/types.js'
import type { Libp2p, Logger, PeerId } from '@libp2p/interface'
import { idToHex } from '../ids.js'

/** peerStore tag that makes libp2p keep (and restore) the connection to a home relay. */
const KEEP_ALIVE_TAG = 'keep-alive-pigeon-home-relay'
/**
 * How often unconnected home relays are redialled. libp2p's keep-alive tag gives up after a few
 * failed redials, so a relay down for longer (a restart, an outage) would otherwise be lost
 * until this node restarts.
 */
const RECONNECT_INTERVAL_MS = 5_000
/** Pages fetched in one drain before yielding to other work; the next notify or connect resumes. */
const MAX_PAGES_PER_DRAIN = 1000

export interface HomeRelaysInit {
  store: Store
  libp2p: Libp2p
  mailbox: MailboxClient
  self: PeerId
  log: Logger
  /** Opens mail addressed to this node and persists what opens (the same path as direct delivery). */
  receiver: EnvelopeReceiver
  /** Reserves a slot on a relay (circuit relay v2) so peers can reach this node through it. */
  listenVia(relayAddr: string): Promise<void>
  /** Durably queues a delivery receipt to `sender` for these text message ids. */
  receipt(sender: PeerId, ids: string[]): Promise<void>
}

/** Mail a relay said it held for this node, as it answered the first fetch of a drain. */
export interface MailHeld {
  messages: number
  bytes: number
  /** When the relay said so (this node's clock, ms). */
  at: number
}

export class HomeRelays {
  private readonly init: HomeRelaysInit
  private readonly relays = new Map<string, RelayRecord>()
  /** Drains in progress per relay, and whether another was asked for meanwhile. */
  private readonly draining = new Map<string, { again: boolean }>()
  /** What each relay said it held for this node when a drain last began, and when. */
  private readonly heldAt = new Map<string, MailHeld>()
  private running = false
  private reconnectTimer?: ReturnType<typeof setInterval>

  constructor (init: HomeRelaysInit) {
    this.init = init
  }

  async load (): Promise<void> {
    for (const record of await this.init.store.listRelays()) this.relays.set(record.peerId, record)
  }

  list (): RelayRecord[] {
    return [...this.relays.values()].sort((a, b) => a.addedAt - b.addedAt)
  }

  /** What `relay` held for this node when its mailbox was last drained; undefined if never (or an older relay). */
  held (relay: string): MailHeld | undefined {
    return this.heldAt.get(relay)
  }

  isHome (peer: PeerId): boolean {
    return this.relays.has(peer.toString())
  }

  /** Relay addresses for this node's card and messages: each ends in /p2p/<relay>. */
  addresses (): Multiaddr[] {
    return this.list().flatMap(r => r.addrs.map(a => multiaddr(a)))
  }

  async add (card: string, source: 'manual' | 'discovered' = 'manual'): Promise<RelayRecord> {
    const parsed = decodeCard(card)
    if (parsed.peerId.equals(this.init.self)) throw new ContactError('a node cannot be its own home relay')
    const peer = parsed.peerId.toString()
    const addrs = parsed.addrs.map(a => a.encapsulate(`/p2p/${peer}`).toString())
    if (addrs.length === 0) throw new ContactError('that relay card has no addresses')
    const record: RelayRecord = { peerId: peer, addrs, card: card.trim(), addedAt: this.relays.get(peer)?.addedAt ?? Date.now(), source }
    await this.init.store.putRelay(record)
    this.relays.set(peer, record)
    if (this.running) {
      await this.connect(record)
      // Already connected (a bootstrap peer, a DHT server, a relay chosen on the DHT): no
      // peer:connect will come to reserve and drain, so do it now.
      if (this.init.libp2p.getConnections(parsed.peerId).length > 0) this.connected(parsed.peerId)
    }
    return record
  }

  async remove (peerId: string): Promise<RelayRecord> {
    const record = this.relays.get(peerId)
    if (record == null) throw new ContactError(`${peerId} is not a home relay`)
    await this.init.store.deleteRelay(peerId)
    this.relays.delete(peerId)
    this.heldAt.delete(peerId)
    await this.init.libp2p.peerStore.merge(peerIdFromString(peerId), { tags: { [KEEP_ALIVE_TAG]: undefined } })
    return record
  }

  async start (): Promise<void> {
    this.running = true
    for (const record of this.relays.values()) await this.connect(record)
    this.reconnectTimer = setInterval(() => { void this.reconnect() }, RECONNECT_INTERVAL_MS)
    this.reconnectTimer.unref()
  }

  stop (): void {
    this.running = false
    clearInterval(this.reconnectTimer)
  }

  /**
   * Called when any peer connects. A home relay is (re)reserved on, so peers can reach this
   * node through it, and drained.
   */
  connected (peer: PeerId): void {
    const record = this.relays.get(peer.toString())
    if (record == null) return
    void (async () => {
      for (const addr of record.addrs) await this.init.listenVia(addr)
    })()
    this.drain(peer)
  }

  private async reconnect (): Promise<void> {
    const connected = new Set(this.init.libp2p.getPeers().map(p => p.toString()))
    for (const record of this.relays.values()) {
      if (this.running && !connected.has(record.peerId)) await this.connect(record)
    }
  }

  /** Fetches, stores and clears this node's mail at `relay`; overlapping calls coalesce. */
  drain (relay: PeerId): void {
    if (!this.running) return
    const key = relay.toString()
    const current = this.draining.get(key)
    if (current != null) {
      current.again = true
      return
    }
    const state = { again: false }
    this.draining.set(key, state)
    void (async () => {
      try {
        do {
          state.again = false
          await this.drainOnce(relay)
        } while (state.again && this.running)
      } catch (err: any) {
        this.init.log('draining mailbox at %p failed: %s', relay, err.message)
      } finally {
        this.draining.delete(key)
      }
    })()
  }

  private async connect (record: RelayRecord): Promise<void> {
    const peer = peerIdFromString(record.peerId)
    await this.init.libp2p.peerStore.merge(peer, {
      multiaddrs: record.addrs.map(a => multiaddr(a)),
      tags: { [KEEP_ALIVE_TAG]: { value: 100 } }
    })
    // Best effort: the keep-alive tag and the reconnect loop retry; peer:connect reserves and drains.
    this.init.libp2p.dial(peer, { signal: AbortSignal.timeout(10_000) })
      .catch(err => { this.init.log('home relay %p not reachable: %s', peer, err.message) })
  }

  /**
   * One pass over the mailbox. The next page is fetched while this one is opened and stored, and
   * a page's delete overlaps the next page's work (one delete in flight at a time); a page is
   * deleted only after it is stored, so the order that makes draining crash-safe holds.
   */
  private async drainOnce (relay: PeerId): Promise<void> {
    let fetching = this.init.mailbox.fetch(relay, new Uint8Array(0), MAX_MAILBOX_BATCH)
    let deleting: Promise<unknown> = Promise.resolve()
    try {
      for (let page = 0; page < MAX_PAGES_PER_DRAIN && this.running; page++) {
        const { mail, next, more, held } = await fetching
        if (page === 0 && held != null) this.heldAt.set(relay.toString(), { ...held, at: Date.now() })
        if (mail.length === 0) return
        // The relay said this page was the last: no fetch to learn that the next one is empty.
        const last = more === false
        if (!last) {
          fetching = this.init.mailbox.fetch(relay, next, MAX_MAILBOX_BATCH)
          // Settled later or abandoned on return: never an unhandled rejection.
          fetching.catch(() => {})
        }
        await this.store(relay, mail)
        await deleting
        deleting = this.init.mailbox.delete(relay, mail.map(m => m.id))
        if (last) return
      }
    } finally {
      await deleting
    }
  }

  /** Opens, persists and receipts one page of mail. */
  private async store (relay: PeerId, mail: FetchedMail[]): Promise<void> {
    const envelopes: Envelope[] = []
    for (const item of mail) {
      try {
        envelopes.push(Envelope.decode(item.envelope))
      } catch (err: any) {
        this.init.log('dropping undecodable mail %s at %p: %s', item.id, relay, err.message)
      }
    }
    const { accepted, rejected } = await this.init.receiver.receive(envelopes)
    // Anyone can deposit junk addressed to us; it is dropped so it cannot fill the mailbox.
    for (const r of rejected) this.init.log('dropping unreadable mail %s at %p: %s', idToHex(r.id), relay, r.reason)
    const textsBySender = new Map<string, { peer: PeerId, ids: string[] }>()
    for (const m of accepted) {
      if (m.body.kind !== BODY_KIND.TEXT) continue
      const entry = textsBySender.get(m.sender.toString()) ?? { peer: m.sender, ids: [] }
      entry.ids.push(idToHex(m.id))
      textsBySender.set(m.sender.toString(), entry)
    }
    for (const { peer, ids } of textsBySender.values()) await this.init.receipt(peer, ids)
  }

}
