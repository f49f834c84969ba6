/**
 * A STUN server (RFC 8489), binding requests only: it tells whoever asks which address and port
 * their packets came from. Relays run one beside their TCP listener, on the same port number over
 * UDP, so that nodes behind NAT learn their public (server-reflexive) address for WebRTC's ICE
 * and hole-punch to each other with no server of anyone else's.
 *
 * Written here rather than taken from npm: the one STUN server package (`stun` 2.1.0) was last
 * released in 2020 and depends on `ip` 1.x and `parse-url` 5, both with published advisories.
 * A binding response is a 20-byte header and two attributes (the address, plain and XOR-ed).
 *
 * An answer is at most 48 bytes longer than its request, so it is no amplifier worth using, and a
 * global budget of BUDGET_PER_SECOND answers bounds what a flood can make the relay send.
 */
import { createSocket, type Socket, type RemoteInfo } from 'node:dgram'
import { isIPv4 } from 'node:net'
import type { Logger } from '@libp2p/interface'

/** RFC 8489 section 5: every STUN message carries it. */
export const MAGIC_COOKIE = 0x2112A442
export const BINDING_REQUEST = 0x0001
export const BINDING_SUCCESS = 0x0101
export const ATTR_MAPPED_ADDRESS = 0x0001
export const ATTR_XOR_MAPPED_ADDRESS = 0x0020
const HEADER_BYTES = 20
/** Binding requests are small (a header and a few short attributes); anything longer is not one of ours to answer. */
const MAX_REQUEST_BYTES = 548
/** Answers per second, all clients together. */
const BUDGET_PER_SECOND = 2_000

export interface StunStats {
  /** Binding requests answered. */
  answered: number
  /** Datagrams that were not a well-formed binding request, or came over budget. */
  dropped: number
}

/**
 * The binding success response to `request` (a binding request) from `address`:`port`, or
 * undefined when `request` is not a well-formed STUN binding request.
 */
export function bindingResponse (request: Uint8Array, address: string, port: number): Buffer | undefined {
  if (request.length < HEADER_BYTES || request.length > MAX_REQUEST_BYTES) return undefined
  const req = Buffer.from(request.buffer, request.byteOffset, request.length)
  const type = req.readUInt16BE(0)
  const length = req.readUInt16BE(2)
  if (type !== BINDING_REQUEST || req.readUInt32BE(4) !== MAGIC_COOKIE) return undefined
  if (length % 4 !== 0 || length !== req.length - HEADER_BYTES) return undefined
  const transaction = req.subarray(8, HEADER_BYTES)
  const ip = addressBytes(address)
  if (ip == null) return undefined
  const value = (xor: boolean): Buffer => {
    const v = Buffer.alloc(4 + ip.length)
    v[1] = ip.length === 4 ? 0x01 : 0x02
    v.writeUInt16BE(xor ? port ^ (MAGIC_COOKIE >>> 16) : port, 2)
    const mask = Buffer.concat([Buffer.from([0x21, 0x12, 0xA4, 0x42]), transaction])
    for (let i = 0; i < ip.length; i++) v[4 + i] = xor ? ip[i] ^ mask[i] : ip[i]
    return v
  }
  const attrs = [attribute(ATTR_XOR_MAPPED_ADDRESS, value(true)), attribute(ATTR_MAPPED_ADDRESS, value(false))]
  const body = Buffer.concat(attrs)
  const header = Buffer.alloc(HEADER_BYTES)
  header.writeUInt16BE(BINDING_SUCCESS, 0)
  header.writeUInt16BE(body.length, 2)
  header.writeUInt32BE(MAGIC_COOKIE, 4)
  transaction.copy(header, 8)
  return Buffer.concat([header, body])
}

function attribute (type: number, value: Buffer): Buffer {
  const head = Buffer.alloc(4)
  head.writeUInt16BE(type, 0)
  head.writeUInt16BE(value.length, 2)
  return Buffer.concat([head, value])
}

/** An IPv4 or IPv6 address as bytes (an IPv4-mapped IPv6 address as its IPv4 bytes). */
function addressBytes (address: string): Buffer | undefined {
  const mapped = address.startsWith('::ffff:') && isIPv4(address.slice(7)) ? address.slice(7) : address
  if (isIPv4(mapped)) return Buffer.from(mapped.split('.').map(Number))
  const halves = mapped.split('::')
  if (halves.length > 2) return undefined
  const groups = (s: string): string[] => s === '' ? [] : s.split(':')
  const head = groups(halves[0])
  const tail = halves.length === 2 ? groups(halves[1]) : []
  const fill = 8 - head.length - tail.length
  if (fill < 0 || (halves.length === 1 && fill !== 0)) return undefined
  const all = [...head, ...Array(fill).fill('0'), ...tail]
  if (!all.every(g => /^[0-9a-f]{1,4}$/i.test(g))) return undefined
  const out = Buffer.alloc(16)
  all.forEach((g, i) => out.writeUInt16BE(parseInt(g, 16), i * 2))
  return out
}

export interface StunServerInit {
  log: Logger
}

/** Answers STUN binding requests on one UDP socket until stopped. */
export class StunServer {
  private socket?: Socket
  private readonly init: StunServerInit
  private readonly stats: StunStats = { answered: 0, dropped: 0 }
  private windowStart = 0
  private windowCount = 0

  constructor (init: StunServerInit) {
    this.init = init
  }

  /**
   * Binds UDP `port` on `host` (all IPv4 interfaces by default); rejects when the port cannot be
   * had (the caller decides whether that matters).
   */
  async start (port: number, host = '0.0.0.0'): Promise<void> {
    if (this.socket != null) return
    const socket = createSocket({ type: isIPv4(host) ? 'udp4' : 'udp6' })
    socket.on('message', (msg, from) => { this.answer(socket, msg, from) })
    socket.on('error', (err) => { this.init.log('stun socket error: %s', err.message) })
    await new Promise<void>((resolve, reject) => {
      socket.once('error', reject)
      socket.bind(port, host, () => {
        socket.off('error', reject)
        resolve()
      })
    }).catch((err) => {
      socket.close()
      throw err
    })
    this.socket = socket
  }

  /** The bound UDP port (0 before start). */
  port (): number {
    return this.socket?.address().port ?? 0
  }

  counts (): StunStats {
    return { ...this.stats }
  }

  async stop (): Promise<void> {
    const socket = this.socket
    this.socket = undefined
    if (socket == null) return
    await new Promise<void>(resolve => { socket.close(() => { resolve() }) })
  }

  private answer (socket: Socket, msg: Buffer, from: RemoteInfo): void {
    const now = Date.now()
    if (now - this.windowStart >= 1000) {
      this.windowStart = now
      this.windowCount = 0
    }
    const response = this.windowCount < BUDGET_PER_SECOND ? bindingResponse(msg, from.address, from.port) : undefined
    if (response == null) {
      this.stats.dropped++
      return
    }
    this.windowCount++
    this.stats.answered++
    socket.send(response, from.port, from.address)
  }
}
