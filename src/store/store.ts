/**
 * The node's durable state in one LevelDB (or, for tests and embedders who want no disk,
 * memory-level): outbox, inbox, the index that drops duplicates, and contacts.
 *
 * Every change that makes a promise to someone else (a message accepted by `send`, a message
 * acknowledged to its sender) is one atomic batch written with `sync` when durability is
 * 'fsync', before the promise is made.
 */
import { Level } from 'level'
import { readdir, stat } from 'node:fs/promises'
import { join } from 'node:path'
import { DataDirLockedError } from '../errors.js'
import type { AbstractLevel, AbstractSublevel } from 'abstract-level'
import type { ContactRecord, FormerContact, InboxRecord, OutboxRecord, OutboxState, PeerInfo, RelayRecord } from './types.js'

export type Durability = 'fsync' | 'os'

type Db = AbstractLevel<any, string, any>
type Sub<V> = AbstractSublevel<Db, any, string, V>

/** Inbox keys are zero-padded sequence numbers so that key order is arrival order. */
const SEQ_WIDTH = 16
const seqKey = (seq: number): string => seq.toString().padStart(SEQ_WIDTH, '0')

export interface InboxQuery {
  /** Only messages from this peer id. */
  from?: string
  /** Only messages with seq greater than this. */
  afterSeq?: number
  /** At most this many, oldest first. */
  limit?: number
}

export class Store {
  readonly location: string | undefined
  private readonly db: Db
  /** classic-level's write options; held in a variable because abstract-level's types omit `sync`. */
  private readonly durable: { sync: boolean, keyEncoding?: 'utf8' }
  private readonly outbox: Sub<OutboxRecord>
  /** ids of outbox records still to deliver: the scheduler's work list survives restarts here. */
  private readonly pending: Sub<string>
  private readonly inbox: Sub<InboxRecord>
  /** `${from}/${id}` -> inbox seq: a message is kept once per sender and id. */
  private readonly seen: Sub<number>
  private readonly contacts: Sub<ContactRecord>
  private readonly meta: Sub<any>
  private readonly relays: Sub<RelayRecord>
  /** Where peers said they are, inside their messages: peer id -> relays and addresses. */
  private readonly peerInfo: Sub<PeerInfo>
  private nextSeq = 1
  private incomingChain: Promise<unknown> = Promise.resolve()

  constructor (db: Db, location: string | undefined, durability: Durability) {
    this.db = db
    this.location = location
    this.durable = { sync: durability === 'fsync' }
    this.outbox = db.sublevel<string, OutboxRecord>('outbox', { valueEncoding: 'json' }) as any
    this.pending = db.sublevel<string, string>('pending', { valueEncoding: 'utf8' }) as any
    this.inbox = db.sublevel<string, InboxRecord>('inbox', { valueEncoding: 'json' }) as any
    this.seen = db.sublevel<string, number>('seen', { valueEncoding: 'json' }) as any
    this.contacts = db.sublevel<string, ContactRecord>('contacts', { valueEncoding: 'json' }) as any
    this.meta = db.sublevel<string, any>('meta', { valueEncoding: 'json' }) as any
    this.relays = db.sublevel<string, RelayRecord>('relays', { valueEncoding: 'json' }) as any
    this.peerInfo = db.sublevel<string, PeerInfo>('peer-info', { valueEncoding: 'json' }) as any
  }

  /** Opens the LevelDB at `path`, failing with DataDirLockedError if another process holds it. */
  static async open (path: string, durability: Durability = 'fsync'): Promise<Store> {
    const db = new Level<string, any>(path, { valueEncoding: 'json' })
    try {
      await db.open()
    } catch (err: any) {
      if (err.code === 'LEVEL_LOCKED' || err.cause?.code === 'LEVEL_LOCKED') {
        throw new DataDirLockedError(`the store at ${path} is in use by another pigeon process`)
      }
      throw err
    }
    const store = new Store(db as unknown as Db, path, durability)
    await store.init()
    return store
  }

  /** A store that lives in memory only. */
  static async memory (): Promise<Store> {
    const { MemoryLevel } = await import('memory-level')
    const db = new MemoryLevel<string, any>({ valueEncoding: 'json' })
    await db.open()
    const store = new Store(db as unknown as Db, undefined, 'os')
    await store.init()
    return store
  }

