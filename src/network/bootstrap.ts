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
import type { Libp2p, Logger } from '@libp2p/interface'

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

/** First delay before bootstrap peers are dialled again while none is connected; it doubles. */
export const REDIAL_MIN_MS = 2000
/** Longest delay between such redials. */
export const REDIAL_MAX_MS = 60_000
const REDIAL_TIMEOUT_MS = 10_000
/** How often a node connected to a bootstrap peer checks that it still is. */
const CHECK_INTERVAL_MS = 30_000

export interface BootstrapKeeperInit {
  /** The bootstrap addresses, each ending in /p2p/<peer id>. */
  addrs: string[]
  libp2p: Pick<Libp2p, 'dial' | 'getConnections'>
  log: Logger
}

/**
 * Dials the bootstrap peers again while the node is connected to none of them. libp2p's
 * bootstrap discovery dials each once at start: a node that started before its network was up,
 * or while the bootstrap peers were busy or restarting, would otherwise stay cut off until it
 * restarted. Delays grow from REDIAL_MIN_MS to REDIAL_MAX_MS and start over once one connects.
 */
export class BootstrapKeeper {
  private readonly init: BootstrapKeeperInit
  private readonly peers: string[]
  private timer?: ReturnType<typeof setTimeout>
  private delay = REDIAL_MIN_MS
  private controller?: AbortController
  /** Redials made since start, for status and tests. */
  redials = 0

  constructor (init: BootstrapKeeperInit) {
    this.init = init
    this.peers = init.addrs.map(bootstrapPeer)
  }

  start (): void {
    if (this.init.addrs.length === 0) return
    this.controller = new AbortController()
    this.schedule()
  }

  stop (): void {
    clearTimeout(this.timer)
    this.timer = undefined
    this.controller?.abort()
    this.controller = undefined
  }

  private connected (): boolean {
    return this.init.libp2p.getConnections().some(c => this.peers.includes(c.remotePeer.toString()))
  }

  private schedule (): void {
    this.timer = setTimeout(() => { void this.check() }, this.delay)
  }

  private async check (): Promise<void> {
    const controller = this.controller
    if (controller == null) return
    if (this.connected()) {
      this.delay = CHECK_INTERVAL_MS
    } else {
      if (this.delay === CHECK_INTERVAL_MS) this.delay = REDIAL_MIN_MS
      this.redials++
      this.init.log('connected to none of %d bootstrap peer(s): dialling them again', this.init.addrs.length)
      const signal = AbortSignal.any([controller.signal, AbortSignal.timeout(REDIAL_TIMEOUT_MS)])
      await Promise.allSettled(this.init.addrs.map(async addr => this.init.libp2p.dial(multiaddr(addr), { signal })))
      this.delay = this.connected() ? CHECK_INTERVAL_MS : Math.min(this.delay * 2, REDIAL_MAX_MS)
    }
    if (this.controller === controller) this.schedule()
  }
}
