import { describe, it } from 'node:test'
import assert from 'node:assert/strict'
import { Store } from '../src/store/store.js'
import { MailboxStore } from '../src/mailbox/mailbox-store.js'

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

  it('pages a mailbox within a count and a byte budget, and says whether more remains', async () => {
    const store = await Store.memory()
    const mail = new MailboxStore(store.database, false)
    await mail.open()
    const envelope = (n: number): Uint8Array => new Uint8Array(100).fill(n)
    await mail.put([1, 2, 3, 4].map(n => ({ recipient: 'bob', id: `id${n}`, envelope: envelope(n) })))
    await mail.put([{ recipient: 'carol', id: 'c1', envelope: envelope(9) }])
    const ids = (page: { mail: Array<{ id: string }> }): string[] => page.mail.map(m => m.id)
    const all = await mail.page('bob', 0, 10, 1 << 20)
    assert.deepEqual([ids(all), all.more], [['id1', 'id2', 'id3', 'id4'], false], 'carol\'s mail is not bob\'s')
    const byCount = await mail.page('bob', 0, 3, 1 << 20)
    assert.deepEqual([ids(byCount), byCount.more], [['id1', 'id2', 'id3'], true])
    const byBytes = await mail.page('bob', 0, 10, 250)
    assert.deepEqual([ids(byBytes), byBytes.more], [['id1', 'id2'], true], 'the byte budget cuts the page')
    const oneOverBudget = await mail.page('bob', 0, 10, 10)
    assert.deepEqual([ids(oneOverBudget), oneOverBudget.more], [['id1'], true], 'one envelope always fits')
    const rest = await mail.page('bob', byCount.mail[2].seq, 10, 1 << 20)
    assert.deepEqual([ids(rest), rest.more], [['id4'], false])
    const none = await mail.page('bob', rest.mail[0].seq, 10, 1 << 20)
    assert.deepEqual([ids(none), none.more], [[], false])
    await store.close()
  })
})
