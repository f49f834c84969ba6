/**
 * Channels as a member sees them: create, invite, join, post, read, remove, leave.
 *
 * A channel is a gossipsub topic per key epoch. Posts are sealed with the epoch key and signed
 * by their author inside the ciphertext (./crypto.ts); the topic validator opens every frame,
 * so what does not decrypt, is badly signed, oversized or from a removed member is rejected
 * and its sender's gossipsub score drops. Relays of the members archive the ciphertext; a
 * member that was away reads what it missed from them (./history.ts), through the same checks.
 * Every member orders posts by the author's hybrid logical clock and the post id, so all show
 * the same order whatever the order of arrival.
 *
 * Removing a member (creator only) announces the removal in the old epoch, starts a new epoch
 * with a fresh key, and hands that key to each remaining member in an end-to-end encrypted
 * direct message. Members hold their posts from the moment they see the announcement until the
 * new key arrives, so the removed member can read nothing posted after its removal.
 */
import { randomBytes } from 'node:crypto'
import { TopicValidatorResult } from '@libp2p/gossipsub'
import { peerIdFromString } from '@libp2p/peer-id'
import { multiaddr, type Multiaddr } from '@multiformats/multiaddr'
import { Post, KeyGrant, type Invite } from './pb/channel.js'
import { channelIdFor, decodeInvite, encodeInvite, FrameRejectedError, openFrameAsync, sealPost, sealPostAsync, topicFor } from './crypto.js'
import { AntiEntropy } from './anti-entropy.js'
import { peerIdFromBytes, type LocalKeys } from '../crypto/keys.js'
import {
  ANTI_ENTROPY_MAX_MS, CHANNEL_DIAL_TIMEOUT_MS, CHANNEL_ID_LENGTH, MAX_GRANT_REMOVALS, CHANNEL_KEY_LENGTH, CHANNEL_MAINTENANCE_MS, MAX_CHANNEL_DIALS, MAX_CHANNEL_MEMBERS,
  MAX_CHANNEL_NAME, MAX_CHANNEL_RELAYS, MAX_CLOCK_SKEW_MS, MAX_HISTORY_PAGES, MAX_POST_TEXT_BYTES, POST_ID_LENGTH, POST_KIND
} from './constants.js'
import { ChannelNotFoundError, ChannelStateError, InvalidMessageError, NotStartedError } from '../errors.js'
import { idFromHex, idToHex } from '../ids.js'
import { parseAddrs } from '../network/addrs.js'
import type { ChannelStore } from './channel-store.js'
import type { ChannelTopics } from './gossip.js'
import type { HistoryService } from './history.js'
import type { ChannelInfo, ChannelMessage, ChannelMessageKind, ChannelRecord, MemberRecord, PendingPost } from './types.js'
import type { Libp2p, Logger, PeerId } from '@libp2p/interface'

const KIND_NAMES: Record<number, ChannelMessageKind> = { 0: 'text', 1: 'join', 2: 'leave', 3: 'remove' }

/** The order key: wall time, counter and post id, fixed width so that string order is display order. */
export function orderKey (wall: number, counter: number, id: string): string {
  return `${wall.toString().padStart(15, '0')}.${counter.toString().padStart(10, '0')}.${id}`
}

/** A message as the API and its events show it: with the channel's local name. */
export type ChannelMessageView = ChannelMessage & { name: string }

export interface ChannelsInit {
  store: ChannelStore
  topics: ChannelTopics
  history: HistoryService
  libp2p: Libp2p
  keys: LocalKeys
  log: Logger
  /** This node's home relays (multiaddrs ending in /p2p/<relay>) and own addresses, as binary multiaddrs. */
  whereabouts: () => { relays: Array<Uint8Array<ArrayBuffer>>, addrs: Array<Uint8Array<ArrayBuffer>> }
  /** Peer ids of this node's home relays. */
  homeRelays: () => string[]
  /** Makes a peer's relays and addresses known to the direct-message layer (for key grants). */
  learn: (peer: string, relays: Uint8Array[], addrs: Uint8Array[]) => Promise<void>
  /** Durably queues an encoded KeyGrant for `member` as an end-to-end encrypted direct message. */
  grant: (member: PeerId, grant: Uint8Array) => Promise<void>
  /** Contact name or peer id to a peer id. */
  resolve: (nameOrPeerId: string) => PeerId
  onMessage: (message: ChannelMessageView) => void
  /** A channel changed: members, epoch, state, or held posts. */
  onUpdate: (info: ChannelInfo) => void
  /** A frame failed validation (it was dropped, and its sender's gossipsub score went down). */
  onReject: (rejection: ChannelRejection) => void
}

export interface ChannelRejection {
  channel: string
  name: string
  /** The peer that sent the frame (for history, the relay that served it). */
  from: string
  reason: string
  source: 'gossip' | 'history'
}

interface Decision {
  result: TopicValidatorResult
  message?: ChannelMessage
  reason?: string
  /** Rejected on what a relay can check too (size, outer structure), not on the content. */
  outer?: boolean
}

export class Channels {
  private readonly init: ChannelsInit
  private readonly self: string
  private readonly byId = new Map<string, ChannelRecord>()
  /** topic -> channel id and epoch, for every epoch whose key this node holds. */
  private readonly topicIndex = new Map<string, { channel: string, epoch: number }>()
  /** Hybrid logical clock: the largest (wall, counter) posted or seen. */
  private clock = { wall: 0, counter: 0 }
  /** Received messages waiting for the next write: one batch for a burst. */
  private incoming: ChannelMessage[] = []
  private flushing?: Promise<void>
  /** Channels whose record changed in memory since it was written. */
  private readonly dirty = new Set<string>()
  private readonly publishing = new Map<string, { again: boolean }>()
  private readonly catchingUp = new Map<string, { again: boolean }>()
  /** When each relay is next asked, in maintenance rounds, about each channel. */
  private readonly antiEntropy = new AntiEntropy({ minMs: CHANNEL_MAINTENANCE_MS, maxMs: ANTI_ENTROPY_MAX_MS })
  /** `${topic} ${relay}` pairs a relay has agreed to archive this run. */
  private readonly archived = new Set<string>()
  private timer?: ReturnType<typeof setInterval>
  /** Channel peers being dialled now: one dial each at a time. */
  private readonly dialing = new Set<string>()
  private running = false
  readonly stats = { received: 0, rejected: 0, posted: 0, published: 0 }

