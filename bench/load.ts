/**
 * The worker side of the load case (load-case.ts): one relay in one process, and many light
 * mailbox clients in each of several others.
 *
 * A client is a bare libp2p node (TCP, Noise, yamux, identify) carrying pigeon's own `mailbox()`
 * service, not a whole PigeonNode: a PigeonNode brings a LevelDB, an outbox, gossipsub and more,
 * and 125 of them do not fit in one small process. What the relay sees is the same: a Noise
 * peer that deposits envelopes sealed with `seal` for real recipients, and fetches and deletes
 * its own mail when the relay says some is waiting (NOTIFY).
 *
 * Every client dials from its own loopback address (127.2.x.y). Real clients come from many
 * addresses; from one, libp2p's per-host inbound limit (5 connections a second) would make
 * connecting 500 peers take 100 s and measure that limit instead of the relay.
 */
import { mkdtemp, rm } from 'node:fs/promises'
import { join } from 'node:path'
import { monitorEventLoopDelay } from 'node:perf_hooks'
import { randomBytes } from 'node:crypto'
import { createLibp2p, type Libp2p } from 'libp2p'
import { tcp, type TCPSocketOptions } from '@libp2p/tcp'
import { noise } from '@chainsafe/libp2p-noise'
import { yamux } from '@chainsafe/libp2p-yamux'
import { identify } from '@libp2p/identify'
import { ping } from '@libp2p/ping'
import { generateKeyPair } from '@libp2p/crypto/keys'
import { peerIdFromString } from '@libp2p/peer-id'
import { multiaddr, type Multiaddr } from '@multiformats/multiaddr'
import { createNode, type Durability, type PigeonNode, type RelayLimits } from '../src/index.js'
import { mailbox, type MailboxService } from '../src/mailbox/index.js'
import { seal } from '../src/crypto/envelope.js'
import { localKeys, peerKeys, type LocalKeys, type PeerKeys } from '../src/crypto/keys.js'
import { Body, Envelope } from '../src/wire/pb/wire.js'
import { BODY_KIND } from '../src/wire/constants.js'
import { MESSAGE_ID_LENGTH } from '../src/constants.js'
import { MAX_MAILBOX_BATCH } from '../src/mailbox/constants.js'
import { Level } from 'level'
import { RawMailbox } from './raw-mailbox.js'
import { Registry } from 'prom-client'
import { OperatorServer } from '../src/ops/index.js'
import { race } from './deadline.js'
import { randomText } from './text.js'
import type { AbortOptions, PeerId } from '@libp2p/interface'

const RELAY_LISTEN = ['/ip4/127.0.0.1/tcp/0']
/** Clients of one process dialling the relay at once: below libp2p's 10 inbound handshakes pending. */
const DIAL_CONCURRENCY = 2
/** A refused dial (the relay's pending-handshake limit) is tried again after attempt * this. */
const DIAL_BACKOFF_MS = 50
const DIAL_ATTEMPTS = 20
const DIAL_TIMEOUT_MS = 10_000
/** After a failed deposit, before the next: a dead connection must not turn into a busy loop. */
const ERROR_PAUSE_MS = 100
/** Distinct error messages kept for the report. */
const MAX_ERROR_KINDS = 5

export type LoadRelayKind = 'pigeon' | 'raw'

/** The relay's view of itself, sampled once a second during the run. */
export interface RelayProbe {
  /** Each part of "ready": the node started, libp2p started, the store open, listening. */
  ready: { started: boolean, libp2p: boolean, store: boolean, listening: boolean }
  connections: number
  peers: number
  rss: number
  heapUsed: number
  /** Mailbox counters. */
  deposited: number
  fetched: number
  deleted: number
  refused: Record<string, number>
  /** Connections the relay's connection manager allows. */
  maxConnections: number
  /** process.cpuUsage() in µs and performance.now() when sampled: CPU share between two probes. */
  cpuMicros: number
  atMs: number
  /** Event-loop utilisation since the relay started (performance.eventLoopUtilization). */
  elu: { idle: number, active: number }
  /** Event-loop delay since the last probe that reset it (perf_hooks.monitorEventLoopDelay), ms. */
  lag: { p50Ms: number, p99Ms: number, maxMs: number }
}