  private async init (): Promise<void> {
    for await (const key of this.inbox.keys({ reverse: true, limit: 1 })) {
      this.nextSeq = Number(key) + 1
    }
  }

  /** The database itself, for parts of the node that keep their own sublevels (a relay's mailboxes). */
  get database (): Db {
    return this.db
  }

  /** Whether writes that make promises are synced (durability 'fsync'). */
  get syncs (): boolean {
    return this.durable.sync
  }

  async close (): Promise<void> {
    await this.db.close()
  }

  // --- outbox -------------------------------------------------------------

  /** Records a new outgoing message and puts it on the work list, atomically. */
  async addOutgoing (record: OutboxRecord): Promise<void> {
    await this.db.batch([
      { type: 'put', sublevel: this.outbox, key: record.id, value: record },
      { type: 'put', sublevel: this.pending, key: record.id, value: '' }
    ] as any, this.durable)
  }

  async getOutgoing (id: string): Promise<OutboxRecord | undefined> {
    return await this.outbox.get(id) ?? undefined
  }

  /**
   * Updates records; those no longer queued or sent leave the work list. Not synced unless
   * `durable`: a lost state update only causes a resend that the receiver drops as a duplicate.
   */
  async updateOutgoing (records: OutboxRecord[], options: { durable?: boolean } = {}): Promise<void> {
    if (records.length === 0) return
    const ops: any[] = []
    for (const record of records) {
      ops.push({ type: 'put', sublevel: this.outbox, key: record.id, value: record })
      if (record.state !== 'queued' && record.state !== 'sent') ops.push({ type: 'del', sublevel: this.pending, key: record.id })
    }
    await this.db.batch(ops, options.durable === true ? this.durable : {})
  }

  /** Messages still to deliver, oldest first. */
  async pendingOutgoing (): Promise<OutboxRecord[]> {
    const ids: string[] = []
    for await (const id of this.pending.keys()) ids.push(id)
    const records = await this.outbox.getMany(ids)
    return records.filter((r): r is OutboxRecord => r != null).sort((a, b) => a.createdAt - b.createdAt)
  }

  async listOutgoing (options: { to?: string, limit?: number } = {}): Promise<OutboxRecord[]> {
    const out: OutboxRecord[] = []
    for await (const record of this.outbox.values()) {
      if (options.to != null && record.to !== options.to) continue
      out.push(record)
    }
    out.sort((a, b) => a.createdAt - b.createdAt)
    return options.limit != null ? out.slice(Math.max(out.length - options.limit, 0)) : out
  }

  /**
   * Text messages by state (receipts, which are messages too, are not counted). `live` overrides
   * the stored state of records the scheduler holds in memory.
   */
  async countOutgoingByState (live: Map<string, OutboxState> = new Map()): Promise<Record<OutboxState, number>> {
    const counts: Record<OutboxState, number> = { queued: 0, sent: 0, delivered: 0, read: 0, failed: 0 }
    for await (const record of this.outbox.values()) {
      if (record.kind === 'text') counts[live.get(record.id) ?? record.state]++
    }
    return counts
  }

  // --- inbox --------------------------------------------------------------

  /**
   * Stores the messages not seen before and returns them with their seq; duplicates (same
   * sender and id, already held) are skipped. Calls run one at a time: the duplicate check and
   * the write must not interleave (a message can arrive directly and from a relay at once).
   */
  async addIncoming (messages: Array<Omit<InboxRecord, 'seq'>>): Promise<InboxRecord[]> {
    const run = this.incomingChain.then(async () => this.addIncomingNow(messages))
    this.incomingChain = run.catch(() => {})
    return await run
  }

  private async addIncomingNow (messages: Array<Omit<InboxRecord, 'seq'>>): Promise<InboxRecord[]> {
    if (messages.length === 0) return []
    const keys = messages.map(m => `${m.from}/${m.id}`)
    const existing = await this.seen.getMany(keys)
    const added: InboxRecord[] = []
    const ops: any[] = []
    const inBatch = new Set<string>()
    for (let i = 0; i < messages.length; i++) {
      if (existing[i] != null || inBatch.has(keys[i])) continue
      inBatch.add(keys[i])
      const record: InboxRecord = { ...messages[i], seq: this.nextSeq++ }
      added.push(record)
      ops.push({ type: 'put', sublevel: this.inbox, key: seqKey(record.seq), value: record })
      ops.push({ type: 'put', sublevel: this.seen, key: keys[i], value: record.seq })
    }
    if (ops.length > 0) await this.db.batch(ops, this.durable)
    return added
  }

