import { describe, it } from 'node:test'
import assert from 'node:assert/strict'
import { DeliveryLatency, LATENCY_WINDOW_MS } from '../src/outbox/latency.js'

describe('delivery latency window', () => {
  it('gives p50 and p99 over the window and forgets older samples', () => {
    const l = new DeliveryLatency()
    assert.deepEqual(l.summary(0), { windowMs: LATENCY_WINDOW_MS, count: 0, p50Ms: null, p99Ms: null })
    for (let i = 1; i <= 100; i++) l.add(i, 1000)
    assert.deepEqual(l.summary(1000), { windowMs: LATENCY_WINDOW_MS, count: 100, p50Ms: 50, p99Ms: 99 })
    l.add(5000, 2000 + LATENCY_WINDOW_MS)
    assert.deepEqual(l.summary(2000 + LATENCY_WINDOW_MS), { windowMs: LATENCY_WINDOW_MS, count: 1, p50Ms: 5000, p99Ms: 5000 })
  })
})
