/**
 * This node's medium-term prekeys: the X25519 signed prekey and the ML-KEM-768 last-resort
 * prekey that its card carries (protocol.md, section 19.4), made at first start, rotated every
 * ROTATE_EVERY_MS, and kept after rotation for RETIRED_KEEP_MS, as long as a relay holds mail:
 * a first message sealed to last week's prekeys, drained from a relay today, still opens.
 *
 * The set is written durably before it is used, so a card never names a prekey the node could
 * lose in a crash. Ids come from a counter that only grows, so an id never names two keys.
 */
import type { KeyObject } from 'node:crypto'
import { generateDh, osRandom, type DhKeyPair, type Random } from './primitives.js'
import { generateKem, PREKEY_KIND, signPrekey, type KemKeyPair, type PrekeySecrets } from './prekeys.js'
import type { SignedPrekey } from './pb/session.js'

/** How often the signed prekeys are replaced. */
export const ROTATE_EVERY_MS = 7 * 24 * 60 * 60_000
/** How long replaced prekeys still open first messages: a relay's mail TTL. */
export const RETIRED_KEEP_MS = 30 * 24 * 60 * 60_000
/** Retired sets kept at most, whatever their age (bounds the record if the clock jumps). */
const MAX_RETIRED = 8
const META_KEY = 'prekeys'

/** What the prekey store needs of the node's store. */
export interface PrekeyMeta {
  getMeta<T>(key: string): Promise<T | undefined>
  /** A durable write (synced under the 'fsync' durability). */
  putMeta(key: string, value: unknown, options: { durable: true }): Promise<void>
}

interface StoredSet {
  signedId: number
  signedSecret: string
  signedPublic: string
  signedSignature: string
  pqId: number
  pqSeed: string
  pqPublic: string
  pqSignature: string
  createdAt: number
  /** When a newer set replaced it. */
  retiredAt?: number
}

interface StoredPrekeys {
  nextId: number
  current: StoredSet
  retired: StoredSet[]
}

const b64 = (bytes: Uint8Array): string => Buffer.from(bytes).toString('base64')
const bytes = (text: string): Uint8Array => new Uint8Array(Buffer.from(text, 'base64'))

/** The prekeys a card carries. */
export interface CardPrekeys {
  signedPrekey: SignedPrekey
  pqPrekey: SignedPrekey
}

export class PrekeyStore implements PrekeySecrets {
  private readonly meta: PrekeyMeta
  private readonly signer: KeyObject
  private readonly random: Random
  private record: StoredPrekeys

  private constructor (meta: PrekeyMeta, signer: KeyObject, record: StoredPrekeys, random: Random) {
    this.meta = meta
    this.signer = signer
    this.record = record
    this.random = random
  }

  /** Loads this node's prekeys, making and storing the first set if there is none. */
  static async open (meta: PrekeyMeta, signer: KeyObject, now: number, random: Random = osRandom): Promise<PrekeyStore> {
    const stored = await meta.getMeta<StoredPrekeys>(META_KEY)
    if (stored != null) return new PrekeyStore(meta, signer, stored, random)
    const record: StoredPrekeys = { nextId: 3, current: makeSet(signer, 1, now, random), retired: [] }
    await meta.putMeta(META_KEY, record, { durable: true })
    return new PrekeyStore(meta, signer, record, random)
  }

  /** The current prekeys, for the card. */
  current (): CardPrekeys {
    const c = this.record.current
    return {
      signedPrekey: { id: c.signedId, publicKey: bytes(c.signedPublic) as Uint8Array<ArrayBuffer>, signature: bytes(c.signedSignature) as Uint8Array<ArrayBuffer> },
      pqPrekey: { id: c.pqId, publicKey: bytes(c.pqPublic) as Uint8Array<ArrayBuffer>, signature: bytes(c.pqSignature) as Uint8Array<ArrayBuffer> }
    }
  }

  /** When the current set was made (ms since the epoch). */
  get createdAt (): number {
    return this.record.current.createdAt
  }

  /** How many sets are still kept after rotation. */
  get retiredCount (): number {
    return this.record.retired.length
  }

  /**
   * Replaces the current set when it is ROTATE_EVERY_MS old, and forgets retired sets older
   * than RETIRED_KEEP_MS. Resolves true when the current set changed (the card must be
   * republished), once the change is durable.
   */
  async rotateIfDue (now: number): Promise<boolean> {
    const due = now - this.record.current.createdAt >= ROTATE_EVERY_MS
    const kept = this.record.retired.filter(s => now - (s.retiredAt ?? s.createdAt) < RETIRED_KEEP_MS)
    if (!due && kept.length === this.record.retired.length) return false
    const next: StoredPrekeys = { ...this.record, retired: kept }
    if (due) {
      next.current = makeSet(this.signer, next.nextId, now, this.random)
      next.nextId += 2
      next.retired = [{ ...this.record.current, retiredAt: now }, ...kept].slice(0, MAX_RETIRED)
    }
    await this.meta.putMeta(META_KEY, next, { durable: true })
    this.record = next
    return due
  }

  /** When rotateIfDue next has something to do (ms since the epoch). */
  nextDue (): number {
    const expiries = this.record.retired.map(s => (s.retiredAt ?? s.createdAt) + RETIRED_KEEP_MS)
    return Math.min(this.record.current.createdAt + ROTATE_EVERY_MS, ...expiries)
  }

  private sets (): StoredSet[] {
    return [this.record.current, ...this.record.retired]
  }

  signedPrekey (id: number): DhKeyPair | undefined {
    const set = this.sets().find(s => s.signedId === id)
    return set == null ? undefined : { secret: bytes(set.signedSecret), public: bytes(set.signedPublic) }
  }

  /** The last-resort ML-KEM prekey of that id (one-time ML-KEM prekeys live at the relays' side of the design, not here yet). */
  pqPrekey (id: number, oneTime: boolean): KemKeyPair | undefined {
    if (oneTime) return undefined
    const set = this.sets().find(s => s.pqId === id)
    return set == null ? undefined : { seed: bytes(set.pqSeed), public: bytes(set.pqPublic) }
  }

  /** One-time X25519 prekeys are not made yet: none is ever found. */
  oneTimePrekey (_id: number): DhKeyPair | undefined {
    return undefined
  }
}

function makeSet (signer: KeyObject, firstId: number, now: number, random: Random): StoredSet {
  const signed = generateDh(random)
  const pq = generateKem(random)
  const signedId = firstId >>> 0
  const pqId = (firstId + 1) >>> 0
  return {
    signedId,
    signedSecret: b64(signed.secret),
    signedPublic: b64(signed.public),
    signedSignature: b64(signPrekey(signer, PREKEY_KIND.SIGNED, signedId, signed.public).signature),
    pqId,
    pqSeed: b64(pq.seed),
    pqPublic: b64(pq.public),
    pqSignature: b64(signPrekey(signer, PREKEY_KIND.PQ_LAST_RESORT, pqId, pq.public).signature),
    createdAt: now
  }
}
