/**
 * Hole punching: a relayed connection that this node dialled is upgraded to a direct WebRTC
 * connection, with ICE doing the punching (signalled over the relayed connection, its candidates
 * learned from STUN servers: the home relays' and any configured). The relay is then only the
 * introducer: once the direct connection is up, the relayed one is closed.
 *
 * Why WebRTC and not DCUtR: a namespace NAT lab showed js-libp2p's DCUtR never goes direct (over
 * TCP or QUIC) with libp2p 3, for reasons in docs/architecture.md section 13.7; private-to-private
 * WebRTC did, in about a second.
 *
 * Only the dialling side tries: the peer it dialled has a reservation on that relay, so the
 * circuit address the relayed connection came over, with `/webrtc` added, reaches it. A peer
 * behind a NAT that defeats hole punching (a random port per destination) fails the ICE checks;
 * it is not tried again for RETRY_AFTER_MS and stays reachable through the relay.
 */
import { multiaddr, type Multiaddr } from '@multiformats/multiaddr'
import { TypedEventEmitter } from 'main-event'
import type { Connection, IdentifyResult, Libp2pEvents, Logger, PeerId } from '@libp2p/interface'
import type { TypedEventTarget } from 'main-event'

/** libp2p's WebRTC signalling protocol: a peer that lists it can take a WebRTC dial. */
export const SIGNALING_PROTOCOL = '/webrtc-signaling/0.0.1'
/** How long one attempt may take, signalling and ICE together. */
export const ATTEMPT_TIMEOUT_MS = 20_000
/** After a failed attempt, how long before that peer is tried again. */
export const RETRY_AFTER_MS = 10 * 60_000
/** How long closing the relayed connection after an upgrade may take before it is aborted. */
const CLOSE_RELAYED_MS = 5_000
/** Peers remembered as failed, at most (the oldest is forgotten first). */
const MAX_FAILED = 1_000

export interface HolePunchStats {
  /** Upgrades tried. */
  attempts: number
  /** Upgrades that gave a direct connection. */
  direct: number
  /** Upgrades that did not (timed out, refused, or ICE found no path). */
  failed: number
}

export interface HolePunchEvents {
  /** One upgrade attempt ended, as `{ peer, outcome: 'direct' | 'failed', ms }`. */
  'hole-punch': CustomEvent<{ peer: string, outcome: 'direct' | 'failed', ms: number }>
}

/** What the upgrader uses of libp2p. */
export interface HolePunchNetwork {
  addEventListener: TypedEventTarget<Libp2pEvents>['addEventListener']
  removeEventListener: TypedEventTarget<Libp2pEvents>['removeEventListener']
  dial: (addr: Multiaddr, options: { signal: AbortSignal }) => Promise<Connection>
  getConnections: (peer: PeerId) => Connection[]
}

export interface HolePunchInit {
  libp2p: HolePunchNetwork
  log: Logger
  /** Per attempt; ATTEMPT_TIMEOUT_MS by default. */
  timeout?: number
  now?: () => number
}

/** The WebRTC address behind a relayed connection's remote address, or undefined when it is not a circuit. */
export function webrtcAddress (circuit: Multiaddr): Multiaddr | undefined {
  const components = circuit.getComponents()
  const at = components.findIndex(c => c.name === 'p2p-circuit')
  const peer = components.at(-1)
  if (at < 0 || peer?.name !== 'p2p' || at !== components.length - 2) return undefined
  if (components.some(c => c.name === 'webrtc')) return undefined
  const relayPart = components.slice(0, at + 1).map(c => c.value == null ? `/${c.name}` : `/${c.name}/${c.value}`).join('')
  return multiaddr(`${relayPart}/webrtc/p2p/${peer.value}`)
}

export class HolePuncher extends TypedEventEmitter<HolePunchEvents> {
  private readonly init: HolePunchInit
  private readonly stats: HolePunchStats = { attempts: 0, direct: 0, failed: 0 }
  private readonly inFlight = new Map<string, AbortController>()
  private readonly failedAt = new Map<string, number>()
  private readonly onIdentify = (evt: CustomEvent<IdentifyResult>): void => { this.identified(evt.detail) }
  private running = false

