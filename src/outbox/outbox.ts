/**
 * The delivery scheduler. Every message `send` accepted sits on the store's work list until
 * its recipient signs a receipt for it (or refuses it for good). Per peer, the scheduler keeps up
 * to OUTBOX_WINDOW batches in flight on one stream, so it seals the next batch while the
 * receiver opens the current one; on failure it backs off exponentially, and a peer connecting
 * to us resets its backoff and gets its mail at once.
 *
 * Envelopes are sealed here, at batch time, not in `send`: `send` only has to make the message
 * durable, and a retry after a restart simply seals again (same id, so the receiver still drops
 * a second copy).
 */
import { peerIdFromString } from '@libp2p/peer-id'
import {
  DELIVERY_ATTEMPT_TIMEOUT_MS, MAX_FRAME_BYTES, OUTBOX_BATCH_ENVELOPES, OUTBOX_WINDOW, RETRY_MAX_MS, RETRY_MIN_MS, SEAL_OVERHEAD_BYTES
} from '../constants.js'
import { systemClock, type Clock } from './clock.js'
import type { DirectMessages, DeliveryResult } from '../dm/index.js'
import type { Envelope } from '../wire/pb/wire.js'
import type { Store } from '../store/store.js'
import type { OutboxRecord } from '../store/types.js'
import type { Logger } from '@libp2p/interface'

/** Leave room in a frame for the protobuf framing around the envelopes. */
const FRAME_BUDGET = MAX_FRAME_BYTES - 4096

/** What happened when messages were left at an offline recipient's relays. */
export interface DepositReport {
  /** Message id -> relays (peer ids) that now hold it. */
  stored: Map<string, string[]>
  /** Message id -> "relay: reason" for each relay that did not take it. */
  refused: Map<string, string[]>
}

export interface OutboxInit {
  store: Pick<Store, 'pendingOutgoing' | 'updateOutgoing'>
  dm: Pick<DirectMessages, 'deliver'>
  log: Logger
  /**
   * Seals a record for its recipient. It may resolve later: a sealing that changes state (a
   * session's, with scheme 2) writes it before the envelope is handed over, and the envelope is
   * then reused for every retry while the node runs.
   */
  seal(record: OutboxRecord): Envelope | Promise<Envelope>
  /**
   * After direct delivery failed: leave the messages at the recipient's relays. A message stored
   * at one relay or more leaves the schedule (state 'sent', `storedAt` set) until the
   * recipient's receipt comes back.
   */
  fallback?(peer: string, items: Array<{ record: OutboxRecord, envelope: Envelope }>, options: { signal: AbortSignal }): Promise<DepositReport>
  /** Called before each attempt to a peer, e.g. to make its addresses dialable. */
  prepare?(peer: string): Promise<void>
  /** Called after a record changed (state, or a failed attempt's error) and the change is stored. */
  onChange(record: OutboxRecord): void
  /** @default RETRY_MIN_MS */
  retryMin?: number
  /** @default RETRY_MAX_MS */
  retryMax?: number
  /** @default systemClock */
  clock?: Clock
}

interface Item {
  record: OutboxRecord
  /** Sealed on first use and kept for retries while the node runs. */
  envelope?: Envelope
  inflight: boolean
}

interface PeerQueue {
  items: Map<string, Item>
  inflight: number
  backoff: number
  /** No direct attempt before this (backoff after a failure). */
  notBefore: number
  /**
   * The peer is unreachable and its relays took the last batch whole: until the backoff ends,
   * batches go straight to the relays instead of waiting (or dialling a peer known to be away).
   */
  viaRelays: boolean
  /** The retry waiting for the backoff to end, if one is armed. */
  timer?: unknown
}

export class Outbox {
  private readonly init: OutboxInit
  private readonly retryMin: number
  private readonly retryMax: number
  private readonly clock: Clock
  private readonly peers = new Map<string, PeerQueue>()
  private running = false
  private readonly inflight = new Set<Promise<void>>()
  /** Aborts attempts in flight when the node stops; they stay queued for the next start. */
  private shutdown = new AbortController()

  constructor (init: OutboxInit) {
    this.init = init
    this.retryMin = init.retryMin ?? RETRY_MIN_MS
    this.retryMax = init.retryMax ?? RETRY_MAX_MS
    this.clock = init.clock ?? systemClock
  }

  async start (): Promise<void> {
    this.running = true
    this.shutdown = new AbortController()
    for (const record of await this.init.store.pendingOutgoing()) this.add(record)
    for (const peer of this.peers.keys()) this.flush(peer)
  }

