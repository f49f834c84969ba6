/**
 * Direct messages as the node sees them: accepting a message (`send`), sealing it for the
 * outbox, receiving messages and receipts, read receipts, and waiting for a message's state.
 * PigeonNode composes it as it composes channels; the dm service (/pigeon/dm/1.0.0), the outbox
 * and the home relays' drain are its transports.
 */
import { randomBytes } from 'node:crypto'
import { peerIdFromString } from '@libp2p/peer-id'
import { Body, type Envelope } from '../wire/pb/wire.js'
import { BODY_KIND } from '../wire/constants.js'
import { seal, MAX_RECEIPT_REFS, type RejectReason } from '../crypto/envelope.js'
import { peerKeys, type LocalKeys } from '../crypto/keys.js'
import { MAX_TEXT_BYTES, MESSAGE_ID_LENGTH } from '../constants.js'
import { DeliveryFailedError, EnvelopeRejectedError, InvalidMessageError, MessageNotFoundError, TimeoutError, UnknownRecipientError } from '../errors.js'
import { idFromHex, idToHex } from '../ids.js'
import { Outbox, type DepositReport } from '../outbox/outbox.js'
import { DeliveryLatency, type LatencySummary } from '../outbox/latency.js'
import { openIncoming } from './incoming.js'
import type { Clock } from '../outbox/clock.js'
import type { DirectMessages, EnvelopeReceiver, IncomingMessage, ReceivedBatch } from './index.js'
import type { InboxQuery, Store } from '../store/store.js'
import type { InboxRecord, OutboxRecord, OutboxState } from '../store/types.js'
import type { AbortOptions, Logger, PeerId } from '@libp2p/interface'

export type ReceiptState = 'stored' | 'delivered' | 'read' | 'failed'

export interface ReceiptEvent {
  id: string
  to: string
  state: ReceiptState
  at: number
  /** For 'failed': why. */
  reason?: string
  /** For 'stored': the relays (peer ids) that hold the message. */
  relays?: string[]
}

/** Where the messenger says what happened (the node turns these into its events). */
export interface MessageEvents {
  /** A new text message is stored. */
  message(record: InboxRecord): void
  /** A text message this node sent was stored at relays, delivered, read, or failed. */
  receipt(event: ReceiptEvent): void
  /** Any change to an outbox record, once stored. */
  outbox(record: OutboxRecord): void
}

/** Who is a contact, and names to peer ids. */
export interface MessengerContacts {
  isContact(peerId: string): boolean
  resolve(nameOrPeerId: string): PeerId
}

/** Where peers are: learnt from their messages, made dialable before an attempt. */
export interface MessengerDirectory {
  learn(sender: string, body: Body): Promise<void>
  prepare(peer: string): Promise<void>
}

/** Channel key grants that arrive as direct messages. */
export interface KeyGrants {
  applyGrant(sender: string, grant: Uint8Array): Promise<void>
}

/** This node's relays and addresses, as every sealed body carries them. */
export interface OwnWhereabouts {
  whereabouts(): { relays: Array<Uint8Array<ArrayBuffer>>, addrs: Array<Uint8Array<ArrayBuffer>> }
}

/** After a failed direct attempt: leave the messages at the recipient's relays. */
export interface RelayFallback {
  deposit(peer: string, items: Array<{ record: OutboxRecord, envelope: Envelope }>, options: { signal: AbortSignal }): Promise<DepositReport>
}

export interface MessengerInit {
  store: Store
  dm: Pick<DirectMessages, 'deliver'>
  keys: LocalKeys
  contacts: MessengerContacts
  directory: MessengerDirectory
  grants: KeyGrants
  whereabouts: OwnWhereabouts
  relays: RelayFallback
  events: MessageEvents
  log: Logger
  /** Whether reading messages sends read receipts. */
  readReceipts: boolean
  retryMin?: number
  retryMax?: number
  clock?: Clock
}

const OUTBOX_BODY_KIND: Record<OutboxRecord['kind'], number> = {
  text: BODY_KIND.TEXT,
  'read-receipt': BODY_KIND.READ_RECEIPT,
  'delivery-receipt': BODY_KIND.DELIVERY_RECEIPT,
  'channel-key': BODY_KIND.CHANNEL_KEY,
  whereabouts: BODY_KIND.WHEREABOUTS
}

/** What can be queued for a peer: a text, a receipt, a channel key grant, or whereabouts. */
export type OutgoingContent = { text: string } | { kind: 'read-receipt' | 'delivery-receipt', refs: string[] } | { kind: 'channel-key', channel: string } | { kind: 'whereabouts' }

