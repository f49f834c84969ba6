/**
 * /pigeon/mailbox/1.0.0: relays hold sealed envelopes for peers that are offline.
 *
 * Any node can deposit at a relay; only the recipient, authenticated by its Noise-verified peer
 * id, can fetch and delete its own mail. A relay writes a deposit durably before it answers, and
 * tells a connected recipient at once (NOTIFY) that mail is waiting. See docs/protocol.md.
 */
import { MailboxService } from './mailbox-service.js'
import type { DepositRefusal } from './constants.js'
import type { MailboxStore } from './mailbox-store.js'
import type { ArchiveLimits } from '../channels/archive.js'
import type { AbortOptions, ComponentLogger, PeerId } from '@libp2p/interface'
import type { ConnectionManager, Registrar } from '@libp2p/interface-internal'

export { MAILBOX_PROTOCOL } from './constants.js'

export interface MailboxComponents {
  peerId: PeerId
  registrar: Registrar
  connectionManager: ConnectionManager
  logger: ComponentLogger
}

/**
 * What a relay enforces. Every mailbox limit has a default in ./constants.ts; the channel
 * archive's limits (ArchiveLimits) have theirs in ../channels/constants.ts.
 */
export interface RelayLimits extends ArchiveLimits {
  /** 'open' serves any recipient; a list serves only those peer ids. @default 'open' */
  serve?: 'open' | string[]
  /** Envelopes held per recipient. @default DEFAULT_QUOTA_MESSAGES (10000) */
  quotaMessages?: number
  /** Bytes held per recipient. @default DEFAULT_QUOTA_BYTES (64 MiB) */
  quotaBytes?: number
  /** Bytes held for all recipients together. @default DEFAULT_TOTAL_BYTES (1 GiB) */
  totalBytes?: number
  /** Envelopes one depositing peer may leave per minute. @default DEFAULT_DEPOSIT_RATE_PER_MINUTE (6000) */
  depositRatePerMinute?: number
  /** Largest envelope accepted, bytes. @default MAX_ENVELOPE_BYTES (40 KiB) */
  maxEnvelopeBytes?: number
  /** How long unfetched mail is kept, ms. @default DEFAULT_TTL_MS (30 days) */
  ttl?: number
  /** How often expired mail is swept, ms. @default DEFAULT_SWEEP_INTERVAL_MS (1 hour) */
  sweepInterval?: number
}

export interface MailboxInit {
  /** Present on a relay: serve deposits, fetches and deletes from this store. */
  relay?: RelayLimits & { store: MailboxStore }
  /** A home relay says mail is waiting for this node. */
  onNotify?(relay: PeerId): void
  /** Only home relays may send NOTIFY. */
  isHomeRelay?(peer: PeerId): boolean
}

export interface DepositOutcome {
  /** Envelope id, hex. */
  id: string
  /** Undefined when stored (or already held). */
  refused?: DepositRefusal
}

export interface FetchedMail {
  id: string
  envelope: Uint8Array
  storedAt: number
}

/** One page of a FETCH. */
export interface FetchedPage {
  mail: FetchedMail[]
  /** Pass back to fetch the next page. */
  next: Uint8Array
  /**
   * Whether the relay holds more after this page: false after an empty page; undefined from a
   * relay that predates the field (keep fetching until a page comes back empty).
   */
  more?: boolean
  /** What the relay held for this node as it answered (this page included); absent from older relays. */
  held?: { messages: number, bytes: number }
}

export interface MailboxClient {
  deposit(relay: PeerId, envelopes: Uint8Array[], options?: AbortOptions): Promise<DepositOutcome[]>
  fetch(relay: PeerId, cursor: Uint8Array, limit: number, options?: AbortOptions): Promise<FetchedPage>
  delete(relay: PeerId, ids: string[], options?: AbortOptions): Promise<number>
}

export function mailbox (init: MailboxInit = {}): (components: MailboxComponents) => MailboxService {
  return (components) => new MailboxService(components, init)
}

export type { MailboxService }
