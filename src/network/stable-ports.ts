/**
 * Stable ports: a listen address with port 0 gets a port from the OS on first start, and the
 * same port on later starts. Contacts keep a node's addresses from its card; if every restart
 * moved the node to a new port, two contacts that both restarted could never find each other
 * again. A remembered port that is taken now falls back to 0, so a node always starts.
 */
import { createServer } from 'node:net'
import { multiaddr, type Multiaddr } from '@multiformats/multiaddr'

/** Which port the OS gave each configured port-0 address last time: configured addr -> port. */
export type PortMemory = Record<string, number>

interface TcpParts { host: string, port: number, ws: boolean, family: 4 | 6 }

function tcpParts (ma: Multiaddr): TcpParts | undefined {
  const components = ma.getComponents()
  const ip = components[0]
  const tcp = components[1]
  if (ip == null || tcp == null || tcp.name !== 'tcp' || (ip.name !== 'ip4' && ip.name !== 'ip6') || ip.value == null || tcp.value == null) return undefined
  return { host: ip.value, port: Number(tcp.value), ws: components.some(c => c.name === 'ws'), family: ip.name === 'ip4' ? 4 : 6 }
}

async function portFree (host: string, port: number): Promise<boolean> {
  return await new Promise<boolean>(resolve => {
    const server = createServer()
    server.once('error', () => { resolve(false) })
    server.listen({ host, port, exclusive: true }, () => { server.close(() => { resolve(true) }) })
  })
}

/** The configured addresses with remembered ports filled in where those ports are free. */
export async function applyPortMemory (configured: string[], memory: PortMemory): Promise<string[]> {
  return await Promise.all(configured.map(async addr => {
    const port = memory[addr]
    let parts: TcpParts | undefined
    try {
      parts = tcpParts(multiaddr(addr))
    } catch {
      return addr
    }
    if (port == null || parts == null || parts.port !== 0) return addr
    if (!await portFree(parts.host, port)) return addr
    return addr.replace(/\/tcp\/0(?=\/|$)/, `/tcp/${port}`)
  }))
}

/** What to remember after start: for each configured port-0 address, the port it got. */
export function learnPorts (configured: string[], listening: Multiaddr[]): PortMemory {
  const memory: PortMemory = {}
  const bound = listening.map(tcpParts).filter((p): p is TcpParts => p != null)
  for (const addr of configured) {
    let parts: TcpParts | undefined
    try {
      parts = tcpParts(multiaddr(addr))
    } catch {
      continue
    }
    if (parts == null || parts.port !== 0) continue
    const wildcard = parts.host === '0.0.0.0' || parts.host === '::'
    const match = bound.find(b => b.ws === parts.ws && b.family === parts.family && (wildcard || b.host === parts.host))
    if (match != null) memory[addr] = match.port
  }
  return memory
}