  constructor (init: ChannelsInit) {
    this.init = init
    this.self = init.libp2p.peerId.toString()
  }

  /** Loads the channels and their clocks. Called before the node starts. */
  async load (): Promise<void> {
    for (const record of await this.init.store.listChannels()) {
      this.byId.set(record.id, record)
      this.index(record)
      const latest = await this.init.store.latest(record.id)
      if (latest != null) this.observe(latest.wall, latest.counter)
      this.pending.set(record.id, new Map())
    }
    // One scan for every channel's pending posts.
    for (const p of await this.init.store.pendingPosts()) this.pending.get(p.channel)?.set(p.id, p)
  }

  async start (): Promise<void> {
    this.running = true
    for (const record of this.byId.values()) {
      if (record.state === 'active') this.subscribe(record)
      if (record.state === 'active' && record.grantsOwed === record.epoch) await this.sendGrants(record)
    }
    this.init.libp2p.addEventListener('peer:connect', this.onConnect)
    this.init.topics.gossip.addEventListener('subscription-change', this.onSubscription)
    this.timer = setInterval(() => { this.maintain() }, CHANNEL_MAINTENANCE_MS)
    this.timer.unref()
    // The first round catches up from every channel relay: none has a wait yet.
    this.maintain()
  }

  async stop (): Promise<void> {
    this.running = false
    clearInterval(this.timer)
    this.init.libp2p.removeEventListener('peer:connect', this.onConnect)
    this.init.topics.gossip.removeEventListener('subscription-change', this.onSubscription)
    await this.flushing
  }

  private readonly onConnect = (evt: CustomEvent<PeerId>): void => {
    const peer = evt.detail.toString()
    // Ask again on every connection: the relay may have restarted, or dropped a quiet topic.
    for (const key of this.archived) if (key.endsWith(` ${peer}`)) this.archived.delete(key)
    for (const record of this.byId.values()) {
      if (record.state !== 'active') continue
      if (this.channelRelays(record).includes(peer)) {
        this.archiveAt(record, peer)
        this.catchUp(record, [peer])
      }
      if (this.pendingCount(record) > 0) this.publishPending(record)
    }
  }

  /** A peer joined one of our topics: held posts can go out now. */
  private readonly onSubscription = (evt: CustomEvent<{ peerId: PeerId, subscriptions: Array<{ topic: string, subscribe: boolean }> }>): void => {
    for (const sub of evt.detail.subscriptions) {
      if (!sub.subscribe) continue
      const where = this.topicIndex.get(sub.topic)
      const record = where == null ? undefined : this.byId.get(where.channel)
      if (record != null && this.pendingCount(record) > 0) this.publishPending(record)
    }
  }

  // --- queries --------------------------------------------------------------

  list (): ChannelInfo[] {
    return [...this.byId.values()].sort((a, b) => a.name.localeCompare(b.name)).map(r => this.info(r))
  }

  private info (r: ChannelRecord): ChannelInfo {
    return {
      id: r.id,
      name: r.name,
      creator: r.creator,
      epoch: r.epoch,
      state: r.state,
      members: this.memberCount(r),
      joinedAt: r.joinedAt,
      awaitingKey: r.awaitingEpoch != null,
      pending: this.pendingCount(r)
    }
  }

  /** Own posts not yet published, per channel: the store's pending list, mirrored so publishing reads no disk. */
  private readonly pending = new Map<string, Map<string, PendingPost>>()
  private pendingCount (r: ChannelRecord): number {
    return this.pending.get(r.id)?.size ?? 0
  }

  private addPending (p: PendingPost): void {
    const map = this.pending.get(p.channel) ?? new Map<string, PendingPost>()
    map.set(p.id, p)
    this.pending.set(p.channel, map)
  }

  /** A channel by its local name or its id. */
  get (nameOrId: string): ChannelRecord {
    const record = this.byId.get(nameOrId) ?? [...this.byId.values()].find(r => r.name === nameOrId)
    if (record == null) throw new ChannelNotFoundError(`no channel named ${nameOrId}`)
    return record
  }

  channel (nameOrId: string): ChannelInfo {
    return this.info(this.get(nameOrId))
  }

  /** Messages in the order every member shows them. `last` gives the newest n; `after` an order key to resume from. */
  async read (nameOrId: string, options: { after?: string, limit?: number, last?: number } = {}): Promise<ChannelMessageView[]> {
    const record = this.get(nameOrId)
    const messages = await this.init.store.messages(record.id, options)
    return messages.map(m => ({ ...m, name: record.name }))
  }

  /** Current members (this node included while it is one), oldest first. */
  members (nameOrId: string): MemberRecord[] {
    const record = this.get(nameOrId)
    return Object.values(record.members).filter(m => m.state === 'member').sort((a, b) => a.since - b.since)
  }

  // --- create, invite, join -------------------------------------------------

