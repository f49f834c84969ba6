/**
 * Numbers on the wire that several parts share: the kinds of a sealed Body, and the reasons a
 * receiver gives for refusing an envelope (docs/protocol.md, sections 5 and 7).
 */
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
