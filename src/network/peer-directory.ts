/**
 * Where peers are: the addresses and home relays of contacts (from their cards) and of anyone
 * who messaged this node (from inside their messages), made dialable when needed.
 */
import { peerIdFromString } from '@libp2p/peer-id'
import { multiaddr, type Multiaddr } from '@multiformats/multiaddr'
import type { ContactBook } from '../contacts/contact-book.js'
import type { Body } from '../wire/pb/wire.js'
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

  /**
   * Makes a contact's card addresses dialable (and those it gave in its latest message), and a
   * circuit through each of its home relays:
   * a peer behind NAT is reachable there as soon as it has a reservation, even when the card was
   * made before it had one (a relay without one refuses the circuit at once, and the mail goes
   * to the relay's mailbox instead).
   */
  async rememberContact (record: ContactRecord): Promise<void> {
    // What the contact said about itself since its card (its latest message) counts too.
    const said = await this.init.store.getPeerInfo(record.peerId)
    const addrs = dialable([...record.addrs, ...said.addrs], [...record.relays, ...said.relays], record.peerId)
    if (addrs.length === 0) return
    await this.init.peerStore.merge(peerIdFromString(record.peerId), { multiaddrs: addrs })
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
    const addrs = dialable(info.addrs, info.relays, sender)
    if (addrs.length > 0) await this.init.peerStore.merge(peerIdFromString(sender), { multiaddrs: addrs })
    this.learned.set(sender, key)
    this.prepared.add(sender)
  }

  /**
   * Makes a non-contact's self-reported addresses dialable before a delivery attempt (the
   * peerStore forgets them across restarts; contacts' addresses are added at start).
   */
  async prepare (peer: string): Promise<void> {
    if (this.prepared.has(peer) || this.init.book.isContact(peer)) return
    const info = await this.init.store.getPeerInfo(peer)
    const addrs = dialable(info.addrs, info.relays, peer)
    if (addrs.length > 0) await this.init.peerStore.merge(peerIdFromString(peer), { multiaddrs: addrs })
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

/**
 * A peer's own addresses and a circuit through each of its relays (`<relay>/p2p-circuit`), for
 * the peer store; relay addresses naming the peer itself are skipped.
 */
function dialable (addrs: string[], relays: string[], peer: string): Multiaddr[] {
  const circuits = relays
    .filter(r => !r.endsWith(`/p2p/${peer}`) && !r.includes('/p2p-circuit'))
    .map(r => `${r}/p2p-circuit`)
  return [...new Set([...addrs, ...circuits])].map(a => multiaddr(a))
}

