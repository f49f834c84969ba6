/**
 * Spawning the built `pigeon` binary as a user would, with deadlines on every wait.
 */
import { spawn, type ChildProcess, type ChildProcessByStdio } from 'node:child_process'
import type { Readable, Writable } from 'node:stream'
import { fileURLToPath } from 'node:url'
import { once } from 'node:events'
import { createInterface } from 'node:readline'
import { readFile } from 'node:fs/promises'
import { join } from 'node:path'

export const PIGEON_BIN = fileURLToPath(new URL('../cli/pigeon.js', import.meta.url))
const FOLLOW_EVENTS = fileURLToPath(new URL('./support/follow-events.js', import.meta.url))
const HANDLE_TRACKER = fileURLToPath(new URL('./support/handle-tracker.js', import.meta.url))

export interface CliResult {
  code: number | null
  signal: NodeJS.Signals | null
  stdout: string
  stderr: string
}

/**
 * `node ARGS`, or inside network namespace `netns` (`ip netns exec` replaces itself with node, so
 * the child's pid and signals are node's).
 */
function spawnNode (args: string[], options: { env?: NodeJS.ProcessEnv, netns?: string }): ChildProcessByStdio<null, Readable, Readable> {
  const env = { ...process.env, ...options.env }
  if (options.netns == null) return spawn(process.execPath, args, { env, stdio: ['ignore', 'pipe', 'pipe'] })
  return spawn('ip', ['netns', 'exec', options.netns, process.execPath, ...args], { env, stdio: ['ignore', 'pipe', 'pipe'] })
}

/** Runs `pigeon ARGS` to completion (or kills it after `timeout` ms and fails). */
export async function pigeon (args: string[], options: { env?: NodeJS.ProcessEnv, timeout?: number, bin?: string, netns?: string } = {}): Promise<CliResult> {
  const child = spawnNode([options.bin ?? PIGEON_BIN, ...args], options)
  let stdout = ''
  let stderr = ''
  child.stdout.setEncoding('utf8').on('data', (d: string) => { stdout += d })
  child.stderr.setEncoding('utf8').on('data', (d: string) => { stderr += d })
  const [code, signal] = await exited(child, options.timeout ?? 30_000)
  return { code, signal, stdout, stderr }
}

/** Waits for the process to exit, killing it and failing after `ms`. */
export async function exited (child: ChildProcess, ms: number): Promise<[number | null, NodeJS.Signals | null]> {
  if (child.exitCode != null || child.signalCode != null) return [child.exitCode, child.signalCode]
  let timedOut = false
  const timer = setTimeout(() => { timedOut = true; child.kill('SIGKILL') }, ms)
  try {
    const [code, signal] = await once(child, 'exit') as [number | null, NodeJS.Signals | null]
    if (timedOut) throw new Error(`process did not exit within ${ms} ms`)
    return [code, signal]
  } finally {
    clearTimeout(timer)
  }
}

/** Collects a child's stdout lines; `next` waits for the next line a matcher accepts. */
export class Lines {
  private readonly lines: string[] = []
  private cursor = 0
  private closed = false
  private readonly waiters = new Set<() => void>()

  constructor (child: ChildProcess) {
    if (child.stdout == null) throw new Error('process has no stdout pipe')
    const rl = createInterface({ input: child.stdout })
    rl.on('line', line => { this.lines.push(line); this.wake() })
    rl.on('close', () => { this.closed = true; this.wake() })
  }

  private wake (): void {
    for (const w of this.waiters) w()
  }

  /** The next unread line that `match` accepts (lines before it are consumed). */
  async next (match: (line: string) => boolean = () => true, ms = 20_000): Promise<string> {
    return await new Promise<string>((resolve, reject) => {
      const check = (): void => {
        while (this.cursor < this.lines.length) {
          const line = this.lines[this.cursor++]
          if (match(line)) { finish(); resolve(line); return }
        }
        if (this.closed) { finish(); reject(new Error('process closed stdout before printing the expected line')) }
      }
      const timer = setTimeout(() => { finish(); reject(new Error(`no matching output line within ${ms} ms`)) }, ms)
      const finish = (): void => { clearTimeout(timer); this.waiters.delete(check) }
      this.waiters.add(check)
      check()
    })
  }
}

