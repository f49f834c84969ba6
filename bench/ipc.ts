/**
 * The parent's handle on one bench worker: a child process hosting one endpoint (pigeon or
 * raw, sender or receiver; or one role of the mailbox case: relay, alice, bob or the raw level
 * baseline; or the channel case's six nodes of one kind; or the load case's relay or one share
 * of its clients), driven by request/response messages
 * over the IPC channel. Every call has a deadline; a worker that dies or hangs fails the call
 * instead of the whole run.
 */
import { fork, type ChildProcess } from 'node:child_process'
import { fileURLToPath } from 'node:url'
import type { Durability, RelayLimits } from '../src/index.js'
import type { LevelBaseline } from './level.js'
import type { DepositResult, DrainResult, RelayCounts, RetryPolicy } from './mailbox.js'
import type { BurstResult, MeshShape } from './channel-group.js'
import type { ClientsStarted, LoadRelayKind, LoadRunResult, Memory, RelayProbe } from './load.js'

export type Kind = 'pigeon' | 'raw'

export type Command =
  | { op: 'receive', kind: Kind, durability: Durability, root: string }
  | { op: 'connect', kind: Kind, durability: Durability, root: string, address: string, timeoutMs: number }
  | { op: 'burst', count: number, bytes: number, timeoutMs: number }
  | { op: 'pingPong', count: number, bytes: number, timeoutMs: number }
  | { op: 'received' }
  | { op: 'stop' }
  // The mailbox case (mailbox.ts, level.ts): one role per worker.
  | { op: 'levelBaseline', root: string, durability: Durability, count: number, bytes: number, batch: number, timeoutMs: number }
  | { op: 'relay', root: string, durability: Durability, limits: RelayLimits }
  | { op: 'relayCounts' }
  | { op: 'sender', root: string, durability: Durability, retry: RetryPolicy }
  | { op: 'addRecipient', card: string }
  | { op: 'deposit', count: number, bytes: number, timeoutMs: number }
  | { op: 'armDelivered' }
  | { op: 'awaitDelivered', timeoutMs: number }
  | { op: 'recipient', root: string, durability: Durability, relayCard: string }
  | { op: 'goOffline', senderCard: string }
  | { op: 'drain', count: number, timeoutMs: number }
  // The channel case (channel-raw.ts, channel-pigeon.ts): one whole group per worker.
  | { op: 'channelGroup', kind: Kind, members: number, durability: Durability, root: string, timeoutMs: number }
  | { op: 'channelBurst', count: number, bytes: number, concurrency: number, timeoutMs: number }
  | { op: 'channelLatency', count: number, bytes: number, timeoutMs: number }
  | { op: 'channelShape' }
  | { op: 'quiet', timeoutMs: number }
  // The load case (load.ts): one relay in one worker, many light clients in each of the others.
  | { op: 'loadRelay', kind: LoadRelayKind, root: string, durability: Durability, limits: RelayLimits, maxConnections: number }
  | { op: 'loadProbe', resetLag?: boolean }
  | { op: 'loadMemory' }
  | { op: 'loadClients', first: number, count: number, relayAddr: string, timeoutMs: number }
  | { op: 'loadRun', peers: string[], bytes: number, warmupMs: number, durationMs: number, intervalMs: number, timeoutMs: number }

export interface Results {
  receive: { address: string }
  connect: Record<string, never>
  burst: { ms: number }
  pingPong: { samples: number[] }
  received: { count: number }
  stop: Record<string, never>
  levelBaseline: LevelBaseline
  relay: { card: string }
  relayCounts: RelayCounts
  sender: { card: string }
  addRecipient: Record<string, never>
  deposit: DepositResult
  armDelivered: Record<string, never>
  awaitDelivered: { ms: number }
  recipient: { card: string }
  goOffline: Record<string, never>
  drain: DrainResult
  channelGroup: { shape: MeshShape, setupMs: number }
  channelBurst: BurstResult
  channelLatency: { samples: number[] }
  channelShape: { shape: MeshShape, unexpected: number }
  quiet: { ms: number }
  loadRelay: { address: string, operatorUrl?: string }
  loadProbe: RelayProbe
  loadMemory: Memory
  loadClients: ClientsStarted
  loadRun: LoadRunResult
}

export interface Request { id: number, command: Command }
export type Response = { id: number, ok: true, result: unknown } | { id: number, ok: false, error: string }

/** Slack on top of a command's own deadline for the IPC round trip and process start. */
const IPC_SLACK_MS = 15_000
/** How long a worker gets to stop its node and exit before it is killed. */
const EXIT_TIMEOUT_MS = 10_000

const WORKER = fileURLToPath(new URL('./worker.js', import.meta.url))

interface Waiter {
  resolve: (value: unknown) => void
  reject: (err: Error) => void
  timer: ReturnType<typeof setTimeout>
}

export class WorkerProcess {
  readonly label: string
  private readonly child: ChildProcess
  private readonly waiting = new Map<number, Waiter>()
  private readonly exited: Promise<void>
  private nextId = 0

  /** `execArgv`: extra Node flags for this worker (the load case's relay runs with --expose-gc). */
  constructor (label: string, execArgv: string[] = []) {
    this.label = label
    // The worker's stdout goes to our stderr: stdout carries only the JSON results.
    this.child = fork(WORKER, [label], { stdio: ['ignore', 2, 2, 'ipc'], execArgv: [...process.execArgv, ...execArgv] })
    this.child.on('message', (msg: Response) => { this.settle(msg) })
    const { promise, resolve } = Promise.withResolvers<void>()
    this.exited = promise
    this.child.once('exit', (code, signal) => {
      resolve()
      for (const [id, waiter] of this.waiting) {
        clearTimeout(waiter.timer)
        waiter.reject(new Error(`worker ${label} exited (code ${code}, signal ${signal}) during request ${id}`))
      }
      this.waiting.clear()
    })
  }

  async call<C extends Command> (command: C, timeoutMs = 0): Promise<Results[C['op']]> {
    const id = this.nextId++
    const { promise, resolve, reject } = Promise.withResolvers<unknown>()
    const timer = setTimeout(() => {
      this.waiting.delete(id)
      reject(new Error(`worker ${this.label} did not answer ${command.op} within ${timeoutMs + IPC_SLACK_MS} ms`))
    }, timeoutMs + IPC_SLACK_MS)
    this.waiting.set(id, { resolve, reject, timer })
    this.child.send({ id, command } satisfies Request)
    return await promise as Results[C['op']]
  }

  /** Stops the worker's endpoint, then waits for the process to exit, killing it if it hangs. */
  async close (): Promise<void> {
    if (this.child.exitCode == null && this.child.signalCode == null) {
      try {
        await this.call({ op: 'stop' })
      } catch (err: any) {
        process.stderr.write(`worker ${this.label}: stop failed: ${err.message}\n`)
      }
      if (this.child.connected) this.child.disconnect()
    }
    const timer = setTimeout(() => { this.child.kill('SIGKILL') }, EXIT_TIMEOUT_MS)
    await this.exited
    clearTimeout(timer)
  }

  private settle (msg: Response): void {
    const waiter = this.waiting.get(msg.id)
    if (waiter == null) return
    this.waiting.delete(msg.id)
    clearTimeout(waiter.timer)
    if (msg.ok) waiter.resolve(msg.result)
    else waiter.reject(new Error(`worker ${this.label}: ${msg.error}`))
  }
}
