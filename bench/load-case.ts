/**
 * The load case: one relay with `clients` peers connected at once, spread over `processes`
 * client processes, every client depositing sealed 256-byte texts for the others and fetching
 * and deleting its own mail when the relay says some is waiting (load.ts says what a client is).
 * The relay is a PigeonNode with `relay` limits (durability fsync, the default) in a process of
 * its own (topology "relay-process-plus-client-processes").
 *
 * Reported (one line, bench "relay-load"): connected peers as the relay counts them, deposits
 * per second (answers "stored" inside the measured window), client-measured deposit latency,
 * the relay's memory before any client connected and with all connected (after a full GC), so
 * memory per connected peer, fetch rate, errors, and readiness sampled once a second during the
 * run: GET /readyz on the relay's operator endpoint (src/ops, started in the relay's process as
 * the daemon starts it), as an orchestrator probes it. A sample fails on any status but 200 or
 * no answer within PROBE_DEADLINE_MS (a relay too busy to answer is not ready). The relay's
 * process also reports its connections, memory and CPU over IPC at each sample.
 *
 * Beside it (bench "relay-load-raw"): the same clients, the same load and the same durability
 * against the raw libraries: a plain libp2p node (TCP, Noise, yamux, identify, ping) serving
 * the same mailbox protocol (deposit, NOTIFY, fetch, delete) straight off pbStream and `level`,
 * one batch per request (raw-mailbox.ts). It checks nothing (no quotas, duplicates or rate)
 * and keeps its id index in memory.
 * Then "relay-load-ratio": pigeon over raw for deposits per second, p99 deposit latency and
 * memory per connected peer.
 *
 * Limits raised: libp2p's connection manager allows 300 connections by default; both relays
 * get clients + 100 (PigeonInit.maxConnections for pigeon's). The mailbox limits are the
 * defaults: one client deposits far below 6,000 a minute and drains its mailbox as it fills.
 * Both go in the result (relay_limits).
 */
import { availableParallelism } from 'node:os'
import { WorkerProcess } from './ipc.js'
import { emit, progress } from './output.js'
import { race } from './deadline.js'
import { percentile, round, summarize } from './stats.js'
import { DEFAULT_DEPOSIT_RATE_PER_MINUTE, DEFAULT_QUOTA_MESSAGES } from '../src/mailbox/constants.js'
import type { Durability, RelayLimits } from '../src/index.js'
import { LoadClients, type LoadRelayKind, type LoadRunResult, type Memory, type RelayProbe } from './load.js'

const TOPOLOGY = 'relay-process-plus-client-processes'
const CLIENT_KIND = 'libp2p node with pigeon mailbox() service (not a PigeonNode)'
const RAW_RELAY_KIND = 'plain libp2p node (tcp, noise, yamux, identify, ping) serving the pigeon mailbox protocol with pbStream and level (bench/raw-mailbox.ts): deposit (one level batch per request, synced under fsync), NOTIFY, fetch, delete; no checks, quotas or write grouping'
/** libp2p's default maxConnections (connection-manager/constants.js), recorded beside ours. */
const LIBP2P_DEFAULT_MAX_CONNECTIONS = 300
/** Connections the relay allows beyond the clients: room for the bench's own and stray ones. */
const MAX_CONNECTIONS_MARGIN = 100
/** Unmeasured seconds at the start of the run: JIT, stream windows, first NOTIFYs. */
const WARMUP_MS = 2_000
const PROBE_INTERVAL_MS = 1_000
/** A readiness answer later than this is a failed sample (Kubernetes' default probe timeout is 1 s). */
const PROBE_DEADLINE_MS = 1_000
const SETUP_TIMEOUT_MS = 30_000
/** Creating and connecting one process's share of clients. */
const CONNECT_TIMEOUT_MS = 60_000
/** After every client says it is connected, until the relay counts them all. */
const SETTLE_TIMEOUT_MS = 10_000
/** On top of warm-up and duration: the last requests and drains in flight. */
const RUN_SLACK_MS = 30_000