  async create (name: string): Promise<ChannelInfo & { invite: string }> {
    this.assertRunning()
    this.checkName(name)
    const nonce = randomBytes(CHANNEL_ID_LENGTH)
    const id = idToHex(channelIdFor(this.init.keys.idBytes, nonce))
    const now = Date.now()
    const record: ChannelRecord = {
      id,
      nonce: nonce.toString('hex'),
      name,
      creator: this.self,
      epoch: 0,
      keys: { 0: randomBytes(CHANNEL_KEY_LENGTH).toString('hex') },
      members: { [this.self]: this.selfMember(now) },
      removals: [],
      state: 'active',
      joinedAt: now
    }
    this.byId.set(id, record)
    this.index(record)
    await this.postNow(record, { kind: POST_KIND.JOIN, ...this.init.whereabouts() })
    this.subscribe(record)
    this.archiveAtHome(record)
    this.init.onUpdate(this.info(record))
    return { ...this.info(record), invite: this.invite(name) }
  }

  /** The invite string: signed by this node, carrying the current epoch key. */
  invite (nameOrId: string): string {
    const record = this.active(nameOrId)
    if (record.awaitingEpoch != null) throw new ChannelStateError(`channel ${record.name} is waiting for its new key from the creator: invite once it arrives`)
    const { relays, addrs } = this.init.whereabouts()
    const channelRelays = this.relayAddrs(record).map(a => multiaddr(a).bytes)
    const invite: Invite = {
      channel: idFromHex(record.id),
      name: record.name,
      creator: peerIdFromString(record.creator).toMultihash().bytes as Uint8Array<ArrayBuffer>,
      epoch: record.epoch,
      key: idFromHex(record.keys[record.epoch]),
      inviter: this.init.keys.idBytes as Uint8Array<ArrayBuffer>,
      addrs: addrs.slice(0, 8) as Array<Uint8Array<ArrayBuffer>>,
      relays: dedupeBytes([...relays, ...channelRelays]).slice(0, 16) as Array<Uint8Array<ArrayBuffer>>,
      createdAt: BigInt(Date.now()),
      nonce: idFromHex(record.nonce)
    }
    return encodeInvite(this.init.keys, invite)
  }

  /**
   * Joins with an invite; `name` overrides the channel's name on this node. A member waiting for
   * the key of a newer epoch (its invite predated a removal, or it missed the new key) joins again
   * with a fresh invite to get it.
   */
  async join (inviteText: string, options: { name?: string } = {}): Promise<ChannelInfo> {
    const { invite, creator, inviter } = decodeInvite(inviteText)
    const id = idToHex(invite.channel)
    this.assertRunning()
    const existing = this.byId.get(id)
    if (existing?.state === 'active' && (existing.awaitingEpoch == null || invite.epoch < existing.awaitingEpoch)) {
      throw new ChannelStateError(existing.awaitingEpoch == null
        ? `already a member of this channel (${existing.name})`
        : `channel ${existing.name} is at a newer key than this invite: ask a member for a fresh invite`)
    }
    const removal = existing?.removals.findLast(r => r.member === this.self)
    if (removal != null && invite.epoch < removal.nextEpoch) throw new ChannelStateError(`you were removed from ${existing!.name}: this invite is from before that`)
    const name = options.name ?? existing?.name ?? invite.name
    if (existing == null || existing.name !== name) this.checkName(name)
    const now = Date.now()
    const relays = parseAddrs(invite.relays, true)
    const addrs = parseAddrs(invite.addrs, false)
    const record: ChannelRecord = existing ?? {
      id, nonce: Buffer.from(invite.nonce).toString('hex'), name, creator: creator.toString(), epoch: invite.epoch, keys: {}, members: {}, removals: [], state: 'active', joinedAt: now
    }
    record.name = name
    record.state = 'active'
    record.joinedAt = now
    record.keys[invite.epoch] = Buffer.from(invite.key).toString('hex')
    // An invite older than an epoch this node has seen (it left after a removal, say) brings a
    // key that is no longer in use: post nothing but the JOIN until a fresh invite comes.
    const newest = Math.max(existing?.epoch ?? 0, existing?.awaitingEpoch ?? 0)
    record.epoch = invite.epoch
    if (newest > invite.epoch) record.awaitingEpoch = newest
    else delete record.awaitingEpoch
    record.members[creator.toString()] ??= { peerId: creator.toString(), state: 'member', since: now, relays: [], addrs: [] }
    const inviterRecord = record.members[inviter.toString()] ??= { peerId: inviter.toString(), state: 'member', since: now, relays: [], addrs: [] }
    inviterRecord.relays = relays
    inviterRecord.addrs = addrs
    record.members[this.self] = this.selfMember(now)
    this.byId.set(id, record)
    this.index(record)
    if (addrs.length > 0) await this.init.libp2p.peerStore.merge(inviter, { multiaddrs: addrs.map(a => multiaddr(a)) })
    await this.postNow(record, { kind: POST_KIND.JOIN, ...this.init.whereabouts() })
    this.subscribe(record)
    this.archiveAtHome(record)
    this.connect(record)
    this.catchUp(record)
    this.init.onUpdate(this.info(record))
    return this.info(record)
  }

  // --- posting --------------------------------------------------------------

  /** Posts text to a channel: durable when this returns, published now or as soon as a peer is there. */
  async post (nameOrId: string, text: string): Promise<ChannelMessageView> {
    if (typeof text !== 'string' || text.length === 0) throw new InvalidMessageError('post text is empty')
    if (Buffer.byteLength(text) > MAX_POST_TEXT_BYTES) throw new InvalidMessageError(`post text is larger than ${MAX_POST_TEXT_BYTES} bytes`)
    this.assertRunning()
    const record = this.active(nameOrId)
    const message = await this.postNow(record, { kind: POST_KIND.TEXT, text })
    this.stats.posted++
    return { ...message, name: record.name }
  }

