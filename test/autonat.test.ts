/**
 * Reachability and AutoNAT. A node that listens on a public address gives it to peers only once a
 * peer has dialled it back (AutoNAT): libp2p keeps unverified public addresses out of
 * getMultiaddrs(), so before this a relay on a cloud VM's public interface published no address
 * at all unless its operator announced one.
 *
 * The namespace test needs addresses that libp2p classes as public (it classes 198.18.0.0/15, the
 * documentation ranges and 2001:db8::/32 as private, and AutoNAT ignores private addresses), so it
 * uses 11.0.0.0/24 inside namespaces it builds: nothing is routed out of them, so no host of that
 * range's real owner can ever be reached.
 */
import { describe, it, before, after } from 'node:test'
import assert from 'node:assert/strict'
import { multiaddr } from '@multiformats/multiaddr'
import { reachability } from '../src/network/reachability.js'
import { Daemon, NamespaceEvents, pigeon } from './cli-helpers.js'
import { tempDir } from './helpers.js'
import { Lan, netnsUnavailable } from './support/netns.js'

const DEADLINE = 30_000
const SELF = '12D3KooWDKHseWhAoGGymnXZcQgYWzB67Bf9iNV97M81uoEXZdax'

describe('reachability', () => {
  const ma = (s: string): ReturnType<typeof multiaddr> => multiaddr(s)

  it('is public with a public address given to peers, unknown with one not yet dialled back, private without', () => {
    const loopback = ma('/ip4/127.0.0.1/tcp/4001')
    const home = ma('/ip4/192.168.1.20/tcp/4001')
    const vm = ma('/ip4/11.0.0.1/tcp/4001')
    const circuit = ma(`/ip4/11.0.0.9/tcp/4001/p2p/${SELF}/p2p-circuit`)
    assert.deepEqual(reachability([loopback, home], [loopback, home, circuit]), { reachability: 'private', unverified: [] })
    assert.deepEqual(reachability([loopback, vm], [loopback]), { reachability: 'unknown', unverified: ['/ip4/11.0.0.1/tcp/4001'] })
    assert.deepEqual(reachability([loopback, vm], [loopback, vm.encapsulate(`/p2p/${SELF}`)]), { reachability: 'public', unverified: [] })
    assert.deepEqual(reachability([loopback], [loopback, ma('/dns4/relay.example.org/tcp/4001')]), { reachability: 'public', unverified: [] }, 'an announced name')
    assert.deepEqual(reachability([home], [home, circuit]), { reachability: 'private', unverified: [] }, 'a relay\'s public address in a circuit is not this node\'s')
    assert.equal(reachability([ma('/ip4/198.18.0.11/tcp/1')], []).reachability, 'private', 'libp2p\'s classification')
  })
})

describe('AutoNAT on a network of public addresses', async () => {
  const unavailable = await netnsUnavailable()
  let lan: Lan | undefined
  const cleanups: Array<() => Promise<unknown>> = []
  before(async () => { if (unavailable == null) lan = await Lan.create('11.0.0', 2) })
  after(async () => {
    for (const c of cleanups.reverse()) await c().catch(() => {})
    await lan?.destroy()
  })

  it('a node publishes its public address once a peer has dialled it back, and becomes a DHT server', { skip: unavailable }, async () => {
    const [a, b] = lan!.hosts
    const relayDir = await tempDir()
    const nodeDir = await tempDir()
    cleanups.push(relayDir.cleanup, nodeDir.cleanup)
    const relay = await Daemon.start(relayDir.dir, { netns: a.netns, listen: [`/ip4/${a.addr}/tcp/0`], args: ['--relay', '--no-mdns'] })
    cleanups.push(async () => await relay.stop())
    const status = async (dir: string, netns: string): Promise<any> => {
      const r = await pigeon(['--data-dir', dir, '--json', 'status'], { netns })
      assert.equal(r.code, 0, r.stderr)
      return JSON.parse(r.stdout)
    }
    // Nobody has dialled the relay back yet: its address is bound but not given out.
    const alone = await status(relayDir.dir, a.netns)
    assert.equal(alone.nat.reachability, 'unknown')
    assert.equal(alone.nat.unverified.length, 1)
    assert.ok(!alone.addresses.some((s: string) => s.startsWith(`/ip4/${a.addr}/`)), `not published yet: ${JSON.stringify(alone.addresses)}`)
    const text = await pigeon(['--data-dir', relayDir.dir, 'status'], { netns: a.netns })
    assert.match(text.stdout, new RegExp(`^nat +unknown \\(${alone.nat.unverified[0] as string} not yet dialled back by a peer, so not published\\);`, 'm'))

    const bootstrap = `${alone.nat.unverified[0] as string}/p2p/${relay.info.peerId}`
    const node = await Daemon.start(nodeDir.dir, { netns: b.netns, listen: [`/ip4/${b.addr}/tcp/0`], args: ['--bootstrap', bootstrap, '--no-mdns'] })
    cleanups.push(async () => await node.stop())
    const events = await NamespaceEvents.follow(nodeDir.dir, b.netns)
    cleanups.push(async () => await events.close())
    // The node asks the relay to dial it back as they connect; a verified address changes the
    // node's addresses (kad-dht switches to server mode on that change), and so republishes its
    // card a second later. Each card event is a moment to look.
    let seen = await status(nodeDir.dir, b.netns)
    for (let i = 0; i < 5 && (seen.nat.reachability !== 'public' || seen.dht.mode !== 'server'); i++) {
      await events.next('card', () => true, DEADLINE)
      seen = await status(nodeDir.dir, b.netns)
    }
    assert.equal(seen.nat.reachability, 'public', JSON.stringify(seen.nat))
    assert.ok(seen.addresses.some((s: string) => s.startsWith(`/ip4/${b.addr}/tcp/`)), `published: ${JSON.stringify(seen.addresses)}`)
    assert.deepEqual(seen.nat.unverified, [])
    assert.equal(seen.dht.mode, 'server', 'a DHT in auto mode serves once the node is publicly reachable')

    assert.equal(await node.stop(), 0)
    assert.equal(await relay.stop(), 0)
  })
})
