import { describe, it } from 'node:test'
import assert from 'node:assert/strict'
import { Store } from '../src/store/store.js'

const message = (id: string, from = 'peer-a'): any => ({ id, from, text: `text ${id}`, sentAt: 1, receivedAt: 2, request: false, read: false })

describe('store', () => {
  it('keeps one copy of a message that arrives twice at the same moment', async () => {
    const store = await Store.memory()
    const [first, second] = await Promise.all([store.addIncoming([message('m1')]), store.addIncoming([message('m1')])])
    assert.equal(first.length + second.length, 1)
    assert.equal((await store.listIncoming()).length, 1)
    await store.close()
  })

  it('keys duplicates by sender and id, so one sender cannot shadow another\'s message', async () => {
    const store = await Store.memory()
    await store.addIncoming([message('same', 'peer-a')])
    const added = await store.addIncoming([message('same', 'peer-b'), message('same', 'peer-b')])
    assert.equal(added.length, 1)
    assert.deepEqual((await store.listIncoming()).map(m => [m.from, m.seq]), [['peer-a', 1], ['peer-b', 2]])
    await store.close()
  })

  it('pages the inbox by seq and honours limit 0', async () => {
    const store = await Store.memory()
    await store.addIncoming([message('a'), message('b'), message('c')])
    assert.deepEqual((await store.listIncoming({ afterSeq: 1 })).map(m => m.id), ['b', 'c'])
    assert.deepEqual((await store.listIncoming({ limit: 2 })).map(m => m.id), ['a', 'b'])
    assert.deepEqual(await store.listIncoming({ limit: 0 }), [])
    await store.close()
  })
})
