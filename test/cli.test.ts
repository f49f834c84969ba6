import { describe, it, before, after } from 'node:test'
import assert from 'node:assert/strict'
import { spawn } from 'node:child_process'
import { stat, readFile } from 'node:fs/promises'
import { join } from 'node:path'
import { Daemon, Lines, PIGEON_BIN, exited, pigeon } from './cli-helpers.js'
import { tempDir } from './helpers.js'
import { readTerminalQr } from './qr-helpers.js'
import { decodeCard } from '../src/contacts/card.js'

const json = (text: string): any => JSON.parse(text)

describe('pigeon CLI without a running node', () => {
  const dirs: Array<() => Promise<void>> = []
  after(async () => { await Promise.all(dirs.map(async c => c())) })

  it('init creates an owner-only identity and refuses to overwrite it', async () => {
    const { dir, cleanup } = await tempDir(); dirs.push(cleanup)
    const first = await pigeon(['--data-dir', dir, '--json', 'init'])
    assert.equal(first.code, 0, first.stderr)
    const { peerId } = json(first.stdout)
    assert.match(peerId, /^12D3KooW/)
    assert.equal((await stat(join(dir, 'identity.key'))).mode & 0o777, 0o600)

    const again = await pigeon(['--data-dir', dir, 'init'])
    assert.equal(again.code, 1)
    assert.equal(again.stdout, '')
    assert.match(again.stderr, /^pigeon: an identity already exists at .*\n$/)
  })

  it('commands that need a node say there is none, in one line, with exit code 3', async () => {
    const { dir, cleanup } = await tempDir(); dirs.push(cleanup)
    for (const args of [['status'], ['id'], ['send', 'bob', 'hi'], ['inbox'], ['contacts', 'list'], ['stop']]) {
      const result = await pigeon(['--data-dir', dir, ...args])
      assert.equal(result.code, 3, `${args.join(' ')}: ${result.stderr}`)
      assert.match(result.stderr, /^pigeon: no pigeon node is running with data dir .*\n$/)
    }
  })

  it('PIGEON_HOME chooses the data dir when --data-dir is absent', async () => {
    const { dir, cleanup } = await tempDir(); dirs.push(cleanup)
    const result = await pigeon(['init'], { env: { PIGEON_HOME: dir } })
    assert.equal(result.code, 0, result.stderr)
    assert.ok((await stat(join(dir, 'identity.key'))).isFile())
  })

  it('usage errors exit 2', async () => {
    const unknown = await pigeon(['frobnicate'])
    assert.equal(unknown.code, 2)
    assert.match(unknown.stderr, /unknown command 'frobnicate'/)
    const missing = await pigeon(['send', 'bob'])
    assert.equal(missing.code, 2)
  })
})