export interface LoadSettings {
  clients: number
  processes: number
  seconds: number
  bytes: number
  root: string
  /** Ms between one client's deposits; 0 for a closed loop (each follows the last at once). */
  intervalMs: number
  /** The relay's durability: 'fsync' (pigeon's default) unless BENCH_LOAD_DURABILITY says 'os'. */
  durability: Durability
}

const sleep = async (ms: number): Promise<void> => { await new Promise(resolve => setTimeout(resolve, ms)) }

/** Starts the relay worker and the client workers, runs `body`, and closes them all whatever happens. */
async function withLoadWorkers<T> (kind: LoadRelayKind, processes: number, body: (relay: WorkerProcess, clients: WorkerProcess[]) => Promise<T>): Promise<T> {
  const relay = new WorkerProcess(`load-${kind}-relay`, ['--expose-gc'])
  const clients = Array.from({ length: processes }, (_, i) => new WorkerProcess(`load-${kind}-clients-${i + 1}`))
  try {
    return await body(relay, clients)
  } finally {
    // Clients first: the relay then sees them leave rather than its own shutdown cut them off.
    await Promise.allSettled(clients.map(async w => w.close()))
    await relay.close()
  }
}

/** Clients per process: as even as the count allows. */
function shares (clients: number, processes: number): Array<{ first: number, count: number }> {
  const out: Array<{ first: number, count: number }> = []
  let first = 0
  for (let p = 0; p < processes; p++) {
    const count = Math.floor(clients / processes) + (p < clients % processes ? 1 : 0)
    out.push({ first, count })
    first += count
  }
  return out.filter(s => s.count > 0)
}

interface Connected { operatorUrl?: string, ids: string[], dialRetries: number, connectMs: number, before: Memory, after: Memory, peers: number }

/** Starts a relay of `kind`, connects every client to it and measures the relay's memory either side. */
async function connectAll (kind: LoadRelayKind, relay: WorkerProcess, workers: WorkerProcess[], s: LoadSettings, limits: RelayLimits, maxConnections: number): Promise<Connected> {
  const { address, operatorUrl } = await relay.call({ op: 'loadRelay', kind, root: s.root, durability: s.durability, limits, maxConnections }, SETUP_TIMEOUT_MS)
  const before = await relay.call({ op: 'loadMemory' }, SETUP_TIMEOUT_MS)
  const start = performance.now()
  const parts = shares(s.clients, workers.length)
  const started = await Promise.all(parts.map(async (part, i) =>
    await workers[i].call({ op: 'loadClients', first: part.first, count: part.count, relayAddr: address, timeoutMs: CONNECT_TIMEOUT_MS }, CONNECT_TIMEOUT_MS)))
  const connectMs = performance.now() - start
  const ids = started.flatMap(r => r.ids)
  const deadline = Date.now() + SETTLE_TIMEOUT_MS
  let peers = 0
  while ((peers = (await relay.call({ op: 'loadProbe' })).peers) < s.clients) {
    if (Date.now() > deadline) throw new Error(`the ${kind} relay counts ${peers} of ${s.clients} clients ${SETTLE_TIMEOUT_MS} ms after all said they were connected`)
    await sleep(100)
  }
  const after = await relay.call({ op: 'loadMemory' }, SETUP_TIMEOUT_MS)
  const dialRetries = started.reduce((n, r) => n + r.dialRetries, 0)
  progress('load %s: %d clients in %d processes connected in %d ms (%d dial retries); relay rss %d -> %d MiB, heap %d -> %d MiB',
    kind, s.clients, workers.length, Math.round(connectMs), dialRetries, mib(before.rss), mib(after.rss), mib(before.heapUsed), mib(after.heapUsed))
  return { operatorUrl, ids, dialRetries, connectMs, before, after, peers }
}

const mib = (bytes: number): number => round(bytes / (1024 * 1024), 1)
const kib = (bytes: number): number => round(bytes / 1024, 1)

interface Sample { atMs: number, probe?: RelayProbe, ms: number, failure?: string }

