/**
 * The channel case: one author posts 256-byte messages to a channel of six members; the other
 * five receive them. Beside it, in the same run, raw `@libp2p/gossipsub` (default options) carries
 * the same messages between six plain libp2p nodes in the same topology (channel-raw.ts).
 *
 * Topology "one-process-per-kind": the six raw nodes live in one worker process and the six
 * pigeon nodes in another, every pair of members connected directly over TCP on 127.0.0.1, no
 * relay in either, every gossipsub mesh holding the five other members. One process per group
 * keeps publish and receive on one clock; the two groups stay apart, so a pigeon node's store
 * does not slow the raw nodes down or the other way round. Both stay up through the case and
 * their rounds alternate, as in the dm cases. Before each timed round both workers wait until
 * their event loops are nearly idle (quiet.ts): the duplicates a burst leaves in flight are
 * processed for seconds after its last delivery, and must not land in the other kind's round.
 *
 *   throughput: a burst of `count` messages, at most `concurrency` publish calls in flight (a
 *     pigeon post resolves once it is durable; a raw publish once gossipsub has sent it);
 *     deliveries per second = count × 5 / (first publish to the last receiver's last message).
 *     Median over rounds. Goal: pigeon at least 0.8 of raw. Reported beside it, not judged: the
 *     same rate up to the moment the group's process went quiet again ("settled"), and the CPU
 *     per delivery. On one core, a raw author that publishes the whole burst at once gets every
 *     first copy out before the receivers have checked and dropped most duplicates; pigeon's
 *     author, held to the pace of durable posts, pays for each post's duplicates as it goes.
 *   latency: `latencyCount` messages one at a time, each once all five receivers have the one
 *     before; publish-to-receive per message per receiver, pooled over rounds. Goal: pigeon's
 *     p99 at most 1.25 times raw's.
 */
import { WorkerProcess, type Kind } from './ipc.js'
import { emit, progress } from './output.js'
import { median, round, summarize } from './stats.js'
import type { Durability } from '../src/index.js'
import type { BurstResult, MeshShape } from './channel-group.js'

const MEMBERS = 6
const TOPOLOGY = 'one-process-per-kind'
const CONNECTIONS = 'every pair of members directly, tcp on 127.0.0.1, no relay'
/** Goals from the issue: 0.8 of raw deliveries per second, p99 within 1.25 times raw's. */
const THROUGHPUT_TARGET = 0.8
const LATENCY_TARGET = 1.25
/** Six nodes, five sequential joins, meshes formed on gossipsub heartbeats (1 s): seconds when healthy. */
const SETUP_TIMEOUT_MS = 60_000
/** One burst, or one round of one-at-a-time messages: tens of seconds with fsync on a small machine. */
const RUN_TIMEOUT_MS = 180_000
/** The duplicate tail of a 2000-message raw burst takes about ten seconds on two cores. */
const QUIET_TIMEOUT_MS = 60_000

export interface ChannelSettings {
  count: number
  latencyCount: number
  warmup: number
  rounds: number
  concurrency: number
  bytes: number
  root: string
  durabilities: Durability[]
}

class Group {
  readonly kind: Kind
  readonly worker: WorkerProcess

  constructor (kind: Kind) {
    this.kind = kind
    this.worker = new WorkerProcess(`channel-${kind}`)
  }

  async start (durability: Durability, root: string): Promise<void> {
    const { shape, setupMs } = await this.worker.call({ op: 'channelGroup', kind: this.kind, members: MEMBERS, durability, root, timeoutMs: SETUP_TIMEOUT_MS }, SETUP_TIMEOUT_MS)
    progress('channel %s %s: %d members up in %d ms, connections %j, mesh %j', durability, this.kind, MEMBERS, Math.round(setupMs), shape.connections, shape.mesh)
  }

