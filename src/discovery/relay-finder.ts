/**
 * Relays found on the DHT, for nodes nobody gave a relay by hand.
 *
 * Relays that serve anyone advertise themselves as providers of one well-known key (RELAY_KEY).
 * A node with no home relay added by hand keeps `target` relays chosen among those providers by
 * rendezvous hashing: the lowest sha256(own peer id || relay peer id). Every node picks
 * differently, so mail spreads evenly over all relays without anyone coordinating, and an
 * operator whose relay is full adds relays rather than a bigger machine. (The DHT's XOR distance
 * would spread it far less evenly: docs/architecture.md, section 13.4, has the numbers.)
 *
 * A discovered relay that stays unreachable for `replaceAfter`, and does not answer one more dial,
 * is dropped, avoided for an hour, and replaced. The clock runs only while the node is connected
 * to someone: a node that lost its own network (a laptop moving between networks, a cable
 * pulled) would otherwise drop every relay at once and then avoid the very relays it needs.
 * Relays added by hand win: with one, the finder adds none and drops none.
 */
import { createHash } from 'node:crypto'
import { TypedEventEmitter } from 'main-event'
import { CID } from 'multiformats/cid'
import { sha256 } from 'multiformats/hashes/sha2'
import type { KadDHT } from './dht.js'
import type { Logger, PeerId } from '@libp2p/interface'
import type { RelayRecord } from '../store/types.js'
import { DEFAULT_AUTO_RELAYS, DEFAULT_RELAY_REPLACE_AFTER_MS } from './constants.js'

/** The DHT key that relays provide: the raw CID of sha256("/pigeon/relay/1"). */
export const RELAY_KEY = CID.createV1(0x55, await sha256.digest(new TextEncoder().encode('/pigeon/relay/1')))
export { DEFAULT_AUTO_RELAYS, DEFAULT_RELAY_REPLACE_AFTER_MS } from './constants.js'
/** How often the finder looks at its relays. */
const CHECK_INTERVAL_MS = 5000
/**
 * A search that leaves the node short of relays is repeated after CHECK_INTERVAL_MS, the first
 * SEARCH_QUICK_RETRIES times (a node that just joined may not know DHT servers near the key
 * yet), then after twice as long each time, up to this: a network with few or no relays is not
 * asked the same question every 5 s by every node (50 nodes doing so kept a 2-core machine busy
 * with DHT queries). Losing a relay, or coming back online, starts the delays over.
 */
export const SEARCH_BACKOFF_MAX_MS = 10 * 60_000
export const SEARCH_QUICK_RETRIES = 3
/** A relay that was dropped is not chosen again for this long. */
const AVOID_MS = 60 * 60_000
/** Deadline of one search for providers, and of one card lookup. */
const SEARCH_TIMEOUT_MS = 15_000
/** Providers considered from one search. */
const MAX_CANDIDATES = 20

/** What the finder needs of the node's home relays. */
export interface RelayBook {
  list(): RelayRecord[]
  add(card: string, source: 'discovered'): Promise<RelayRecord>
  remove(peerId: string): Promise<void>
  connected(peerId: string): boolean
  /** Dials the relay once more; whether it answered. */
  reach(peerId: string, options: { signal: AbortSignal }): Promise<boolean>
}

/** What the finder needs to know of the node's own connectivity. */
export interface OwnNetwork {
  /** Whether the node has an open connection to any peer. */
  online(): boolean
}

/** What the finder needs to turn a relay's peer id into its card. */
export interface CardFinder {
  findCard(peer: PeerId, options: { signal: AbortSignal }): Promise<string>
}

export interface RelayFinderInit {
  dht: Pick<KadDHT, 'findProviders'>
  relays: RelayBook
  network: OwnNetwork
  cards: CardFinder
  self: PeerId
  log: Logger
  target?: number
  replaceAfter?: number
}

