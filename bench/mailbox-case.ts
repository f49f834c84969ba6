/**
 * The mailbox case: alice leaves `count` 256-byte messages for offline bob at bob's home relay
 * (deposit), then bob comes back and empties his mailbox (drain) while his delivery receipts
 * flow back to alice (delivered). Relay, alice and bob are three worker processes, each with its
 * own LevelDB (topology "three-processes").
 *
 * Baselines measured in the same run, each in a fresh worker process of its own:
 *   - raw `level`: batched puts of `count` 256-byte values, then one iterator scan of them all;
 *   - the raw libp2p stream of the dm cases (raw.ts): `count` 256-byte messages over one stream,
 *     each acknowledged; warmed up, median of RAW_ROUNDS bursts.
 * The drain's goal is half the raw stream's rate: fetching from a relay should not cost much
 * more than being sent the messages directly.
 *
 * One setting differs from a default node, because with the defaults the case cannot finish:
 * the relay's limits are raised to hold `count` envelopes for one recipient (default quota
 * 10,000) and take them within a minute (default 6,000 per depositor per minute). Every result
 * line records the limits used (relay_limits) beside the defaults (relay_default_limits).
 *
 * Alice runs pigeon's own retry policy (1 s doubling to 5 min): while bob is unreachable and his
 * relay takes whole batches, her outbox sends the backlog straight to the relay instead of
 * pacing it by that backoff. BENCH_MAILBOX_RETRY_MS=<ms> fixes her retryMin and retryMax to
 * <ms> instead, e.g. 0 to compare with no backoff at all. Every result line records the policy
 * (sender_retry_ms: "default" or the override; sender_retry_min_ms and sender_retry_max_ms).
 */
import { WorkerProcess } from './ipc.js'
import { Pair } from './pair.js'
import { emit, progress } from './output.js'
import { median, round } from './stats.js'
import { DEFAULT_DEPOSIT_RATE_PER_MINUTE, DEFAULT_QUOTA_MESSAGES, MAX_MAILBOX_BATCH } from '../src/mailbox/constants.js'
import { RETRY_MAX_MS, RETRY_MIN_MS } from '../src/constants.js'
import type { Durability, RelayLimits } from '../src/index.js'
import type { RelayCounts, RetryPolicy } from './mailbox.js'

const TOPOLOGY = 'three-processes'
/** Goal: bob drains his mailbox at half the rate or more of the raw stream. */
const DRAIN_TARGET = 0.5
/** Puts per raw level batch: the largest deposit a relay accepts in one request. */
const LEVEL_BATCH = MAX_MAILBOX_BATCH
/** The raw stream is warmed up (JIT, stream window) and measured as the median of rounds, as in the dm cases. */
const RAW_WARMUP = 2000
const RAW_ROUNDS = 3
/** Starting a node, adding a contact or relay, stopping: seconds when healthy. */
const SETUP_TIMEOUT_MS = 20_000
/** Deadlines for each timed phase: 20,000 messages take tens of seconds on a small machine. */
const DEPOSIT_TIMEOUT_MS = 150_000
const DRAIN_TIMEOUT_MS = 150_000
/** After bob holds everything, the receipts still in flight to alice. */
const DELIVERED_TIMEOUT_MS = 60_000
/** After the drain, the relay's last delete may still be on its way. */
const EMPTY_TIMEOUT_MS = 15_000
const RAW_TIMEOUT_MS = 90_000

export interface MailboxSettings {
  count: number
  bytes: number
  root: string
  durabilities: Durability[]
  /** Milliseconds for alice's retryMin and retryMax, or 'default' for pigeon's own policy. */
  retryMs: number | 'default'
}

interface Baselines {
  levelPutsPerS: number
  levelScanPerS: number
  /** Median over streamRounds. */
  streamMsgsPerS: number
  streamRounds: number[]
}

const perSecond = (count: number, ms: number): number => count / (ms / 1000)

/** Starts workers under `labels`, runs `body`, and closes them all whatever happens. */
async function withWorkers<T> (labels: string[], body: (workers: WorkerProcess[]) => Promise<T>): Promise<T> {
  const workers = labels.map(l => new WorkerProcess(l))
  try {
    return await body(workers)
  } finally {
    await Promise.allSettled(workers.map(async w => w.close()))
  }
}

