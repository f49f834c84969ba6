/**
 * Announced addresses: public addresses a node publishes without listening on them itself, as a
 * relay on a cloud VM, in Docker or behind port forwarding needs (its listen addresses are private
 * ones, 0.0.0.0 or a container's). They go first in the node's contact card and in identify.
 */
import { multiaddr, type Multiaddr } from '@multiformats/multiaddr'
import { firstBadAddr, isLoopback } from './addrs.js'

/** Why an address cannot be announced, or undefined when it can. */
export function announceProblem (addr: string): string | undefined {
  let ma: Multiaddr
  try {
    ma = multiaddr(addr)
  } catch {
    return 'is not a multiaddr'
  }
  const [host, transport] = ma.getComponents()
  if (host == null || !['ip4', 'ip6', 'dns', 'dns4', 'dns6'].includes(host.name) || host.value == null) {
    return 'must start with /ip4, /ip6, /dns, /dns4 or /dns6'
  }
  if (transport?.name !== 'tcp' || transport.value == null || Number(transport.value) === 0) {
    return 'must name a TCP port (/tcp/N, with /ws after it for WebSockets), not port 0'
  }
  if (ma.getComponents().some(c => c.name === 'p2p')) return 'must not name a peer id (/p2p): the node adds its own'
  if (isLoopback(host.name, host.value)) return 'is a loopback address: other machines cannot reach it, so it is never announced'
  if (host.name === 'ip4' && host.value === '0.0.0.0') return 'is the unspecified address, not one peers can dial'
  if (host.name === 'ip6' && (host.value === '::' || host.value === '0:0:0:0:0:0:0:0')) return 'is the unspecified address, not one peers can dial'
  return undefined
}

/** The addresses, checked: throws naming the first one that cannot be announced. */
export function announceAddrs (addrs: string[]): Multiaddr[] {
  const bad = firstBadAddr(addrs, announceProblem)
  if (bad != null) throw new TypeError(`announce address ${JSON.stringify(bad.addr)} ${bad.why}`)
  return addrs.map(addr => multiaddr(addr))
}

/** An address as announced: without the node's own trailing /p2p. */
const bare = (a: Multiaddr): string => a.decapsulateCode(421).toString()

/** `addrs` with the announced ones first, each once. */
export function announcedFirst (addrs: Multiaddr[], announced: Multiaddr[]): Multiaddr[] {
  const rest = withoutAnnounced(addrs, announced)
  return [...addrs.filter(a => !rest.includes(a)), ...rest]
}

/** `addrs` without the announced ones: what the node really listens on. */
export function withoutAnnounced (addrs: Multiaddr[], announced: Multiaddr[]): Multiaddr[] {
  const skip = new Set(announced.map(bare))
  return addrs.filter(a => !skip.has(bare(a)))
}
