/**
 * The /pigeon/dm/1.0.0 service (docs/protocol.md, sections 3 to 9): batches of envelopes out,
 * acks with signed receipts back. What the envelopes hold is the EnvelopeReceiver's business.
 */
import { pbStream, RateLimiter } from '@libp2p/utils'
import { Ack, Batch, type Envelope } from '../wire/pb/wire.js'
import { FRAME_OPTIONS } from '../wire/framing.js'
import {
  DM_PROTOCOL, DM_ACK_TIMEOUT_MS, DM_IDLE_TIMEOUT_MS, DM_MAX_INBOUND_STREAMS, DM_MAX_OUTBOUND_STREAMS,
  DM_SENDER_IDLE_MS, MAX_BATCH_ENVELOPES, DM_INBOUND_RATE
} from './constants.js'
import { REJECT_REASON_CODES } from '../wire/constants.js'
import { localKeys, peerKeys, type LocalKeys, type PeerKeys } from '../crypto/keys.js'
import { peerIdFromString } from '@libp2p/peer-id'
import { signReceipt, verifyReceipt } from '../crypto/receipt.js'
import { ProtocolViolationError } from '../errors.js'
import type { RejectReason } from '../crypto/envelope.js'
import type { DeliveryResult, DirectMessages, DirectMessagesComponents, DirectMessagesInit } from './index.js'
import type { AbortOptions, Connection, Ed25519PrivateKey, Logger, PeerId, Startable, Stream } from '@libp2p/interface'
import { idToHex } from '../ids.js'

const REASON_NAMES = new Map<number, RejectReason>(
  Object.entries(REJECT_REASON_CODES).filter(([name]) => name !== 'unknown').map(([name, code]) => [code, name as RejectReason])
)

/** A batch written and waiting for its ack. */
interface PendingBatch {
  size: number
  resolve(ack: Ack): void
  reject(err: Error): void
  promise: Promise<Ack>
}

/** An outbound stream to one peer, reused across batches while it stays open. */
interface Session {
  stream: Stream
  pb: ReturnType<typeof pbStream<Stream>>
  /** Batches written, oldest first, waiting for their acks. */
  pending: PendingBatch[]
  /** Tail of the write chain: frames go out one after another. */
  writes: Promise<void>
  idleTimer?: ReturnType<typeof setTimeout>
  /** Set once the session has failed; it is never used again. */
  failure?: Error
}

export class DirectMessagesService implements DirectMessages, Startable {
  private readonly components: DirectMessagesComponents
  private readonly init: DirectMessagesInit
  private readonly log: Logger
  private readonly idleTimeout: number
  private readonly ackTimeout: number
  private readonly maxInboundStreams: number
  private readonly maxOutboundStreams: number
  private readonly sessions = new Map<string, Session>()
  /** Streams being opened, so concurrent deliveries to one peer share one. */
  private readonly opening = new Map<string, Promise<Session>>()
  private keys?: LocalKeys
  private started = false
  /** Envelopes per peer per second; excess is delayed (backpressure), never dropped. */
  private readonly limiter: RateLimiter

  constructor (components: DirectMessagesComponents, init: DirectMessagesInit) {
    this.components = components
    this.init = init
    this.log = components.logger.forComponent('pigeon:dm')
    this.idleTimeout = init.idleTimeout ?? DM_IDLE_TIMEOUT_MS
    this.ackTimeout = init.ackTimeout ?? DM_ACK_TIMEOUT_MS
    this.maxInboundStreams = init.maxInboundStreams ?? DM_MAX_INBOUND_STREAMS
    this.maxOutboundStreams = init.maxOutboundStreams ?? DM_MAX_OUTBOUND_STREAMS
    this.limiter = new RateLimiter({ points: init.inboundRate ?? DM_INBOUND_RATE, duration: 1 })
    this.handleStream = this.handleStream.bind(this)
  }

  readonly [Symbol.toStringTag] = 'pigeon:dm'

  async start (): Promise<void> {
    if (this.started) return
    this.keys = localKeys(this.components.privateKey as Ed25519PrivateKey, this.components.peerId)
    await this.components.registrar.handle(DM_PROTOCOL, this.handleStream, {
      maxInboundStreams: this.maxInboundStreams,
      maxOutboundStreams: this.maxOutboundStreams,
      // Peers behind NAT are reached through a relay, over a limited (relayed) connection.
      runOnLimitedConnection: true
    })
    this.started = true
  }

  async stop (): Promise<void> {
    if (!this.started) return
    this.started = false
    await this.components.registrar.unhandle(DM_PROTOCOL)
    for (const [key, session] of this.sessions) this.failSession(peerIdFromString(key), session, new Error('node stopping'))
    this.sessions.clear()
  }

