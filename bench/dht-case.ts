/**
 * dht case: a DHT of BENCH_DHT_NODES pigeon nodes on loopback in this process, shaped as pigeon's
 * network is (BENCH_DHT_SERVERS servers, the rest clients), with the raw libraries' figure for
 * the same peers beside each of pigeon's:
 *
 * - dht-lookup: finding a card by peer id (`findCard`) between random nodes: success rate, p50
 *   and p99 time, DHT requests per lookup; baseline: a bare libp2p node dialling the same peer at
 *   its known address and pinging it once (what a lookup saves a person from knowing).
 * - dht-first-message: strangers, from `addContact(name, peerId)` to the delivery receipt of the
 *   first message (lookup, dial, send, receipt), for BENCH_DHT_STRANGERS fresh nodes; baseline:
 *   the same bare dial and one round trip. Goal: at most 3x.
 */
import { createLibp2p, type Libp2p } from 'libp2p'
import { tcp } from '@libp2p/tcp'
import { noise } from '@chainsafe/libp2p-noise'
import { yamux } from '@chainsafe/libp2p-yamux'
import { ping, type Ping } from '@libp2p/ping'
import { multiaddr } from '@multiformats/multiaddr'
import { createNode, type PigeonInit, type PigeonNode } from '../src/index.js'
import { emit, envCount, progress } from './output.js'
import { round, summarize } from './stats.js'
import { quietLogger } from './silent-logger.js'

const SEEDS = 3
const FIRST_MESSAGE_TARGET = 3
const FORMED_TIMEOUT_MS = 300_000
const STEP_TIMEOUT_MS = 30_000

const lab: Partial<PigeonInit> = {
  memory: true,
  listen: ['/ip4/127.0.0.1/tcp/0'],
  durability: 'os',
  dhtAddresses: 'all',
  allowNetworks: ['/ip4/127.0.0.0/ipcidr/8'],
  logger: quietLogger
}

/** Resolves when the node has published its card once (listen before starting it). */
async function published (node: PigeonNode): Promise<void> {
  await new Promise<void>((resolve, reject) => {
    const timer = setTimeout(() => { reject(new Error('a node did not publish its card in time')) }, FORMED_TIMEOUT_MS)
    node.addEventListener('card:published', () => { clearTimeout(timer); resolve() }, { once: true })
  })
}

/**
 * A bare libp2p dial of `addr` on a new connection, and one ping round trip: ms, or undefined
 * when it failed (counted in the output; a busy 50-node process sometimes closes a stream under
 * the ping).
 */
async function rawDialAndPing (raw: Libp2p<{ ping: Ping }>, addr: string): Promise<number | undefined> {
  const ma = multiaddr(addr)
  const peer = ma.getComponents().at(-1)?.value as string
  await Promise.all(raw.getConnections().filter(c => c.remotePeer.toString() === peer).map(async c => { await c.close() }))
  const began = performance.now()
  try {
    await raw.services.ping.ping(ma, { signal: AbortSignal.timeout(STEP_TIMEOUT_MS) })
  } catch (err: any) {
    progress('dht: raw dial and ping of %s failed: %s', addr, err.message)
    return undefined
  }
  return performance.now() - began
}

