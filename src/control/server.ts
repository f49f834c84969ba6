/**
 * The control API: HTTP+JSON on loopback for the CLI (and later a web UI). Every request needs
 * `Authorization: Bearer <token>`; the token and the port are in the data dir's control file,
 * readable by its owner only. docs/cli.md lists the routes.
 */
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http'
import { timingSafeEqual } from 'node:crypto'
import { MAX_API_BODY_BYTES, MAX_API_WAIT_MS } from '../constants.js'
import { closeHttp, listenHttp } from './http.js'
import type { IdentityChange, PigeonNode, ReceiptEvent } from '../node.js'
import type { InboxRecord, OutboxRecord, RelayRecord } from '../store/types.js'
import type { PublishState } from '../discovery/card-publisher.js'
import type { ChannelMessageView } from '../channels/index.js'
import { nodePayload } from '../backup/backup.js'

export interface ControlServerInit {
  node: PigeonNode
  token: string
  host: string
  port: number
  /** Called by POST /v1/stop after the answer is sent. */
  onStop(): void
}

/** How long requests in flight (a long wait, say) may take to finish when the node stops. */
const CLOSE_GRACE_MS = 2_000

class HttpError extends Error {
  constructor (readonly status: number, message: string, readonly errorName = 'HttpError') {
    super(message)
  }
}

/** Library errors that mean "your request was wrong" rather than "the node failed". */
const CLIENT_ERRORS: Record<string, number> = {
  InvalidMessageError: 400,
  ContactError: 400,
  InvalidCardError: 400,
  UnknownRecipientError: 400,
  MessageNotFoundError: 404,
  PeerNotFoundError: 404,
  DeliveryFailedError: 409,
  InvalidInviteError: 400,
  ChannelNotFoundError: 404,
  ChannelStateError: 409,
  TimeoutError: 408,
  NotStartedError: 503
}

type Handler = (req: IncomingMessage, url: URL, params: string[], res: ServerResponse) => Promise<unknown>


async function readJson (req: IncomingMessage): Promise<any> {
  const chunks: Buffer[] = []
  let size = 0
  for await (const chunk of req) {
    size += chunk.length
    if (size > MAX_API_BODY_BYTES) throw new HttpError(413, `request body is larger than ${MAX_API_BODY_BYTES} bytes`, 'PayloadTooLarge')
    chunks.push(chunk)
  }
  if (size === 0) return {}
  let body: unknown
  try {
    body = JSON.parse(Buffer.concat(chunks).toString('utf8'))
  } catch {
    throw new HttpError(400, 'request body is not valid JSON', 'BadRequest')
  }
  if (body == null || typeof body !== 'object' || Array.isArray(body)) throw new HttpError(400, 'request body must be a JSON object', 'BadRequest')
  return body
}

function requireString (value: unknown, field: string): string {
  if (typeof value !== 'string' || value.length === 0) throw new HttpError(400, `"${field}" must be a non-empty string`, 'BadRequest')
  return value
}

function intParam (url: URL, name: string, max = Number.MAX_SAFE_INTEGER): number | undefined {
  const raw = url.searchParams.get(name)
  if (raw == null) return undefined
  const n = Number(raw)
  if (!Number.isInteger(n) || n < 0 || n > max) throw new HttpError(400, `query parameter "${name}" must be an integer from 0 to ${max}`, 'BadRequest')
  return n
}

/** An order key as `orderKey()` writes it: wall time, counter, post id. */
const ORDER_KEY = /^\d{15}\.\d{10}\.[0-9a-f]{32}$/

/** An order key from the query (`after`, `channel-after`); empty means "from the start". */
function orderParam (url: URL, name: string): string | undefined {
  const raw = url.searchParams.get(name)
  if (raw == null || raw === '') return undefined
  if (!ORDER_KEY.test(raw)) throw new HttpError(400, `query parameter "${name}" must be an order key (the "order" of a channel message)`, 'BadRequest')
  return raw
}