export interface Memory { rss: number, heapUsed: number, external: number, arrayBuffers: number }

/** What the bench reads from libp2p's connection manager beyond its public interface. */
interface TunableConnectionManager {
  getMaxConnections(): number
}

function connectionManagerOf (libp2p: Libp2p): TunableConnectionManager {
  return (libp2p as unknown as { components: { connectionManager: TunableConnectionManager } }).components.connectionManager
}

/** Memory after a full collection when the process runs with --expose-gc. */
export function memory (): Memory {
  globalThis.gc?.()
  const m = process.memoryUsage()
  return { rss: m.rss, heapUsed: m.heapUsed, external: m.external, arrayBuffers: m.arrayBuffers }
}

/**
 * The relay: a pigeon node with `relay` limits and its operator endpoint (/readyz, as an
 * orchestrator would probe it), or a plain libp2p node for the baseline.
 */
export class LoadRelay {
  private readonly node?: PigeonNode
  private readonly libp2p: Libp2p
  private readonly dataDir?: string
  private operator?: OperatorServer
  /** The operator endpoint's base URL; none on a raw relay. */
  operatorUrl?: string

  /** The raw relay's mailbox (its store is `rawDb`). */
  private rawDb?: Level<string, Uint8Array>
  private raw?: RawMailbox

  /** The relay process's event-loop delay, sampled every 10 ms while it runs. */
  private readonly lag = monitorEventLoopDelay({ resolution: 10 })

  private constructor (libp2p: Libp2p, node?: PigeonNode, dataDir?: string) {
    this.libp2p = libp2p
    this.node = node
    this.dataDir = dataDir
    this.lag.enable()
  }

  /**
   * The baseline: a plain libp2p node (TCP, Noise, yamux, identify, ping) serving pigeon's
   * mailbox protocol with the raw libraries (raw-mailbox.ts), on a `level` store synced as
   * `durability` says.
   */
  private static async startRaw (root: string, durability: Durability, maxConnections: number): Promise<LoadRelay> {
    const dataDir = await mkdtemp(join(root, 'load-raw-relay-'))
    const db = new Level<string, Uint8Array>(dataDir, { valueEncoding: 'view' })
    try {
      await db.open()
      const libp2p = await createLibp2p({
        addresses: { listen: RELAY_LISTEN },
        transports: [tcp()],
        connectionEncrypters: [noise()],
        streamMuxers: [yamux()],
        connectionManager: { maxConnections },
        services: { identify: identify(), ping: ping() }
      })
      const relay = new LoadRelay(libp2p, undefined, dataDir)
      relay.rawDb = db
      const raw = relay.raw = new RawMailbox(libp2p, db, durability === 'fsync')
      await raw.start()
      await libp2p.start()
      return relay
    } catch (err) {
      await db.close().catch(() => {})
      await rm(dataDir, { recursive: true, force: true })
      throw err
    }
  }

  static async start (kind: LoadRelayKind, root: string, durability: Durability, limits: RelayLimits, maxConnections: number): Promise<LoadRelay> {
    if (kind === 'raw') return await LoadRelay.startRaw(root, durability, maxConnections)
    const dataDir = await mkdtemp(join(root, 'load-relay-'))
    let node: PigeonNode | undefined
    try {
      node = await createNode({ dataDir, listen: RELAY_LISTEN, durability, relay: limits, maxConnections })
      await node.start()
      const relay = new LoadRelay(node.libp2p, node, dataDir)
      relay.operator = new OperatorServer({ node, registry: new Registry() })
      relay.operatorUrl = await relay.operator.listen()
      return relay
    } catch (err) {
      await node?.stop().catch(() => {})
      await rm(dataDir, { recursive: true, force: true })
      throw err
    }
  }

