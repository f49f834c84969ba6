/**
 * This node's medium-term prekeys (src/session/prekey-store.ts), with a fake store and times
 * passed in: made once and kept across restarts, signed by the identity, rotated weekly, and
 * still opening first messages for as long as a relay holds mail after they were replaced.
 */
import { describe, it } from 'node:test'
import assert from 'node:assert/strict'
import { PrekeyStore, ROTATE_EVERY_MS, RETIRED_KEEP_MS, type PrekeyMeta } from '../src/session/prekey-store.js'
import { acceptSession, checkBundle, startSession } from '../src/session/index.js'
import { PrekeyBundle } from '../src/session/pb/session.js'
import { newKeys } from './crypto-helpers.js'

const T0 = 1_800_000_000_000
const text = (s: string): Uint8Array => new TextEncoder().encode(s)

/** The node's store as the prekey store sees it; counts durable writes. */
function fakeMeta (): PrekeyMeta & { writes: number, data: Map<string, unknown> } {
  const data = new Map<string, unknown>()
  return {
    data,
    writes: 0,
    async getMeta<T> (key: string) { return structuredClone(data.get(key)) as T | undefined },
    async putMeta (key, value, options) {
      assert.equal(options.durable, true, 'prekeys are written durably')
      this.writes++
      data.set(key, structuredClone(value))
    }
  }
}

describe('the prekey store', () => {
  it('makes one set at first start, keeps it across restarts, and signs it with the identity', async () => {
    const bob = await newKeys()
    const meta = fakeMeta()
    const first = await PrekeyStore.open(meta, bob.ed25519Private, T0)
    assert.equal(meta.writes, 1)
    const again = await PrekeyStore.open(meta, bob.ed25519Private, T0 + 1000)
    assert.equal(meta.writes, 1, 'nothing new at a restart')
    assert.deepEqual(again.current(), first.current())
    const bundle = PrekeyBundle.encode({ identity: bob.idBytes as Uint8Array<ArrayBuffer>, ...first.current() })
    const checked = checkBundle(bundle, bob)
    assert.equal(checked.signedPrekey.id, 1)
    assert.equal(checked.pqPrekey.id, 2)
  })

  it('rotates every week, and retired prekeys open first messages for as long as relays hold mail, then are forgotten', async () => {
    const [alice, bob] = [await newKeys(), await newKeys()]
    const meta = fakeMeta()
    const store = await PrekeyStore.open(meta, bob.ed25519Private, T0)
    const oldCard = PrekeyBundle.encode({ identity: bob.idBytes as Uint8Array<ArrayBuffer>, ...store.current() })
    // Sealed to the first set, held at a relay while the week turns.
    const held = startSession(alice, checkBundle(oldCard, bob), text('sent last week'), { now: T0 }).init

    assert.equal(await store.rotateIfDue(T0 + ROTATE_EVERY_MS - 1), false)
    assert.equal(store.nextDue(), T0 + ROTATE_EVERY_MS)
    assert.equal(await store.rotateIfDue(T0 + ROTATE_EVERY_MS), true)
    assert.equal(store.current().signedPrekey.id, 3, 'ids only grow')
    assert.equal(store.retiredCount, 1)
    const reopened = await PrekeyStore.open(meta, bob.ed25519Private, T0 + ROTATE_EVERY_MS)
    assert.equal(new TextDecoder().decode(acceptSession(bob, held, reopened, { now: T0 + ROTATE_EVERY_MS }).plaintext), 'sent last week')

    const fresh = PrekeyBundle.encode({ identity: bob.idBytes as Uint8Array<ArrayBuffer>, ...reopened.current() })
    const now = startSession(alice, checkBundle(fresh, bob), text('this week'), { now: T0 + ROTATE_EVERY_MS }).init
    assert.equal(new TextDecoder().decode(acceptSession(bob, now, reopened, { now: T0 + ROTATE_EVERY_MS }).plaintext), 'this week')

    // A month after it was replaced, the first set is gone (the second was replaced meanwhile too).
    const later = T0 + ROTATE_EVERY_MS + RETIRED_KEEP_MS
    await reopened.rotateIfDue(later)
    assert.equal(reopened.signedPrekey(1), undefined)
    assert.throws(() => acceptSession(bob, held, reopened, { now: later }), /no signed prekey 1/)
    assert.ok(reopened.retiredCount <= 1)
  })
})
