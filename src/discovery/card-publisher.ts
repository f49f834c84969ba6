/**
 * Keeps this node's card record current on the DHT: published once the DHT has peers, again
 * within a second of a change of addresses or home relays, and every REPUBLISH_MS before the
 * record expires. A failed attempt is retried with a growing delay; stop() cancels everything.
 */
import { TypedEventEmitter } from 'main-event'
import { cardRecordKey } from './card-records.js'
import type { KadDHT } from './dht.js'
import type { Logger, PeerId } from '@libp2p/interface'

/** Republish well inside the record's 24 h validity. */
export const REPUBLISH_MS = 6 * 60 * 60_000
/** A burst of changes (addresses appearing one by one at start) is published once. */
export const CHANGE_DEBOUNCE_MS = 1000
/** One attempt's deadline; it includes waiting for the first DHT peer. */
export const PUBLISH_TIMEOUT_MS = 30_000
const RETRY_MIN_MS = 1000
const RETRY_MAX_MS = 60_000

/** What the publisher publishes: a freshly signed card with an expiry, and its timestamp. */
export interface CardSource {
  cardRecord(): { bytes: Uint8Array, timestamp: number }
}

export interface CardPublisherInit {
  dht: Pick<KadDHT, 'put'>
  self: PeerId
  source: CardSource
  log: Logger
}

export interface PublishState {
  /** When the card was last stored by at least one DHT peer, ms since the epoch. */
  at: number
  /** The timestamp (sequence number) of the card stored then. */
  card: number
  /** How many DHT peers stored it. */
  peers: number
}

export interface CardPublisherEvents {
  /** The card was stored by at least one DHT peer. */
  published: CustomEvent<PublishState>
}

export class CardPublisher extends TypedEventEmitter<CardPublisherEvents> {
  private readonly init: CardPublisherInit
  private timer?: ReturnType<typeof setTimeout>
  private controller?: AbortController
  private running = false
  private inFlight = false
  private dirty = false
  private retry = RETRY_MIN_MS
  /** The last successful publication, if any. */
  published?: PublishState
  /** Attempts that stored the card nowhere, since start. */
  failures = 0

  constructor (init: CardPublisherInit) {
    super()
    this.init = init
  }

  start (): void {
    this.running = true
    this.schedule(0)
  }

  /** The card changed (addresses, home relays): publish it soon. */
  changed (): void {
    if (!this.running) return
    if (this.inFlight) this.dirty = true
    else this.schedule(CHANGE_DEBOUNCE_MS)
  }

  stop (): void {
    this.running = false
    clearTimeout(this.timer)
    this.timer = undefined
    this.controller?.abort()
  }

  private schedule (delay: number): void {
    clearTimeout(this.timer)
    this.timer = setTimeout(() => {
      this.timer = undefined
      void this.publish()
    }, delay)
  }

  private async publish (): Promise<void> {
    if (!this.running) return
    this.inFlight = true
    this.dirty = false
    this.controller = new AbortController()
    const signal = AbortSignal.any([this.controller.signal, AbortSignal.timeout(PUBLISH_TIMEOUT_MS)])
    let stored = 0
    const record = this.init.source.cardRecord()
    try {
      for await (const event of this.init.dht.put(cardRecordKey(this.init.self), record.bytes, { signal })) {
        if (event.name === 'PEER_RESPONSE' && event.messageName === 'PUT_VALUE') stored++
      }
    } catch (err: any) {
      if (this.running) this.init.log('publishing the card failed: %s', err.message)
    } finally {
      this.inFlight = false
      this.controller = undefined
    }
    if (!this.running) return
    if (stored > 0) {
      this.published = { at: Date.now(), card: record.timestamp, peers: stored }
      this.safeDispatchEvent<PublishState>('published', { detail: { ...this.published } })
      this.retry = RETRY_MIN_MS
      this.init.log('card published to %d DHT peer(s)', stored)
      this.schedule(this.dirty ? CHANGE_DEBOUNCE_MS : REPUBLISH_MS)
    } else {
      this.failures++
      this.schedule(this.retry)
      this.retry = Math.min(this.retry * 2, RETRY_MAX_MS)
    }
  }
}
