import { describe, it } from 'node:test'
import assert from 'node:assert/strict'
import { spawn } from 'node:child_process'
import { fileURLToPath } from 'node:url'
import { exited, Lines } from './cli-helpers.js'
import { tempDir } from './helpers.js'

describe('examples', () => {
  it('npm run demo shows a conversation with delivery and read receipts, then offline delivery through a relay', async () => {
    const demo = spawn(process.execPath, [fileURLToPath(new URL('../examples/demo.js', import.meta.url))], { stdio: ['ignore', 'pipe', 'pipe'] })
    let out = ''
    demo.stdout.setEncoding('utf8').on('data', (d: string) => { out += d })
    demo.stderr.setEncoding('utf8').on('data', (d: string) => { out += d })
    const [code] = await exited(demo, 30_000)
    assert.equal(code, 0, out)
    // Three messages exchanged directly, and a fourth that waited at bob's relay.
    assert.equal(out.match(/received "/g)?.length, 4, out)
    assert.equal(out.match(/ delivered$/gm)?.length, 4, out)
    assert.equal(out.match(/ read$/gm)?.length, 4, out)

    const stored = out.match(/alice's message ([0-9a-f]{8}) stored at 1 relay \(bob is offline\)$/m)
    assert.ok(stored != null, out)
    const id = stored[1]
    assert.match(out, /bob received "[^"]+" \(from his relay's mailbox\)$/m)
    assert.equal(out.match(/\(from his relay's mailbox\)$/gm)?.length, 1, out)
    // The stored message is the one bob gets after coming back, and alice sees it delivered and read.
    const lines = out.split('\n')
    const at = (pattern: RegExp): number => lines.findIndex(l => pattern.test(l))
    const order = [
      at(/ bob goes offline$/),
      at(new RegExp(`alice sends "[^"]+" \\(${id}, queued\\)$`)),
      at(new RegExp(`alice's message ${id} stored at 1 relay`)),
      at(/ bob comes back online/),
      at(/\(from his relay's mailbox\)$/),
      at(new RegExp(`alice's message ${id} delivered$`)),
      at(new RegExp(`alice's message ${id} read$`))
    ]
    assert.ok(order.every(i => i >= 0), `missing a line (${order.join(', ')}):\n${out}`)
    assert.deepEqual([...order].sort((a, b) => a - b), order, `out of order (${order.join(', ')}):\n${out}`)
    assert.match(out, /alice's outbox: \{"queued":0,"sent":0,"delivered":0,"read":3,"failed":0\}/)
    // The channel: both posts reach bob, shown in the same order they were posted.
    assert.match(out, /bob joined "friends"$/m)
    assert.match(out, /bob sees in friends: "Welcome to the group, Bob\." by alice$/m)
    assert.match(out, /bob's view of "friends": \["Welcome to the group, Bob\.","Groups too, and no server\."\]$/m)
  })

  it('the embedding example stops its node on SIGTERM and its process ends on its own', async () => {
    const tmp = await tempDir()
    try {
      const embed = spawn(process.execPath, [fileURLToPath(new URL('../examples/embed.js', import.meta.url)), tmp.dir], { stdio: ['ignore', 'pipe', 'pipe'] })
      let err = ''
      embed.stderr.setEncoding('utf8').on('data', (d: string) => { err += d })
      const card = await new Lines(embed).next(l => l.startsWith('card:'))
      assert.match(card, /pigeon-card:/)
      embed.kill('SIGTERM')
      const [code, signal] = await exited(embed, 15_000)
      assert.equal(signal, null, 'ended by itself, not by the signal')
      assert.equal(code, 0, err)
    } finally {
      await tmp.cleanup()
    }
  })
})
