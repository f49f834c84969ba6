/**
 * pigeon's own Prometheus metrics (names prefixed `pigeon_`), in a prom-client registry that the
 * operator endpoint serves. Counters of events since start come from the node's events; the
 * rest is read from `node.status()` when Prometheus scrapes. Label values come from small fixed
 * sets: no message content, peer ids or channel names ever become a label.
 */
import { REACHABILITIES } from '../network/reachability.js'
import { Counter, Gauge, Histogram, type Registry } from 'prom-client'
import type { PigeonNode, NodeStatus, ReceiptEvent } from '../node.js'
import type { OutboxRecord } from '../store/types.js'
import type { ChannelRejection } from '../channels/index.js'
import { REJECT_REASON_CODES } from '../wire/constants.js'
import { DEFAULT_TOTAL_BYTES, DEPOSIT_REFUSALS } from '../mailbox/constants.js'
import { VERSION } from '../version.js'
import { CARD_REFUSALS } from '../discovery/card-records.js'
import { LATENCY_BUCKETS, LATENCY_SEEN_IDS } from './constants.js'

export interface PigeonMetricsInit {
  node: PigeonNode
  registry: Registry
}

/** The values the `reason` label of `pigeon_messages_failed_total` takes. */
export const FAILURE_REASONS = [...Object.keys(REJECT_REASON_CODES), 'other'] as const

/** A failed record's lastError ("refused by recipient: <reason>") to a bounded label value. */
function failureReason (lastError: string | undefined): string {
  const reason = /^refused by recipient: (.+)$/.exec(lastError ?? '')?.[1]
  return reason != null && Object.hasOwn(REJECT_REASON_CODES, reason) ? reason : 'other'
}

/**
 * A counter whose values are totals the node keeps (read from `node.status()` at each scrape), by
 * one label; `pick` gives them, or undefined when the node has none (the counter is then absent).
 */
function statusCounter (registers: Registry[], status: () => Promise<NodeStatus | undefined>, name: string, help: string, label: string, pick: (s: NodeStatus) => Record<string, number> | undefined): void {
  new Counter({
    name,
    help,
    labelNames: [label],
    registers,
    async collect () {
      const s = await status()
      const values = s == null ? undefined : pick(s)
      if (values == null) return
      this.reset()
      for (const [value, n] of Object.entries(values)) this.inc({ [label]: value }, n)
    }
  })
}

export class PigeonMetrics {
  private readonly node: PigeonNode
  private readonly sent: Counter
  private readonly delivered: Counter
  private readonly read: Counter
  private readonly failed: Counter<'reason'>
  private readonly latency: Histogram
  private readonly channelRejected: Counter<'source'>
  /** Texts held by relays: counted as sent when stored, not again when their receipt comes. */
  private readonly stored = new Set<string>()
  /** Ids whose latency was observed, oldest first, so a later 'read' is not observed twice. */
  private readonly observed = new Set<string>()
  /** The status() call in progress: a scrape's collect callbacks run together and share it. */
  private statusCall?: Promise<NodeStatus | undefined>
  private readonly onReceipt: (evt: CustomEvent<ReceiptEvent>) => void
  private readonly onOutbox: (evt: CustomEvent<OutboxRecord>) => void
  private readonly onRejected: (evt: CustomEvent<ChannelRejection>) => void

