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
  private readonly listening = new Set<string>()

  constructor (components: RelayListenerComponents) {
    this.components = components
    this.log = components.logger.forComponent('pigeon:relay-listener')
  }

  readonly [Symbol.toStringTag] = 'pigeon:relay-listener'

  /** Reserves a slot on the relay at `relayAddr` (ending in /p2p/<relay>); idempotent. */
  async listenVia (relayAddr: string): Promise<void> {
    const circuit = `${relayAddr}/p2p-circuit`
    if (this.listening.has(circuit)) return
    this.listening.add(circuit)
    try {
      await this.components.transportManager.listen([multiaddr(circuit)])
    } catch (err: any) {
      this.listening.delete(circuit)
      this.log('no reservation on %s: %s', relayAddr, err.message)
    }
  }
}

export function relayListener (): (components: RelayListenerComponents) => RelayListener {
  return (components) => new RelayListener(components)
}
