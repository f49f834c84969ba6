/**
 * Bootstrap peers: nodes a node connects to when it starts, to join the network beyond the peers
 * it already knows (the DHT, later, finds everything else through them). Each one is a multiaddr
 * that ends in the peer's id, such as `/ip4/198.18.0.10/tcp/4001/p2p/12D3KooW…`. libp2p's
 * `@libp2p/bootstrap` dials them in the background: an unreachable one never holds up start.
 */
import { bootstrap } from '@libp2p/bootstrap'
import { peerIdFromString } from '@libp2p/peer-id'
import { multiaddr, type Multiaddr } from '@multiformats/multiaddr'
import { firstBadAddr } from './addrs.js'

/** Delay from start to the first bootstrap dials: none, start has already returned by then. */
const BOOTSTRAP_DELAY_MS = 0

/** Why an address cannot be a bootstrap peer, or undefined when it can. */
export function bootstrapProblem (addr: string): string | undefined {
  let ma: Multiaddr
  try {
    ma = multiaddr(addr)
  } catch {
    return 'is not a multiaddr'
  }
  const components = ma.getComponents()
  const last = components.at(-1)
  if (last?.name !== 'p2p' || last.value == null) return 'must end in the peer\'s id (/p2p/<peer id>)'
  try {
    peerIdFromString(last.value)
  } catch {
    return `ends in "${last.value}", which is not a peer id`
  }
  if (components.length < 3 || !['ip4', 'ip6', 'dns', 'dns4', 'dns6', 'dnsaddr'].includes(components[0].name)) {
    return 'must say where the peer is (/ip4, /ip6 or /dns… and a transport) before its /p2p id'
  }
  return undefined
}

/** The addresses, checked: throws naming the first that cannot be a bootstrap peer. */
export function checkBootstrap (addrs: string[]): string[] {
  const bad = firstBadAddr(addrs, bootstrapProblem)
  if (bad != null) throw new TypeError(`bootstrap address ${JSON.stringify(bad.addr)} ${bad.why}`)
  return addrs
}

/** The peer id a bootstrap address ends in ('' for an address that is not one). */
export function bootstrapPeer (addr: string): string {
  try {
    return multiaddr(addr).getComponents().at(-1)?.value ?? ''
  } catch {
    return ''
  }
}

/** libp2p's bootstrap discovery for these addresses, or nothing for none. */
export function bootstrapDiscovery (addrs: string[]): Array<ReturnType<typeof bootstrap>> {
  return addrs.length === 0 ? [] : [bootstrap({ list: addrs, timeout: BOOTSTRAP_DELAY_MS })]
}