  /**
   * Removes a member (creator only): announces it, starts a new epoch and hands its key to the
   * others. Also takes a member that left, to cut it off from the key it still holds.
   * Returns the removed member's peer id.
   */
  async remove (nameOrId: string, member: string): Promise<string> {
    this.assertRunning()
    const record = this.active(nameOrId)
    if (record.creator !== this.self) throw new ChannelStateError(`only the creator of ${record.name} can remove members`)
    if (member === this.self) throw new ChannelStateError('the creator cannot remove itself: use leave')
    const peer = this.init.resolve(member).toString()
    const state = record.members[peer]?.state
    if (state !== 'member' && state !== 'left') throw new ChannelStateError(`${member} is not a member of ${record.name}`)
    const oldEpoch = record.epoch
    const nextEpoch = oldEpoch + 1
    const message = this.buildMessage(record, { kind: POST_KIND.REMOVE, member: peerIdFromString(peer).toMultihash().bytes, nextEpoch })
    // One write: the announcement (sealed in the old epoch, which the removed member can still
    // read), the new key, and the list of members still owed it.
    this.applyRemoval(record, peer, message.message)
    record.keys[nextEpoch] = randomBytes(CHANNEL_KEY_LENGTH).toString('hex')
    record.epoch = nextEpoch
    record.grantsOwed = nextEpoch
    this.index(record)
    await this.commitOwn(record, message, oldEpoch)
    await this.sendGrants(record)
    this.subscribe(record)
    this.archiveAtHome(record)
    this.init.onUpdate(this.info(record))
    await this.dropAfterRemoval(record, peer, message.message)
    return peer
  }

  /** Leaves a channel: says so to the others, forgets its keys and stops following it. */
  async leave (nameOrId: string): Promise<void> {
    this.assertRunning()
    const record = this.active(nameOrId)
    const message = this.buildMessage(record, { kind: POST_KIND.LEAVE })
    // Sealed now: the keys are gone once this returns, and the goodbye may go out later.
    const epoch = record.epoch
    const topic = this.topic(record, epoch)
    const frame = sealPost(this.init.keys, idFromHex(record.id), epoch, idFromHex(record.keys[epoch]), message.bytes)
    record.state = 'left'
    record.members[this.self].state = 'left'
    record.keys = {}
    delete record.awaitingEpoch
    this.unsubscribe(record)
    const goodbye: PendingPost = { channel: record.id, id: message.message.id, post: '', frame: Buffer.from(frame).toString('base64'), topic }
    await this.init.store.addMessages([message.message], { pending: [goodbye], extra: [this.init.store.channelOp(record)] })
    this.addPending(goodbye)
    this.init.onMessage({ ...message.message, name: record.name })
    this.init.onUpdate(this.info(record))
    this.publishPending(record)
  }

  private async postNow (record: ChannelRecord, fields: Partial<Post>): Promise<ChannelMessage> {
    const built = this.buildMessage(record, fields)
    // A JOIN goes out in the epoch of the key it was made with, even when a newer epoch is
    // awaited: the members of that epoch learn of this node and where to reach it.
    await this.commitOwn(record, built, fields.kind === POST_KIND.JOIN ? record.epoch : undefined)
    return built.message
  }

  private buildMessage (record: ChannelRecord, fields: Partial<Post>): { message: ChannelMessage, bytes: Uint8Array } {
    const now = Date.now()
    const wall = Math.max(now, this.clock.wall)
    const counter = wall === this.clock.wall ? this.clock.counter + 1 : 0
    this.clock = { wall, counter }
    const id = randomBytes(POST_ID_LENGTH)
    const post: Post = {
      kind: POST_KIND.TEXT,
      id,
      wall: BigInt(wall),
      counter,
      text: '',
      relays: [],
      addrs: [],
      member: new Uint8Array(0),
      nextEpoch: 0,
      ...fields
    } as Post
    const bytes = Post.encode(post)
    return { message: this.toMessage(record, this.self, post, record.epoch, now), bytes }
  }

  /** Writes an own post durably (with the pending entry that publishes it) and shows it. */
  private async commitOwn (record: ChannelRecord, built: { message: ChannelMessage, bytes: Uint8Array }, epoch?: number): Promise<void> {
    const pending: PendingPost = {
      channel: record.id,
      id: built.message.id,
      post: Buffer.from(built.bytes).toString('base64'),
      ...(epoch != null ? { epoch } : {}),
      // The creator's relays are in every invite; a joiner's are news that only its JOIN carries.
      ...(built.message.kind === 'join' && record.creator !== this.self ? { beyondHome: true } : {})
    }
    this.dirty.delete(record.id)
    await this.init.store.addMessages([built.message], { pending: [pending], extra: [this.init.store.channelOp(record)] })
    this.addPending(pending)
    this.init.onMessage({ ...built.message, name: record.name })
    this.publishPending(record)
  }

  /**
   * Publishes a channel's pending posts: sealed now with the current epoch key (or the epoch a
   * post names), kept pending when no peer took them. Runs once per channel at a time.
   */
  private publishPending (record: ChannelRecord): void {
    const running = this.publishing.get(record.id)
    if (running != null) { running.again = true; return }
    const state = { again: false }
    this.publishing.set(record.id, state)
    void (async () => {
      try {
        do {
          state.again = false
          const posts = [...(this.pending.get(record.id)?.values() ?? [])]
          // Sealed together (signatures on the thread pool), published in order.
          const frames = posts.map(async p => await this.frameOf(record, p))
          for (const f of frames) f.catch(() => {})
          const done: PendingPost[] = []
          for (let i = 0; i < posts.length; i++) {
            if (!this.running) break
            const frame = await frames[i]
            // Sealed before the ones ahead of it went out: if the epoch moved on meanwhile (a
            // removal), it stays pending and is sealed again with the new key.
            if (frame == null || (frame.epoch != null && (record.awaitingEpoch != null || record.epoch !== frame.epoch))) continue
            if (await this.publishOne(posts[i], frame)) done.push(posts[i])
          }
          for (const p of done) this.pending.get(record.id)?.delete(p.id)
          await this.init.store.donePending(done)
          this.stats.published += done.length
        } while (state.again && this.running)
      } catch (err: any) {
        this.init.log('publishing to %s failed: %s', record.name, err.message)
      } finally {
        this.publishing.delete(record.id)
      }
    })()
  }

