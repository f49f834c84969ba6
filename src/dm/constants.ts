export {
  DM_PROTOCOL,
  DM_IDLE_TIMEOUT_MS,
  DM_ACK_TIMEOUT_MS,
  DM_MAX_INBOUND_STREAMS,
  DM_MAX_OUTBOUND_STREAMS,
  MAX_FRAME_BYTES,
  MAX_BATCH_ENVELOPES,
  MAX_ENVELOPE_BYTES,
  MAX_TEXT_BYTES,
  DM_INBOUND_RATE
} from '../constants.js'

/**
 * The sender closes a stream idle this long: shorter than the receiver's idle timeout, so
 * a sender never writes into a stream the receiver is about to time out.
 */
export const DM_SENDER_IDLE_MS = 10_000

/** Body.kind values. */
export const BODY_KIND = {
  TEXT: 0,
  READ_RECEIPT: 1,
  DELIVERY_RECEIPT: 2,
  CHANNEL_KEY: 3,
  /** No content: only the sender's addresses and relays, which every body carries (sent when they change). */
  WHEREABOUTS: 4
} as const

/** Ack.Rejection.reason values; the names are RejectReason in src/crypto/envelope.ts. */
export const REJECT_REASON_CODES = {
  unknown: 0,
  malformed: 1,
  'wrong-recipient': 2,
  'bad-signature': 3,
  'unsupported-scheme': 4,
  'decrypt-failed': 5,
  'too-large': 6,
  'sender-mismatch': 7,
  'unsupported-kind': 8
} as const
