/**
 * `npm run bench`: pigeon against baselines that do the least the same job can take. One JSON
 * object per line on stdout; progress on stderr.
 *
 * dm cases: direct messages against a bare libp2p stream doing the least an acknowledged
 * messenger can do. Each side runs in its own process (topology "two-processes"). Raw and pigeon
 * alternate round by round, so a neighbour loading the machine skews both rather than one of
 * them. Throughput is the median over rounds of one burst each; latency pools the rounds' samples.
 *
 * mailbox case (mailbox-case.ts): mail left at a relay for an offline peer, deposited and then
 * drained, against raw `level` and the same bare stream.
 *
 * channel case (channel-case.ts): one author posting to a channel of six members, against raw
 * `@libp2p/gossipsub` between six plain nodes in the same topology; rounds alternate as above.
 *
 * load case (load-case.ts): one relay with BENCH_LOAD_CLIENTS peers connected at once from
 * BENCH_LOAD_PROCESSES client processes, each depositing sealed envelopes for the others and
 * fetching its own; deposits per second, p50/p99 deposit latency, the relay's memory per
 * connected peer and whether it stayed ready, beside a plain libp2p node's memory per peer.
 *
 * dht case (dht-case.ts): a DHT of BENCH_DHT_NODES pigeon nodes in one process; card lookups
 * by peer id and the first message between strangers, against a bare dial and round trip.
 *
 * session case (session-case.ts): the per-message cryptography of scheme 1 and of scheme 2
 * (sessions), and the cost of a first contact (PQXDH), against one AES-256-GCM seal and open.
 *
 * Env: BENCH_CASES (dm,mailbox,channel,load,dht,session), BENCH_SESSION_COUNT (5000),
 * BENCH_SESSION_TURN (10), BENCH_DHT_NODES (50), BENCH_DHT_SERVERS (20),
 * BENCH_DHT_LOOKUPS (100), BENCH_DHT_STRANGERS (10), BENCH_DM_COUNT (2000), BENCH_LATENCY_COUNT (300),
 * BENCH_WARMUP (50), BENCH_ROUNDS (3), BENCH_MAILBOX_COUNT (20000),
 * BENCH_MAILBOX_RETRY_MS (pigeon's own retry policy; a whole number of ms fixes alice's
 * retryMin and retryMax to it), BENCH_CHANNEL_COUNT (2000), BENCH_CHANNEL_LATENCY_COUNT (300),
 * BENCH_CHANNEL_CONCURRENCY (64 posts in flight during a burst), BENCH_LOAD_CLIENTS (500 client
 * peers), BENCH_LOAD_PROCESSES (4 client processes), BENCH_LOAD_SECONDS (20 measured seconds,
 * after 2 s of warm-up), BENCH_LOAD_DURABILITY (the load relay's: fsync, pigeon's default, or os),
 * BENCH_LOAD_INTERVAL_MS (0: each client deposits again as soon as answered, which measures the
 * relay's capacity; N: each client deposits every N ms, e.g. 10000 for 50 a second from 500).
 */
import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { withPairs } from './pair.js'
import { emit, envCount, progress } from './output.js'
import { mailboxCases } from './mailbox-case.js'
import { channelCases } from './channel-case.js'
import { loadCase } from './load-case.js'
import { dhtCase } from './dht-case.js'
import { sessionCase } from './session-case.js'
import { median, round, summarize } from './stats.js'
import type { Durability } from '../src/index.js'

const MESSAGE_BYTES = 256
const TOPOLOGY = 'two-processes'
const DURABILITIES: Durability[] = ['fsync', 'os']
/** Goals: pigeon keeps half the raw throughput, and a round trip costs at most 3x the raw one. */
const THROUGHPUT_TARGET = 0.5
const LATENCY_TARGET = 3
/** Deadline for one burst or one round of round trips: generous next to seconds, short next to "hung". */
const RUN_TIMEOUT_MS = 90_000
/**
 * If something still holds the loop open after all cases, do not hang the terminal: name what is
 * open and fail (exit code 1). A bench that ends cleanly exits on its own before this.
 */