  /** The topic and sealed frame of a pending post, or undefined while it must be held. */
  /** `epoch` is set when the post follows the channel's current epoch (and is sealed with its key). */
  private async frameOf (record: ChannelRecord, p: PendingPost): Promise<{ topic: string, data: Uint8Array, epoch?: number } | undefined> {
    if (p.frame != null && p.topic != null) return { topic: p.topic, data: Buffer.from(p.frame, 'base64') }
    // Held while a new key is awaited: the removed member must not be able to read it.
    if (p.epoch == null && record.awaitingEpoch != null) return undefined
    const epoch = p.epoch ?? record.epoch
    const key = record.keys[epoch]
    if (key == null) return undefined
    const topic = this.topic(record, epoch)
    const data = await sealPostAsync(this.init.keys, idFromHex(record.id), epoch, idFromHex(key), Buffer.from(p.post, 'base64'))
    return { topic, data, ...(p.epoch == null ? { epoch } : {}) }
  }

  private async publishOne (p: PendingPost, { topic, data }: { topic: string, data: Uint8Array }): Promise<boolean> {
    // A JOIN is how the others learn which relays archive this member's posts: one that only
    // reached those relays would stay there, unknown. It waits for a peer beyond them, and counts
    // as out only once it reached one (gossipsub skips a subscriber whose stream is not open yet).
    const home = p.beyondHome === true ? new Set(this.homeRelayIds()) : undefined
    const beyond = (peers: PeerId[]): boolean => home == null ? peers.length > 0 : peers.some(peer => !home.has(peer.toString()))
    if (!beyond(this.init.topics.gossip.getSubscribers(topic))) return false
    const result = await this.init.topics.gossip.publish(topic, data)
    return beyond(result.recipients)
  }

  private homeRelayIds (): string[] {
    return this.init.homeRelays()
  }

  // --- receiving ------------------------------------------------------------

  /** The topic validator: decides on a frame and queues what it accepts for the store. */
  async validate (topic: string, data: Uint8Array, from: PeerId): Promise<TopicValidatorResult> {
    const decision = await this.decide(topic, data)
    if (decision.result === TopicValidatorResult.Reject) {
      this.rejected(topic, from.toString(), decision.reason, 'gossip')
      // A relay forwards what it cannot check without the key: content that fails here is its
      // author's doing, and scoring the relay down would let one member cut the others off from
      // their relays. Dropped all the same; a relay still answers for what it could have checked.
      if (decision.outer !== true && this.isRelayOf(topic, from.toString())) return TopicValidatorResult.Ignore
    }
    if (decision.message != null) {
      // A live post: the channel is busy, and its relays are worth asking every round again.
      this.antiEntropy.activity(decision.message.channel)
      this.incoming.push(decision.message)
      this.flushing ??= this.flush()
    }
    return decision.result
  }

  /** Whether `peer` is a relay of this node or of a member of the topic's channel (and not a member itself). */
  private isRelayOf (topic: string, peer: string): boolean {
    const record = this.byId.get(this.topicIndex.get(topic)?.channel ?? '')
    if (record == null || record.members[peer] != null) return false
    if (this.homeRelayIds().includes(peer)) return true
    return Object.values(record.members).some(m => m.relays.some(a => a.endsWith(`/p2p/${peer}`)))
  }

  private rejected (topic: string, from: string, reason: string | undefined, source: 'gossip' | 'history'): void {
    this.stats.rejected++
    const record = this.byId.get(this.topicIndex.get(topic)?.channel ?? '')
    this.init.log('rejected a frame on %s from %s: %s', record?.name, from, reason)
    if (record != null) this.init.onReject({ channel: record.id, name: record.name, from, reason: reason ?? 'invalid', source })
  }

  private async decide (topic: string, data: Uint8Array): Promise<Decision> {
    const where = this.topicIndex.get(topic)
    const record = where == null ? undefined : this.byId.get(where.channel)
    if (where == null || record == null || record.state !== 'active') return { result: TopicValidatorResult.Ignore }
    const key = record.keys[where.epoch]
    if (key == null) return { result: TopicValidatorResult.Ignore }
    let author: PeerId
    let post: Post
    try {
      ({ author, post } = await openFrameAsync(data, idFromHex(record.id), where.epoch, idFromHex(key)))
    } catch (err: any) {
      if (err instanceof FrameRejectedError) return { result: TopicValidatorResult.Reject, reason: err.message, outer: err.outer }
      throw err
    }
    // The channel may have changed while the signature was checked (this node left, say).
    if (record.state !== 'active' || this.byId.get(record.id) !== record) return { result: TopicValidatorResult.Ignore }
    // A kind added after this version: valid for those who know it, nothing to show here.
    if (KIND_NAMES[post.kind] == null) return { result: TopicValidatorResult.Ignore }
    const problem = this.checkPost(record, author.toString(), post, where.epoch)
    if (problem != null) return { result: TopicValidatorResult.Reject, reason: problem }
    const message = this.toMessage(record, author.toString(), post, where.epoch, Date.now())
    if (author.toString() === this.self) return { result: TopicValidatorResult.Accept, message }
    this.observe(message.wall, message.counter)
    this.apply(record, author.toString(), post, message)
    return { result: TopicValidatorResult.Accept, message }
  }