function newMessageId (): Uint8Array {
  return new Uint8Array(randomBytes(MESSAGE_ID_LENGTH))
}

export class Messenger implements EnvelopeReceiver {
  private readonly init: MessengerInit
  private readonly outbox: Outbox
  /** waitFor callbacks by message id. */
  private readonly waiters = new Map<string, Set<(record: OutboxRecord) => void>>()
  private readonly latency = new DeliveryLatency()
  /** The batch being opened and persisted: the next waits for it. */
  private receiving: Promise<unknown> = Promise.resolve()
  readonly readReceipts: boolean

  constructor (init: MessengerInit) {
    this.init = init
    this.readReceipts = init.readReceipts
    this.outbox = new Outbox({
      store: init.store,
      dm: init.dm,
      log: init.log,
      retryMin: init.retryMin,
      retryMax: init.retryMax,
      clock: init.clock,
      seal: (record) => this.seal(record),
      fallback: async (peer, items, options) => await init.relays.deposit(peer, items, options),
      prepare: async (peer) => { await init.directory.prepare(peer) },
      onChange: (record) => { this.receiptChanged(record) }
    })
  }

  async start (): Promise<void> {
    await this.outbox.start()
  }

  async stop (): Promise<void> {
    await this.outbox.stop()
  }

  /** Try the peer's queue now (it connected, or became a contact). */
  kick (peer: string): void {
    this.outbox.kick(peer)
  }

  /** Outbox records by state, those on the schedule counted as the scheduler sees them. */
  async outboxCounts (): Promise<Record<OutboxState, number>> {
    return await this.init.store.countOutgoingByState(this.outbox.liveStates())
  }

  /** Send-to-delivered latency over the last minutes. */
  delivery (): LatencySummary {
    return this.latency.summary()
  }

  /**
   * Accepts a message for delivery: it is durably queued before this returns, then sealed, delivered,
   * retried and kept until the recipient's signed receipt arrives.
   *
   * @param to a contact name or a peer id
   * @returns the message id (32 hex characters)
   */
  async send (to: string, text: string): Promise<string> {
    if (typeof text !== 'string' || text.length === 0) throw new InvalidMessageError('message text is empty')
    if (Buffer.byteLength(text) > MAX_TEXT_BYTES) throw new InvalidMessageError(`message text is larger than ${MAX_TEXT_BYTES} bytes`)
    const recipient = this.init.contacts.resolve(to)
    return await this.enqueue(recipient, { text })
  }

  /** Queues something for `recipient` durably and returns its id. */
  async enqueue (recipient: PeerId, content: OutgoingContent): Promise<string> {
    if (peerKeys(recipient) == null) throw new UnknownRecipientError(`${recipient} is not an Ed25519 peer id`)
    const now = Date.now()
    const record: OutboxRecord = {
      id: idToHex(newMessageId()),
      to: recipient.toString(),
      kind: 'text',
      ...content,
      createdAt: now,
      state: 'queued',
      attempts: 0,
      nextAttemptAt: now
    }
    await this.init.store.addOutgoing(record)
    this.outbox.enqueue(record)
    return record.id
  }

  /** Seals an outbox record for its recipient (the outbox calls this at batch time). */
  private seal (record: OutboxRecord): Envelope {
    const keys = peerKeys(peerIdFromString(record.to))
    if (keys == null) throw new UnknownRecipientError(`${record.to} is not an Ed25519 peer id`)
    const body: Body = {
      kind: OUTBOX_BODY_KIND[record.kind],
      timestamp: BigInt(record.createdAt),
      text: record.text ?? '',
      refs: (record.refs ?? []).map(idFromHex),
      channel: record.channel != null ? new Uint8Array(Buffer.from(record.channel, 'base64')) : new Uint8Array(0),
      // Where to answer (directly, or while this node is offline), for recipients without its card.
      ...this.init.whereabouts.whereabouts()
    }
    return seal(this.init.keys, keys, idFromHex(record.id), Body.encode(body))
  }

  /** The outbox record of a message this node sent. */
  async message (id: string): Promise<OutboxRecord> {
    const record = await this.init.store.getOutgoing(id)
    if (record == null) throw new MessageNotFoundError(`no sent message with id ${id}`)
    return record
  }

  /** Sent messages, oldest first (read receipts excluded unless `includeReceipts`). */
  async sent (options: { to?: string, limit?: number, includeReceipts?: boolean } = {}): Promise<OutboxRecord[]> {
    const to = options.to != null ? this.init.contacts.resolve(options.to).toString() : undefined
    const records = await this.init.store.listOutgoing({ to })
    const shown = options.includeReceipts === true ? records : records.filter(r => r.kind === 'text')
    return options.limit != null ? shown.slice(Math.max(shown.length - options.limit, 0)) : shown
  }

