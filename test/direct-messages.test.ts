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