  /** Rules on the decrypted post; a string says why it is refused. */
  private checkPost (record: ChannelRecord, author: string, post: Post, epoch: number): string | undefined {
    const kind = KIND_NAMES[post.kind]
    if (post.id.byteLength !== POST_ID_LENGTH) return 'post id has the wrong length'
    if (Number(post.wall) > Date.now() + MAX_CLOCK_SKEW_MS) return 'post is dated in the future'
    if (kind === 'text' && (post.text.length === 0 || Buffer.byteLength(post.text) > MAX_POST_TEXT_BYTES)) return 'text is empty or too large'
    if (kind === 'remove') {
      if (author !== record.creator) return 'only the creator removes members'
      if (peerIdFromBytes(post.member) == null) return 'removed member is not a peer id'
      if (post.nextEpoch !== epoch + 1) return 'removal names the wrong next epoch'
    }
    if (kind === 'join' && record.members[author]?.state !== 'member' && this.memberCount(record) >= MAX_CHANNEL_MEMBERS) return 'channel is full'
    // A removed member still holds the old key: what it dates after its removal is not a member's.
    for (const r of record.removals) {
      if (r.member === author && epoch < r.nextEpoch && compareClock(Number(post.wall), post.counter, r.wall, r.counter) > 0) return 'author was removed'
    }
    return undefined
  }

  /** What a post changes in the channel (membership, epochs), applied once it is accepted. */
  private apply (record: ChannelRecord, author: string, post: Post, message: ChannelMessage): void {
    const current = record.members[author]
    // Replayed history must not undo a later change: only a newer post moves a member's state.
    const newer = current == null || current.order == null || current.order < message.order
    switch (message.kind) {
      case 'join': {
        if (!newer && current != null) return
        const relays = parseAddrs(post.relays, true)
        const addrs = parseAddrs(post.addrs, false)
        const removed = current?.state === 'removed'
        // A removed member comes back only with a key it was given after its removal.
        if (removed && !record.removals.some(r => r.member === author && message.epoch >= r.nextEpoch)) return
        record.members[author] = { peerId: author, state: 'member', since: current?.since ?? message.receivedAt, relays, addrs, order: message.order }
        this.dirty.add(record.id)
        this.init.learn(author, post.relays, post.addrs).catch(err => { this.init.log('could not note where %s is: %s', author, err.message) })
        if (this.running) this.connect(record)
        break
      }
      case 'leave':
        if (!newer || current == null) return
        current.state = 'left'
        current.order = message.order
        this.dirty.add(record.id)
        break
      case 'remove': {
        const member = message.member as string
        this.applyRemoval(record, member, message)
        if (member === this.self) {
          record.state = 'removed'
          this.unsubscribe(record)
        } else if (record.keys[post.nextEpoch] == null && post.nextEpoch > record.epoch) {
          record.awaitingEpoch = Math.max(record.awaitingEpoch ?? 0, post.nextEpoch)
        }
        this.dirty.add(record.id)
        void this.dropAfterRemoval(record, member, message)
        break
      }
    }
  }

  private memberCount (record: ChannelRecord): number {
    let n = 0
    for (const m of Object.values(record.members)) if (m.state === 'member') n++
    return n
  }

  private applyRemoval (record: ChannelRecord, member: string, message: ChannelMessage): void {
    const m = record.members[member] ??= { peerId: member, state: 'removed', since: message.receivedAt, relays: [], addrs: [] }
    m.state = 'removed'
    m.order = message.order
    if (!record.removals.some(r => r.member === member && r.nextEpoch === (message.epoch + 1))) {
      record.removals.push({ member, wall: message.wall, counter: message.counter, nextEpoch: message.epoch + 1 })
    }
  }

  /** Deletes what a removed member dated after its removal (it may have arrived before the removal did). */
  private async dropAfterRemoval (record: ChannelRecord, member: string, removal: ChannelMessage): Promise<void> {
    try {
      await this.flushing
      const later = await this.init.store.messages(record.id, { after: removal.order, author: member })
      // The same rule as checkPost: dated after the removal's clock, in an epoch the member held.
      await this.init.store.deleteMessages(later.filter(m => m.epoch <= removal.epoch && compareClock(m.wall, m.counter, removal.wall, removal.counter) > 0))
    } catch (err: any) {
      this.init.log('could not drop posts of removed member %s: %s', member, err.message)
    }
  }

  private toMessage (record: ChannelRecord, author: string, post: Post, epoch: number, receivedAt: number): ChannelMessage {
    const id = idToHex(post.id)
    const kind = KIND_NAMES[post.kind]
    const wall = Number(post.wall)
    return {
      channel: record.id,
      id,
      author,
      kind,
      ...(kind === 'text' ? { text: post.text } : {}),
      ...(kind === 'remove' ? { member: peerIdFromBytes(post.member)?.toString() } : {}),
      wall,
      counter: post.counter,
      order: orderKey(wall, post.counter, id),
      epoch,
      receivedAt
    }
  }

  private observe (wall: number, counter: number): void {
    if (compareClock(wall, counter, this.clock.wall, this.clock.counter) > 0) this.clock = { wall, counter }
  }

  /** Writes received messages in batches and announces the new ones. */
  private async flush (): Promise<void> {
    try {
      while (this.incoming.length > 0) {
        const batch = this.incoming
        this.incoming = []
        await this.persist(batch)
      }
    } catch (err: any) {
      this.init.log.error('storing channel messages failed: %s', err.message)
    } finally {
      this.flushing = undefined
    }
  }

  private async persist (messages: ChannelMessage[]): Promise<void> {
    const changed = [...this.dirty].map(id => this.byId.get(id)).filter(r => r != null)
    this.dirty.clear()
    const added = await this.init.store.addMessages(messages, { extra: changed.map(r => this.init.store.channelOp(r)) })
    this.stats.received += added.length
    for (const m of added) {
      const record = this.byId.get(m.channel)
      if (record != null) this.init.onMessage({ ...m, name: record.name })
    }
    for (const r of changed) this.init.onUpdate(this.info(r))
  }