  /** The multiaddr clients dial, with /p2p/<relay>. */
  address (): string {
    const addr = this.libp2p.getMultiaddrs().find(a => a.toString().includes('/tcp/'))
    if (addr == null) throw new Error('the relay listens on no TCP address')
    return addr.toString()
  }

  /** The relay's state now; `resetLag` starts the event-loop delay histogram afresh after reading it. */
  probe (resetLag = false): RelayProbe {
    const lag = { p50Ms: this.lag.percentile(50) / 1e6, p99Ms: this.lag.percentile(99) / 1e6, maxMs: this.lag.max / 1e6 }
    if (resetLag) this.lag.reset()
    const m = process.memoryUsage()
    const cpu = process.cpuUsage()
    const elu = performance.eventLoopUtilization()
    const node = this.node
    const stats = node?.libp2p.services.mailbox.stats
    const raw = this.raw
    return {
      ready: {
        started: node == null ? true : node.isStarted(),
        libp2p: this.libp2p.status === 'started',
        store: node == null ? true : node.store.database.status === 'open',
        listening: this.libp2p.getMultiaddrs().length > 0
      },
      connections: this.libp2p.getConnections().length,
      peers: this.libp2p.getPeers().length,
      rss: m.rss,
      heapUsed: m.heapUsed,
      deposited: stats?.deposited ?? raw?.deposited ?? 0,
      fetched: stats?.fetched ?? raw?.fetched ?? 0,
      deleted: stats?.deleted ?? raw?.deleted ?? 0,
      refused: { ...(stats?.refused ?? {}) },
      maxConnections: connectionManagerOf(this.libp2p).getMaxConnections(),
      cpuMicros: cpu.user + cpu.system,
      atMs: performance.now(),
      elu: { idle: elu.idle, active: elu.active },
      lag
    }
  }

  async stop (): Promise<void> {
    this.lag.disable()
    try {
      await this.operator?.close()
      if (this.node != null) await this.node.stop()
      else await this.libp2p.stop()
      await this.rawDb?.close()
    } finally {
      if (this.dataDir != null) await rm(this.dataDir, { recursive: true, force: true })
    }
  }
}

interface Client {
  libp2p: Libp2p<{ mailbox: MailboxService }>
  keys: LocalKeys
  /** A NOTIFY came in: fetch again once the current pass ends. */
  again: boolean
  draining?: Promise<void>
}

export interface ClientsStarted {
  ids: string[]
  /** Dials refused or failed before one got through (the relay's pending-handshake limit). */
  dialRetries: number
  connectMs: number
}

export interface LoadRunResult {
  /** Deposit round trips begun inside the measured window, ms. */
  latencies: number[]
  /** Envelopes the relay answered "stored" for, inside the window. */
  stored: number
  /** Envelopes refused by the relay, by reason, inside the window. */
  refused: Record<string, number>
  /** Envelopes fetched (and then deleted) by clients inside the window. */
  fetched: number
  fetches: number
  deleted: number
  /** Requests that threw (timeouts, closed connections), over the whole run. */
  errors: number
  errorKinds: string[]
  /** Clients still connected to the relay when the run ended. */
  connectedAtEnd: number
  /** Size of one deposited envelope on the wire (they differ by a few bytes at most). */
  envelopeBytes: number
}

/** `count` light mailbox clients in this process, numbered from `first` across all processes. */
export class LoadClients {
  private readonly clients: Client[] = []
  private relay?: PeerId
  private running = false
  private measuring = false
  private result: LoadRunResult = LoadClients.emptyResult()

  static emptyResult (): LoadRunResult {
    return { latencies: [], stored: 0, refused: {}, fetched: 0, fetches: 0, deleted: 0, errors: 0, errorKinds: [], connectedAtEnd: 0, envelopeBytes: 0 }
  }

