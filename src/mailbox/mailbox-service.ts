import { RateLimiter } from '@libp2p/utils'
import { exchange, serveExchanges } from '../network/exchange.js'
import { Request, Response, type DepositResult } from './pb/mailbox.js'
import { Envelope } from '../wire/pb/wire.js'
import { peerIdFromBytes } from '../crypto/keys.js'
import { ProtocolViolationError } from '../errors.js'
import { MAX_ENVELOPE_BYTES, MESSAGE_ID_LENGTH } from '../constants.js'
import {
  MAILBOX_PROTOCOL, MAILBOX_PAGE_BUDGET, REQUEST_TYPE, DEPOSIT_RESULT, DEPOSIT_REFUSALS, MAX_MAILBOX_FRAME_BYTES, MAX_MAILBOX_BATCH,
  DEFAULT_FETCH_LIMIT, DEFAULT_QUOTA_MESSAGES, DEFAULT_QUOTA_BYTES, DEFAULT_TOTAL_BYTES, DEFAULT_DEPOSIT_RATE_PER_MINUTE, DEFAULT_TTL_MS,
  DEFAULT_SWEEP_INTERVAL_MS, MAILBOX_TIMEOUT_MS, MAILBOX_MAX_INBOUND_STREAMS, MAX_DEPOSIT_GROUP
} from './constants.js'
import type { DepositOutcome, FetchedPage, MailboxClient, MailboxComponents, MailboxInit } from './index.js'
import type { MailboxStore, MailboxUsage } from './mailbox-store.js'
import type { AbortOptions, Connection, Logger, PeerId, Startable, Stream } from '@libp2p/interface'
import { idFromHex, idToHex } from '../ids.js'

const EXCHANGE = { request: Request, response: Response, maxDataLength: MAX_MAILBOX_FRAME_BYTES, timeoutMs: MAILBOX_TIMEOUT_MS }

function cursorBytes (seq: number): Uint8Array<ArrayBuffer> {
  const buf = Buffer.alloc(8)
  buf.writeBigUInt64BE(BigInt(seq))
  return new Uint8Array(buf)
}

function cursorSeq (bytes: Uint8Array): number {
  if (bytes.byteLength === 0) return 0
  if (bytes.byteLength !== 8) throw new ProtocolViolationError('a cursor is 8 bytes')
  return Number(Buffer.from(bytes).readBigUInt64BE())
}

interface Relay {
  store: MailboxStore
  serve: 'open' | Set<string>
  quotaMessages: number
  quotaBytes: number
  totalBytes: number
  maxEnvelopeBytes: number
  ttl: number
  sweepInterval: number
  limiter: RateLimiter
  sweeper?: ReturnType<typeof setInterval>
}

interface DepositItem { peer: PeerId, recipient: string, id: string, envelope: Uint8Array, result: DepositResult }
interface DepositJob { from: PeerId, envelopes: Uint8Array[], resolve: (results: DepositResult[]) => void, reject: (err: unknown) => void }
/** Deposits written in one batch: what they add, so the next deposit's checks count it. */
interface DepositGroup { stored: DepositItem[], adding: Map<string, MailboxUsage>, ids: Set<string>, totalBytes: number }

/** Counters a relay operator (and `pigeon status`) reads. */
export interface RelayStats {
  deposited: number
  refused: Record<string, number>
  fetched: number
  deleted: number
  expired: number
}

export class MailboxService implements MailboxClient, Startable {
  private readonly components: MailboxComponents
  private readonly init: MailboxInit
  private readonly log: Logger
  private readonly relay?: Relay
  private started = false
  private readonly depositQueue: DepositJob[] = []
  private depositing = false
  readonly stats: RelayStats = { deposited: 0, refused: {}, fetched: 0, deleted: 0, expired: 0 }

  constructor (components: MailboxComponents, init: MailboxInit) {
    this.components = components
    this.init = init
    this.log = components.logger.forComponent('pigeon:mailbox')
    if (init.relay != null) {
      const r = init.relay
      this.relay = {
        store: r.store,
        serve: r.serve == null || r.serve === 'open' ? 'open' : new Set(r.serve),
        quotaMessages: r.quotaMessages ?? DEFAULT_QUOTA_MESSAGES,
        quotaBytes: r.quotaBytes ?? DEFAULT_QUOTA_BYTES,
        totalBytes: r.totalBytes ?? DEFAULT_TOTAL_BYTES,
        maxEnvelopeBytes: Math.min(r.maxEnvelopeBytes ?? MAX_ENVELOPE_BYTES, MAX_ENVELOPE_BYTES),
        ttl: r.ttl ?? DEFAULT_TTL_MS,
        sweepInterval: r.sweepInterval ?? DEFAULT_SWEEP_INTERVAL_MS,
        limiter: new RateLimiter({ points: r.depositRatePerMinute ?? DEFAULT_DEPOSIT_RATE_PER_MINUTE, duration: 60 })
      }
    }
    this.handleStream = this.handleStream.bind(this)
  }

