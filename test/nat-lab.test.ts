/**
 * A small internet the test builds (test/support/netns.ts): a public segment 198.18.0.0/24 with
 * a bootstrap node and two relays, and home networks behind NAT routers (nftables masquerade):
 * alice and bob behind cone NATs, carol behind a symmetric one. Nobody configures a relay or
 * exchanges a card: each node joins through the bootstrap node, publishes its card on the DHT,
 * chooses its relays there, and adds others by peer id.
 *
 * libp2p classes 198.18.0.0/15 as private. pigeon's DHT is told to pass such addresses on
 * (`--dht-addresses all`), the classification a lab configures; relays are DHT servers by
 * being relays, whatever their address.
 *
 * Every node runs as `pigeon start` inside its namespace; the test drives it with the CLI there
 * and follows its events (test/support/follow-events.ts). Skipped where namespaces or nft are
 * missing (not root); CI runs as root and .ci/run installs nftables.
 */
import { describe, it, before, after } from 'node:test'
import assert from 'node:assert/strict'
import { Daemon, NamespaceEvents, pigeon, type CliResult } from './cli-helpers.js'
import { tempDir } from './helpers.js'
import { Internet, natLabUnavailable, type NatKind } from './support/netns.js'

const DEADLINE = 60_000
const NODE_ARGS = ['--dht-addresses', 'all', '--no-mdns']

interface LabNode {
  name: string
  netns: string
  dir: string
  daemon: Daemon
  events: NamespaceEvents
  listen: string[]
  args: string[]
}

