/**
 * Private and loopback addresses are published only to peers on the same network: the card on
 * the DHT, and the card given to a peer that reached this node from beyond its network, leave
 * them out (src/network/locality.ts).
 */
import { describe, it, after } from 'node:test'
import assert from 'node:assert/strict'
import { multiaddr } from '@multiformats/multiaddr'
import { beyondLocal, isLocalOnly, onSameNetwork } from '../src/network/locality.js'
import { decodeCardBytes } from '../src/contacts/card.js'
import { Nodes } from './helpers.js'
import type { PigeonNode } from '../src/index.js'

const RELAY = '12D3KooWLnEnfhfL9eHyCoGnFgCgLJth1h7EJiDnSVZ6AHn7e2rg'

/** The card record a node would give a reader (the method is private: the DHT and the card service call it). */
function cardFor (node: PigeonNode, reader: 'same-network' | 'beyond'): ReturnType<typeof decodeCardBytes> {
  return decodeCardBytes((node as unknown as { cardRecord: (r: string) => { bytes: Uint8Array } }).cardRecord(reader).bytes)
}

describe('locality of addresses', () => {
  const nodes = new Nodes()
  after(async () => { await nodes.cleanup() })

  it('tells addresses only the same network can use from the rest', () => {
    for (const a of ['/ip4/127.0.0.1/tcp/1', '/ip4/192.168.1.20/tcp/1', '/ip4/10.0.0.2/tcp/1/ws', '/ip6/::1/tcp/1', '/ip6/fd00::1/tcp/1', `/ip4/192.168.1.1/tcp/1/p2p/${RELAY}/p2p-circuit`]) {
      assert.equal(isLocalOnly(multiaddr(a)), true, a)
    }
    for (const a of ['/ip4/11.0.0.1/tcp/1', '/dns4/relay.example.org/tcp/443/wss', '/ip6/2a00:1450::1/tcp/1', `/ip4/11.0.0.9/tcp/1/p2p/${RELAY}/p2p-circuit`]) {
      assert.equal(isLocalOnly(multiaddr(a)), false, a)
    }
    assert.deepEqual(beyondLocal([multiaddr('/ip4/127.0.0.1/tcp/1'), multiaddr('/ip4/11.0.0.1/tcp/1')]).map(String), ['/ip4/11.0.0.1/tcp/1'])
    assert.equal(onSameNetwork(multiaddr('/ip4/192.168.1.7/tcp/50000')), true, 'a direct connection from the LAN')
    assert.equal(onSameNetwork(multiaddr('/ip4/11.0.0.7/tcp/50000')), false, 'from the internet')
    assert.equal(onSameNetwork(multiaddr(`/ip4/192.168.1.1/tcp/1/p2p/${RELAY}/p2p-circuit`)), false, 'through a relay, even one on the LAN')
  })

  it('leaves private and loopback addresses out of the card for the DHT and for peers beyond the network, unless told all', async () => {
    const node = await nodes.node()
    assert.ok(node.addresses().some(a => a.startsWith('/ip4/127.0.0.1/')))
    assert.deepEqual(cardFor(node, 'beyond').addrs, [], 'a loopback-only node gives strangers no address')
    assert.ok(cardFor(node, 'same-network').addrs.some(a => a.toString().startsWith('/ip4/127.0.0.1/')))
    const lab = await nodes.node({ dhtAddresses: 'all' })
    assert.ok(cardFor(lab, 'beyond').addrs.some(a => a.toString().startsWith('/ip4/127.0.0.1/')), 'dhtAddresses all: one LAN or a lab')
  })
})
