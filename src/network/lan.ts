/**
 * Finding peers on the same LAN with mDNS (`@libp2p/mdns`), with no relay and no internet. Only
 * pigeon nodes answer (a service tag of pigeon's own), and a found peer's addresses go into
 * libp2p's peer store: the node can then ask it for its card (/pigeon/card/1.0.0), add it by
 * peer id and message it directly.
 *
 * On by default for desktop nodes that listen on a LAN interface; off for relays (their users
 * are on the internet, not on their LAN) and for nodes that listen on loopback only, which no
 * other machine could dial anyway.
 */
import { mdns } from '@libp2p/mdns'
import { multiaddr } from '@multiformats/multiaddr'
import { isLoopback } from './addrs.js'

/** pigeon's mDNS service tag: IPFS and other libp2p apps on the LAN neither see nor answer it. */
export const MDNS_SERVICE_TAG = '_pigeon._udp.local'

/** Whether any listen address is on an interface other machines can reach (not loopback). */
export function listensBeyondLoopback (listen: string[]): boolean {
  return listen.some(addr => {
    try {
      const host = multiaddr(addr).getComponents()[0]
      return host != null && !isLoopback(host.name, host.value ?? '')
    } catch {
      return false
    }
  })
}

/** Whether mDNS runs: as asked, else on for a non-relay that listens beyond loopback. */
export function mdnsOn (asked: boolean | undefined, relay: boolean, listen: string[]): boolean {
  return asked ?? (!relay && listensBeyondLoopback(listen))
}

/** libp2p's mDNS discovery for pigeon, or nothing. */
export function lanDiscovery (on: boolean): Array<ReturnType<typeof mdns>> {
  return on ? [mdns({ serviceTag: MDNS_SERVICE_TAG })] : []
}

/**
 * Whether to map a port on the home router with UPnP: on for a node that is not a relay and
 * listens beyond loopback (a relay is meant to be public already), unless told.
 */
export function upnpOn (asked: boolean | undefined, relay: boolean, listen: string[]): boolean {
  return asked ?? (!relay && listensBeyondLoopback(listen))
}