describe('the NAT lab: strangers on different networks', async () => {
  const unavailable = await natLabUnavailable()
  let net: Internet | undefined
  const nodes = new Map<string, LabNode>()
  const cleanups: Array<() => Promise<unknown>> = []
  let bootstrap = ''

  async function cli (node: LabNode, ...args: string[]): Promise<CliResult> {
    return await pigeon(['--data-dir', node.dir, ...args], { netns: node.netns, timeout: DEADLINE })
  }

  async function ok (node: LabNode, ...args: string[]): Promise<string> {
    const r = await cli(node, ...args)
    assert.equal(r.code, 0, `pigeon ${args.join(' ')} on ${node.name}: ${r.stderr}`)
    return r.stdout
  }

  async function start (name: string, netns: string, listen: string[], args: string[], dir?: string): Promise<LabNode> {
    let dataDir = dir
    if (dataDir == null) {
      const t = await tempDir()
      cleanups.push(t.cleanup)
      dataDir = t.dir
    }
    const daemon = await Daemon.start(dataDir, { netns, listen, args })
    const events = await NamespaceEvents.follow(dataDir, netns)
    const node = { name, netns, dir: dataDir, daemon, events, listen, args }
    nodes.set(name, node)
    return node
  }

  async function stop (node: LabNode): Promise<void> {
    await node.events.close()
    assert.equal(await node.daemon.stop(), 0, `${node.name} stopped cleanly`)
  }

  /**
   * Resolves once `node` has chosen two relays on the DHT and published a card naming them:
   * what it says now, then (if not yet) the events that change it.
   */
  async function settled (node: LabNode): Promise<void> {
    let relays = JSON.parse(await ok(node, '--json', 'relays', 'list')) as Array<{ addedAt: number }>
    if (relays.length < 2) relays = await node.events.next<Array<{ addedAt: number }>>('relays', list => list.length >= 2, DEADLINE)
    const chosenAt = Math.max(...relays.map(r => r.addedAt))
    const status = JSON.parse(await ok(node, '--json', 'status'))
    if ((status.dht.published?.card ?? 0) <= chosenAt) await node.events.next('card', (p: { card: number }) => p.card > chosenAt, DEADLINE)
    // Reserved on a relay: reachable through its circuit. The card is republished whenever the
    // node's addresses change, so each card event is a moment to look again (a bounded few).
    const circuit = async (): Promise<boolean> => (JSON.parse(await ok(node, '--json', 'id')).addresses as string[]).some(a => a.includes('/p2p-circuit'))
    for (let i = 0; i < 5 && !await circuit(); i++) await node.events.next('card', () => true, DEADLINE)
    assert.ok(await circuit(), `${node.name} has a circuit address through one of its relays`)
  }

  async function home (name: string, n: number, nat: NatKind): Promise<LabNode> {
    await net!.home(n, nat)
    const netns = await net!.host(name)
    const addr = await net!.attach(netns, n)
    // A relay that dies is replaced after 5 s unreachable, not the default minute.
    // Debug logs, so that a failure can show what the relay finder did.
    return await start(name, netns, [`/ip4/${addr}/tcp/0`], [...NODE_ARGS, '--bootstrap', bootstrap, '--replace-relays-after', '5', '--log-level', 'debug'])
  }

  before(async () => {
    if (unavailable != null) return
    net = await Internet.create()
    const bootHost = await net.publicHost(10)
    const boot = await start('boot', bootHost.netns, [`/ip4/${bootHost.addr}/tcp/0`], [...NODE_ARGS, '--dht', 'server'])
    bootstrap = boot.daemon.tcpAddress
    await Promise.all([11, 12, 13].map(async (octet, i) => {
      const host = await net!.publicHost(octet)
      await start(`relay${i + 1}`, host.netns, [`/ip4/${host.addr}/tcp/0`], [...NODE_ARGS, '--relay', '--bootstrap', bootstrap])
    }))
    const homes = await Promise.all([home('alice', 1, 'cone'), home('bob', 2, 'cone'), home('carol', 3, 'symmetric')])
    await Promise.all(homes.map(settled))
  })

  after(async () => {
    for (const node of nodes.values()) {
      await node.events.close().catch(() => {})
      await node.daemon.stop().catch(() => {})
    }
    await net?.destroy()
    for (const c of cleanups.reverse()) await c().catch(() => {})
  })

  it('alice and bob, behind different NATs, add each other by peer id, message both ways, and hole-punch to a direct connection', { skip: unavailable }, async (t) => {
    const alice = nodes.get('alice')!
    const bob = nodes.get('bob')!
    const bobId = bob.daemon.info.peerId
    await ok(alice, 'contacts', 'add', 'bob', bobId)
    await ok(bob, 'contacts', 'add', 'alice', alice.daemon.info.peerId)
    await ok(alice, 'send', 'bob', 'hello from behind my NAT', '--wait', '--timeout', String(DEADLINE / 1000))
    // The first message goes through a relay's circuit; alice then upgrades that connection.
    const punched = await alice.events.next<{ peer: string, outcome: string, ms: number }>('hole-punch', e => e.peer === bobId, DEADLINE)
    t.diagnostic(`hole punch alice -> bob: ${punched.outcome} in ${punched.ms} ms`)
    assert.equal(punched.outcome, 'direct', 'ICE found a path through both NATs (STUN on the relays)')
    const status = JSON.parse(await ok(alice, '--json', 'status'))
    assert.ok(status.peers.list.includes(bobId) && !status.connections.relayedPeers.includes(bobId), `alice reaches bob directly, with no relay limits: ${JSON.stringify(status.connections)}`)
    assert.ok(status.nat.stunServers.length >= 1, `alice asks her relays for her public address: ${JSON.stringify(status.nat)}`)
    assert.equal(status.nat.holePunch.direct, 1)
    await ok(bob, 'send', 'alice', 'and from behind mine', '--wait', '--timeout', String(DEADLINE / 1000))
    assert.deepEqual(JSON.parse(await ok(bob, '--json', 'inbox')).map((m: { text: string }) => m.text), ['hello from behind my NAT'])
    assert.deepEqual(JSON.parse(await ok(alice, '--json', 'inbox')).map((m: { text: string }) => m.text), ['and from behind mine'])
  })

  it('alice reaches carol behind a symmetric NAT through a relay', { skip: unavailable }, async () => {
    const alice = nodes.get('alice')!
    const carol = nodes.get('carol')!
    await ok(alice, 'contacts', 'add', 'carol', carol.daemon.info.peerId)
    await ok(alice, 'send', 'carol', 'through the relay', '--wait', '--timeout', String(DEADLINE / 1000))
    assert.deepEqual(JSON.parse(await ok(carol, '--json', 'inbox')).map((m: { text: string }) => m.text), ['through the relay'])
    const punched = await alice.events.next<{ peer: string, outcome: string }>('hole-punch', e => e.peer === carol.daemon.info.peerId, DEADLINE)
    assert.equal(punched.outcome, 'failed', 'a new random port per destination defeats ICE')
    const status = JSON.parse(await ok(alice, '--json', 'status'))
    assert.ok(status.connections.relayedPeers.includes(carol.daemon.info.peerId), `alice reaches carol over a relayed connection: ${JSON.stringify(status.connections)}`)
    assert.match(await ok(alice, 'status'), /^peers +\d+ connected \(\d+ direct, [1-9]\d* relayed\)$/m)
  })

  it('bob offline: alice\'s message waits at the relays bob chose himself, and arrives when he is back', { skip: unavailable }, async () => {
    const alice = nodes.get('alice')!
    let bob = nodes.get('bob')!
    await stop(bob)
    const id = (await ok(alice, 'send', 'bob', 'while you were away')).trim()
    // The follower keeps every event line: one that came before this call is still found.
    const receipt = await alice.events.next<{ id: string, state: string, relays: string[] }>('receipt', r => r.id === id && r.state === 'stored', DEADLINE)
    assert.ok(receipt.relays.length >= 1, 'held by at least one of bob\'s relays')
    const delivered = alice.events.next('receipt', (r: { id: string, state: string }) => r.id === id && r.state === 'delivered', DEADLINE)
    bob = await start('bob', bob.netns, bob.listen, bob.args, bob.dir)
    await delivered
    const texts = JSON.parse(await ok(bob, '--json', 'inbox')).map((m: { text: string }) => m.text)
    assert.deepEqual(texts, ['hello from behind my NAT', 'while you were away'])
  })
  it('bob moves to another network: alice\'s next message reaches him with no card exchanged', { skip: unavailable }, async () => {
    const alice = nodes.get('alice')!
    const bob = nodes.get('bob')!
    await net!.home(4, 'cone')
    // The cable moves: bob's address and router change under his running node.
    const moved = await net!.attach(bob.netns, 4)
    assert.equal(moved, '10.4.0.2')
    await ok(alice, 'send', 'bob', 'found you again', '--wait', '--timeout', String(DEADLINE / 1000))
    const texts = JSON.parse(await ok(bob, '--json', 'inbox')).map((m: { text: string }) => m.text)
    assert.equal(texts.at(-1), 'found you again')
  })

  it('a relay dies: bob replaces it with another from the DHT within a bounded time, and messages still arrive', { skip: unavailable }, async () => {
    const alice = nodes.get('alice')!
    const bob = nodes.get('bob')!
    const before = JSON.parse(await ok(bob, '--json', 'relays', 'list')) as Array<{ peerId: string, source: string }>
    const victim = [...nodes.values()].find(n => n.name.startsWith('relay') && n.daemon.info.peerId === before[0].peerId)
    assert.ok(victim != null, `bob's first relay is one of the lab's: ${JSON.stringify(before)}`)
    await victim.events.close()
    await victim.daemon.kill()
    nodes.delete(victim.name)
    const began = Date.now()
    const replaced = await bob.events.next<Array<{ peerId: string }>>('relays', list => list.length === 2 && !list.some(r => r.peerId === victim.daemon.info.peerId), DEADLINE).catch(async (err) => {
      const finder = bob.daemon.stderr.split('\n').filter(l => /relay-finder|home-relays/.test(l)).slice(-30).join('\n')
      throw new Error(`${String(err.message)}: bob still has ${await ok(bob, '--json', 'relays', 'list')}; his relay finder said:\n${finder}`)
    })
    const after = JSON.parse(await ok(bob, '--json', 'relays', 'list')) as Array<{ peerId: string, source: string, connected: boolean }>
    assert.deepEqual(after.map(r => r.peerId).sort(), replaced.map(r => r.peerId).sort())
    assert.ok(after.every(r => r.source === 'discovered' && r.connected), `both of bob's relays are discovered and connected: ${JSON.stringify(after)}`)
    const listed = await ok(bob, 'relays', 'list')
    assert.ok(!listed.includes(victim.daemon.info.peerId), listed)
    // Within the bound: 5 s unreachable, the finder's 5 s check, and a DHT lookup.
    assert.ok(Date.now() - began < DEADLINE)
    await ok(alice, 'send', 'bob', 'after the relay died', '--wait', '--timeout', String(DEADLINE / 1000))
    const texts = JSON.parse(await ok(bob, '--json', 'inbox')).map((m: { text: string }) => m.text)
    assert.equal(texts.at(-1), 'after the relay died')
  })
})
