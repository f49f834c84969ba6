/**
 * A mixed-version pair, as during a rolling upgrade: daemons of the previous release (built by
 * compat/run.sh, path in PIGEON_PREV_BIN) and of this one, side by side on 127.0.0.1. Direct
 * messages both ways with receipts, and mail held for an offline peer by a relay of the other
 * version. Run with `npm run test:compat`; not part of `npm test`, which needs no git history.
 */
import { describe, it, after } from 'node:test'
import assert from 'node:assert/strict'
import { readFile } from 'node:fs/promises'
import { Daemon, pigeon } from '../cli-helpers.js'
import { tempDir } from '../helpers.js'

const PREV = process.env.PIGEON_PREV_BIN
if (PREV == null) throw new Error('PIGEON_PREV_BIN is not set: run this through `npm run test:compat`')

interface Node { dir: string, d: Daemon, bin?: string, version: 'previous' | 'current' }

describe(`mixed versions: ${process.env.PIGEON_PREV_REV ?? 'previous'} and this build`, () => {
  const cleanups: Array<() => Promise<unknown>> = []
  after(async () => { for (const c of cleanups.reverse()) await c().catch(() => {}) })

  async function start (version: Node['version'], args: string[] = []): Promise<Node> {
    const t = await tempDir()
    cleanups.push(t.cleanup)
    const bin = version === 'previous' ? PREV : undefined
    const node: Node = { dir: t.dir, bin, version, d: await Daemon.start(t.dir, { bin, args }) }
    cleanups.push(async () => node.d.stop())
    return node
  }

  async function run (node: Node, ...args: string[]): Promise<string> {
    const r = await pigeon(['--data-dir', node.dir, ...args], { bin: node.bin, timeout: 60_000 })
    assert.equal(r.code, 0, `${node.version}: pigeon ${args.join(' ')}: ${r.stderr}`)
    return r.stdout
  }

  async function introduce (a: Node, aName: string, b: Node, bName: string): Promise<void> {
    await run(a, 'contacts', 'add', bName, b.d.info.card)
    await run(b, 'contacts', 'add', aName, a.d.info.card)
  }

  async function waitState (node: Node, id: string, state: 'delivered' | 'read'): Promise<void> {
    const { url, token } = JSON.parse(await readFile(`${node.dir}/control.json`, 'utf8'))
    const res = await fetch(`${url}/v1/messages/${id}/wait?state=${state}&timeout=30000`, { headers: { authorization: `Bearer ${token}` }, signal: AbortSignal.timeout(40_000) })
    assert.equal(res.status, 200, `${node.version}: message ${id} not ${state}: ${await res.text()}`)
  }

  async function inboxTexts (node: Node): Promise<string[]> {
    return JSON.parse(await run(node, '--json', 'inbox', '--peek')).map((m: any) => m.text)
  }

  it('direct messages both ways, with delivery and read receipts', async () => {
    const old = await start('previous')
    const current = await start('current')
    await introduce(old, 'old', current, 'current')
    const toCurrent = (await run(old, 'send', 'current', 'from the previous release')).trim()
    await waitState(old, toCurrent, 'delivered')
    const toOld = (await run(current, 'send', 'old', 'from this build')).trim()
    await waitState(current, toOld, 'delivered')
    assert.deepEqual(await inboxTexts(current), ['from the previous release'])
    assert.deepEqual(await inboxTexts(old), ['from this build'])
    // Reading (inbox without --peek) sends read receipts across the version boundary.
    await run(current, 'inbox')
    await run(old, 'inbox')
    await waitState(old, toCurrent, 'read')
    await waitState(current, toOld, 'read')
  })

  for (const [relayVersion, clientVersion] of [['current', 'previous'], ['previous', 'current']] as const) {
    it(`a ${relayVersion} relay holds mail for an offline ${clientVersion} peer and hands it over`, async () => {
      const relay = await start(relayVersion, ['--relay'])
      const sender = await start(relayVersion === 'current' ? 'current' : 'previous')
      let client = await start(clientVersion)
      await run(client, 'relays', 'add', relay.d.info.card)
      // The client's card now names its relay.
      const card = JSON.parse(await run(client, '--json', 'id')).card
      await run(sender, 'contacts', 'add', 'client', card)
      await run(client, 'contacts', 'add', 'sender', sender.d.info.card)
      assert.equal(await client.d.stop(), 0)

      const id = (await run(sender, 'send', 'client', 'held by a relay of the other version')).trim()
      // The client is offline: the sender leaves the message at the client's relay, and the
      // client fetches it from there when it is back.
      client = { ...client, d: await Daemon.start(client.dir, { bin: client.bin }) }
      cleanups.push(async () => client.d.stop())
      await waitState(sender, id, 'delivered')
      assert.deepEqual(await inboxTexts(client), ['held by a relay of the other version'])
    })
  }
})