  async listIncoming (query: InboxQuery = {}): Promise<InboxRecord[]> {
    const out: InboxRecord[] = []
    const range = query.afterSeq != null ? { gt: seqKey(query.afterSeq) } : {}
    if (query.limit === 0) return out
    for await (const record of this.inbox.values(range)) {
      if (query.from != null && record.from !== query.from) continue
      out.push(record)
      if (query.limit != null && out.length >= query.limit) break
    }
    return out
  }

  async getIncoming (from: string, id: string): Promise<InboxRecord | undefined> {
    const seq = await this.seen.get(`${from}/${id}`)
    if (seq == null) return undefined
    return await this.inbox.get(seqKey(seq)) ?? undefined
  }

  async updateIncoming (records: InboxRecord[]): Promise<void> {
    if (records.length === 0) return
    await this.db.batch(records.map(r => ({ type: 'put', sublevel: this.inbox, key: seqKey(r.seq), value: r })) as any)
  }

  async countIncoming (): Promise<{ total: number, unread: number, requests: number }> {
    let total = 0; let unread = 0; let requests = 0
    for await (const record of this.inbox.values()) {
      total++
      if (!record.read) unread++
      if (record.request) requests++
    }
    return { total, unread, requests }
  }

  // --- contacts -----------------------------------------------------------

  async putContact (record: ContactRecord): Promise<void> {
    await this.contacts.put(record.name, record, this.durable)
  }

  async deleteContact (name: string): Promise<void> {
    await this.contacts.del(name, this.durable)
  }

  /** Removes a contact and remembers which peer had its name, in one write. */
  async removeContact (name: string, former: FormerContact): Promise<void> {
    await this.db.batch([
      { type: 'del', sublevel: this.contacts, key: name },
      { type: 'put', sublevel: this.meta, key: `former-contact/${name}`, value: former }
    ] as any, this.durable)
  }

  async getFormerContact (name: string): Promise<FormerContact | undefined> {
    return await this.meta.get(`former-contact/${name}`) ?? undefined
  }

  async listContacts (): Promise<ContactRecord[]> {
    const out: ContactRecord[] = []
    for await (const record of this.contacts.values()) out.push(record)
    return out
  }

  // --- relays -------------------------------------------------------------

  async putRelay (record: RelayRecord): Promise<void> {
    await this.relays.put(record.peerId, record, this.durable)
  }

  async deleteRelay (peerId: string): Promise<void> {
    await this.relays.del(peerId, this.durable)
  }

  async listRelays (): Promise<RelayRecord[]> {
    const out: RelayRecord[] = []
    for await (const record of this.relays.values()) out.push(record)
    return out
  }

  async getPeerInfo (peerId: string): Promise<PeerInfo> {
    return await this.peerInfo.get(peerId) ?? { relays: [], addrs: [] }
  }

  async putPeerInfo (peerId: string, info: PeerInfo): Promise<void> {
    await this.peerInfo.put(peerId, info)
  }

  // --- misc ---------------------------------------------------------------

  async getMeta<T> (key: string): Promise<T | undefined> {
    return await this.meta.get(key) ?? undefined
  }

  /** `durable`: synced under the 'fsync' durability, for what must survive a crash once used. */
  async putMeta (key: string, value: unknown, options: { durable?: boolean } = {}): Promise<void> {
    await this.meta.put(key, value, options.durable === true ? this.durable : {})
  }

  /** Bytes the store occupies on disk (0 in memory). */
  async sizeOnDisk (): Promise<number> {
    if (this.location == null) return 0
    let total = 0
    for (const name of await readdir(this.location)) {
      try {
        total += (await stat(join(this.location, name))).size
      } catch {
        // compaction removed it between readdir and stat
      }
    }
    return total
  }
}
