/** Channel records kept in the store. Field names are part of the control API's JSON (docs/cli.md). */

export type MemberState = 'member' | 'left' | 'removed'

export interface MemberRecord {
  peerId: string
  state: MemberState
  /** When this node first saw the member (its JOIN, or the invite for the creator and inviter). */
  since: number
  /** The member's home relays (multiaddrs ending in /p2p/<relay>), from its JOIN. */
  relays: string[]
  /** The member's own addresses, from its JOIN. */
  addrs: string[]
  /** Order key of the post that last changed this record: replayed older posts change nothing. */
  order?: string
}

export type ChannelState = 'active' | 'left' | 'removed'

export interface ChannelRecord {
  /** 32 hex characters: derived from the creator and `nonce` (docs/protocol.md). */
  id: string
  /** The creator's 16 random bytes behind the id, hex; invites carry it so joiners can check the creator. */
  nonce: string
  /** This node's name for the channel (unique on this node). */
  name: string
  creator: string
  /** The epoch this node posts in. */
  epoch: number
  /** Epoch keys this node holds (hex), by epoch: older ones read older history. */
  keys: Record<string, string>
  /**
   * Set when the creator announced a new epoch whose key has not arrived yet: posts are held
   * until it does, so a removed member cannot read them.
   */
  awaitingEpoch?: number
  members: Record<string, MemberRecord>
  /** Removals as announced, in order: a removed member's posts dated after its removal are refused. */
  removals: Array<{ member: string, wall: number, counter: number, nextEpoch: number }>
  /** Creator only: the epoch whose key grants are still to be queued (set and cleared around a removal). */
  grantsOwed?: number
  state: ChannelState
  joinedAt: number
}

export type ChannelMessageKind = 'text' | 'join' | 'leave' | 'remove'

export interface ChannelMessage {
  /** Channel id. */
  channel: string
  /** Post id, 32 hex characters. */
  id: string
  author: string
  kind: ChannelMessageKind
  text?: string
  /** For 'remove': who was removed. */
  member?: string
  /** The author's hybrid logical clock: wall time (ms) and counter. */
  wall: number
  counter: number
  /** Sort key: every member shows a channel's messages in the order of this string. */
  order: string
  epoch: number
  receivedAt: number
}

/** A post written here and not yet handed to any peer (or held for a new epoch key). */
export interface PendingPost {
  channel: string
  id: string
  /** The encoded Post, base64. */
  post: string
  /** Seal in this epoch rather than the current one (a REMOVE goes out in the epoch it ends). */
  epoch?: number
  /** Already sealed (a LEAVE: the keys are gone by the time it goes out): the frame, base64, and its topic. */
  frame?: string
  topic?: string
  /** Published only once a topic peer other than this node's home relays is there (a JOIN). */
  beyondHome?: boolean
}

/** A channel as the API and CLI show it. */
export interface ChannelInfo {
  id: string
  name: string
  creator: string
  epoch: number
  state: ChannelState
  members: number
  joinedAt: number
  /** True while posts wait for the key of a new epoch. */
  awaitingKey: boolean
  /** Own posts not yet handed to a peer. */
  pending: number
}
