/**
 * The load case's baseline relay: pigeon's mailbox wire protocol (/pigeon/mailbox/1.0.0, the
 * same frames, so pigeon's own clients talk to it) served by the raw libraries in the most
 * direct way: `pbStream` from @libp2p/utils on each stream, `level` for the mail.
 *
 * - DEPOSIT: every envelope is put in one `level` batch per request (synced under fsync), then
 *   answered "stored"; each recipient connected to the relay gets a NOTIFY on a new stream.
 * - FETCH: a range read of the caller's mail after its cursor, at most `limit` envelopes and
 *   MAILBOX_PAGE_BUDGET bytes, and whether more remains (`more`).
 * - DELETE: the caller's envelopes by id, in one batch.
 *
 * What it leaves out, and pigeon's relay does in the same run: checks (recipient served,
 * duplicates, quotas, rate, size), usage accounting, counters, the TTL sweep, durable id index
 * (the id -> key map here lives in memory), and one deposit at a time being checked against
 * the others.
 */
import { Level } from 'level'
import { pbStream } from '@libp2p/utils'
import { peerIdFromMultihash } from '@libp2p/peer-id'
import * as Digest from 'multiformats/hashes/digest'
import { Request, Response } from '../src/mailbox/pb/mailbox.js'
import { Envelope } from '../src/wire/pb/wire.js'
import {
  MAILBOX_PROTOCOL, MAILBOX_PAGE_BUDGET, MAX_MAILBOX_FRAME_BYTES, MAILBOX_TIMEOUT_MS, MAILBOX_MAX_INBOUND_STREAMS, DEPOSIT_RESULT, REQUEST_TYPE, MAX_MAILBOX_BATCH
} from '../src/mailbox/constants.js'
import type { Libp2p, PeerId, Stream } from '@libp2p/interface'

const SEQ_WIDTH = 16

const EMPTY: Response = { status: 0, reason: 0, message: '', results: [], envelopes: [], nextCursor: new Uint8Array(0), deleted: 0 }

interface Stored { id: Uint8Array, envelope: Uint8Array, storedAt: number }

export class RawMailbox {
  private readonly libp2p: Libp2p
  private readonly db: Level<string, Uint8Array>
  private readonly sync: boolean
  /** `${recipient}!${id hex}` -> the mail key. */
  private readonly keys = new Map<string, string>()
  private seq = 0
  deposited = 0
  fetched = 0
  deleted = 0

  constructor (libp2p: Libp2p, db: Level<string, Uint8Array>, sync: boolean) {
    this.libp2p = libp2p
    this.db = db
    this.sync = sync
  }

  async start (): Promise<void> {
    await this.libp2p.handle(MAILBOX_PROTOCOL, async (stream: Stream, connection) => {
      const pb = pbStream(stream, { maxDataLength: MAX_MAILBOX_FRAME_BYTES })
      try {
        while (true) {
          let request: Request
          try {
            request = await pb.read(Request, { signal: AbortSignal.timeout(MAILBOX_TIMEOUT_MS), limits: { envelopes: MAX_MAILBOX_BATCH, ids: MAX_MAILBOX_BATCH } })
          } catch (err: any) {
            if (err.name === 'UnexpectedEOFError') break
            throw err
          }
          await pb.write(await this.answer(connection.remotePeer, request), Response, { signal: AbortSignal.timeout(MAILBOX_TIMEOUT_MS) })
        }
        await stream.close()
      } catch (err: any) {
        stream.abort(err)
      }
    }, { maxInboundStreams: MAILBOX_MAX_INBOUND_STREAMS })
  }

  private async answer (remote: PeerId, request: Request): Promise<Response> {
    switch (request.type) {
      case REQUEST_TYPE.DEPOSIT: return await this.deposit(request.envelopes)
      case REQUEST_TYPE.FETCH: return await this.fetch(remote.toString(), request.cursor, request.limit)
      case REQUEST_TYPE.DELETE: return await this.delete(remote.toString(), request.ids)
      default: return { ...EMPTY, status: 1, message: 'unknown request type' }
    }
  }

