/**
 * Which addresses a peer beyond this node's own network can use. Private and loopback addresses
 * are published only to peers on the same network: a card on the DHT, or given to a peer that
 * reached this node from beyond, leaves them out, so that strangers neither learn a home
 * network's layout nor dial addresses that, from where they are, belong to someone else.
 */
import { isPrivate } from '@libp2p/utils'
import type { Multiaddr } from '@multiformats/multiaddr'

/**
 * Whether an address is one only the same network can use: loopback, or private in libp2p's
 * classification (for a circuit, the relay's address decides). DNS names count as public.
 */
export function isLocalOnly (ma: Multiaddr): boolean {
  try {
    return isPrivate(ma)
  } catch {
    return false
  }
}

/** The addresses a peer beyond this node's own network can use. */
export function beyondLocal (addrs: Multiaddr[]): Multiaddr[] {
  return addrs.filter(a => !isLocalOnly(a))
}

/**
 * Whether a connection's remote address says the peer is on this node's own network: a direct
 * connection from a loopback or private address (not through a relay).
 */
export function onSameNetwork (remoteAddr: Multiaddr): boolean {
  return !remoteAddr.getComponents().some(c => c.name === 'p2p-circuit') && isLocalOnly(remoteAddr)
}
