/**
 * Bootstrap peers (src/network/bootstrap.ts): which addresses qualify, that a node joins through
 * them at start and is not held up by one that does not answer, what status says when the node
 * is cut off, and `pigeon bootstrap add|list|remove` with `pigeon start --bootstrap`.
 */
import { describe, it, after } from 'node:test'
import assert from 'node:assert/strict'
import { createServer } from 'node:net'
import { readFile, stat } from 'node:fs/promises'
import { join } from 'node:path'
import { bootstrapProblem } from '../src/network/bootstrap.js'
import { statusText } from '../cli/format.js'
import { pigeon } from './cli-helpers.js'
import { Nodes, nextEvent, tempDir } from './helpers.js'

const DEADLINE = 15_000
const PEER = '12D3KooWGC6TvWhfapngX6wvJHMYvKpDMXPb3ZnCZ6dMoaMtimQ5'

/** A TCP port nothing listens on: the OS chose it, and it was closed again. */
async function closedPort (): Promise<number> {
  const server = createServer()
  await new Promise<void>(resolve => server.listen(0, '127.0.0.1', resolve))
  const { port } = server.address() as { port: number }
  await new Promise<void>(resolve => server.close(() => { resolve() }))
  return port
}

describe('bootstrap peers', () => {
  const nodes = new Nodes()
  const cleanups: Array<() => Promise<unknown>> = []
  after(async () => {
    await nodes.cleanup()
    for (const c of cleanups.reverse()) await c().catch(() => {})
  })

  it('accepts addresses that say where a peer is and end in its id, and refuses the rest, saying why', () => {
    for (const ok of [`/ip4/198.18.0.10/tcp/4001/p2p/${PEER}`, `/dns4/boot.example.org/tcp/443/wss/p2p/${PEER}`, `/ip6/2001:db8::1/tcp/4001/ws/p2p/${PEER}`]) {
      assert.equal(bootstrapProblem(ok), undefined, ok)
    }
    const refused: Array<[string, RegExp]> = [
      ['/ip4/198.18.0.10/tcp/4001', /must end in the peer's id/],
      [`/p2p/${PEER}`, /must say where the peer is/],
      ['/ip4/198.18.0.10/tcp/4001/p2p/QmNotAPeer', /not a multiaddr|not a peer id/],
      ['bootstrap.example.org:4001', /not a multiaddr/],
      ['', /not a multiaddr|must end/]
    ]
    for (const [addr, why] of refused) assert.match(bootstrapProblem(addr) ?? 'accepted', why, addr)
  })

  it('joins through a bootstrap peer at start; one that does not answer holds nothing up', async () => {
    const boot = await nodes.node()
    const bootAddr = boot.addresses().find(a => a.includes('/tcp/') && !a.includes('/ws'))
    assert.ok(bootAddr != null)
    const silent = `/ip4/127.0.0.1/tcp/${await closedPort()}/p2p/${PEER}`
    const alice = await nodes.createOnly({ bootstrap: [silent, bootAddr] })
    const joined = nextEvent(alice.libp2p, 'peer:connect', (p: { toString: () => string }) => p.toString() === boot.peerId.toString(), DEADLINE)
    await alice.start()
    await joined
    const status = await alice.status()
    assert.deepEqual(status.bootstrap, [{ addr: silent, connected: false }, { addr: bootAddr, connected: true }])
    assert.doesNotMatch(statusText(status), /not connected to any network/)
  })

  it('status says plainly when the node is connected to nothing, and how to fix it', async () => {
    const lone = await nodes.node()
    assert.match(statusText(await lone.status()), /^network +not connected to any network: there is no bootstrap peer to join through\. Add one with `pigeon bootstrap add <multiaddr>`/m)
    const cutOff = await nodes.node({ bootstrap: [`/ip4/127.0.0.1/tcp/${await closedPort()}/p2p/${PEER}`] })
    assert.match(statusText(await cutOff.status()), /^network +not connected to any network: none of 1 bootstrap peer answers/m)
  })

  it('createNode refuses a bad bootstrap address before opening anything', async () => {
    const { dir, cleanup } = await tempDir()
    cleanups.push(cleanup)
    await assert.rejects(nodes.node({ dataDir: join(dir, 'node'), bootstrap: ['/ip4/198.18.0.10/tcp/4001'] }), /bootstrap address "\/ip4\/198\.18\.0\.10\/tcp\/4001" must end in the peer's id/)
    await assert.rejects(stat(join(dir, 'node')), { code: 'ENOENT' })
  })

  it('pigeon bootstrap add, list and remove keep the list in config.json; bad input is one line and exit 2', async () => {
    const { dir, cleanup } = await tempDir()
    cleanups.push(cleanup)
    const run = async (...args: string[]): ReturnType<typeof pigeon> => await pigeon(['--data-dir', dir, ...args])
    const a = `/ip4/198.18.0.10/tcp/4001/p2p/${PEER}`
    const b = `/dns4/boot.example.org/tcp/4001/p2p/${PEER}`

    assert.match((await run('bootstrap', 'list')).stdout, /^no bootstrap peers: add one with/)
    const added = await run('bootstrap', 'add', a)
    assert.equal(added.code, 0, added.stderr)
    assert.equal(added.stdout, `added bootstrap peer ${a} (used from the next start)\n`)
    assert.equal((await run('bootstrap', 'add', a)).stdout, `${a} is already a bootstrap peer\n`)
    assert.equal((await run('bootstrap', 'add', b)).code, 0)
    assert.deepEqual(JSON.parse(await readFile(join(dir, 'config.json'), 'utf8')), { bootstrap: [a, b] })
    assert.deepEqual(JSON.parse((await run('--json', 'bootstrap', 'list')).stdout), { bootstrap: [a, b], source: 'file' })
    const fromEnv = await pigeon(['--data-dir', dir, 'bootstrap', 'list'], { env: { PIGEON_BOOTSTRAP: b } })
    assert.equal(fromEnv.stdout, `${b} (from PIGEON_BOOTSTRAP, which overrides config.json)\n`)

    const removed = await run('bootstrap', 'remove', PEER)
    assert.equal(removed.stdout, `removed bootstrap peer ${a}\nremoved bootstrap peer ${b}\n`)
    assert.deepEqual(JSON.parse(await readFile(join(dir, 'config.json'), 'utf8')), {})
    const missing = await run('bootstrap', 'remove', PEER)
    assert.equal(missing.code, 1)
    assert.match(missing.stderr, /^pigeon: "12D3KooW\w+" is not a bootstrap peer in .*config\.json\n$/)

    for (const args of [['bootstrap', 'add', '/ip4/198.18.0.10/tcp/4001'], ['start', '--listen', '/ip4/127.0.0.1/tcp/0', '--bootstrap', 'nonsense']]) {
      const bad = await run(...args)
      assert.equal(bad.code, 2, bad.stderr)
      assert.equal(bad.stderr.trim().split('\n').length, 1, bad.stderr)
      assert.match(bad.stderr, /^pigeon: (--bootstrap )?"[^"]+" (must end in the peer's id|is not a multiaddr)/)
    }
    await assert.rejects(stat(join(dir, 'identity.key')), { code: 'ENOENT' }, 'no node was started')
  })
})