/** `limit` and `last` cut a list from opposite ends; both at once has no single meaning. */
function pageParams (url: URL, limitName: string, lastName: string): { limit?: number, last?: number } {
  const limit = intParam(url, limitName)
  const last = intParam(url, lastName)
  if (limit != null && last != null) throw new HttpError(400, `query parameters "${limitName}" and "${lastName}" cannot be used together`, 'BadRequest')
  return { limit, last }
}

export class ControlServer {
  private readonly init: ControlServerInit
  private readonly server: Server
  private readonly token: Buffer
  private readonly routes: Array<{ method: string, pattern: RegExp, handler: Handler }> = []
  private readonly streams = new Set<ServerResponse>()

  constructor (init: ControlServerInit) {
    this.init = init
    this.token = Buffer.from(init.token)
    this.server = createServer((req, res) => { this.dispatch(req, res) })
    this.server.requestTimeout = MAX_API_WAIT_MS + 30_000
    this.defineRoutes()
  }

  async listen (): Promise<string> {
    return await listenHttp(this.server, this.init.port, this.init.host, 'control API')
  }

  /** Stops listening; requests still running get CLOSE_GRACE_MS to finish, then are cut. */
  async close (): Promise<void> {
    for (const res of this.streams) res.end()
    await closeHttp(this.server, CLOSE_GRACE_MS)
  }

  private route (method: string, path: string, handler: Handler): void {
    const pattern = new RegExp('^' + path.replace(/:[a-z]+/g, '([^/]+)') + '$')
    this.routes.push({ method, pattern, handler })
  }

