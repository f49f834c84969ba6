/**
 * UPnP: a node behind a home router that offers UPnP IGD (miniupnpd, Debian's
 * miniupnpd-nftables, run by the test in the router's namespace) maps its port there, publishes
 * the router's public address with it, and a stranger on the internet reaches it directly at that
 * address, through a router that drops everything unsolicited but what UPnP mapped.
 *
 * The public segment is 11.0.0.0/24 inside namespaces the test builds: upnp-nat refuses a router
 * whose external address libp2p classes private (a double NAT), so the NAT lab's 198.18.0.0/15
 * cannot be used. Nothing is routed out of the namespaces.
 */
import { describe, it, before, after } from 'node:test'
import assert from 'node:assert/strict'
import { Daemon, NamespaceEvents, pigeon } from './cli-helpers.js'
import { tempDir } from './helpers.js'
import { Internet, upnpLabUnavailable } from './support/netns.js'

const DEADLINE = 30_000

describe('UPnP on a home router', async () => {
  const unavailable = await upnpLabUnavailable()
  let net: Internet | undefined
  const cleanups: Array<() => Promise<unknown>> = []
  before(async () => { if (unavailable == null) net = await Internet.create('11.0.0') })
  after(async () => {
    for (const c of cleanups.reverse()) await c().catch(() => {})
    await net?.destroy()
  })

  async function node (netns: string, listen: string, args: string[]): Promise<{ dir: string, netns: string, daemon: Daemon }> {
    const t = await tempDir()
    cleanups.push(t.cleanup)
    const daemon = await Daemon.start(t.dir, { netns, listen: [listen], args: ['--no-mdns', ...args] })
    cleanups.push(async () => await daemon.stop())
    return { dir: t.dir, netns, daemon }
  }

  async function cli (n: { dir: string, netns: string }, ...args: string[]): Promise<string> {
    const r = await pigeon(['--data-dir', n.dir, ...args], { netns: n.netns, timeout: DEADLINE })
    assert.equal(r.code, 0, `pigeon ${args.join(' ')}: ${r.stderr}`)
    return r.stdout
  }

  it('a node maps its port, publishes the public address, and a stranger reaches it there directly', { skip: unavailable }, async () => {
    const relayHost = await net!.publicHost(11)
    const relay = await node(relayHost.netns, `/ip4/${relayHost.addr}/tcp/0`, ['--relay'])
    const relayAddr = `${JSON.parse(await cli(relay, '--json', 'status')).nat.unverified[0] as string}/p2p/${relay.daemon.info.peerId}`

    await net!.home(1, 'cone', { upnp: true })
    const aliceNs = await net!.host('alice')
    const aliceLan = await net!.attach(aliceNs, 1)
    const alice = await node(aliceNs, `/ip4/${aliceLan}/tcp/0`, ['--bootstrap', relayAddr, '--upnp'])
    const events = await NamespaceEvents.follow(alice.dir, aliceNs)
    cleanups.push(async () => await events.close())
    // The mapping adds the router's public address to alice's, which republishes her card.
    const mapped = (s: any): string | undefined => (s.addresses as string[]).find(a => a.startsWith('/ip4/11.0.0.101/tcp/'))
    let status = JSON.parse(await cli(alice, '--json', 'status'))
    for (let i = 0; i < 5 && mapped(status) == null; i++) {
      await events.next('card', () => true, DEADLINE)
      status = JSON.parse(await cli(alice, '--json', 'status'))
    }
    assert.ok(mapped(status) != null, `alice publishes her router's public address: ${JSON.stringify(status.addresses)}`)
    assert.equal(status.nat.reachability, 'public')
    assert.match(await cli(alice, 'status'), /^nat +public, UPnP on;/m)

    // A stranger on the internet finds alice's card on the DHT and dials the mapped address.
    const bobHost = await net!.publicHost(20)
    // Without WebRTC, bob has no way to a direct connection but the mapped address.
    const bob = await node(bobHost.netns, `/ip4/${bobHost.addr}/tcp/0`, ['--bootstrap', relayAddr, '--no-webrtc'])
    await cli(bob, 'contacts', 'add', 'alice', alice.daemon.info.peerId)
    await cli(bob, 'send', 'alice', 'through your router\'s door', '--wait', '--timeout', String(DEADLINE / 1000))
    assert.deepEqual(JSON.parse(await cli(alice, '--json', 'inbox')).map((m: { text: string }) => m.text), ['through your router\'s door'])
    const bobStatus = JSON.parse(await cli(bob, '--json', 'status'))
    assert.ok(bobStatus.peers.list.includes(alice.daemon.info.peerId) && !bobStatus.connections.relayedPeers.includes(alice.daemon.info.peerId), `bob reaches alice directly: ${JSON.stringify(bobStatus.connections)}`)
  })
})