async function baselines (durability: Durability, s: MailboxSettings): Promise<Baselines> {
  const level = await withWorkers(['level-baseline'], async ([worker]) => {
    return await worker.call({ op: 'levelBaseline', root: s.root, durability, count: s.count, bytes: s.bytes, batch: LEVEL_BATCH, timeoutMs: RAW_TIMEOUT_MS }, RAW_TIMEOUT_MS)
  })
  progress('mailbox %s raw level: %d puts in %d ms (batches of %d), scan in %d ms', durability, s.count, Math.round(level.putMs), LEVEL_BATCH, Math.round(level.scanMs))
  // A fresh pair each time: the raw receiver closes a stream left idle through a pigeon case.
  const raw = await Pair.start('raw', durability, s.root)
  const streamRounds: number[] = []
  try {
    await raw.burst(RAW_WARMUP, s.bytes, RAW_TIMEOUT_MS)
    for (let r = 1; r <= RAW_ROUNDS; r++) {
      const ms = await raw.burst(s.count, s.bytes, RAW_TIMEOUT_MS)
      streamRounds.push(perSecond(s.count, ms))
      progress('mailbox %s raw stream round %d/%d: %d messages in %d ms', durability, r, RAW_ROUNDS, s.count, Math.round(ms))
    }
    await raw.check()
  } finally {
    await raw.close()
  }
  return {
    levelPutsPerS: perSecond(s.count, level.putMs),
    levelScanPerS: perSecond(s.count, level.scanMs),
    streamMsgsPerS: median(streamRounds),
    streamRounds
  }
}

async function waitForEmptyRelay (relay: WorkerProcess): Promise<RelayCounts> {
  const deadline = Date.now() + EMPTY_TIMEOUT_MS
  while (true) {
    const counts = await relay.call({ op: 'relayCounts' })
    if (counts.messages === 0) return counts
    if (Date.now() > deadline) throw new Error(`the relay still holds ${counts.messages} envelope(s) ${EMPTY_TIMEOUT_MS} ms after bob drained it`)
    await new Promise(resolve => setTimeout(resolve, 100))
  }
}

