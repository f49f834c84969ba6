/**
 * `npm run demo`: two pigeon nodes in temp dirs, one over TCP and one over WebSockets, have a
 * short conversation; every message shows its receipts as they arrive. Then a relay starts, bob
 * makes it his home relay and goes offline: alice's next message waits in the relay's mailbox
 * until bob comes back, and her receipts follow it there and back. Last, alice opens a group
 * channel and bob joins it with her invite.
 */
import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { createNode, type InboxRecord, type PigeonInit, type PigeonNode, type ReceiptEvent } from 'pigeon'

const started = Date.now()
const t = (): string => `+${((Date.now() - started) / 1000).toFixed(3)}s`.padStart(9)
const log = (line: string): void => { console.log(`${t()}  ${line}`) }

/** Every wait in the demo gives up after this long. */
const DEADLINE = 15_000

/** The first `type` event on `target` that `match` accepts; rejects when `signal` fires first. */
async function nextEvent<T> (target: EventTarget, type: string, match: (detail: T) => boolean, signal: AbortSignal): Promise<T> {
  const { promise, resolve, reject } = Promise.withResolvers<T>()
  const listener = (evt: Event): void => {
    const detail = (evt as CustomEvent<T>).detail
    if (match(detail)) resolve(detail)
  }
  const onAbort = (): void => { reject(new Error(`no ${type} event in time`)) }
  target.addEventListener(type, listener)
  signal.addEventListener('abort', onAbort, { once: true })
  try {
    if (signal.aborted) onAbort()
    return await promise
  } finally {
    target.removeEventListener(type, listener)
    signal.removeEventListener('abort', onAbort)
  }
}