  readonly [Symbol.toStringTag] = 'pigeon:mailbox'

  get isRelay (): boolean {
    return this.relay != null
  }

  /** The limit on bytes held for all recipients together; undefined when not a relay. */
  get totalBytesLimit (): number | undefined {
    return this.relay?.totalBytes
  }

  /** Mail held for others (zeros when not a relay). */
  totals (): { messages: number, bytes: number, recipients: number } {
    return this.relay?.store.totals() ?? { messages: 0, bytes: 0, recipients: 0 }
  }

  async start (): Promise<void> {
    if (this.started) return
    await this.components.registrar.handle(MAILBOX_PROTOCOL, this.handleStream, { maxInboundStreams: MAILBOX_MAX_INBOUND_STREAMS, runOnLimitedConnection: true })
    const relay = this.relay
    if (relay != null) {
      await this.sweep()
      relay.sweeper = setInterval(() => { void this.sweep() }, relay.sweepInterval)
      relay.sweeper.unref()
    }
    this.started = true
  }

  async stop (): Promise<void> {
    if (!this.started) return
    this.started = false
    clearInterval(this.relay?.sweeper)
    await this.components.registrar.unhandle(MAILBOX_PROTOCOL)
  }

  /** Removes expired mail now; returns how many envelopes went. */
  async sweep (now = Date.now()): Promise<number> {
    if (this.relay == null) return 0
    try {
      const n = await this.relay.store.sweep(now - this.relay.ttl)
      this.stats.expired += n
      if (n > 0) this.log('swept %d expired envelope(s)', n)
      return n
    } catch (err: any) {
      this.log.error('sweep failed: %s', err.message)
      return 0
    }
  }

  // --- serving --------------------------------------------------------------

  private async handleStream (stream: Stream, connection: Connection): Promise<void> {
    const remote = connection.remotePeer
    try {
      await serveExchanges(stream, { ...EXCHANGE, limits: { envelopes: MAX_MAILBOX_BATCH, ids: MAX_MAILBOX_BATCH } }, async (request) => await this.answer(remote, request))
    } catch (err: any) {
      this.log('mailbox stream from %p failed: %s', remote, err.message)
      stream.abort(err)
    }
  }

  private async answer (remote: PeerId, request: Request): Promise<Response> {
    const ok: Response = { status: 0, reason: 0, message: '', results: [], envelopes: [], nextCursor: new Uint8Array(0), deleted: 0 }
    if (request.type === REQUEST_TYPE.NOTIFY) {
      if (this.init.isHomeRelay?.(remote) === true) this.init.onNotify?.(remote)
      return ok
    }
    const relay = this.relay
    if (relay == null) return { ...ok, status: 1, reason: DEPOSIT_RESULT.NOT_SERVED, message: 'this node is not a relay' }
    switch (request.type) {
      case REQUEST_TYPE.DEPOSIT:
        return { ...ok, results: await this.deposited(relay, remote, request.envelopes) }
      case REQUEST_TYPE.FETCH: {
        // The mailbox is the caller's own: Noise proved who it is.
        const limit = Math.min(request.limit === 0 ? DEFAULT_FETCH_LIMIT : request.limit, MAX_MAILBOX_BATCH)
        const { mail, more } = await relay.store.page(remote.toString(), cursorSeq(request.cursor), limit, MAILBOX_PAGE_BUDGET)
        this.stats.fetched += mail.length
        const usage = relay.store.usageOf(remote.toString())
        return {
          held: usage.messages,
          heldBytes: BigInt(usage.bytes),
          ...ok,
          envelopes: mail.map(m => ({ envelope: m.envelope as Uint8Array<ArrayBuffer>, id: idFromHex(m.id), storedAt: BigInt(m.storedAt) })),
          nextCursor: mail.length > 0 ? cursorBytes(mail[mail.length - 1].seq) : new Uint8Array(0),
          more
        }
      }
      case REQUEST_TYPE.DELETE: {
        const deleted = await relay.store.delete(remote.toString(), request.ids.filter(id => id.byteLength === MESSAGE_ID_LENGTH).map(idToHex))
        this.stats.deleted += deleted
        return { ...ok, deleted }
      }
      default:
        throw new ProtocolViolationError(`unknown mailbox request type ${request.type}`)
    }
  }