async function pigeonCase (durability: Durability, s: MailboxSettings, base: Baselines): Promise<void> {
  const limits: RelayLimits = {
    quotaMessages: Math.max(s.count, DEFAULT_QUOTA_MESSAGES),
    depositRatePerMinute: Math.max(10 * s.count, DEFAULT_DEPOSIT_RATE_PER_MINUTE)
  }
  const retry: RetryPolicy = s.retryMs === 'default' ? {} : { retryMin: s.retryMs, retryMax: s.retryMs }
  await withWorkers(['mailbox-relay', 'mailbox-alice', 'mailbox-bob'], async ([relay, alice, bob]) => {
    const { card: relayCard } = await relay.call({ op: 'relay', root: s.root, durability, limits }, SETUP_TIMEOUT_MS)
    const { card: bobCard } = await bob.call({ op: 'recipient', root: s.root, durability, relayCard }, SETUP_TIMEOUT_MS)
    const { card: aliceCard } = await alice.call({ op: 'sender', root: s.root, durability, retry }, SETUP_TIMEOUT_MS)
    await alice.call({ op: 'addRecipient', card: bobCard }, SETUP_TIMEOUT_MS)
    await bob.call({ op: 'goOffline', senderCard: aliceCard }, SETUP_TIMEOUT_MS)

    const deposit = await alice.call({ op: 'deposit', count: s.count, bytes: s.bytes, timeoutMs: DEPOSIT_TIMEOUT_MS }, DEPOSIT_TIMEOUT_MS)
    const held = await relay.call({ op: 'relayCounts' })
    if (held.messages !== s.count || held.deposited !== s.count) {
      throw new Error(`alice saw ${s.count} stored but the relay holds ${held.messages} (deposited ${held.deposited}, refused ${JSON.stringify(held.refused)})`)
    }
    progress('mailbox %s deposit: %d messages stored at the relay in %d ms (all sends accepted after %d ms)', durability, s.count, Math.round(deposit.ms), Math.round(deposit.acceptMs))

    await alice.call({ op: 'armDelivered' })
    const [drain, delivered] = await Promise.all([
      bob.call({ op: 'drain', count: s.count, timeoutMs: DRAIN_TIMEOUT_MS }, DRAIN_TIMEOUT_MS),
      alice.call({ op: 'awaitDelivered', timeoutMs: DRAIN_TIMEOUT_MS + DELIVERED_TIMEOUT_MS }, DRAIN_TIMEOUT_MS + DELIVERED_TIMEOUT_MS)
    ])
    if (drain.duplicates !== 0 || drain.inboxTotal !== s.count) {
      throw new Error(`bob's inbox holds ${drain.inboxTotal} messages after ${drain.received} distinct arrivals and ${drain.duplicates} duplicate events; ${s.count} were sent`)
    }
    const after = await waitForEmptyRelay(relay)
    progress('mailbox %s drain: %d messages in bob\'s inbox %d ms after he came back (first after %d ms); all delivered at alice after %d ms; relay fetched %d, deleted %d',
      durability, s.count, Math.round(drain.ms), Math.round(drain.firstMs), Math.round(delivered.ms), after.fetched, after.deleted)

    const common = {
      durability,
      topology: TOPOLOGY,
      count: s.count,
      message_bytes: s.bytes,
      relay_limits: limits,
      relay_default_limits: { quotaMessages: DEFAULT_QUOTA_MESSAGES, depositRatePerMinute: DEFAULT_DEPOSIT_RATE_PER_MINUTE },
      sender_retry_ms: s.retryMs,
      sender_retry_min_ms: retry.retryMin ?? RETRY_MIN_MS,
      sender_retry_max_ms: retry.retryMax ?? RETRY_MAX_MS
    }
    const depositRate = perSecond(s.count, deposit.ms)
    emit({
      bench: 'mailbox-deposit',
      ...common,
      pigeon_ms: Math.round(deposit.ms),
      pigeon_accept_ms: Math.round(deposit.acceptMs),
      pigeon_msgs_per_s: round(depositRate, 1),
      raw_level_batch: LEVEL_BATCH,
      raw_level_puts_per_s: round(base.levelPutsPerS, 1),
      ratio: round(depositRate / base.levelPutsPerS)
    })
    const drainRate = perSecond(s.count, drain.ms)
    emit({
      bench: 'mailbox-drain',
      ...common,
      pigeon_ms: Math.round(drain.ms),
      pigeon_first_message_ms: Math.round(drain.firstMs),
      pigeon_msgs_per_s: round(drainRate, 1),
      raw_stream_msgs_per_s: round(base.streamMsgsPerS, 1),
      raw_stream_rounds: base.streamRounds.map(v => round(v, 1)),
      ratio_vs_stream: round(drainRate / base.streamMsgsPerS),
      raw_level_scan_per_s: round(base.levelScanPerS, 1),
      ratio_vs_level_scan: round(drainRate / base.levelScanPerS),
      target_ratio: DRAIN_TARGET,
      meets_target: drainRate / base.streamMsgsPerS >= DRAIN_TARGET,
      relay_fetched: after.fetched,
      relay_deleted: after.deleted
    })
    const deliveredRate = perSecond(s.count, delivered.ms)
    emit({
      bench: 'mailbox-delivered',
      ...common,
      pigeon_ms: Math.round(delivered.ms),
      pigeon_msgs_per_s: round(deliveredRate, 1),
      raw_stream_msgs_per_s: round(base.streamMsgsPerS, 1),
      ratio_vs_stream: round(deliveredRate / base.streamMsgsPerS)
    })
  })
}

/** Every durability in turn, each beside its own baselines. */
export async function mailboxCases (s: MailboxSettings): Promise<void> {
  progress('mailbox: %d messages of %d bytes, topology %s, alice retry delay %s', s.count, s.bytes, TOPOLOGY,
    s.retryMs === 'default' ? `pigeon default (${RETRY_MIN_MS} ms doubling to ${RETRY_MAX_MS} ms)` : `${s.retryMs} ms`)
  for (const durability of s.durabilities) {
    const base = await baselines(durability, s)
    await pigeonCase(durability, s, base)
  }
}
