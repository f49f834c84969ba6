/**
 * Listening through relays: a node behind NAT reserves a slot on each home relay (circuit relay
 * v2) and so gains `/p2p-circuit` addresses that its contact card carries. libp2p 3 has no
 * public way to add a listen address to a running node; a service is handed the transport
 * manager, so this one exposes exactly that.
 */
import { multiaddr } from '@multiformats/multiaddr'
import type { Logger, ComponentLogger } from '@libp2p/interface'
import type { TransportManager } from '@libp2p/interface-internal'

export interface RelayListenerComponents {
  transportManager: TransportManager
  logger: ComponentLogger
}

export class RelayListener {
  private readonly components: RelayListenerComponents
  private readonly log: Logger
  /** Reservations being made now, so concurrent calls do not race. */
  private readonly pending = new Set<string>()

  constructor (components: RelayListenerComponents) {
    this.components = components
    this.log = components.logger.forComponent('pigeon:relay-listener')
  }

  readonly [Symbol.toStringTag] = 'pigeon:relay-listener'

  /**
   * Reserves a slot on the relay at `relayAddr` (ending in /p2p/<relay>). Idempotent while the
   * reservation holds; after the relay restarts (the reservation is gone with it) it reserves again.
   */
  async listenVia (relayAddr: string): Promise<void> {
    const circuit = `${relayAddr}/p2p-circuit`
    const relay = relayAddr.slice(relayAddr.lastIndexOf('/p2p/') + 5)
    const reserved = this.components.transportManager.getAddrs().some(a => a.toString().includes(`/p2p/${relay}/p2p-circuit`))
    if (reserved || this.pending.has(circuit)) return
    this.pending.add(circuit)
    try {
      await this.components.transportManager.listen([multiaddr(circuit)])
    } catch (err: any) {
      this.log('no reservation on %s: %s', relayAddr, err.message)
    } finally {
      this.pending.delete(circuit)
    }
  }
}

export function relayListener (): (components: RelayListenerComponents) => RelayListener {
  return (components) => new RelayListener(components)
}
