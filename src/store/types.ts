/** Records kept in the store. Field names are part of the control API's JSON (docs/cli.md). */

export type OutboxState = 'queued' | 'sent' | 'delivered' | 'read' | 'failed'
export type OutboxKind = 'text' | 'read-receipt' | 'delivery-receipt' | 'channel-key' | 'whereabouts'

export interface OutboxRecord {
  /** Message id: 32 hex characters. */
  id: string
  /** Recipient peer id. */
  to: string
  kind: OutboxKind
  /** The text, kept so the sender's own history shows it; absent for receipts. */
  text?: string
  /** For read receipts: the ids of the messages that were read. */
  refs?: string[]
  /** For channel keys: the encoded KeyGrant, base64. */
  channel?: string
  createdAt: number
  state: OutboxState
  attempts: number
  /** When the next delivery attempt is due, ms since the epoch. */
  nextAttemptAt: number
  lastError?: string
  deliveredAt?: number
  readAt?: number
  /** Relays (peer ids) holding the sealed message for an offline recipient. */
  storedAt?: string[]
}

export interface InboxRecord {
  id: string
  /** Sender peer id. */
  from: string
  text: string
  /** Sender's clock when its `send` accepted the message. */
  sentAt: number
  receivedAt: number
  /** Position in this node's inbox: strictly increasing in arrival order. */
  seq: number
  /** True when the sender was not a contact at arrival. */
  request: boolean
  read: boolean
  readAt?: number
}

export interface ContactRecord {
  name: string
  peerId: string
  /** The card as pasted, so it can be shown and re-checked. */
  card: string
  addrs: string[]
  /** The contact's home relays from its card: multiaddrs ending in /p2p/<relay>. */
  relays: string[]
  addedAt: number
  /** When the user said the safety number matched (`pigeon contacts verified`); absent: never. */
  verifiedAt?: number
  /**
   * Set when this name was given to another peer than before (the contact was removed and added
   * again with a different identity): a warning until the user compares safety numbers again.
   */
  identityChanged?: { previous: string, at: number }
}

/** What the store remembers of a removed contact, to notice when its name comes back with another identity. */
export interface FormerContact {
  peerId: string
  removedAt: number
  verifiedAt?: number
}

/** A relay this node uses as a home relay: it holds mail for this node while it is offline. */
export interface RelayRecord {
  peerId: string
  /** Multiaddrs ending in /p2p/<relay>. */
  addrs: string[]
  card: string
  addedAt: number
  /** How it was chosen: by hand (`addRelay`, `pigeon relays add`), or from the DHT. Absent: by hand. */
  source?: 'manual' | 'discovered'
}

/** What a peer said about itself inside its last message: its home relays and its own addresses. */
export interface PeerInfo {
  /** Multiaddrs ending in /p2p/<relay>. */
  relays: string[]
  addrs: string[]
}