export interface StartInfo {
  peerId: string
  dataDir: string
  addresses: string[]
  apiUrl: string
  card: string
  pid: number
}

/** A `pigeon start` child process. */
export class Daemon {
  readonly child: ChildProcess
  stderr = ''

  private constructor (child: ChildProcess, readonly info: StartInfo) {
    this.child = child
    child.stderr?.setEncoding('utf8').on('data', (d: string) => { this.stderr += d })
  }

  /** Starts a node on loopback TCP (and WebSockets) with OS-chosen ports; resolves once it is up. */
  static async start (dataDir: string, options: { args?: string[], env?: NodeJS.ProcessEnv, listen?: string[], bin?: string, netns?: string } = {}): Promise<Daemon> {
    const listen = options.listen ?? ['/ip4/127.0.0.1/tcp/0', '/ip4/127.0.0.1/tcp/0/ws']
    // The handle tracker names, should the CLI's exit grace have to end the process, what was
    // left open and where it was created (Daemon.exit fails on it).
    const child = spawnNode(['--import', HANDLE_TRACKER, options.bin ?? PIGEON_BIN, '--json', '--data-dir', dataDir, 'start', '--listen', ...listen, '--durability', 'os', ...(options.args ?? [])], {
      env: { HANDLE_TRACKER_REPORT_AT_EXIT: '1', ...options.env },
      netns: options.netns
    })
    let stderr = ''
    child.stderr.setEncoding('utf8').on('data', (d: string) => { stderr += d })
    try {
      const line = await new Lines(child).next(l => l.startsWith('{'))
      const daemon = new Daemon(child, JSON.parse(line))
      daemon.stderr = stderr
      return daemon
    } catch (err: any) {
      child.kill('SIGKILL')
      throw new Error(`pigeon start failed: ${err.message}\n${stderr}`)
    }
  }

  get tcpAddress (): string {
    const addr = this.info.addresses.find(a => !a.includes('/ws'))
    if (addr == null) throw new Error('daemon has no TCP address')
    return addr
  }

  /** SIGKILL: no cleanup runs, as in a crash. */
  async kill (): Promise<void> {
    this.child.kill('SIGKILL')
    await exited(this.child, 10_000)
  }

  /** SIGTERM and wait for a clean exit. */
  async stop (): Promise<number | null> {
    if (this.child.exitCode != null || this.child.signalCode != null) return this.child.exitCode
    this.child.kill('SIGTERM')
    return await this.exit()
  }

  /**
   * Waits for the process to end after it was told to stop (SIGTERM or `pigeon stop`): within
   * `ms`, and on its own. A stopped node whose process had to be ended by the CLI's exit grace
   * left something open, and that fails here with the handles the CLI named.
   */
  async exit (ms = 15_000): Promise<number | null> {
    const [code] = await exited(this.child, ms)
    const forced = /^.*exiting with handles still open.*$/m.exec(this.stderr)
    if (forced != null) throw new Error(`pigeon start's process did not end on its own after its node stopped: ${forced[0]}\n${this.stderr.slice(this.stderr.indexOf('open handles at exit'))}`)
    return code
  }
}

/** The control API of the node running with `dataDir`, found through its control file as the CLI finds it. */
export class ControlApi {
  private constructor (readonly url: string, readonly token: string) {}

  static async of (dataDir: string): Promise<ControlApi> {
    const { url, token } = JSON.parse(await readFile(join(dataDir, 'control.json'), 'utf8'))
    return new ControlApi(url, token)
  }

  /** One request; `timeout` bounds the whole exchange (a long `wait` route needs more than the default). */
  async call (method: string, path: string, options: { body?: unknown, timeout?: number } = {}): Promise<{ status: number, json: any }> {
    const res = await fetch(this.url + path, {
      method,
      headers: { authorization: `Bearer ${this.token}`, 'content-type': 'application/json' },
      body: options.body == null ? undefined : JSON.stringify(options.body),
      signal: AbortSignal.timeout(options.timeout ?? 20_000)
    })
    return { status: res.status, json: await res.json() }
  }

  /** Resolves once the message reaches `state` (through GET /v1/messages/:id/wait); fails after `ms`. */
  async waitFor (id: string, state: 'delivered' | 'read' = 'delivered', ms = 20_000): Promise<any> {
    const { status, json } = await this.call('GET', `/v1/messages/${id}/wait?state=${state}&timeout=${ms}`, { timeout: ms + 5_000 })
    if (status !== 200) throw new Error(`message ${id} did not become ${state}: ${status} ${JSON.stringify(json)}`)
    return json
  }

