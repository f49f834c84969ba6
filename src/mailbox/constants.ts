/** The mailbox protocol id: deposit, fetch and delete sealed envelopes held by a relay. */
export const MAILBOX_PROTOCOL = '/pigeon/mailbox/1.0.0'

/** Request.type values. */
export const REQUEST_TYPE = {
  DEPOSIT: 1,
  FETCH: 2,
  DELETE: 3,
  NOTIFY: 4
} as const

/** DepositResult.reason values; 0 means stored. */
export const DEPOSIT_RESULT = {
  STORED: 0,
  MALFORMED: 1,
  NOT_SERVED: 2,
  QUOTA_EXCEEDED: 3,
  TOO_LARGE: 4,
  RATE_LIMITED: 5
} as const

export type DepositRefusal = 'malformed' | 'not-served' | 'quota-exceeded' | 'too-large' | 'rate-limited'

export const DEPOSIT_REFUSALS: Record<number, DepositRefusal> = {
  1: 'malformed',
  2: 'not-served',
  3: 'quota-exceeded',
  4: 'too-large',
  5: 'rate-limited'
}

/**
 * Largest mailbox frame: a deposit or a fetched page of envelopes. A page stops before it would
 * cross this, so one envelope (at most MAX_ENVELOPE_BYTES) always fits.
 */
export const MAX_MAILBOX_FRAME_BYTES = 1024 * 1024

/** Envelope bytes in one fetched page at most: the frame less room for the Response around them. */
export const MAILBOX_PAGE_BUDGET = MAX_MAILBOX_FRAME_BYTES - 64 * 1024

/** Envelopes in one deposit, and the largest page a fetch may ask for. */
export const MAX_MAILBOX_BATCH = 256

/** Page size when the client asks for none. */
export const DEFAULT_FETCH_LIMIT = 128

/** Envelopes a relay holds for one recipient by default. */
export const DEFAULT_QUOTA_MESSAGES = 10_000

/** Bytes a relay holds for one recipient by default (10,000 full-size chat messages is ~4 MiB; allow room). */
export const DEFAULT_QUOTA_BYTES = 64 * 1024 * 1024

/**
 * Bytes a relay holds for everyone together. Quotas are per recipient and peer ids cost nothing
 * to make, so without a total an open relay's disk could be filled.
 */
export const DEFAULT_TOTAL_BYTES = 1024 * 1024 * 1024

/** Envelopes one depositing peer may leave per minute, across recipients. */
export const DEFAULT_DEPOSIT_RATE_PER_MINUTE = 6_000

/** How long a relay keeps an envelope nobody fetched. */
export const DEFAULT_TTL_MS = 30 * 24 * 60 * 60 * 1000

/** How often the relay sweeps expired envelopes. */
export const DEFAULT_SWEEP_INTERVAL_MS = 60 * 60 * 1000

/** Deadline for one request/response exchange, and idle time before a mailbox stream is closed. */
export const MAILBOX_TIMEOUT_MS = 15_000

/** Inbound mailbox streams per connection. */
export const MAILBOX_MAX_INBOUND_STREAMS = 8

/**
 * Deposits written to disk in one batch at most (group commit): those that queued while the
 * previous batch was being made durable.
 */
export const MAX_DEPOSIT_GROUP = 128