/** A relay's rendezvous score for a node, as a comparable hex string: the lowest scores win. */
export function relayScore (node: PeerId, relay: PeerId): string {
  return createHash('sha256').update(node.toMultihash().bytes).update(relay.toMultihash().bytes).digest('hex')
}

export class RelayFinder {
  private readonly init: RelayFinderInit
  private readonly target: number
  private readonly replaceAfter: number
  /** When each discovered relay was last seen connected (or added). */
  private readonly lastSeen = new Map<string, number>()
  /** Relays dropped, and until when they are avoided. */
  private readonly avoid = new Map<string, number>()
  private timer?: ReturnType<typeof setTimeout>
  private controller?: AbortController
  /** No search for providers before this time (ms since the epoch), and the delay after the next one that comes up short. */
  private nextSearch = 0
  private searchDelay = CHECK_INTERVAL_MS
  /** Searches in a row that left the node short. */
  private shortSearches = 0
  private wasOnline = true

  constructor (init: RelayFinderInit) {
    this.init = init
    this.target = init.target ?? DEFAULT_AUTO_RELAYS
    this.replaceAfter = init.replaceAfter ?? DEFAULT_RELAY_REPLACE_AFTER_MS
  }

  start (): void {
    if (this.target === 0) return
    this.controller = new AbortController()
    const now = Date.now()
    for (const r of this.discovered()) this.lastSeen.set(r.peerId, now)
    this.schedule(0)
  }

  stop (): void {
    clearTimeout(this.timer)
    this.timer = undefined
    this.controller?.abort()
    this.controller = undefined
  }

  private discovered (): RelayRecord[] {
    return this.init.relays.list().filter(r => r.source === 'discovered')
  }

  private schedule (delay: number): void {
    this.timer = setTimeout(() => { void this.check() }, delay)
  }

  private async check (): Promise<void> {
    const controller = this.controller
    if (controller == null) return
    try {
      await this.tend(controller.signal)
    } catch (err: any) {
      if (!controller.signal.aborted) this.init.log('looking for relays failed: %s', err.message)
    }
    if (this.controller === controller) this.schedule(CHECK_INTERVAL_MS)
  }

  /** Drops discovered relays gone too long, then fills up to the target. */
  private async tend (signal: AbortSignal): Promise<void> {
    const all = this.init.relays.list()
    if (all.some(r => r.source !== 'discovered')) return
    const now = Date.now()
    const online = this.init.network.online()
    if (online && !this.wasOnline) this.searchSoon()
    this.wasOnline = online
    for (const relay of this.discovered()) {
      if (this.init.relays.connected(relay.peerId) || !online) {
        // Offline, an unreachable relay says nothing about the relay: its clock does not run.
        this.lastSeen.set(relay.peerId, now)
      } else if (now - (this.lastSeen.get(relay.peerId) ?? now) > this.replaceAfter) {
        if (await this.init.relays.reach(relay.peerId, { signal })) {
          this.lastSeen.set(relay.peerId, Date.now())
          continue
        }
        this.init.log('discovered relay %s unreachable for %d s: replacing it', relay.peerId, Math.round(this.replaceAfter / 1000))
        await this.init.relays.remove(relay.peerId)
        this.lastSeen.delete(relay.peerId)
        this.avoid.set(relay.peerId, now + AVOID_MS)
        this.searchSoon()
      }
    }
    for (const [peer, until] of this.avoid) if (until < now) this.avoid.delete(peer)
    let missing = this.target - this.discovered().length
    if (missing <= 0) {
      this.searchSoon()
      return
    }
    if (now < this.nextSearch) return
    // Set before searching, so that a search that throws waits its turn too.
    this.nextSearch = now + this.searchDelay
    if (++this.shortSearches >= SEARCH_QUICK_RETRIES) this.searchDelay = Math.min(this.searchDelay * 2, SEARCH_BACKOFF_MAX_MS)
    for (const candidate of await this.candidates(signal)) {
      if (missing <= 0 || signal.aborted) break
      try {
        const card = await this.init.cards.findCard(candidate, { signal: AbortSignal.any([signal, AbortSignal.timeout(SEARCH_TIMEOUT_MS)]) })
        const record = await this.init.relays.add(card, 'discovered')
        this.lastSeen.set(record.peerId, Date.now())
        this.init.log('chose relay %s from the DHT', record.peerId)
        missing--
      } catch (err: any) {
        this.init.log('relay %p cannot be used: %s', candidate, err.message)
        this.avoid.set(candidate.toString(), Date.now() + AVOID_MS)
      }
    }
    if (missing <= 0) this.searchSoon()
  }