describe('pigeon CLI against running nodes', () => {
  const cleanups: Array<() => Promise<unknown>> = []
  let alice: Daemon
  let bob: Daemon
  let aliceDir: string
  let bobDir: string
  const as = async (dir: string, ...args: string[]): ReturnType<typeof pigeon> => pigeon(['--data-dir', dir, ...args])

  before(async () => {
    const a = await tempDir(); const b = await tempDir()
    aliceDir = a.dir; bobDir = b.dir
    alice = await Daemon.start(aliceDir)
    bob = await Daemon.start(bobDir)
    cleanups.push(async () => alice.stop(), async () => bob.stop(), a.cleanup, b.cleanup)
  })
  after(async () => { for (const c of cleanups) await c() })

  it('id prints the peer id, addresses and a contact card', async () => {
    const id = json((await as(aliceDir, '--json', 'id')).stdout)
    assert.equal(id.peerId, alice.info.peerId)
    assert.ok(id.addresses.some((a: string) => a.includes('/tcp/') && !a.includes('/ws')))
    assert.ok(id.addresses.some((a: string) => a.includes('/ws')))
    assert.match(id.card, /^pigeon-card:[A-Za-z0-9_-]+$/)
    const human = await as(aliceDir, 'id')
    assert.match(human.stdout, new RegExp(`peer id +${alice.info.peerId}`))
  })

  it('id --qr draws the contact card as a QR code that scans back to the card printed under it', async () => {
    const shown = await as(aliceDir, 'id', '--qr')
    assert.equal(shown.code, 0, shown.stderr)
    const lines = shown.stdout.replace(/\n$/, '').split('\n')
    const at = lines.findIndex(l => l.startsWith('peer id '))
    assert.ok(at > 10, shown.stdout)
    assert.equal(lines[at], `peer id ${alice.info.peerId}`)
    const card = /^card {4}(pigeon-card:\S+)$/.exec(lines[at + 1])?.[1]
    assert.ok(card != null, shown.stdout)
    // The card is signed afresh on every call: the code must hold the very card printed with it.
    assert.equal(readTerminalQr(lines.slice(0, at)), card)
    assert.equal(decodeCard(card).peerId.toString(), alice.info.peerId)

    const both = await as(aliceDir, '--json', 'id', '--qr')
    assert.equal(both.code, 2)
    assert.equal(both.stderr, 'pigeon: --qr draws a picture for people; use --json without it\n')
  })

  it('the control file is owner-only and the API refuses a wrong token with 401', async () => {
    const control = join(aliceDir, 'control.json')
    assert.equal((await stat(control)).mode & 0o777, 0o600)
    const { url, token } = JSON.parse(await readFile(control, 'utf8'))
    assert.equal((await fetch(`${url}/v1/status`)).status, 401)
    assert.equal((await fetch(`${url}/v1/status`, { headers: { authorization: 'Bearer nope' } })).status, 401)
    assert.equal((await fetch(`${url}/v1/status`, { headers: { authorization: `Bearer ${token}` } })).status, 200)
  })

  it('the control API answers bad requests with 4xx and survives them', async () => {
    const { url, token } = JSON.parse(await readFile(join(aliceDir, 'control.json'), 'utf8'))
    const call = async (method: string, path: string, body?: string): Promise<{ status: number, json: any }> => {
      const res = await fetch(url + path, { method, body, headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' } })
      return { status: res.status, json: await res.json() }
    }
    // A wait that is over before the store answers used to crash the daemon.
    const wait = await call('GET', '/v1/messages/00000000000000000000000000000000/wait?timeout=0')
    assert.ok(wait.status === 404 || wait.status === 408, String(wait.status))
    assert.equal((await call('POST', '/v1/messages', 'null')).status, 400)
    assert.equal((await call('POST', '/v1/messages', '[1]')).status, 400)
    assert.equal((await call('POST', '/v1/messages', '{"to":')).status, 400)
    assert.equal((await call('POST', '/v1/contacts', JSON.stringify({ name: 'x' }))).status, 400)
    assert.equal((await call('DELETE', '/v1/contacts/%E0%A4%A')).status, 400)
    assert.equal((await call('GET', '/v1/inbox?limit=-1')).status, 400)
    assert.deepEqual((await call('GET', '/v1/inbox?limit=0')).json, [])
    assert.deepEqual((await call('GET', '/v1/messages?limit=0')).json, [])
    assert.equal((await call('PUT', '/v1/status')).status, 405)
    assert.equal((await call('GET', '/v1/nothing')).status, 404)
    const big = await call('POST', '/v1/messages', JSON.stringify({ to: 'bob', text: 'x'.repeat(300_000) }))
    assert.equal(big.status, 413)
    assert.equal((await call('GET', '/v1/id')).status, 200, 'still running')
  })

  it('contacts add, list and remove; bad cards and names are refused', async () => {
    const added = await as(aliceDir, 'contacts', 'add', 'bob', bob.info.card)
    assert.equal(added.code, 0, added.stderr)
    const listed = json((await as(aliceDir, '--json', 'contacts', 'list')).stdout)
    assert.deepEqual(listed.map((c: any) => [c.name, c.peerId]), [['bob', bob.info.peerId]])

    const bad = await as(aliceDir, 'contacts', 'add', 'mallory', bob.info.card.slice(0, -4) + 'AAAA')
    assert.equal(bad.code, 2)
    assert.match(bad.stderr, /^pigeon: contact card .*\n$/)
    const badName = await as(aliceDir, 'contacts', 'add', 'no spaces', bob.info.card)
    assert.equal(badName.code, 2)

    assert.equal((await as(bobDir, 'contacts', 'add', 'temp', alice.info.card)).code, 0)
    assert.equal((await as(bobDir, 'contacts', 'remove', 'temp')).code, 0)
    assert.deepEqual(json((await as(bobDir, '--json', 'contacts', 'list')).stdout), [])
    const gone = await as(bobDir, 'contacts', 'remove', 'temp')
    assert.equal(gone.code, 2)
    assert.match(gone.stderr, /no contact named "temp"/)
  })

  it('send --wait reports delivery; the inbox shows the message once, as a request from a stranger; reading sends a read receipt', async () => {
    const sent = await as(aliceDir, '--json', 'send', 'bob', 'hello from the CLI', '--wait', '--timeout', '20')
    assert.equal(sent.code, 0, sent.stderr)
    const { id, state } = json(sent.stdout)
    assert.match(id, /^[0-9a-f]{32}$/)
    assert.equal(state, 'delivered')

    const peek = json((await as(bobDir, '--json', 'inbox', '--peek')).stdout)
    const mine = peek.filter((m: any) => m.id === id)
    assert.equal(mine.length, 1)
    assert.equal(mine[0].text, 'hello from the CLI')
    assert.equal(mine[0].from, alice.info.peerId)
    assert.equal(mine[0].request, true)
    assert.equal(mine[0].read, false)

    // Watch alice's events before bob reads, so the read receipt cannot slip past.
    const { url, token } = JSON.parse(await readFile(join(aliceDir, 'control.json'), 'utf8'))
    const controller = new AbortController()
    const events = await fetch(`${url}/v1/events`, { headers: { authorization: `Bearer ${token}` }, signal: controller.signal })
    const readSeen = (async () => {
      const decoder = new TextDecoder()
      let text = ''
      for await (const chunk of events.body as any) {
        text += decoder.decode(chunk, { stream: true })
        if (text.includes(`"id":"${id}"`) && text.includes('"state":"read"')) return true
      }
      return false
    })()

    const human = await as(bobDir, 'inbox', '--from', alice.info.peerId)
    assert.equal(human.code, 0, human.stderr)
    assert.match(human.stdout, /\] 12D3KooW.*\(request\): hello from the CLI\n/)
    const timer = setTimeout(() => { controller.abort() }, 15_000)
    try {
      assert.equal(await readSeen, true)
    } finally {
      clearTimeout(timer)
      controller.abort()
    }
    const status = json((await as(aliceDir, '--json', 'status')).stdout)
    assert.equal(status.outbox.read, 1)
    const bobStatus = json((await as(bobDir, '--json', 'status')).stdout)
    assert.equal(bobStatus.inbox.total, 1)
    assert.equal(bobStatus.inbox.unread, 0)
  })

  it('inbox --follow prints messages as they arrive', async () => {
    const follow = spawn(process.execPath, [PIGEON_BIN, '--data-dir', bobDir, '--json', 'inbox', '--follow', '--peek'], { stdio: ['ignore', 'pipe', 'pipe'] })
    const lines = new Lines(follow)
    try {
      // No race with the subscription: a message that lands before it is live comes in the backlog.
      const sent = await as(aliceDir, 'send', bob.info.peerId, 'are you following?')
      assert.equal(sent.code, 0, sent.stderr)
      const id = sent.stdout.trim()
      const line = await lines.next(l => l.includes(id))
      assert.equal(json(line).text, 'are you following?')
    } finally {
      follow.kill('SIGINT')
      const [code] = await exited(follow, 10_000)
      assert.equal(code, 0)
    }
  })

  it('status shows a readable dashboard and stable JSON', async () => {
    const human = await as(aliceDir, 'status')
    assert.equal(human.code, 0)
    for (const label of ['uptime', 'peers', 'outbox', 'inbox', 'store', 'listening']) assert.match(human.stdout, new RegExp(`^${label} `, 'm'))
    const s = json((await as(aliceDir, '--json', 'status')).stdout)
    assert.equal(s.peerId, alice.info.peerId)
    assert.equal(typeof s.version, 'string')
    assert.ok(s.peers.connected >= 1)
    assert.deepEqual(Object.keys(s.outbox).sort(), ['delivered', 'failed', 'queued', 'read', 'sent'])
    assert.ok(s.store.bytes > 0)
  })

  it('send refuses unknown recipients and empty or oversized text in one line', async () => {
    const unknown = await as(aliceDir, 'send', 'nobody', 'hi')
    assert.equal(unknown.code, 2)
    assert.equal(unknown.stderr, 'pigeon: "nobody" is neither a contact nor a peer id\n')
    const empty = await as(aliceDir, 'send', 'bob', '')
    assert.equal(empty.code, 2)
    const huge = await as(aliceDir, 'send', 'bob', 'x'.repeat(40_000))
    assert.equal(huge.code, 2)
    assert.match(huge.stderr, /larger than 32768 bytes/)
  })

  it('a second node on the same data dir is refused', async () => {
    const second = await pigeon(['--data-dir', aliceDir, 'start', '--listen', '/ip4/127.0.0.1/tcp/0'])
    assert.equal(second.code, 1)
    assert.match(second.stderr, /^pigeon: a pigeon node \(pid \d+\) is already running/)
  })

  it('stop ends the node, removes the control file, and the peer id survives a restart', async () => {
    const stopped = await as(bobDir, 'stop')
    assert.equal(stopped.code, 0, stopped.stderr + '\n--- bob:\n' + bob.stderr)
    assert.equal(await bob.exit(), 0, bob.stderr)
    await assert.rejects(stat(join(bobDir, 'control.json')), { code: 'ENOENT' })
    const before = bob.info.peerId
    bob = await Daemon.start(bobDir)
    assert.equal(bob.info.peerId, before)
    const id = json((await as(bobDir, '--json', 'id')).stdout)
    assert.equal(id.peerId, bob.info.peerId)
    const inbox = json((await as(bobDir, '--json', 'inbox', '--peek')).stdout)
    assert.equal(inbox.length, 2, 'messages survive the restart')
  })
})
