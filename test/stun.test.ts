/**
 * The relays' STUN server (RFC 8489 binding requests), the STUN URLs a node derives from its
 * relays, and the hole puncher's decisions, with a fake network and a fake clock.
 */
import { describe, it } from 'node:test'
import assert from 'node:assert/strict'
import { createSocket } from 'node:dgram'
import { randomBytes } from 'node:crypto'
import fc from 'fast-check'
import { multiaddr } from '@multiformats/multiaddr'
import { peerIdFromString } from '@libp2p/peer-id'
import { defaultLogger } from '@libp2p/logger'
import { ATTR_XOR_MAPPED_ADDRESS, BINDING_SUCCESS, MAGIC_COOKIE, StunServer, bindingResponse } from '../src/network/stun-server.js'
import { relayStunUrls, stunProblem } from '../src/network/stun-urls.js'
import { HolePuncher, RETRY_AFTER_MS, SIGNALING_PROTOCOL, webrtcAddress, type HolePunchNetwork } from '../src/network/hole-punch.js'
import type { Connection, IdentifyResult } from '@libp2p/interface'

const log = defaultLogger().forComponent('test:stun')
const RELAY = '12D3KooWLnEnfhfL9eHyCoGnFgCgLJth1h7EJiDnSVZ6AHn7e2rg'
const BOB = '12D3KooWDKHseWhAoGGymnXZcQgYWzB67Bf9iNV97M81uoEXZdax'

function bindingRequest (transaction = randomBytes(12), extra = Buffer.alloc(0)): Buffer {
  const header = Buffer.alloc(20)
  header.writeUInt16BE(0x0001, 0)
  header.writeUInt16BE(extra.length, 2)
  header.writeUInt32BE(MAGIC_COOKIE, 4)
  transaction.copy(header, 8)
  return Buffer.concat([header, extra])
}

/** The address in a binding response's XOR-MAPPED-ADDRESS, as `host:port` ('[v6]:port'). */
function xorMapped (response: Buffer): string {
  assert.equal(response.readUInt16BE(0), BINDING_SUCCESS)
  assert.equal(response.readUInt16BE(2), response.length - 20)
  const mask = Buffer.concat([Buffer.from([0x21, 0x12, 0xA4, 0x42]), response.subarray(8, 20)])
  for (let at = 20; at < response.length;) {
    const type = response.readUInt16BE(at)
    const length = response.readUInt16BE(at + 2)
    const value = response.subarray(at + 4, at + 4 + length)
    if (type === ATTR_XOR_MAPPED_ADDRESS) {
      const port = value.readUInt16BE(2) ^ 0x2112
      const ip = [...value.subarray(4)].map((b, i) => b ^ mask[i])
      if (value[1] === 0x01) return `${ip.join('.')}:${port}`
      const groups = Array.from({ length: 8 }, (_, i) => ((ip[i * 2] << 8) | ip[i * 2 + 1]).toString(16))
      return `[${groups.join(':')}]:${port}`
    }
    at += 4 + length
  }
  throw new Error('no XOR-MAPPED-ADDRESS')
}

describe('STUN', () => {
  it('answers a binding request with the address it came from, for IPv4 and IPv6', () => {
    const transaction = randomBytes(12)
    const v4 = bindingResponse(bindingRequest(transaction), '203.0.113.7', 4321)
    assert.ok(v4 != null)
    assert.deepEqual(v4.subarray(8, 20), transaction, 'the transaction id is echoed')
    assert.equal(xorMapped(v4), '203.0.113.7:4321')
    assert.equal(xorMapped(bindingResponse(bindingRequest(), '::ffff:198.18.0.101', 9)!), '198.18.0.101:9')
    assert.equal(xorMapped(bindingResponse(bindingRequest(), '2001:db8::1', 65535)!), '[2001:db8:0:0:0:0:0:1]:65535')
  })

  it('answers nothing that is not a well-formed binding request', () => {
    const good = bindingRequest()
    const cases: Record<string, Buffer> = {
      'too short': good.subarray(0, 19),
      'a response, not a request': Buffer.concat([Buffer.from([0x01, 0x01]), good.subarray(2)]),
      'no magic cookie': Buffer.concat([good.subarray(0, 4), Buffer.alloc(4), good.subarray(8)]),
      'a length that is not the datagram\'s': bindingRequest(undefined, Buffer.alloc(4)).subarray(0, 20),
      'a length not a multiple of 4': (() => { const b = bindingRequest(undefined, Buffer.alloc(3)); return b })(),
      'oversize': bindingRequest(undefined, Buffer.alloc(1024))
    }
    for (const [why, request] of Object.entries(cases)) assert.equal(bindingResponse(request, '203.0.113.7', 1), undefined, why)
    assert.equal(bindingResponse(good, 'not an address', 1), undefined)
  })

  it('never throws on arbitrary datagrams', () => {
    fc.assert(fc.property(fc.uint8Array({ maxLength: 600 }), fc.boolean(), (bytes, cookie) => {
      const datagram = Buffer.from(bytes)
      if (cookie && datagram.length >= 8) datagram.writeUInt32BE(MAGIC_COOKIE, 4)
      const response = bindingResponse(datagram, '198.18.0.1', 1234)
      if (response != null) assert.equal(xorMapped(response), '198.18.0.1:1234')
    }), { numRuns: 2000 })
  })

  it('serves binding requests over UDP and releases its socket on stop', async () => {
    const server = new StunServer({ log })
    await server.start(0, '127.0.0.1')
    const client = createSocket('udp4')
    try {
      await new Promise<void>(resolve => { client.bind(0, '127.0.0.1', resolve) })
      const answer = new Promise<Buffer>((resolve, reject) => {
        const timer = setTimeout(() => { reject(new Error('no STUN answer within 5 s')) }, 5000)
        client.once('message', (msg) => { clearTimeout(timer); resolve(msg) })
      })
      client.send(Buffer.from('not stun at all'), server.port(), '127.0.0.1')
      client.send(bindingRequest(), server.port(), '127.0.0.1')
      assert.equal(xorMapped(await answer), `127.0.0.1:${client.address().port}`)
      assert.deepEqual(server.counts(), { answered: 1, dropped: 1 })
    } finally {
      client.close()
      await server.stop()
    }
    assert.equal(server.port(), 0)
  })

  it('derives STUN servers from relay addresses, and checks configured ones', () => {
    assert.deepEqual(relayStunUrls([
      `/ip4/198.18.0.11/tcp/4001/p2p/${RELAY}`,
      `/ip4/198.18.0.11/tcp/4002/ws/p2p/${RELAY}`,
      `/ip6/2001:db8::1/tcp/4001/p2p/${RELAY}`,
      `/dns4/relay.example.org/tcp/443/p2p/${RELAY}`,
      'not a multiaddr'
    ]), ['stun:198.18.0.11:4001', 'stun:[2001:db8::1]:4001', 'stun:relay.example.org:443'])
    assert.equal(stunProblem('stun:stun.example.org:3478'), undefined)
    assert.equal(stunProblem('stun:198.18.0.11'), undefined)
    assert.match(stunProblem('turn:example.org') ?? '', /not a STUN server URL/)
    assert.match(stunProblem('stun:example.org:0') ?? '', /not from 1 to 65535/)
    assert.match(stunProblem('stun:exa mple.org') ?? '', /not a STUN server URL/)
  })
})