  private defineRoutes (): void {
    const node = this.init.node
    this.route('GET', '/v1/id', async () => ({ peerId: node.peerId.toString(), addresses: node.addresses(), card: node.card() }))
    this.route('GET', '/v1/status', async () => node.status())

    this.route('GET', '/v1/contacts', async () => node.contacts())
    this.route('POST', '/v1/contacts', async (req, _url, _p, res) => {
      const body = await readJson(req)
      res.statusCode = 201
      return await node.addContact(requireString(body.name, 'name'), requireString(body.card, 'card'))
    })
    this.route('GET', '/v1/contacts/:name/safety-number', async (_req, _url, [name]) => node.safetyNumber(name))
    this.route('POST', '/v1/contacts/:name/verified', async (_req, _url, [name]) => await node.markVerified(name))
    this.route('DELETE', '/v1/contacts/:name', async (_req, _url, [name]) => {
      await node.removeContact(name)
      return { removed: name }
    })

    this.route('GET', '/v1/relays', async () => await node.relayHealth())
    this.route('POST', '/v1/relays', async (req, _url, _p, res) => {
      const body = await readJson(req)
      res.statusCode = 201
      return await node.addRelay(requireString(body.card, 'card'))
    })
    this.route('DELETE', '/v1/relays/:peer', async (_req, _url, [peer]) => {
      await node.removeRelay(peer)
      return { removed: peer }
    })

    this.route('POST', '/v1/messages', async (req, _url, _p, res) => {
      const body = await readJson(req)
      const id = await node.send(requireString(body.to, 'to'), requireString(body.text, 'text'))
      res.statusCode = 201
      return { id }
    })
    this.route('GET', '/v1/messages', async (_req, url) => {
      const records = await node.sent({ to: url.searchParams.get('to') ?? undefined, limit: intParam(url, 'limit') })
      return records
    })
    this.route('GET', '/v1/messages/:id', async (_req, _url, [id]) => node.message(id))
    this.route('GET', '/v1/messages/:id/wait', async (_req, url, [id]) => {
      const state = url.searchParams.get('state') ?? 'delivered'
      if (state !== 'delivered' && state !== 'read') throw new HttpError(400, '"state" must be delivered or read', 'BadRequest')
      const timeout = intParam(url, 'timeout', MAX_API_WAIT_MS) ?? 30_000
      return await node.waitFor(id, state, { signal: AbortSignal.timeout(timeout) })
    })

    this.route('GET', '/v1/inbox', async (_req, url) => node.inbox({
      from: url.searchParams.get('from') ?? undefined,
      afterSeq: intParam(url, 'after'),
      limit: intParam(url, 'limit')
    }))
    this.route('POST', '/v1/inbox/read', async (req) => {
      const body = await readJson(req)
      if (!Array.isArray(body.messages) || body.messages.length > 10_000) throw new HttpError(400, '"messages" must be an array of up to 10000 {from, id}', 'BadRequest')
      const refs = body.messages.map((m: any) => ({ from: requireString(m?.from, 'from'), id: requireString(m?.id, 'id') }))
      return await node.markRead(refs)
    })

    this.route('GET', '/v1/channels', async () => node.channels.list())
    this.route('POST', '/v1/channels', async (req, _url, _p, res) => {
      const body = await readJson(req)
      const created = await node.channels.create(requireString(body.name, 'name'))
      res.statusCode = 201
      return created
    })
    this.route('POST', '/v1/channels/join', async (req, _url, _p, res) => {
      const body = await readJson(req)
      const name = body.name == null ? undefined : requireString(body.name, 'name')
      const joined = await node.channels.join(requireString(body.invite, 'invite'), { name })
      res.statusCode = 201
      return joined
    })
    this.route('GET', '/v1/channels/:name', async (_req, _url, [name]) => node.channels.channel(name))
    this.route('GET', '/v1/channels/:name/invite', async (_req, _url, [name]) => ({ invite: node.channels.invite(name) }))
    this.route('POST', '/v1/channels/:name/posts', async (req, _url, [name], res) => {
      const body = await readJson(req)
      const message = await node.channels.post(name, requireString(body.text, 'text'))
      res.statusCode = 201
      return message
    })
    this.route('GET', '/v1/channels/:name/messages', async (_req, url, [name]) => {
      return await node.channels.read(name, { after: orderParam(url, 'after'), ...pageParams(url, 'limit', 'last') })
    })
    this.route('GET', '/v1/channels/:name/members', async (_req, _url, [name]) => node.channels.members(name))
    this.route('DELETE', '/v1/channels/:name/members/:member', async (_req, _url, [name, member]) => {
      return { removed: await node.channels.remove(name, member) }
    })
    this.route('POST', '/v1/channels/:name/leave', async (_req, _url, [name]) => {
      await node.channels.leave(name)
      return node.channels.channel(name)
    })

    this.route('GET', '/v1/events', async (_req, url, _p, res) => { await this.events(url, res) })
    this.route('GET', '/v1/backup', async (_req, _url, _p, res) => { await this.backup(res) })

    this.route('POST', '/v1/stop', async () => {
      setImmediate(() => { this.init.onStop() })
      return { stopping: true }
    })
  }

