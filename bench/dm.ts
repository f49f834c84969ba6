/**
 * The pigeon side of each case: real nodes with a LevelDB store each, sending end-to-end
 * encrypted direct messages through the public API only (send, waitFor, 'receipt').
 */
import { mkdtemp, rm } from 'node:fs/promises'
import { join } from 'node:path'
import { race } from './deadline.js'
import { createNode, type Durability, type PigeonNode, type ReceiptEvent } from '../src/index.js'
import type { Receiver, Sender } from './endpoint.js'

const LISTEN = ['/ip4/127.0.0.1/tcp/0']
const RECIPIENT = 'bench-receiver'

async function startNode (root: string, durability: Durability): Promise<{ node: PigeonNode, cleanup: () => Promise<void> }> {
  const dataDir = await mkdtemp(join(root, 'node-'))
  const remove = async (): Promise<void> => { await rm(dataDir, { recursive: true, force: true }) }
  let node: PigeonNode
  try {
    node = await createNode({ dataDir, durability, listen: LISTEN })
    await node.start()
  } catch (err) {
    await remove()
    throw err
  }
  return { node, cleanup: async () => { await node.stop(); await remove() } }
}

export async function startPigeonReceiver (root: string, durability: Durability): Promise<Receiver> {
  const { node, cleanup } = await startNode(root, durability)
  let received = 0
  node.addEventListener('message', () => { received++ })
  return { address: node.card(), received: () => received, stop: cleanup }
}

export async function startPigeonSender (root: string, durability: Durability, card: string): Promise<Sender> {
  const { node, cleanup } = await startNode(root, durability)
  try {
    await node.addContact(RECIPIENT, card)
  } catch (err) {
    await cleanup()
    throw err
  }

  return {
    async burst (texts, options) {
      const pending = new Set<string>()
      /** Receipts can only follow a send, but keep any that beat `Promise.all` to its result. */
      const early = new Set<string>()
      let ids: string[] | undefined
      const { promise: done, resolve } = Promise.withResolvers<void>()
      const onReceipt = (evt: CustomEvent<ReceiptEvent>): void => {
        if (evt.detail.state === 'failed') return
        if (ids == null) early.add(evt.detail.id)
        else if (pending.delete(evt.detail.id) && pending.size === 0) resolve()
      }
      node.addEventListener('receipt', onReceipt)
      try {
        const start = performance.now()
        ids = await race(Promise.all(texts.map(async t => node.send(RECIPIENT, t))), options.signal)
        for (const id of ids) if (!early.has(id)) pending.add(id)
        if (pending.size === 0) resolve()
        await race(done, options.signal)
        return performance.now() - start
      } finally {
        node.removeEventListener('receipt', onReceipt)
      }
    },
    async pingPong (texts, options) {
      const samples: number[] = []
      for (const text of texts) {
        const start = performance.now()
        const id = await node.send(RECIPIENT, text)
        await node.waitFor(id, 'delivered', options)
        samples.push(performance.now() - start)
      }
      return samples
    },
    stop: cleanup
  }
}
