/**
 * Announced addresses (src/network/announce.ts): what may be announced, that a node's card names
 * them first while peers still reach it, and the setting through the CLI.
 */
import { describe, it, after } from 'node:test'
import assert from 'node:assert/strict'
import { stat, writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import { announceProblem } from '../src/network/announce.js'
import { decodeCard } from '../src/contacts/card.js'
import { Daemon, pigeon } from './cli-helpers.js'
import { Nodes, tempDir } from './helpers.js'

const PUBLIC = '/ip4/203.0.113.7/tcp/4001'
const PUBLIC_WS = '/dns4/relay.example.org/tcp/443/wss'
const DEADLINE = 20_000

describe('announced addresses', () => {
  const nodes = new Nodes()
  const cleanups: Array<() => Promise<unknown>> = []
  after(async () => {
    await nodes.cleanup()
    for (const c of cleanups.reverse()) await c().catch(() => {})
  })

  it('accepts dialable TCP and WebSockets addresses and refuses the rest, saying why', () => {
    for (const ok of [PUBLIC, PUBLIC_WS, '/ip6/2001:db8::7/tcp/4001/ws', '/ip4/192.168.1.20/tcp/4001', '/dns/relay.example.org/tcp/4001']) {
      assert.equal(announceProblem(ok), undefined, ok)
    }
    const refused: Array<[string, RegExp]> = [
      ['/ip4/127.0.0.1/tcp/4001', /loopback/],
      ['/ip4/127.8.9.1/tcp/4001/ws', /loopback/],
      ['/ip6/::1/tcp/4001', /loopback/],
      ['/dns4/localhost/tcp/4001', /loopback/],
      ['/ip4/0.0.0.0/tcp/4001', /unspecified/],
      ['/ip4/203.0.113.7/tcp/0', /not port 0/],
      ['/ip4/203.0.113.7/udp/4001/quic-v1', /TCP port/],
      ['/ip4/203.0.113.7/tcp/4001/p2p/12D3KooWGC6TvWhfapngX6wvJHMYvKpDMXPb3ZnCZ6dMoaMtimQ5', /peer id/],
      ['/p2p-circuit', /must start with/],
      ['not an address', /not a multiaddr/],
      ['', /not a multiaddr|must start/]
    ]
    for (const [addr, why] of refused) assert.match(announceProblem(addr) ?? 'accepted', why, addr)
  })

  it('puts announced addresses first in the card, and a peer holding the card still reaches the node', async () => {
    const bob = await nodes.node({ announce: [PUBLIC, PUBLIC_WS] })
    const card = decodeCard(bob.card())
    assert.deepEqual(card.addrs.slice(0, 2).map(a => a.toString()), [PUBLIC, PUBLIC_WS])
    assert.ok(card.addrs.slice(2).some(a => a.toString().startsWith('/ip4/127.0.0.1/tcp/')), 'the listen addresses follow')
    assert.deepEqual(bob.addresses().slice(0, 2), [PUBLIC, PUBLIC_WS].map(a => `${a}/p2p/${bob.peerId.toString()}`))

    // 203.0.113.0/24 is a documentation range: nothing answers there, the loopback address does.
    const alice = await nodes.node()
    await alice.addContact('bob', bob.card())
    const id = await alice.send('bob', 'found you')
    const delivered = await alice.waitFor(id, 'delivered', { signal: AbortSignal.timeout(DEADLINE) })
    assert.equal(delivered.state, 'delivered')
  })

  it('does not take an announced port for a listen port to reuse at the next start', async () => {
    const { dir, cleanup } = await tempDir()
    cleanups.push(cleanup)
    const first = await nodes.node({ dataDir: dir, announce: ['/ip4/203.0.113.7/tcp/1'] })
    const port = (a: string): string | undefined => /^\/ip4\/127\.0\.0\.1\/tcp\/(\d+)/.exec(a)?.[1]
    const listened = first.addresses().map(port).filter(p => p != null)
    await first.stop()
    const second = await nodes.node({ dataDir: dir, announce: ['/ip4/203.0.113.7/tcp/1'] })
    assert.deepEqual(second.addresses().map(port).filter(p => p != null), listened)
  })

  it('createNode refuses an address that cannot be announced, before opening anything', async () => {
    const { dir, cleanup } = await tempDir()
    cleanups.push(cleanup)
    await assert.rejects(nodes.node({ dataDir: join(dir, 'node'), announce: ['/ip4/127.0.0.1/tcp/4001'] }), /announce address "\/ip4\/127\.0\.0\.1\/tcp\/4001" is a loopback address/)
    await assert.rejects(stat(join(dir, 'node')), { code: 'ENOENT' })
  })

  it('pigeon start --announce, PIGEON_ANNOUNCE and config.json announce; a bad address is one line and exit 2', async () => {
    const { dir, cleanup } = await tempDir()
    cleanups.push(cleanup)
    const d = await Daemon.start(dir, { args: ['--announce', PUBLIC] })
    cleanups.push(async () => d.stop())
    assert.equal(decodeCard(d.info.card).addrs[0].toString(), PUBLIC)
    const shown = await pigeon(['--data-dir', dir, '--json', 'config', 'show'], { env: { PIGEON_ANNOUNCE: `${PUBLIC},${PUBLIC_WS}` } })
    assert.equal(shown.code, 0, shown.stderr)
    const announce = JSON.parse(shown.stdout).settings?.announce ?? JSON.parse(shown.stdout).announce
    assert.deepEqual(announce.value, [PUBLIC, PUBLIC_WS], shown.stdout)
    assert.equal(announce.source, 'env')
    assert.equal(await d.stop(), 0, d.stderr)

    await writeFile(join(dir, 'config.json'), JSON.stringify({ announce: [PUBLIC_WS] }))
    const fromFile = await pigeon(['--data-dir', dir, '--json', 'config', 'show'])
    const inFile = JSON.parse(fromFile.stdout).settings?.announce ?? JSON.parse(fromFile.stdout).announce
    assert.deepEqual([inFile.value, inFile.source], [[PUBLIC_WS], 'file'], fromFile.stdout)
    await writeFile(join(dir, 'config.json'), JSON.stringify({ announce: ['/ip6/::1/tcp/4001'] }))
    const badFile = await pigeon(['--data-dir', dir, 'config', 'show'])
    assert.equal(badFile.code, 2, badFile.stderr)
    assert.ok(badFile.stderr.startsWith('pigeon: config.json: announce: "/ip6/::1/tcp/4001" is a loopback address'), badFile.stderr)

    for (const [args, env, message] of [
      [['--announce', '/ip4/127.0.0.1/tcp/4001'], {}, '--announce "/ip4/127.0.0.1/tcp/4001" is a loopback address'],
      [[], { PIGEON_ANNOUNCE: 'nonsense' }, 'PIGEON_ANNOUNCE: "nonsense" is not a multiaddr']
    ] as Array<[string[], NodeJS.ProcessEnv, string]>) {
      const fresh = await tempDir()
      cleanups.push(fresh.cleanup)
      const result = await pigeon(['--data-dir', fresh.dir, 'start', '--listen', '/ip4/127.0.0.1/tcp/0', ...args], { env })
      assert.equal(result.code, 2, result.stderr)
      assert.ok(result.stderr.startsWith(`pigeon: ${message}`), result.stderr)
      assert.equal(result.stderr.trim().split('\n').length, 1, result.stderr)
      await assert.rejects(stat(join(fresh.dir, 'identity.key')), { code: 'ENOENT' }, 'no node was started')
    }
  })
})
