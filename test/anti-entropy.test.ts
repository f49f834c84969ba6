/**
 * The anti-entropy schedule of channels (src/channels/anti-entropy.ts), on a clock the test sets.
 */
import { describe, it } from 'node:test'
import assert from 'node:assert/strict'
import { AntiEntropy } from '../src/channels/anti-entropy.js'

const MIN = 5_000
const MAX = 300_000

describe('anti-entropy schedule', () => {
  it('asks a relay with nothing new ever less often, up to the longest wait', () => {
    const s = new AntiEntropy({ minMs: MIN, maxMs: MAX })
    let now = 0
    assert.equal(s.due('c', 'r', now), true, 'a pair never asked is due')
    const waits: number[] = []
    for (let round = 0; round < 10; round++) {
      s.done('c', 'r', false, now)
      let wait = 0
      // Rounds of MIN, as the maintenance timer runs: how long until it is due again.
      while (!s.due('c', 'r', now + wait)) wait += MIN
      waits.push(wait)
      now += wait
    }
    assert.deepEqual(waits, [5_000, 10_000, 20_000, 40_000, 80_000, 160_000, 300_000, 300_000, 300_000, 300_000])
  })

  it('comes back to every round when a relay has something, or when a live post arrives', () => {
    const s = new AntiEntropy({ minMs: MIN, maxMs: MAX })
    for (let i = 0; i < 8; i++) s.done('c', 'r', false, 0)
    assert.equal(s.due('c', 'r', 100_000), false)
    s.done('c', 'r', true, 100_000)
    assert.equal(s.due('c', 'r', 100_000 + MIN), true, 'frames found: the first wait again')

    for (let i = 0; i < 8; i++) s.done('c', 'r', false, 200_000)
    s.done('c', 'r2', false, 200_000)
    s.done('other', 'r', false, 200_000)
    for (let i = 0; i < 8; i++) s.done('other', 'r', false, 200_000)
    s.activity('c', 201_000)
    assert.equal(s.due('c', 'r', 201_000 + MIN), true, 'every relay of a busy channel is due within the first wait')
    assert.equal(s.due('c', 'r2', 201_000 + MIN), true)
    assert.equal(s.due('other', 'r', 201_000 + MIN), false, 'other channels keep their wait')
    // After activity, a relay that still has nothing backs off from the start.
    s.done('c', 'r', false, 210_000)
    assert.equal(s.due('c', 'r', 210_000 + 2 * MIN), true)
  })

  it('forgets a channel', () => {
    const s = new AntiEntropy({ minMs: MIN, maxMs: MAX })
    s.done('c', 'r', false, 0)
    assert.equal(s.due('c', 'r', 1), false)
    s.forget('c')
    assert.equal(s.due('c', 'r', 1), true)
  })
})