  /**
   * Resolves when the message reaches `state` ('delivered' also accepts 'read'), rejects with
   * TimeoutError when the signal fires first and with the reason when delivery failed for good.
   */
  async waitFor (id: string, state: 'delivered' | 'read' = 'delivered', options: AbortOptions = {}): Promise<OutboxRecord> {
    const reached = (r: OutboxRecord): boolean => r.state === state || (state === 'delivered' && r.state === 'read')
    const { promise, resolve, reject } = Promise.withResolvers<OutboxRecord>()
    // Settled before it is awaited when the signal fires during the store read below.
    promise.catch(() => {})
    const check = (record: OutboxRecord): void => {
      if (reached(record)) resolve(record)
      else if (record.state === 'failed') reject(new DeliveryFailedError(`message ${id} was not delivered: ${record.lastError ?? 'refused'}`))
    }
    const onAbort = (): void => {
      const reason = options.signal?.reason
      reject(reason?.name === 'TimeoutError' || reason == null ? new TimeoutError(`message ${id} was not ${state} in time`) : reason)
    }
    // Listen before reading the store, so a change between the two cannot be missed.
    const waiters = this.waiters.get(id) ?? new Set()
    this.waiters.set(id, waiters.add(check))
    options.signal?.addEventListener('abort', onAbort, { once: true })
    try {
      if (options.signal?.aborted === true) onAbort()
      check(await this.message(id))
      return await promise
    } finally {
      waiters.delete(check)
      if (waiters.size === 0) this.waiters.delete(id)
      options.signal?.removeEventListener('abort', onAbort)
    }
  }

  /** The outbox changed a record: events, waiters, latency. */
  private receiptChanged (record: OutboxRecord): void {
    this.init.events.outbox({ ...record })
    if (record.kind !== 'text') return
    for (const waiter of this.waiters.get(record.id) ?? []) waiter(record)
    if (record.state === 'sent' && record.storedAt != null) {
      this.init.events.receipt({ id: record.id, to: record.to, state: 'stored', at: Date.now(), relays: record.storedAt })
      return
    }
    if (record.state !== 'delivered' && record.state !== 'read' && record.state !== 'failed') return
    if (record.state === 'delivered') this.latency.add(Date.now() - record.createdAt)
    const at = record.state === 'read' ? record.readAt : record.deliveredAt
    this.init.events.receipt({ id: record.id, to: record.to, state: record.state, at: at ?? Date.now(), ...(record.state === 'failed' ? { reason: record.lastError } : {}) })
  }

  // --- receiving ------------------------------------------------------------

  /** Called by the dm service with verified messages; resolves once they are durable. */
  /**
   * Opens envelopes addressed to this node (delivered by `from` itself, or fetched from a relay
   * when `from` is absent) and persists the good ones, grouped by sender, before resolving.
   * Batches are taken one at a time: opening and persisting are one step for each.
   */
  async receive (envelopes: Envelope[], from?: PeerId): Promise<ReceivedBatch> {
    const turn = this.receiving.then(async () => await this.openAndPersist(envelopes, from))
    this.receiving = turn.catch(() => {})
    return await turn
  }

  private async openAndPersist (envelopes: Envelope[], from?: PeerId): Promise<ReceivedBatch> {
    const accepted: IncomingMessage[] = []
    const rejected: ReceivedBatch['rejected'] = []
    const bySender = new Map<string, { peer: PeerId, messages: IncomingMessage[] }>()
    for (const env of envelopes) {
      try {
        const message = openIncoming(this.init.keys, env)
        // Direct delivery is by the sender itself; mail relayed by others comes over the mailbox protocol.
        if (from != null && !message.sender.equals(from)) throw new EnvelopeRejectedError('sender-mismatch', 'envelope sealed by a peer other than the one delivering it')
        const entry = bySender.get(message.sender.toString()) ?? { peer: message.sender, messages: [] }
        entry.messages.push(message)
        bySender.set(message.sender.toString(), entry)
        accepted.push(message)
      } catch (err: any) {
        const reason: RejectReason = err instanceof EnvelopeRejectedError ? err.reason as RejectReason : 'malformed'
        this.init.log('rejected envelope %s from %s: %s (%s)', idToHex(env.id), from?.toString() ?? 'a relay', reason, err.message)
        rejected.push({ id: env.id, reason })
      }
    }
    for (const { peer, messages } of bySender.values()) await this.received(messages, peer)
    return { accepted, rejected }
  }

