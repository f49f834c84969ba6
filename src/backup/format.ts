/**
 * The backup file format (docs/operations.md, "Backup file format"): a container of frames,
 * optionally encrypted, around a payload of records. Both layers are read and written as
 * streams, so a backup never has to fit in memory.
 *
 * Payload:   INFO IDENTITY ENTRY* END, each record a type byte and big-endian lengths.
 * Container: magic, version, header (JSON), then frames `flags u8 | length u32 | data`; the
 *            last frame has the final flag, so a cut file is told from a whole one. Encrypted
 *            frames are AES-256-GCM with a key from scrypt and a nonce from the frame index and
 *            the final flag.
 */
import { createCipheriv, createDecipheriv, createHash, createHmac, randomBytes, scrypt, timingSafeEqual, type Hash } from 'node:crypto'
import { BackupFormatError, BackupPassphraseError } from '../errors.js'

/** The first 8 bytes of every backup file. */
export const BACKUP_MAGIC = Buffer.from('PIGEONBK', 'ascii')
/** The container and payload version this code writes and reads. */
export const BACKUP_VERSION = 1
/** The header is a few hundred bytes of JSON; anything larger is not ours. */
export const MAX_HEADER_BYTES = 4096
/** Payload bytes per frame when writing. */
export const FRAME_BYTES = 64 * 1024
/** Largest frame data a reader accepts: a writer's frames plus room for a tag and other writers' sizes. */
export const MAX_FRAME_BYTES = 1024 * 1024 + 16
/** Frame flag: the last frame of the file. Other bits are reserved and must be 0. */
export const FLAG_FINAL = 0x01

export const RECORD_INFO = 0x01
export const RECORD_IDENTITY = 0x02
export const RECORD_ENTRY = 0x03
export const RECORD_END = 0xff

/** INFO is a small JSON object. */
const MAX_INFO_BYTES = 64 * 1024
/** A libp2p protobuf Ed25519 private key is 68 bytes; other key types are refused later. */
const MAX_IDENTITY_BYTES = 4096
/** LevelDB keys in pigeon's store are short: sublevel prefix plus an id. */
const MAX_KEY_BYTES = 64 * 1024
/** The largest store value is a mailbox envelope (well under 1 MiB); leave ample room. */
const MAX_VALUE_BYTES = 16 * 1024 * 1024

/**
 * scrypt cost: N = 2^17, r = 8, p = 1 takes about 128 MiB and a few hundred ms, the cost
 * RFC 7914 and OWASP suggest for keys that guard data at rest.
 */
export const SCRYPT_DEFAULTS = { N: 2 ** 17, r: 8, p: 1 } as const
/** Caps on parameters read from a file, so a hostile header cannot ask for gigabytes. */
const SCRYPT_MAX = { N: 2 ** 20, r: 32, p: 16 }
const SALT_BYTES = 16
const KEY_CHECK_BYTES = 16
const TAG_BYTES = 16
const CIPHER = 'aes-256-gcm'

export interface BackupInfo {
  /** Peer id of the node the backup was taken from. */
  peerId: string
  /** When the snapshot was taken, ms since the epoch. */
  createdAt: number
  /** pigeon version that wrote it. */
  version: string
}

export type BackupRecord =
  | { type: 'info', info: BackupInfo }
  | { type: 'identity', key: Uint8Array }
  | { type: 'entry', key: Uint8Array, value: Uint8Array }
  | { type: 'end', entries: number }

export interface EncryptionHeader {
  cipher: typeof CIPHER
  kdf: 'scrypt'
  N: number
  r: number
  p: number
  /** base64, 16 bytes. */
  salt: string
  /** base64, 16 bytes: HMAC-SHA256(key, "pigeon backup key check"), truncated; tells a wrong passphrase from a damaged file. */
  keyCheck: string
}

export interface BackupHeader {
  /** null for a plain backup. */
  encryption: EncryptionHeader | null
}

// --- bytes in, bytes out ---------------------------------------------------

const u32 = (n: number): Buffer => { const b = Buffer.allocUnsafe(4); b.writeUInt32BE(n); return b }

/** Reads exact byte counts from a stream of chunks, without copying more than it must. */
export class ByteReader {
  private readonly source: AsyncIterator<Uint8Array>
  private buffer: Buffer = Buffer.alloc(0)
  private offset = 0
  private done = false
  /** Bytes handed out so far. */
  consumed = 0

