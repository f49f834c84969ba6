/**
 * pigeon's DHT: libp2p's Kademlia (`@libp2p/kad-dht`) on a protocol of its own, so it never
 * mixes with IPFS's, storing card records only (card-records.ts).
 *
 * Modes: a 'server' answers queries and stores records for others (relays, and any publicly
 * reachable node); a 'client' only asks. 'auto' starts as a client and becomes a server when
 * libp2p learns a public address for the node (kad-dht's own switch).
 */
import { kadDHT, passthroughMapper, removePrivateAddressesMapper, type KadDHT } from '@libp2p/kad-dht'
import { CARD_NAMESPACE, type CardRecords } from './card-records.js'
import type { DhtAddresses, DhtMode } from './constants.js'

export const DHT_PROTOCOL = '/pigeon/kad/1.0.0'
/**
 * A query runs on QUERY_PATHS disjoint paths (S/Kademlia: a server on one path is never asked on
 * another, so capturing one path does not capture the lookup), each with QUERY_ALPHA requests in
 * flight. kad-dht's defaults are 20 paths of 10, which sends a request to every server a node
 * knows at once: a card lookup that stops at LOOKUP_QUORUM copies sent 11.6 requests on average
 * in the 50-node bench, against 6.6 with these values, and its p50 fell from 91 to 36 ms
 * (docs/architecture.md, section 8). Two per path keep a path moving past one server that does
 * not answer.
 */
export const QUERY_PATHS = 3
export const QUERY_ALPHA = 2

export { DHT_MODES, DHT_ADDRESSES, type DhtMode, type DhtAddresses } from './constants.js'

export interface PigeonDhtInit {
  mode: Exclude<DhtMode, 'off'>
  addresses: DhtAddresses
  records: CardRecords
}

export type PigeonDhtFactory = ReturnType<typeof kadDHT>

export function pigeonDht (init: PigeonDhtInit): PigeonDhtFactory {
  return kadDHT({
    protocol: DHT_PROTOCOL,
    clientMode: init.mode === 'auto' ? undefined : init.mode === 'client',
    peerInfoMapper: init.addresses === 'all' ? passthroughMapper : removePrivateAddressesMapper,
    // The built-in public key records ('pk') are refused like any other kind: card records only.
    validators: { [CARD_NAMESPACE]: init.records.validate, pk: init.records.refuse },
    selectors: { [CARD_NAMESPACE]: init.records.select },
    alpha: QUERY_ALPHA,
    disjointPaths: QUERY_PATHS,
    logPrefix: 'pigeon:dht',
    datastorePrefix: '/pigeon-dht',
    metricsPrefix: 'pigeon_libp2p_dht'
  })
}

export type { KadDHT }
