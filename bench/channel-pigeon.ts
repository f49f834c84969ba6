/**
 * The pigeon side of the channel case: six PigeonNodes, each with its own LevelDB, through the
 * public API only. The first creates the channel, the others join with its invite one after
 * another; each join is seen by the members already in, which dial the newcomer from the
 * addresses in its JOIN, so every pair ends up connected directly, as in the raw baseline.
 * No relay: a relay would archive every frame and be a seventh subscriber the raw side lacks.
 *
 * The author posts with `channels.post` (resolves once the post is durable); a delivery is the
 * 'channel:message' event of kind text on a receiver, fired once the post is stored there.
 */
import { mkdtemp, rm } from 'node:fs/promises'
import { join } from 'node:path'
import { channelGroup, Deliveries, type ChannelGroup, type MeshShape } from './channel-group.js'
import { race, waitUntil } from './deadline.js'
import { randomText } from './text.js'
import { createNode, type Durability, type PigeonNode } from '../src/index.js'
import type { ChannelMessageView } from '../src/channels/index.js'
import type { AbortOptions } from '@libp2p/interface'

const LISTEN = ['/ip4/127.0.0.1/tcp/0']
const CHANNEL = 'bench'
/** Text header: run and index in base 36, each followed by a dot. */
const SEPARATOR = '.'

interface MeshView { getMeshPeers: (topic: string) => string[] }

function payload (run: number, index: number, bytes: number): string {
  const header = `${run.toString(36)}${SEPARATOR}${index.toString(36)}${SEPARATOR}`
  return header + randomText(Math.max(1, bytes - header.length))
}

function parse (text: string): { run: number, index: number } | undefined {
  const a = text.indexOf(SEPARATOR)
  const b = text.indexOf(SEPARATOR, a + 1)
  if (a < 1 || b < a + 2) return undefined
  return { run: parseInt(text.slice(0, a), 36), index: parseInt(text.slice(a + 1, b), 36) }
}

/** The channel's topic: each node follows one channel in one epoch, so it has one topic. */
function topicOf (node: PigeonNode): string | undefined {
  return node.libp2p.services.pubsub.getTopics()[0]
}

export function pigeonShape (nodes: PigeonNode[]): MeshShape {
  const ids = new Set(nodes.map(n => n.peerId.toString()))
  return {
    connections: nodes.map(n => n.libp2p.getConnections().filter(c => ids.has(c.remotePeer.toString())).length),
    mesh: nodes.map(n => {
      const topic = topicOf(n)
      return topic == null ? 0 : (n.libp2p.services.pubsub as unknown as MeshView).getMeshPeers(topic).length
    })
  }
}

/** Resolves when `node` has stored a message `match` accepts. */
async function seen (node: PigeonNode, match: (m: ChannelMessageView) => boolean, options: AbortOptions): Promise<void> {
  const { promise, resolve } = Promise.withResolvers<void>()
  const listener = (evt: CustomEvent<ChannelMessageView>): void => { if (match(evt.detail)) resolve() }
  node.addEventListener('channel:message', listener)
  try {
    await race(promise, options.signal)
  } finally {
    node.removeEventListener('channel:message', listener)
  }
}

/** `members` nodes in one channel; resolves once every pair is connected and every mesh holds every other member. */
export async function startPigeonGroup (members: number, root: string, durability: Durability, options: AbortOptions): Promise<ChannelGroup> {
  const nodes: PigeonNode[] = []
  const dirs: string[] = []
  const stop = async (): Promise<void> => {
    await Promise.allSettled(nodes.map(async n => n.stop()))
    await Promise.allSettled(dirs.map(async d => rm(d, { recursive: true, force: true })))
  }
  try {
    for (let i = 0; i < members; i++) {
      const dataDir = await mkdtemp(join(root, 'channel-'))
      dirs.push(dataDir)
      const node = await createNode({ dataDir, durability, listen: LISTEN })
      nodes.push(node)
      await node.start()
    }
    const [author, ...receivers] = nodes
    const authorId = author.peerId.toString()
    const { invite } = await author.channels.create(CHANNEL)
    for (let i = 1; i < members; i++) {
      const newcomer = nodes[i].peerId.toString()
      const joins = nodes.slice(0, i).map(async n => { await seen(n, m => m.kind === 'join' && m.author === newcomer, options) })
      await nodes[i].channels.join(invite)
      await Promise.all(joins)
    }
    await waitUntil(() => {
      const shape = pigeonShape(nodes)
      return shape.connections.every(c => c === members - 1) && shape.mesh.every(m => m === members - 1)
    }, 'every pigeon node to be connected to every other one and have it in its mesh', options)

    const tally = new Deliveries(receivers.length)
    receivers.forEach((node, receiver) => {
      node.addEventListener('channel:message', (evt) => {
        const m = evt.detail
        if (m.kind !== 'text' || m.author !== authorId || m.text == null) return
        const at = parse(m.text)
        if (at == null) tally.arrived(receiver, -1, -1)
        else tally.arrived(receiver, at.run, at.index)
      })
    })
    return channelGroup(tally, {
      receivers: receivers.length,
      payload,
      publish: async (text) => await author.channels.post(CHANNEL, text),
      shape: () => pigeonShape(nodes),
      stop
    })
  } catch (err) {
    await stop()
    throw err
  }
}