  static async start (first: number, count: number, relayAddr: string, options: AbortOptions): Promise<{ clients: LoadClients, started: ClientsStarted }> {
    const self = new LoadClients()
    const start = performance.now()
    try {
      const relay = multiaddr(relayAddr)
      const relayId = relayAddr.split('/p2p/').at(-1)
      if (relayId == null || relayId === relayAddr) throw new Error(`${relayAddr} names no peer id`)
      self.relay = peerIdFromString(relayId)
      for (let i = 0; i < count; i++) self.clients.push(await self.create(first + i))
      let next = 0
      let dialRetries = 0
      await Promise.all(Array.from({ length: DIAL_CONCURRENCY }, async () => {
        while (next < self.clients.length) {
          const client = self.clients[next++]
          dialRetries += await self.dial(client, relay, options)
        }
      }))
      return { clients: self, started: { ids: self.clients.map(c => c.libp2p.peerId.toString()), dialRetries, connectMs: performance.now() - start } }
    } catch (err) {
      await self.stop()
      throw err
    }
  }

  private async create (index: number): Promise<Client> {
    const privateKey = await generateKeyPair('Ed25519')
    // TCPSocketOptions names only some of net.connect's options; @libp2p/tcp passes them all on.
    const dialOpts: TCPSocketOptions & { localAddress: string } = { noDelay: true, localAddress: `127.2.${Math.floor(index / 250)}.${1 + index % 250}` }
    const libp2p = await createLibp2p({
      privateKey,
      addresses: { listen: [] },
      transports: [tcp({ dialOpts })],
      connectionEncrypters: [noise()],
      streamMuxers: [yamux()],
      services: {
        identify: identify(),
        mailbox: mailbox({
          isHomeRelay: (peer) => this.relay?.equals(peer) === true,
          // NOTIFY only comes over a connection, and the client exists by the time one is open.
          onNotify: () => { this.drain(client) }
        })
      }
    })
    const client: Client = { libp2p, keys: localKeys(privateKey, libp2p.peerId), again: false }
    return client
  }

  /** Dials until connected; returns the failed attempts. */
  private async dial (client: Client, relay: Multiaddr, options: AbortOptions): Promise<number> {
    for (let attempt = 0; ; attempt++) {
      try {
        await client.libp2p.dial(relay, { signal: AbortSignal.any([AbortSignal.timeout(DIAL_TIMEOUT_MS), ...(options.signal != null ? [options.signal] : [])]) })
        return attempt
      } catch (err: any) {
        if (attempt + 1 >= DIAL_ATTEMPTS || options.signal?.aborted === true) throw new Error(`client ${client.libp2p.peerId} could not connect to the relay after ${attempt + 1} attempts: ${err.message}`)
        await race(new Promise(resolve => setTimeout(resolve, DIAL_BACKOFF_MS * (attempt + 1))), options.signal)
      }
    }
  }

  private error (err: any): void {
    this.result.errors++
    const kind = `${err?.name ?? 'Error'}: ${err?.message ?? String(err)}`.slice(0, 200)
    if (this.result.errorKinds.length < MAX_ERROR_KINDS && !this.result.errorKinds.includes(kind)) this.result.errorKinds.push(kind)
  }

  /** Fetches and deletes this client's mail until the relay holds none; overlapping calls coalesce. */
  private drain (client: Client): void {
    if (!this.running || this.relay == null) return
    if (client.draining != null) {
      client.again = true
      return
    }
    const relay = this.relay
    client.draining = (async () => {
      try {
        do {
          client.again = false
          while (this.running) {
            const { mail, more } = await client.libp2p.services.mailbox.fetch(relay, new Uint8Array(0), MAX_MAILBOX_BATCH)
            if (this.measuring) this.result.fetches++
            if (mail.length === 0) break
            const deleted = await client.libp2p.services.mailbox.delete(relay, mail.map(m => m.id))
            if (this.measuring) {
              this.result.fetched += mail.length
              this.result.deleted += deleted
            }
            // As pigeon's own drain: the relay said that was the last page.
            if (more === false) break
          }
        } while (client.again && this.running)
      } catch (err) {
        this.error(err)
      } finally {
        client.draining = undefined
      }
    })()
  }

