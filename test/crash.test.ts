/**
 * Crash safety with real processes and SIGKILL: a message `send` accepted is delivered exactly
 * once whichever side dies, and wherever; a channel post `post` accepted reaches the others once.
 */
import { describe, it, after } from 'node:test'
import assert from 'node:assert/strict'
import { ControlApi, Daemon, exited, pigeon } from './cli-helpers.js'
import { tempDir } from './helpers.js'

const json = (text: string): any => JSON.parse(text)

async function introduce (a: { dir: string, d: Daemon }, aName: string, b: { dir: string, d: Daemon }, bName: string): Promise<void> {
  assert.equal((await pigeon(['--data-dir', a.dir, 'contacts', 'add', bName, b.d.info.card])).code, 0)
  assert.equal((await pigeon(['--data-dir', b.dir, 'contacts', 'add', aName, a.d.info.card])).code, 0)
}

async function waitDelivered (dir: string, id: string): Promise<void> {
  // The control API's wait route blocks until the receipt (or its deadline).
  const { url, token } = json(await (await import('node:fs/promises')).readFile(`${dir}/control.json`, 'utf8'))
  const res = await fetch(`${url}/v1/messages/${id}/wait?state=delivered&timeout=30000`, { headers: { authorization: `Bearer ${token}` }, signal: AbortSignal.timeout(40_000) })
  const body: any = await res.json()
  assert.equal(res.status, 200, `message ${id}: ${JSON.stringify(body)}`)
  assert.ok(body.state === 'delivered' || body.state === 'read')
}

async function inboxIds (dir: string): Promise<string[]> {
  const { code, stdout, stderr } = await pigeon(['--data-dir', dir, '--json', 'inbox', '--peek'])
  assert.equal(code, 0, stderr)
  return json(stdout).map((m: any) => m.id)
}

