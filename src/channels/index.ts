/**
 * Group channels over gossipsub: end-to-end encrypted, archived by relays, read in one order by
 * every member. See docs/architecture.md ("Channels") and docs/protocol.md ("Channels", "History").
 */
export { Channels, orderKey, type ChannelMessageView, type ChannelRejection } from './channels.js'
export { ChannelStore } from './channel-store.js'
export { ChannelArchive, type ArchiveLimits } from './archive.js'
export { ArchiveStore } from './archive-store.js'
export { ChannelTopics, pigeonGossipsub, CHANNEL_TOPIC_SCORE, SCORE_THRESHOLDS } from './gossip.js'
export { history, HistoryService } from './history.js'
export { topicFor, decodeInvite, INVITE_PREFIX } from './crypto.js'
export { HISTORY_PROTOCOL, TOPIC_PREFIX, MAX_POST_TEXT_BYTES } from './constants.js'
export type { ChannelInfo, ChannelMessage, ChannelMessageKind, ChannelRecord, MemberRecord, ChannelState } from './types.js'
