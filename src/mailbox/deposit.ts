/**
 * Leaving messages for an unreachable peer at every one of its relays, so that losing any one
 * relay loses nothing.
 */
import { peerIdFromString } from '@libp2p/peer-id'
import { Envelope } from '../wire/pb/wire.js'
import { DELIVERY_ATTEMPT_TIMEOUT_MS } from '../constants.js'
import type { MailboxClient } from './index.js'
import type { DepositReport } from '../outbox/outbox.js'
import type { OutboxRecord } from '../store/types.js'
import type { PeerStore } from '@libp2p/interface'
import type { Multiaddr } from '@multiformats/multiaddr'

/** Deposits at each relay in parallel; returns, per message id, the relays that hold it and the refusals. */
export async function depositAtRelays (
  mailbox: MailboxClient,
  peerStore: PeerStore,
  relays: Map<string, Multiaddr[]>,
  items: Array<{ record: OutboxRecord, envelope: Envelope }>,
  options: { signal: AbortSignal }
): Promise<DepositReport> {
  const report: DepositReport = { stored: new Map(), refused: new Map() }
  if (relays.size === 0) return report
  const add = (map: Map<string, string[]>, id: string, value: string): void => { map.set(id, [...(map.get(id) ?? []), value]) }
  const bytes = items.map(i => Envelope.encode(i.envelope))
  await Promise.all([...relays].map(async ([relay, addrs]) => {
    const relayId = peerIdFromString(relay)
    try {
      await peerStore.merge(relayId, { multiaddrs: addrs })
      const outcomes = await mailbox.deposit(relayId, bytes, { signal: AbortSignal.any([options.signal, AbortSignal.timeout(DELIVERY_ATTEMPT_TIMEOUT_MS)]) })
      for (const outcome of outcomes) {
        if (outcome.refused == null) add(report.stored, outcome.id, relay)
        else add(report.refused, outcome.id, `${relay}: ${outcome.refused}`)
      }
    } catch (err: any) {
      for (const item of items) add(report.refused, item.record.id, `${relay}: ${err.message}`)
    }
  }))
  return report
}
