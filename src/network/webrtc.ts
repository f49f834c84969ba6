/**
 * WebRTC for hole punching (src/network/hole-punch.ts): libp2p's private-to-private WebRTC
 * transport, with ICE servers taken from the node's home relays (each serves STUN on UDP at its
 * TCP port number; src/network/stun-server.ts) and from configuration. No server of anyone
 * else's is asked by default.
 */
import { webRTC } from '@libp2p/webrtc'
import { cleanup as releaseDataChannels } from 'node-datachannel'
import { multiaddr } from '@multiformats/multiaddr'

/** STUN servers handed to ICE at most: each one adds a round of candidate gathering. */
export const MAX_STUN_SERVERS = 4

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
export function relayStunUrls (relayAddrs: string[]): string[] {
  const urls: string[] = []
  for (const text of relayAddrs) {
    let components
    try { components = multiaddr(text).getComponents() } catch { continue }
    const [host, transport, next] = components
    if (host == null || transport?.name !== 'tcp' || next?.name !== 'p2p') continue
    if (host.name === 'ip4' || host.name === 'dns4' || host.name === 'dns') urls.push(`stun:${host.value}:${transport.value}`)
    else if (host.name === 'ip6') urls.push(`stun:[${host.value}]:${transport.value}`)
  }
  return urls
}

/** Where the transport gets its STUN servers, asked afresh for each connection. */
export interface StunSource {
  stunServers: () => string[]
}

/** The WebRTC transport with ICE servers from `source`. */
export function webrtcTransport (source: StunSource): ReturnType<typeof webRTC> {
  return webRTC({
    rtcConfiguration: () => ({ iceServers: source.stunServers().slice(0, MAX_STUN_SERVERS).map(urls => ({ urls })) })
  })
}

/** Nodes in this process that run the WebRTC transport now. */
let running = 0

/**
 * Counts a node that runs the WebRTC transport; the function returned uncounts it. When the last
 * one in the process stops, libdatachannel's threads and sockets are released (its `cleanup()`):
 * a data channel that never saw its close event otherwise keeps the process alive after every
 * node has stopped (murat-dogan/node-datachannel#349). libp2p no longer calls it on stop because
 * it closes every peer connection in the process (libp2p/js-libp2p#2498), which is why this
 * waits for the last pigeon node; another user of node-datachannel in the same process would
 * lose its connections then too.
 */
export function holdDataChannels (): () => void {
  running++
  let released = false
  return () => {
    if (released) return
    released = true
    if (--running === 0) releaseDataChannels()
  }
}
