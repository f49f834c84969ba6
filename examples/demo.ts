/**
 * `npm run demo`: two pigeon nodes in temp dirs, one over TCP and one over WebSockets, have a
 * short conversation; every message shows its receipts as they arrive.
 */
import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { createNode, type PigeonNode, type ReceiptEvent } from 'pigeon'

const started = Date.now()
const t = (): string => `+${((Date.now() - started) / 1000).toFixed(3)}s`.padStart(9)

async function main (): Promise<void> {
  const dirs = await Promise.all(['alice', 'bob'].map(async name => mkdtemp(join(tmpdir(), `pigeon-demo-${name}-`))))
  const alice = await createNode({ dataDir: dirs[0], listen: ['/ip4/127.0.0.1/tcp/0'] })
  const bob = await createNode({ dataDir: dirs[1], listen: ['/ip4/127.0.0.1/tcp/0/ws'] })
  const names = new Map<PigeonNode, string>([[alice, 'alice'], [bob, 'bob']])
  try {
    await alice.start()
    await bob.start()
    console.log(`${t()}  alice ${alice.peerId} on ${alice.addresses()[0]}`)
    console.log(`${t()}  bob   ${bob.peerId} on ${bob.addresses()[0]}`)

    // Contact cards are the copy-paste strings people exchange out of band.
    await alice.addContact('bob', bob.card())
    await bob.addContact('alice', alice.card())
    console.log(`${t()}  alice and bob exchanged contact cards`)

    for (const node of [alice, bob]) {
      node.addEventListener('message', (evt) => {
        const m = evt.detail
        console.log(`${t()}  ${names.get(node)} received "${m.text}"`)
        // Reading it: the sender sees a read receipt.
        void node.markRead([{ from: m.from, id: m.id }])
      })
      node.addEventListener('receipt', (evt: CustomEvent<ReceiptEvent>) => {
        console.log(`${t()}  ${names.get(node)}'s message ${evt.detail.id.slice(0, 8)} ${evt.detail.state}`)
      })
    }

    const say = async (from: PigeonNode, to: string, text: string): Promise<void> => {
      const id = await from.send(to, text)
      console.log(`${t()}  ${names.get(from)} sends "${text}" (${id.slice(0, 8)}, queued)`)
      await from.waitFor(id, 'read', { signal: AbortSignal.timeout(15_000) })
    }
    await say(alice, 'bob', 'Hi Bob! No servers between us.')
    await say(bob, 'alice', 'Hi Alice. Sealed for me alone, signed by you.')
    await say(alice, 'bob', 'And the receipts are signed too.')

    const status = await alice.status()
    console.log(`${t()}  alice's outbox: ${JSON.stringify(status.outbox)}`)
  } finally {
    await alice.stop()
    await bob.stop()
    await Promise.all(dirs.map(async d => rm(d, { recursive: true, force: true })))
  }
}

main().catch(err => {
  console.error(`demo failed: ${err.message}`)
  process.exitCode = 1
})
