/**
 * The channel baseline: six plain libp2p nodes (TCP, noise, yamux, identify) running
 * `@libp2p/gossipsub` with its default options, every pair connected directly, one topic, one
 * author. No pigeon code: no encryption beyond noise, no store, the default signed messages.
 *
 * One setting differs from a default libp2p node: a late connection-monitor ping does not abort
 * the connection. During a 2000-message burst the six nodes' one event loop is busy for several
 * seconds (each receiver checks the signature of every copy it gets, duplicates included, before
 * it finds them duplicates), a ping sent then misses its 5 s deadline, and the monitor would
 * close every connection of the group at once, leaving the next round with no topic peers.
 */
import { createLibp2p, type Libp2p } from 'libp2p'
import { tcp } from '@libp2p/tcp'
import { noise } from '@chainsafe/libp2p-noise'
import { yamux } from '@chainsafe/libp2p-yamux'
import { identify } from '@libp2p/identify'
import { gossipsub, type GossipSub } from '@libp2p/gossipsub'
import { randomBytes } from 'node:crypto'
import { channelGroup, Deliveries, type ChannelGroup, type MeshShape } from './channel-group.js'
import { waitUntil } from './deadline.js'
import type { AbortOptions } from '@libp2p/interface'

const TOPIC = '/pigeon-bench/channel/1.0.0'
const LISTEN = ['/ip4/127.0.0.1/tcp/0']
/** Payload header: run, then index, each a big-endian uint32. */
const HEADER_BYTES = 8

type RawNode = Libp2p<{ identify: unknown, pubsub: GossipSub }>

/** The implementation keeps its mesh and scores public; the GossipSub interface does not list them. */
interface MeshView {
  getMeshPeers: (topic: string) => string[]
  getScore?: (peerId: string) => number
}

async function plainNode (): Promise<RawNode> {
  return await createLibp2p({
    addresses: { listen: LISTEN },
    transports: [tcp()],
    connectionEncrypters: [noise()],
    streamMuxers: [yamux()],
    services: { identify: identify(), pubsub: gossipsub() },
    connectionMonitor: { abortConnectionOnPingFailure: false }
  })
}

function payload (run: number, index: number, bytes: number): Uint8Array {
  const data = new Uint8Array(randomBytes(Math.max(bytes, HEADER_BYTES)))
  const view = new DataView(data.buffer, data.byteOffset, data.byteLength)
  view.setUint32(0, run)
  view.setUint32(4, index)
  return data
}

export function rawShape (nodes: RawNode[]): MeshShape {
  const ids = new Set(nodes.map(n => n.peerId.toString()))
  return {
    connections: nodes.map(n => n.getConnections().filter(c => ids.has(c.remotePeer.toString())).length),
    mesh: nodes.map(n => (n.services.pubsub as unknown as MeshView).getMeshPeers(TOPIC).length)
  }
}

/** `members` nodes, all pairs dialled, all subscribed; resolves once every mesh holds every other member. */
export async function startRawGroup (members: number, options: AbortOptions): Promise<ChannelGroup> {
  const nodes: RawNode[] = []
  const stop = async (): Promise<void> => { await Promise.allSettled(nodes.map(async n => n.stop())) }
  try {
    for (let i = 0; i < members; i++) nodes.push(await plainNode())
    const tally = new Deliveries(members - 1)
    nodes.slice(1).forEach((node, receiver) => {
      node.services.pubsub.addEventListener('message', (evt) => {
        const { topic, data } = evt.detail
        if (topic !== TOPIC || data.byteLength < HEADER_BYTES) return
        const view = new DataView(data.buffer, data.byteOffset, data.byteLength)
        tally.arrived(receiver, view.getUint32(0), view.getUint32(4))
      })
    })
    for (const node of nodes) node.services.pubsub.subscribe(TOPIC)
    for (let i = 0; i < members; i++) {
      for (let j = i + 1; j < members; j++) await nodes[i].dial(nodes[j].getMultiaddrs(), options)
    }
    await waitUntil(() => rawShape(nodes).mesh.every(m => m === members - 1), 'every raw node to have every other one in its mesh', options)
    const author = nodes[0].services.pubsub
    return channelGroup(tally, {
      receivers: members - 1,
      payload,
      publish: async (data) => {
        try {
          return await author.publish(TOPIC, data)
        } catch (err: any) {
          const view = author as unknown as MeshView
          const scores = nodes.slice(1).map(n => view.getScore?.(n.peerId.toString()))
          throw new Error(`raw publish failed (${err.name}: ${err.message}); topic peers ${author.getSubscribers(TOPIC).length}, shape ${JSON.stringify(rawShape(nodes))}, the author's scores of the others ${JSON.stringify(scores)}`)
        }
      },
      shape: () => rawShape(nodes),
      stop
    })
  } catch (err) {
    await stop()
    throw err
  }
}
