/**
 * A member's channels in LevelDB:
 *
 *   channels          id                      -> ChannelRecord
 *   channel-log       `${id} ${order}`        -> ChannelMessage   (key order is display order)
 *   channel-seen      `${id} ${author} ${post}` -> order          (a post is kept once)
 *   channel-pending   `${id} ${post}`         -> PendingPost      (own posts not yet published)
 *   channel-cursors   `${topic} ${relay}`     -> seq              (history read so far, per relay)
 *
 * Own posts are written with the store's durability before `post` returns. Posts received from
 * others are written without a sync: a crash may lose the last of them, and the next catch-up
 * fetches them again from the relays (cursors move only after the posts they cover are written).
 */
import type { AbstractLevel, AbstractSublevel } from 'abstract-level'
import type { ChannelMessage, ChannelRecord, PendingPost } from './types.js'

type Db = AbstractLevel<any, string, any>
type Sub<V> = AbstractSublevel<Db, any, string, V>

interface PendingWrite {
  messages: ChannelMessage[]
  options: { pending?: PendingPost[], extra?: any[] }
  resolve: (added: ChannelMessage[]) => void
  reject: (err: unknown) => void
}

export class ChannelStore {
  private readonly db: Db
  /** classic-level's write options; `sync` is missing from abstract-level's types. */
  private readonly durable: { sync: boolean, keyEncoding?: 'utf8' }
  private readonly channels: Sub<ChannelRecord>
  private readonly log: Sub<ChannelMessage>
  private readonly seen: Sub<string>
  private readonly pending: Sub<PendingPost>
  private readonly cursors: Sub<number>
  /** Writes waiting for the one in progress; they go together in the next batch. */
  private writes: PendingWrite[] = []
  private writing = false

  constructor (db: Db, sync: boolean) {
    this.db = db
    this.durable = { sync }
    this.channels = db.sublevel<string, ChannelRecord>('channels', { valueEncoding: 'json' }) as any
    this.log = db.sublevel<string, ChannelMessage>('channel-log', { valueEncoding: 'json' }) as any
    this.seen = db.sublevel<string, string>('channel-seen', { valueEncoding: 'json' }) as any
    this.pending = db.sublevel<string, PendingPost>('channel-pending', { valueEncoding: 'json' }) as any
    this.cursors = db.sublevel<string, number>('channel-cursors', { valueEncoding: 'json' }) as any
  }

  async listChannels (): Promise<ChannelRecord[]> {
    const out: ChannelRecord[] = []
    for await (const record of this.channels.values()) out.push(record)
    return out
  }

  async putChannel (record: ChannelRecord, ops: any[] = []): Promise<void> {
    await this.db.batch([{ type: 'put', sublevel: this.channels, key: record.id, value: record }, ...ops], this.durable)
  }

  /** The batch operation that writes a channel record, for callers that commit more with it. */
  channelOp (record: ChannelRecord): any {
    return { type: 'put', sublevel: this.channels, key: record.id, value: record }
  }

  /**
   * Adds messages not held before (by channel, author and post id) and returns them. With
   * `pending`, those posts also go on the pending list and the write is durable. Calls that
   * arrive while a write is in progress are committed together in the next one (group commit):
   * a burst of posts costs one sync, not one each, and the duplicate check sees every write.
   */
  async addMessages (messages: ChannelMessage[], options: { pending?: PendingPost[], extra?: any[] } = {}): Promise<ChannelMessage[]> {
    const { promise, resolve, reject } = Promise.withResolvers<ChannelMessage[]>()
    this.writes.push({ messages, options, resolve, reject })
    if (!this.writing) void this.drain()
    return await promise
  }

  private async drain (): Promise<void> {
    this.writing = true
    try {
      while (this.writes.length > 0) {
        const batch = this.writes.splice(0)
        try {
          const added = await this.write(batch)
          batch.forEach((w, i) => { w.resolve(added[i]) })
        } catch (err) {
          for (const w of batch) w.reject(err)
        }
      }
    } finally {
      this.writing = false
    }
  }

  private async write (batch: PendingWrite[]): Promise<ChannelMessage[][]> {
    const all = batch.flatMap(w => w.messages)
    const keys = all.map(m => `${m.channel} ${m.author} ${m.id}`)
    const held = keys.length === 0 ? [] : await this.seen.getMany(keys)
    const ops: any[] = []
    const inBatch = new Set<string>()
    let durable = false
    let i = 0
    const added = batch.map(w => {
      ops.push(...(w.options.extra ?? []))
      const mine: ChannelMessage[] = []
      for (const m of w.messages) {
        const key = keys[i]
        const wasHeld = held[i] != null
        i++
        if (wasHeld || inBatch.has(key)) continue
        inBatch.add(key)
        mine.push(m)
        ops.push({ type: 'put', sublevel: this.log, key: `${m.channel} ${m.order}`, value: m })
        ops.push({ type: 'put', sublevel: this.seen, key, value: m.order })
      }
      for (const p of w.options.pending ?? []) ops.push({ type: 'put', sublevel: this.pending, key: `${p.channel} ${p.id}`, value: p })
      if (w.options.pending != null) durable = true
      return mine
    })
    if (ops.length > 0) await this.db.batch(ops, durable ? this.durable : {})
    return added
  }

  /** Deletes messages (a removed member's posts dated after its removal); their ids stay seen. */
  async deleteMessages (messages: ChannelMessage[]): Promise<void> {
    if (messages.length === 0) return
    await this.db.batch(messages.map(m => ({ type: 'del', sublevel: this.log, key: `${m.channel} ${m.order}` })) as any)
  }

  /** Messages of a channel in display order, after `after` (an order key), at most `limit`; `last` takes the newest. */
  async messages (channel: string, options: { after?: string, limit?: number, last?: number, author?: string } = {}): Promise<ChannelMessage[]> {
    const range = { gt: `${channel} ${options.after ?? ''}`, lt: `${channel}!` }
    const out: ChannelMessage[] = []
    if (options.last != null) {
      for await (const m of this.log.values({ ...range, reverse: true })) {
        if (options.author != null && m.author !== options.author) continue
        if (out.length >= options.last) break
        out.push(m)
      }
      return out.reverse()
    }
    for await (const m of this.log.values(range)) {
      if (options.author != null && m.author !== options.author) continue
      if (options.limit != null && out.length >= options.limit) break
      out.push(m)
    }
    return out
  }

  async latest (channel: string): Promise<ChannelMessage | undefined> {
    for await (const m of this.log.values({ gt: `${channel} `, lt: `${channel}!`, reverse: true, limit: 1 })) return m
    return undefined
  }

  async pendingPosts (channel?: string): Promise<PendingPost[]> {
    const out: PendingPost[] = []
    const range = channel != null ? { gt: `${channel} `, lt: `${channel}!` } : {}
    for await (const p of this.pending.values(range)) out.push(p)
    return out
  }

  async donePending (posts: PendingPost[]): Promise<void> {
    if (posts.length === 0) return
    await this.db.batch(posts.map(p => ({ type: 'del', sublevel: this.pending, key: `${p.channel} ${p.id}` })) as any)
  }

  async cursor (topic: string, relay: string): Promise<number> {
    return await this.cursors.get(`${topic} ${relay}`) ?? 0
  }

  async putCursor (topic: string, relay: string, seq: number): Promise<void> {
    await this.cursors.put(`${topic} ${relay}`, seq)
  }
}
