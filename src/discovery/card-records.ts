/**
 * Card records: the only kind of record pigeon's DHT stores. A node publishes its signed contact
 * card under `/pigeon-card/<peer id>`, so anyone who knows the peer id can find where it is and
 * which relays hold its mail. Every DHT node checks a record before it stores or believes it:
 *
 * - the key names a peer id and the card inside is that peer's, signed by it (nobody can publish
 *   a card for someone else);
 * - it fits the card size cap, and carries an expiry that has not passed and is at most
 *   MAX_CARD_RECORD_TTL_MS after the card was made;
 * - it is not older than a card this node has already seen for that peer (a replayed old card
 *   cannot roll a peer back to addresses it left);
 *
 * and when several copies are found, the newest card (its timestamp is its sequence number) wins.
 */
import { peerIdFromString } from '@libp2p/peer-id'
import { decodeCardBytes, MAX_CARD_BYTES, type ContactCard } from '../contacts/card.js'
import type { PeerId } from '@libp2p/interface'

/** The DHT key namespace of card records. */
export const CARD_NAMESPACE = 'pigeon-card'
const KEY_PREFIX = `/${CARD_NAMESPACE}/`
/** How long a published card record is valid: republished well before, and whenever it changes. */
export const CARD_RECORD_TTL_MS = 24 * 60 * 60_000
/** The longest expiry a record may carry, counted from when its card was made. */
export const MAX_CARD_RECORD_TTL_MS = 7 * 24 * 60 * 60_000
/** How far in the future a card's timestamp may be (clock skew) before it is refused. */
export const MAX_CLOCK_SKEW_MS = 10 * 60_000
/** Peers whose newest card timestamp a node remembers, to refuse replays of older cards. */
const REMEMBERED_PEERS = 10_000

/** Why a record was refused: the label values of pigeon_dht_records_refused_total. */
export const CARD_REFUSALS = ['key', 'oversize', 'malformed', 'signature', 'wrong-peer', 'expired', 'future', 'stale', 'kind'] as const
export type CardRefusal = typeof CARD_REFUSALS[number]

export class CardRecordError extends Error {
  override name = 'CardRecordError'
  constructor (readonly reason: CardRefusal, message: string) {
    super(message)
  }
}

/** The DHT key of a peer's card record. */
export function cardRecordKey (peer: PeerId | string): Uint8Array {
  return new TextEncoder().encode(KEY_PREFIX + peer.toString())
}

/** The peer id a card record key names; throws CardRecordError for any other key. */
export function peerOfCardKey (key: Uint8Array): string {
  const text = new TextDecoder('utf-8', { fatal: false }).decode(key)
  if (!text.startsWith(KEY_PREFIX)) throw new CardRecordError('key', 'not a card record key')
  const peer = text.slice(KEY_PREFIX.length)
  try {
    if (peerIdFromString(peer).type !== 'Ed25519') throw new Error('not Ed25519')
  } catch {
    throw new CardRecordError('key', 'a card record key must end in an Ed25519 peer id')
  }
  return peer
}

export interface CardRecordsInit {
  /** The clock, for tests. @default Date.now */
  now?: () => number
}

/** The DHT validator and selector for card records, with counts of what they refused. */
export class CardRecords {
  /** Records refused since start, by reason. */
  readonly refused: Record<CardRefusal, number> = Object.fromEntries(CARD_REFUSALS.map(r => [r, 0])) as Record<CardRefusal, number>
  private readonly now: () => number
  /** The newest card timestamp seen per peer, oldest entry first (bounded). */
  private readonly newest = new Map<string, number>()

  constructor (init: CardRecordsInit = {}) {
    this.now = init.now ?? Date.now
  }

  /** Checks a card record (throws CardRecordError, counted) and returns its card. */
  check (key: Uint8Array, value: Uint8Array): ContactCard {
    try {
      const card = this.verify(key, value)
      this.remember(card.peerId.toString(), card.timestamp)
      return card
    } catch (err) {
      const reason = err instanceof CardRecordError ? err.reason : 'malformed'
      this.refused[reason]++
      throw err instanceof CardRecordError ? err : new CardRecordError('malformed', String((err as Error)?.message ?? err))
    }
  }

  /** The kad-dht validator for the card namespace. */
  readonly validate = async (key: Uint8Array, value: Uint8Array): Promise<void> => {
    this.check(key, value)
  }

  /** The kad-dht validator for every namespace pigeon does not store: refuses, counted. */
  readonly refuse = async (): Promise<void> => {
    this.refused.kind++
    throw new CardRecordError('kind', 'pigeon\'s DHT stores card records only')
  }

  /** The kad-dht selector: the index of the newest valid card among `records`. */
  readonly select = (key: Uint8Array, records: Uint8Array[]): number => {
    let best = 0
    let newest = -1
    records.forEach((value, i) => {
      try {
        const { timestamp } = this.verify(key, value)
        if (timestamp > newest) {
          best = i
          newest = timestamp
        }
      } catch {}
    })
    return best
  }

  private verify (key: Uint8Array, value: Uint8Array): ContactCard {
    const peer = peerOfCardKey(key)
    if (value.byteLength > MAX_CARD_BYTES) throw new CardRecordError('oversize', `a card record is at most ${MAX_CARD_BYTES} bytes`)
    let card: ContactCard
    try {
      card = decodeCardBytes(value)
    } catch (err: any) {
      throw new CardRecordError(/signature/.test(err.message) ? 'signature' : 'malformed', err.message)
    }
    if (card.peerId.toString() !== peer) throw new CardRecordError('wrong-peer', 'the card is not the one of the peer its key names')
    const now = this.now()
    if (card.timestamp > now + MAX_CLOCK_SKEW_MS) throw new CardRecordError('future', 'the card was made in the future')
    if (card.expires === 0 || card.expires <= now || card.expires > card.timestamp + MAX_CARD_RECORD_TTL_MS) {
      throw new CardRecordError('expired', 'the card record has no valid expiry, or it has passed')
    }
    const seen = this.newest.get(peer)
    if (seen != null && card.timestamp < seen) throw new CardRecordError('stale', 'a newer card for that peer is known')
    return card
  }

  private remember (peer: string, timestamp: number): void {
    this.newest.delete(peer)
    this.newest.set(peer, timestamp)
    if (this.newest.size > REMEMBERED_PEERS) this.newest.delete(this.newest.keys().next().value as string)
  }
}
