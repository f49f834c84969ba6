/**
 * Safety numbers (src/contacts/safety-number.ts) and what the CLI does with them: both sides see
 * the same 60 digits and QR code, `contacts verified` records the comparison, and a contact
 * name given to another identity is never trusted silently (contacts list, status, outbox and
 * the event stream say so until it is verified again).
 */
import { describe, it, before, after } from 'node:test'
import assert from 'node:assert/strict'
import { generateKeyPairFromSeed } from '@libp2p/crypto/keys'
import { peerIdFromPrivateKey } from '@libp2p/peer-id'
import { sha512 } from '@noble/hashes/sha2.js'
import { safetyNumber, SAFETY_QR_PREFIX } from '../src/contacts/safety-number.js'
import { ControlClient } from '../src/control/client.js'
import { Daemon, pigeon } from './cli-helpers.js'
import { tempDir } from './helpers.js'
import { readTerminalQr } from './qr-helpers.js'
import type { PeerId } from '@libp2p/interface'

/** Signal's numeric fingerprint, written again from its description with @noble/hashes. */
function half (peer: PeerId): string {
  const key = peer.publicKey!.raw
  let h = sha512(new Uint8Array([0, 0, ...key, ...new TextEncoder().encode(peer.toString())]))
  for (let i = 0; i < 5200; i++) h = sha512(new Uint8Array([...h, ...key]))
  let out = ''
  for (let c = 0; c < 6; c++) {
    let n = 0
    for (let b = 0; b < 5; b++) n = n * 256 + h[c * 5 + b]
    out += String(n % 100000).padStart(5, '0')
  }
  return out
}

const json = (s: string): any => JSON.parse(s)