  /** A key grant from a direct message: accepted only from the channel's creator. */
  async applyGrant (sender: string, bytes: Uint8Array): Promise<void> {
    let grant: KeyGrant
    try {
      grant = KeyGrant.decode(bytes, { limits: { removed: MAX_GRANT_REMOVALS } })
    } catch {
      this.init.log('dropped a malformed key grant from %s', sender)
      return
    }
    const record = this.byId.get(idToHex(grant.channel))
    if (record == null || record.state !== 'active' || grant.key.byteLength !== CHANNEL_KEY_LENGTH) return
    if (sender !== record.creator) {
      this.init.log('dropped a key grant for %s from %s, who is not its creator', record.name, sender)
      return
    }
    record.keys[grant.epoch] = Buffer.from(grant.key).toString('hex')
    for (const bytes of grant.removed) {
      const peer = peerIdFromBytes(bytes)?.toString()
      if (peer == null) continue
      const m = record.members[peer] ??= { peerId: peer, state: 'removed', since: Date.now(), relays: [], addrs: [] }
      m.state = 'removed'
    }
    if (grant.epoch > record.epoch) record.epoch = grant.epoch
    if (record.awaitingEpoch != null && record.awaitingEpoch <= record.epoch) delete record.awaitingEpoch
    this.index(record)
    this.dirty.delete(record.id)
    await this.init.store.putChannel(record)
    this.init.onUpdate(this.info(record))
    this.subscribe(record)
    this.archiveAtHome(record)
    this.publishPending(record)
    this.catchUp(record)
  }

  /**
   * Queues the current key for every remaining member, then clears `grantsOwed`: a crash in
   * between queues them again at the next start (a second grant of the same key is harmless).
   */
  private async sendGrants (record: ChannelRecord): Promise<void> {
    const grant = this.grantFor(record)
    for (const m of Object.values(record.members)) {
      if (m.state !== 'member' || m.peerId === this.self) continue
      await this.init.grant(peerIdFromString(m.peerId), grant)
    }
    delete record.grantsOwed
    this.dirty.delete(record.id)
    await this.init.store.putChannel(record)
  }

  /** The current key as a grant, naming the most recent removals (bounded to fit one direct message). */
  private grantFor (record: ChannelRecord): Uint8Array {
    const removed = record.removals.slice(-MAX_GRANT_REMOVALS).map(r => peerIdFromString(r.member).toMultihash().bytes as Uint8Array<ArrayBuffer>)
    return KeyGrant.encode({ channel: idFromHex(record.id), epoch: record.epoch, key: idFromHex(record.keys[record.epoch]), removed })
  }

  // --- history --------------------------------------------------------------

  /**
   * Reads what this node missed from the channel's relays, for every epoch it holds a key for,
   * through the same checks as live frames. A cursor per topic and relay moves only after the
   * messages it covers are written.
   */
  catchUp (record: ChannelRecord, relays: string[] = this.channelRelays(record)): void {
    for (const relay of relays) {
      const key = `${record.id} ${relay}`
      const running = this.catchingUp.get(key)
      if (running != null) { running.again = true; continue }
      const state = { again: false }
      this.catchingUp.set(key, state)
      void (async () => {
        let found = false
        try {
          do {
            state.again = false
            for (const epoch of Object.keys(record.keys).map(Number)) {
              if (!this.running || record.state !== 'active') break
              if (await this.catchUpTopic(record, epoch, relay) > 0) found = true
            }
          } while (state.again && this.running)
        } catch (err: any) {
          this.init.log('catching up %s from %s failed: %s', record.name, relay, err.message)
        } finally {
          this.catchingUp.delete(key)
          this.antiEntropy.done(record.id, relay, found)
        }
      })()
    }
  }

  /** Pages through one topic's history at one relay; returns how many frames it got. */
  private async catchUpTopic (record: ChannelRecord, epoch: number, relay: string): Promise<number> {
    const topic = this.topic(record, epoch)
    const peer = peerIdFromString(relay)
    if (this.init.libp2p.getConnections(peer).length === 0) return 0
    let cursor = await this.init.store.cursor(topic, relay)
    let got = 0
    for (let page = 0; page < MAX_HISTORY_PAGES && this.running; page++) {
      const { frames, more } = await this.init.history.fetch(peer, topic, cursor)
      if (frames.length === 0) break
      got += frames.length
      const accepted: ChannelMessage[] = []
      // A page's signatures are checked in parallel on the thread pool.
      const decisions = await Promise.all(frames.map(async f => await this.decide(topic, f.data)))
      for (const decision of decisions) {
        if (decision.message != null) accepted.push(decision.message)
        else if (decision.result === TopicValidatorResult.Reject) this.rejected(topic, relay, decision.reason, 'history')
      }
      await this.flushing
      await this.persist(accepted)
      cursor = frames[frames.length - 1].seq
      await this.init.store.putCursor(topic, relay, cursor)
      if (!more) break
    }
    return got
  }

  // --- connectivity ---------------------------------------------------------

  /** Relays that archive this channel: this node's home relays first, then the members'. */
  private channelRelays (record: ChannelRecord): string[] {
    const ids: string[] = []
    for (const text of this.relayAddrs(record)) {
      const id = multiaddr(text).getComponents().findLast(c => c.name === 'p2p')?.value
      if (id != null && id !== this.self && !ids.includes(id)) ids.push(id)
    }
    return ids.slice(0, MAX_CHANNEL_RELAYS)
  }

  private relayAddrs (record: ChannelRecord): string[] {
    const own = parseAddrs(this.init.whereabouts().relays, true)
    const members = Object.values(record.members).filter(m => m.state === 'member' && m.peerId !== this.self).flatMap(m => m.relays)
    return [...new Set([...own, ...members])]
  }

  /** Asks this node's home relays to archive every topic of the channel it holds a key for. */
  private archiveAtHome (record: ChannelRecord): void {
    for (const relay of this.homeRelayIds()) this.archiveAt(record, relay)
  }