  /**
   * Deposits are checked one at a time, so that quota and duplicate checks see each other, and
   * written in groups: while one group's batch is being made durable, the deposits that arrive
   * queue up and go to disk together in the next batch (group commit). Every deposit is still
   * answered only after its envelopes are durable.
   */
  private async deposited (relay: Relay, from: PeerId, envelopes: Uint8Array[]): Promise<DepositResult[]> {
    return await new Promise((resolve, reject) => {
      this.depositQueue.push({ from, envelopes, resolve, reject })
      if (!this.depositing) void this.drainDeposits(relay)
    })
  }

  private async drainDeposits (relay: Relay): Promise<void> {
    this.depositing = true
    while (this.depositQueue.length > 0) {
      const jobs = this.depositQueue.splice(0, MAX_DEPOSIT_GROUP)
      try {
        await this.commitGroup(relay, jobs)
      } catch (err) {
        // Whatever failed, no job of the group is left without an answer (a settled one ignores this).
        for (const job of jobs) job.reject(err)
      }
    }
    this.depositing = false
  }

  /** Checks each job of a group in turn, writes what they store in one batch, then answers them. */
  private async commitGroup (relay: Relay, jobs: DepositJob[]): Promise<void> {
    const group: DepositGroup = { stored: [], adding: new Map(), ids: new Set(), totalBytes: relay.store.totals().bytes }
    const checked: Array<{ job: DepositJob, results: DepositResult[] }> = []
    for (const job of jobs) {
      try {
        checked.push({ job, results: await this.check(relay, job.from, job.envelopes, group) })
      } catch (err) {
        job.reject(err)
      }
    }
    // Durable before any answer.
    await relay.store.put(group.stored)
    this.stats.deposited += group.stored.length
    for (const c of checked) {
      for (const r of c.results) {
        if (r.reason === DEPOSIT_RESULT.STORED) continue
        const name = DEPOSIT_REFUSALS[r.reason]
        this.stats.refused[name] = (this.stats.refused[name] ?? 0) + 1
      }
      c.job.resolve(c.results)
    }
    // Push: a recipient connected to this relay hears at once that mail is waiting.
    const recipients = new Map(group.stored.map(item => [item.recipient, item.peer]))
    for (const peer of recipients.values()) this.notify(peer)
  }

  /** Decides, for each envelope of one deposit, whether it is stored; adds what is to `group`. */
  private async check (relay: Relay, from: PeerId, envelopes: Uint8Array[], group: DepositGroup): Promise<DepositResult[]> {
    // 1. Parse; per-envelope refusals that need no state.
    const results: DepositResult[] = []
    const candidates: DepositItem[] = []
    for (const bytes of envelopes) {
      let env: Envelope | undefined
      try {
        env = Envelope.decode(bytes)
      } catch {}
      const recipientId = env == null ? undefined : peerIdFromBytes(env.recipient)
      const result: DepositResult = { id: env?.id ?? new Uint8Array(0), reason: DEPOSIT_RESULT.STORED }
      results.push(result)
      if (env == null || recipientId == null || env.id.byteLength !== MESSAGE_ID_LENGTH) { result.reason = DEPOSIT_RESULT.MALFORMED; continue }
      if (bytes.byteLength > relay.maxEnvelopeBytes) { result.reason = DEPOSIT_RESULT.TOO_LARGE; continue }
      const recipient = recipientId.toString()
      if (relay.serve !== 'open' && !relay.serve.has(recipient)) { result.reason = DEPOSIT_RESULT.NOT_SERVED; continue }
      candidates.push({ peer: recipientId, recipient, id: idToHex(env.id), envelope: bytes, result })
    }

    // 2. An envelope already held (or already in this group) is answered STORED and costs
    //    nothing: a retrying sender must hear "stored" even when the mailbox has since filled up.
    const fresh: DepositItem[] = []
    const byRecipient = new Map<string, DepositItem[]>()
    for (const c of candidates) {
      const list = byRecipient.get(c.recipient)
      if (list == null) byRecipient.set(c.recipient, [c])
      else list.push(c)
    }
    for (const [recipient, items] of byRecipient) {
      const held = await relay.store.held(recipient, items.map(i => i.id))
      const seen = new Set<string>()
      for (const item of items) {
        if (held.has(item.id) || seen.has(item.id) || group.ids.has(`${recipient}!${item.id}`)) continue
        seen.add(item.id)
        fresh.push(item)
      }
    }

    // 3. Per-recipient quota and the relay's total (counting what this group already adds),
    //    then the depositor's rate for what would really be stored (a refused envelope costs the
    //    sender nothing).
    let totalBytes = group.totalBytes
    const adding = new Map<string, MailboxUsage>()
    let stored: DepositItem[] = []
    for (const item of fresh) {
      const used = relay.store.usageOf(item.recipient)
      const before = group.adding.get(item.recipient) ?? { messages: 0, bytes: 0 }
      const add = adding.get(item.recipient) ?? { messages: 0, bytes: 0 }
      const size = item.envelope.byteLength
      if (used.messages + before.messages + add.messages + 1 > relay.quotaMessages ||
          used.bytes + before.bytes + add.bytes + size > relay.quotaBytes ||
          totalBytes + size > relay.totalBytes) {
        item.result.reason = DEPOSIT_RESULT.QUOTA_EXCEEDED
        continue
      }
      add.messages++
      add.bytes += size
      totalBytes += size
      adding.set(item.recipient, add)
      stored.push(item)
    }
    if (stored.length > 0) {
      try {
        relay.limiter.consume(from.toString(), stored.length)
      } catch (err: any) {
        if (err.name !== 'RateLimitError') throw err
        for (const item of stored) item.result.reason = DEPOSIT_RESULT.RATE_LIMITED
        stored = []
      }
    }

    // 4. Into the group.
    if (stored.length > 0) {
      for (const [recipient, add] of adding) {
        const g = group.adding.get(recipient) ?? { messages: 0, bytes: 0 }
        g.messages += add.messages
        g.bytes += add.bytes
        group.adding.set(recipient, g)
      }
      group.totalBytes = totalBytes
    }
    for (const item of stored) {
      group.ids.add(`${item.recipient}!${item.id}`)
      group.stored.push(item)
    }
    return results
  }

