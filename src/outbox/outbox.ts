/**
 * The delivery scheduler. Every message `send` accepted sits on the store's work list until
 * its recipient signs a receipt for it (or refuses it for good). Per peer, the scheduler sends
 * what is due as one batch at a time, waits for the receipt, and on failure backs off
 * exponentially; a peer connecting to us resets its backoff and gets its mail at once.
 */
import { Envelope } from '../dm/pb/dm.js'
import { DELIVERY_ATTEMPT_TIMEOUT_MS, MAX_BATCH_ENVELOPES, MAX_FRAME_BYTES, RETRY_MAX_MS, RETRY_MIN_MS } from '../constants.js'
import { peerIdFromString } from '@libp2p/peer-id'
import type { DirectMessages, DeliveryResult } from '../dm/index.js'
import type { Store } from '../store/store.js'
import type { OutboxRecord } from '../store/types.js'
import type { Logger } from '@libp2p/interface'

/** Leave room in a frame for the protobuf framing around the envelopes. */
const FRAME_BUDGET = MAX_FRAME_BYTES - 4096

export interface OutboxInit {
  store: Store
  dm: DirectMessages
  log: Logger
  /** Called after a record changed state and the change is stored. */
  onChange(record: OutboxRecord): void
  /** @default RETRY_MIN_MS */
  retryMin?: number
  /** @default RETRY_MAX_MS */
  retryMax?: number
}

interface Item {
  record: OutboxRecord
  envelope: Envelope
  size: number
}

interface PeerQueue {
  items: Map<string, Item>
  running: boolean
  /** Set when work arrived while a batch was in flight. */
  again: boolean
  backoff: number
  timer?: ReturnType<typeof setTimeout>
  notBefore: number
}

export class Outbox {
  private readonly init: OutboxInit
  private readonly retryMin: number
  private readonly retryMax: number
  private readonly peers = new Map<string, PeerQueue>()
  private running = false
  private readonly inflight = new Set<Promise<void>>()
  /** Aborts attempts in flight when the node stops; they stay queued for the next start. */
  private shutdown = new AbortController()

  constructor (init: OutboxInit) {
    this.init = init
    this.retryMin = init.retryMin ?? RETRY_MIN_MS
    this.retryMax = init.retryMax ?? RETRY_MAX_MS
  }

  async start (): Promise<void> {
    this.running = true
    this.shutdown = new AbortController()
    for (const record of await this.init.store.pendingOutgoing()) this.add(record)
    for (const peer of this.peers.keys()) this.flush(peer)
  }

  /** Stops scheduling and waits for batches in flight to settle. */
  async stop (): Promise<void> {
    this.running = false
    this.shutdown.abort(new Error('node stopping'))
    for (const queue of this.peers.values()) clearTimeout(queue.timer)
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
    clearTimeout(queue.timer)
    this.flush(peer)
  }

  /**
   * Takes a record off the schedule because something else settled it (a read receipt
   * arrived before the delivery receipt was processed). Returns the scheduled copy, if any.
   */
  settle (peer: string, id: string): OutboxRecord | undefined {
    const item = this.peers.get(peer)?.items.get(id)
    this.peers.get(peer)?.items.delete(id)
    return item?.record
  }

  /** Counts of text messages waiting (queued) and in flight (sent). */
  counts (): { queued: number, sent: number } {
    let queued = 0; let sent = 0
    for (const queue of this.peers.values()) {
      for (const item of queue.items.values()) {
        if (item.record.kind !== 'text') continue
        if (item.record.state === 'sent') sent++
        else queued++
      }
    }
    return { queued, sent }
  }

  private add (record: OutboxRecord): void {
    let queue = this.peers.get(record.to)
    if (queue == null) {
      queue = { items: new Map(), running: false, again: false, backoff: 0, notBefore: 0 }
      this.peers.set(record.to, queue)
    }
    const bytes = Buffer.from(record.envelope, 'base64')
    queue.items.set(record.id, { record, envelope: Envelope.decode(bytes), size: bytes.byteLength })
  }

  private flush (peer: string): void {
    const queue = this.peers.get(peer)
    if (queue == null || !this.running) return
    if (queue.running) {
      queue.again = true
      return
    }
    if (queue.items.size === 0) {
      this.peers.delete(peer)
      return
    }
    const wait = queue.notBefore - Date.now()
    if (wait > 0) {
      clearTimeout(queue.timer)
      queue.timer = setTimeout(() => { this.flush(peer) }, wait)
      return
    }
    queue.running = true
    queue.again = false
    const work = this.sendBatch(peer, queue)
      .catch(err => { this.init.log.error('outbox for %s failed: %s', peer, err.message) })
      .finally(() => {
        this.inflight.delete(work)
        queue.running = false
        if (queue.items.size > 0 || queue.again) this.flush(peer)
        else if (queue.items.size === 0) this.peers.delete(peer)
      })
    this.inflight.add(work)
  }

  private async sendBatch (peer: string, queue: PeerQueue): Promise<void> {
    const batch: Item[] = []
    let size = 0
    for (const item of queue.items.values()) {
      if (batch.length >= MAX_BATCH_ENVELOPES || size + item.size > FRAME_BUDGET) break
      batch.push(item)
      size += item.size
    }
    for (const item of batch) item.record.state = 'sent'
    let result: DeliveryResult
    try {
      const signal = AbortSignal.any([this.shutdown.signal, AbortSignal.timeout(DELIVERY_ATTEMPT_TIMEOUT_MS)])
      result = await this.init.dm.deliver(peerIdFromString(peer), batch.map(i => i.envelope), { signal })
    } catch (err: any) {
      await this.failed(peer, queue, batch, err)
      return
    }
    queue.backoff = 0
    const now = Date.now()
    const byId = new Map(batch.map(i => [i.record.id, i]))
    const changed: OutboxRecord[] = []
    for (const id of result.accepted) {
      const item = byId.get(id)
      if (item == null || !queue.items.has(id)) continue
      byId.delete(id)
      item.record.state = 'delivered'
      item.record.deliveredAt = now
      changed.push(item.record)
    }
    for (const { id, reason } of result.rejected) {
      const item = byId.get(id)
      if (item == null) continue
      byId.delete(id)
      item.record.state = 'failed'
      item.record.lastError = `refused by recipient: ${reason}`
      changed.push(item.record)
    }
    // Anything neither accepted nor refused (settled meanwhile by a read receipt) is left alone.
    await this.init.store.updateOutgoing(changed)
    for (const record of changed) {
      queue.items.delete(record.id)
      this.init.onChange(record)
    }
  }

  private async failed (peer: string, queue: PeerQueue, batch: Item[], err: Error): Promise<void> {
    queue.backoff = Math.min(Math.max(queue.backoff * 2, this.retryMin), this.retryMax)
    // Jitter spreads retries from many senders after a shared outage.
    const delay = Math.round(queue.backoff * (0.8 + Math.random() * 0.4))
    queue.notBefore = Date.now() + delay
    this.init.log('delivery to %s failed (%s); retrying in %d ms', peer, err.message, delay)
    for (const item of batch) {
      item.record.state = 'queued'
      item.record.attempts++
      item.record.lastError = err.message
      item.record.nextAttemptAt = queue.notBefore
    }
    await this.init.store.updateOutgoing(batch.map(i => i.record))
  }
}