const EXIT_GRACE_MS = 10_000

interface Settings { count: number, warmup: number, rounds: number, root: string }

async function throughput (durability: Durability, s: Settings): Promise<void> {
  const perSecond = { raw: [] as number[], pigeon: [] as number[] }
  await withPairs(durability, s.root, async (raw, pigeon) => {
    for (const pair of [raw, pigeon]) await pair.burst(s.warmup, MESSAGE_BYTES, RUN_TIMEOUT_MS)
    for (let r = 1; r <= s.rounds; r++) {
      for (const pair of [raw, pigeon]) {
        const ms = await pair.burst(s.count, MESSAGE_BYTES, RUN_TIMEOUT_MS)
        perSecond[pair.kind].push(s.count / (ms / 1000))
        progress('throughput %s round %d/%d %s: %d messages in %d ms', durability, r, s.rounds, pair.kind, s.count, Math.round(ms))
      }
    }
  })
  const pigeonRate = median(perSecond.pigeon)
  const rawRate = median(perSecond.raw)
  emit({
    bench: 'dm-throughput',
    durability,
    topology: TOPOLOGY,
    count: s.count,
    warmup: s.warmup,
    rounds: s.rounds,
    message_bytes: MESSAGE_BYTES,
    pigeon_msgs_per_s: round(pigeonRate, 1),
    raw_msgs_per_s: round(rawRate, 1),
    ratio: round(pigeonRate / rawRate),
    target_ratio: THROUGHPUT_TARGET,
    meets_target: pigeonRate / rawRate >= THROUGHPUT_TARGET,
    pigeon_rounds: perSecond.pigeon.map(v => round(v, 1)),
    raw_rounds: perSecond.raw.map(v => round(v, 1))
  })
}

async function latency (durability: Durability, s: Settings): Promise<void> {
  const samples = { raw: [] as number[], pigeon: [] as number[] }
  await withPairs(durability, s.root, async (raw, pigeon) => {
    for (const pair of [raw, pigeon]) await pair.pingPong(s.warmup, MESSAGE_BYTES, RUN_TIMEOUT_MS)
    for (let r = 0; r < s.rounds; r++) {
      // Split the count over the rounds; the first rounds take the remainder.
      const n = Math.floor(s.count / s.rounds) + (r < s.count % s.rounds ? 1 : 0)
      if (n === 0) continue
      for (const pair of [raw, pigeon]) samples[pair.kind].push(...await pair.pingPong(n, MESSAGE_BYTES, RUN_TIMEOUT_MS))
    }
  })
  const p = summarize(samples.pigeon)
  const r = summarize(samples.raw)
  progress('latency %s: pigeon p50 %s p99 %s ms, raw p50 %s p99 %s ms', durability, round(p.p50), round(p.p99), round(r.p50), round(r.p99))
  emit({
    bench: 'dm-latency',
    durability,
    topology: TOPOLOGY,
    count: s.count,
    warmup: s.warmup,
    rounds: s.rounds,
    message_bytes: MESSAGE_BYTES,
    pigeon_p50_ms: round(p.p50),
    pigeon_p99_ms: round(p.p99),
    raw_p50_ms: round(r.p50),
    raw_p99_ms: round(r.p99),
    ratio: round(p.p50 / r.p50),
    target_ratio: LATENCY_TARGET,
    meets_target: p.p50 / r.p50 <= LATENCY_TARGET
  })
}

const CASES = ['dm', 'mailbox', 'channel', 'load', 'dht', 'session']

/** BENCH_CASES: a comma-separated subset of CASES; all of them by default. */
function benchCases (): Set<string> {
  const raw = process.env.BENCH_CASES
  if (raw == null || raw === '') return new Set(CASES)
  const picked = raw.split(',').map(c => c.trim()).filter(c => c !== '')
  const unknown = picked.filter(c => !CASES.includes(c))
  if (unknown.length > 0 || picked.length === 0) throw new RangeError(`BENCH_CASES takes a comma-separated list of ${CASES.join(', ')}; got "${raw}"`)
  return new Set(picked)
}

