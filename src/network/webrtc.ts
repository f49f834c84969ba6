/**
 * WebRTC for hole punching (src/network/hole-punch.ts): libp2p's private-to-private WebRTC
 * transport, with ICE servers taken from the node's home relays (each serves STUN on UDP at its
 * TCP port number; src/network/stun-server.ts) and from configuration. No server of anyone
 * else's is asked by default.
 */
import { webRTC } from '@libp2p/webrtc'
import { cleanup as releaseDataChannels } from 'node-datachannel'

/** STUN servers handed to ICE at most: each one adds a round of candidate gathering. */
export const MAX_STUN_SERVERS = 4

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