export async function dhtCase (): Promise<void> {
  const size = envCount('BENCH_DHT_NODES', 50)
  const servers = Math.min(envCount('BENCH_DHT_SERVERS', 20), size)
  const lookups = envCount('BENCH_DHT_LOOKUPS', 100)
  const strangers = envCount('BENCH_DHT_STRANGERS', 10)
  const all: PigeonNode[] = []
  const raw = await createLibp2p({
    addresses: { listen: ['/ip4/127.0.0.1/tcp/0'] },
    transports: [tcp()],
    connectionEncrypters: [noise()],
    streamMuxers: [yamux()],
    services: { ping: ping() }
  })
  const began = performance.now()
  const cpuBefore = process.cpuUsage()
  try {
    for (let i = 0; i < Math.min(SEEDS, size); i++) all.push(await createNode({ ...lab, dht: 'server' }))
    const ready = all.map(published)
    for (const seed of all) await seed.start()
    const bootstrap = all.map(n => n.addresses()[0])
    for (let i = all.length; i < size; i++) {
      const node = await createNode({ ...lab, dht: i < servers ? 'server' : 'client', bootstrap })
      ready.push(published(node))
      all.push(node)
    }
    await Promise.all(all.slice(SEEDS).map(async n => { await n.start() }))
    await Promise.all(ready)
    const formedS = (performance.now() - began) / 1000
    const cpu = process.cpuUsage(cpuBefore)
    const formedCpuS = (cpu.user + cpu.system) / 1e6
    progress('dht: %d nodes published their cards in %d s (%d s of CPU)', size, round(formedS, 1), round(formedCpuS, 1))

    const times: number[] = []
    const baseline: number[] = []
    const requests: number[] = []
    let found = 0
    for (let i = 0; i < lookups; i++) {
      const from = all[(i * 7) % size]
      let to = all[(i * 13 + 1) % size]
      if (to === from) to = all[(i * 13 + 2) % size]
      const stats = { messages: 0 }
      const t = performance.now()
      try {
        await from.findCard(to.peerId, { via: 'dht', stats, signal: AbortSignal.timeout(STEP_TIMEOUT_MS) })
        found++
        times.push(performance.now() - t)
      } catch (err: any) {
        progress('dht: lookup %d failed: %s', i, err.message)
      }
      requests.push(stats.messages)
      const rawMs = await rawDialAndPing(raw, to.addresses()[0])
      if (rawMs != null) baseline.push(rawMs)
    }
    const p = summarize(times)
    const r = summarize(baseline)
    const q = summarize(requests)
    progress('dht: %d/%d lookups found their card, p50 %d ms, p99 %d ms', found, lookups, round(p.p50), round(p.p99))
    emit({
      bench: 'dht-lookup',
      topology: 'one-process',
      nodes: size,
      servers,
      clients: size - servers,
      formed_s: round(formedS, 1),
      formed_cpu_s: round(formedCpuS, 1),
      lookups,
      found,
      success_rate: round(found / lookups, 4),
      pigeon_p50_ms: round(p.p50),
      pigeon_p99_ms: round(p.p99),
      raw_p50_ms: round(r.p50),
      raw_p99_ms: round(r.p99),
      raw_failed: lookups - baseline.length,
      ratio: round(p.p50 / r.p50),
      requests_per_lookup_p50: q.p50,
      requests_per_lookup_mean: round(requests.reduce((a, b) => a + b, 0) / requests.length, 1)
    })

    const first: number[] = []
    const firstLookup: number[] = []
    const firstRaw: number[] = []
    for (let i = 0; i < strangers; i++) {
      const alice = await createNode({ ...lab, dht: 'client', bootstrap })
      try {
        const joined = published(alice)
        await alice.start()
        await joined
        const bob = all[(i * 11 + 5) % size]
        const t = performance.now()
        await alice.addContact('bob', bob.peerId.toString(), { signal: AbortSignal.timeout(STEP_TIMEOUT_MS) })
        firstLookup.push(performance.now() - t)
        const id = await alice.send('bob', 'hello, stranger')
        await alice.waitFor(id, 'delivered', { signal: AbortSignal.timeout(STEP_TIMEOUT_MS) })
        first.push(performance.now() - t)
        const rawMs = await rawDialAndPing(raw, bob.addresses()[0])
        if (rawMs != null) firstRaw.push(rawMs)
      } finally {
        await alice.stop()
      }
    }
    const f = summarize(first)
    const fl = summarize(firstLookup)
    const fd = summarize(first.map((ms, i) => ms - firstLookup[i]))
    const fr = summarize(firstRaw)
    progress('dht: first message to a stranger p50 %d ms, raw dial and round trip p50 %d ms', round(f.p50), round(fr.p50))
    emit({
      bench: 'dht-first-message',
      topology: 'one-process',
      nodes: size,
      strangers,
      pigeon_p50_ms: round(f.p50),
      pigeon_p99_ms: round(f.p99),
      // Where the time goes: adding the contact (the lookup), then send to delivery receipt.
      add_contact_p50_ms: round(fl.p50),
      send_to_delivered_p50_ms: round(fd.p50),
      raw_p50_ms: round(fr.p50),
      raw_p99_ms: round(fr.p99),
      raw_failed: strangers - firstRaw.length,
      ratio: round(f.p50 / fr.p50),
      target_ratio: FIRST_MESSAGE_TARGET,
      meets_target: f.p50 / fr.p50 <= FIRST_MESSAGE_TARGET
    })
  } finally {
    await Promise.allSettled(all.map(async n => { await n.stop() }))
    await raw.stop()
  }
}
