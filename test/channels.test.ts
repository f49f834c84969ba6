/**
 * Group channels with real nodes over TCP on 127.0.0.1: a relay archives, members post, catch up,
 * get removed and leave.
 */
import { describe, it, after } from 'node:test'
import assert from 'node:assert/strict'
import { Nodes, nextEvent } from './helpers.js'
import type { PigeonNode } from '../src/index.js'
import type { ChannelMessageView } from '../src/channels/index.js'

const DEADLINE = 20_000

/** Resolves when `node` has stored a channel message that `match` accepts. */
async function channelMessage (node: PigeonNode, match: (m: ChannelMessageView) => boolean, ms = DEADLINE): Promise<ChannelMessageView> {
  return await nextEvent<ChannelMessageView>(node, 'channel:message', match, ms)
}

describe('channels', () => {
  const nodes = new Nodes()
  const dirs: Array<() => Promise<void>> = []
  after(async () => {
    await nodes.cleanup()
    for (const c of dirs) await c()
  })

  /** A relay and `n` members with it as home relay; the first creates "team", the others join and all see every join. */
  async function team (n: number): Promise<{ relay: PigeonNode, members: PigeonNode[], invite: string }> {
    const relay = await nodes.node({ relay: true })
    const members: PigeonNode[] = []
    for (let i = 0; i < n; i++) {
      const m = await nodes.node()
      await m.addRelay(relay.card())
      members.push(m)
    }
    const { invite } = await members[0].channels.create('team')
    for (let i = 1; i < n; i++) {
      const m = members[i]
      // Those already in see the newcomer's join; it reads theirs from the relay's archive.
      const joins = members.slice(0, i).map(async o => channelMessage(o, x => x.kind === 'join' && x.author === m.peerId.toString()))
      const theirs = new Set(members.slice(0, i).map(o => o.peerId.toString()))
      const caughtUp = channelMessage(m, x => { if (x.kind === 'join') theirs.delete(x.author); return theirs.size === 0 })
      await m.channels.join(invite)
      await Promise.all([...joins, caughtUp])
    }
    return { relay, members, invite }
  }

  it('five members all receive each other\'s posts, in the same order everywhere', async () => {
    const { members } = await team(5)
    const texts = members.map((_, i) => `hello from ${i}`)
    const all = members.map(async m => {
      const got = new Set<string>()
      return await channelMessage(m, x => { if (x.kind === 'text') got.add(x.text!); return got.size === texts.length }, DEADLINE)
    })
    await Promise.all(members.map(async (m, i) => m.channels.post('team', texts[i])))
    await Promise.all(all)
    const orders = await Promise.all(members.map(async m => (await m.channels.read('team')).filter(x => x.kind === 'text').map(x => x.id)))
    for (const o of orders) assert.deepEqual(o, orders[0])
    assert.equal(orders[0].length, 5)
    for (const m of members) assert.equal(m.channels.members('team').length, 5)
  })
})