  private async received (messages: IncomingMessage[], from: PeerId): Promise<void> {
    const sender = from.toString()
    const now = Date.now()
    const texts: Array<Omit<InboxRecord, 'seq'>> = []
    const reads: IncomingMessage[] = []
    for (const m of messages) {
      if (m.body.kind === BODY_KIND.TEXT) {
        texts.push({
          id: idToHex(m.id),
          from: sender,
          text: m.body.text,
          sentAt: Number(m.body.timestamp),
          receivedAt: now,
          request: !this.init.contacts.isContact(sender),
          read: false
        })
      } else {
        reads.push(m)
      }
    }
    const added = await this.init.store.addIncoming(texts)
    for (const m of reads) {
      // A whereabouts body has nothing but what every body has: learnt below.
      if (m.body.kind === BODY_KIND.WHEREABOUTS) continue
      if (m.body.kind === BODY_KIND.CHANNEL_KEY) await this.init.grants.applyGrant(sender, m.body.channel)
      else await this.applyReceipt(sender, m)
    }
    const latest = messages.at(-1)
    if (latest != null) await this.init.directory.learn(sender, latest.body)
    if (process.env.PIGEON_FAULT === 'crash-before-ack' && added.length > 0) {
      // Fault injection for the crash tests: stored, not yet acknowledged. See docs/architecture.md.
      process.kill(process.pid, 'SIGKILL')
    }
    for (const record of added) this.init.events.message(record)
  }

  /** A read receipt, or a delivery receipt for mail that went through a relay. */
  private async applyReceipt (sender: string, m: IncomingMessage): Promise<void> {
    const at = Number(m.body.timestamp)
    const read = m.body.kind === BODY_KIND.READ_RECEIPT
    const changed: OutboxRecord[] = []
    const skipped: OutboxRecord[] = []
    for (const ref of m.body.refs) {
      const id = idToHex(ref)
      const stored = await this.init.store.getOutgoing(id)
      // Only the message's own recipient can vouch for it.
      if (stored == null || stored.to !== sender || stored.kind !== 'text' || stored.state === 'read' || stored.state === 'failed') continue
      if (!read && stored.state === 'delivered') continue
      // Prefer the scheduler's copy: it is the one a delivery receipt in flight would update.
      const record = this.outbox.settle(sender, id) ?? stored
      if (read && stored.state !== 'delivered') skipped.push(record)
      record.state = read ? 'read' : 'delivered'
      if (read) record.readAt = at
      record.deliveredAt ??= at
      changed.push(record)
    }
    // Synced: the receipt envelope carrying this is acknowledged once this resolves.
    await this.init.store.updateOutgoing(changed, { durable: true })
    // Read implies delivered: a read receipt that overtook the delivery ack still announces both.
    for (const record of skipped) {
      this.init.events.receipt({ id: record.id, to: record.to, state: 'delivered', at: record.deliveredAt ?? at })
    }
    for (const record of changed) this.receiptChanged(record)
  }

  /** Received messages, oldest first. `from` is a contact name or a peer id. */
  async inbox (query: Omit<InboxQuery, 'from'> & { from?: string } = {}): Promise<InboxRecord[]> {
    const from = query.from != null ? this.init.contacts.resolve(query.from).toString() : undefined
    return await this.init.store.listIncoming({ ...query, from })
  }

  /**
   * Marks received messages read and, unless read receipts are off, tells their senders.
   * Returns the records that changed.
   */
  async markRead (refs: Array<{ from: string, id: string }>): Promise<InboxRecord[]> {
        const now = Date.now()
    const changed: InboxRecord[] = []
    for (const ref of refs) {
      const record = await this.init.store.getIncoming(ref.from, ref.id)
      if (record == null || record.read) continue
      record.read = true
      record.readAt = now
      changed.push(record)
    }
    // Receipts are queued before the messages are marked read: a crash in between sends a
    // receipt for a message that still shows unread (harmless, the sender ignores a second
    // one), never leaves a read message whose receipt is lost.
    if (this.readReceipts) {
      const bySender = new Map<string, InboxRecord[]>()
      for (const r of changed) bySender.set(r.from, [...(bySender.get(r.from) ?? []), r])
      for (const [sender, records] of bySender) {
        for (let i = 0; i < records.length; i += MAX_RECEIPT_REFS) {
          await this.enqueue(peerIdFromString(sender), { kind: 'read-receipt', refs: records.slice(i, i + MAX_RECEIPT_REFS).map(r => r.id) })
        }
      }
    }
    await this.init.store.updateIncoming(changed)
    return changed
  }
}