  /** Stops scheduling and waits for the aborted attempts to settle. */
  async stop (): Promise<void> {
    this.running = false
    this.shutdown.abort(new Error('node stopping'))
    for (const queue of this.peers.values()) this.disarm(queue)
    await Promise.allSettled([...this.inflight])
    this.peers.clear()
  }

  /** Takes a record already written to the store and schedules it. */
  enqueue (record: OutboxRecord): void {
    this.add(record)
    this.flush(record.to)
  }

  /** The peer is reachable now: forget its backoff and send what waits for it. */
  kick (peer: string): void {
    const queue = this.peers.get(peer)
    if (queue == null) return
    queue.backoff = 0
    queue.notBefore = 0
    queue.viaRelays = false
    this.disarm(queue)
    this.flush(peer)
  }

  /**
   * Takes a record off the schedule because something else settled it (a read receipt
   * arrived before the delivery receipt was processed). Returns the scheduled copy, if any.
   */
  settle (peer: string, id: string): OutboxRecord | undefined {
    const queue = this.peers.get(peer)
    const item = queue?.items.get(id)
    queue?.items.delete(id)
    return item?.record
  }

  private add (record: OutboxRecord): void {
    let queue = this.peers.get(record.to)
    if (queue == null) {
      queue = { items: new Map(), inflight: 0, backoff: 0, notBefore: 0, viaRelays: false }
      this.peers.set(record.to, queue)
    }
    queue.items.set(record.id, { record, inflight: false })
  }

  private flush (peer: string): void {
    const queue = this.peers.get(peer)
    if (queue == null || !this.running) return
    if (queue.items.size === 0) {
      // A queue leaves the map with its retry timer, or stop() could not find the timer to clear.
      if (queue.inflight === 0) {
        this.disarm(queue)
        this.peers.delete(peer)
      }
      return
    }
    const wait = queue.notBefore - this.clock.now()
    if (wait > 0 && !queue.viaRelays) {
      this.disarm(queue)
      queue.timer = this.clock.setTimeout(() => {
        queue.timer = undefined
        this.flush(peer)
      }, wait)
      return
    }
    // Sending now (the backoff is over, or the peer's relays take its mail): no retry is needed.
    this.disarm(queue)
    while (queue.inflight < OUTBOX_WINDOW) {
      const batch = this.nextBatch(queue)
      if (batch.length === 0) break
      queue.inflight++
      const work = this.sendBatch(peer, queue, batch)
        .catch(err => { this.init.log.error('outbox for %s failed: %s', peer, err.message) })
        .finally(() => {
          this.inflight.delete(work)
          queue.inflight--
          this.flush(peer)
        })
      this.inflight.add(work)
    }
  }

  private disarm (queue: PeerQueue): void {
    if (queue.timer == null) return
    this.clock.clearTimeout(queue.timer)
    queue.timer = undefined
  }

  /** The oldest items not in flight, up to the batch and frame limits, marked in flight (sendBatch seals them). */
  private nextBatch (queue: PeerQueue): Item[] {
    const batch: Item[] = []
    let size = 0
    for (const item of queue.items.values()) {
      if (item.inflight) continue
      // A ref is 16 bytes plus its protobuf tag and length.
      const estimate = Buffer.byteLength(item.record.text ?? '') + (item.record.refs?.length ?? 0) * 18 + Math.ceil((item.record.channel?.length ?? 0) * 3 / 4) + SEAL_OVERHEAD_BYTES
      if (batch.length >= OUTBOX_BATCH_ENVELOPES || size + estimate > FRAME_BUDGET) break
      item.inflight = true
      item.record.state = 'sent'
      batch.push(item)
      size += estimate
    }
    return batch
  }