  private async deposit (envelopes: Uint8Array[]): Promise<Response> {
    const ops: Array<{ type: 'put', key: string, value: Uint8Array }> = []
    const results: Response['results'] = []
    const recipients = new Map<string, PeerId>()
    const storedAt = Date.now()
    for (const bytes of envelopes) {
      const env = Envelope.decode(bytes)
      const recipient = peerIdFromMultihash(Digest.decode(env.recipient))
      const key = `${recipient.toString()}!${String(++this.seq).padStart(SEQ_WIDTH, '0')}`
      ops.push({ type: 'put', key, value: encodeStored({ id: env.id, envelope: bytes, storedAt }) })
      this.keys.set(`${recipient.toString()}!${Buffer.from(env.id).toString('hex')}`, key)
      recipients.set(recipient.toString(), recipient)
      results.push({ id: env.id, reason: DEPOSIT_RESULT.STORED })
    }
    await this.db.batch(ops, { sync: this.sync } as any)
    this.deposited += results.length
    for (const peer of recipients.values()) {
      if (this.libp2p.getConnections(peer).length > 0) void this.notify(peer)
    }
    return { ...EMPTY, results }
  }

  private async notify (peer: PeerId): Promise<void> {
    const signal = AbortSignal.timeout(MAILBOX_TIMEOUT_MS)
    try {
      const stream = await this.libp2p.dialProtocol(peer, MAILBOX_PROTOCOL, { signal })
      const pb = pbStream(stream, { maxDataLength: MAX_MAILBOX_FRAME_BYTES })
      await pb.write({ type: REQUEST_TYPE.NOTIFY, envelopes: [], cursor: new Uint8Array(0), limit: 0, ids: [] }, Request, { signal })
      await pb.read(Response, { signal })
      await stream.close({ signal })
    } catch {}
  }

  private async fetch (recipient: string, cursor: Uint8Array, limit: number): Promise<Response> {
    const after = cursor.byteLength === 8 ? Number(Buffer.from(cursor).readBigUInt64BE()) : 0
    const envelopes: Response['envelopes'] = []
    let bytes = 0
    let last = after
    const max = Math.min(limit, MAX_MAILBOX_BATCH)
    let more = false
    // One past the page: whether it exists is the answer to `more`.
    for await (const [key, value] of this.db.iterator({ gt: `${recipient}!${String(after).padStart(SEQ_WIDTH, '0')}`, lt: `${recipient}!~`, limit: max + 1 })) {
      const stored = decodeStored(value)
      if (envelopes.length === max || (envelopes.length > 0 && bytes + stored.envelope.byteLength > MAILBOX_PAGE_BUDGET)) {
        more = true
        break
      }
      bytes += stored.envelope.byteLength
      envelopes.push({ envelope: stored.envelope as Uint8Array<ArrayBuffer>, id: stored.id as Uint8Array<ArrayBuffer>, storedAt: BigInt(stored.storedAt) })
      last = Number(key.split('!')[1])
    }
    this.fetched += envelopes.length
    const next = Buffer.alloc(8)
    next.writeBigUInt64BE(BigInt(last))
    return { ...EMPTY, envelopes, nextCursor: envelopes.length > 0 ? new Uint8Array(next) : new Uint8Array(0), more }
  }

  private async delete (recipient: string, ids: Uint8Array[]): Promise<Response> {
    const ops: Array<{ type: 'del', key: string }> = []
    for (const id of ids) {
      const name = `${recipient}!${Buffer.from(id).toString('hex')}`
      const key = this.keys.get(name)
      if (key == null) continue
      this.keys.delete(name)
      ops.push({ type: 'del', key })
    }
    if (ops.length > 0) await this.db.batch(ops, { sync: this.sync } as any)
    this.deleted += ops.length
    return { ...EMPTY, deleted: ops.length }
  }
}

/** id length (1 byte), id, storedAt (8 bytes), envelope. */
function encodeStored (s: Stored): Uint8Array {
  const out = Buffer.alloc(1 + s.id.byteLength + 8 + s.envelope.byteLength)
  out[0] = s.id.byteLength
  out.set(s.id, 1)
  out.writeBigUInt64BE(BigInt(s.storedAt), 1 + s.id.byteLength)
  out.set(s.envelope, 9 + s.id.byteLength)
  return out
}

function decodeStored (bytes: Uint8Array): Stored {
  const buf = Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength)
  const idLength = buf[0]
  return {
    id: buf.subarray(1, 1 + idLength),
    storedAt: Number(buf.readBigUInt64BE(1 + idLength)),
    envelope: buf.subarray(9 + idLength)
  }
}