/** BENCH_LOAD_DURABILITY: the load case relay's durability; fsync (pigeon's default) when unset. */
function loadDurability (): Durability {
  const raw = process.env.BENCH_LOAD_DURABILITY
  if (raw == null || raw === '') return 'fsync'
  if (!(DURABILITIES as string[]).includes(raw)) throw new RangeError(`BENCH_LOAD_DURABILITY takes ${DURABILITIES.join(' or ')}, got "${raw}"`)
  return raw as Durability
}

/** BENCH_MAILBOX_RETRY_MS: alice's retry delay in the mailbox case, ms; pigeon's own policy when unset or "default". */
function mailboxRetry (): number | 'default' {
  const raw = process.env.BENCH_MAILBOX_RETRY_MS
  if (raw == null || raw === '' || raw === 'default') return 'default'
  const n = Number(raw)
  if (!Number.isInteger(n) || n < 0) throw new RangeError(`BENCH_MAILBOX_RETRY_MS must be a whole number of ms or "default", got "${raw}"`)
  return n
}

async function main (): Promise<void> {
  const dmCount = envCount('BENCH_DM_COUNT', 2000)
  const latencyCount = envCount('BENCH_LATENCY_COUNT', 300)
  const warmup = envCount('BENCH_WARMUP', 50)
  const rounds = envCount('BENCH_ROUNDS', 3)
  const mailboxCount = envCount('BENCH_MAILBOX_COUNT', 20_000)
  const retryMs = mailboxRetry()
  const channelCount = envCount('BENCH_CHANNEL_COUNT', 2000)
  const channelLatencyCount = envCount('BENCH_CHANNEL_LATENCY_COUNT', 300)
  const channelConcurrency = envCount('BENCH_CHANNEL_CONCURRENCY', 64)
  const loadClients = envCount('BENCH_LOAD_CLIENTS', 500)
  const loadProcesses = envCount('BENCH_LOAD_PROCESSES', 4)
  const loadSeconds = envCount('BENCH_LOAD_SECONDS', 20)
  const loadDurabilityValue = loadDurability()
  const loadInterval = process.env.BENCH_LOAD_INTERVAL_MS === '0' ? 0 : envCount('BENCH_LOAD_INTERVAL_MS', 0)
  const cases = benchCases()
  const root = await mkdtemp(join(tmpdir(), 'pigeon-bench-'))
  const started = performance.now()
  progress('cases %s, data under %s', [...cases].join(','), root)
  try {
    if (cases.has('dm')) {
      progress('dm: topology %s, %d rounds', TOPOLOGY, rounds)
      for (const durability of DURABILITIES) await throughput(durability, { count: dmCount, warmup, rounds, root })
      for (const durability of DURABILITIES) await latency(durability, { count: latencyCount, warmup, rounds, root })
    }
    if (cases.has('mailbox')) {
      await mailboxCases({ count: mailboxCount, bytes: MESSAGE_BYTES, root, durabilities: DURABILITIES, retryMs })
    }
    if (cases.has('channel')) {
      await channelCases({
        count: channelCount,
        latencyCount: channelLatencyCount,
        warmup,
        rounds,
        concurrency: channelConcurrency,
        bytes: MESSAGE_BYTES,
        root,
        durabilities: DURABILITIES
      })
    }
    if (cases.has('load')) {
      await loadCase({ clients: loadClients, processes: loadProcesses, seconds: loadSeconds, bytes: MESSAGE_BYTES, root, durability: loadDurabilityValue, intervalMs: loadInterval })
    }
    if (cases.has('dht')) await dhtCase()
    if (cases.has('session')) await sessionCase()
  } finally {
    await rm(root, { recursive: true, force: true })
    progress('done in %d s', Math.round((performance.now() - started) / 1000))
  }
}

main().catch((err: any) => {
  progress('failed: %s', err?.stack ?? err)
  process.exitCode = 1
}).finally(() => {
  setTimeout(() => {
    progress('still running %d ms after the last case; open: %s; exiting with code 1', EXIT_GRACE_MS, process.getActiveResourcesInfo().join(', '))
    process.exit(1)
  }, EXIT_GRACE_MS).unref()
})
