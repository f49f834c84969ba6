/**
 * The pigeon side of the mailbox case: a relay, a sender (alice) and a recipient (bob) that is
 * offline while alice writes to it, each a real node with its own LevelDB, driven through the
 * public API only (relay, addRelay, addContact, send, the 'receipt' and 'message' events, status).
 * Each role lives in its own worker process; run.ts (via mailbox-case.ts) sequences them.
 */
import { mkdtemp, rm } from 'node:fs/promises'
import { join } from 'node:path'
import { race } from './deadline.js'
import { createNode, type Durability, type InboxRecord, type OutboxRecord, type PigeonInit, type PigeonNode, type ReceiptEvent, type RelayLimits } from '../src/index.js'
import type { AbortOptions } from '@libp2p/interface'

const LISTEN = ['/ip4/127.0.0.1/tcp/0']
const RECIPIENT = 'bob'
const SENDER = 'alice'

/** What the sender's outbox may do between retries; recorded in the results. */
export interface RetryPolicy { retryMin?: number, retryMax?: number }

async function startNode (dataDir: string, init: Partial<PigeonInit>): Promise<PigeonNode> {
  const node = await createNode({ dataDir, listen: LISTEN, ...init })
  try {
    await node.start()
  } catch (err) {
    await node.stop().catch(() => {})
    throw err
  }
  return node
}

/** A temp dir and a node on it; stop() removes both. */
class Owned {
  protected node?: PigeonNode
  protected readonly dataDir: string

  protected constructor (dataDir: string) {
    this.dataDir = dataDir
  }

  async stop (): Promise<void> {
    const node = this.node
    this.node = undefined
    try {
      await node?.stop()
    } finally {
      await rm(this.dataDir, { recursive: true, force: true })
    }
  }

  protected get running (): PigeonNode {
    if (this.node == null) throw new Error('node not running')
    return this.node
  }
}

export interface RelayCounts {
  /** Envelopes held now. */
  messages: number
  deposited: number
  fetched: number
  deleted: number
  refused: Record<string, number>
}

export class BenchRelay extends Owned {
  static async start (root: string, durability: Durability, limits: RelayLimits): Promise<BenchRelay> {
    const relay = new BenchRelay(await mkdtemp(join(root, 'relay-')))
    try {
      relay.node = await startNode(relay.dataDir, { durability, relay: limits })
      return relay
    } catch (err) {
      await relay.stop()
      throw err
    }
  }

  card (): string {
    return this.running.card()
  }

  async counts (): Promise<RelayCounts> {
    const r = (await this.running.status()).relay
    if (r == null) throw new Error('the relay node is not running as a relay')
    return { messages: r.messages, deposited: r.deposited, fetched: r.fetched, deleted: r.deleted, refused: r.refused }
  }
}

export interface DepositResult {
  /** First send to the last 'stored' receipt. */
  ms: number
  /** First send until every `send` had resolved (each message durably queued). */
  acceptMs: number
}

/**
 * Alice: sends to bob while bob is offline, so her outbox leaves everything at bob's home relay,
 * then watches the delivery receipts come back once bob drains his mailbox.
 */
export class BenchSender extends Owned {
  private readonly ids = new Set<string>()
  private readonly stored = new Set<string>()
  private readonly delivered = new Set<string>()
  /** Receipts that arrived before their send() resolved (kept until the id is known). */
  private readonly early = new Map<string, ReceiptEvent['state']>()
  private failed?: string
  private lastError?: string
  private change?: () => void
  private armedAt = 0

  static async start (root: string, durability: Durability, retry: RetryPolicy): Promise<BenchSender> {
    const sender = new BenchSender(await mkdtemp(join(root, 'alice-')))
    try {
      const node = sender.node = await startNode(sender.dataDir, { durability, ...retry })
      node.addEventListener('receipt', (evt) => { sender.onReceipt(evt.detail) })
      node.addEventListener('outbox', (evt) => { sender.onOutbox(evt.detail) })
      return sender
    } catch (err) {
      await sender.stop()
      throw err
    }
  }

  card (): string {
    return this.running.card()
  }

  async addRecipient (card: string): Promise<void> {
    await this.running.addContact(RECIPIENT, card)
  }

  private onReceipt (r: ReceiptEvent): void {
    if (!this.ids.has(r.id)) {
      this.early.set(r.id, r.state)
      return
    }
    this.record(r.id, r.state, r.reason)
  }

  private record (id: string, state: ReceiptEvent['state'], reason?: string): void {
    if (state === 'stored') this.stored.add(id)
    else if (state === 'delivered' || state === 'read') this.delivered.add(id)
    else if (state === 'failed') this.failed ??= `message ${id} failed: ${reason ?? 'no reason'}`
    this.change?.()
  }