  /** Deliveries per second of one burst. */
  async burst (count: number, s: ChannelSettings): Promise<BurstResult & { perSecond: number, settledPerSecond: number }> {
    const r = await this.worker.call({ op: 'channelBurst', count, bytes: s.bytes, concurrency: s.concurrency, timeoutMs: RUN_TIMEOUT_MS }, RUN_TIMEOUT_MS + QUIET_TIMEOUT_MS)
    return { ...r, perSecond: r.deliveries / (r.ms / 1000), settledPerSecond: r.deliveries / (r.settledMs / 1000) }
  }

  /** Until the worker's event loop is nearly idle: the last round's gossip has died down. */
  async quiet (): Promise<number> {
    const { ms } = await this.worker.call({ op: 'quiet', timeoutMs: QUIET_TIMEOUT_MS }, QUIET_TIMEOUT_MS)
    return ms
  }

  async latency (count: number, s: ChannelSettings): Promise<number[]> {
    const { samples } = await this.worker.call({ op: 'channelLatency', count, bytes: s.bytes, timeoutMs: RUN_TIMEOUT_MS }, RUN_TIMEOUT_MS)
    return samples
  }

  /** The final shape; fails if any receiver got a message twice or one it was not sent. */
  async check (): Promise<MeshShape> {
    const { shape, unexpected } = await this.worker.call({ op: 'channelShape' })
    if (unexpected !== 0) throw new Error(`${this.kind} channel receivers saw ${unexpected} unexpected deliveries: the figures would be wrong`)
    return shape
  }
}

async function withGroups<T> (durability: Durability, root: string, body: (raw: Group, pigeon: Group) => Promise<T>): Promise<T> {
  const groups = [new Group('raw'), new Group('pigeon')]
  try {
    for (const g of groups) await g.start(durability, root)
    return await body(groups[0], groups[1])
  } finally {
    await Promise.allSettled(groups.map(async g => g.worker.close()))
  }
}

/** Both groups quiet, so that a round runs on a machine the other kind is not still loading. */
async function settle (groups: Group[]): Promise<void> {
  const waits = await Promise.all(groups.map(async g => await g.quiet()))
  const slow = groups.map((g, i) => `${g.kind} ${Math.round(waits[i])} ms`)
  if (waits.some(ms => ms > 1000)) progress('channel: waited for quiet: %s', slow.join(', '))
}