  isStarted (): boolean {
    return this.started
  }

  // --- receiving ------------------------------------------------------------

  private async handleStream (stream: Stream, connection: Connection): Promise<void> {
    const remote = connection.remotePeer
    const remoteKeys = peerKeys(remote)
    const keys = this.keys
    if (remoteKeys == null || keys == null) {
      this.log('refusing dm stream from %p: not an Ed25519 peer', remote)
      stream.abort(new ProtocolViolationError('pigeon needs Ed25519 peer ids'))
      return
    }
    const pb = pbStream(stream, FRAME_OPTIONS)
    try {
      while (true) {
        let batch: Batch
        try {
          // A fresh deadline per frame: an idle stream is closed, a busy one lives on.
          batch = await pb.read(Batch, { signal: AbortSignal.timeout(this.idleTimeout), limits: { envelopes: MAX_BATCH_ENVELOPES } })
        } catch (err: any) {
          // The sender closed its side between frames: the normal end of a session.
          if (err.name === 'UnexpectedEOFError' && stream.remoteWriteStatus !== 'writable') {
            await stream.close()
            return
          }
          throw err
        }
        await this.throttle(remote, batch.envelopes.length)
        const { accepted, rejected } = await this.init.receiver.receive(batch.envelopes, remote)
        const ids = accepted.map(m => m.id)
        const timestamp = BigInt(Date.now())
        await pb.write({
          accepted: ids as Array<Uint8Array<ArrayBuffer>>,
          timestamp,
          signature: ids.length > 0 ? signReceipt(keys, remoteKeys, timestamp, ids) as Uint8Array<ArrayBuffer> : new Uint8Array(0),
          rejected: rejected.map(r => ({ id: r.id as Uint8Array<ArrayBuffer>, reason: REJECT_REASON_CODES[r.reason] }))
        }, Ack, { signal: AbortSignal.timeout(this.ackTimeout) })
        if (rejected.length > 0) {
          // An honest peer never sends these: tell it why, then stop talking to it on this stream.
          this.log('closing dm stream from %p after rejecting %d envelope(s): %s', remote, rejected.length, rejected.map(r => r.reason).join(','))
          await stream.close({ signal: AbortSignal.timeout(this.ackTimeout) })
          return
        }
      }
    } catch (err: any) {
      this.log('dm stream from %p failed: %s', remote, err.message)
      stream.abort(err)
    }
  }

  /**
   * Charges a batch to the peer's rate limit. Over the limit, the ack (and so the sender's next
   * batch) waits for the next window: a flooding peer is slowed down, nothing it sent is lost.
   */
  private async throttle (remote: PeerId, count: number): Promise<void> {
    try {
      this.limiter.consume(remote.toString(), count)
    } catch (err: any) {
      if (err.name !== 'RateLimitError') throw err
      const wait = Math.min(err.msBeforeNext ?? 1000, 1000)
      this.log('rate limiting %p for %d ms', remote, wait)
      await new Promise(resolve => setTimeout(resolve, wait))
    }
  }

  // --- sending --------------------------------------------------------------

  /**
   * Sends one batch and resolves with the receiver's verified answer. Batches to one peer share a
   * stream and may be pipelined: the receiver answers in order, so acks are matched first in,
   * first out. Any failure fails every batch in flight on that stream (the caller retries them).
   */
  async deliver (peer: PeerId, envelopes: Envelope[], options: AbortOptions = {}): Promise<DeliveryResult> {
    if (envelopes.length === 0 || envelopes.length > MAX_BATCH_ENVELOPES) throw new RangeError(`a batch holds 1 to ${MAX_BATCH_ENVELOPES} envelopes`)
    const keys = this.keys
    const remoteKeys = peerKeys(peer)
    if (keys == null || !this.started) throw new Error('direct messages service is not started')
    if (remoteKeys == null) throw new ProtocolViolationError(`${peer} is not an Ed25519 peer id`)
    const session = await this.session(peer, options)
    // The session may have failed while this call waited for it to open.
    if (session.failure != null) throw session.failure
    clearTimeout(session.idleTimer)
    const waiting: PendingBatch = { size: envelopes.length, ...Promise.withResolvers<Ack>() }
    session.pending.push(waiting)
    const onAbort = (): void => {
      const reason = options.signal?.reason ?? new Error('aborted')
      waiting.reject(reason)
      this.failSession(peer, session, reason)
    }
    options.signal?.addEventListener('abort', onAbort, { once: true })
    try {
      session.writes = session.writes.then(async () => {
        await session.pb.write({ envelopes }, Batch, { signal: AbortSignal.timeout(this.ackTimeout) })
      })
      session.writes.catch(err => { this.failSession(peer, session, err) })
      if (session.pending.length === 1) void this.readAcks(peer, session)
      const ack = await waiting.promise
      return this.checkAck(peer, session, keys, remoteKeys, envelopes, ack)
    } finally {
      options.signal?.removeEventListener('abort', onAbort)
    }
  }