  constructor (source: AsyncIterable<Uint8Array>) {
    this.source = source[Symbol.asyncIterator]()
  }

  /** Exactly `n` bytes; undefined at a clean end when `endOk` and nothing is buffered; throws if the stream ends midway. */
  async read (n: number, what: string, endOk = false): Promise<Buffer | undefined> {
    if (this.buffer.length - this.offset >= n) {
      const out = this.buffer.subarray(this.offset, this.offset + n)
      this.offset += n
      this.consumed += n
      return out
    }
    const parts: Buffer[] = [this.buffer.subarray(this.offset)]
    let have = parts[0].length
    while (have < n) {
      const next = this.done ? { done: true as const, value: undefined } : await this.source.next()
      if (next.done === true) {
        this.done = true
        if (have === 0 && endOk) return undefined
        throw new BackupFormatError(`the backup is truncated: it ends inside ${what}`)
      }
      const chunk = Buffer.from(next.value.buffer, next.value.byteOffset, next.value.byteLength)
      parts.push(chunk)
      have += chunk.length
    }
    const all = Buffer.concat(parts, have)
    this.buffer = all
    this.offset = n
    this.consumed += n
    return all.subarray(0, n)
  }

  /** True when the stream has no more bytes. */
  async atEnd (): Promise<boolean> {
    return (await this.read(1, 'the end', true).then(b => { if (b != null) { this.offset--; this.consumed-- } return b })) == null
  }

  /** Stops reading the source early (a failure): lets it release what it holds. */
  async cancel (): Promise<void> {
    await this.source.return?.()
  }
}

// --- payload ---------------------------------------------------------------

/**
 * Encodes payload records into chunks of about FRAME_BYTES, hashing as it goes so END can
 * carry the SHA-256 of everything before it.
 */
export class PayloadEncoder {
  private readonly hash = createHash('sha256')
  private parts: Buffer[] = []
  private size = 0
  entries = 0
  /** Payload bytes encoded so far. */
  bytes = 0

  /** Adds a record; returns a chunk when one is full. */
  private push (...bufs: Buffer[]): Buffer | undefined {
    for (const b of bufs) {
      this.hash.update(b)
      this.parts.push(b)
      this.size += b.length
      this.bytes += b.length
    }
    return this.size >= FRAME_BYTES ? this.flush() : undefined
  }

  /** Whatever is buffered, as one chunk. */
  flush (): Buffer | undefined {
    if (this.size === 0) return undefined
    const out = Buffer.concat(this.parts, this.size)
    this.parts = []
    this.size = 0
    return out
  }

  info (info: BackupInfo): Buffer | undefined {
    const json = Buffer.from(JSON.stringify(info), 'utf8')
    return this.push(Buffer.from([RECORD_INFO]), u32(json.length), json)
  }

  identity (key: Uint8Array): Buffer | undefined {
    return this.push(Buffer.from([RECORD_IDENTITY]), u32(key.length), Buffer.from(key))
  }

  entry (key: Uint8Array, value: Uint8Array): Buffer | undefined {
    this.entries++
    return this.push(Buffer.from([RECORD_ENTRY]), u32(key.length), Buffer.from(key), u32(value.length), Buffer.from(value))
  }

  /** The END record, then the rest of the buffer: the last chunk. */
  end (): Buffer {
    const count = Buffer.alloc(8)
    count.writeBigUInt64BE(BigInt(this.entries))
    const head = Buffer.concat([Buffer.from([RECORD_END]), count])
    this.hash.update(head)
    const digest = this.hash.digest()
    this.parts.push(head, digest)
    this.size += head.length + digest.length
    this.bytes += head.length + digest.length
    return this.flush() as Buffer
  }
}

/** A reader that hashes what it hands out, for END's digest. */
class HashingReader {
  constructor (private readonly reader: ByteReader, private readonly hash: Hash) {}

  async read (n: number, what: string, endOk = false): Promise<Buffer | undefined> {
    const b = await this.reader.read(n, what, endOk)
    if (b != null) this.hash.update(b)
    return b
  }
}