  /** The next check searches (if relays are missing), and a short one starts the delays over. */
  private searchSoon (): void {
    this.nextSearch = 0
    this.searchDelay = CHECK_INTERVAL_MS
    this.shortSearches = 0
  }

  /** Relays providing RELAY_KEY that this node does not use or avoid, lowest score first. */
  private async candidates (signal: AbortSignal): Promise<PeerId[]> {
    const have = new Set(this.init.relays.list().map(r => r.peerId))
    const found = new Map<string, PeerId>()
    const search = AbortSignal.any([signal, AbortSignal.timeout(SEARCH_TIMEOUT_MS)])
    try {
      for await (const event of this.init.dht.findProviders(RELAY_KEY, { signal: search })) {
        if (event.name !== 'PROVIDER') continue
        for (const p of event.providers) {
          const id = p.id.toString()
          if (p.id.equals(this.init.self) || have.has(id) || this.avoid.has(id)) continue
          found.set(id, p.id)
        }
        if (found.size >= MAX_CANDIDATES) break
      }
    } catch (err: any) {
      if (!search.aborted) throw err
    }
    return [...found.values()]
      .map(id => ({ id, score: relayScore(this.init.self, id) }))
      .sort((a, b) => a.score < b.score ? -1 : a.score > b.score ? 1 : 0)
      .map(c => c.id)
  }
}

/**
 * A relay that serves anyone says so on the DHT: it provides RELAY_KEY once its DHT has peers
 * (kad-dht republishes provider records on its own before they expire), retrying until it has.
 */
export interface RelayAdvertiserEvents {
  /** The relay was stored as a provider of RELAY_KEY: when (ms since the epoch). */
  advertised: CustomEvent<number>
}

export class RelayAdvertiser extends TypedEventEmitter<RelayAdvertiserEvents> {
  private timer?: ReturnType<typeof setTimeout>
  private controller?: AbortController
  private delay = 1000
  /** When the relay was last stored as a provider, if it has been. */
  advertisedAt?: number

  constructor (private readonly init: { dht: Pick<KadDHT, 'provide'>, log: Logger }) {
    super()
  }

  start (): void {
    this.controller = new AbortController()
    this.timer = setTimeout(() => { void this.advertise() }, 0)
  }

  stop (): void {
    clearTimeout(this.timer)
    this.controller?.abort()
    this.controller = undefined
  }

  private async advertise (): Promise<void> {
    const controller = this.controller
    if (controller == null) return
    let stored = 0
    try {
      for await (const event of this.init.dht.provide(RELAY_KEY, { signal: AbortSignal.any([controller.signal, AbortSignal.timeout(SEARCH_TIMEOUT_MS * 2)]) })) {
        if (event.name === 'PEER_RESPONSE' && event.messageName === 'ADD_PROVIDER') stored++
      }
    } catch (err: any) {
      if (!controller.signal.aborted) this.init.log('advertising this relay on the DHT failed: %s', err.message)
    }
    if (this.controller !== controller) return
    if (stored > 0) {
      this.advertisedAt = Date.now()
      this.init.log('advertised this relay on the DHT to %d peer(s)', stored)
      this.safeDispatchEvent<number>('advertised', { detail: this.advertisedAt })
      return
    }
    this.timer = setTimeout(() => { void this.advertise() }, this.delay)
    this.delay = Math.min(this.delay * 2, 60_000)
  }
}
