/**
 * STUN server URLs (RFC 7064): those configured, checked, and those a node derives from its home
 * relays, each of which answers STUN on UDP at its TCP port (src/network/stun-server.ts).
 */
import { multiaddr, type Multiaddr } from '@multiformats/multiaddr'

/** Why a STUN server URL cannot be used, or undefined when it can (`stun:host:port`, RFC 7064). */
export function stunProblem (url: string): string | undefined {
  const m = /^stun:(\[[0-9a-fA-F:.]+\]|[A-Za-z0-9.-]+)(?::(\d{1,5}))?$/.exec(url)
  if (m == null) return 'is not a STUN server URL (stun:host or stun:host:port)'
  if (m[2] != null && (Number(m[2]) < 1 || Number(m[2]) > 65535)) return `has port ${m[2]}, which is not from 1 to 65535`
  return undefined
}

/**
 * The STUN URL of each relay address that names a host and a plain TCP port (not WebSockets):
 * `/ip4/198.18.0.11/tcp/4001/p2p/…` gives `stun:198.18.0.11:4001`.
 */
export function relayStunUrls (relayAddrs: Array<Multiaddr | string>): string[] {
  const urls: string[] = []
  for (const addr of relayAddrs) {
    let components
    try { components = (typeof addr === 'string' ? multiaddr(addr) : addr).getComponents() } catch { continue }
    const [host, transport, next] = components
    if (host == null || transport?.name !== 'tcp' || next?.name !== 'p2p') continue
    if (host.name === 'ip4' || host.name === 'dns4' || host.name === 'dns') urls.push(`stun:${host.value}:${transport.value}`)
    else if (host.name === 'ip6') urls.push(`stun:[${host.value}]:${transport.value}`)
  }
  return urls
}