/** GET /readyz: undefined when ready, else why not. */
async function readyz (url: string): Promise<string | undefined> {
  const res = await fetch(`${url}/readyz`, { signal: AbortSignal.timeout(PROBE_DEADLINE_MS) })
  const body = await res.json() as { failing?: string[] }
  return res.status === 200 ? undefined : `/readyz ${res.status}: failing ${(body.failing ?? []).join(', ')}`
}

/**
 * Asks whether the relay is ready every PROBE_INTERVAL_MS until `done` settles: its operator
 * endpoint's /readyz when it has one, else its process over IPC. The relay's process is asked
 * for its counters and memory beside it.
 */
async function sampleReadiness (relay: WorkerProcess, operatorUrl: string | undefined, done: Promise<unknown>): Promise<Sample[]> {
  const samples: Sample[] = []
  let finished = false
  done.then(() => { finished = true }, () => { finished = true })
  const start = performance.now()
  for (let tick = 1; !finished; tick++) {
    const wait = start + tick * PROBE_INTERVAL_MS - performance.now()
    if (wait > 0) await sleep(wait)
    if (finished) break
    const t0 = performance.now()
    const [ready, probe] = await Promise.allSettled([
      operatorUrl != null ? readyz(operatorUrl) : Promise.resolve(undefined),
      race(relay.call({ op: 'loadProbe' }), AbortSignal.timeout(PROBE_DEADLINE_MS))
    ])
    const sample: Sample = { atMs: t0 - start, ms: performance.now() - t0, probe: probe.status === 'fulfilled' ? probe.value : undefined }
    if (ready.status === 'rejected') sample.failure = `no /readyz answer within ${PROBE_DEADLINE_MS} ms: ${ready.reason?.message ?? ready.reason}`
    else if (ready.value != null) sample.failure = ready.value
    else if (operatorUrl == null) {
      const down = sample.probe == null ? ['answering'] : Object.entries(sample.probe.ready).filter(([, up]) => !up).map(([part]) => part)
      if (down.length > 0) sample.failure = `not ${down.join(', ')}`
    }
    samples.push(sample)
  }
  return samples
}

function pool (results: LoadRunResult[]): LoadRunResult {
  const out = LoadClients.emptyResult()
  for (const r of results) {
    for (const l of r.latencies) out.latencies.push(l)
    out.stored += r.stored
    out.fetched += r.fetched
    out.fetches += r.fetches
    out.deleted += r.deleted
    out.errors += r.errors
    out.connectedAtEnd += r.connectedAtEnd
    out.envelopeBytes = Math.max(out.envelopeBytes, r.envelopeBytes)
    for (const [reason, n] of Object.entries(r.refused)) out.refused[reason] = (out.refused[reason] ?? 0) + n
    for (const k of r.errorKinds) if (!out.errorKinds.includes(k)) out.errorKinds.push(k)
  }
  return out
}

function memoryFields (c: Connected): Record<string, number> {
  const peers = Math.max(1, c.peers)
  return {
    relay_rss_before_mib: mib(c.before.rss),
    relay_rss_connected_mib: mib(c.after.rss),
    relay_heap_before_mib: mib(c.before.heapUsed),
    relay_heap_connected_mib: mib(c.after.heapUsed),
    relay_rss_per_peer_kib: kib((c.after.rss - c.before.rss) / peers),
    relay_heap_per_peer_kib: kib((c.after.heapUsed - c.before.heapUsed) / peers),
    relay_external_per_peer_kib: kib((c.after.external - c.before.external) / peers)
  }
}

