/**
 * A relay's mailboxes in LevelDB: sealed envelopes held for recipients, in arrival order, each
 * written durably before the deposit is acknowledged. The relay sees only the recipient, the
 * envelope id, its size and when it came.
 *
 *   mail   `${recipient}!${seq}`   -> { id, envelope (base64), storedAt, bytes }
 *   ids    `${recipient}!${id}`    -> seq (drops a second deposit of the same envelope)
 */
import type { AbstractLevel, AbstractSublevel } from 'abstract-level'

type Db = AbstractLevel<any, string, any>
type Sub<V> = AbstractSublevel<Db, any, string, V>

const SEQ_WIDTH = 16
const seqKey = (seq: number): string => seq.toString().padStart(SEQ_WIDTH, '0')

export interface StoredMail {
  /** Envelope id, hex. */
  id: string
  envelope: Uint8Array
  storedAt: number
  /** Mailbox position; the fetch cursor. */
  seq: number
}

interface MailRecord { id: string, envelope: string, storedAt: number, bytes: number }

export interface MailboxUsage { messages: number, bytes: number }

export class MailboxStore {
  private readonly db: Db
  private readonly mail: Sub<MailRecord>
  private readonly ids: Sub<number>
  private readonly durable: { sync: boolean, keyEncoding?: 'utf8' }
  private nextSeq = 1
  /** Per-recipient usage, rebuilt at open: quota checks must not scan. */
  private readonly usage = new Map<string, MailboxUsage>()
  /** The sum of `usage`, kept with it: every deposit checks the relay's total. */
  private readonly total: MailboxUsage = { messages: 0, bytes: 0 }

  constructor (db: Db, sync: boolean) {
    this.db = db
    this.durable = { sync }
    this.mail = db.sublevel<string, MailRecord>('mailbox-mail', { valueEncoding: 'json' }) as any
    this.ids = db.sublevel<string, number>('mailbox-ids', { valueEncoding: 'json' }) as any
  }

  async open (): Promise<void> {
    for await (const [key, record] of this.mail.iterator()) {
      const [recipient, seq] = key.split('!')
      this.nextSeq = Math.max(this.nextSeq, Number(seq) + 1)
      const u = this.usage.get(recipient) ?? { messages: 0, bytes: 0 }
      u.messages++
      u.bytes += record.bytes
      this.usage.set(recipient, u)
      this.total.messages++
      this.total.bytes += record.bytes
    }
  }

  usageOf (recipient: string): MailboxUsage {
    return this.usage.get(recipient) ?? { messages: 0, bytes: 0 }
  }

  /** Totals over all mailboxes. */
  totals (): MailboxUsage & { recipients: number } {
    return { ...this.total, recipients: this.usage.size }
  }

  /** Ids (hex) among `ids` already held for `recipient`. */
  async held (recipient: string, ids: string[]): Promise<Set<string>> {
    const found = await this.ids.getMany(ids.map(id => `${recipient}!${id}`))
    return new Set(ids.filter((_, i) => found[i] != null))
  }

  /** Stores envelopes in one durable batch. Callers have checked quotas and dropped duplicates. */
  async put (items: Array<{ recipient: string, id: string, envelope: Uint8Array }>, now = Date.now()): Promise<void> {
    if (items.length === 0) return
    const ops: any[] = []
    for (const item of items) {
      const seq = this.nextSeq++
      const record: MailRecord = { id: item.id, envelope: Buffer.from(item.envelope).toString('base64'), storedAt: now, bytes: item.envelope.byteLength }
      ops.push({ type: 'put', sublevel: this.mail, key: `${item.recipient}!${seqKey(seq)}`, value: record })
      ops.push({ type: 'put', sublevel: this.ids, key: `${item.recipient}!${item.id}`, value: seq })
    }
    await this.db.batch(ops, this.durable)
    for (const item of items) {
      const u = this.usage.get(item.recipient) ?? { messages: 0, bytes: 0 }
      u.messages++
      u.bytes += item.envelope.byteLength
      this.usage.set(item.recipient, u)
      this.total.messages++
      this.total.bytes += item.envelope.byteLength
    }
  }

  /**
   * Up to `limit` envelopes for `recipient` after `cursor` (a seq), within `maxBytes`, and
   * whether the mailbox holds more after them.
   */
  async page (recipient: string, cursor: number, limit: number, maxBytes: number): Promise<{ mail: StoredMail[], more: boolean }> {
    const mail: StoredMail[] = []
    let bytes = 0
    // One past the limit: whether it exists is the answer to "more".
    for await (const [key, record] of this.mail.iterator({ gt: `${recipient}!${seqKey(cursor)}`, lt: `${recipient}!~`, limit: limit + 1 })) {
      if (mail.length === limit || (mail.length > 0 && bytes + record.bytes > maxBytes)) return { mail, more: true }
      bytes += record.bytes
      mail.push({ id: record.id, envelope: Buffer.from(record.envelope, 'base64'), storedAt: record.storedAt, seq: Number(key.split('!')[1]) })
    }
    return { mail, more: false }
  }

  /** Removes envelopes by id from one recipient's mailbox; returns how many were there. */
  async delete (recipient: string, ids: string[]): Promise<number> {
    const seqs = await this.ids.getMany(ids.map(id => `${recipient}!${id}`))
    const keys = seqs.map(seq => seq == null ? undefined : `${recipient}!${seqKey(seq)}`)
    const records = await this.mail.getMany(keys.filter((k): k is string => k != null))
    const ops: any[] = []
    let freed = 0
    let count = 0
    let r = 0
    for (let i = 0; i < ids.length; i++) {
      const key = keys[i]
      if (key == null) continue
      const record = records[r++]
      ops.push({ type: 'del', sublevel: this.ids, key: `${recipient}!${ids[i]}` })
      if (record == null) continue
      ops.push({ type: 'del', sublevel: this.mail, key })
      freed += record.bytes
      count++
    }
    if (ops.length > 0) await this.db.batch(ops, this.durable)
    this.release(recipient, count, freed)
    return count
  }

  /** Deletes envelopes stored before `before`; returns how many. */
  async sweep (before: number): Promise<number> {
    const ops: any[] = []
    const released = new Map<string, MailboxUsage>()
    for await (const [key, record] of this.mail.iterator()) {
      if (record.storedAt >= before) continue
      const recipient = key.split('!')[0]
      ops.push({ type: 'del', sublevel: this.mail, key })
      ops.push({ type: 'del', sublevel: this.ids, key: `${recipient}!${record.id}` })
      const u = released.get(recipient) ?? { messages: 0, bytes: 0 }
      u.messages++
      u.bytes += record.bytes
      released.set(recipient, u)
    }
    if (ops.length > 0) await this.db.batch(ops, this.durable)
    for (const [recipient, u] of released) this.release(recipient, u.messages, u.bytes)
    return ops.length / 2
  }

  private release (recipient: string, messages: number, bytes: number): void {
    const u = this.usage.get(recipient)
    if (u == null) return
    u.messages -= messages
    u.bytes -= bytes
    this.total.messages -= messages
    this.total.bytes -= bytes
    if (u.messages <= 0) this.usage.delete(recipient)
  }
}
