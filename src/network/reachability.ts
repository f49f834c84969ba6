/**
 * Whether other peers can dial this node: 'public' when it has a public address that is vouched
 * for (announced by its operator, or dialled back by a peer through AutoNAT); 'unknown' when it
 * listens on a public address nobody has dialled back yet (AutoNAT asks peers to; a firewall can
 * keep it so); 'private' when every address it has is private or loopback, so it is behind NAT
 * or on a LAN only, and reachable from beyond through its relays (and hole punching).
 *
 * Public and private are libp2p's classification (`isPrivate` of @libp2p/utils), so 198.18.0.0/15
 * and the documentation ranges count as private.
 */
import { isPrivate } from '@libp2p/utils'
import type { Multiaddr } from '@multiformats/multiaddr'

export const REACHABILITIES = ['public', 'unknown', 'private'] as const
export type Reachability = typeof REACHABILITIES[number]

/** An address a peer could dial this node at directly: an IP or DNS address, not through a relay. */
function direct (ma: Multiaddr): boolean {
  const components = ma.getComponents()
  return !components.some(c => c.name === 'p2p-circuit' || c.name === 'webrtc') && ['ip4', 'ip6', 'dns', 'dns4', 'dns6'].includes(components[0]?.name ?? '')
}

function isPublic (ma: Multiaddr): boolean {
  try {
    return direct(ma) && !isPrivate(ma)
  } catch {
    return false
  }
}

/**
 * The reachability, and the public addresses bound but not (yet) given to peers.
 *
 * @param listening - every address the transports are bound to (ports chosen)
 * @param advertised - the addresses the node gives peers: libp2p's getMultiaddrs(), which holds a
 * public one only once it is announced or verified
 */
export function reachability (listening: Multiaddr[], advertised: Multiaddr[]): { reachability: Reachability, unverified: string[] } {
  const given = new Set(advertised.map(a => a.decapsulateCode(421).toString()))
  const unverified = listening.filter(a => isPublic(a) && !given.has(a.decapsulateCode(421).toString())).map(a => a.toString())
  if (advertised.some(isPublic)) return { reachability: 'public', unverified }
  return { reachability: unverified.length > 0 ? 'unknown' : 'private', unverified }
}
