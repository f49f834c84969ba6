/**
 * Request/response over a libp2p stream, as the mailbox and history protocols use it: each
 * exchange is one length-prefixed protobuf request and one response; a stream may carry several.
 * Every read and write has a deadline and every frame a size cap (the dm framing's bounded
 * length prefix included).
 */
import { pbStream } from '@libp2p/utils'
import { FRAME_OPTIONS } from '../wire/framing.js'
import type { AbortOptions, PeerId, Stream } from '@libp2p/interface'
import type { ConnectionManager } from '@libp2p/interface-internal'
import type { DecodeOptions } from 'protons-runtime'
import type { Uint8ArrayList } from 'uint8arraylist'

/** A protons-generated message namespace: what pbStream reads and writes. */
export interface Message<T> {
  encode(obj: Partial<T>): Uint8Array
  decode(buf: Uint8Array | Uint8ArrayList, opts?: DecodeOptions<T>): T
}

export interface ExchangeOptions<Req, Res> {
  request: Message<Req>
  response: Message<Res>
  /** Largest frame in either direction. */
  maxDataLength: number
  /** Deadline of each read and write (and, for a client, of the whole exchange). */
  timeoutMs: number
  /** Repeated-field limits when decoding a request (server) or a response (client). */
  limits?: DecodeOptions<any>['limits']
}

/**
 * Serves exchanges on an inbound stream until the remote closes its side. Throws on a failed
 * read, write or answer; the caller logs and aborts the stream.
 */
export async function serveExchanges<Req, Res> (stream: Stream, options: ExchangeOptions<Req, Res>, answer: (request: Req) => Promise<Res>): Promise<void> {
  const pb = pbStream(stream, { ...FRAME_OPTIONS, maxDataLength: options.maxDataLength })
  while (true) {
    let request: Req
    try {
      request = await pb.read(options.request, { signal: AbortSignal.timeout(options.timeoutMs), limits: options.limits })
    } catch (err: any) {
      if (err.name === 'UnexpectedEOFError' && stream.remoteWriteStatus !== 'writable') {
        await stream.close()
        return
      }
      throw err
    }
    await pb.write(await answer(request), options.response, { signal: AbortSignal.timeout(options.timeoutMs) })
  }
}

/** One exchange on a new stream to `peer` (limited connections allowed: relays reach NATed peers so). */
export async function exchange<Req, Res> (connectionManager: ConnectionManager, peer: PeerId, protocol: string, request: Req, options: ExchangeOptions<Req, Res> & AbortOptions): Promise<Res> {
  const deadline = AbortSignal.timeout(options.timeoutMs)
  const signal = options.signal == null ? deadline : AbortSignal.any([options.signal, deadline])
  const stream = await connectionManager.openStream(peer, protocol, { signal, runOnLimitedConnection: true })
  try {
    const pb = pbStream(stream, { ...FRAME_OPTIONS, maxDataLength: options.maxDataLength })
    await pb.write(request, options.request, { signal })
    const response = await pb.read(options.response, { signal, limits: options.limits })
    await stream.close({ signal })
    return response
  } catch (err: any) {
    stream.abort(err)
    throw err
  }
}
