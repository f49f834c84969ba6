/**
 * From the effective configuration to the options of `startDaemon`, as `pigeon start` runs it.
 */
import type { DaemonInit } from '../control/daemon.js'
import { DAY_MS } from './constants.js'
import type { Config } from './settings.js'

export function daemonOptions (config: Config): Omit<DaemonInit, 'dataDir' | 'onStopped'> {
  return {
    listen: config.listen,
    ...(config.announce != null ? { announce: config.announce } : {}),
    ...(config.bootstrap != null ? { bootstrap: config.bootstrap } : {}),
    dht: config.dht,
    dhtAddresses: config.dhtAddresses,
    autoRelays: config.autoRelays,
    relayReplaceAfter: config.replaceRelaysAfter * 1000,
    ...(config.mdns != null ? { mdns: config.mdns } : {}),
    ...(config.upnp != null ? { upnp: config.upnp } : {}),
    ...(config.webrtc != null ? { webrtc: config.webrtc } : {}),
    ...(config.stun != null ? { stun: config.stun } : {}),
    relayStun: config.relayStun,
    apiHost: config.apiHost,
    apiPort: config.apiPort,
    operatorHost: config.operatorHost,
    operatorPort: config.operatorPort ?? undefined,
    readReceipts: config.readReceipts,
    durability: config.durability,
    ...(config.maxConnections != null ? { maxConnections: config.maxConnections } : {}),
    relay: !config.relay
      ? false
      : {
          serve: config.relayAllow ?? 'open',
          quotaMessages: config.relayQuotaMessages,
          quotaBytes: config.relayQuotaBytes,
          totalBytes: config.relayTotalBytes,
          depositRatePerMinute: config.relayDepositRate,
          maxEnvelopeBytes: config.relayMaxEnvelope,
          ttl: config.relayTtl * DAY_MS
        }
  }
}
