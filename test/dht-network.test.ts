/**
 * A DHT of 20 nodes on loopback, in this one process, shaped as pigeon's network is: 8 servers
 * (relays and publicly reachable nodes) and 12 clients (nodes behind NAT). Every node publishes
 * its card, and lookups of cards by peer id between random nodes all succeed. The lookup times
 * and DHT requests per lookup are printed as diagnostics.
 *
 * The 50-node network is `npm run bench` (BENCH_CASES=dht): it takes about a minute of CPU to
 * form in one process, too much to share two cores with the rest of the suite.
 */
import { describe, it, after, before } from 'node:test'
import assert from 'node:assert/strict'
import { decodeCard } from '../src/contacts/card.js'
import type { PigeonNode, PublishState } from '../src/index.js'
import { Nodes, nextEvent } from './helpers.js'
import { quietLogger } from '../bench/silent-logger.js'
import { percentile } from '../bench/stats.js'

const SIZE = 20
const SERVERS = 8
const SEEDS = 3
const LOOKUPS = 40
/** The network forms in a few seconds; a lookup then takes well under a second. */
const FORMED_DEADLINE = 60_000
const LOOKUP_DEADLINE = 15_000

describe(`a DHT of ${SIZE} nodes (${SERVERS} servers, ${SIZE - SERVERS} clients)`, () => {
  const nodes = new Nodes()
  const all: PigeonNode[] = []
  after(async () => { await nodes.cleanup() })

  before(async () => {
    // Many peers on one host: libp2p's limit of 5 new inbound connections a second per host
    // would refuse most of them.
    const lab = { memory: true, dhtAddresses: 'all' as const, allowNetworks: ['/ip4/127.0.0.0/ipcidr/8'], logger: quietLogger }
    for (let i = 0; i < SEEDS; i++) all.push(await nodes.createOnly({ ...lab, dht: 'server' }))
    // Every node, seeds included, waits for its first publication, listening before it starts.
    const published = all.map(node => nextEvent<PublishState>(node, 'card:published', () => true, FORMED_DEADLINE))
    for (const seed of all) await seed.start()
    const bootstrap = all.map(n => n.addresses()[0])
    for (let i = SEEDS; i < SIZE; i++) {
      const node = await nodes.createOnly({ ...lab, dht: i < SERVERS ? 'server' : 'client', bootstrap })
      published.push(nextEvent<PublishState>(node, 'card:published', () => true, FORMED_DEADLINE))
      all.push(node)
    }
    await Promise.all(all.slice(SEEDS).map(async node => { await node.start() }))
    await Promise.all(published)
  })

  it(`finds every card it is asked for (${LOOKUPS} lookups between random nodes)`, async (t) => {
    const times: number[] = []
    const requests: number[] = []
    let found = 0
    for (let i = 0; i < LOOKUPS; i++) {
      const from = all[(i * 7) % SIZE]
      const to = all[(i * 13 + 1) % SIZE] === from ? all[(i * 13 + 2) % SIZE] : all[(i * 13 + 1) % SIZE]
      const stats = { messages: 0 }
      const began = performance.now()
      const card = decodeCard(await from.findCard(to.peerId, { via: 'dht', stats, signal: AbortSignal.timeout(LOOKUP_DEADLINE) }))
      times.push(performance.now() - began)
      requests.push(stats.messages)
      assert.ok(card.peerId.equals(to.peerId))
      assert.deepEqual(card.addrs.map(String), decodeCard(to.card()).addrs.map(String))
      found++
    }
    assert.equal(found, LOOKUPS, 'every lookup found its card')
    times.sort((a, b) => a - b)
    requests.sort((a, b) => a - b)
    t.diagnostic(`lookups found: ${found}/${LOOKUPS}; time p50 ${percentile(times, 50).toFixed(1)} ms, p99 ${percentile(times, 99).toFixed(1)} ms; DHT requests per lookup p50 ${percentile(requests, 50)}, mean ${(requests.reduce((a, b) => a + b, 0) / requests.length).toFixed(1)}`)
  })
})
