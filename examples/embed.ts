/**
 * Embedding pigeon in an app: a node that prints its contact card, shows incoming messages and,
 * given a card and a text, sends one and reports its receipts.
 *
 *   node dist/examples/embed.js ./my-data                       # wait for messages
 *   node dist/examples/embed.js ./other-data 'pigeon-card:…' 'hi'   # send one
 */
import { createNode } from 'pigeon'

const [dataDir = './embed-data', card, text] = process.argv.slice(2)

const node = await createNode({ dataDir, listen: ['/ip4/127.0.0.1/tcp/0'] })
await node.start()
console.log('peer id:', node.peerId.toString())
console.log('card:   ', node.card())

node.addEventListener('message', (evt) => {
  const m = evt.detail
  console.log(`message from ${m.from}: ${m.text}`)
  // Marking a message read sends a read receipt to its sender (unless readReceipts: false).
  void node.markRead([{ from: m.from, id: m.id }])
})
node.addEventListener('receipt', (evt) => {
  console.log(`message ${evt.detail.id} is ${evt.detail.state}`)
})

if (card != null && text != null) {
  await node.addContact('friend', card)
  const id = await node.send('friend', text)
  console.log('queued', id)
  await node.waitFor(id, 'delivered', { signal: AbortSignal.timeout(30_000) })
}

// Stopping the node releases everything it started, so the process then ends on its own.
const stop = async (): Promise<void> => { await node.stop() }
process.once('SIGINT', () => { void stop() })
process.once('SIGTERM', () => { void stop() })
