/**
 * Readiness: whether this node can do its job now, check by check, for load balancers and
 * orchestrators. Cheap enough to call every few seconds: nothing here reads the store.
 */
import type { PigeonNode } from '../node.js'

export interface CheckResult {
  ok: boolean
  /** Why it failed, or a count worth seeing when it passed. */
  detail?: string
}

export interface Readiness {
  ready: boolean
  /** Every check, by name: started, store, listening, relays. */
  checks: Record<string, CheckResult>
  /** Names of the checks that failed, in the order of `checks`. */
  failing: string[]
}

export function readiness (node: PigeonNode): Readiness {
  const checks: Record<string, CheckResult> = {}
  const started = node.isStarted()
  checks.started = started ? { ok: true } : { ok: false, detail: 'the node is not started' }
  const status = node.store.database.status
  checks.store = status === 'open' ? { ok: true } : { ok: false, detail: `the store is ${status}` }
  const addrs = started ? node.libp2p.getMultiaddrs().length : 0
  checks.listening = addrs > 0 ? { ok: true, detail: `${addrs} listen addresses` } : { ok: false, detail: 'no listen addresses' }
  const relays = node.relays()
  if (relays.length === 0) {
    checks.relays = { ok: true, detail: 'no home relays configured' }
  } else {
    const peers = new Set(started ? node.libp2p.getPeers().map(p => p.toString()) : [])
    const connected = relays.filter(r => peers.has(r.peerId)).length
    checks.relays = { ok: connected === relays.length, detail: `${connected} of ${relays.length} home relays connected` }
  }
  const failing = Object.entries(checks).filter(([, c]) => !c.ok).map(([name]) => name)
  return { ready: failing.length === 0, checks, failing }
}
