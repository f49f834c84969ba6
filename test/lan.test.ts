/**
 * Peers on one LAN find each other with mDNS (src/network/lan.ts) and add each other by peer id
 * alone, asking the peer itself for its card (/pigeon/card/1.0.0): no relay, no DHT, no internet.
 * The LAN is two network namespaces on a bridge that the test builds and deletes
 * (test/support/netns.ts); it is skipped where namespaces cannot be made (not root).
 */
import { describe, it, before, after } from 'node:test'
import assert from 'node:assert/strict'
import { mdnsOn } from '../src/network/lan.js'
import { Daemon, pigeon } from './cli-helpers.js'
import { tempDir } from './helpers.js'
import { Lan, netnsUnavailable } from './support/netns.js'

describe('mDNS: when it runs', () => {
  it('runs for a desktop node listening beyond loopback, not for a relay or a loopback-only node, unless told', () => {
    assert.equal(mdnsOn(undefined, false, ['/ip4/0.0.0.0/tcp/0', '/ip4/0.0.0.0/tcp/0/ws']), true)
    assert.equal(mdnsOn(undefined, false, ['/ip4/192.168.1.20/tcp/4001']), true)
    assert.equal(mdnsOn(undefined, true, ['/ip4/0.0.0.0/tcp/4001']), false, 'a relay')
    assert.equal(mdnsOn(undefined, false, ['/ip4/127.0.0.1/tcp/0', '/ip6/::1/tcp/0']), false, 'loopback only')
    assert.equal(mdnsOn(true, true, ['/ip4/127.0.0.1/tcp/0']), true, 'told to')
    assert.equal(mdnsOn(false, false, ['/ip4/0.0.0.0/tcp/0']), false, 'told not to')
  })
})

describe('two nodes on one LAN', async () => {
  const unavailable = await netnsUnavailable()
  let lan: Lan | undefined
  const cleanups: Array<() => Promise<unknown>> = []
  before(async () => { if (unavailable == null) lan = await Lan.create('10.77.0', 2) })
  after(async () => {
    for (const c of cleanups.reverse()) await c().catch(() => {})
    await lan?.destroy()
  })

  it('find each other by mDNS; bob adds alice by peer id alone and they message, with no relay and no DHT', { skip: unavailable }, async () => {
    const [a, b] = lan!.hosts
    const aliceDir = await tempDir()
    const bobDir = await tempDir()
    cleanups.push(aliceDir.cleanup, bobDir.cleanup)
    const alice = await Daemon.start(aliceDir.dir, { netns: a.netns, listen: [`/ip4/${a.addr}/tcp/0`], args: ['--dht', 'off'] })
    cleanups.push(async () => await alice.stop())
    // Bob's node asks the LAN who is there as it starts, and alice's answers: by the time the
    // CLI below has started (hundreds of ms), bob knows where alice is.
    const bob = await Daemon.start(bobDir.dir, { netns: b.netns, listen: [`/ip4/${b.addr}/tcp/0`], args: ['--dht', 'off'] })
    cleanups.push(async () => await bob.stop())

    const added = await pigeon(['--data-dir', bobDir.dir, 'contacts', 'add', 'alice', alice.info.peerId], { netns: b.netns })
    assert.equal(added.code, 0, added.stderr)
    assert.equal(added.stdout, `added alice (${alice.info.peerId})\n`)
    const sent = await pigeon(['--data-dir', bobDir.dir, 'send', 'alice', 'hello over the LAN', '--wait'], { netns: b.netns })
    assert.equal(sent.code, 0, sent.stderr)
    const inbox = await pigeon(['--data-dir', aliceDir.dir, '--json', 'inbox'], { netns: a.netns })
    assert.deepEqual(JSON.parse(inbox.stdout).map((m: { text: string }) => m.text), ['hello over the LAN'])

    assert.equal(await bob.stop(), 0)
    assert.equal(await alice.stop(), 0)
  })
})
