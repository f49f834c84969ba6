/**
 * pigeon: a peer-to-peer messaging node.
 *
 * ```ts
 * import { createNode } from 'pigeon'
 * const node = await createNode({ dataDir: './alice' })
 * await node.start()
 * node.addEventListener('message', (evt) => console.log(evt.detail.text))
 * ```
 *
 * See docs/api.md.
 */
export { createNode, PigeonNode } from './node.js'
export type { PigeonInit, PigeonEvents, ReceiptEvent, ReceiptState, NodeStatus, RelayHealth, IdentityChange, ContactSafetyNumber } from './node.js'
export { safetyNumber, SAFETY_QR_PREFIX, type SafetyNumber } from './contacts/safety-number.js'
export type { NatStatus } from './network/nat-traversal.js'
export type { Reachability } from './network/reachability.js'
export type { ContactRecord, InboxRecord, OutboxRecord, OutboxState, OutboxKind, RelayRecord } from './store/types.js'
export type { RelayLimits } from './mailbox/index.js'
export type { Durability } from './store/store.js'
export type { ChannelInfo, ChannelMessage, ChannelMessageView, ChannelMessageKind, ChannelRejection, ChannelState, MemberRecord, ArchiveLimits } from './channels/index.js'
export { Channels } from './channels/index.js'
export { decodeCard, type ContactCard } from './contacts/card.js'
export type { DhtMode, DhtAddresses } from './discovery/constants.js'
export type { DiscoveryStatus } from './discovery/discovery.js'
export type { PublishState } from './discovery/card-publisher.js'
export { CARD_REFUSALS, type CardRefusal } from './discovery/card-records.js'
export * from './errors.js'
export * as constants from './constants.js'
export { VERSION } from './version.js'
export { startDaemon, type Daemon, type DaemonInit } from './control/daemon.js'
export { ControlClient } from './control/client.js'
export { backupNode, writeBackupFile, restoreBackup, checkRestoreTarget, readBackup, type BackupSummary, type BackupProgress, type RestoreSummary, type RestoreOptions, type WriteBackupOptions } from './backup/index.js'
export { OperatorServer, PigeonMetrics, readiness, type OperatorServerInit, type PigeonMetricsInit, type Readiness, type CheckResult } from './ops/index.js'
export { createLogger, levelled, logSettings, LOG_LEVELS, type LevelLogger, type LogFormat, type LogInit, type LogLevel, type PigeonLogger } from './ops/index.js'
export { SETTINGS, SETTING_KEYS, loadConfig, resolveConfig, readConfigFile, configPath, configValues, daemonOptions, CONFIG_FILE, type Config, type ConfigSource, type ResolvedConfig, type Setting, type SettingKey, type SettingValue } from './config/index.js'