  private archiveAt (record: ChannelRecord, relay: string): void {
    if (!this.homeRelayIds().includes(relay)) return
    for (const epoch of Object.keys(record.keys).map(Number)) {
      const topic = this.topic(record, epoch)
      const key = `${topic} ${relay}`
      if (this.archived.has(key)) continue
      const peer = peerIdFromString(relay)
      if (this.init.libp2p.getConnections(peer).length === 0) continue
      this.archived.add(key)
      this.init.history.archive(peer, topic).catch(err => {
        this.archived.delete(key)
        this.init.log('relay %s did not take %s: %s', relay, record.name, err.message)
      })
    }
  }

  /**
   * Dials the channel's relays and members this node is not connected to, a few at a time, while
   * it has fewer topic peers than there are to reach: a channel whose members never met directly
   * still meshes through their relays.
   */
  private connect (record: ChannelRecord): void {
    const topic = this.topic(record, record.epoch)
    const subscribers = new Set(this.init.topics.gossip.getSubscribers(topic).map(p => p.toString()))
    const candidates: Array<{ peer: string, addrs: string[] }> = []
    const relayAddrs = this.relayAddrs(record)
    for (const relay of this.channelRelays(record)) candidates.push({ peer: relay, addrs: relayAddrs.filter(a => a.endsWith(`/p2p/${relay}`)) })
    for (const m of Object.values(record.members)) {
      if (m.state === 'member' && m.peerId !== this.self) candidates.push({ peer: m.peerId, addrs: m.addrs })
    }
    let dials = 0
    for (const c of candidates) {
      if (dials >= MAX_CHANNEL_DIALS) break
      if (subscribers.has(c.peer) || this.dialing.has(c.peer)) continue
      const peer = peerIdFromString(c.peer)
      if (this.init.libp2p.getConnections(peer).length > 0) continue
      dials++
      this.dialing.add(c.peer)
      void (async () => {
        if (c.addrs.length > 0) await this.init.libp2p.peerStore.merge(peer, { multiaddrs: c.addrs.map(a => withoutPeer(a, c.peer)) })
        await this.init.libp2p.dial(peer, { signal: AbortSignal.timeout(CHANNEL_DIAL_TIMEOUT_MS) })
      })()
        .catch(err => { this.init.log('channel peer %s not reachable: %s', c.peer, err.message) })
        .finally(() => this.dialing.delete(c.peer))
    }
  }

  private maintain (): void {
    if (!this.running) return
    for (const record of this.byId.values()) {
      if (record.state === 'active') {
        this.connect(record)
        this.archiveAtHome(record)
        // Anti-entropy: what a relay archived after this node last asked (a post that reached
        // the relay just before this node subscribed, say) arrives within a round while the
        // channel is busy, and within a few minutes when it is quiet (anti-entropy.ts).
        this.catchUp(record, this.channelRelays(record).filter(relay => this.antiEntropy.due(record.id, relay)))
      }
      if (this.pendingCount(record) > 0) this.publishPending(record)
    }
  }

  // --- helpers --------------------------------------------------------------

  private subscribe (record: ChannelRecord): void {
    if (!this.running) return
    // The current epoch and the one before it: posts in flight during a key change still arrive.
    for (const epoch of Object.keys(record.keys).map(Number)) {
      if (epoch < record.epoch - 1) continue
      const topic = this.topic(record, epoch)
      this.init.topics.join(topic, 'member', (data, from) => this.validate(topic, data, from))
    }
  }

  private unsubscribe (record: ChannelRecord): void {
    for (const [topic, where] of this.topicIndex) {
      if (where.channel === record.id) this.init.topics.leave(topic, 'member')
    }
    this.antiEntropy.forget(record.id)
  }

  /** The topic of an epoch whose key this node holds. */
  private topic (record: ChannelRecord, epoch: number): string {
    return topicFor(idFromHex(record.id), epoch, idFromHex(record.keys[epoch]))
  }

  private index (record: ChannelRecord): void {
    for (const epoch of Object.keys(record.keys).map(Number)) {
      this.topicIndex.set(this.topic(record, epoch), { channel: record.id, epoch })
    }
  }

  private assertRunning (): void {
    if (!this.running) throw new NotStartedError('the node is not started')
  }

  private active (nameOrId: string): ChannelRecord {
    const record = this.get(nameOrId)
    if (record.state !== 'active') throw new ChannelStateError(`you ${record.state === 'left' ? 'left' : 'were removed from'} channel ${record.name}`)
    return record
  }

  private selfMember (now: number): MemberRecord {
    const { relays, addrs } = this.init.whereabouts()
    return { peerId: this.self, state: 'member', since: now, relays: parseAddrs(relays, true), addrs: parseAddrs(addrs, false) }
  }

  private checkName (name: string): void {
    if (typeof name !== 'string' || name.trim() !== name || name.length === 0 || name.length > MAX_CHANNEL_NAME || /[\p{C}\s]/u.test(name)) {
      throw new InvalidMessageError(`a channel name is 1 to ${MAX_CHANNEL_NAME} characters without spaces`)
    }
    if (/^[0-9a-f]{32}$/.test(name)) throw new InvalidMessageError('a channel name cannot look like a channel id')
    if ([...this.byId.values()].some(r => r.name === name)) throw new ChannelStateError(`a channel named ${name} exists already`)
  }
}

/** An address without a trailing /p2p/<peer> (a circuit address keeps its relay's /p2p). */
function withoutPeer (text: string, peer: string): Multiaddr {
  const addr = multiaddr(text)
  const last = addr.getComponents().at(-1)
  return last?.name === 'p2p' && last.value === peer ? addr.decapsulateCode(421) : addr
}

function compareClock (wallA: number, counterA: number, wallB: number, counterB: number): number {
  return wallA !== wallB ? wallA - wallB : counterA - counterB
}

function dedupeBytes (list: Uint8Array[]): Uint8Array[] {
  const seen = new Set<string>()
  return list.filter(b => {
    const k = Buffer.from(b).toString('hex')
    if (seen.has(k)) return false
    seen.add(k)
    return true
  })
}