  private async sendBatch (peer: string, queue: PeerQueue, batch: Item[]): Promise<void> {
    try {
      // In order, each at most once while the node runs: a retry sends the same envelope.
      for (const item of batch) item.envelope ??= await this.init.seal(item.record)
    } catch (err: any) {
      // Nothing unsealed can go anywhere: the batch waits for the next attempt.
      await this.failed(peer, queue, batch, err, true)
      return
    }
    if (queue.viaRelays && this.clock.now() < queue.notBefore) {
      // Known to be away, and its relays are taking mail: no point dialling it again yet.
      await this.failed(peer, queue, batch, new Error('peer unreachable'), false)
      return
    }
    let result: DeliveryResult
    try {
      await this.init.prepare?.(peer)
      const signal = AbortSignal.any([this.shutdown.signal, AbortSignal.timeout(DELIVERY_ATTEMPT_TIMEOUT_MS)])
      result = await this.init.dm.deliver(peerIdFromString(peer), batch.map(i => i.envelope as Envelope), { signal })
    } catch (err: any) {
      await this.failed(peer, queue, batch, err, true)
      return
    }
    queue.backoff = 0
    queue.viaRelays = false
    const now = this.clock.now()
    const byId = new Map(batch.map(i => [i.record.id, i]))
    const changed: OutboxRecord[] = []
    for (const { id, reason } of [...result.accepted.map(id => ({ id, reason: undefined })), ...result.rejected]) {
      const item = byId.get(id)
      // Not on the schedule any more: a read receipt settled it meanwhile.
      if (item == null || queue.items.get(id) !== item) continue
      if (reason == null) {
        item.record.state = 'delivered'
        item.record.deliveredAt = now
      } else {
        item.record.state = 'failed'
        item.record.lastError = `refused by recipient: ${reason}`
      }
      changed.push(item.record)
    }
    await this.init.store.updateOutgoing(changed)
    for (const record of changed) {
      queue.items.delete(record.id)
      this.init.onChange(record)
    }
  }

  /** After a failed direct attempt (`direct`), or instead of one: leave the batch at the peer's relays. */
  private async failed (peer: string, queue: PeerQueue, batch: Item[], err: Error, direct: boolean): Promise<void> {
    // Two batches in flight usually fail together: back off once for both.
    if (direct && this.clock.now() >= queue.notBefore) {
      queue.backoff = Math.min(Math.max(queue.backoff * 2, this.retryMin), this.retryMax)
      // Jitter spreads retries from many senders after a shared outage.
      queue.notBefore = this.clock.now() + Math.round(queue.backoff * (0.8 + Math.random() * 0.4))
    }
    this.init.log('delivery of %d message(s) to %s failed (%s); retrying in %d ms', batch.length, peer, err.message, queue.notBefore - this.clock.now())
    let report: DepositReport = { stored: new Map(), refused: new Map() }
    const sealed = batch.every(i => i.envelope != null)
    if (this.running && this.init.fallback != null && sealed) {
      try {
        report = await this.init.fallback(peer, batch.map(i => ({ record: i.record, envelope: i.envelope as Envelope })), { signal: this.shutdown.signal })
      } catch (e: any) {
        this.init.log('leaving messages for %s at its relays failed: %s', peer, e.message)
      }
    }
    queue.viaRelays = batch.every(item => (report.stored.get(item.record.id)?.length ?? 0) > 0)
    const parked: OutboxRecord[] = []
    for (const item of batch) {
      item.inflight = false
      item.record.attempts++
      const relays = report.stored.get(item.record.id)
      const refusals = report.refused.get(item.record.id)
      if (relays != null && relays.length > 0 && queue.items.get(item.record.id) === item) {
        // Held by relays now: off the schedule until the recipient's receipt (or a restart) comes.
        // Nothing acknowledges a receipt, so one handed to the relays is done.
        item.record.state = item.record.kind === 'text' ? 'sent' : 'delivered'
        if (item.record.kind !== 'text') item.record.deliveredAt = this.clock.now()
        item.record.storedAt = [...new Set([...(item.record.storedAt ?? []), ...relays])]
        item.record.lastError = refusals == null ? undefined : `direct: ${err.message}; refused by ${refusals.join(', ')}`
        queue.items.delete(item.record.id)
        parked.push(item.record)
      } else {
        item.record.state = 'queued'
        item.record.lastError = refusals == null ? err.message : `direct: ${err.message}; relays: ${refusals.join(', ')}`
        item.record.nextAttemptAt = queue.notBefore
      }
    }
    if (!this.running) return
    await this.init.store.updateOutgoing(batch.map(i => i.record), { durable: parked.length > 0 })
    for (const item of batch) this.init.onChange(item.record)
  }

  /** Scheduled records' states by id: they are fresher in memory than in the store. */
  liveStates (): Map<string, OutboxRecord['state']> {
    const states = new Map<string, OutboxRecord['state']>()
    for (const queue of this.peers.values()) {
      for (const [id, item] of queue.items) states.set(id, item.inflight ? 'sent' : 'queued')
    }
    return states
  }
}