/** Connects every client to a relay of `kind`, runs the load, emits its line and returns it. */
async function measureLoad (kind: LoadRelayKind, s: LoadSettings, limits: RelayLimits, maxConnections: number): Promise<Record<string, any>> {
  return await withLoadWorkers(kind, s.processes, async (relay, workers) => {
    const c = await connectAll(kind, relay, workers, s, limits, maxConnections)
    const durationMs = s.seconds * 1000
    const timeoutMs = WARMUP_MS + durationMs + RUN_SLACK_MS
    const first = await relay.call({ op: 'loadProbe', resetLag: true })
    progress('load %s: running %d s (+%d s warm-up)', kind, s.seconds, WARMUP_MS / 1000)
    const runs = Promise.all(workers.map(async w => await w.call({ op: 'loadRun', peers: c.ids, bytes: s.bytes, warmupMs: WARMUP_MS, durationMs, intervalMs: s.intervalMs, timeoutMs }, timeoutMs)))
    const [results, samples] = await Promise.all([runs, sampleReadiness(relay, c.operatorUrl, runs)])
    const last = await relay.call({ op: 'loadProbe' })
    const r = pool(results)
    if (r.latencies.length === 0) throw new Error(`no deposit completed in the measured window (${r.errors} errors: ${r.errorKinds.join('; ')})`)
    const sorted = [...r.latencies].sort((a, b) => a - b)
    const answered = samples.filter(x => x.probe != null)
    const peers = answered.map(x => x.probe!.peers)
    const failures = samples.filter(x => x.failure != null)
    const probeMs = summarize(samples.map(x => x.ms))
    const seconds = durationMs / 1000
    progress('load %s: %d deposits/s, p50 %d ms, p99 %d ms; %d fetched/s; peers %d-%d; ready %d/%d samples; %d errors',
      kind, round(r.stored / seconds, 1), round(percentile(sorted, 50), 1), round(percentile(sorted, 99), 1), round(r.fetched / seconds, 1),
      Math.min(...peers), Math.max(...peers), samples.length - failures.length, samples.length, r.errors)
    const line = {
      bench: kind === 'pigeon' ? 'relay-load' : 'relay-load-raw',
      topology: TOPOLOGY,
      client_kind: CLIENT_KIND,
      relay_kind: kind === 'pigeon' ? 'pigeon node (relay limits, operator endpoint)' : RAW_RELAY_KIND,
      clients: s.clients,
      client_processes: workers.length,
      seconds: s.seconds,
      warmup_s: WARMUP_MS / 1000,
      message_bytes: s.bytes,
      envelope_bytes: r.envelopeBytes,
      load_model: s.intervalMs === 0
        ? 'closed loop: each client keeps one deposit (one envelope) in flight for a random other client; fetch+delete on NOTIFY'
        : `paced: each client begins one deposit (one envelope) for a random other client every ${s.intervalMs} ms, at most one in flight; fetch+delete on NOTIFY`,
      client_interval_ms: s.intervalMs,
      offered_deposits_per_s: s.intervalMs === 0 ? null : round(s.clients * 1000 / s.intervalMs, 1),
      durability: s.durability,
      relay_limits: kind === 'pigeon' ? { ...limits, maxConnections } : { maxConnections },
      relay_default_limits: { quotaMessages: DEFAULT_QUOTA_MESSAGES, depositRatePerMinute: DEFAULT_DEPOSIT_RATE_PER_MINUTE, maxConnections: LIBP2P_DEFAULT_MAX_CONNECTIONS },
      connect_ms: Math.round(c.connectMs),
      dial_retries: c.dialRetries,
      peers_connected_before_run: c.peers,
      peers_connected_peak: Math.max(c.peers, ...peers),
      peers_connected_min_during_run: peers.length > 0 ? Math.min(...peers) : 0,
      peers_connected_at_end: last.peers,
      clients_connected_at_end: r.connectedAtEnd,
      deposits: r.stored,
      deposits_per_s: round(r.stored / seconds, 1),
      deposit_p50_ms: round(percentile(sorted, 50), 2),
      deposit_p90_ms: round(percentile(sorted, 90), 2),
      deposit_p99_ms: round(percentile(sorted, 99), 2),
      deposit_max_ms: round(sorted[sorted.length - 1], 2),
      deposit_samples: sorted.length,
      refused: r.refused,
      relay_deposited_incl_warmup: last.deposited - first.deposited,
      // One core is 1.0: the relay is one Node process, and its JavaScript runs on one thread.
      relay_cpu_cores_during_run: round((last.cpuMicros - first.cpuMicros) / 1000 / (last.atMs - first.atMs), 2),
      // The delay a callback waited for the event loop, over the measured run (warm-up included).
      relay_event_loop_delay_p50_ms: round(last.lag.p50Ms, 1),
      relay_event_loop_delay_p99_ms: round(last.lag.p99Ms, 1),
      relay_event_loop_delay_max_ms: round(last.lag.maxMs, 1),
      relay_event_loop_utilization_during_run: round((last.elu.active - first.elu.active) / ((last.elu.active - first.elu.active) + (last.elu.idle - first.elu.idle)), 2),
      machine_cpus: availableParallelism(),
      relay_refused_total: last.refused,
      fetched: r.fetched,
      fetched_per_s: round(r.fetched / seconds, 1),
      fetch_requests_per_s: round(r.fetches / seconds, 1),
      deleted: r.deleted,
      errors: r.errors,
      error_kinds: r.errorKinds,
      ...memoryFields(c),
      relay_rss_peak_during_run_mib: mib(Math.max(c.after.rss, ...answered.map(x => x.probe!.rss))),
      relay_heap_peak_during_run_mib: mib(Math.max(c.after.heapUsed, ...answered.map(x => x.probe!.heapUsed))),
      ready_samples: samples.length,
      ready_failures: failures.length,
      ready_throughout: samples.length > 0 && failures.length === 0,
      ready_failure_kinds: [...new Set(failures.map(f => f.failure))].slice(0, 5),
      ready_probe_p50_ms: round(probeMs.p50, 2),
      ready_probe_max_ms: round(probeMs.max, 2),
      ready_probe: c.operatorUrl != null
        ? `GET /readyz on the relay's operator endpoint (src/ops) every ${PROBE_INTERVAL_MS} ms; a sample fails on any status but 200 or no answer within ${PROBE_DEADLINE_MS} ms`
        : `every ${PROBE_INTERVAL_MS} ms the relay process reports node started, libp2p started, store open, listening; a sample fails if any is false or the answer takes over ${PROBE_DEADLINE_MS} ms`
    }
    emit(line)
    return line
  })
}