async function channelCase (durability: Durability, s: ChannelSettings): Promise<void> {
  const perSecond = { raw: [] as number[], pigeon: [] as number[] }
  const settledPerSecond = { raw: [] as number[], pigeon: [] as number[] }
  const acceptPerSecond = { raw: [] as number[], pigeon: [] as number[] }
  /** CPU ms per 1000 deliveries, each round: to the last delivery, and until the process was quiet. */
  const cpu = { raw: [] as number[], pigeon: [] as number[] }
  const settledCpu = { raw: [] as number[], pigeon: [] as number[] }
  const samples = { raw: [] as number[], pigeon: [] as number[] }
  const shapes: Partial<Record<Kind, MeshShape>> = {}
  await withGroups(durability, s.root, async (raw, pigeon) => {
    for (const g of [raw, pigeon]) await g.burst(s.warmup, s)
    for (let r = 1; r <= s.rounds; r++) {
      for (const g of [raw, pigeon]) {
        await settle([raw, pigeon])
        const b = await g.burst(s.count, s)
        perSecond[g.kind].push(b.perSecond)
        settledPerSecond[g.kind].push(b.settledPerSecond)
        acceptPerSecond[g.kind].push(s.count / (b.acceptMs / 1000))
        cpu[g.kind].push(b.cpuMs / (b.deliveries / 1000))
        settledCpu[g.kind].push(b.settledCpuMs / (b.deliveries / 1000))
        progress('channel %s throughput round %d/%d %s: %d messages to %d receivers in %d ms (all published after %d ms, quiet after %d ms), %d deliveries/s, CPU %d ms (%d ms until quiet)',
          durability, r, s.rounds, g.kind, s.count, MEMBERS - 1, Math.round(b.ms), Math.round(b.acceptMs), Math.round(b.settledMs), Math.round(b.perSecond), Math.round(b.cpuMs), Math.round(b.settledCpuMs))
      }
    }
    for (let r = 0; r < s.rounds; r++) {
      // Split the count over the rounds; the first rounds take the remainder.
      const n = Math.floor(s.latencyCount / s.rounds) + (r < s.latencyCount % s.rounds ? 1 : 0)
      if (n === 0) continue
      for (const g of [raw, pigeon]) {
        await settle([raw, pigeon])
        samples[g.kind].push(...await g.latency(n, s))
      }
    }
    for (const g of [raw, pigeon]) shapes[g.kind] = await g.check()
  })

  const common = {
    durability,
    members: MEMBERS,
    receivers: MEMBERS - 1,
    topology: TOPOLOGY,
    connections: CONNECTIONS,
    raw_gossipsub: 'default options (signed messages, flood publish); libp2p connection monitor set not to abort on a late ping',
    message_bytes: s.bytes,
    warmup: s.warmup,
    rounds: s.rounds,
    pigeon_mesh: shapes.pigeon?.mesh,
    raw_mesh: shapes.raw?.mesh
  }
  const pigeonRate = median(perSecond.pigeon)
  const rawRate = median(perSecond.raw)
  emit({
    bench: 'channel-throughput',
    ...common,
    count: s.count,
    concurrency: s.concurrency,
    pigeon_deliveries_per_s: round(pigeonRate, 1),
    raw_deliveries_per_s: round(rawRate, 1),
    ratio: round(pigeonRate / rawRate),
    target_ratio: THROUGHPUT_TARGET,
    meets_target: pigeonRate / rawRate >= THROUGHPUT_TARGET,
    pigeon_rounds: perSecond.pigeon.map(v => round(v, 1)),
    raw_rounds: perSecond.raw.map(v => round(v, 1)),
    // Until each group's process went quiet again, its duplicate tail included (quiet.ts).
    pigeon_settled_deliveries_per_s: round(median(settledPerSecond.pigeon), 1),
    raw_settled_deliveries_per_s: round(median(settledPerSecond.raw), 1),
    settled_ratio: round(median(settledPerSecond.pigeon) / median(settledPerSecond.raw)),
    pigeon_published_per_s: round(median(acceptPerSecond.pigeon), 1),
    raw_published_per_s: round(median(acceptPerSecond.raw), 1),
    // CPU (all threads) of the group's process per 1000 deliveries: to the last delivery, and until quiet.
    pigeon_cpu_ms_per_1000: round(median(cpu.pigeon), 1),
    raw_cpu_ms_per_1000: round(median(cpu.raw), 1),
    pigeon_settled_cpu_ms_per_1000: round(median(settledCpu.pigeon), 1),
    raw_settled_cpu_ms_per_1000: round(median(settledCpu.raw), 1)
  })

  const p = summarize(samples.pigeon)
  const r = summarize(samples.raw)
  progress('channel %s latency: pigeon p50 %s p99 %s ms, raw p50 %s p99 %s ms', durability, round(p.p50), round(p.p99), round(r.p50), round(r.p99))
  emit({
    bench: 'channel-latency',
    ...common,
    count: s.latencyCount,
    samples: p.count,
    pigeon_p50_ms: round(p.p50),
    pigeon_p99_ms: round(p.p99),
    raw_p50_ms: round(r.p50),
    raw_p99_ms: round(r.p99),
    ratio: round(p.p99 / r.p99),
    p50_ratio: round(p.p50 / r.p50),
    target_ratio: LATENCY_TARGET,
    meets_target: p.p99 / r.p99 <= LATENCY_TARGET
  })
}

/** Every durability in turn, each with fresh groups of both kinds. */
export async function channelCases (s: ChannelSettings): Promise<void> {
  progress('channel: %d members, one author, %d messages of %d bytes per burst (%d in flight), %d one at a time, topology %s (%s)',
    MEMBERS, s.count, s.bytes, s.concurrency, s.latencyCount, TOPOLOGY, CONNECTIONS)
  for (const durability of s.durabilities) await channelCase(durability, s)
}
