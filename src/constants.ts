/**
 * Defaults and limits. Every option in `PigeonInit` resolves to one of these
 * once, at construction; docs/configuration.md lists them.
 */

/** The direct message protocol id. A new wire format gets a new version. */
export const DM_PROTOCOL = '/pigeon/dm/1.0.0'

/** Envelope sealing scheme 1: X25519 + HKDF-SHA256 + XChaCha20-Poly1305, Ed25519 signature inside. */
export const SCHEME_X25519_XCHACHA = 1

/** Length of a message id in bytes: random, so collisions are negligible (2^-64 after 2^32 messages). */
export const MESSAGE_ID_LENGTH = 16

/**
 * Largest text accepted by `send`, in UTF-8 bytes. Generous for chat (WhatsApp caps near 65k
 * characters) while keeping every envelope well under the frame cap.
 */
export const MAX_TEXT_BYTES = 32 * 1024

/**
 * Largest envelope accepted from the network: the largest text plus sealing overhead
 * (keys, nonce, tag, signature, ids: < 400 bytes) with headroom for later fields.
 */
export const MAX_ENVELOPE_BYTES = 40 * 1024

/**
 * Largest frame on /pigeon/dm/1.0.0 in either direction. A batch may carry up to
 * MAX_BATCH_ENVELOPES envelopes; the sender stops adding to a batch before it crosses this.
 */
export const MAX_FRAME_BYTES = 1024 * 1024

/** Most envelopes in one batch frame: bounds the receiver's work per frame. */
export const MAX_BATCH_ENVELOPES = 256

/**
 * Envelopes one peer may deliver per second before the receiver delays its acks. Far above what a
 * person types, near what one core can open (~2k/s at ~450 µs each), so a flood cannot monopolise a node.
 */
export const DM_INBOUND_RATE = 2000

/** How long the receiver waits for the next frame on an idle stream before closing it. */
export const DM_IDLE_TIMEOUT_MS = 30_000

/** How long the sender waits for the ack of a batch. */
export const DM_ACK_TIMEOUT_MS = 15_000

/** One delivery attempt end to end: dial, negotiate, write the batch, wait for the ack. */
export const DELIVERY_ATTEMPT_TIMEOUT_MS = 60_000

/** How long each of the dials to contacts at start may take. */
export const DIAL_TIMEOUT_MS = 10_000

/** Contacts a node dials when it starts, newest first, so they learn its current addresses. */
export const STARTUP_DIALS = 50

/** Inbound dm streams per connection: one is normal, a few allow for reconnect races. */
export const DM_MAX_INBOUND_STREAMS = 4

/** Outbound dm streams per connection. */
export const DM_MAX_OUTBOUND_STREAMS = 4

/**
 * Envelopes per batch the outbox sends: big enough that the per-batch receipt signature is
 * noise, small enough that the first batch of a burst leaves quickly.
 */
export const OUTBOX_BATCH_ENVELOPES = 64

/** Batches in flight per peer: two keep both ends busy (one being opened, one being sealed). */
export const OUTBOX_WINDOW = 2

/** Sealing adds at most this much to a message's size: keys, nonce, tag, signature, ids, framing. */
export const SEAL_OVERHEAD_BYTES = 400

/** First retry delay after a failed delivery attempt. */
export const RETRY_MIN_MS = 1_000

/** Retry delays double up to this cap. */
export const RETRY_MAX_MS = 5 * 60_000

/** Default listen addresses: TCP and WebSockets on all interfaces, ports chosen by the OS. */
export const DEFAULT_LISTEN = ['/ip4/0.0.0.0/tcp/0', '/ip4/0.0.0.0/tcp/0/ws']

/**
 * Largest channel key grant inside a direct message: channel id, epoch, key and up to 256
 * removed members' peer ids (40 bytes each with framing), well inside MAX_ENVELOPE_BYTES.
 */
export const MAX_KEY_GRANT_BYTES = 16 * 1024

/** Largest control API request body. */
export const MAX_API_BODY_BYTES = 256 * 1024

/** Longest a control API client may ask to wait for a delivery. */
export const MAX_API_WAIT_MS = 10 * 60_000

/** File in the data dir that tells clients where the control API listens. */
export const CONTROL_FILE = 'control.json'

/** File in the data dir holding the node's private key. */
export const IDENTITY_FILE = 'identity.key'

/** Folder in the data dir holding the LevelDB store. */
export const STORE_DIR = 'store'
