/**
 * What the channel case's two implementations share: six nodes in one process, one author, five
 * receivers, and a tally of who got which message when. channel-raw.ts runs it over bare
 * gossipsub, channel-pigeon.ts over pigeon's channels; both are driven and timed the same way.
 *
 * Every payload names its run and its index. A run is one burst, or one message of the latency
 * series; a delivery for another run, or a second one of the same message to the same receiver,
 * is counted as unexpected and fails the case: the numbers would not be what they claim.
 */
import { race } from './deadline.js'
import { quiet } from './quiet.js'
import type { AbortOptions } from '@libp2p/interface'

/** Per-node figures that say what the topology turned out to be, reported beside the results. */
export interface MeshShape {
  /** Connections each node holds to the other members, author first. */
  connections: number[]
  /** Peers in each node's gossipsub mesh for the topic, author first. */
  mesh: number[]
}

export interface BurstResult {
  /** From the first publish to the moment the last receiver had the last message. */
  ms: number
  /** From the first publish to the moment the last publish (or post) call resolved. */
  acceptMs: number
  /** Messages × receivers. */
  deliveries: number
  /**
   * CPU time (user and system, all threads) the group's process spent over `ms`. Other load on
   * the machine stretches `ms` but hardly this, so it compares the two kinds on a noisy machine.
   */
  cpuMs: number
  /**
   * From the first publish until the process went quiet (quiet.ts): the duplicates every
   * receiver forwards and checks included. What a steady stream of posts would have to sustain.
   */
  settledMs: number
  /** CPU time over `settledMs`. */
  settledCpuMs: number
}

export interface ChannelGroup {
  /** Receivers: members other than the author. */
  readonly receivers: number
  /**
   * Publishes `count` messages of `bytes` bytes from the author, keeping at most `concurrency`
   * publish calls in flight, and resolves when every receiver has every one.
   */
  burst(count: number, bytes: number, concurrency: number, options: AbortOptions): Promise<BurstResult>
  /** Publishes `count` messages one at a time, each once every receiver has the previous one; publish-to-receive ms per message per receiver. */
  latency(count: number, bytes: number, options: AbortOptions): Promise<number[]>
  shape(): MeshShape
  /** Deliveries the tally did not expect; anything but 0 means the figures are wrong. */
  unexpected(): number
  stop(): Promise<void>
}

interface Run {
  id: number
  sentAt: Float64Array
  /** Per message: a bit per receiver that has it. */
  got: Uint32Array
  remaining: number
  samples: number[] | undefined
  done: PromiseWithResolvers<number>
}

/** The clock and the tally: one run at a time. */
export class Deliveries {
  private readonly receivers: number
  private nextRun = 1
  private current: Run | undefined
  private strays = 0

  constructor (receivers: number) {
    if (receivers > 32) throw new RangeError('at most 32 receivers')
    this.receivers = receivers
  }

  /** Starts a run of `count` messages; `samples` collects each delivery's latency when given. */
  begin (count: number, samples?: number[]): number {
    const done = Promise.withResolvers<number>()
    // A run nobody awaits must not surface as an unhandled rejection.
    done.promise.catch(() => {})
    this.current = { id: this.nextRun++, sentAt: new Float64Array(count), got: new Uint32Array(count), remaining: count * this.receivers, samples, done }
    return this.current.id
  }

  /** Stamps message `index` of the current run as published now. */
  sent (index: number): void {
    if (this.current != null) this.current.sentAt[index] = performance.now()
  }

  /** Receiver `receiver` (0-based) got message `index` of run `run`. */
  arrived (receiver: number, run: number, index: number): void {
    const now = performance.now()
    const r = this.current
    if (r == null || r.id !== run || index < 0 || index >= r.got.length || receiver < 0 || receiver >= this.receivers) {
      this.strays++
      return
    }
    const bit = 1 << receiver
    if ((r.got[index] & bit) !== 0) {
      this.strays++
      return
    }
    r.got[index] |= bit
    r.samples?.push(now - r.sentAt[index])
    if (--r.remaining === 0) r.done.resolve(now)
  }

  /** Resolves with the time (performance.now) the current run's last delivery arrived. */
  async complete (options: AbortOptions): Promise<number> {
    if (this.current == null) throw new Error('no run started')
    return await race(this.current.done.promise, options.signal)
  }

  unexpected (): number {
    return this.strays
  }
}

/** Runs `task(0 .. count-1)` with at most `limit` of them in flight, started in index order. */
export async function inFlight (count: number, limit: number, task: (index: number) => Promise<unknown>): Promise<void> {
  let next = 0
  const lanes = Array.from({ length: Math.min(limit, count) }, async () => {
    while (next < count) await task(next++)
  })
  await Promise.all(lanes)
}

/** The part that differs between raw gossipsub and pigeon; its receivers report to the tally. */
export interface GroupAdapter<P> {
  readonly receivers: number
  /** Message `index` of run `run`, `bytes` long; built before the clock starts. */
  payload(run: number, index: number, bytes: number): P
  /** Hands one message to the author's API; resolves when that API says it took it. */
  publish(payload: P): Promise<unknown>
  shape(): MeshShape
  stop(): Promise<void>
}

/** Times an adapter the same way whatever it publishes through. */
export function channelGroup<P> (tally: Deliveries, adapter: GroupAdapter<P>): ChannelGroup {
  /** A group that lost a connection since setup no longer has the topology the figures claim. */
  const intact = (): void => {
    const { connections } = adapter.shape()
    if (connections.some(c => c !== adapter.receivers)) throw new Error(`the group lost connections: each member should hold ${adapter.receivers}, they hold ${JSON.stringify(connections)}`)
  }
  return {
    receivers: adapter.receivers,
    async burst (count, bytes, concurrency, options) {
      intact()
      const run = tally.begin(count)
      const payloads = Array.from({ length: count }, (_, i) => adapter.payload(run, i, bytes))
      const cpu = process.cpuUsage()
      const start = performance.now()
      await race(inFlight(count, concurrency, async (i) => {
        tally.sent(i)
        await adapter.publish(payloads[i])
      }), options.signal)
      const acceptMs = performance.now() - start
      const last = await tally.complete(options)
      const used = process.cpuUsage(cpu)
      const settled = await quiet(options)
      const settledUsed = process.cpuUsage(cpu)
      const tailUsed = process.cpuUsage(settled.cpu)
      return {
        ms: last - start,
        acceptMs,
        deliveries: count * adapter.receivers,
        cpuMs: (used.user + used.system) / 1000,
        // Never before the last delivery: quiet windows are coarse.
        settledMs: Math.max(settled.since, last) - start,
        settledCpuMs: (settledUsed.user + settledUsed.system - tailUsed.user - tailUsed.system) / 1000
      }
    },
    async latency (count, bytes, options) {
      intact()
      const samples: number[] = []
      for (let i = 0; i < count; i++) {
        const run = tally.begin(1, samples)
        const payload = adapter.payload(run, 0, bytes)
        tally.sent(0)
        await race(adapter.publish(payload), options.signal)
        await tally.complete(options)
      }
      return samples
    },
    shape: () => adapter.shape(),
    unexpected: () => tally.unexpected(),
    stop: async () => { await adapter.stop() }
  }
}
