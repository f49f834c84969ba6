/**
 * A client of a running node's control API, found through the data dir's control file.
 * The CLI uses it; so can scripts and UIs.
 */
import { readControlFile, processAlive, type ControlInfo } from './control-file.js'
import { ControlApiError, NodeNotRunningError } from '../errors.js'

/** Default deadline for one API call that is not a long wait. */
const REQUEST_TIMEOUT_MS = 30_000

export interface ServerEvent {
  event: string
  data: any
}

/** The API's JSON error as an exception; `remoteName` is the library error's name, for callers that tell errors apart. */
function apiError (status: number, json: any): ControlApiError {
  const err = new ControlApiError(status, json?.error?.message ?? `HTTP ${status}`)
  if (typeof json?.error?.name === 'string') (err as { remoteName?: string }).remoteName = json.error.name
  return err
}

export class ControlClient {
  readonly info: ControlInfo

  private constructor (info: ControlInfo) {
    this.info = info
  }

  /** Finds the node running with `dataDir`, or throws NodeNotRunningError. */
  static async connect (dataDir: string): Promise<ControlClient> {
    const info = await readControlFile(dataDir)
    if (info == null || !processAlive(info.pid)) {
      throw new NodeNotRunningError(`no pigeon node is running with data dir ${dataDir} (start one with: pigeon start)`)
    }
    return new ControlClient(info)
  }

  async request<T = any> (method: string, path: string, body?: unknown, options: { timeout?: number } = {}): Promise<T> {
    let res: Response
    try {
      res = await fetch(this.info.url + path, {
        method,
        headers: { authorization: `Bearer ${this.info.token}`, ...(body != null ? { 'content-type': 'application/json' } : {}) },
        body: body != null ? JSON.stringify(body) : undefined,
        signal: AbortSignal.timeout(options.timeout ?? REQUEST_TIMEOUT_MS)
      })
    } catch (err: any) {
      if (err.name === 'TimeoutError') throw new ControlApiError(408, `the node did not answer ${method} ${path} in time`)
      throw new NodeNotRunningError(`the pigeon node at ${this.info.url} does not answer (${err.cause?.code ?? err.message}); is it running?`)
    }
    const text = await res.text()
    let json: any
    try {
      json = text.length > 0 ? JSON.parse(text) : {}
    } catch {
      throw new ControlApiError(res.status, `the node answered ${res.status} with a body that is not JSON`)
    }
    if (!res.ok) throw apiError(res.status, json)
    return json as T
  }

  /** A route's body as a byte stream (GET /v1/backup); no deadline, the stream may be long. */
  async download (path: string, signal?: AbortSignal): Promise<AsyncIterable<Uint8Array>> {
    let res: Response
    try {
      res = await fetch(this.info.url + path, { headers: { authorization: `Bearer ${this.info.token}` }, signal })
    } catch (err: any) {
      throw new NodeNotRunningError(`the pigeon node at ${this.info.url} does not answer (${err.cause?.code ?? err.message})`)
    }
    if (!res.ok || res.body == null) throw apiError(res.status, await res.json().catch(() => ({})))
    return res.body
  }

  /** Reads server-sent events until the signal fires or the node closes the stream. */
  async * events (path: string, signal?: AbortSignal): AsyncGenerator<ServerEvent> {
    let res: Response
    try {
      res = await fetch(this.info.url + path, { headers: { authorization: `Bearer ${this.info.token}`, accept: 'text/event-stream' }, signal })
    } catch (err: any) {
      if (signal?.aborted === true) return
      throw new NodeNotRunningError(`the pigeon node at ${this.info.url} does not answer (${err.cause?.code ?? err.message})`)
    }
    if (!res.ok || res.body == null) {
      throw apiError(res.status, await res.json().catch(() => ({})))
    }
    const decoder = new TextDecoder()
    let buffer = ''
    try {
      for await (const chunk of res.body) {
        buffer += decoder.decode(chunk, { stream: true })
        let end: number
        while ((end = buffer.indexOf('\n\n')) !== -1) {
          const block = buffer.slice(0, end)
          buffer = buffer.slice(end + 2)
          let event = 'message'
          const data: string[] = []
          for (const line of block.split('\n')) {
            if (line.startsWith('event: ')) event = line.slice(7)
            else if (line.startsWith('data: ')) data.push(line.slice(6))
          }
          if (data.length > 0) yield { event, data: JSON.parse(data.join('\n')) }
        }
      }
    } catch (err: any) {
      if (signal?.aborted === true) return
      throw err
    }
  }
}