async function lengthPrefixed (reader: HashingReader, max: number, what: string): Promise<Buffer> {
  const len = (await reader.read(4, what) as Buffer).readUInt32BE()
  if (len > max) throw new BackupFormatError(`the backup is damaged: ${what} claims ${len} bytes, more than ${max}`)
  return await reader.read(len, what) as Buffer
}

/**
 * Decodes payload records from a stream of payload bytes, checking their order, the entry
 * count and the digest in END, and that nothing follows END. The last record yielded is END,
 * so a caller that saw it knows the payload is whole.
 */
export async function * readPayload (source: AsyncIterable<Uint8Array>): AsyncGenerator<BackupRecord> {
  const bytes = new ByteReader(source)
  const hash = createHash('sha256')
  const reader = new HashingReader(bytes, hash)
  let entries = 0
  let seen = 0
  try {
    while (true) {
      const type = (await reader.read(1, 'a record type') as Buffer)[0]
      if (seen === 0 && type !== RECORD_INFO) throw new BackupFormatError('the backup is damaged: it does not start with its INFO record')
      if (seen === 1 && type !== RECORD_IDENTITY) throw new BackupFormatError('the backup is damaged: the IDENTITY record is missing')
      seen++
      if (type === RECORD_INFO) {
        if (seen !== 1) throw new BackupFormatError('the backup is damaged: a second INFO record')
        let info: any
        try {
          info = JSON.parse((await lengthPrefixed(reader, MAX_INFO_BYTES, 'the INFO record')).toString('utf8'))
        } catch (err) {
          if (err instanceof BackupFormatError) throw err
          throw new BackupFormatError('the backup is damaged: its INFO record is not JSON')
        }
        if (typeof info?.peerId !== 'string' || typeof info.createdAt !== 'number') throw new BackupFormatError('the backup is damaged: its INFO record lacks peerId or createdAt')
        yield { type: 'info', info: { peerId: info.peerId, createdAt: info.createdAt, version: String(info.version ?? '') } }
      } else if (type === RECORD_IDENTITY) {
        if (seen !== 2) throw new BackupFormatError('the backup is damaged: a second IDENTITY record')
        yield { type: 'identity', key: await lengthPrefixed(reader, MAX_IDENTITY_BYTES, 'the IDENTITY record') }
      } else if (type === RECORD_ENTRY) {
        const key = await lengthPrefixed(reader, MAX_KEY_BYTES, 'an entry key')
        const value = await lengthPrefixed(reader, MAX_VALUE_BYTES, 'an entry value')
        entries++
        yield { type: 'entry', key, value }
      } else if (type === RECORD_END) {
        const count = Number((await reader.read(8, 'the END record') as Buffer).readBigUInt64BE())
        const expected = hash.digest()
        const digest = await bytes.read(32, 'the END record') as Buffer
        if (count !== entries) throw new BackupFormatError(`the backup is damaged: END counts ${count} entries, the file holds ${entries}`)
        if (!timingSafeEqual(expected, digest)) throw new BackupFormatError('the backup is damaged: its digest does not match its contents')
        if (!await bytes.atEnd()) throw new BackupFormatError('the backup is damaged: data follows its END record')
        yield { type: 'end', entries }
        return
      } else {
        throw new BackupFormatError(`the backup is damaged: unknown record type 0x${type.toString(16)}`)
      }
    }
  } finally {
    await bytes.cancel()
  }
}

// --- container -------------------------------------------------------------

async function deriveKey (passphrase: string, salt: Buffer, params: { N: number, r: number, p: number }): Promise<Buffer> {
  // scrypt needs 128 * N * r bytes; node refuses more than maxmem, 32 MiB by default.
  const maxmem = 128 * params.N * params.r * 2 + 1024 * 1024
  return await new Promise<Buffer>((resolve, reject) => {
    scrypt(passphrase.normalize('NFC'), salt, 32, { ...params, maxmem }, (err, key) => { if (err != null) reject(err); else resolve(key) })
  })
}

const keyCheck = (key: Buffer): Buffer => createHmac('sha256', key).update('pigeon backup key check').digest().subarray(0, KEY_CHECK_BYTES)

/** The 12-byte GCM nonce of a frame: its index (u64, from 0), three zero bytes, the final flag. */
function frameNonce (index: number, final: boolean): Buffer {
  const nonce = Buffer.alloc(12)
  nonce.writeBigUInt64BE(BigInt(index))
  nonce[11] = final ? 1 : 0
  return nonce
}

