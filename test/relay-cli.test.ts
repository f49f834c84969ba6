/**
 * Relays with real processes: `pigeon start --relay` holds mail for peers that are offline, the
 * sender's CLI shows where a message is held and why a relay refused it, and `pigeon relays`
 * manages a node's home relays. Every node is a `pigeon start` child on 127.0.0.1 with LevelDB in
 * a temp dir. (That a peer cannot fetch another's mailbox is covered in-process by relay.test.ts.)
 *
 * The scenarios are independent of each other (each has its own relays and its own bob; alice is
 * shared) and run concurrently to keep the file fast; the tests within a nested describe run in
 * order, each going on from where the one before left off.
 */
import { describe, it, before, after } from 'node:test'
import assert from 'node:assert/strict'
import { stat } from 'node:fs/promises'
import { join } from 'node:path'
import { ControlApi, Daemon, pigeon, type CliResult } from './cli-helpers.js'
import { tempDir } from './helpers.js'
import { decodeCard } from '../src/index.js'

const json = (text: string): any => JSON.parse(text)

/** A data dir and the daemon running on it now (replaced when a test restarts it). */
interface Peer { dir: string, d: Daemon }

const as = async (p: Peer, ...args: string[]): Promise<CliResult> => pigeon(['--data-dir', p.dir, ...args])

/** Runs a CLI command that must succeed; returns its stdout. */
async function ok (p: Peer, ...args: string[]): Promise<string> {
  const result = await as(p, ...args)
  assert.equal(result.code, 0, `pigeon ${args.join(' ')}: ${result.stderr}`)
  return result.stdout
}

/** A control API call that must succeed, for steps where the CLI is not what is tested. */
async function api (p: Peer, method: string, path: string, body?: unknown): Promise<any> {
  const { status, json } = await (await ControlApi.of(p.dir)).call(method, path, { body })
  assert.ok(status >= 200 && status < 300, `${method} ${path}: ${status} ${JSON.stringify(json)}`)
  return json
}

/** The peer ids of the home relays a contact card names (each with one address or more). */
function cardRelays (card: string): string[] {
  return [...new Set(decodeCard(card).relays.map(a => a.getComponents().findLast(c => c.name === 'p2p')?.value ?? ''))].sort()
}

/** Ids in `pigeon --json inbox --peek`, oldest first. */
async function inboxIds (p: Peer): Promise<string[]> {
  return json(await ok(p, '--json', 'inbox', '--peek')).map((m: any) => m.id)
}

