/** Limits and defaults for channels and their history. docs/protocol.md ("Channels") explains each. */

/** The history protocol: fetch a channel topic's archived frames from a relay, ask a relay to archive one. */
export const HISTORY_PROTOCOL = '/pigeon/history/1.0.0'

/** Every channel topic starts with this; the rest is derived from the channel id and epoch. */
export const TOPIC_PREFIX = '/pigeon/channel/1/'

/** Frame.version of the only format so far. */
export const FRAME_VERSION = 1

/** Channel ids: 16 bytes (derived from the creator and a random nonce, ./crypto.ts), 32 hex characters. */
export const CHANNEL_ID_LENGTH = 16

/** Epoch keys: 32 random bytes (XChaCha20-Poly1305). */
export const CHANNEL_KEY_LENGTH = 32

/** Post ids: 16 random bytes. */
export const POST_ID_LENGTH = 16

/** Post.kind values. */
export const POST_KIND = {
  TEXT: 0,
  JOIN: 1,
  LEAVE: 2,
  REMOVE: 3
} as const

/**
 * Largest post text in UTF-8 bytes. Group messages are chat lines, and every member and relay
 * stores every one: smaller than a direct message's cap.
 */
export const MAX_POST_TEXT_BYTES = 8 * 1024

/**
 * Largest gossipsub message data (an encoded Frame) a node accepts on a channel topic: the
 * largest text plus a JOIN's addresses, signature, ids and sealing overhead, with headroom.
 */
export const MAX_FRAME_BYTES = 12 * 1024

/**
 * Largest gossipsub RPC a node reads. One RPC carries a peer's whole subscription list on connect
 * (a relay archiving DEFAULT_ARCHIVE_TOPICS topics sends ~56 bytes each) or several frames, so it
 * is far above one frame; gossipsub drops a peer that sends more.
 */
export const MAX_GOSSIP_RPC_BYTES = 1024 * 1024

/** Relays and addresses a JOIN may carry (each list). */
export const MAX_POST_ADDRS = 16

/** Longest channel name, in characters. */
export const MAX_CHANNEL_NAME = 64

/** Removed members a key grant names (the most recent): keeps a grant within one direct message. */
export const MAX_GRANT_REMOVALS = 256

/** Current members a channel takes; beyond it JOINs of new members are refused. */
export const MAX_CHANNEL_MEMBERS = 1000

/**
 * How far in the future a post's clock may be: a member with a fast clock is tolerated, a
 * post dated next year (which would sort after everything forever) is rejected.
 */
export const MAX_CLOCK_SKEW_MS = 10 * 60_000

/** Largest history frame in either direction: one page of archived frames. */
export const MAX_HISTORY_FRAME_BYTES = 1024 * 1024

/** Frames in one history page, and the default when a client asks for 0. */
export const MAX_HISTORY_PAGE = 256

/** Pages one catch-up run reads from one relay per topic before yielding; the next run resumes. */
export const MAX_HISTORY_PAGES = 200

/** Each history exchange (write a request, read its page) must finish within this. */
export const HISTORY_TIMEOUT_MS = 15_000

/** Inbound history streams per connection. */
export const HISTORY_MAX_INBOUND_STREAMS = 4

/** Longest topic string accepted in a history request. */
export const MAX_TOPIC_LENGTH = 128

/** Topics one peer may ask a relay to archive. */
export const DEFAULT_ARCHIVE_TOPICS_PER_PEER = 256

/**
 * Topics a relay archives in all: below gossipsub's 5,000 subscriptions per RPC, which is how
 * the relay's subscription list reaches each peer that connects.
 */
export const DEFAULT_ARCHIVE_TOPICS = 4_000

/** The most topics a relay may be configured to archive (gossipsub's per-RPC subscription limit). */
export const MAX_ARCHIVE_TOPICS = 5_000

/** Frames a relay keeps per topic; the oldest go first. */
export const DEFAULT_ARCHIVE_MESSAGES = 10_000

/** How long a relay keeps an archived frame. */
export const DEFAULT_ARCHIVE_TTL_MS = 30 * 24 * 60 * 60_000

/** Channel relays a member fetches history from and stays connected to, per channel. */
export const MAX_CHANNEL_RELAYS = 8

/** Channel peers (members and relays) a member dials per channel and per maintenance round. */
export const MAX_CHANNEL_DIALS = 8

/** How often a member checks that it is connected to its channels' peers, republishes held posts and asks the channels' relays for anything it missed. */
export const CHANNEL_MAINTENANCE_MS = 5_000

/**
 * Longest wait between two anti-entropy requests to one relay about one channel, reached by
 * doubling from CHANNEL_MAINTENANCE_MS while the relay has nothing new (anti-entropy.ts).
 */
export const ANTI_ENTROPY_MAX_MS = 5 * 60_000

/** One dial to a channel peer. */
export const CHANNEL_DIAL_TIMEOUT_MS = 10_000