  /**
   * Subscribes to GET /v1/events (`query` like '?inbox-after=0'); the node is listening once this
   * resolves. The stream ends at `close()`, or after `lifetime` ms so a forgotten one cannot hang a run.
   */
  async events (query = '', lifetime = 60_000): Promise<EventStream> {
    const controller = new AbortController()
    const res = await fetch(`${this.url}/v1/events${query}`, { headers: { authorization: `Bearer ${this.token}` }, signal: AbortSignal.any([controller.signal, AbortSignal.timeout(lifetime)]) })
    if (res.status !== 200 || res.body == null) throw new Error(`GET /v1/events answered ${res.status}`)
    return new EventStream(res.body, controller)
  }
}

/** Server-sent events from a node, collected from the moment the stream opened; `next` waits for one a matcher accepts. */
export class EventStream {
  private readonly events: Array<{ event: string, data: any }> = []
  private closed = false
  private readonly waiters = new Set<() => void>()

  constructor (body: ReadableStream<Uint8Array>, private readonly controller: AbortController) {
    void this.read(body)
  }

  private async read (body: ReadableStream<Uint8Array>): Promise<void> {
    const decoder = new TextDecoder()
    let buffer = ''
    try {
      for await (const chunk of body) {
        buffer += decoder.decode(chunk, { stream: true })
        let end: number
        while ((end = buffer.indexOf('\n\n')) !== -1) {
          const block = buffer.slice(0, end)
          buffer = buffer.slice(end + 2)
          const event = /^event: (.*)$/m.exec(block)?.[1] ?? 'message'
          const data = block.split('\n').filter(l => l.startsWith('data: ')).map(l => l.slice(6))
          if (data.length > 0) this.events.push({ event, data: JSON.parse(data.join('\n')) })
        }
        for (const w of this.waiters) w()
      }
    } catch {
      // Aborted by close(), or the node went away: either way, no more events.
    } finally {
      this.closed = true
      for (const w of this.waiters) w()
    }
  }

  /** The first event of type `event` that `match` accepts, from all events seen so far or to come; rejects after `ms`. */
  async next (event: string, match: (data: any) => boolean = () => true, ms = 20_000): Promise<any> {
    return await new Promise((resolve, reject) => {
      const check = (): void => {
        const found = this.events.find(e => e.event === event && match(e.data))
        if (found != null) { finish(); resolve(found.data); return }
        if (this.closed) { finish(); reject(new Error(`the event stream closed before the expected ${event} event`)) }
      }
      const timer = setTimeout(() => { finish(); reject(new Error(`no matching ${event} event within ${ms} ms`)) }, ms)
      const finish = (): void => { clearTimeout(timer); this.waiters.delete(check) }
      this.waiters.add(check)
      check()
    })
  }

  close (): void {
    this.controller.abort()
  }
}

/**
 * The control API events of a node running in network namespace `netns` (where this process
 * cannot reach its API), through test/support/follow-events.js run inside it.
 */
export class NamespaceEvents {
  private readonly lines: Lines

  private constructor (private readonly child: ChildProcessByStdio<Writable, Readable, Readable>) {
    this.lines = new Lines(child)
  }

  static async follow (dataDir: string, netns: string): Promise<NamespaceEvents> {
    const child = spawn('ip', ['netns', 'exec', netns, process.execPath, FOLLOW_EVENTS, dataDir], { stdio: ['pipe', 'pipe', 'pipe'] })
    const events = new NamespaceEvents(child)
    await events.lines.next(line => line.includes('"ready"'))
    return events
  }

  /** The data of the next `event` that `match` accepts (earlier lines are consumed). */
  async next<T = any> (event: string, match: (data: T) => boolean = () => true, ms = 30_000): Promise<T> {
    const line = await this.lines.next(l => {
      const parsed = JSON.parse(l)
      return parsed.event === event && match(parsed.data)
    }, ms)
    return JSON.parse(line).data
  }

  async close (): Promise<void> {
    this.child.stdin.end()
    await exited(this.child, 10_000)
  }
}

