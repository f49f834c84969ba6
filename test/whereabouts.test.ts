/**
 * Contacts learn where a node is now without exchanging cards again: when bob's home relays
 * change, bob's node tells alice (a whereabouts message through the outbox), and alice's next
 * message to an offline bob waits at the relay bob added after they exchanged cards. No DHT is
 * involved (these nodes know no DHT server), so only the push can have told her.
 */
import { describe, it, after, beforeEach, afterEach, mock } from 'node:test'
import assert from 'node:assert/strict'
import { Nodes, nextEvent, tempDir } from './helpers.js'
import { WhereaboutsPush, PUSH_DELAY_MS, PUSH_MAX_CONTACTS } from '../src/contacts/whereabouts-push.js'
import { defaultLogger } from '@libp2p/logger'
import type { ContactRecord, OutboxRecord } from '../src/store/types.js'

const DEADLINE = 20_000

describe('whereabouts', () => {
  const nodes = new Nodes()
  const dirs: Array<() => Promise<void>> = []
  after(async () => {
    await nodes.cleanup()
    for (const d of dirs) await d()
  })

  it('a contact learns a new home relay from the node itself, and its mail for the node goes there', async () => {
    const relay = await nodes.node({ relay: true })
    const alice = await nodes.node()
    const bobDir = await tempDir()
    dirs.push(bobDir.cleanup)
    let bob = await nodes.node({ dataDir: bobDir.dir })
    await alice.addContact('bob', bob.card())
    await bob.addContact('alice', alice.card())

    // Bob adds a relay after the cards were exchanged; his node tells alice.
    const told = nextEvent<OutboxRecord>(bob, 'outbox', r => r.kind === 'whereabouts' && r.to === alice.peerId.toString() && r.state === 'delivered', DEADLINE)
    await bob.addRelay(relay.card())
    await told
    assert.equal((await alice.inbox()).length, 0, 'nothing shows in the inbox')

    await bob.stop()
    const id = await alice.send('bob', 'kept at your new relay')
    const stored = await nextEvent<{ id: string, state: string, relays?: string[] }>(alice, 'receipt', r => r.id === id && r.state === 'stored', DEADLINE)
    assert.deepEqual(stored.relays, [relay.peerId.toString()])

    bob = await nodes.node({ dataDir: bobDir.dir })
    const arrived = nextEvent<{ text: string }>(bob, 'message', m => m.text === 'kept at your new relay', DEADLINE)
    await arrived
  })
})

describe('the whereabouts push', () => {
  let where: string
  let saved: string | undefined
  let records: Map<string, OutboxRecord>
  let contacts: ContactRecord[]
  let push: WhereaboutsPush

  beforeEach(() => {
    mock.timers.enable({ apis: ['setTimeout'] })
    where = 'home A'
    saved = undefined
    records = new Map()
    contacts = ['alice', 'carol'].map(name => ({ name, peerId: `peer-${name}`, addrs: [], relays: [], card: '', addedAt: 0 }) as unknown as ContactRecord)
    push = new WhereaboutsPush({
      contacts: { newest: (n) => contacts.slice(0, n) },
      outbox: {
        enqueueWhereabouts: async (peer) => {
          const id = `${records.size}`
          records.set(id, { id, to: peer, kind: 'whereabouts', state: 'queued' } as unknown as OutboxRecord)
          return id
        },
        record: async (id) => records.get(id)
      },
      memory: { load: async () => saved, save: async (w) => { saved = w } },
      current: () => where,
      log: defaultLogger().forComponent('test:whereabouts')
    })
  })

  afterEach(async () => {
    await push.stop()
    mock.timers.reset()
  })

  /** Runs the timer due after `ms` and lets the push it starts finish (fakes answer at once). */
  async function after (ms: number): Promise<void> {
    mock.timers.tick(ms)
    for (let i = 0; i < 20; i++) await new Promise(resolve => setImmediate(resolve))
  }

  const sentTo = (): string[] => [...records.values()].map(r => r.to)

  it('tells every contact once a burst of changes is over', async () => {
    await push.start()
    await after(PUSH_DELAY_MS)
    assert.deepEqual(sentTo(), [], 'a node that never pushed only remembers where it is: its contacts have its card')
    assert.equal(saved, 'home A')
    where = 'home B'
    push.changed()
    await after(PUSH_DELAY_MS)
    assert.deepEqual(sentTo(), ['peer-alice', 'peer-carol'])
    for (const r of records.values()) r.state = 'delivered'
    where = 'home C'
    push.changed()
    await after(PUSH_DELAY_MS - 1)
    push.changed()
    await after(PUSH_DELAY_MS - 1)
    assert.equal(records.size, 2, 'changes keep coming: not yet')
    await after(1)
    assert.equal(records.size, 4, 'quiet for PUSH_DELAY_MS: told')
    assert.equal(saved, 'home C')
  })

  it('sends nothing when nothing changed, across a restart too', async () => {
    saved = 'home 0'
    await push.start()
    await after(PUSH_DELAY_MS)
    assert.equal(records.size, 2, 'changed since the last run: told')
    push.changed()
    await after(PUSH_DELAY_MS)
    assert.equal(records.size, 2, 'same whereabouts')
    await push.stop()
    await push.start()
    await after(PUSH_DELAY_MS)
    assert.equal(records.size, 2, 'remembered as pushed')
  })

  it('does not queue a second push behind one not yet sent, and tells at most PUSH_MAX_CONTACTS', async () => {
    saved = 'home 0'
    await push.start()
    await after(PUSH_DELAY_MS)
    where = 'home B'
    push.changed()
    await after(PUSH_DELAY_MS)
    assert.equal(records.size, 2, 'both still queued: they will carry home B when sealed')
    records.get('0')!.state = 'delivered'
    where = 'home C'
    push.changed()
    await after(PUSH_DELAY_MS)
    assert.deepEqual(sentTo(), ['peer-alice', 'peer-carol', 'peer-alice'])
    contacts = Array.from({ length: PUSH_MAX_CONTACTS + 10 }, (_, i) => ({ name: `c${i}`, peerId: `many-${i}` }) as unknown as ContactRecord)
    where = 'home D'
    push.changed()
    await after(PUSH_DELAY_MS)
    assert.equal(sentTo().filter(p => p.startsWith('many-')).length, PUSH_MAX_CONTACTS)
  })
})
