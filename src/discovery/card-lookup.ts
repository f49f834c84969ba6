/**
 * Finding a peer's card by its peer id: a DHT get of its card record, every copy checked by the
 * card record validator and the newest chosen (card-records.ts).
 */
import { decodeCardBytes, type ContactCard } from '../contacts/card.js'
import { cardRecordKey } from './card-records.js'
import type { KadDHT } from './dht.js'
import type { PeerId } from '@libp2p/interface'

/** How long a lookup may take by default before "not found". */
export const LOOKUP_TIMEOUT_MS = 15_000
/**
 * Copies of the record, from different DHT servers, after which a lookup stops and keeps the
 * newest. Without it the query runs on until it has asked all 20 servers closest to the key.
 */
export const LOOKUP_QUORUM = 3

export interface LookupResult {
  card: ContactCard
  /** The card as found, in binary form (an encoded SignedCard). */
  bytes: Uint8Array
}

export interface LookupStats {
  /** DHT requests sent for the lookup. */
  messages: number
}

/**
 * The peer's newest valid card on the DHT, or undefined when none was found before the query
 * ended or the signal fired. kad-dht has checked every copy with the card record validator
 * before it reports it; the lookup stops once LOOKUP_QUORUM servers have answered with one.
 */
export async function lookupCard (dht: Pick<KadDHT, 'get'>, peer: PeerId, options: { signal: AbortSignal, stats?: LookupStats }): Promise<LookupResult | undefined> {
  let best: LookupResult | undefined
  let copies = 0
  const consider = (bytes: Uint8Array): void => {
    const card = decodeCardBytes(bytes)
    if (best == null || card.timestamp > best.card.timestamp) best = { card, bytes }
  }
  try {
    for await (const event of dht.get(cardRecordKey(peer), { signal: options.signal })) {
      if (event.name === 'SEND_QUERY' && options.stats != null) options.stats.messages++
      // The final choice among all copies, when the query ran to its end.
      if (event.name === 'VALUE') consider(event.value)
      if (event.name === 'PEER_RESPONSE' && event.record != null) {
        consider(event.record.value)
        // Leaving the loop ends the query.
        if (++copies >= LOOKUP_QUORUM) break
      }
    }
  } catch (err: any) {
    if (!options.signal.aborted) throw err
  }
  return best
}
