import { multiaddr } from '@multiformats/multiaddr'

/**
 * Binary multiaddrs from the network to strings, dropping those that do not parse; with
 * `relay`, only those ending in /p2p/<peer> (a relay's address).
 */
export function parseAddrs (list: Uint8Array[], relay: boolean): string[] {
  const out: string[] = []
  for (const bytes of list) {
    try {
      // A copy: multiaddr 13 reads a short port field past its end when given a view into a larger buffer.
      const addr = multiaddr(Uint8Array.from(bytes))
      if (!relay || addr.getComponents().at(-1)?.name === 'p2p') out.push(addr.toString())
    } catch {}
  }
  return out
}

/** The first of `addrs` that `problem` refuses, with its reason; undefined when all pass. */
export function firstBadAddr (addrs: string[], problem: (addr: string) => string | undefined): { addr: string, why: string } | undefined {
  for (const addr of addrs) {
    const why = problem(addr)
    if (why != null) return { addr, why }
  }
  return undefined
}

/** Whether a multiaddr's first component (`/ip4`, `/ip6`, `/dns…` and its value) is loopback. */
export function isLoopback (name: string, value: string): boolean {
  if (name === 'ip4') return value.startsWith('127.')
  if (name === 'ip6') return value === '::1' || value === '0:0:0:0:0:0:0:1'
  return value.toLowerCase() === 'localhost' || value.toLowerCase().endsWith('.localhost')
}