  /** Reads acks while batches are in flight, each within the ack deadline. */
  private async readAcks (peer: PeerId, session: Session): Promise<void> {
    try {
      while (session.pending.length > 0 && session.failure == null) {
        const head = session.pending[0]
        const ack = await session.pb.read(Ack, { signal: AbortSignal.timeout(this.ackTimeout), limits: { accepted: head.size, rejected: head.size } })
        session.pending.shift()?.resolve(ack)
      }
      if (session.failure == null && this.sessions.get(peer.toString()) === session) {
        session.idleTimer = setTimeout(() => { this.closeSession(peer, session) }, DM_SENDER_IDLE_MS)
        session.idleTimer.unref()
      }
    } catch (err: any) {
      this.failSession(peer, session, err)
    }
  }

  private checkAck (peer: PeerId, session: Session, keys: LocalKeys, remoteKeys: PeerKeys, envelopes: Envelope[], ack: Ack): DeliveryResult {
    const sent = new Set(envelopes.map(e => idToHex(e.id)))
    const accepted = ack.accepted.map(idToHex)
    const rejected = ack.rejected.map(r => ({ id: idToHex(r.id), reason: REASON_NAMES.get(r.reason) ?? 'unknown' as const }))
    // Every id sent must be answered exactly once, so a peer cannot stall a sender with empty acks.
    const answered = [...accepted, ...rejected.map(r => r.id)]
    let err: Error | undefined
    if (answered.some(id => !sent.has(id))) err = new ProtocolViolationError(`${peer} acknowledged an id that was not sent`)
    else if (answered.length !== sent.size || new Set(answered).size !== sent.size) err = new ProtocolViolationError(`${peer} did not answer every envelope of the batch`)
    else if (accepted.length > 0 && !verifyReceipt(keys, remoteKeys, ack.timestamp, ack.accepted, ack.signature)) err = new ProtocolViolationError(`${peer} sent a receipt whose signature does not verify`)
    if (err != null) {
      this.failSession(peer, session, err)
      throw err
    }
    // The receiver closes the stream after a rejection; batches behind this one fail and are retried.
    if (rejected.length > 0) this.failSession(peer, session, new Error('receiver closed the stream after a rejection'))
    return { accepted, rejected, timestamp: Number(ack.timestamp) }
  }

  private async session (peer: PeerId, options: AbortOptions): Promise<Session> {
    const key = peer.toString()
    const existing = this.sessions.get(key)
    if (existing != null && existing.failure == null && existing.stream.status === 'open' && existing.stream.writeStatus === 'writable' && existing.stream.remoteWriteStatus === 'writable') {
      return existing
    }
    if (existing != null) this.failSession(peer, existing, new Error('stream no longer open'))
    // Concurrent deliveries to one peer wait for the same stream instead of opening several.
    let opening = this.opening.get(key)
    if (opening == null) {
      opening = this.openSession(peer, options).finally(() => { this.opening.delete(key) })
      this.opening.set(key, opening)
    }
    return await opening
  }

  private async openSession (peer: PeerId, options: AbortOptions): Promise<Session> {
    const stream = await this.components.connectionManager.openStream(peer, DM_PROTOCOL, { ...options, runOnLimitedConnection: true })
    const session: Session = { stream, pb: pbStream(stream, FRAME_OPTIONS), pending: [], writes: Promise.resolve() }
    stream.addEventListener('close', () => { this.failSession(peer, session, new Error('stream closed')) }, { once: true })
    this.sessions.set(peer.toString(), session)
    return session
  }

  /** Closes an idle session cleanly. */
  private closeSession (peer: PeerId, session: Session): void {
    if (session.pending.length > 0) return
    if (this.sessions.get(peer.toString()) === session) this.sessions.delete(peer.toString())
    session.stream.close().catch(err => { session.stream.abort(err) })
  }

  /** Fails every batch in flight on the session and aborts its stream. Idempotent. */
  private failSession (peer: PeerId, session: Session, err: Error): void {
    clearTimeout(session.idleTimer)
    if (this.sessions.get(peer.toString()) === session) this.sessions.delete(peer.toString())
    if (session.failure != null) return
    session.failure = err
    for (const waiting of session.pending.splice(0)) waiting.reject(err)
    if (session.stream.status === 'open') session.stream.abort(err)
  }
}
