/**
 * Where peers are: the addresses and home relays of contacts (from their cards) and of anyone
 * who messaged this node (from inside their messages), made dialable when needed.
 */
import { peerIdFromString } from '@libp2p/peer-id'
import { multiaddr, type Multiaddr } from '@multiformats/multiaddr'
import type { ContactBook } from '../contacts/contact-book.js'
import type { Body } from '../dm/pb/dm.js'
import type { Store } from '../store/store.js'
import type { ContactRecord } from '../store/types.js'
import { parseAddrs } from './addrs.js'
import type { PeerId, PeerStore } from '@libp2p/interface'

export interface PeerDirectoryInit {
  store: Store
  peerStore: PeerStore
  book: ContactBook
  self: PeerId
}

export class PeerDirectory {
  private readonly init: PeerDirectoryInit
  /** What each peer last said about itself, as stored: receiving a batch must not cost a read. */
  private readonly learned = new Map<string, string>()
  /** Peers whose stored addresses are in the peerStore already this run. */
  private readonly prepared = new Set<string>()

  constructor (init: PeerDirectoryInit) {
    this.init = init
  }

  /** Makes a contact's card addresses dialable. */
  async rememberContact (record: ContactRecord): Promise<void> {
    if (record.addrs.length === 0) return
    await this.init.peerStore.merge(peerIdFromString(record.peerId), { multiaddrs: record.addrs.map(a => multiaddr(a)) })
  }

  /**
   * Remembers where a peer says it is (home relays and own addresses, from inside its latest
   * message), so this node can answer it while it is offline or when it is not a contact.
   */
  async learn (sender: string, body: Body): Promise<void> {
    const info = { relays: parseAddrs(body.relays, true), addrs: parseAddrs(body.addrs, false) }
    const key = JSON.stringify(info)
    if (this.learned.get(sender) === key) return
    const known = await this.init.store.getPeerInfo(sender)
    if (JSON.stringify(known) !== key) await this.init.store.putPeerInfo(sender, info)
    if (info.addrs.length > 0) await this.init.peerStore.merge(peerIdFromString(sender), { multiaddrs: info.addrs.map(a => multiaddr(a)) })
    this.learned.set(sender, key)
    this.prepared.add(sender)
  }

  /**
   * Makes a non-contact's self-reported addresses dialable before a delivery attempt (the
   * peerStore forgets them across restarts; contacts' addresses are added at start).
   */
  async prepare (peer: string): Promise<void> {
    if (this.prepared.has(peer) || this.init.book.isContact(peer)) return
    const { addrs } = await this.init.store.getPeerInfo(peer)
    if (addrs.length > 0) await this.init.peerStore.merge(peerIdFromString(peer), { multiaddrs: addrs.map(a => multiaddr(a)) })
    this.prepared.add(peer)
  }

  /**
   * The relays that hold mail for `peer`, by relay peer id: those its card names and those its
   * latest message names (the card may be older than a change of relays, or missing).
   */
  async relaysFor (peer: string): Promise<Map<string, Multiaddr[]>> {
    const fromCard = this.init.book.byPeerId(peer)?.relays ?? []
    const known = [...new Set([...fromCard, ...(await this.init.store.getPeerInfo(peer)).relays])]
    const byRelay = new Map<string, Multiaddr[]>()
    for (const text of known) {
      const addr = multiaddr(text)
      const relay = addr.getComponents().findLast(c => c.name === 'p2p')?.value
      if (relay == null || relay === peer || relay === this.init.self.toString()) continue
      byRelay.set(relay, [...(byRelay.get(relay) ?? []), addr])
    }
    return byRelay
  }
}