  /**
   * Server-sent events: `message` (an inbox record), `receipt`, `outbox` (any outbox record
   * change), `channel` (a stored channel message), `relays` (the home relays, when they change)
   * `card` (this node's card stored on the DHT), `hole-punch`, and `identity-changed` (a contact
   * name now names another identity: sent when it happens, and for every standing warning when
   * a stream opens). With `?inbox-after=SEQ` the stream first
   * replays inbox records after SEQ, and with `?channel=NAME&channel-after=ORDER` (or
   * `channel-last=N`) that channel's messages, so a client that lists and then follows misses
   * nothing: the listeners are attached before the backlogs are read.
   */
  private async events (url: URL, res: ServerResponse): Promise<void> {
    const node = this.init.node
    const from = url.searchParams.get('from') ?? undefined
    const fromPeer = from != null ? node.resolve(from).toString() : undefined
    const after = intParam(url, 'inbox-after')
    const channelName = url.searchParams.get('channel') ?? undefined
    const channelId = channelName != null ? node.channels.channel(channelName).id : undefined
    const channelAfter = orderParam(url, 'channel-after')
    const channelLast = intParam(url, 'channel-last')
    const channelReplay = url.searchParams.has('channel-after') || channelLast != null
    if (channelReplay && channelId == null) throw new HttpError(400, '"channel-after" and "channel-last" need "channel"', 'BadRequest')
    if (url.searchParams.has('channel-after') && channelLast != null) throw new HttpError(400, 'query parameters "channel-after" and "channel-last" cannot be used together', 'BadRequest')
    // Inbox seqs only grow, so remembering the last one sent drops the overlap between
    // the backlog and live events.
    let lastSeq = after ?? -1
    // Channel order is not arrival order (history arrives late), so the overlap between the
    // channel backlog and live events is dropped by identity instead.
    const replayed = new Set<string>()
    const buffered: InboxRecord[] = []
    const bufferedPosts: ChannelMessageView[] = []
    let live = false
    // Nothing is written once the stream ended (the daemon stopping, or the client gone).
    const write = (event: string, data: unknown): void => {
      if (!res.writableEnded && !res.destroyed) res.write(`event: ${event}\ndata: ${JSON.stringify(data)}\n\n`)
    }
    const sendMessage = (record: InboxRecord): void => {
      if (record.seq <= lastSeq) return
      if (fromPeer != null && record.from !== fromPeer) return
      lastSeq = record.seq
      write('message', record)
    }
    const sendPost = (message: ChannelMessageView): void => {
      if (channelId != null && message.channel !== channelId) return
      if (fromPeer != null && message.author !== fromPeer) return
      if (replayed.has(`${message.author} ${message.id}`)) return
      write('channel', message)
    }
    const onMessage = (evt: CustomEvent<InboxRecord>): void => {
      if (live) sendMessage(evt.detail)
      else buffered.push(evt.detail)
    }
    const onReceipt = (evt: CustomEvent<ReceiptEvent>): void => { write('receipt', evt.detail) }
    const onRelays = (evt: CustomEvent<RelayRecord[]>): void => { write('relays', evt.detail) }
    const onCard = (evt: CustomEvent<PublishState>): void => { write('card', evt.detail) }
    const onHolePunch = (evt: CustomEvent<{ peer: string, outcome: string, ms: number }>): void => { write('hole-punch', evt.detail) }
    const onIdentityChanged = (evt: CustomEvent<IdentityChange>): void => { write('identity-changed', evt.detail) }
    const onOutbox = (evt: CustomEvent<OutboxRecord>): void => { write('outbox', evt.detail) }
    const onPost = (evt: CustomEvent<ChannelMessageView>): void => {
      if (live) sendPost(evt.detail)
      else bufferedPosts.push(evt.detail)
    }
    res.writeHead(200, { 'content-type': 'text/event-stream', 'cache-control': 'no-store', connection: 'keep-alive' })
    // Listened for before any await: a stream that closes while its backlog is read (the client
    // leaves, or the daemon stops and ends it) must still reach the cleanup below, or its
    // heartbeat timer would keep a stopped daemon's process alive.
    const closed = new Promise<void>(resolve => { res.once('close', resolve) })
    res.write(': pigeon events\n\n')
    node.addEventListener('message', onMessage)
    node.addEventListener('receipt', onReceipt)
    node.addEventListener('outbox', onOutbox)
    node.addEventListener('channel:message', onPost)
    node.addEventListener('relays:change', onRelays)
    node.addEventListener('card:published', onCard)
    node.addEventListener('hole-punch', onHolePunch)
    node.addEventListener('contact:identity-changed', onIdentityChanged)
    this.streams.add(res)
    const heartbeat = setInterval(() => { if (!res.writableEnded) res.write(': keep-alive\n\n') }, 15_000)
    try {
      // Warnings still standing are told to every new stream, not only when they arise.
      for (const change of node.identityChanges()) write('identity-changed', change)
      if (after != null) {
        for (const record of await node.inbox({ afterSeq: after, from })) sendMessage(record)
      }
      if (channelReplay && channelId != null) {
        for (const message of await node.channels.read(channelId, { after: channelAfter, last: channelLast })) {
          sendPost(message)
          replayed.add(`${message.author} ${message.id}`)
        }
      }
      for (const record of buffered) sendMessage(record)
      for (const message of bufferedPosts) sendPost(message)
      live = true
      await closed
    } finally {
      clearInterval(heartbeat)
      this.streams.delete(res)
      node.removeEventListener('message', onMessage)
      node.removeEventListener('receipt', onReceipt)
      node.removeEventListener('outbox', onOutbox)
      node.removeEventListener('channel:message', onPost)
      node.removeEventListener('relays:change', onRelays)
      node.removeEventListener('card:published', onCard)
      node.removeEventListener('hole-punch', onHolePunch)
      node.removeEventListener('contact:identity-changed', onIdentityChanged)
    }
  }