  /**
   * Every client deposits one sealed 256-byte text at a time for a random other client (one
   * request in flight per client, as a person typing), for `warmupMs` unmeasured and then
   * `durationMs` measured. With `intervalMs` 0 each deposit follows the last at once (closed
   * loop: the relay's capacity); otherwise a client begins one every `intervalMs` from a random
   * phase, or as soon as the last is answered if that took longer. Sealing happens before the
   * clock starts: the latency is the relay's.
   */
  async run (peers: string[], bytes: number, warmupMs: number, durationMs: number, intervalMs: number, options: AbortOptions): Promise<LoadRunResult> {
    const relay = this.relay
    if (relay == null) throw new Error('clients not started')
    this.result = LoadClients.emptyResult()
    const others = peers.map(id => peerKeys(peerIdFromString(id))).filter((k): k is PeerKeys => k != null)
    if (others.length < 2) throw new Error('the load case needs at least two clients')
    const text = randomText(bytes)
    const begin = performance.now()
    const measureFrom = begin + warmupMs
    const end = measureFrom + durationMs
    const measureTimer = setTimeout(() => { this.measuring = true }, warmupMs)
    this.running = true
    try {
      await race(Promise.all(this.clients.map(async client => {
        const own = client.libp2p.peerId.toString()
        let due = begin + Math.random() * intervalMs
        while (performance.now() < end && options.signal?.aborted !== true) {
          if (intervalMs > 0) {
            const wait = due - performance.now()
            if (wait > 0) await new Promise(resolve => setTimeout(resolve, wait))
            due = Math.max(due + intervalMs, performance.now())
            if (performance.now() >= end) break
          }
          let to = others[Math.floor(Math.random() * others.length)]
          if (to.peerId.toString() === own) to = others[(others.indexOf(to) + 1) % others.length]
          const body = Body.encode({ kind: BODY_KIND.TEXT, timestamp: BigInt(Date.now()), text, refs: [], relays: [], addrs: [], channel: new Uint8Array(0) })
          const envelope = Envelope.encode(seal(client.keys, to, randomBytes(MESSAGE_ID_LENGTH), body))
          this.result.envelopeBytes = envelope.byteLength
          const t0 = performance.now()
          try {
            const [outcome] = await client.libp2p.services.mailbox.deposit(relay, [envelope], options)
            const t1 = performance.now()
            // The rate counts answers inside the window; latency, requests begun inside it.
            if (t0 >= measureFrom) this.result.latencies.push(t1 - t0)
            if (t1 >= measureFrom && t1 <= end) {
              if (outcome.refused == null) this.result.stored++
              else this.result.refused[outcome.refused] = (this.result.refused[outcome.refused] ?? 0) + 1
            }
          } catch (err) {
            this.error(err)
            await new Promise(resolve => setTimeout(resolve, ERROR_PAUSE_MS))
          }
        }
      })), options.signal)
    } finally {
      clearTimeout(measureTimer)
      this.measuring = false
      this.running = false
    }
    // Drains in flight finish (each request has its own deadline) before the counts go back.
    await race(Promise.allSettled(this.clients.map(async c => c.draining)), options.signal)
    this.result.connectedAtEnd = this.clients.filter(c => c.libp2p.getConnections(relay).length > 0).length
    return this.result
  }

  async stop (): Promise<void> {
    this.running = false
    const clients = this.clients.splice(0)
    await Promise.allSettled(clients.map(async c => c.libp2p?.stop()))
  }
}
