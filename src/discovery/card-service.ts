/**
 * `/pigeon/card/1.0.0`: ask a peer for its current card. The asker opens a stream; the peer
 * writes its card record (an encoded SignedCard with an expiry, as on the DHT) as one
 * unsigned-varint length-prefixed frame, at most MAX_CARD_BYTES, and closes the stream. The
 * asker checks it as a DHT node checks a card record, for the peer it asked.
 *
 * This is how a node finds the card of a peer it can already dial without the DHT: one found by
 * mDNS on the same LAN, or one whose addresses it knows from an earlier connection.
 */
import { lpStream } from '@libp2p/utils'
import { MAX_CARD_BYTES } from '../contacts/card.js'
import { FRAME_OPTIONS } from '../wire/framing.js'
import { onSameNetwork } from '../network/locality.js'
import type { AbortOptions, ComponentLogger, Connection, Logger, PeerId, Startable, Stream } from '@libp2p/interface'
import type { ConnectionManager, Registrar } from '@libp2p/interface-internal'

export const CARD_PROTOCOL = '/pigeon/card/1.0.0'
/** Deadline of one exchange, both sides. */
export const CARD_EXCHANGE_TIMEOUT_MS = 3000
const MAX_INBOUND_STREAMS = 4

const FRAMES = { ...FRAME_OPTIONS, maxDataLength: MAX_CARD_BYTES }

export interface CardServiceComponents {
  registrar: Registrar
  connectionManager: ConnectionManager
  logger: ComponentLogger
}

export interface CardServiceInit {
  /**
   * This node's card record, freshly signed, for a peer on this node's own network or beyond it
   * (then without private and loopback addresses); undefined while there is none to give.
   */
  card(asker: 'same-network' | 'beyond'): Uint8Array | undefined
}

export class CardService implements Startable {
  private readonly components: CardServiceComponents
  private readonly init: CardServiceInit
  private readonly log: Logger
  private started = false

  constructor (components: CardServiceComponents, init: CardServiceInit) {
    this.components = components
    this.init = init
    this.log = components.logger.forComponent('pigeon:card')
    this.serve = this.serve.bind(this)
  }

  readonly [Symbol.toStringTag] = 'pigeon:card'

  async start (): Promise<void> {
    if (this.started) return
    await this.components.registrar.handle(CARD_PROTOCOL, this.serve, { maxInboundStreams: MAX_INBOUND_STREAMS, runOnLimitedConnection: true })
    this.started = true
  }

  async stop (): Promise<void> {
    if (!this.started) return
    this.started = false
    await this.components.registrar.unhandle(CARD_PROTOCOL)
  }

  private async serve (stream: Stream, connection: Connection): Promise<void> {
    try {
      const card = this.init.card(onSameNetwork(connection.remoteAddr) ? 'same-network' : 'beyond')
      if (card == null) {
        stream.abort(new Error('no card to give'))
        return
      }
      await lpStream(stream, FRAMES).write(card, { signal: AbortSignal.timeout(CARD_EXCHANGE_TIMEOUT_MS) })
      await stream.close({ signal: AbortSignal.timeout(CARD_EXCHANGE_TIMEOUT_MS) })
    } catch (err: any) {
      this.log('giving the card failed: %s', err.message)
      stream.abort(err)
    }
  }

  /** The card record `peer` gives when asked (unchecked: the caller checks it). */
  async ask (peer: PeerId, options: AbortOptions = {}): Promise<Uint8Array> {
    const deadline = AbortSignal.timeout(CARD_EXCHANGE_TIMEOUT_MS)
    const signal = options.signal == null ? deadline : AbortSignal.any([options.signal, deadline])
    const stream = await this.components.connectionManager.openStream(peer, CARD_PROTOCOL, { signal, runOnLimitedConnection: true })
    try {
      const frame = await lpStream(stream, FRAMES).read({ signal })
      await stream.close({ signal }).catch(() => { stream.abort(new Error('close failed')) })
      return frame.subarray()
    } catch (err: any) {
      stream.abort(err)
      throw err
    }
  }
}

export function cardService (init: CardServiceInit): (components: CardServiceComponents) => CardService {
  return (components) => new CardService(components, init)
}
