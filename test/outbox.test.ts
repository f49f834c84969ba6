/**
 * The delivery scheduler (src/outbox/outbox.ts) on a fake clock, with fake delivery and relays:
 * backoff, retries, the relay shortcut, and that stopping leaves no timer behind.
 */
import { describe, it, beforeEach } from 'node:test'
import assert from 'node:assert/strict'
import { generateKeyPair } from '@libp2p/crypto/keys'
import { peerIdFromPrivateKey } from '@libp2p/peer-id'
import { Outbox, type DepositReport } from '../src/outbox/outbox.js'
import type { Clock } from '../src/outbox/clock.js'
import type { DeliveryResult } from '../src/dm/index.js'
import type { Envelope } from '../src/wire/pb/wire.js'
import type { OutboxRecord } from '../src/store/types.js'
import type { Logger } from '@libp2p/interface'

const RETRY_MIN = 1_000
const RETRY_MAX = 60_000
const DEADLINE = 5_000

/** Timers that fire only when the test moves time on. */
class FakeClock implements Clock {
  time = 1_700_000_000_000
  private next = 1
  readonly timers = new Map<number, { at: number, fn: () => void }>()
  private readonly onArm = new Set<() => void>()

  now (): number { return this.time }

  setTimeout (fn: () => void, ms: number): number {
    const id = this.next++
    this.timers.set(id, { at: this.time + ms, fn })
    for (const wake of this.onArm) wake()
    return id
  }

  /** Resolves once a timer is armed (at once if one is); rejects after a real deadline. */
  async armed (): Promise<void> {
    if (this.timers.size > 0) return
    await new Promise<void>((resolve, reject) => {
      const wake = (): void => { done(); resolve() }
      const timer = setTimeout(() => { done(); reject(new Error('no timer armed')) }, DEADLINE)
      const done = (): void => { clearTimeout(timer); this.onArm.delete(wake) }
      this.onArm.add(wake)
    })
  }

  clearTimeout (timer: unknown): void {
    this.timers.delete(timer as number)
  }

  /** Moves time on by `ms`, firing the timers that fall due, in order. */
  advance (ms: number): void {
    const until = this.time + ms
    for (let fired = 0; fired < 1000; fired++) {
      const due = [...this.timers].filter(([, t]) => t.at <= until).sort((a, b) => a[1].at - b[1].at)[0]
      if (due == null) break
      this.timers.delete(due[0])
      this.time = due[1].at
      due[1].fn()
    }
    this.time = until
  }
}

/** A promise settled from outside. */
function deferred<T> (): { promise: Promise<T>, resolve: (value: T) => void } {
  let resolve!: (value: T) => void
  const promise = new Promise<T>(r => { resolve = r })
  return { promise, resolve }
}

/** Record changes the outbox reports, and waits (with a real deadline) for one to match. */
class Changes {
  readonly seen: OutboxRecord[] = []
  private readonly waiters = new Set<() => void>()

  add (record: OutboxRecord): void {
    this.seen.push(structuredClone(record))
    for (const w of this.waiters) w()
  }

  async next (match: (r: OutboxRecord) => boolean, what: string): Promise<OutboxRecord> {
    let from = 0
    return await new Promise((resolve, reject) => {
      const check = (): void => {
        for (; from < this.seen.length; from++) {
          if (match(this.seen[from])) { done(); resolve(this.seen[from]); return }
        }
      }
      const timer = setTimeout(() => { done(); reject(new Error(`no change: ${what}`)) }, DEADLINE)
      const done = (): void => { clearTimeout(timer); this.waiters.delete(check) }
      this.waiters.add(check)
      check()
    })
  }
}

const log = Object.assign(() => {}, { error: () => {}, trace: () => {}, enabled: false, newScope: () => log }) as unknown as Logger

let peer: string
let seq = 0
function record (to: string, text = `message ${seq}`): OutboxRecord {
  const id = (++seq).toString(16).padStart(32, '0')
  return { id, to, kind: 'text', text, createdAt: 0, state: 'queued', attempts: 0, nextAttemptAt: 0 }
}

interface Harness {
  outbox: Outbox
  clock: FakeClock
  changes: Changes
  /** Each call's ids, in order. */
  attempts: string[][]
  deposits: string[][]
}

/**
 * An outbox whose deliveries answer with `deliver` and whose relays answer with `deposit`
 * (both default to failing: the peer is away and has no relays).
 */
