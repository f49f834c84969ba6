import { describe, it, after } from 'node:test'
import assert from 'node:assert/strict'
import { Nodes, TCP, WS, nextEvent } from './helpers.js'
import type { InboxRecord } from '../src/index.js'

for (const [transport, listen] of [['TCP', TCP], ['WebSockets', WS]] as const) {
  describe(`direct messages over ${transport}`, () => {
    const nodes = new Nodes()
    after(async () => { await nodes.cleanup() })

    it('delivers an encrypted message with delivery and read receipts', async () => {
      const alice = await nodes.node({ memory: true, listen: [...listen] })
      const bob = await nodes.node({ memory: true, listen: [...listen] })
      assert.ok(bob.addresses().some(a => transport === 'TCP' ? !a.includes('/ws') : a.includes('/ws')))
      await alice.addContact('bob', bob.card())

      const arrived = nextEvent<InboxRecord>(bob, 'message')
      const id = await alice.send('bob', 'hello bob')
      assert.match(id, /^[0-9a-f]{32}$/)
      const delivered = await alice.waitFor(id, 'delivered', { signal: AbortSignal.timeout(15_000) })
      assert.equal(delivered.state, 'delivered')
      // status() reports the send-to-delivered latency over the last minutes.
      const { delivery } = await alice.status()
      assert.equal(delivery.count, 1)
      assert.ok(delivery.p50Ms != null && delivery.p99Ms != null && delivery.p50Ms <= delivery.p99Ms)

      const message = await arrived
      assert.equal(message.text, 'hello bob')
      assert.equal(message.from, alice.peerId.toString())
      assert.equal(message.request, true, 'alice is not in bob\'s contacts')

      await bob.markRead([{ from: message.from, id: message.id }])
      const read = await alice.waitFor(id, 'read', { signal: AbortSignal.timeout(15_000) })
      assert.equal(read.state, 'read')
      assert.ok(read.readAt != null)
    })
  })
}

describe('direct messages under load', () => {
  const nodes = new Nodes()
  after(async () => { await nodes.cleanup() })

  it('a rate-limited receiver slows a burst down but keeps every message exactly once', async () => {
    const alice = await nodes.node({ memory: true })
    const bob = await nodes.node({ memory: true, inboundRate: 20 })
    await alice.addContact('bob', bob.card())
    const ids: string[] = []
    for (let i = 0; i < 60; i++) ids.push(await alice.send('bob', `burst ${i}`))
    for (const id of ids) await alice.waitFor(id, 'delivered', { signal: AbortSignal.timeout(20_000) })
    const inbox = await bob.inbox()
    assert.deepEqual(inbox.map(m => m.id).sort(), [...ids].sort())
    assert.deepEqual(inbox.map(m => m.text), ids.map((_, i) => `burst ${i}`), 'in the order they were sent')
  })

  it('messages to a peer that is offline wait in the outbox and go out when it appears', async () => {
    const alice = await nodes.node()
    const bobDir = await (await import('./helpers.js')).tempDir()
    let bob = await nodes.node({ dataDir: bobDir.dir })
    const card = bob.card()
    await alice.addContact('bob', card)
    await bob.addContact('alice', alice.card())
    await bob.stop()
    const id = await alice.send('bob', 'are you there?')
    assert.equal((await alice.message(id)).state, 'queued')
    // Same data dir: same identity and (stable ports) the same addresses as its card.
    bob = await nodes.node({ dataDir: bobDir.dir })
    const arrived = await alice.waitFor(id, 'delivered', { signal: AbortSignal.timeout(20_000) })
    assert.equal(arrived.state, 'delivered')
    assert.equal((await bob.inbox()).filter(m => m.id === id).length, 1)
    await bob.stop()
    await bobDir.cleanup()
  })
})

describe('read receipts setting', () => {
  const nodes = new Nodes()
  after(async () => { await nodes.cleanup() })

  it('with readReceipts off, reading a message tells the sender nothing', async () => {
    const alice = await nodes.node({ memory: true })
    const bob = await nodes.node({ memory: true, readReceipts: false })
    await alice.addContact('bob', bob.card())
    const first = await alice.send('bob', 'private reading')
    await alice.waitFor(first, 'delivered', { signal: AbortSignal.timeout(15_000) })
    const [message] = await bob.inbox()
    const changed = await bob.markRead([{ from: message.from, id: message.id }])
    assert.equal(changed.length, 1)
    assert.equal((await bob.inbox())[0].read, true)
    assert.deepEqual(await bob.sent({ includeReceipts: true }), [], 'bob queued no receipt')
    // A later message is delivered after anything bob could have sent, so a receipt would have arrived by now.
    const second = await alice.send('bob', 'still there?')
    await alice.waitFor(second, 'delivered', { signal: AbortSignal.timeout(15_000) })
    assert.equal((await alice.message(first)).state, 'delivered')
  })
})