function preambleOf (header: BackupHeader): Buffer {
  const json = Buffer.from(JSON.stringify(header), 'utf8')
  return Buffer.concat([BACKUP_MAGIC, Buffer.from([BACKUP_VERSION]), u32(json.length), json])
}

export interface SealOptions {
  /** Encrypt with a key derived from this passphrase; plain when absent. */
  passphrase?: string
  /** scrypt cost; tests lower it. @default SCRYPT_DEFAULTS */
  scrypt?: { N: number, r: number, p: number }
}

/**
 * Writes the container around payload bytes: `preamble()` first, then `frame()` for each
 * payload chunk, then `final()` once the payload is complete. Frames are cut at FRAME_BYTES.
 */
export class BackupSealer {
  private index = 0
  private pending: Buffer[] = []
  private pendingSize = 0

  private constructor (private readonly preambleBytes: Buffer, private readonly key: Buffer | undefined) {}

  static async create (options: SealOptions = {}): Promise<BackupSealer> {
    if (options.passphrase == null) return new BackupSealer(preambleOf({ encryption: null }), undefined)
    if (options.passphrase.length === 0) throw new BackupPassphraseError('the backup passphrase is empty')
    const params = options.scrypt ?? SCRYPT_DEFAULTS
    const salt = randomBytes(SALT_BYTES)
    const key = await deriveKey(options.passphrase, salt, params)
    const header: BackupHeader = {
      encryption: { cipher: CIPHER, kdf: 'scrypt', N: params.N, r: params.r, p: params.p, salt: salt.toString('base64'), keyCheck: keyCheck(key).toString('base64') }
    }
    return new BackupSealer(preambleOf(header), key)
  }

  get encrypted (): boolean {
    return this.key != null
  }

  preamble (): Buffer {
    return this.preambleBytes
  }

  /** Takes payload bytes; returns the frames that are now full (possibly none). */
  write (payload: Uint8Array): Buffer[] {
    this.pending.push(Buffer.from(payload.buffer, payload.byteOffset, payload.byteLength))
    this.pendingSize += payload.byteLength
    const out: Buffer[] = []
    while (this.pendingSize > FRAME_BYTES) {
      const all = Buffer.concat(this.pending, this.pendingSize)
      out.push(this.frame(all.subarray(0, FRAME_BYTES), false))
      this.pending = [all.subarray(FRAME_BYTES)]
      this.pendingSize = all.length - FRAME_BYTES
    }
    return out
  }

  /** The last frame, holding whatever is left (possibly nothing) and the final flag. */
  final (): Buffer {
    const rest = Buffer.concat(this.pending, this.pendingSize)
    this.pending = []
    this.pendingSize = 0
    return this.frame(rest, true)
  }

  private frame (data: Buffer, final: boolean): Buffer {
    let body = data
    if (this.key != null) {
      const cipher = createCipheriv(CIPHER, this.key, frameNonce(this.index, final))
      cipher.setAAD(this.preambleBytes)
      body = Buffer.concat([cipher.update(data), cipher.final(), cipher.getAuthTag()])
    }
    this.index++
    return Buffer.concat([Buffer.from([final ? FLAG_FINAL : 0]), u32(body.length), body])
  }
}

function parseHeader (json: Buffer): BackupHeader {
  let header: any
  try {
    header = JSON.parse(json.toString('utf8'))
  } catch {
    throw new BackupFormatError('the backup is damaged: its header is not JSON')
  }
  const e = header?.encryption
  if (e === null) return { encryption: null }
  if (e == null || typeof e !== 'object' || e.cipher !== CIPHER || e.kdf !== 'scrypt' ||
    !Number.isInteger(e.N) || !Number.isInteger(e.r) || !Number.isInteger(e.p) || typeof e.salt !== 'string' || typeof e.keyCheck !== 'string') {
    throw new BackupFormatError('the backup is damaged or uses an unknown encryption: its header is not understood')
  }
  if (e.N < 2 || (e.N & (e.N - 1)) !== 0 || e.N > SCRYPT_MAX.N || e.r < 1 || e.r > SCRYPT_MAX.r || e.p < 1 || e.p > SCRYPT_MAX.p) {
    throw new BackupFormatError('the backup\'s scrypt parameters are out of range')
  }
  return { encryption: e }
}