  /**
   * The backup payload (docs/operations.md, "Backup file format"): one consistent snapshot of
   * the identity and the whole store, streamed as it is read. A failure midway cuts the
   * response, and the client, missing the END record, knows the backup is incomplete.
   */
  private async backup (res: ServerResponse): Promise<void> {
    const payload = await nodePayload(this.init.node)
    res.writeHead(200, { 'content-type': 'application/octet-stream', 'cache-control': 'no-store' })
    try {
      for await (const chunk of payload) {
        if (res.destroyed) break
        if (!res.write(chunk)) {
          await new Promise<void>(resolve => {
            const done = (): void => { res.off('drain', done); res.off('close', done); resolve() }
            res.on('drain', done)
            res.on('close', done)
          })
        }
      }
      res.end()
    } catch (err) {
      res.destroy(err as Error)
    } finally {
      await payload.return(undefined)
    }
  }

  private authorized (req: IncomingMessage): boolean {
    const header = req.headers.authorization ?? ''
    const match = /^Bearer (\S+)$/.exec(header)
    if (match == null) return false
    const given = Buffer.from(match[1])
    return given.length === this.token.length && timingSafeEqual(given, this.token)
  }

  private dispatch (req: IncomingMessage, res: ServerResponse): void {
    const send = (status: number, body: unknown): void => {
      if (res.headersSent) { res.end(); return }
      const text = JSON.stringify(body)
      res.writeHead(status, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(text), 'cache-control': 'no-store' })
      res.end(text)
    }
    const fail = (err: any): void => {
      const status = err instanceof HttpError ? err.status : CLIENT_ERRORS[err?.name] ?? 500
      send(status, { error: { name: err instanceof HttpError ? err.errorName : err?.name ?? 'Error', message: String(err?.message ?? err) } })
    }
    if (!this.authorized(req)) {
      res.setHeader('www-authenticate', 'Bearer')
      fail(new HttpError(401, 'missing or wrong bearer token', 'Unauthorized'))
      return
    }
    const url = new URL(req.url ?? '/', 'http://localhost')
    const candidates = this.routes.filter(r => r.pattern.test(url.pathname))
    const route = candidates.find(r => r.method === req.method)
    if (route == null) {
      fail(candidates.length > 0 ? new HttpError(405, `${req.method} is not allowed on ${url.pathname}`, 'MethodNotAllowed') : new HttpError(404, `no route ${url.pathname}`, 'NotFound'))
      return
    }
    let params: string[]
    try {
      params = (route.pattern.exec(url.pathname)?.slice(1) ?? []).map(p => decodeURIComponent(p))
    } catch {
      fail(new HttpError(400, 'malformed percent-encoding in the path', 'BadRequest'))
      return
    }
    route.handler(req, url, params, res).then(
      result => { if (!res.headersSent) send(res.statusCode === 200 ? 200 : res.statusCode, result ?? {}) },
      fail
    )
  }
}
