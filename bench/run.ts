/**
 * `npm run bench`: pigeon direct messages against a bare libp2p stream doing the least an
 * acknowledged messenger can do. One JSON object per line on stdout; progress on stderr.
 *
 * Env: BENCH_DM_COUNT (2000), BENCH_LATENCY_COUNT (300), BENCH_WARMUP (50).
 */
import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { format } from 'node:util'
import { WorkerProcess, type Kind } from './ipc.js'
import { round, summarize } from './stats.js'
import type { Durability } from '../src/index.js'

const MESSAGE_BYTES = 256
const TOPOLOGY = 'two-processes'
const DURABILITIES: Durability[] = ['fsync', 'os']
/** Goals: pigeon keeps half the raw throughput, and a round trip costs at most 3x the raw one. */
const THROUGHPUT_TARGET = 0.5
const LATENCY_TARGET = 3
/** Deadlines: generous next to the expected seconds, short next to "hung". */
const SETUP_TIMEOUT_MS = 20_000
const RUN_TIMEOUT_MS = 90_000
/** If something still holds the loop open after all cases, do not hang the terminal. */
const EXIT_GRACE_MS = 10_000

function envCount (name: string, fallback: number): number {
  const raw = process.env[name]
  if (raw == null || raw === '') return fallback
  const n = Number(raw)
  if (!Number.isInteger(n) || n < 1) throw new RangeError(`${name} must be a positive integer, got "${raw}"`)
  return n
}

function progress (fmt: string, ...args: unknown[]): void {
  process.stderr.write(format(`[bench] ${fmt}`, ...args) + '\n')
}

function emit (line: Record<string, unknown>): void {
  process.stdout.write(JSON.stringify(line) + '\n')
}

/**
 * Starts a receiver and a sender worker for `kind`, connects them, runs `body` on the
 * sender and checks that the receiver got `expected` messages. Both workers are gone after.
 */
async function withPair<T> (kind: Kind, durability: Durability, root: string, expected: number, body: (sender: WorkerProcess) => Promise<T>): Promise<T> {
  const receiver = new WorkerProcess(`${kind}-receiver`)
  const sender = new WorkerProcess(`${kind}-sender`)
  try {
    const { address } = await receiver.call({ op: 'receive', kind, durability, root }, SETUP_TIMEOUT_MS)
    await sender.call({ op: 'connect', kind, durability, root, address, timeoutMs: SETUP_TIMEOUT_MS }, SETUP_TIMEOUT_MS)
    const result = await body(sender)
    const { count } = await receiver.call({ op: 'received' })
    if (count !== expected) throw new Error(`${kind} receiver got ${count} messages, expected ${expected}`)
    return result
  } finally {
    await Promise.allSettled([sender.close(), receiver.close()])
  }
}

async function throughput (kind: Kind, durability: Durability, root: string, count: number, warmup: number): Promise<number> {
  return await withPair(kind, durability, root, warmup + count, async (sender) => {
    await sender.call({ op: 'burst', count: warmup, bytes: MESSAGE_BYTES, timeoutMs: RUN_TIMEOUT_MS }, RUN_TIMEOUT_MS)
    const { ms } = await sender.call({ op: 'burst', count, bytes: MESSAGE_BYTES, timeoutMs: RUN_TIMEOUT_MS }, RUN_TIMEOUT_MS)
    const perSecond = count / (ms / 1000)
    progress('%s throughput (%s): %d messages in %d ms, %d msg/s', kind, durability, count, Math.round(ms), Math.round(perSecond))
    return perSecond
  })
}

async function latency (kind: Kind, durability: Durability, root: string, count: number, warmup: number): Promise<number[]> {
  return await withPair(kind, durability, root, warmup + count, async (sender) => {
    await sender.call({ op: 'pingPong', count: warmup, bytes: MESSAGE_BYTES, timeoutMs: RUN_TIMEOUT_MS }, RUN_TIMEOUT_MS)
    const { samples } = await sender.call({ op: 'pingPong', count, bytes: MESSAGE_BYTES, timeoutMs: RUN_TIMEOUT_MS }, RUN_TIMEOUT_MS)
    const s = summarize(samples)
    progress('%s latency (%s): p50 %s ms, p99 %s ms', kind, durability, round(s.p50), round(s.p99))
    return samples
  })
}

async function main (): Promise<void> {
  const dmCount = envCount('BENCH_DM_COUNT', 2000)
  const latencyCount = envCount('BENCH_LATENCY_COUNT', 300)
  const warmup = envCount('BENCH_WARMUP', 50)
  const root = await mkdtemp(join(tmpdir(), 'pigeon-bench-'))
  const started = performance.now()
  progress('topology %s, data under %s', TOPOLOGY, root)
  try {
    for (const durability of DURABILITIES) {
      // Raw right before pigeon, so both see the same machine load.
      const raw = await throughput('raw', durability, root, dmCount, warmup)
      const pigeon = await throughput('pigeon', durability, root, dmCount, warmup)
      emit({
        bench: 'dm-throughput',
        durability,
        topology: TOPOLOGY,
        count: dmCount,
        warmup,
        message_bytes: MESSAGE_BYTES,
        pigeon_msgs_per_s: round(pigeon, 1),
        raw_msgs_per_s: round(raw, 1),
        ratio: round(pigeon / raw),
        target_ratio: THROUGHPUT_TARGET,
        meets_target: pigeon / raw >= THROUGHPUT_TARGET
      })
    }
    for (const durability of DURABILITIES) {
      const raw = summarize(await latency('raw', durability, root, latencyCount, warmup))
      const pigeon = summarize(await latency('pigeon', durability, root, latencyCount, warmup))
      emit({
        bench: 'dm-latency',
        durability,
        topology: TOPOLOGY,
        count: latencyCount,
        warmup,
        message_bytes: MESSAGE_BYTES,
        pigeon_p50_ms: round(pigeon.p50),
        pigeon_p99_ms: round(pigeon.p99),
        raw_p50_ms: round(raw.p50),
        raw_p99_ms: round(raw.p99),
        ratio: round(pigeon.p50 / raw.p50),
        target_ratio: LATENCY_TARGET,
        meets_target: pigeon.p50 / raw.p50 <= LATENCY_TARGET
      })
    }
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
    progress('still running %d ms after the last case; exiting', EXIT_GRACE_MS)
    process.exit(process.exitCode ?? 0)
  }, EXIT_GRACE_MS).unref()
})