  constructor (init: HolePunchInit) {
    super()
    this.init = init
  }

  start (): void {
    if (this.running) return
    this.running = true
    this.init.libp2p.addEventListener('peer:identify', this.onIdentify)
  }

  stop (): void {
    this.running = false
    this.init.libp2p.removeEventListener('peer:identify', this.onIdentify)
    for (const controller of this.inFlight.values()) controller.abort()
    this.inFlight.clear()
  }

  counts (): HolePunchStats {
    return { ...this.stats }
  }

  private identified (result: IdentifyResult): void {
    const connection = result.connection
    if (!this.running || connection.direct || connection.direction !== 'outbound') return
    if (!result.protocols.includes(SIGNALING_PROTOCOL)) return
    void this.upgrade(connection)
  }

  /** Tries once to replace `relayed` by a direct connection to the same peer. */
  async upgrade (relayed: Connection): Promise<boolean> {
    const peer = relayed.remotePeer.toString()
    const target = webrtcAddress(relayed.remoteAddr)
    if (target == null || this.inFlight.has(peer)) return false
    const now = this.init.now ?? Date.now
    const failed = this.failedAt.get(peer)
    if (failed != null && now() - failed < RETRY_AFTER_MS) return false
    if (this.init.libp2p.getConnections(relayed.remotePeer).some(c => c.direct && c.limits == null)) return false
    const controller = new AbortController()
    this.inFlight.set(peer, controller)
    this.stats.attempts++
    const began = now()
    const signal = AbortSignal.any([controller.signal, AbortSignal.timeout(this.init.timeout ?? ATTEMPT_TIMEOUT_MS)])
    try {
      const direct = await this.dialTwice(target, signal)
      if (!direct.direct || direct.limits != null) throw new Error(`the dial gave a relayed connection (${direct.remoteAddr.toString()})`)
      this.stats.direct++
      this.failedAt.delete(peer)
      this.init.log('direct connection to %s after %d ms', peer, now() - began)
      this.safeDispatchEvent('hole-punch', { detail: { peer, outcome: 'direct', ms: now() - began } })
      await this.closeRelayed(relayed)
      return true
    } catch (err: any) {
      if (!this.running) return false
      this.stats.failed++
      this.failedAt.delete(peer)
      this.failedAt.set(peer, now())
      if (this.failedAt.size > MAX_FAILED) this.failedAt.delete(this.failedAt.keys().next().value as string)
      this.init.log('no direct connection to %s (%s): staying relayed', peer, err.message)
      this.safeDispatchEvent('hole-punch', { detail: { peer, outcome: 'failed', ms: now() - began } })
      return false
    } finally {
      this.inFlight.delete(peer)
    }
  }

  /**
   * libp2p gives one address 6 s (its addressDialTimeout), and ICE through a relay's signalling
   * can take longer on a loaded machine (seen in CI: the loopback test failed that way about once
   * in eight runs beside a CPU-heavy one). A dial that ran out of that time is tried once more,
   * within the attempt's own deadline; any other failure (ICE failed, no answer) is final.
   */
  private async dialTwice (target: Multiaddr, signal: AbortSignal): Promise<Connection> {
    try {
      return await this.init.libp2p.dial(target, { signal })
    } catch (err: any) {
      const timedOut = err.name === 'TimeoutError' || /aborted due to timeout/.test(err.message ?? '')
      if (!timedOut || signal.aborted || !this.running) throw err
      this.init.log('dialling %a ran out of libp2p\'s time for one address; once more', target)
      return await this.init.libp2p.dial(target, { signal })
    }
  }

  /** Closes the relayed connection now that a direct one carries new streams; streams open on it finish first. */
  private async closeRelayed (relayed: Connection): Promise<void> {
    if (relayed.status !== 'open') return
    await relayed.close({ signal: AbortSignal.timeout(CLOSE_RELAYED_MS) }).catch((err: Error) => { relayed.abort(err) })
  }
}
