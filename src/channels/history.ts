/**
 * /pigeon/history/1.0.0: members ask relays to archive a channel topic and fetch what was
 * published on it after a cursor, a page at a time. Every node answers (a node that is not a
 * relay refuses every request); only relays hold archives. See docs/protocol.md ("History").
 */
import { exchange, serveExchanges } from '../network/exchange.js'
import { HistoryRequest, HistoryResponse } from './pb/channel.js'
import { ProtocolViolationError } from '../errors.js'
import {
  HISTORY_PROTOCOL, HISTORY_TIMEOUT_MS, HISTORY_MAX_INBOUND_STREAMS, MAX_HISTORY_FRAME_BYTES, MAX_HISTORY_PAGE, MAX_TOPIC_LENGTH, TOPIC_PREFIX
} from './constants.js'
import type { AbortOptions, ComponentLogger, Connection, Logger, PeerId, Startable, Stream } from '@libp2p/interface'
import type { ConnectionManager, Registrar } from '@libp2p/interface-internal'

const EXCHANGE = { request: HistoryRequest, response: HistoryResponse, maxDataLength: MAX_HISTORY_FRAME_BYTES, timeoutMs: HISTORY_TIMEOUT_MS }
/** Room left in a page for the response framing around the frames. */
export const PAGE_BUDGET = MAX_HISTORY_FRAME_BYTES - 64 * 1024

export const HISTORY_REQUEST = { FETCH: 1, ARCHIVE: 2 } as const

export interface HistoryComponents {
  registrar: Registrar
  connectionManager: ConnectionManager
  logger: ComponentLogger
}

/** What a relay does with requests; absent on nodes that archive nothing. */
export interface HistoryServer {
  /** Starts archiving `topic` for `peer`; a string is the reason it refused. */
  archive(peer: PeerId, topic: string): Promise<true | string>
  page(topic: string, after: number, limit: number, budget: number): Promise<{ frames: Array<{ seq: number, data: Uint8Array }>, more: boolean }>
}

export interface HistoryInit {
  /** Set later by the node once the archive exists. */
  server?: () => HistoryServer | undefined
}

export interface HistoryPage {
  frames: Array<{ seq: number, data: Uint8Array }>
  more: boolean
}

export class HistoryService implements Startable {
  private readonly components: HistoryComponents
  private readonly init: HistoryInit
  private readonly log: Logger
  private started = false

  constructor (components: HistoryComponents, init: HistoryInit) {
    this.components = components
    this.init = init
    this.log = components.logger.forComponent('pigeon:history')
    this.handleStream = this.handleStream.bind(this)
  }

  readonly [Symbol.toStringTag] = 'pigeon:history'

  async start (): Promise<void> {
    if (this.started) return
    await this.components.registrar.handle(HISTORY_PROTOCOL, this.handleStream, { maxInboundStreams: HISTORY_MAX_INBOUND_STREAMS, runOnLimitedConnection: true })
    this.started = true
  }

  async stop (): Promise<void> {
    if (!this.started) return
    this.started = false
    await this.components.registrar.unhandle(HISTORY_PROTOCOL)
  }

  // --- serving --------------------------------------------------------------

  private async handleStream (stream: Stream, connection: Connection): Promise<void> {
    const remote = connection.remotePeer
    try {
      await serveExchanges(stream, EXCHANGE, async (request) => await this.answer(remote, request))
    } catch (err: any) {
      this.log('history stream from %p failed: %s', remote, err.message)
      stream.abort(err)
    }
  }

  private async answer (remote: PeerId, request: HistoryRequest): Promise<HistoryResponse> {
    const refused = (message: string): HistoryResponse => ({ status: 1, message, frames: [], more: false })
    const server = this.init.server?.()
    if (server == null) return refused('this node keeps no channel archive')
    if (request.topic.length > MAX_TOPIC_LENGTH || !request.topic.startsWith(TOPIC_PREFIX)) return refused('not a channel topic')
    switch (request.type) {
      case HISTORY_REQUEST.ARCHIVE: {
        const result = await server.archive(remote, request.topic)
        return result === true ? { status: 0, message: '', frames: [], more: false } : refused(result)
      }
      case HISTORY_REQUEST.FETCH: {
        const limit = Math.min(request.limit === 0 ? MAX_HISTORY_PAGE : request.limit, MAX_HISTORY_PAGE)
        const page = await server.page(request.topic, Number(request.after), limit, PAGE_BUDGET)
        return { status: 0, message: '', frames: page.frames.map(f => ({ seq: BigInt(f.seq), data: f.data as Uint8Array<ArrayBuffer> })), more: page.more }
      }
      default:
        throw new ProtocolViolationError(`unknown history request type ${request.type}`)
    }
  }

  // --- client ---------------------------------------------------------------

  /** Asks `relay` to archive `topic`. Throws when it refuses. */
  async archive (relay: PeerId, topic: string, options: AbortOptions = {}): Promise<void> {
    await this.request(relay, { type: HISTORY_REQUEST.ARCHIVE, topic, after: 0n, limit: 0 }, options)
  }

  /** One page of `topic`'s archive at `relay` after seq `after`. */
  async fetch (relay: PeerId, topic: string, after: number, options: AbortOptions = {}): Promise<HistoryPage> {
    const response = await this.request(relay, { type: HISTORY_REQUEST.FETCH, topic, after: BigInt(after), limit: MAX_HISTORY_PAGE }, options)
    let last = after
    for (const f of response.frames) {
      const seq = Number(f.seq)
      // A relay that goes backwards would make a client loop or skip frames.
      if (seq <= last) throw new ProtocolViolationError(`relay ${relay} sent history out of order`)
      last = seq
    }
    return { frames: response.frames.map(f => ({ seq: Number(f.seq), data: f.data })), more: response.more }
  }

  private async request (peer: PeerId, request: HistoryRequest, options: AbortOptions): Promise<HistoryResponse> {
    const response = await exchange(this.components.connectionManager, peer, HISTORY_PROTOCOL, request, { ...EXCHANGE, ...options, limits: { frames: MAX_HISTORY_PAGE } })
    if (response.status !== 0) throw new ProtocolViolationError(`relay ${peer} refused: ${response.message}`)
    return response
  }
}

export function history (init: HistoryInit = {}): (components: HistoryComponents) => HistoryService {
  return (components) => new HistoryService(components, init)
}