  constructor (init: PigeonMetricsInit) {
    const { node, registry } = init
    this.node = node
    const registers = [registry]
    const status = async (): Promise<NodeStatus | undefined> => this.status()

    new Gauge({ name: 'pigeon_build_info', help: 'Always 1; the version label names the running pigeon.', labelNames: ['version'], registers }).set({ version: VERSION }, 1)

    this.sent = new Counter({ name: 'pigeon_messages_sent_total', help: 'Text messages that left this node: taken by the recipient (delivered or refused) or by its relays.', registers })
    this.delivered = new Counter({ name: 'pigeon_messages_delivered_total', help: 'Text messages whose delivery receipt arrived.', registers })
    this.read = new Counter({ name: 'pigeon_messages_read_total', help: 'Text messages whose read receipt arrived.', registers })
    this.failed = new Counter({ name: 'pigeon_messages_failed_total', help: 'Text messages the recipient refused, by its reason.', labelNames: ['reason'], registers })
    for (const reason of FAILURE_REASONS) this.failed.inc({ reason }, 0)
    this.latency = new Histogram({ name: 'pigeon_delivery_latency_seconds', help: 'From send() to the delivery receipt, on the sender\'s clock (the recipient\'s for mail through relays).', buckets: LATENCY_BUCKETS, registers })

    new Gauge({
      name: 'pigeon_outbox_messages',
      help: 'Outbox records (texts and receipts) by state.',
      labelNames: ['state'],
      registers,
      async collect () {
        const s = await status()
        if (s != null) for (const [state, n] of Object.entries(s.outbox)) this.set({ state }, n)
      }
    })
    new Gauge({
      name: 'pigeon_inbox_messages',
      help: 'Received text messages held in the inbox, and how many are unread.',
      labelNames: ['state'],
      registers,
      async collect () {
        const s = await status()
        if (s == null) return
        this.set({ state: 'read' }, s.inbox.total - s.inbox.unread)
        this.set({ state: 'unread' }, s.inbox.unread)
      }
    })
    new Gauge({
      name: 'pigeon_peers_connected',
      help: 'Peers with an open connection.',
      registers,
      async collect () { const s = await status(); if (s != null) this.set(s.peers.connected) }
    })
    new Gauge({
      name: 'pigeon_home_relays',
      help: 'This node\'s home relays, connected or not.',
      labelNames: ['state'],
      registers,
      async collect () {
        const s = await status()
        if (s == null) return
        const connected = s.relays.filter(r => r.connected).length
        this.set({ state: 'connected' }, connected)
        this.set({ state: 'disconnected' }, s.relays.length - connected)
      }
    })
    new Gauge({
      name: 'pigeon_store_bytes',
      help: 'Size of the store (LevelDB) on disk.',
      registers,
      async collect () { const s = await status(); if (s != null) this.set(s.store.bytes) }
    })
    new Gauge({
      name: 'pigeon_uptime_seconds',
      help: 'Time since the node started.',
      registers,
      async collect () { const s = await status(); if (s != null) this.set(s.uptimeMs / 1000) }
    })

    // Channels: counts since start, kept by the channels part itself.
    const channelCounter = (name: string, help: string, key: 'received' | 'posted'): void => {
      new Counter({
        name,
        help,
        registers,
        async collect () {
          const s = await status()
          if (s == null) return
          this.reset()
          this.inc(s.channels[key])
        }
      })
    }
    channelCounter('pigeon_channel_messages_received_total', 'Channel messages received and stored.', 'received')
    channelCounter('pigeon_channel_messages_posted_total', 'Channel messages this node posted.', 'posted')
    this.channelRejected = new Counter({ name: 'pigeon_channel_messages_rejected_total', help: 'Channel frames that failed validation, by where they came from.', labelNames: ['source'], registers })
    for (const source of ['gossip', 'history']) this.channelRejected.inc({ source }, 0)
    new Gauge({
      name: 'pigeon_channels_active',
      help: 'Channels this node is an active member of.',
      registers,
      async collect () { const s = await status(); if (s != null) this.set(s.channels.active) }
    })

    // Relay: only on a relay. Counts since start come from the mailbox service's own stats.
    if (node.libp2p.services.mailbox.isRelay) {
      new Gauge({
        name: 'pigeon_mailbox_messages',
        help: 'Envelopes held for other peers.',
        registers,
        async collect () { const s = await status(); if (s?.relay != null) this.set(s.relay.messages) }
      })
      new Gauge({
        name: 'pigeon_mailbox_bytes',
        help: 'Bytes of envelopes held for other peers.',
        registers,
        async collect () { const s = await status(); if (s?.relay != null) this.set(s.relay.bytes) }
      })
      new Gauge({
        name: 'pigeon_mailbox_recipients',
        help: 'Recipients with mail held.',
        registers,
        async collect () { const s = await status(); if (s?.relay != null) this.set(s.relay.recipients) }
      })
      // As the relay applies it, so that alerts compare usage with the real limit.
      new Gauge({ name: 'pigeon_mailbox_limit_bytes', help: 'The limit on bytes held for all recipients together.', registers })
        .set(init.node.libp2p.services.mailbox.totalBytesLimit ?? DEFAULT_TOTAL_BYTES)
      new Counter({
        name: 'pigeon_mailbox_deposits_total',
        help: 'Envelopes stored for other peers.',
        registers,
        async collect () {
          const s = await status()
          if (s?.relay == null) return
          this.reset()
          this.inc(s.relay.deposited)
        }
      })
      new Counter({
        name: 'pigeon_mailbox_deposits_refused_total',
        help: 'Envelopes refused, by reason.',
        labelNames: ['reason'],
        registers,
        async collect () {
          const s = await status()
          if (s?.relay == null) return
          this.reset()
          for (const reason of Object.values(DEPOSIT_REFUSALS)) this.inc({ reason }, s.relay.refused[reason] ?? 0)
        }
      })
    }

    new Gauge({
      name: 'pigeon_connections',
      help: 'Open connections, by kind: direct, or relayed through a circuit relay.',
      labelNames: ['kind'],
      registers,
      async collect () {
        const s = await status()
        if (s == null) return
        this.set({ kind: 'direct' }, s.connections.direct)
        this.set({ kind: 'relayed' }, s.connections.relayed)
      }
    })
    statusCounter(registers, status, 'pigeon_dht_records_refused_total',
      'DHT records refused (sent to this node to store, or found in a lookup), by reason: key, oversize, malformed, signature, wrong-peer, expired, future, stale, kind.',
      'reason', s => Object.fromEntries(CARD_REFUSALS.map(reason => [reason, s.dht.refused[reason]])))
    new Gauge({
      name: 'pigeon_reachability',
      help: 'Whether peers can dial this node: 1 for its state (public: an announced or dialled-back public address; unknown: a public address not yet dialled back; private: behind NAT or LAN only), 0 for the others.',
      labelNames: ['state'],
      registers,
      async collect () {
        const s = await status()
        if (s == null) return
        for (const state of REACHABILITIES) this.set({ state }, s.nat.reachability === state ? 1 : 0)
      }
    })
    statusCounter(registers, status, 'pigeon_hole_punch_total',
      'Attempts to upgrade a relayed connection to a direct WebRTC one since start, by outcome: direct or failed.',
      'outcome', s => s.nat.holePunch == null ? undefined : { direct: s.nat.holePunch.direct, failed: s.nat.holePunch.failed })
    statusCounter(registers, status, 'pigeon_stun_requests_total',
      'STUN datagrams a relay received since start, by outcome: answered, or dropped (not a binding request, or over budget).',
      'outcome', s => s.nat.stunServer == null ? undefined : { answered: s.nat.stunServer.answered, dropped: s.nat.stunServer.dropped })
    new Gauge({
      name: 'pigeon_dht_servers',
      help: 'DHT servers in this node\'s routing table.',
      registers,
      async collect () { const s = await status(); if (s != null) this.set(s.dht.routingTable) }
    })
    new Gauge({
      name: 'pigeon_dht_server_mode',
      help: '1 while this node answers DHT queries (server mode), else 0.',
      registers,
      async collect () { const s = await status(); if (s != null) this.set(s.dht.mode === 'server' ? 1 : 0) }
    })
    new Gauge({
      name: 'pigeon_dht_card_published_timestamp_seconds',
      help: 'When this node\'s card was last stored on the DHT (0: not yet).',
      registers,
      async collect () { const s = await status(); if (s != null) this.set((s.dht.published?.at ?? 0) / 1000) }
    })

    this.onReceipt = (evt) => { this.receipt(evt.detail) }
    this.onOutbox = (evt) => { this.outbox(evt.detail) }
    this.onRejected = (evt) => { this.channelRejected.inc({ source: evt.detail.source }) }
    node.addEventListener('receipt', this.onReceipt)
    node.addEventListener('outbox', this.onOutbox)
    node.addEventListener('channel:rejected', this.onRejected)
  }

