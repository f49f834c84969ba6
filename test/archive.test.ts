/**
 * A relay's channel archive on an in-memory LevelDB: frames kept once, paged in order within
 * limits, trimmed to the per-topic cap, per-peer topic limits, and the TTL sweep.
 */
import { describe, it } from 'node:test'
import assert from 'node:assert/strict'
import { MemoryLevel } from 'memory-level'
import { ArchiveStore } from '../src/channels/archive-store.js'

const TOPIC = '/pigeon/channel/1/00112233445566778899aabbccddeeff'

async function store (): Promise<ArchiveStore> {
  const db = new MemoryLevel<string, any>({ valueEncoding: 'json' })
  await db.open()
  const s = new ArchiveStore(db as any)
  await s.open()
  return s
}

const frame = (i: number, size = 100): { id: string, data: Uint8Array } => ({ id: i.toString(16).padStart(40, '0'), data: new Uint8Array(size).fill(i % 256) })

describe('relay channel archive', () => {
  it('keeps each frame once and pages it back in order, within the frame and byte limits', async () => {
    const s = await store()
    assert.equal(await s.addTopic(TOPIC, 'peer-a', { perPeer: 4, total: 10 }), true)
    assert.equal(await s.add(TOPIC, [frame(1), frame(2), frame(1)], 100), 2)
    assert.equal(await s.add(TOPIC, [frame(2), frame(3)], 100), 1)
    const all = await s.page(TOPIC, 0, 10, 1 << 20)
    assert.deepEqual(all.frames.map(f => f.seq), [1, 2, 3])
    assert.equal(all.more, false)
    const first = await s.page(TOPIC, 0, 2, 1 << 20)
    assert.deepEqual(first.frames.map(f => f.seq), [1, 2])
    assert.equal(first.more, true)
    const rest = await s.page(TOPIC, 2, 2, 1 << 20)
    assert.deepEqual(rest.frames.map(f => f.data[0]), [3])
    // A byte budget smaller than two frames still returns one, and says more follow.
    const small = await s.page(TOPIC, 0, 10, 150)
    assert.equal(small.frames.length, 1)
    assert.equal(small.more, true)
    // Another topic's frames are not in this one's range.
    await s.addTopic(TOPIC + '0', 'peer-a', { perPeer: 4, total: 10 })
    await s.add(TOPIC + '0', [frame(9)], 100)
    assert.equal((await s.page(TOPIC, 0, 10, 1 << 20)).frames.length, 3)
  })

  it('trims a topic to its cap, oldest first, and never reuses a seq', async () => {
    const s = await store()
    await s.addTopic(TOPIC, 'peer-a', { perPeer: 4, total: 10 })
    for (let i = 1; i <= 5; i++) await s.add(TOPIC, [frame(i)], 3)
    const page = await s.page(TOPIC, 0, 10, 1 << 20)
    assert.deepEqual(page.frames.map(f => f.seq), [3, 4, 5])
    assert.equal(s.totals().frames, 3)
  })

  it('limits topics per peer and in all', async () => {
    const s = await store()
    assert.equal(await s.addTopic(TOPIC + '1', 'peer-a', { perPeer: 2, total: 3 }), true)
    assert.equal(await s.addTopic(TOPIC + '2', 'peer-a', { perPeer: 2, total: 3 }), true)
    assert.equal(await s.addTopic(TOPIC + '3', 'peer-a', { perPeer: 2, total: 3 }), false, 'per peer')
    assert.equal(await s.addTopic(TOPIC + '1', 'peer-a', { perPeer: 2, total: 3 }), true, 'asking again is free')
    assert.equal(await s.addTopic(TOPIC + '3', 'peer-b', { perPeer: 2, total: 3 }), true)
    assert.equal(await s.addTopic(TOPIC + '4', 'peer-b', { perPeer: 2, total: 3 }), false, 'in all')
    assert.equal(await s.addTopic(TOPIC + '1', 'peer-b', { perPeer: 2, total: 3 }), true, 'an archived topic takes another peer')
  })

  it('sweeps frames older than the TTL, then the topics left empty and silent', async () => {
    const s = await store()
    await s.addTopic(TOPIC, 'peer-a', { perPeer: 4, total: 10 })
    await s.add(TOPIC, [frame(1), frame(2)], 100)
    assert.deepEqual(await s.sweep(Date.now() - 60_000), { frames: 0, topics: [] })
    const swept = await s.sweep(Date.now() + 1)
    assert.deepEqual(swept, { frames: 2, topics: [TOPIC] })
    assert.equal(s.topics.has(TOPIC), false)
    assert.deepEqual((await s.page(TOPIC, 0, 10, 1 << 20)).frames, [])
  })
})
