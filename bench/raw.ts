/**
 * The baseline: two plain libp2p nodes (TCP, noise, yamux; no pigeon code) and one stream
 * between them. The sender writes length-prefixed messages, the receiver answers each with a
 * one-byte ack frame. This is the least work any acknowledged messenger on libp2p can do.
 */
import { createLibp2p, type Libp2p } from 'libp2p'
import { tcp } from '@libp2p/tcp'
import { noise } from '@chainsafe/libp2p-noise'
import { yamux } from '@chainsafe/libp2p-yamux'
import { lpStream } from '@libp2p/utils'
import { multiaddr } from '@multiformats/multiaddr'
import type { AbortOptions, Stream } from '@libp2p/interface'
import type { Receiver, Sender } from './endpoint.js'

export const RAW_PROTOCOL = '/pigeon-bench/raw/1.0.0'

/** Messages are 256 bytes; anything much larger on this protocol is a bug in the bench. */
const MAX_FRAME_BYTES = 4096

/** A receiver idle this long has lost its sender: close rather than hang the run. */
const IDLE_TIMEOUT_MS = 30_000

const ACK = new Uint8Array([1])

async function plainNode (): Promise<Libp2p> {
  return await createLibp2p({
    addresses: { listen: ['/ip4/127.0.0.1/tcp/0'] },
    transports: [tcp()],
    connectionEncrypters: [noise()],
    streamMuxers: [yamux()]
  })
}

export async function startRawReceiver (): Promise<Receiver> {
  const node = await plainNode()
  let received = 0
  await node.handle(RAW_PROTOCOL, async (stream: Stream) => {
    const lp = lpStream(stream, { maxDataLength: MAX_FRAME_BYTES })
    try {
      while (true) {
        try {
          await lp.read({ signal: AbortSignal.timeout(IDLE_TIMEOUT_MS) })
        } catch (err: any) {
          if (err.name === 'UnexpectedEOFError') break
          throw err
        }
        received++
        await lp.write(ACK, { signal: AbortSignal.timeout(IDLE_TIMEOUT_MS) })
      }
      await stream.close()
    } catch (err: any) {
      stream.abort(err)
    }
  })
  const address = node.getMultiaddrs()[0]
  if (address == null) throw new Error('raw receiver has no listen address')
  return {
    address: address.toString(),
    received: () => received,
    stop: async () => { await node.stop() }
  }
}

export async function startRawSender (address: string, options: AbortOptions): Promise<Sender> {
  const node = await plainNode()
  let stream: Stream
  try {
    stream = await node.dialProtocol(multiaddr(address), RAW_PROTOCOL, options)
  } catch (err) {
    await node.stop()
    throw err
  }
  const lp = lpStream(stream, { maxDataLength: MAX_FRAME_BYTES })
  const encoder = new TextEncoder()

  return {
    async burst (texts, opts) {
      const frames = texts.map(t => encoder.encode(t))
      const start = performance.now()
      const acks = (async () => {
        for (let i = 0; i < frames.length; i++) await lp.read(opts)
      })()
      // Only backpressure (a full send buffer) holds the writer back, never an ack.
      const writes = (async () => {
        for (const frame of frames) await lp.write(frame, opts)
      })()
      await Promise.all([writes, acks])
      return performance.now() - start
    },
    async pingPong (texts, opts) {
      const frames = texts.map(t => encoder.encode(t))
      const samples: number[] = []
      for (const frame of frames) {
        const start = performance.now()
        await lp.write(frame, opts)
        await lp.read(opts)
        samples.push(performance.now() - start)
      }
      return samples
    },
    async stop () {
      await stream.close({ signal: AbortSignal.timeout(5_000) }).catch(err => { stream.abort(err) })
      await node.stop()
    }
  }
}