/** pigeon's figure over the raw relay's; undefined when the raw one is zero. */
const ratio = (pigeon: number, raw: number): number | null => raw === 0 ? null : round(pigeon / raw)

export async function loadCase (s: LoadSettings): Promise<void> {
  const maxConnections = Math.max(LIBP2P_DEFAULT_MAX_CONNECTIONS, s.clients + MAX_CONNECTIONS_MARGIN)
  progress('load: %d clients over %d processes for %d s, relay durability %s, maxConnections %d', s.clients, s.processes, s.seconds, s.durability, maxConnections)
  const pigeon = await measureLoad('pigeon', s, {}, maxConnections)
  const raw = await measureLoad('raw', s, {}, maxConnections)
  emit({
    bench: 'relay-load-ratio',
    topology: TOPOLOGY,
    clients: s.clients,
    durability: s.durability,
    load_model: pigeon.load_model,
    baseline: RAW_RELAY_KIND,
    pigeon_deposits_per_s: pigeon.deposits_per_s,
    raw_deposits_per_s: raw.deposits_per_s,
    deposits_ratio: ratio(pigeon.deposits_per_s, raw.deposits_per_s),
    pigeon_deposit_p99_ms: pigeon.deposit_p99_ms,
    raw_deposit_p99_ms: raw.deposit_p99_ms,
    p99_ratio: ratio(pigeon.deposit_p99_ms, raw.deposit_p99_ms),
    pigeon_rss_per_peer_kib: pigeon.relay_rss_per_peer_kib,
    raw_rss_per_peer_kib: raw.relay_rss_per_peer_kib,
    rss_per_peer_ratio: ratio(pigeon.relay_rss_per_peer_kib, raw.relay_rss_per_peer_kib),
    pigeon_ready_throughout: pigeon.ready_throughout,
    pigeon_fetch_requests_per_s: pigeon.fetch_requests_per_s,
    raw_fetch_requests_per_s: raw.fetch_requests_per_s
  })
}