function harness (opts: {
  deliver?: (ids: string[]) => Promise<DeliveryResult>
  deposit?: (ids: string[]) => Promise<DepositReport>
  seal?: (r: OutboxRecord) => Envelope | Promise<Envelope>
} = {}): Harness {
  const clock = new FakeClock()
  const changes = new Changes()
  const attempts: string[][] = []
  const deposits: string[][] = []
  const outbox = new Outbox({
    store: { pendingOutgoing: async () => [], updateOutgoing: async () => {} },
    dm: {
      deliver: async (_peer, envelopes) => {
        const ids = envelopes.map(e => (e as unknown as { id: string }).id)
        attempts.push(ids)
        return await (opts.deliver ?? (async () => { throw new Error('peer unreachable') }))(ids)
      }
    },
    log,
    seal: opts.seal ?? ((r) => ({ id: r.id }) as unknown as Envelope),
    fallback: async (_peer, items) => {
      const ids = items.map(i => i.record.id)
      deposits.push(ids)
      return await (opts.deposit ?? (async () => ({ stored: new Map(), refused: new Map() })))(ids)
    },
    onChange: (r) => { changes.add(r) },
    retryMin: RETRY_MIN,
    retryMax: RETRY_MAX,
    clock
  })
  return { outbox, clock, changes, attempts, deposits }
}

/** A started outbox with one message queued for a peer that fails every delivery until `reachable()`. */
async function awayThenBack (): Promise<{ h: Harness, r: OutboxRecord, reachable: () => void }> {
  let fail = true
  const h = harness({
    deliver: async (ids) => {
      if (fail) throw new Error('dial failed')
      return { accepted: ids, rejected: [], timestamp: 0 }
    }
  })
  await h.outbox.start()
  const r = record(peer)
  h.outbox.enqueue(r)
  return { h, r, reachable: () => { fail = false } }
}

const storedAt = (relay: string) => (ids: string[]): DepositReport => ({ stored: new Map(ids.map(id => [id, [relay]])), refused: new Map() })