  private onOutbox (r: OutboxRecord): void {
    if (r.lastError != null) this.lastError = r.lastError
  }

  /** Resolves when `done()` holds, checked after every receipt; fails on a failed message or the deadline. */
  private async until (done: () => boolean, what: () => string, options: AbortOptions): Promise<void> {
    const { promise, resolve, reject } = Promise.withResolvers<void>()
    const check = (): void => {
      if (this.failed != null) reject(new Error(this.failed))
      else if (done()) resolve()
    }
    this.change = check
    try {
      check()
      await race(promise, options.signal)
    } catch (err: any) {
      throw new Error(`${err.message} (${what()}; last outbox error: ${this.lastError ?? 'none'})`)
    } finally {
      this.change = undefined
    }
  }

  /** Sends every text to offline bob and resolves when the relay holds them all. */
  async deposit (texts: string[], options: AbortOptions): Promise<DepositResult> {
    const node = this.running
    const start = performance.now()
    const sends = Promise.all(texts.map(async t => {
      const id = await node.send(RECIPIENT, t)
      this.ids.add(id)
      const state = this.early.get(id)
      if (state != null) {
        this.early.delete(id)
        this.record(id, state)
      }
      return id
    }))
    await race(sends, options.signal)
    const acceptMs = performance.now() - start
    await this.until(() => this.stored.size === texts.length, () => `${this.stored.size} of ${texts.length} stored`, options)
    return { ms: performance.now() - start, acceptMs }
  }

  /** Starts the clock for delivery receipts; call right before bob comes back. */
  armDelivered (): void {
    this.armedAt = performance.now()
  }

  /** Ms from armDelivered() until every message sent is 'delivered'. */
  async awaitDelivered (options: AbortOptions): Promise<number> {
    const n = this.ids.size
    await this.until(() => this.delivered.size === n, () => `${this.delivered.size} of ${n} delivered`, options)
    return performance.now() - this.armedAt
  }
}

export interface DrainResult {
  /** From creating the node on its data dir until the inbox holds every message. */
  ms: number
  /** From creating the node until the first message was stored. */
  firstMs: number
  /** Distinct messages stored. */
  received: number
  /** 'message' events for an id already seen: must be 0. */
  duplicates: number
  /** Inbox size as the store reports it once the drain is complete. */
  inboxTotal: number
}

/** Bob: a home relay, a contact (alice), offline while she writes, then back to drain. */
export class BenchRecipient extends Owned {
  private durability: Durability = 'fsync'

  static async start (root: string, durability: Durability, relayCard: string): Promise<BenchRecipient> {
    const recipient = new BenchRecipient(await mkdtemp(join(root, 'bob-')))
    recipient.durability = durability
    try {
      recipient.node = await startNode(recipient.dataDir, { durability })
      await recipient.node.addRelay(relayCard)
      return recipient
    } catch (err) {
      await recipient.stop()
      throw err
    }
  }

  card (): string {
    return this.running.card()
  }

  /** Learns alice's card (so receipts can reach her), then stops; the data dir stays. */
  async goOffline (senderCard: string): Promise<void> {
    await this.running.addContact(SENDER, senderCard)
    const node = this.running
    this.node = undefined
    await node.stop()
  }

  /** Comes back on the same data dir and waits until `count` messages are in the inbox. */
  async drain (count: number, options: AbortOptions): Promise<DrainResult> {
    if (this.node != null) throw new Error('bob is already online')
    const start = performance.now()
    let firstMs = -1
    const seen = new Set<string>()
    let duplicates = 0
    const { promise: done, resolve } = Promise.withResolvers<void>()
    if (count === 0) resolve()
    const node = await createNode({ dataDir: this.dataDir, listen: LISTEN, durability: this.durability })
    this.node = node
    node.addEventListener('message', (evt: CustomEvent<InboxRecord>) => {
      if (firstMs < 0) firstMs = performance.now() - start
      const key = `${evt.detail.from}/${evt.detail.id}`
      if (seen.has(key)) duplicates++
      seen.add(key)
      if (seen.size === count) resolve()
    })
    await node.start()
    try {
      await race(done, options.signal)
    } catch (err: any) {
      throw new Error(`bob drained ${seen.size} of ${count} messages: ${err.message}`)
    }
    const ms = performance.now() - start
    const { total } = (await node.status()).inbox
    return { ms, firstMs, received: seen.size, duplicates, inboxTotal: total }
  }
}