export interface OpenOptions {
  /** Needed for an encrypted backup; ignored for a plain one. */
  passphrase?: string
  /** Told the header once it is read (before the key is derived). */
  onHeader?: (header: BackupHeader) => void
}

/**
 * Reads a backup file's container and yields its payload bytes, frame by frame. Throws
 * BackupFormatError for a file that is not a backup, cut short or altered, and
 * BackupPassphraseError when the passphrase is missing or wrong. Frames are authenticated
 * before they are yielded; the final flag is checked, and nothing may follow the final frame.
 */
export async function * openContainer (source: AsyncIterable<Uint8Array>, options: OpenOptions = {}): AsyncGenerator<Buffer> {
  const reader = new ByteReader(source)
  try {
    const magic = await reader.read(BACKUP_MAGIC.length, 'the magic number', true)
    if (magic == null || !magic.equals(BACKUP_MAGIC)) throw new BackupFormatError('this is not a pigeon backup file')
    const version = (await reader.read(1, 'the version') as Buffer)[0]
    if (version !== BACKUP_VERSION) throw new BackupFormatError(`the backup has format version ${version}; this pigeon reads version ${BACKUP_VERSION}`)
    const lenBytes = await reader.read(4, 'the header length') as Buffer
    const len = lenBytes.readUInt32BE()
    if (len > MAX_HEADER_BYTES) throw new BackupFormatError('the backup is damaged: its header is too large')
    const json = Buffer.from(await reader.read(len, 'the header') as Buffer)
    const preamble = Buffer.concat([BACKUP_MAGIC, Buffer.from([version]), lenBytes, json])
    const header = parseHeader(json)
    options.onHeader?.(header)
    let key: Buffer | undefined
    if (header.encryption != null) {
      const e = header.encryption
      if (options.passphrase == null || options.passphrase.length === 0) throw new BackupPassphraseError('the backup is encrypted: give its passphrase (--passphrase-file or PIGEON_BACKUP_PASSPHRASE)')
      key = await deriveKey(options.passphrase, Buffer.from(e.salt, 'base64'), e)
      const check = Buffer.from(e.keyCheck, 'base64')
      if (check.length !== KEY_CHECK_BYTES || !timingSafeEqual(check, keyCheck(key))) throw new BackupPassphraseError('wrong passphrase for this backup')
    }
    for (let index = 0; ; index++) {
      const head = await reader.read(5, 'a frame header', true)
      if (head == null) throw new BackupFormatError('the backup is truncated: its final frame is missing')
      const flags = head[0]
      if ((flags & ~FLAG_FINAL) !== 0) throw new BackupFormatError('the backup is damaged: a frame has unknown flags')
      const size = head.readUInt32BE(1)
      if (size > MAX_FRAME_BYTES) throw new BackupFormatError('the backup is damaged: a frame is too large')
      const body = await reader.read(size, 'a frame') as Buffer
      const final = (flags & FLAG_FINAL) !== 0
      let data = body
      if (key != null) {
        if (size < TAG_BYTES) throw new BackupFormatError('the backup is damaged: a frame is too short')
        const decipher = createDecipheriv(CIPHER, key, frameNonce(index, final))
        decipher.setAAD(preamble)
        decipher.setAuthTag(body.subarray(size - TAG_BYTES))
        try {
          data = Buffer.concat([decipher.update(body.subarray(0, size - TAG_BYTES)), decipher.final()])
        } catch {
          throw new BackupFormatError(`the backup is damaged or altered: frame ${index} fails authentication`)
        }
      } else {
        // The payload's END digest covers plain data; copy it out of the reader's buffer.
        data = Buffer.from(body)
      }
      if (data.length > 0) yield data
      if (final) {
        if (!await reader.atEnd()) throw new BackupFormatError('the backup is damaged: data follows its final frame')
        return
      }
    }
  } finally {
    await reader.cancel()
  }
}

/** Reads a whole backup file's records: the container opened, the payload decoded and checked. */
export async function * readBackup (source: AsyncIterable<Uint8Array>, options: OpenOptions = {}): AsyncGenerator<BackupRecord> {
  yield * readPayload(openContainer(source, options))
}