  /** Tells a recipient connected to this relay that mail is waiting; in the background. */
  private notify (recipient: PeerId): void {
    // By peer: a relay has hundreds of connections, and every deposit notifies.
    if (this.components.connectionManager.getConnections(recipient).length === 0) return
    this.request(recipient, { type: REQUEST_TYPE.NOTIFY, envelopes: [], cursor: new Uint8Array(0), limit: 0, ids: [] }, {})
      .catch(err => { this.log('could not notify %p: %s', recipient, err.message) })
  }

  // --- client ---------------------------------------------------------------

  private async request (peer: PeerId, request: Request, options: AbortOptions): Promise<Response> {
    const response = await exchange(this.components.connectionManager, peer, MAILBOX_PROTOCOL, request, { ...EXCHANGE, ...options, limits: { results: MAX_MAILBOX_BATCH, envelopes: MAX_MAILBOX_BATCH } })
    if (response.status !== 0) throw new ProtocolViolationError(`relay ${peer} refused the request: ${response.message}`)
    return response
  }

  async deposit (relay: PeerId, envelopes: Uint8Array[], options: AbortOptions = {}): Promise<DepositOutcome[]> {
    const response = await this.request(relay, { type: REQUEST_TYPE.DEPOSIT, envelopes: envelopes as Array<Uint8Array<ArrayBuffer>>, cursor: new Uint8Array(0), limit: 0, ids: [] }, options)
    if (response.results.length !== envelopes.length) throw new ProtocolViolationError(`relay ${relay} answered ${response.results.length} of ${envelopes.length} deposits`)
    return response.results.map(r => ({ id: idToHex(r.id), refused: r.reason === 0 ? undefined : DEPOSIT_REFUSALS[r.reason] ?? 'malformed' }))
  }

  async fetch (relay: PeerId, cursor: Uint8Array, limit: number, options: AbortOptions = {}): Promise<FetchedPage> {
    const response = await this.request(relay, { type: REQUEST_TYPE.FETCH, envelopes: [], cursor: cursor as Uint8Array<ArrayBuffer>, limit, ids: [] }, options)
    return {
      mail: response.envelopes.map(e => ({ id: idToHex(e.id), envelope: e.envelope, storedAt: Number(e.storedAt) })),
      next: response.nextCursor,
      // An empty page is the end whatever the relay says; a relay that predates `more` says nothing.
      more: response.envelopes.length === 0 ? false : response.more,
      ...(response.held != null ? { held: { messages: response.held, bytes: Number(response.heldBytes ?? 0n) } } : {})
    }
  }

  async delete (relay: PeerId, ids: string[], options: AbortOptions = {}): Promise<number> {
    const response = await this.request(relay, { type: REQUEST_TYPE.DELETE, envelopes: [], cursor: new Uint8Array(0), limit: 0, ids: ids.map(idFromHex) }, options)
    return response.deleted
  }
}
