/**
 * Hole punching on one machine: bob listens nowhere but through a relay's circuit, alice reaches
 * him there, and the relayed connection is upgraded to a direct WebRTC one (ICE over the host's
 * own interfaces). Across real NATs, test/nat-lab.test.ts does the same with STUN on the relays.
 */
import { describe, it, after } from 'node:test'
import assert from 'node:assert/strict'
import { Nodes, nextEvent } from './helpers.js'
import { statusText } from '../cli/format.js'
import type { PigeonNode } from '../src/index.js'

const DEADLINE = 30_000

describe('hole punching with WebRTC', () => {
  const nodes = new Nodes()
  after(async () => { await nodes.cleanup() })

  async function behindRelay (relay: PigeonNode, init: { webrtc?: boolean } = {}): Promise<PigeonNode> {
    const bob = await nodes.node({ memory: true, listen: [], ...init })
    const reserved = nextEvent(bob.libp2p, 'self:peer:update', () => bob.addresses().some(a => a.includes('/p2p-circuit')), DEADLINE)
    await bob.addRelay(relay.card())
    await reserved
    return bob
  }

  it('upgrades a relayed connection to a direct one, closes the relayed one, and messages keep flowing', async () => {
    const relay = await nodes.node({ relay: true })
    const alice = await nodes.node()
    const bob = await behindRelay(relay)
    await alice.addContact('bob', bob.card())
    const punched = nextEvent<{ peer: string, outcome: string }>(alice, 'hole-punch', e => e.peer === bob.peerId.toString(), DEADLINE)
    const first = await alice.send('bob', 'first, through the relay')
    await alice.waitFor(first, 'delivered', { signal: AbortSignal.timeout(DEADLINE) })
    assert.equal((await punched).outcome, 'direct')

    const toBob = alice.libp2p.getConnections(bob.peerId)
    assert.ok(toBob.some(c => c.direct && c.limits == null && c.remoteAddr.toString().includes('/webrtc')), `a direct WebRTC connection: ${toBob.map(c => c.remoteAddr.toString()).join(' ')}`)
    const status = await alice.status()
    assert.equal(status.nat.webrtc, true)
    assert.deepEqual(status.nat.holePunch, { attempts: 1, direct: 1, failed: 0 })
    assert.ok(!status.connections.relayedPeers.includes(bob.peerId.toString()), `bob is not reached through the relay: ${JSON.stringify(status.connections)}`)
    assert.match(statusText(status), /^nat +private; hole punching 1 of 1 direct, STUN none \(no home relay yet\)$/m)

    const second = await alice.send('bob', 'second, direct')
    await alice.waitFor(second, 'delivered', { signal: AbortSignal.timeout(DEADLINE) })
    assert.deepEqual((await bob.inbox()).map(m => m.text), ['first, through the relay', 'second, direct'])
    const relayStatus = await relay.status()
    assert.equal(relayStatus.nat.webrtc, false, 'a relay does not hole-punch')
    assert.ok(relayStatus.nat.stunServer != null && relayStatus.nat.stunServer.port > 0, 'a relay answers STUN')
    assert.match(statusText(relayStatus), /^nat +private; hole punching off; answering STUN on udp \d+ \(\d+ answered\)$/m)
  })

  it('stays relayed, trying nothing, when the other side does not take WebRTC', async () => {
    const relay = await nodes.node({ relay: true })
    const alice = await nodes.node()
    const bob = await behindRelay(relay, { webrtc: false })
    await alice.addContact('bob', bob.card())
    const id = await alice.send('bob', 'relayed it is')
    await alice.waitFor(id, 'delivered', { signal: AbortSignal.timeout(DEADLINE) })
    const status = await alice.status()
    assert.equal(status.nat.holePunch?.attempts, 0, 'bob does not list the WebRTC signalling protocol, so nothing is tried')
    assert.ok(status.connections.relayedPeers.includes(bob.peerId.toString()))
  })
})