describe('relays with real processes', { concurrency: true }, () => {
  const cleanups: Array<() => Promise<unknown>> = []
  // Last in, first out: daemons stop before their dirs go.
  after(async () => { for (const c of cleanups.reverse()) await c().catch(() => {}) })

  /** A daemon on a new temp dir; stopped (whichever daemon runs there by then) and removed after the suite. */
  async function peer (args: string[] = []): Promise<Peer> {
    const t = await tempDir()
    cleanups.push(t.cleanup)
    const p: Peer = { dir: t.dir, d: await Daemon.start(t.dir, { args }) }
    cleanups.push(async () => p.d.stop())
    return p
  }

  let alice: Peer
  let aliceApi: ControlApi
  before(async () => {
    alice = await peer()
    aliceApi = await ControlApi.of(alice.dir)
  })

  /**
   * Bob with `relays` as home relays, so his card names them, known to alice as `name`; then bob
   * stops. Bob has alice's card too unless `stranger`: his delivery receipt goes back to her
   * directly, as she has no relay of her own. With `cli`, the steps a user takes go through
   * the CLI (`relays add`, `--json id`, `contacts add`), else through the control API.
   */
  async function offlineBob (name: string, relays: Peer[], options: { stranger?: boolean, cli?: boolean } = {}): Promise<Peer> {
    const bob = await peer()
    if (options.stranger !== true) await api(bob, 'POST', '/v1/contacts', { name: 'alice', card: alice.d.info.card })
    let card: string
    if (options.cli === true) {
      for (const relay of relays) {
        assert.equal(await ok(bob, 'relays', 'add', relay.d.info.card), `added home relay ${relay.d.info.peerId}\n`)
      }
      card = json(await ok(bob, '--json', 'id')).card
      assert.equal(await ok(alice, 'contacts', 'add', name, card), `added ${name} (${bob.d.info.peerId})\n`)
    } else {
      for (const relay of relays) await api(bob, 'POST', '/v1/relays', { card: relay.d.info.card })
      card = (await api(bob, 'GET', '/v1/id')).card
      await api(alice, 'POST', '/v1/contacts', { name, card })
    }
    assert.deepEqual(cardRelays(card), relays.map(r => r.d.info.peerId).sort(), 'bob\'s card names his home relays')
    assert.equal(await bob.d.stop(), 0)
    return bob
  }

  /** Sends from alice's CLI; resolves with the id and the relays once the 'stored' receipt event arrives. */
  async function sendStored (to: string, text: string): Promise<{ id: string, relays: string[] }> {
    // Subscribed before the send, so the receipt cannot slip past.
    const events = await aliceApi.events()
    try {
      const id = (await ok(alice, 'send', to, text)).trim()
      assert.match(id, /^[0-9a-f]{32}$/)
      const stored = await events.next('receipt', r => r.id === id && r.state === 'stored')
      return { id, relays: [...stored.relays].sort() }
    } finally {
      events.close()
    }
  }

  describe('one relay, used through the CLI', { concurrency: false }, () => {
    let relay: Peer
    let bob: Peer

    it('holds mail for an offline peer: the sender sees it stored at the relay, then delivered once the peer is back', async () => {
      relay = await peer(['--relay'])
      const relayId = relay.d.info.peerId
      bob = await offlineBob('bob1', [relay], { cli: true })

      const { id, relays } = await sendStored('bob1', 'while you were away')
      assert.deepEqual(relays, [relayId])
      const record = await api(alice, 'GET', `/v1/messages/${id}`)
      assert.equal(record.state, 'sent')
      assert.deepEqual(record.storedAt, [relayId])
      const outbox = json(await ok(alice, '--json', 'outbox', '--to', 'bob1'))
      assert.deepEqual(outbox.map((r: any) => [r.id, r.state, r.storedAt]), [[id, 'sent', [relayId]]])
      assert.match(await ok(alice, 'outbox', '--to', 'bob1'), new RegExp(` to bob1: while you were away  ${id.slice(0, 8)} sent \\(held by 1 relay\\)\\n$`))
      const held = json(await ok(relay, '--json', 'status')).relay
      assert.deepEqual([held.messages, held.recipients, held.deposited], [1, 1, 1])

      bob.d = await Daemon.start(bob.dir)
      const delivered = await aliceApi.waitFor(id, 'delivered')
      assert.equal(delivered.state, 'delivered')
      assert.deepEqual(delivered.storedAt, [relayId])
      const inbox = json(await ok(bob, '--json', 'inbox', '--peek'))
      assert.deepEqual(inbox.map((m: any) => [m.id, m.from, m.text]), [[id, alice.d.info.peerId, 'while you were away']])
    })

    it('relays list shows the home relay connected, its round trip and the mail it held; remove forgets it; removing an unknown one exits 2', async () => {
      const relayId = relay.d.info.peerId
      // Bob drained the relay in the test above, over a connection its keep-alive tag keeps open.
      const listed = json(await ok(bob, '--json', 'relays', 'list'))
      assert.deepEqual(listed.map((r: any) => [r.peerId, r.connected, r.source]), [[relayId, true, 'manual']])
      assert.ok(listed[0].addrs.length > 0 && listed[0].addrs.every((a: string) => a.endsWith(`/p2p/${relayId}`)), listed[0].addrs.join(' '))
      assert.ok(typeof listed[0].rttMs === 'number' && listed[0].rttMs >= 0, `a ping answered: ${JSON.stringify(listed[0])}`)
      // Bob has drained it (the count is in relay.test.ts, where the drains are known).
      assert.ok(Number.isInteger(listed[0].mail.messages) && Number.isInteger(listed[0].mail.bytes) && listed[0].mail.at > 0, JSON.stringify(listed[0].mail))
      assert.match(await ok(bob, 'relays', 'list'), new RegExp(`^${relayId}\\tconnected, \\d+ ms round trip\\tmail: held \\d+ \\([\\d.]+ K?i?B\\) for you \\d+s ago\\tby hand\\t/ip4/127\\.0\\.0\\.1/\\S+/p2p/${relayId}\\n$`))

      assert.equal(await ok(bob, 'relays', 'remove', relayId), `removed home relay ${relayId}\n`)
      assert.equal(await ok(bob, 'relays', 'list'), 'no home relays\n')
      assert.deepEqual(json(await ok(bob, '--json', 'relays', 'list')), [])
      assert.deepEqual(cardRelays((await api(bob, 'GET', '/v1/id')).card), [], 'the card no longer names it')

      const again = await as(bob, 'relays', 'remove', relayId)
      assert.equal(again.code, 2)
      assert.equal(again.stderr, `pigeon: ${relayId} is not a home relay\n`)
    })
  })

  describe('two home relays, one SIGKILLed after it took the deposit', { concurrency: false }, () => {
    let r1: Peer
    let bob: Peer
    let id: string

    it('the other relay hands the message over exactly once and the sender sees it delivered', async () => {
      let r2: Peer
      [r1, r2] = await Promise.all([peer(['--relay']), peer(['--relay'])])
      bob = await offlineBob('bob2', [r1, r2])

      const stored = await sendStored('bob2', 'two copies, one message')
      id = stored.id
      assert.deepEqual(stored.relays, [r1.d.info.peerId, r2.d.info.peerId].sort(), 'stored at both relays')
      await r1.d.kill()

      bob.d = await Daemon.start(bob.dir)
      await aliceApi.waitFor(id, 'delivered')
      assert.deepEqual(await inboxIds(bob), [id])
    })

    it('the killed relay, started again, still holds its copy; bob drains it and keeps one copy', async () => {
      // Same data dir, and the same ports (remembered), so bob's record of r1 still finds it.
      r1.d = await Daemon.start(r1.dir, { args: ['--relay'] })
      // bob redials his home relays every few seconds, so he may drain r1 before we look: the
      // proof that r1 kept its copy is that, since its restart, it deleted one for bob.
      // Nothing reports a drain that finds only a duplicate (bob's inbox drops it without a
      // `message` event, alice's record is delivered already), hence a bounded loop on the
      // relay's status, through the API (no CLI process each time).
      const deadline = Date.now() + 15_000
      let held = (await api(r1, 'GET', '/v1/status')).relay
      while (held.messages !== 0 || held.deleted < 1) {
        assert.ok(Date.now() < deadline, `bob did not drain the restarted relay within 15 s: ${JSON.stringify(held)}`)
        await new Promise(resolve => setTimeout(resolve, 100))
        held = (await api(r1, 'GET', '/v1/status')).relay
      }
      assert.equal(held.deleted, 1, 'the restarted relay still held exactly the one copy')
      assert.deepEqual(await inboxIds(bob), [id], 'still exactly one copy')
    })
  })

  it('a relay stopped and started again keeps its mailboxes', async () => {
    const relay = await peer(['--relay'])
    const bob = await offlineBob('bob3', [relay])
    const { id } = await sendStored('bob3', 'survives the relay restarting')

    assert.equal(await relay.d.stop(), 0)
    relay.d = await Daemon.start(relay.dir, { args: ['--relay'] })
    const held = json(await ok(relay, '--json', 'status')).relay
    assert.deepEqual([held.messages, held.recipients], [1, 1])

    bob.d = await Daemon.start(bob.dir)
    await aliceApi.waitFor(id, 'delivered')
    assert.deepEqual(await inboxIds(bob), [id])
  })

  it('a relay\'s refusal reaches the sender\'s outbox: over quota, the second message stays queued with the reason', async () => {
    const relay = await peer(['--relay', '--relay-quota-messages', '1'])
    const relayId = relay.d.info.peerId
    await offlineBob('bob5', [relay])
    const first = await sendStored('bob5', 'fits the quota')
    assert.deepEqual(first.relays, [relayId])
    // A refused deposit keeps the message queued and says why in an `outbox` event.
    const aliceEvents = await aliceApi.events('')
    let second: string
    try {
      second = (await ok(alice, 'send', 'bob5', 'over the quota')).trim()
      await aliceEvents.next('outbox', r => r.id === second && String(r.lastError).includes('quota-exceeded'))
    } finally {
      aliceEvents.close()
    }

    const outbox = json(await ok(alice, '--json', 'outbox', '--to', 'bob5'))
    assert.deepEqual(outbox.map((r: any) => [r.id, r.state]), [[first.id, 'sent'], [second, 'queued']])
    assert.deepEqual(outbox[0].storedAt, [relayId])
    assert.equal(outbox[1].storedAt, undefined)
    assert.match(outbox[1].lastError, new RegExp(`${relayId}: quota-exceeded`))
    const human = (await ok(alice, 'outbox', '--to', 'bob5')).split('\n')
    assert.match(human[0], new RegExp(` to bob5: fits the quota  ${first.id.slice(0, 8)} sent \\(held by 1 relay\\)$`))
    assert.match(human[1], new RegExp(` to bob5: over the quota  ${second.slice(0, 8)} queued  \\[.*${relayId}: quota-exceeded.*\\]$`))

    const status = (await api(relay, 'GET', '/v1/status')).relay
    assert.equal(status.messages, 1)
    assert.ok(status.refused['quota-exceeded'] >= 1, JSON.stringify(status.refused))
  })

  it('a message from a stranger held by a relay comes back delivered to a sender with no relay', async () => {
    const relay = await peer(['--relay'])
    const bob = await offlineBob('bob4', [relay], { stranger: true })
    const { id } = await sendStored('bob4', 'from someone you do not know')
    bob.d = await Daemon.start(bob.dir)
    // The backlog first: the message may have been drained before the stream opened.
    const bobEvents = await (await ControlApi.of(bob.dir)).events('?inbox-after=0')
    try {
      const arrived = await bobEvents.next('message', m => m.id === id)
      assert.equal(arrived.request, true)
    } finally {
      bobEvents.close()
    }
    // Bob has it now; his receipt needs no more than a direct delivery to alice.
    await aliceApi.waitFor(id, 'delivered', 5_000)
  })

  it('bad relay flags exit 2 with one line, and start no node', async () => {
    const { dir, cleanup } = await tempDir()
    cleanups.push(cleanup)
    const start = async (...args: string[]): Promise<CliResult> => pigeon(['--data-dir', dir, 'start', '--listen', '/ip4/127.0.0.1/tcp/0', ...args])
    for (const value of ['0', 'abc']) {
      const bad = await start('--relay', '--relay-quota-messages', value)
      assert.equal(bad.code, 2, bad.stderr)
      assert.equal(bad.stderr, `pigeon: --relay-quota-messages "${value}" is not a positive whole number\n`)
    }
    const noRelay = await start('--relay-quota-messages', '5')
    assert.equal(noRelay.code, 2, noRelay.stderr)
    assert.equal(noRelay.stderr, 'pigeon: --relay-* options need --relay\n')
    await assert.rejects(stat(join(dir, 'identity.key')), { code: 'ENOENT' }, 'no node was started')
  })
})
