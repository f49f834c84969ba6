/**
 * /pigeon/dm/1.0.0: end-to-end encrypted direct messages, delivered in acknowledged batches.
 *
 * The sender writes a Batch frame of envelopes; the receiver hands them to its EnvelopeReceiver
 * (which opens them and persists the good ones), and answers with one Ack frame holding a signed
 * delivery receipt for every id it now holds and the reason for every id it refused.
 * Batches to one peer share a stream and may be pipelined (acks come back in order); a stream is
 * reused until it has been idle a while.
 */
import { DirectMessagesService } from './direct-messages.js'
import type { Body, Envelope } from '../wire/pb/wire.js'
import type { RejectReason } from '../crypto/envelope.js'
import type { AbortOptions, ComponentLogger, PeerId, PrivateKey } from '@libp2p/interface'
import type { ConnectionManager, Registrar } from '@libp2p/interface-internal'

export { DM_PROTOCOL } from './constants.js'

export interface DirectMessagesComponents {
  peerId: PeerId
  privateKey: PrivateKey
  registrar: Registrar
  connectionManager: ConnectionManager
  logger: ComponentLogger
}

/** An envelope that opened and verified, from `sender`. */
export interface IncomingMessage {
  id: Uint8Array
  sender: PeerId
  body: Body
}

/** What became of the envelopes of one batch. */
export interface ReceivedBatch {
  /** Messages that opened and are now durable. */
  accepted: IncomingMessage[]
  /** Envelopes refused, with the reason. */
  rejected: Array<{ id: Uint8Array, reason: RejectReason }>
}

/**
 * Opens envelopes addressed to this node and makes the good ones durable in one step, so that
 * whatever opening them changes (a session's state, with scheme 2) is written with them.
 */
export interface EnvelopeReceiver {
  /**
   * Resolves once every accepted message is durable: the receipt is signed and sent only after.
   * `from` is the peer delivering them directly, which must be each one's sender; absent for
   * mail fetched from a relay. Rejecting aborts the stream without an ack, so the sender retries.
   */
  receive(envelopes: Envelope[], from?: PeerId): Promise<ReceivedBatch>
}

export interface DirectMessagesInit {
  /** Opens and persists each batch received. */
  receiver: EnvelopeReceiver
  /** @default DM_IDLE_TIMEOUT_MS (30 s) */
  idleTimeout?: number
  /** @default DM_ACK_TIMEOUT_MS (15 s) */
  ackTimeout?: number
  /** @default DM_MAX_INBOUND_STREAMS (4) */
  maxInboundStreams?: number
  /** @default DM_MAX_OUTBOUND_STREAMS (4) */
  maxOutboundStreams?: number
  /** Envelopes accepted per peer per second before its batches are delayed. @default DM_INBOUND_RATE (2000) */
  inboundRate?: number
}

export interface DeliveryResult {
  /** Ids (hex) the recipient signed a receipt for: it holds them durably. */
  accepted: string[]
  /** Ids (hex) the recipient refused, with its reason. */
  rejected: Array<{ id: string, reason: RejectReason | 'unknown' }>
  /** The recipient's clock in its receipt, ms since the epoch. */
  timestamp: number
}

export interface DirectMessages {
  /** Sends envelopes to `peer` as one batch and waits for the signed receipt. */
  deliver(peer: PeerId, envelopes: Envelope[], options?: AbortOptions): Promise<DeliveryResult>
}

export function directMessages (init: DirectMessagesInit): (components: DirectMessagesComponents) => DirectMessages {
  return (components) => new DirectMessagesService(components, init)
}
