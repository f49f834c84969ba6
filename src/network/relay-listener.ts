/**
 * Listening through relays: a node behind NAT reserves a slot on each home relay (circuit relay
 * v2) and so gains `/p2p-circuit` addresses that its contact card carries. libp2p 3 has no
 * public way to add a listen address to a running node; a service is handed the transport
 * manager, so this one exposes exactly that.
 *
 * Reservations are made only on the relays a person chose (their home relays). libp2p's own relay
 * discovery is switched off (see `relayTransport`), and a node that stops first lets every
 * reservation in flight finish or fail: a reservation that completes after libp2p's reservation
 * store has stopped arms a refresh timer (about two hours) that nothing clears, and that timer
 * alone keeps the process alive.
 */
import { circuitRelayTransport } from '@libp2p/circuit-relay-v2'
import { peerIdFromString } from '@libp2p/peer-id'
import { multiaddr, type Multiaddr } from '@multiformats/multiaddr'
import type { Logger, ComponentLogger, PeerId, Startable, TopologyFilter } from '@libp2p/interface'
import type { ConnectionManager, TransportManager } from '@libp2p/interface-internal'

export interface RelayListenerComponents {
  transportManager: TransportManager
  connectionManager: ConnectionManager
  logger: ComponentLogger
}

/** How long stopping waits for the connections to relays with reservations in flight to close. */
const STOP_CLOSE_MS = 1_000
/** How long stopping then waits for those reservations to settle. */
const STOP_SETTLE_MS = 3_000

/** What the relay listener uses of libp2p's circuit relay reservation store. */
interface ReservationStoreLike {
  addRelay(peer: PeerId, type: 'configured'): Promise<unknown>
}

export class RelayListener implements Startable {
  private readonly components: RelayListenerComponents
  private readonly log: Logger
  /** Reservations being made now, by circuit address, so concurrent calls do not race. */
  private readonly pending = new Map<string, { relay: string, done: Promise<void> }>()
  private running = false

  constructor (components: RelayListenerComponents) {
    this.components = components
    this.log = components.logger.forComponent('pigeon:relay-listener')
  }

  readonly [Symbol.toStringTag] = 'pigeon:relay-listener'

  start (): void {
    this.running = true
  }

  /**
   * Runs while libp2p is still up. No new reservation starts; those in flight are cut short by
   * closing the connection they use, and awaited, so each one either failed or was stored where
   * libp2p's reservation store will clear it when it stops.
   */
  async beforeStop (): Promise<void> {
    this.running = false
    const inFlight = [...this.pending.values()]
    if (inFlight.length === 0) return
    const relays = new Set(inFlight.map(p => p.relay))
    // Bounded: libp2p's closeConnections waits for a 'close' event that a connection already
    // closing may never send again; on the deadline it aborts the connection instead.
    await Promise.all([...relays].map(async relay => {
      let peer: PeerId
      try { peer = peerIdFromString(relay) } catch { return }
      await this.components.connectionManager.closeConnections(peer, { signal: AbortSignal.timeout(STOP_CLOSE_MS) }).catch(() => {})
    }))
    // With their connections gone, reservations in flight fail fast; one that redials a relay that
    // does not answer is not waited for past the deadline, so stopping stays bounded.
    let timer: ReturnType<typeof setTimeout> | undefined
    const deadline = new Promise<'late'>(resolve => { timer = setTimeout(() => { resolve('late') }, STOP_SETTLE_MS) })
    const outcome = await Promise.race([Promise.all(inFlight.map(async p => p.done)), deadline])
    clearTimeout(timer)
    if (outcome === 'late') this.log('stopping with %d relay reservation(s) still in flight', this.pending.size)
  }

  stop (): void {
    this.running = false
  }

  /**
   * Reserves a slot on the relay at `relayAddr` (ending in /p2p/<relay>); called whenever a
   * connection to that relay opens. The first time, it listens on the relay's circuit address.
   * After that, the address is still listed even when its reservation is stale: one answered just
   * as the relay shut down outlives its connection inside libp2p, and a restarted relay has
   * forgotten it. So the reservation is renewed through libp2p's reservation store, which keeps
   * one whose connection is still open and replaces one whose connection is gone.
   */
  async listenVia (relayAddr: string): Promise<void> {
    if (!this.running) return
    const circuit = `${relayAddr}/p2p-circuit`
    const relay = relayAddr.slice(relayAddr.lastIndexOf('/p2p/') + 5)
    if (this.pending.has(circuit)) return
    const listed = this.components.transportManager.getAddrs().some(a => a.toString().includes(`/p2p/${relay}/p2p-circuit`))
    let work: Promise<unknown>
    if (!listed) {
      work = this.components.transportManager.listen([multiaddr(circuit)])
    } else {
      const store = this.reservationStore()
      if (store == null) return
      work = store.addRelay(peerIdFromString(relay), 'configured')
    }
    const done = work
      .then(() => {}, (err: Error) => { this.log('no reservation on %s: %s', relayAddr, err.message) })
      .finally(() => { this.pending.delete(circuit) })
    this.pending.set(circuit, { relay, done })
    await done
  }

  /**
   * Every address the transports listen on, as bound (ports chosen). libp2p's getMultiaddrs()
   * leaves out a public address until AutoNAT or an announcement vouches for it, and the STUN
   * server needs the TCP port whatever the address.
   */
  listening (): Multiaddr[] {
    return this.components.transportManager.getAddrs()
  }

  /**
   * The circuit relay transport's reservation store. Its `reservationStore` field is public in
   * @libp2p/circuit-relay-v2's type declarations but not re-exported, so it is found by shape.
   */
  private reservationStore (): ReservationStoreLike | undefined {
    for (const transport of this.components.transportManager.getTransports()) {
      const store = (transport as { reservationStore?: Partial<ReservationStoreLike> }).reservationStore
      if (typeof store?.addRelay === 'function') return store as ReservationStoreLike
    }
    return undefined
  }
}

export function relayListener (): (components: RelayListenerComponents) => RelayListener {
  return (components) => new RelayListener(components)
}

/**
 * Claims to have seen every peer already, so libp2p's relay discovery never fires. Discovery
 * reserves on any relay that connects, which pigeon does not want (home relays are chosen), and in
 * @libp2p/circuit-relay-v2 4.2.x a discovered reservation racing a configured one for the same
 * relay throws after arming its refresh timer, leaking it: the node can then never exit.
 */
const NO_DISCOVERY: TopologyFilter = {
  has: () => true,
  add: () => {},
  remove: () => {}
}

/** The circuit relay transport as pigeon uses it: dialing through relays, reserving on home relays only. */
export function relayTransport (): ReturnType<typeof circuitRelayTransport> {
  return circuitRelayTransport({ discoveryFilter: NO_DISCOVERY })
}