describe('safety numbers', () => {
  it('are the same 60 digits on both sides, follow the published algorithm, and differ for another pair', async () => {
    const [a, b, c] = await Promise.all([1, 2, 3].map(async n => peerIdFromPrivateKey(await generateKeyPairFromSeed('Ed25519', new Uint8Array(32).fill(n)))))
    const ab = safetyNumber(a, b)
    assert.equal(ab.digits, safetyNumber(b, a).digits)
    assert.match(ab.digits, /^\d{60}$/)
    assert.deepEqual(ab.groups.join(''), ab.digits)
    assert.equal(ab.groups.length, 12)
    assert.equal(ab.qr, SAFETY_QR_PREFIX + ab.digits)
    assert.equal(ab.digits, [half(a), half(b)].sort().join(''))
    assert.notEqual(safetyNumber(a, c).digits, ab.digits)
  })

  describe('in the CLI', () => {
    const cleanups: Array<() => Promise<unknown>> = []
    let alice: Daemon
    let bob: Daemon
    let carol: Daemon
    let aliceDir: string
    let bobDir: string
    const as = async (dir: string, ...args: string[]): ReturnType<typeof pigeon> => await pigeon(['--data-dir', dir, ...args])

    before(async () => {
      const dirs = await Promise.all([tempDir(), tempDir(), tempDir()])
      aliceDir = dirs[0].dir
      bobDir = dirs[1].dir
      ;[alice, bob, carol] = await Promise.all(dirs.map(async d => await Daemon.start(d.dir)))
      cleanups.push(async () => await Promise.all([alice.stop(), bob.stop(), carol.stop()]), ...dirs.map(d => d.cleanup))
    })
    after(async () => { for (const c of cleanups) await c() })

    it('contacts verify shows both sides the same digits and QR code; verified records it', async () => {
      assert.equal((await as(aliceDir, 'contacts', 'add', 'bob', bob.info.card)).code, 0)
      assert.equal((await as(bobDir, 'contacts', 'add', 'alice', alice.info.card)).code, 0)
      const mine = json((await as(aliceDir, '--json', 'contacts', 'verify', 'bob')).stdout)
      const theirs = json((await as(bobDir, '--json', 'contacts', 'verify', 'alice')).stdout)
      assert.match(mine.digits, /^\d{60}$/)
      assert.equal(mine.digits, theirs.digits, 'both sides see the same number')
      assert.equal(mine.verifiedAt, null)

      const shown = await as(aliceDir, 'contacts', 'verify', 'bob')
      assert.equal(shown.code, 0, shown.stderr)
      const lines = shown.stdout.replace(/\n$/, '').split('\n')
      assert.equal(lines[0], `safety number with bob (${bob.info.peerId}):`)
      assert.equal(lines.slice(1, 4).join(' ').replace(/\s+/g, ''), mine.digits)
      assert.equal(readTerminalQr(lines.slice(4, -1)), SAFETY_QR_PREFIX + mine.digits, 'the QR code scans to the same digits')
      assert.equal(lines.at(-1), 'if bob sees the same digits, run: pigeon contacts verified bob')

      const verified = await as(aliceDir, 'contacts', 'verified', 'bob')
      assert.equal(verified.stdout, 'bob is verified\n')
      assert.match((await as(aliceDir, 'contacts', 'list')).stdout, /^bob\t.*\tverified\n$/)
      assert.ok(json((await as(aliceDir, '--json', 'contacts', 'verify', 'bob')).stdout).verifiedAt > 0)

      const unknown = await as(aliceDir, 'contacts', 'verify', 'nobody')
      assert.equal(unknown.code, 2)
      assert.equal(unknown.stderr, 'pigeon: no contact named "nobody"\n')
    })

    it('a name given to another identity is never trusted silently: list, status, outbox and the event stream warn until it is verified', async () => {
      const api = await ControlClient.connect(aliceDir)
      const controller = new AbortController()
      const events: any[] = []
      const watching = (async () => {
        for await (const e of api.events('/v1/events', controller.signal)) if (e.event === 'identity-changed') events.push(e.data)
      })()

      assert.equal((await as(aliceDir, 'contacts', 'remove', 'bob')).code, 0)
      assert.equal((await as(aliceDir, 'contacts', 'add', 'bob', carol.info.card)).code, 0)
      const listed = json((await as(aliceDir, '--json', 'contacts', 'list')).stdout)
      assert.deepEqual(listed[0].identityChanged.previous, bob.info.peerId)
      assert.equal(listed[0].verifiedAt, undefined, 'the old comparison does not carry over')
      assert.match((await as(aliceDir, 'contacts', 'list')).stdout, /\tIDENTITY CHANGED\n$/)

      const status = await as(aliceDir, 'status')
      assert.match(status.stdout, /^warning: bob's identity changed on .*: the name now belongs to .*, not .*\. Compare safety numbers \(pigeon contacts verify bob\) before you trust it\.$/m)
      assert.deepEqual(json((await as(aliceDir, '--json', 'status')).stdout).identityChanged.map((c: any) => [c.name, c.peerId, c.previous]), [['bob', carol.info.peerId, bob.info.peerId]])

      assert.equal((await as(aliceDir, 'send', 'bob', 'who are you?')).code, 0)
      const outbox = await as(aliceDir, 'outbox')
      assert.match(outbox.stderr, /^warning: bob's identity changed/)
      assert.match(outbox.stdout, /who are you\?/, 'the listing itself is unchanged')
      const verify = await as(aliceDir, 'contacts', 'verify', 'bob')
      assert.match(verify.stdout, /warning: bob's identity changed/)

      // The stream says it when it happens, and to every stream opened while it stands.
      const late: any[] = []
      const lateController = new AbortController()
      for await (const e of api.events('/v1/events', lateController.signal)) {
        if (e.event === 'identity-changed') { late.push(e.data); lateController.abort() }
      }
      assert.deepEqual(late.map(c => c.name), ['bob'])
      controller.abort()
      await watching
      // Once when it happened (twice if the stream opened just as it did: live, and as standing).
      assert.ok(events.length >= 1 && events.length <= 2, JSON.stringify(events))
      for (const c of events) assert.deepEqual([c.name, c.peerId, c.previous], ['bob', carol.info.peerId, bob.info.peerId])

      assert.equal((await as(aliceDir, 'contacts', 'verified', 'bob')).code, 0)
      assert.doesNotMatch((await as(aliceDir, 'status')).stdout, /warning/)
      assert.equal((await as(aliceDir, 'outbox')).stderr, '')
      assert.deepEqual(json((await as(aliceDir, '--json', 'status')).stdout).identityChanged, [])
    })
  })
})
