/**
 * The hole puncher's decisions with a fake libp2p (src/network/hole-punch.ts): a WebRTC dial that
 * ran out of libp2p's time for one address is tried once more; any other failure is final.
 */
import { describe, it } from 'node:test'
import assert from 'node:assert/strict'
import { generateKeyPair } from '@libp2p/crypto/keys'
import { peerIdFromPrivateKey } from '@libp2p/peer-id'
import { multiaddr, type Multiaddr } from '@multiformats/multiaddr'
import { defaultLogger } from '@libp2p/logger'
import { HolePuncher } from '../src/network/hole-punch.js'
import type { Connection } from '@libp2p/interface'

async function relayedTo (): Promise<Connection> {
  const relay = peerIdFromPrivateKey(await generateKeyPair('Ed25519'))
  const bob = peerIdFromPrivateKey(await generateKeyPair('Ed25519'))
  return {
    remotePeer: bob,
    remoteAddr: multiaddr(`/ip4/127.0.0.1/tcp/4001/p2p/${relay.toString()}/p2p-circuit/p2p/${bob.toString()}`),
    direct: false,
    status: 'open',
    close: async () => {}
  } as unknown as Connection
}

function puncher (answers: Array<() => Connection>): { puncher: HolePuncher, dials: Multiaddr[] } {
  const dials: Multiaddr[] = []
  const puncher = new HolePuncher({
    libp2p: {
      addEventListener: () => {},
      removeEventListener: () => {},
      getConnections: () => [],
      dial: async (addr) => {
        dials.push(addr)
        const next = answers.shift()
        if (next == null) throw new Error('no more answers')
        return next()
      }
    },
    log: defaultLogger().forComponent('test:hole-punch')
  })
  puncher.start()
  return { puncher, dials }
}

const timedOut = (): never => { throw Object.assign(new Error('The operation was aborted due to timeout'), { name: 'TimeoutError' }) }

describe('the hole puncher (fake libp2p)', () => {
  it('tries a dial that ran out of time once more, and counts one upgrade', async () => {
    const relayed = await relayedTo()
    const direct = { direct: true, limits: undefined } as unknown as Connection
    const { puncher: p, dials } = puncher([timedOut, () => direct])
    assert.equal(await p.upgrade(relayed), true)
    assert.equal(dials.length, 2)
    assert.match(dials[0].toString(), /\/p2p-circuit\/webrtc\/p2p\//)
    assert.deepEqual(p.counts(), { attempts: 1, direct: 1, failed: 0 })
    p.stop()
  })

  it('gives up after a second timeout, and at once on any other failure', async () => {
    const twice = puncher([timedOut, timedOut])
    assert.equal(await twice.puncher.upgrade(await relayedTo()), false)
    assert.equal(twice.dials.length, 2)
    assert.deepEqual(twice.puncher.counts(), { attempts: 1, direct: 0, failed: 1 })
    twice.puncher.stop()
    const refused = puncher([() => { throw new Error('ICE failed') }])
    assert.equal(await refused.puncher.upgrade(await relayedTo()), false)
    assert.equal(refused.dials.length, 1, 'no second try')
    refused.puncher.stop()
  })
})
