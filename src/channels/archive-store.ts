/**
 * A relay's channel archive in LevelDB: the ciphertext frames published on the channel topics
 * its clients asked it to archive, per topic in arrival order. The relay cannot read them; it
 * sees the topic, the size and when each came.
 *
 *   archive-frames  `${topic} ${seq}`  -> { data (base64), at, id }
 *   archive-ids     `${topic} ${id}`   -> seq   (a frame that arrives twice is kept once)
 *   archive-topics  topic              -> { requestedBy, nextSeq, count, since }
 *
 * The space separator sorts below every character of a topic, so one topic's keys are one range.
 */
import type { AbstractLevel, AbstractSublevel } from 'abstract-level'

type Db = AbstractLevel<any, string, any>
type Sub<V> = AbstractSublevel<Db, any, string, V>

const SEQ_WIDTH = 16
const seqKey = (seq: number): string => seq.toString().padStart(SEQ_WIDTH, '0')

interface FrameRecord { data: string, at: number, id: string }

export interface TopicRecord {
  /** Peers (ids) that asked for this topic to be archived. */
  requestedBy: string[]
  nextSeq: number
  count: number
  since: number
  /** When the newest frame came (ms since the epoch); a topic silent for a whole TTL is dropped. */
  last?: number
}

export interface ArchivedFrame {
  seq: number
  data: Uint8Array
  at: number
}

export class ArchiveStore {
  private readonly db: Db
  private readonly frames: Sub<FrameRecord>
  private readonly ids: Sub<number>
  private readonly topicsDb: Sub<TopicRecord>
  /** Every archived topic, loaded at open: the validator consults it for each frame. */
  readonly topics = new Map<string, TopicRecord>()
  private chain: Promise<unknown> = Promise.resolve()

  constructor (db: Db) {
    this.db = db
    this.frames = db.sublevel<string, FrameRecord>('archive-frames', { valueEncoding: 'json' }) as any
    this.ids = db.sublevel<string, number>('archive-ids', { valueEncoding: 'json' }) as any
    this.topicsDb = db.sublevel<string, TopicRecord>('archive-topics', { valueEncoding: 'json' }) as any
  }

  async open (): Promise<void> {
    for await (const [topic, record] of this.topicsDb.iterator()) this.topics.set(topic, record)
  }

  /** Writes run one at a time: a topic's seq counter and count must see each other's updates. */
  private async serial<T> (fn: () => Promise<T>): Promise<T> {
    const run = this.chain.then(fn)
    this.chain = run.catch(() => {})
    return await run
  }

  /** Starts archiving `topic` for `peer`; false when `peer` is at `perPeer` topics or the relay at `total`. */
  async addTopic (topic: string, peer: string, limits: { perPeer: number, total: number }): Promise<boolean> {
    return await this.serial(async () => {
      const existing = this.topics.get(topic)
      if (existing?.requestedBy.includes(peer) === true) return true
      let mine = 0
      for (const t of this.topics.values()) if (t.requestedBy.includes(peer)) mine++
      if (mine >= limits.perPeer || (existing == null && this.topics.size >= limits.total)) return false
      const record: TopicRecord = existing ?? { requestedBy: [], nextSeq: 1, count: 0, since: Date.now() }
      record.requestedBy.push(peer)
      this.topics.set(topic, record)
      await this.topicsDb.put(topic, record)
      return true
    })
  }

  /**
   * Archives frames of one topic (ids are gossipsub message ids, hex), dropping those already held,
   * and trims the topic to `maxMessages`. Returns how many were new.
   */
  async add (topic: string, frames: Array<{ id: string, data: Uint8Array }>, maxMessages: number): Promise<number> {
    return await this.serial(async () => {
      const record = this.topics.get(topic)
      if (record == null || frames.length === 0) return 0
      const held = await this.ids.getMany(frames.map(f => `${topic} ${f.id}`))
      const now = Date.now()
      const ops: any[] = []
      const inBatch = new Set<string>()
      let added = 0
      for (let i = 0; i < frames.length; i++) {
        const f = frames[i]
        if (held[i] != null || inBatch.has(f.id)) continue
        inBatch.add(f.id)
        const seq = record.nextSeq++
        ops.push({ type: 'put', sublevel: this.frames, key: `${topic} ${seqKey(seq)}`, value: { data: Buffer.from(f.data).toString('base64'), at: now, id: f.id } })
        ops.push({ type: 'put', sublevel: this.ids, key: `${topic} ${f.id}`, value: seq })
        added++
      }
      record.count += added
      if (added > 0) record.last = now
      if (record.count > maxMessages) ops.push(...await this.trimOps(topic, record, record.count - maxMessages))
      ops.push({ type: 'put', sublevel: this.topicsDb, key: topic, value: record })
      await this.db.batch(ops)
      return added
    })
  }

  /** Deletes for the `n` oldest frames of a topic (the caller adjusts nothing else). */
  private async trimOps (topic: string, record: TopicRecord, n: number, before?: number): Promise<any[]> {
    const ops: any[] = []
    for await (const [key, frame] of this.frames.iterator({ gt: `${topic} `, lt: `${topic}!`, limit: n })) {
      if (before != null && frame.at >= before) break
      ops.push({ type: 'del', sublevel: this.frames, key })
      ops.push({ type: 'del', sublevel: this.ids, key: `${topic} ${frame.id}` })
      record.count--
    }
    return ops
  }

  /** Frames of `topic` after seq `after`, oldest first, up to `limit` frames and about `budget` bytes. */
  async page (topic: string, after: number, limit: number, budget: number): Promise<{ frames: ArchivedFrame[], more: boolean }> {
    const frames: ArchivedFrame[] = []
    let bytes = 0
    for await (const [key, frame] of this.frames.iterator({ gt: `${topic} ${seqKey(after)}`, lt: `${topic}!` })) {
      const data = Buffer.from(frame.data, 'base64')
      if (frames.length >= limit || (frames.length > 0 && bytes + data.byteLength > budget)) return { frames, more: true }
      frames.push({ seq: Number(key.slice(topic.length + 1)), data: new Uint8Array(data), at: frame.at })
      bytes += data.byteLength
    }
    return { frames, more: false }
  }

  /**
   * Deletes frames archived before `before` (ms since the epoch), and topics with no frame left
   * and none since `before` (a channel that moved to a new epoch, or went quiet for good).
   * Returns how many frames went and which topics.
   */
  async sweep (before: number): Promise<{ frames: number, topics: string[] }> {
    let frames = 0
    const dropped: string[] = []
    for (const topic of [...this.topics.keys()]) {
      frames += await this.serial(async () => {
        const record = this.topics.get(topic)
        if (record == null) return 0
        const count = record.count
        const ops = await this.trimOps(topic, record, count, before)
        if (record.count === 0 && (record.last ?? record.since) < before) {
          this.topics.delete(topic)
          dropped.push(topic)
          ops.push({ type: 'del', sublevel: this.topicsDb, key: topic })
        } else if (ops.length > 0) {
          ops.push({ type: 'put', sublevel: this.topicsDb, key: topic, value: record })
        }
        if (ops.length > 0) await this.db.batch(ops)
        return count - record.count
      })
    }
    return { frames, topics: dropped }
  }

  totals (): { topics: number, frames: number } {
    let frames = 0
    for (const t of this.topics.values()) frames += t.count
    return { topics: this.topics.size, frames }
  }
}