describe('the hole puncher', () => {
  const circuit = multiaddr(`/ip4/198.18.0.11/tcp/4001/p2p/${RELAY}/p2p-circuit/p2p/${BOB}`)

  it('dials the WebRTC address behind a circuit', () => {
    assert.equal(webrtcAddress(circuit)?.toString(), `/ip4/198.18.0.11/tcp/4001/p2p/${RELAY}/p2p-circuit/webrtc/p2p/${BOB}`)
    assert.equal(webrtcAddress(multiaddr(`/ip4/198.18.0.11/tcp/4001/p2p/${BOB}`)), undefined)
    assert.equal(webrtcAddress(multiaddr(`/ip4/198.18.0.11/tcp/4001/p2p/${RELAY}/p2p-circuit/webrtc/p2p/${BOB}`)), undefined)
  })

  /**
   * A fake network whose dials succeed or fail as told, and a clock that moves when told. Its
   * dials settle within microtasks, so `settled()` (the next turn of the event loop) sees them done.
   */
  function rig (outcome: () => 'direct' | 'fail'): { puncher: HolePuncher, dials: string[], identify: (c: Partial<Connection>, protocols?: string[]) => void, advance: (ms: number) => void, settled: () => Promise<void> } {
    let now = 1_000_000
    const dials: string[] = []
    const listeners = new Set<(evt: CustomEvent<IdentifyResult>) => void>()
    const network: HolePunchNetwork = {
      addEventListener: ((_type: string, l: any) => { listeners.add(l) }) as any,
      removeEventListener: ((_type: string, l: any) => { listeners.delete(l) }) as any,
      dial: async (addr) => {
        dials.push(addr.toString())
        if (outcome() === 'fail') throw new Error('ICE failed')
        return { direct: true, limits: undefined, remoteAddr: addr } as unknown as Connection
      },
      getConnections: () => []
    }
    const puncher = new HolePuncher({ libp2p: network, log, now: () => now })
    puncher.start()
    const identify = (c: Partial<Connection>, protocols = [SIGNALING_PROTOCOL]): void => {
      const connection = { direct: false, direction: 'outbound', remoteAddr: circuit, remotePeer: peerIdFromString(BOB), status: 'closed', ...c } as Connection
      for (const l of listeners) l(new CustomEvent('peer:identify', { detail: { connection, protocols } as unknown as IdentifyResult }))
    }
    return { puncher, dials, identify, advance: (ms) => { now += ms }, settled: async () => { await new Promise(resolve => setImmediate(resolve)) } }
  }

  it('tries once per relayed connection it dialled, only with peers that take WebRTC, and waits before trying a failed peer again', async () => {
    const { puncher, dials, identify, advance, settled } = rig(() => 'fail')
    identify({ direction: 'inbound' })
    identify({ direct: true })
    identify({}, ['/ipfs/id/1.0.0'])
    await settled()
    assert.equal(dials.length, 0, 'inbound, direct, and peers without the signalling protocol are left alone')
    identify({})
    await settled()
    assert.equal(dials.length, 1)
    assert.deepEqual(puncher.counts(), { attempts: 1, direct: 0, failed: 1 })
    advance(RETRY_AFTER_MS - 1)
    identify({})
    await settled()
    assert.equal(dials.length, 1, 'not again before RETRY_AFTER_MS')
    advance(1)
    identify({})
    await settled()
    assert.equal(dials.length, 2, 'again after it')
    puncher.stop()
  })

  it('counts an upgrade that went direct', async () => {
    const { puncher, identify, settled } = rig(() => 'direct')
    identify({})
    await settled()
    assert.deepEqual(puncher.counts(), { attempts: 1, direct: 1, failed: 0 })
    puncher.stop()
  })
})