describe('outbox scheduler (fake clock)', () => {
  beforeEach(async () => {
    peer ??= peerIdFromPrivateKey(await generateKeyPair('Ed25519')).toString()
  })

  it('retries after the backoff on the clock, not before, and delivers', async () => {
    const { h, r, reachable } = await awayThenBack()
    const queued = await h.changes.next(c => c.id === r.id && c.state === 'queued', 'first attempt fails')
    assert.equal(queued.attempts, 1)
    assert.equal(queued.lastError, 'dial failed')
    // Backoff starts at retryMin, with jitter of +-20 %.
    assert.ok(queued.nextAttemptAt >= h.clock.now() + RETRY_MIN * 0.8 && queued.nextAttemptAt <= h.clock.now() + RETRY_MIN * 1.2, 'next attempt within the first backoff')
    await h.clock.armed()
    assert.equal(h.clock.timers.size, 1, 'one retry armed')

    h.clock.advance(RETRY_MIN * 0.8 - 1)
    assert.equal(h.attempts.length, 1, 'no retry before the backoff ends')
    reachable()
    h.clock.advance(RETRY_MIN * 0.4 + 1)
    const delivered = await h.changes.next(c => c.id === r.id && c.state === 'delivered', 'retry delivers')
    assert.equal(delivered.deliveredAt, h.clock.now())
    assert.equal(h.attempts.length, 2)
    await h.outbox.stop()
    assert.equal(h.clock.timers.size, 0)
  })

  it('waits for a seal that resolves later, seals each message once for all its attempts, and keeps a message it could not seal queued without leaving it at relays', async () => {
    const sealed: string[] = []
    let sealFails = true
    let fail = true
    const h = harness({
      seal: async (r) => {
        await new Promise(resolve => setImmediate(resolve))
        if (sealFails) throw new Error('no session state')
        sealed.push(r.id)
        return { id: r.id } as unknown as Envelope
      },
      deliver: async (ids) => {
        if (fail) throw new Error('dial failed')
        return { accepted: ids, rejected: [], timestamp: 0 }
      },
      deposit: async () => { throw new Error('the peer has no relays') }
    })
    await h.outbox.start()
    const r = record(peer)
    h.outbox.enqueue(r)
    const unsealed = await h.changes.next(c => c.id === r.id && c.state === 'queued', 'the seal fails')
    assert.equal(unsealed.lastError, 'no session state')
    assert.deepEqual(h.attempts, [], 'nothing unsealed is sent')
    assert.deepEqual(h.deposits, [], 'nor left at relays')
    sealFails = false
    await h.clock.armed()
    h.clock.advance(RETRY_MIN * 1.2)
    await h.changes.next(c => c.id === r.id && c.state === 'queued' && c.lastError === 'dial failed', 'sealed, then the dial fails')
    fail = false
    await h.clock.armed()
    h.clock.advance(RETRY_MAX)
    await h.changes.next(c => c.id === r.id && c.state === 'delivered', 'delivered on the next attempt')
    assert.deepEqual(sealed, [r.id], 'sealed once: the retry sent the same envelope')
    await h.outbox.stop()
  })

  it('doubles the backoff on each failure, up to retryMax', async () => {
    const h = harness()
    await h.outbox.start()
    const r = record(peer)
    h.outbox.enqueue(r)
    const waits: number[] = []
    for (let attempt = 1; attempt <= 9; attempt++) {
      const c = await h.changes.next(c => c.id === r.id && c.attempts === attempt, `attempt ${attempt} fails`)
      waits.push(c.nextAttemptAt - h.clock.now())
      await h.clock.armed()
      h.clock.advance(c.nextAttemptAt - h.clock.now())
    }
    await h.outbox.stop()
    const expected = [1, 2, 4, 8, 16, 32, 60, 60, 60].map(s => s * 1000)
    for (const [i, wait] of waits.entries()) {
      assert.ok(wait >= expected[i] * 0.8 && wait <= expected[i] * 1.2, `wait ${i + 1} is ${wait} ms, expected about ${expected[i]}`)
    }
    assert.equal(h.clock.timers.size, 0, 'stop clears the armed retry')
  })

  it('a peer that connects gets its mail at once, whatever its backoff', async () => {
    const { h, r, reachable } = await awayThenBack()
    await h.changes.next(c => c.id === r.id && c.state === 'queued', 'first attempt fails')
    await h.clock.armed()
    reachable()
    h.outbox.kick(peer)
    await h.changes.next(c => c.id === r.id && c.state === 'delivered', 'kick delivers')
    assert.equal(h.clock.timers.size, 0, 'the retry timer went with the backoff')
    await h.outbox.stop()
  })

  it('a backlog its relays took whole leaves no retry timer behind, so a stopped node can exit', async () => {
    // The first batch fails directly and waits at the relays while a second message is sent: that
    // one arms a retry for the end of the backoff. Then the relays take both, and the queue empties.
    const firstDeposit = deferred<DepositReport>()
    const firstAsked = deferred<void>()
    let deposits = 0
    const h = harness({
      deposit: async (ids) => {
        if (++deposits > 1) return storedAt('relay')(ids)
        firstAsked.resolve()
        return await firstDeposit.promise
      }
    })
    await h.outbox.start()
    const a = record(peer)
    h.outbox.enqueue(a)
    await firstAsked.promise
    assert.equal(h.deposits.length, 1, 'the first batch went to the relays')
    const b = record(peer)
    h.outbox.enqueue(b)
    assert.equal(h.clock.timers.size, 1, 'the second message waits for the backoff')
    firstDeposit.resolve(storedAt('relay')([a.id]))
    await h.changes.next(c => c.id === a.id && c.storedAt?.[0] === 'relay', 'relays take the first')
    await h.changes.next(c => c.id === b.id && c.storedAt?.[0] === 'relay', 'relays take the second at once')
    assert.equal(h.attempts.length, 1, 'the second was not dialled: the peer is known to be away')
    // Every fake here settles through promises alone: one turn of the event loop lets the batch's
    // bookkeeping finish (its queue empties and leaves the map) before the node stops.
    await new Promise(resolve => setImmediate(resolve))
    assert.equal(h.clock.timers.size, 0, 'nothing left to retry, so no retry armed')
    await h.outbox.stop()
    assert.equal(h.clock.timers.size, 0, 'no retry timer outlives the queue')
  })

  it('after stop, nothing is scheduled and nothing is sent', async () => {
    const h = harness()
    await h.outbox.start()
    const r = record(peer)
    h.outbox.enqueue(r)
    await h.changes.next(c => c.id === r.id && c.state === 'queued', 'first attempt fails')
    await h.clock.armed()
    await h.outbox.stop()
    h.outbox.enqueue(record(peer))
    h.outbox.kick(peer)
    h.clock.advance(RETRY_MAX * 2)
    assert.equal(h.attempts.length, 1)
    assert.equal(h.clock.timers.size, 0)
  })
})
