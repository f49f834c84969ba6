/**
 * Discovery as the node sees it: publishing its own card on the DHT, finding other peers' cards
 * by peer id, and what the DHT refused. Absent DHT (mode 'off'): nothing is published and every
 * lookup finds nothing.
 */
import { CardPublisher, type CardSource, type PublishState } from './card-publisher.js'
import { lookupCard, type LookupResult, type LookupStats } from './card-lookup.js'
import { cardRecordKey, type CardRecords, type CardRefusal } from './card-records.js'
import type { CardService } from './card-service.js'
import type { KadDHT } from './dht.js'
import type { Logger, PeerId } from '@libp2p/interface'

export interface DiscoveryInit {
  /** The DHT service, or undefined when the DHT is off. */
  dht?: KadDHT & { routingTable?: { size: number } }
  records: CardRecords
  /** Asks a peer it can dial for its card (/pigeon/card/1.0.0). */
  cards: Pick<CardService, 'ask'>
  /** Whether this node knows how to reach a peer (a connection, or addresses in the peer store). */
  reachable(peer: PeerId): Promise<boolean>
  self: PeerId
  source: CardSource
  log: Logger
}

export interface DiscoveryStatus {
  /** 'server', 'client', or 'off'. */
  mode: 'server' | 'client' | 'off'
  /** DHT servers in the routing table. */
  routingTable: number
  /** This node's card on the DHT: when it was last stored, and by how many peers. */
  published: PublishState | null
  /** Records refused since start, by reason. */
  refused: Record<CardRefusal, number>
}

export class Discovery {
  private readonly init: DiscoveryInit
  /** Publishes this node's card; absent when the DHT is off. Its 'published' events say when. */
  readonly publisher?: CardPublisher

  constructor (init: DiscoveryInit) {
    this.init = init
    if (init.dht != null) this.publisher = new CardPublisher({ dht: init.dht, self: init.self, source: init.source, log: init.log })
  }

  start (): void {
    this.publisher?.start()
  }

  stop (): void {
    this.publisher?.stop()
  }

  /** This node's card changed: republish it. */
  changed (): void {
    this.publisher?.changed()
  }

  /** Whether a lookup can ask anyone now (the DHT is on and knows at least one server). */
  ready (): boolean {
    return (this.init.dht?.routingTable?.size ?? 0) > 0
  }

  /**
   * The peer's current card, or undefined when none was found in time: asked of the peer itself
   * when this node can already reach it (a LAN peer found by mDNS, a peer seen before), else
   * looked up on the DHT (only the DHT with `via: 'dht'`). Either way it is checked as a card
   * record for that peer.
   */
  async find (peer: PeerId, options: { signal: AbortSignal, stats?: LookupStats, via?: 'any' | 'dht' }): Promise<LookupResult | undefined> {
    if (options.via !== 'dht' && await this.init.reachable(peer)) {
      try {
        const bytes = await this.init.cards.ask(peer, { signal: options.signal })
        return { card: this.init.records.check(cardRecordKey(peer), bytes), bytes }
      } catch (err: any) {
        this.init.log('asking %p for its card failed: %s', peer, err.message)
      }
    }
    if (this.init.dht == null) return undefined
    return await lookupCard(this.init.dht, peer, options)
  }

  status (): DiscoveryStatus {
    return {
      mode: this.init.dht?.getMode() ?? 'off',
      routingTable: this.init.dht?.routingTable?.size ?? 0,
      published: this.publisher?.published ?? null,
      refused: { ...this.init.records.refused }
    }
  }
}
