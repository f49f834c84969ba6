/**
 * NAT traversal as one part of the node: hole punching with WebRTC (src/network/hole-punch.ts),
 * the STUN servers it asks (the home relays' and configured ones), a relay's own STUN server
 * (src/network/stun-server.ts), and whether peers can dial this node (src/network/reachability.ts).
 */
import { TypedEventEmitter } from 'main-event'
import { HolePuncher, type HolePunchEvents, type HolePunchNetwork, type HolePunchStats } from './hole-punch.js'
import { StunServer, type StunStats } from './stun-server.js'
import { relayStunUrls } from './stun-urls.js'
import { reachability, type Reachability } from './reachability.js'
import { levelled, type LevelLogger } from '../ops/log.js'
import type { ComponentLogger } from '@libp2p/interface'
import type { Multiaddr } from '@multiformats/multiaddr'

/** What NAT traversal reports in NodeStatus.nat. */
export interface NatStatus {
  /** Whether peers can dial this node. */
  reachability: Reachability
  /** Public addresses bound but not yet dialled back by a peer, so not yet given to peers. */
  unverified: string[]
  /** Whether this node asks its router for a port mapping with UPnP. */
  upnp: boolean
  /** Whether this node hole-punches with WebRTC. */
  webrtc: boolean
  /** The STUN servers WebRTC would ask now. */
  stunServers: string[]
  /** Upgrade attempts since start (null with WebRTC off). */
  holePunch: HolePunchStats | null
  /** A relay's STUN server: its UDP port and what it answered (null when it runs none). */
  stunServer: (StunStats & { port: number }) | null
}

/** The node's own addresses, as NAT traversal needs them. */
export interface OwnAddresses {
  /** Every address the transports are bound to. */
  listening(): Multiaddr[]
  /** The addresses given to peers (libp2p's getMultiaddrs()). */
  advertised(): Multiaddr[]
}

/** The node's home relays, whose addresses give the STUN servers. */
export interface StunRelays {
  addresses(): Multiaddr[]
}

export interface NatTraversalInit {
  network: HolePunchNetwork
  addresses: OwnAddresses
  relays: StunRelays
  /** UPnP runs (libp2p's upnp-nat service); reported only. */
  upnp: boolean
  /** Hole-punch with WebRTC (the transport is then among libp2p's). */
  webrtc: boolean
  /** Answer STUN on UDP at the first TCP listen port (a relay). */
  serveStun: boolean
  /** Configured STUN servers, asked before the home relays'. */
  stun: string[]
  /** Counts this node among the process's WebRTC users; the function returned uncounts it. */
  holdDataChannels?: () => () => void
  logger: ComponentLogger
}

export class NatTraversal extends TypedEventEmitter<HolePunchEvents> {
  private readonly init: NatTraversalInit
  private readonly log: LevelLogger
  private readonly holePuncher?: HolePuncher
  private readonly stunServer?: StunServer
  private release?: () => void

  constructor (init: NatTraversalInit) {
    super()
    this.init = init
    this.log = levelled(init.logger.forComponent('pigeon:nat'))
    if (init.webrtc) {
      this.holePuncher = new HolePuncher({ libp2p: init.network, log: init.logger.forComponent('pigeon:hole-punch') })
      this.holePuncher.addEventListener('hole-punch', (evt) => { this.safeDispatchEvent('hole-punch', { detail: evt.detail }) })
    }
    if (init.serveStun) this.stunServer = new StunServer({ log: init.logger.forComponent('pigeon:stun') })
  }

  /** Runs once libp2p has started (the listen ports are bound). */
  async start (): Promise<void> {
    if (this.holePuncher != null) {
      this.release = this.init.holdDataChannels?.()
      this.holePuncher.start()
    }
    await this.startStun()
  }

  /** Runs before libp2p stops: no new upgrade starts, attempts in flight are aborted. */
  async stop (): Promise<void> {
    this.holePuncher?.stop()
    await this.stunServer?.stop()
  }

  /** Runs after libp2p has stopped (its WebRTC connections are closed). */
  released (): void {
    this.release?.()
    this.release = undefined
  }

  /** STUN servers WebRTC asks now: the configured ones, then each home relay's. */
  stunServers (): string[] {
    return [...new Set([...this.init.stun, ...relayStunUrls(this.init.relays.addresses())])]
  }

  status (): NatStatus {
    const port = this.stunServer?.port() ?? 0
    return {
      ...reachability(this.init.addresses.listening(), this.init.addresses.advertised()),
      upnp: this.init.upnp,
      webrtc: this.holePuncher != null,
      stunServers: this.stunServers(),
      holePunch: this.holePuncher?.counts() ?? null,
      stunServer: this.stunServer == null || port === 0 ? null : { port, ...this.stunServer.counts() }
    }
  }

  /**
   * A relay answers STUN on UDP at its first TCP listen port, where the nodes it serves expect it
   * (src/network/stun-urls.ts, relayStunUrls). A port already taken costs hole punching, not the relay.
   */
  private async startStun (): Promise<void> {
    if (this.stunServer == null) return
    const tcp = this.init.addresses.listening().map(a => a.getComponents()).find(c => c[1]?.name === 'tcp' && (c[2] == null || c[2].name === 'p2p'))
    const port = Number(tcp?.[1].value ?? 0)
    if (port === 0) return
    try {
      await this.stunServer.start(port)
      this.log.info('answering STUN on udp port %d', port)
    } catch (err: any) {
      this.log.warn('cannot answer STUN on udp port %d (%s): nodes behind NAT cannot learn their public address here', port, err.message)
    }
  }
}
