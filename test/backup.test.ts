import { describe, it, before, after } from 'node:test'
import assert from 'node:assert/strict'
import { createReadStream, existsSync } from 'node:fs'
import { mkdir, readFile, readdir, stat, writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import { ControlApi, Daemon, pigeon } from './cli-helpers.js'
import { tempDir } from './helpers.js'
import { readBackup, snapshotPayload, writeBackupFile } from '../src/backup/index.js'
import { MemoryLevel } from 'memory-level'
import { Store } from '../src/store/store.js'

const json = (text: string): any => JSON.parse(text)

/** Every record of a backup file, checked by the library reader. */
async function records (file: string, passphrase?: string): Promise<Array<{ key: string, value: string }>> {
  const out: Array<{ key: string, value: string }> = []
  for await (const r of readBackup(createReadStream(file), { passphrase })) {
    if (r.type === 'entry') out.push({ key: Buffer.from(r.key).toString('utf8'), value: Buffer.from(r.value).toString('utf8') })
  }
  return out
}

describe('pigeon backup and restore', () => {
  const cleanups: Array<() => Promise<unknown>> = []
  let root: string
  let alice: Daemon
  let bob: Daemon
  let aliceDir: string
  let bobDir: string
  let aliceApi: ControlApi
  let bobApi: ControlApi
  const as = async (dir: string, args: string[], env?: NodeJS.ProcessEnv): ReturnType<typeof pigeon> => pigeon(['--data-dir', dir, ...args], { env, timeout: 60_000 })
  /** A path under the test's temp dir. */
  const at = (name: string): string => join(root, name)

  before(async () => {
    const tmp = await tempDir('pigeon-backup-')
    root = tmp.dir
    aliceDir = at('alice'); bobDir = at('bob')
    alice = await Daemon.start(aliceDir)
    bob = await Daemon.start(bobDir)
    cleanups.push(async () => alice.stop(), async () => bob.stop(), tmp.cleanup)
    aliceApi = await ControlApi.of(aliceDir)
    bobApi = await ControlApi.of(bobDir)
    assert.equal((await as(aliceDir, ['contacts', 'add', 'bob', bob.info.card])).code, 0)
    assert.equal((await as(bobDir, ['contacts', 'add', 'alice', alice.info.card])).code, 0)
    for (const text of ['one', 'two']) {
      const sent = await as(aliceDir, ['send', 'bob', `alice says ${text}`, '--wait', '--timeout', '20'])
      assert.equal(sent.code, 0, sent.stderr)
    }
    const events = await aliceApi.events('?inbox-after=0')
    try {
      const sent = await as(bobDir, ['--json', 'send', 'alice', 'bob says hi', '--wait', '--timeout', '20'])
      assert.equal(sent.code, 0, sent.stderr)
      await events.next('message', m => m.text === 'bob says hi')
    } finally {
      events.close()
    }
    assert.equal((await as(aliceDir, ['channel', 'create', 'team'])).code, 0)
  })
  after(async () => { for (const c of cleanups.reverse()) await c() })

  /** Starts a node on `dir`, runs `check` against it, and stops it. */
  async function onNode (dir: string, check: (api: ControlApi, daemon: Daemon) => Promise<void>): Promise<void> {
    const daemon = await Daemon.start(dir)
    try {
      await check(await ControlApi.of(dir), daemon)
    } finally {
      assert.equal(await daemon.stop(), 0, daemon.stderr)
    }
  }

  it('a backup restored into a new dir is the same node: peer id, contacts, inbox, outbox, channels', async () => {
    const file = at('alice.bak')
    const backup = await as(aliceDir, ['--json', 'backup', file])
    assert.equal(backup.code, 0, backup.stderr)
    assert.equal(backup.stderr, '', 'no progress output when stderr is not a terminal')
    const summary = json(backup.stdout)
    assert.equal(summary.peerId, alice.info.peerId)
    assert.equal(summary.encrypted, false)
    assert.ok(summary.sublevels.inbox >= 1 && summary.sublevels.outbox >= 2 && summary.sublevels.contacts === 1, JSON.stringify(summary))
    assert.equal((await stat(file)).mode & 0o777, 0o600)
    assert.equal((await stat(file)).size, summary.bytes)
    assert.deepEqual((await readdir(root)).filter(n => n.endsWith('.tmp')), [])

    const [contacts, inbox, outbox, channels] = await Promise.all(['/v1/contacts', '/v1/inbox', '/v1/messages', '/v1/channels'].map(async p => (await aliceApi.call('GET', p)).json))
    const restoredDir = at('alice-restored')
    const restore = await as(restoredDir, ['--json', 'restore', file])
    assert.equal(restore.code, 0, restore.stderr)
    assert.equal(json(restore.stdout).peerId, alice.info.peerId)
    assert.equal((await stat(join(restoredDir, 'identity.key'))).mode & 0o777, 0o600)
    assert.deepEqual((await readdir(restoredDir)).sort(), ['identity.key', 'store'])

    await onNode(restoredDir, async (api, daemon) => {
      assert.equal(daemon.info.peerId, alice.info.peerId)
      const id = json((await as(restoredDir, ['--json', 'id'])).stdout)
      assert.equal(id.peerId, alice.info.peerId)
      assert.deepEqual(json((await as(restoredDir, ['--json', 'contacts', 'list'])).stdout), contacts)
      const restoredInbox = json((await as(restoredDir, ['--json', 'inbox', '--peek'])).stdout)
      assert.deepEqual(restoredInbox, inbox)
      assert.ok(restoredInbox.some((m: any) => m.text === 'bob says hi'))
      const texts = (list: any[]): string[] => list.filter(r => r.kind === 'text').map(r => `${r.id} ${r.text as string}`)
      const restoredOutbox = (await api.call('GET', '/v1/messages')).json
      assert.deepEqual(texts(restoredOutbox), texts(outbox))
      assert.deepEqual(texts(restoredOutbox).map(t => t.slice(33)), ['alice says one', 'alice says two'])
      assert.deepEqual((await api.call('GET', '/v1/channels')).json.map((c: any) => [c.id, c.name]), channels.map((c: any) => [c.id, c.name]))
    })
  })

  it('a backup taken during a burst of incoming messages is consistent and restores', async (t) => {
    const before = (await aliceApi.call('GET', '/v1/inbox')).json.length
    // Bob sends without pause until the backup is done, then 20 more that it cannot hold.
    let backupDone = false
    const sending = (async () => {
      const sent: string[] = []
      for (let after = 0; after < 20;) {
        if (backupDone) after += 10
        if (sent.length > 5000) throw new Error('the backup took too long')
        sent.push(...await Promise.all(Array.from({ length: 10 }, async () => {
          const { status, json } = await bobApi.call('POST', '/v1/messages', { body: { to: 'alice', text: `burst ${sent.length}` } })
          assert.equal(status, 201)
          return json.id as string
        })))
      }
      return sent
    })()
    const events = await aliceApi.events(`?inbox-after=${before}`)
    let ids: string[]
    const file = at('burst.bak')
    try {
      // The backup starts once the burst is arriving, and runs while the rest comes in.
      await events.next('message', m => typeof m.text === 'string' && m.text.startsWith('burst '), 30_000)
      const backup = await as(aliceDir, ['--json', 'backup', file]).finally(() => { backupDone = true })
      assert.equal(backup.code, 0, backup.stderr)
      ids = await sending
      // Everything delivered before the restored node (the same peer id) comes up.
      await Promise.all(ids.map(async id => bobApi.waitFor(id, 'delivered', 60_000)))
    } finally {
      events.close()
    }

    const entries = await records(file)
    const inbox = entries.filter(e => e.key.startsWith('!inbox!')).map(e => JSON.parse(e.value))
    const seen = entries.filter(e => e.key.startsWith('!seen!'))
    // Inbox record and its seen index are written in one batch: a consistent snapshot holds both or neither.
    assert.equal(inbox.length, seen.length)
    const seqs = new Set(inbox.map(r => r.seq))
    for (const s of seen) assert.ok(seqs.has(JSON.parse(s.value)), `seen ${s.key} points at a message in the backup`)
    for (const r of inbox) assert.ok(typeof r.text === 'string' && typeof r.from === 'string' && typeof r.id === 'string', 'every message is complete')
    const burstInBackup = inbox.filter(r => r.text.startsWith('burst ')).length
    assert.ok(burstInBackup >= 1 && burstInBackup <= ids.length - 20, `${burstInBackup} of ${ids.length}`)
    t.diagnostic(`${burstInBackup} of ${ids.length} burst messages were in the backup`)
    assert.deepEqual(inbox.map(r => r.seq), [...inbox.map(r => r.seq)].sort((a, b) => a - b))

    const restoredDir = at('burst-restored')
    const restore = await as(restoredDir, ['--json', 'restore', file])
    assert.equal(restore.code, 0, restore.stderr)
    await onNode(restoredDir, async (api) => {
      const restored = (await api.call('GET', '/v1/inbox')).json
      assert.equal(restored.length, inbox.length)
      assert.deepEqual(restored.map((r: any) => r.id), inbox.map(r => r.id))
    })
  })

  it('an encrypted backup restores with its passphrase and is refused, cleanly, with a wrong one', async () => {
    const file = at('secret.bak')
    const backup = await as(aliceDir, ['--json', 'backup', file], { PIGEON_BACKUP_PASSPHRASE: 'correct horse battery staple' })
    assert.equal(backup.code, 0, backup.stderr)
    assert.equal(json(backup.stdout).encrypted, true)
    const raw = await readFile(file)
    assert.equal(raw.subarray(0, 8).toString(), 'PIGEONBK')
    assert.ok(!raw.includes(Buffer.from(alice.info.peerId)), 'the peer id is not readable without the passphrase')
    assert.ok(!raw.includes(Buffer.from('alice says one')))

    const wrongFile = at('wrong-pass'); await writeFile(wrongFile, 'Tr0ub4dor&3\n')
    const rightFile = at('right-pass'); await writeFile(rightFile, 'correct horse battery staple\n')
    const target = at('secret-restored')
    const wrong = await as(target, ['restore', file, '--passphrase-file', wrongFile])
    assert.equal(wrong.code, 1)
    assert.equal(wrong.stdout, '')
    assert.equal(wrong.stderr, 'pigeon: wrong passphrase for this backup\n')
    assert.equal(existsSync(target), false, 'nothing written')
    const none = await as(target, ['restore', file], { PIGEON_BACKUP_PASSPHRASE: '' })
    assert.equal(none.code, 1)
    assert.match(none.stderr, /^pigeon: the backup is encrypted: give its passphrase .*\n$/)
    assert.equal(existsSync(target), false)

    const right = await as(target, ['--json', 'restore', file, '--passphrase-file', rightFile])
    assert.equal(right.code, 0, right.stderr)
    assert.equal(json(right.stdout).peerId, alice.info.peerId)
    assert.ok((await records(file, 'correct horse battery staple')).some(e => e.value.includes('alice says one')))
    await onNode(target, async (_api, daemon) => {
      assert.equal(daemon.info.peerId, alice.info.peerId)
      assert.equal(json((await as(target, ['--json', 'contacts', 'list'])).stdout)[0].name, 'bob')
    })
  })

  it('a truncated, corrupted or foreign file is refused in one line and nothing is written', async () => {
    const plain = at('alice.bak')
    const secret = at('secret.bak')
    const good = await readFile(plain)
    const goodSecret = await readFile(secret)
    const flip = (buf: Buffer, at: number): Buffer => { const b = Buffer.from(buf); b[at] ^= 0x40; return b }
    const cases: Array<[string, Buffer, RegExp, NodeJS.ProcessEnv?]> = [
      ['empty', Buffer.alloc(0), /not a pigeon backup/],
      ['foreign', Buffer.from('hello, world\n'), /not a pigeon backup/],
      ['cut in the header', good.subarray(0, 12), /truncated/],
      ['cut in a frame', good.subarray(0, Math.floor(good.length / 2)), /truncated/],
      ['final frame missing', good.subarray(0, good.length - 1), /truncated/],
      ['trailing data', Buffer.concat([good, Buffer.from([0])]), /data follows its final frame/],
      ['flipped payload byte', flip(good, good.length - 40), /damaged/],
      ['cut encrypted', goodSecret.subarray(0, goodSecret.length - 20), /truncated/, { PIGEON_BACKUP_PASSPHRASE: 'correct horse battery staple' }],
      ['flipped encrypted byte', flip(goodSecret, goodSecret.length - 30), /damaged or altered/, { PIGEON_BACKUP_PASSPHRASE: 'correct horse battery staple' }]
    ]
    for (const [name, bytes, message, env] of cases) {
      const file = at(`bad-${name.replace(/ /g, '-')}.bak`)
      await writeFile(file, bytes)
      const target = at(`bad-${name.replace(/ /g, '-')}-restored`)
      const result = await as(target, ['restore', file], env)
      assert.equal(result.code, 1, `${name}: ${result.stderr}`)
      assert.match(result.stderr, /^pigeon: [^\n]+\n$/, name)
      assert.match(result.stderr, message, name)
      assert.equal(existsSync(target), false, `${name}: nothing written`)
    }
    // A target dir that exists is left as it was (here: empty).
    const existing = at('bad-existing'); await mkdir(existing)
    await writeFile(at('bad-existing.bak'), good.subarray(0, good.length - 1))
    assert.equal((await as(existing, ['restore', at('bad-existing.bak')])).code, 1)
    assert.deepEqual(await readdir(existing), [])
  })

  it('restore refuses a data dir with a live node, an identity, or a store with data', async () => {
    const file = at('alice.bak')
    const live = await as(aliceDir, ['restore', file])
    assert.equal(live.code, 1)
    assert.match(live.stderr, /^pigeon: a pigeon node \(pid \d+\) is running with data dir .*\n$/)

    const withIdentity = at('has-identity')
    assert.equal((await as(withIdentity, ['init'])).code, 0)
    const refused = await as(withIdentity, ['restore', file])
    assert.equal(refused.code, 1)
    assert.match(refused.stderr, /^pigeon: data dir .* already holds an identity; restore into a new data dir\n$/)

    const withStore = at('has-store')
    const store = await Store.open(join(withStore, 'store'))
    await store.putMeta('something', 1)
    await store.close()
    const refusedStore = await as(withStore, ['restore', file])
    assert.equal(refusedStore.code, 1)
    assert.match(refusedStore.stderr, /^pigeon: data dir .* already holds a store with data; restore into a new data dir\n$/)
    assert.equal(existsSync(join(withStore, 'identity.key')), false)

    // An empty store (a node that never wrote anything, say) is not data: restore goes ahead.
    const emptyStore = at('empty-store')
    await (await Store.open(join(emptyStore, 'store'))).close()
    const ok = await as(emptyStore, ['--json', 'restore', file])
    assert.equal(ok.code, 0, ok.stderr)
    assert.equal(json(ok.stdout).peerId, alice.info.peerId)
  })

  it('backup needs a running node and a readable passphrase file', async () => {
    const nobody = at('nobody')
    const none = await as(nobody, ['backup', at('x.bak')])
    assert.equal(none.code, 3)
    const missing = await as(aliceDir, ['backup', at('y.bak'), '--passphrase-file', at('no-such-file')])
    assert.equal(missing.code, 1)
    assert.match(missing.stderr, /^pigeon: cannot read the passphrase file .*ENOENT\n$/)
    assert.equal(existsSync(at('y.bak')), false)
  })
})

describe('backup library', () => {
  /** Cheap scrypt for tests; files record their parameters, so the reader follows. */
  const FAST = { N: 1024, r: 8, p: 1 }

  it('a snapshot is the database as it was when taken, across many frames, plain and encrypted', async (t) => {
    const { dir, cleanup } = await tempDir('pigeon-backup-lib-')
    t.after(cleanup)
    const db = new MemoryLevel<string, string>()
    await db.open()
    const inbox = db.sublevel('inbox')
    const big = 'x'.repeat(3000)
    await inbox.batch(Array.from({ length: 2000 }, (_, i) => ({ type: 'put' as const, key: String(i).padStart(6, '0'), value: i % 10 === 0 ? big : `m${i}` })))
    const identity = new Uint8Array(68).fill(7)
    for (const passphrase of [undefined, 'pass']) {
      const payload = snapshotPayload(db, identity, { peerId: 'p', createdAt: 1, version: 'test' })
      // Written after the snapshot: must not appear in it.
      await inbox.put('zzz', 'late')
      await inbox.del('000001')
      const file = join(dir, `lib-${passphrase ?? 'plain'}.bak`)
      const summary = await writeBackupFile(file, payload, { passphrase, scrypt: FAST })
      assert.equal(summary.encrypted, passphrase != null)
      assert.ok(summary.bytes > 3 * 64 * 1024, 'several frames')
      const got: string[] = []
      let info: any
      let key: Uint8Array | undefined
      for await (const r of readBackup(createReadStream(file), { passphrase })) {
        if (r.type === 'entry') got.push(`${Buffer.from(r.key).toString()}=${Buffer.from(r.value).toString().slice(0, 3)}`)
        else if (r.type === 'info') info = r.info
        else if (r.type === 'identity') key = r.key
      }
      assert.equal(info.peerId, 'p')
      assert.deepEqual(new Uint8Array(key as Uint8Array), identity)
      if (passphrase == null) {
        assert.equal(got.length, 2000)
        assert.ok(got.includes('!inbox!000001=m1'))
        assert.ok(!got.some(e => e.startsWith('!inbox!zzz')))
      } else {
        // The second snapshot was taken after those writes.
        assert.equal(got.length, 2000)
        assert.ok(!got.includes('!inbox!000001=m1'))
        assert.ok(got.includes('!inbox!zzz=lat'))
      }
    }
    await db.close()
  })
})
