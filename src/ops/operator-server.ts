/**
 * The operator endpoint: liveness, readiness and Prometheus metrics over plain HTTP, for
 * orchestrators and monitoring. Separate from the control API: it needs no token and answers
 * nothing private, so a scraper can reach it without being able to send messages.
 */
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http'
import type { Registry } from 'prom-client'
import type { PigeonNode } from '../node.js'
import { readiness } from './readiness.js'
import { DEFAULT_OPERATOR_HOST, OPERATOR_CLOSE_GRACE_MS } from './constants.js'
import { closeHttp, listenHttp } from '../control/http.js'

export interface OperatorServerInit {
  node: PigeonNode
  /** The registry served at /metrics. */
  registry: Registry
  /**
   * Interface to bind. Anything but loopback exposes health and metrics to the network.
   *
   * @default DEFAULT_OPERATOR_HOST ('127.0.0.1')
   */
  host?: string
  /** Port to bind. @default 0 (chosen by the OS) */
  port?: number
}

type Route = (res: ServerResponse) => Promise<void>

const ALLOWED_METHODS = 'GET, HEAD'

function json (res: ServerResponse, status: number, body: unknown): void {
  const text = JSON.stringify(body)
  res.writeHead(status, { 'content-type': 'application/json; charset=utf-8', 'cache-control': 'no-store', 'content-length': Buffer.byteLength(text) })
  res.end(text)
}

export class OperatorServer {
  private readonly init: OperatorServerInit
  private readonly server: Server
  private readonly routes: Map<string, Route>

  constructor (init: OperatorServerInit) {
    this.init = init
    this.routes = new Map<string, Route>([
      ['/healthz', async (res) => { json(res, 200, { status: 'ok' }) }],
      ['/readyz', async (res) => {
        const result = readiness(this.init.node)
        json(res, result.ready ? 200 : 503, result)
      }],
      ['/metrics', async (res) => {
        const text = await this.init.registry.metrics()
        res.writeHead(200, { 'content-type': this.init.registry.contentType, 'cache-control': 'no-store', 'content-length': Buffer.byteLength(text) })
        res.end(text)
      }]
    ])
    this.server = createServer((req, res) => { void this.handle(req, res) })
  }

  private async handle (req: IncomingMessage, res: ServerResponse): Promise<void> {
    try {
      const path = new URL(req.url ?? '/', 'http://operator').pathname
      const route = this.routes.get(path)
      if (route == null) {
        json(res, 404, { error: 'NotFound', message: `no route ${path}` })
        return
      }
      if (req.method !== 'GET' && req.method !== 'HEAD') {
        res.setHeader('allow', ALLOWED_METHODS)
        json(res, 405, { error: 'MethodNotAllowed', message: `${path} answers ${ALLOWED_METHODS}` })
        return
      }
      await route(res)
    } catch (err: any) {
      if (!res.headersSent) json(res, 500, { error: 'InternalError', message: err.message })
      else res.destroy()
    }
  }

  /** Starts listening; resolves with the base URL (http://host:port). */
  async listen (): Promise<string> {
    return await listenHttp(this.server, this.init.port ?? 0, this.init.host ?? DEFAULT_OPERATOR_HOST, 'operator endpoint')
  }

  /** Stops listening; a scrape still running gets OPERATOR_CLOSE_GRACE_MS to finish. Safe to call twice. */
  async close (): Promise<void> {
    if (!this.server.listening) return
    await closeHttp(this.server, OPERATOR_CLOSE_GRACE_MS)
  }
}