describe('crash safety (SIGKILL)', () => {
  const cleanups: Array<() => Promise<unknown>> = []
  after(async () => { for (const c of cleanups.reverse()) await c().catch(() => {}) })

  /**
   * Alice and bob, each a daemon in its own temp dir, introduced to each other. The daemons are
   * stopped (whichever are running by then) and the dirs removed after the suite. `bobEnv` is
   * added to the environment of bob's first daemon.
   */
  async function pair (options: { bobEnv?: NodeJS.ProcessEnv } = {}): Promise<{ alice: { dir: string, d: Daemon }, bob: { dir: string, d: Daemon } }> {
    const a = await tempDir(); const b = await tempDir()
    cleanups.push(a.cleanup, b.cleanup)
    const alice = { dir: a.dir, d: await Daemon.start(a.dir) }
    const bob = { dir: b.dir, d: await Daemon.start(b.dir, { env: options.bobEnv }) }
    cleanups.push(async () => alice.d.stop(), async () => bob.d.stop())
    await introduce(alice, 'alice', bob, 'bob')
    return { alice, bob }
  }

  it('a sender killed right after send returned delivers every message exactly once after restart', async () => {
    const { alice, bob } = await pair()

    // Bob goes away so the messages cannot leave before alice dies.
    assert.equal(await bob.d.stop(), 0)
    const ids: string[] = []
    for (let i = 0; i < 5; i++) {
      const sent = await pigeon(['--data-dir', alice.dir, 'send', 'bob', `message ${i}`])
      assert.equal(sent.code, 0, sent.stderr)
      ids.push(sent.stdout.trim())
    }
    await alice.d.kill()
    assert.equal(alice.d.child.signalCode, 'SIGKILL')

    alice.d = await Daemon.start(alice.dir)
    bob.d = await Daemon.start(bob.dir)
    for (const id of ids) await waitDelivered(alice.dir, id)
    const received = await inboxIds(bob.dir)
    assert.deepEqual([...received].sort(), [...ids].sort(), 'each message exactly once')
  })

  it('a receiver killed after storing a message but before acknowledging it shows it exactly once', async () => {
    // PIGEON_FAULT makes bob SIGKILL itself between persisting a message and sending the ack.
    const { alice, bob } = await pair({ bobEnv: { PIGEON_FAULT: 'crash-before-ack' } })

    const sent = await pigeon(['--data-dir', alice.dir, 'send', 'bob', 'survive this'])
    assert.equal(sent.code, 0, sent.stderr)
    const id = sent.stdout.trim()
    const [, signal] = await exited(bob.d.child, 20_000)
    assert.equal(signal, 'SIGKILL', 'bob died at the fault point')

    const pending = json((await pigeon(['--data-dir', alice.dir, '--json', 'status'])).stdout)
    assert.equal(pending.outbox.delivered + pending.outbox.read, 0, 'no receipt reached alice')

    // Restarted without the fault, on new ports: bob greets its contacts, alice retries.
    bob.d = await Daemon.start(bob.dir)
    await waitDelivered(alice.dir, id)
    assert.deepEqual(await inboxIds(bob.dir), [id], 'stored once although it was delivered twice')
  })

  it('a receiver killed mid-stream while a burst arrives loses nothing and duplicates nothing', async () => {
    const { alice, bob } = await pair()

    const { url, token } = json(await (await import('node:fs/promises')).readFile(`${alice.dir}/control.json`, 'utf8'))
    const post = async (text: string): Promise<string> => {
      const res = await fetch(`${url}/v1/messages`, { method: 'POST', headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' }, body: JSON.stringify({ to: 'bob', text }) })
      assert.equal(res.status, 201)
      return ((await res.json()) as any).id
    }
    const ids: string[] = []
    for (let i = 0; i < 100; i++) ids.push(await post(`burst ${i}`))
    await bob.d.kill()
    bob.d = await Daemon.start(bob.dir)
    for (const id of ids) await waitDelivered(alice.dir, id)
    const received = await inboxIds(bob.dir)
    assert.equal(received.length, ids.length)
    assert.deepEqual([...received].sort(), [...ids].sort())
  })

  it('a member killed right after its channel posts were accepted publishes each once after restart', async () => {
    const { alice, bob } = await pair()
    const created = await pigeon(['--data-dir', alice.dir, 'channel', 'create', 'crew'])
    assert.equal(created.code, 0, created.stderr)
    const aliceEvents = await (await ControlApi.of(alice.dir)).events('?channel=crew')
    const joined = await pigeon(['--data-dir', bob.dir, 'channel', 'join', created.stdout.trim()])
    assert.equal(joined.code, 0, joined.stderr)
    await aliceEvents.next('channel', m => m.kind === 'join' && m.author === bob.d.info.peerId)
    aliceEvents.close()

    // Alice goes away so the posts cannot leave before bob dies.
    assert.equal(await alice.d.stop(), 0)
    const ids: string[] = []
    for (let i = 0; i < 5; i++) {
      const posted = await pigeon(['--data-dir', bob.dir, 'channel', 'post', 'crew', `post ${i}`])
      assert.equal(posted.code, 0, posted.stderr)
      ids.push(posted.stdout.trim())
    }
    await bob.d.kill()
    assert.equal(bob.d.child.signalCode, 'SIGKILL')

    alice.d = await Daemon.start(alice.dir)
    const events = await (await ControlApi.of(alice.dir)).events('?channel=crew')
    bob.d = await Daemon.start(bob.dir)
    for (const id of ids) await events.next('channel', m => m.id === id, 30_000)
    events.close()
    const read = await pigeon(['--data-dir', alice.dir, '--json', 'channel', 'read', 'crew'])
    const posts = read.stdout.trim().split('\n').map(l => JSON.parse(l)).filter(m => m.kind === 'text')
    assert.deepEqual(posts.map(m => m.id).sort(), [...ids].sort(), 'each post exactly once')
    // Bob's own view kept them through the crash, in the same order as alice's.
    const bobRead = await pigeon(['--data-dir', bob.dir, '--json', 'channel', 'read', 'crew'])
    assert.deepEqual(bobRead.stdout.trim().split('\n').map(l => JSON.parse(l).id), read.stdout.trim().split('\n').map(l => JSON.parse(l).id))
  })

  it('SIGTERM during a burst of sends: every send that was accepted is delivered once after restart', async () => {
    const { alice, bob } = await pair()
    const { url, token } = json(await (await import('node:fs/promises')).readFile(`${alice.dir}/control.json`, 'utf8'))
    // 200 sends in flight at once; the signal lands after the first 50 are accepted.
    const accepted: string[] = []
    let signalled = false
    const started = Date.now()
    const sends = Array.from({ length: 200 }, async (_, i) => {
      try {
        const res = await fetch(`${url}/v1/messages`, { method: 'POST', headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' }, body: JSON.stringify({ to: 'bob', text: `burst ${i}` }) })
        if (res.status !== 201) return
        accepted.push(((await res.json()) as any).id)
        if (accepted.length >= 50 && !signalled) {
          signalled = true
          alice.d.child.kill('SIGTERM')
        }
      } catch {
        // Refused or cut off by the shutdown: not accepted, so nothing was promised.
      }
    })
    const code = await alice.d.exit(20_000)
    await Promise.all(sends)
    assert.equal(code, 0, alice.d.stderr)
    assert.ok(Date.now() - started < 20_000, 'stopped within a bounded time')
    assert.match(alice.d.stderr, /SIGTERM received, stopping/)
    assert.ok(accepted.length >= 50)

    alice.d = await Daemon.start(alice.dir)
    for (const id of accepted) await waitDelivered(alice.dir, id)
    const received = await inboxIds(bob.dir)
    for (const id of accepted) assert.equal(received.filter(r => r === id).length, 1, `message ${id} exactly once`)
  })

  it('a second SIGTERM during shutdown exits at once', async () => {
    const a = await tempDir()
    cleanups.push(a.cleanup)
    const d = await Daemon.start(a.dir)
    // An open event stream holds the shutdown for its grace period: time for a second signal.
    const events = await (await ControlApi.of(a.dir)).events()
    const stopping = new Promise<void>(resolve => {
      d.child.stderr?.on('data', () => { if (d.stderr.includes('SIGTERM received, stopping')) resolve() })
    })
    d.child.kill('SIGTERM')
    await stopping
    const signalled = Date.now()
    d.child.kill('SIGTERM')
    const [code] = await exited(d.child, 10_000)
    events.close()
    assert.equal(code, 1)
    assert.match(d.stderr, /second SIGTERM, exiting now/)
    assert.ok(Date.now() - signalled < 2_000, 'at once, not after the grace period')
  })
})