async function main (): Promise<void> {
  const dirs = await Promise.all(['alice', 'bob', 'relay'].map(async name => mkdtemp(join(tmpdir(), `pigeon-demo-${name}-`))))
  const [aliceDir, bobDir, relayDir] = dirs
  const nodes: PigeonNode[] = []
  const names = new Map<PigeonNode, string>()
  // Messages a relay holds for an offline recipient (from the 'stored' receipts). The sender
  // leaves them there and does not retry directly, so the recipient gets them from its relay.
  const atRelay = new Set<string>()
  const create = async (name: string, init: PigeonInit): Promise<PigeonNode> => {
    const node = await createNode(init)
    nodes.push(node)
    names.set(node, name)
    return node
  }
  /** Prints what a node receives (and reads it, so the sender gets a read receipt) and its receipts. */
  const show = (node: PigeonNode): void => {
    node.addEventListener('message', (evt) => {
      const m = evt.detail
      if (atRelay.has(m.id)) {
        // Read below, once the sender has the delivery receipt, so both receipts show in order.
        log(`${names.get(node)} received "${m.text}" (from his relay's mailbox)`)
        return
      }
      log(`${names.get(node)} received "${m.text}"`)
      void node.markRead([{ from: m.from, id: m.id }])
    })
    node.addEventListener('receipt', (evt: CustomEvent<ReceiptEvent>) => {
      const r = evt.detail
      const line = `${names.get(node)}'s message ${r.id.slice(0, 8)} ${r.state}`
      if (r.state !== 'stored') {
        log(line)
        return
      }
      atRelay.add(r.id)
      const to = node.contacts().find(c => c.peerId === r.to)?.name ?? r.to
      const count = r.relays?.length ?? 0
      log(`${line} at ${count} relay${count === 1 ? '' : 's'} (${to} is offline)`)
    })
  }

  try {
    const alice = await create('alice', { dataDir: aliceDir, listen: ['/ip4/127.0.0.1/tcp/0'] })
    let bob = await create('bob', { dataDir: bobDir, listen: ['/ip4/127.0.0.1/tcp/0/ws'] })
    await alice.start()
    await bob.start()
    log(`alice ${alice.peerId} on ${alice.addresses()[0]}`)
    log(`bob   ${bob.peerId} on ${bob.addresses()[0]}`)

    // Contact cards are the copy-paste strings people exchange out of band.
    await alice.addContact('bob', bob.card())
    await bob.addContact('alice', alice.card())
    log('alice and bob exchanged contact cards')
    show(alice)
    show(bob)

    const say = async (from: PigeonNode, to: string, text: string): Promise<string> => {
      const id = await from.send(to, text)
      log(`${names.get(from)} sends "${text}" (${id.slice(0, 8)}, queued)`)
      return id
    }
    for (const [from, to, text] of [
      [alice, 'bob', 'Hi Bob! No servers between us.'],
      [bob, 'alice', 'Hi Alice. Sealed for me alone, signed by you.'],
      [alice, 'bob', 'And the receipts are signed too.']
    ] as const) {
      const id = await say(from, to, text)
      await from.waitFor(id, 'read', { signal: AbortSignal.timeout(DEADLINE) })
    }

    // Offline delivery: a relay holds bob's mail while he is away.
    const relay = await create('relay', { dataDir: relayDir, listen: ['/ip4/127.0.0.1/tcp/0'], relay: true })
    await relay.start()
    log(`relay ${relay.peerId} on ${relay.addresses()[0]}`)
    await bob.addRelay(relay.card())
    // bob's card now names his relay; he gives alice the new one.
    await alice.addContact('bob', bob.card())
    log('bob made it his home relay and gave alice his new card, which names it')

    await bob.stop()
    log('bob goes offline')
    const stored = nextEvent<ReceiptEvent>(alice, 'receipt', r => r.state === 'stored', AbortSignal.timeout(DEADLINE))
    const id = await say(alice, 'bob', 'Are you there? The relay will keep this for you.')
    await stored

    // The same identity and store, on a new node: it connects to its relay and drains its mailbox.
    bob = await create('bob', { dataDir: bobDir, listen: ['/ip4/127.0.0.1/tcp/0/ws'] })
    show(bob)
    const arrived = nextEvent<InboxRecord>(bob, 'message', m => m.id === id, AbortSignal.timeout(DEADLINE))
    log('bob comes back online: a new node on the same data dir')
    await bob.start()
    const message = await arrived
    // bob's delivery receipt goes back to alice directly, now that both are online.
    await alice.waitFor(id, 'delivered', { signal: AbortSignal.timeout(DEADLINE) })
    await bob.markRead([{ from: message.from, id }])
    await alice.waitFor(id, 'read', { signal: AbortSignal.timeout(DEADLINE) })

    // A group channel: alice creates it, bob joins with the invite, and both see every post in
    // the same order. The relay archives the channel's ciphertext for members who are away.
    await alice.addRelay(relay.card())
    const { invite } = await alice.channels.create('friends')
    log(`alice created channel "friends"; its invite is ${invite.length} characters`)
    for (const node of [alice, bob]) {
      node.addEventListener('channel:message', (evt) => {
        const m = evt.detail
        if (m.kind === 'text') log(`${names.get(node)} sees in ${m.name}: "${m.text}" by ${m.author === alice.peerId.toString() ? 'alice' : 'bob'}`)
      })
    }
    const bobJoined = nextEvent<{ kind: string, author: string }>(alice, 'channel:message', m => m.kind === 'join' && m.author === bob.peerId.toString(), AbortSignal.timeout(DEADLINE))
    await bob.channels.join(invite)
    await bobJoined
    log('bob joined "friends"')
    const posted = nextEvent<{ text?: string }>(alice, 'channel:message', m => m.text === 'Groups too, and no server.', AbortSignal.timeout(DEADLINE))
    await alice.channels.post('friends', 'Welcome to the group, Bob.')
    await bob.channels.post('friends', 'Groups too, and no server.')
    await posted
    const order = (await bob.channels.read('friends')).filter(m => m.kind === 'text').map(m => m.text)
    log(`bob's view of "friends": ${JSON.stringify(order)}`)

    const status = await alice.status()
    log(`alice's outbox: ${JSON.stringify(status.outbox)}`)
  } finally {
    await Promise.allSettled(nodes.map(async n => n.stop()))
    await Promise.all(dirs.map(async d => rm(d, { recursive: true, force: true })))
  }
}

main().catch(err => {
  console.error(`demo failed: ${err.message}`)
  process.exitCode = 1
})
