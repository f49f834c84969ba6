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
 * ended or the signal fired.
 */
export async function lookupCard (dht: Pick<KadDHT, 'get'>, peer: PeerId, options: { signal: AbortSignal, stats?: LookupStats }): Promise<LookupResult | undefined> {
  let found: Uint8Array | undefined
  try {
    for await (const event of dht.get(cardRecordKey(peer), { signal: options.signal })) {
      if (event.name === 'SEND_QUERY' && options.stats != null) options.stats.messages++
      if (event.name === 'VALUE') found = event.value
    }
  } catch (err: any) {
    if (!options.signal.aborted) throw err
  }
  if (found == null) return undefined
  return { card: decodeCardBytes(found), bytes: found }
}