  /** Stops listening to the node. The registry keeps the metrics. */
  stop (): void {
    this.node.removeEventListener('receipt', this.onReceipt)
    this.node.removeEventListener('outbox', this.onOutbox)
    this.node.removeEventListener('channel:rejected', this.onRejected)
  }

  /**
   * One status() for all the collect callbacks of a scrape (prom-client starts them together),
   * never an answer older than the scrape; none while the node is stopped.
   */
  private async status (): Promise<NodeStatus | undefined> {
    if (!this.node.isStarted()) return undefined
    this.statusCall ??= this.node.status()
      .catch(() => undefined)
      .finally(() => { this.statusCall = undefined })
    return await this.statusCall
  }

  private receipt (receipt: ReceiptEvent): void {
    switch (receipt.state) {
      case 'stored':
        if (!this.stored.has(receipt.id)) {
          this.stored.add(receipt.id)
          this.sent.inc()
        }
        break
      case 'delivered':
        this.delivered.inc()
        if (!this.stored.delete(receipt.id)) this.sent.inc()
        break
      case 'read':
        this.read.inc()
        break
      case 'failed':
        this.failed.inc({ reason: failureReason(receipt.reason) })
        if (!this.stored.delete(receipt.id)) this.sent.inc()
        break
    }
  }

  /** Delivery latency: the outbox record carries createdAt and deliveredAt, the receipt does not. */
  private outbox (record: OutboxRecord): void {
    if (record.kind !== 'text' || record.deliveredAt == null || (record.state !== 'delivered' && record.state !== 'read')) return
    if (this.observed.has(record.id)) return
    this.observed.add(record.id)
    if (this.observed.size > LATENCY_SEEN_IDS) this.observed.delete(this.observed.values().next().value as string)
    this.latency.observe(Math.max(0, record.deliveredAt - record.createdAt) / 1000)
  }
}
