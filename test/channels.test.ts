/**
 * Group channels with real nodes over TCP on 127.0.0.1: a relay archives, members post, catch up,
 * get removed and leave.
 */
import { describe, it, after } from 'node:test'
import assert from 'node:assert/strict'
import { randomBytes } from 'node:crypto'
import { Nodes, nextEvent, tempDir, WS } from './helpers.js'
import { InvalidInviteError, type ChannelInfo, type ChannelRejection, type PigeonNode } from '../src/index.js'
import { topicFor, type ChannelMessageView } from '../src/channels/index.js'
import { openFrame, sealPost, decodeInvite, encodeInvite } from '../src/channels/crypto.js'
import { Frame, Post, Signed } from '../src/channels/pb/channel.js'
import { localKeys } from '../src/crypto/keys.js'
import { HISTORY_PROTOCOL } from '../src/channels/constants.js'
import { HistoryRequest, HistoryResponse } from '../src/channels/pb/channel.js'
import { pbStream } from '@libp2p/utils'
import { generateKeyPair } from '@libp2p/crypto/keys'
import { peerIdFromPrivateKey } from '@libp2p/peer-id'
import * as chacha from '@noble/ciphers/chacha.js'

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

  /**
   * A relay and `n` members with it as home relay, each on its own data dir (in `dirs`); the first
   * creates "team", the others join and all see every join. Member 2 listens on WebSockets only.
   */
  async function team (n: number): Promise<{ relay: PigeonNode, members: PigeonNode[], invite: string, dirs: string[] }> {
    const relay = await nodes.node({ relay: true })
    const members: PigeonNode[] = []
    const memberDirs: string[] = []
    for (let i = 0; i < n; i++) {
      const t = await tempDir()
      dirs.push(t.cleanup)
      memberDirs.push(t.dir)
      const m = await nodes.node({ dataDir: t.dir, ...(i === 2 ? { listen: WS } : {}) })
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
    return { relay, members, invite, dirs: memberDirs }
  }

  /** Resolves when `node` has stored every post whose text is in `texts`. */
  async function allTexts (node: PigeonNode, texts: string[], ms = DEADLINE): Promise<void> {
    const missing = new Set(texts)
    for (const m of await node.channels.read('team')) if (m.text != null) missing.delete(m.text)
    if (missing.size === 0) return
    await channelMessage(node, x => { if (x.text != null) missing.delete(x.text); return missing.size === 0 }, ms)
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

  it('a member offline during ten posts catches up from the relay on restart, in the same order as the others', async () => {
    const { members, dirs: memberDirs } = await team(4)
    const away = members[3]
    const awayId = away.peerId.toString()
    await away.stop()
    // Authors take turns; every member has the posts before the absent one comes back.
    const texts = Array.from({ length: 10 }, (_, i) => `while you were away ${i}`)
    const present = members.slice(0, 3)
    const seen = present.map(async m => allTexts(m, texts))
    for (let i = 0; i < texts.length; i++) await present[i % 3].channels.post('team', texts[i])
    await Promise.all(seen)

    const back = await nodes.createOnly({ dataDir: memberDirs[3] })
    assert.equal(back.peerId.toString(), awayId)
    const caughtUp = allTexts(back, texts)
    await back.start()
    await caughtUp
    const order = async (m: PigeonNode): Promise<string[]> => (await m.channels.read('team')).map(x => `${x.author}/${x.id}`)
    const reference = await order(members[0])
    for (const m of [...present, back]) assert.deepEqual(await order(m), reference)
    // Shown once each, even though the relay and the live mesh may both deliver a post.
    const shown = (await back.channels.read('team')).filter(x => x.kind === 'text').map(x => x.text)
    assert.deepEqual(shown.filter(t => texts.includes(t!)).sort(), [...texts].sort())
  })

  it('a node subscribed to the topic without the key reads nothing', async () => {
    const { members } = await team(2)
    const record = members[0].channels.get('team')
    const topic = topicFor(Buffer.from(record.id, 'hex'), record.epoch, Buffer.from(record.keys[record.epoch], 'hex'))
    // An eavesdropper told the topic (say, by a relay operator) subscribes and connects to a member.
    const eve = await nodes.node()
    const frames: Uint8Array[] = []
    const got = new Promise<void>(resolve => {
      eve.libp2p.services.pubsub.addEventListener('message', (evt) => { frames.push(evt.detail.data); resolve() })
    })
    eve.libp2p.services.pubsub.subscribe(topic)
    const subscribed = [
      nextEvent(members[0].libp2p.services.pubsub, 'subscription-change', (d: any) => d.peerId.equals(eve.peerId)),
      nextEvent(eve.libp2p.services.pubsub, 'subscription-change', (d: any) => d.peerId.equals(members[0].peerId))
    ]
    await eve.libp2p.dial(members[0].libp2p.getMultiaddrs()[0])
    await Promise.all(subscribed)
    const text = 'for members only'
    await members[1].channels.post('team', text)
    await got
    assert.ok(frames.length > 0)
    for (const data of frames) {
      assert.equal(Buffer.from(data).includes(Buffer.from(text)), false, 'the plaintext is not on the wire')
      assert.throws(() => openFrame(data, Buffer.from(record.id, 'hex'), record.epoch, randomBytes(32)), { name: 'FrameRejectedError', reason: 'decrypt-failed' } as any)
    }
    assert.deepEqual(eve.channels.list(), [])
  })

  it('drops invalid frames, never shows them, and scores their sender down', async () => {
    const { members } = await team(2)
    const [alice, bob] = members
    const record = alice.channels.get('team')
    const channel = Buffer.from(record.id, 'hex')
    const key = Buffer.from(record.keys[record.epoch], 'hex')
    const topic = topicFor(channel, record.epoch, key)
    const mallory = await nodes.node()
    const malloryKey = await generateKeyPair('Ed25519')
    const malloryKeys = localKeys(malloryKey, peerIdFromPrivateKey(malloryKey))
    // Each side knows the other is on the topic before mallory publishes.
    const subscribed = [
      nextEvent(alice.libp2p.services.pubsub, 'subscription-change', (d: any) => d.peerId.equals(mallory.peerId)),
      nextEvent(mallory.libp2p.services.pubsub, 'subscription-change', (d: any) => d.peerId.equals(alice.peerId))
    ]
    mallory.libp2p.services.pubsub.subscribe(topic)
    await mallory.libp2p.dial(alice.libp2p.getMultiaddrs()[0])
    await Promise.all(subscribed)

    const post = (text: string): Uint8Array<ArrayBuffer> => Post.encode({ kind: 0, id: randomBytes(16), wall: BigInt(Date.now()), counter: 0, text, relays: [], addrs: [], member: new Uint8Array(0), nextEpoch: 0 })
    const bad: Array<[string, Uint8Array]> = [
      // Encrypted with another key: a non-member's post.
      ['decrypt-failed', sealPost(malloryKeys, channel, record.epoch, randomBytes(32), post('no key'))],
      // Right key, signed by one peer and claiming another as author.
      ['bad-signature', reseal(Signed.encode({ author: alice.peerId.toMultihash().bytes as Uint8Array<ArrayBuffer>, signature: new Uint8Array(randomBytes(64)), post: post('forged') }))],
      // Not a frame at all.
      ['malformed', randomBytes(300)],
      // Dated far in the future, to sort after everything forever.
      ['future', sealPost(malloryKeys, channel, record.epoch, key, Post.encode({ ...Post.decode(post('from the future')), wall: BigInt(Date.now() + 24 * 3600_000) }))]
    ]
    function reseal (signed: Uint8Array): Uint8Array {
      // Encrypts a hand-made Signed with the real key, as crypto.ts does.
      const { xchacha20poly1305 } = chacha
      const nonce = randomBytes(24)
      const epoch = Buffer.alloc(4)
      epoch.writeUInt32BE(record.epoch)
      const aad = Buffer.concat([Buffer.from('pigeon-channel-v1\0'), channel, epoch])
      return Frame.encode({ version: 1, nonce, ciphertext: xchacha20poly1305(key, nonce, aad).encrypt(signed) })
    }
    const rejections: ChannelRejection[] = []
    const allRejected = nextEvent<ChannelRejection>(alice, 'channel:rejected', r => { rejections.push(r); return rejections.length === bad.length })
    for (const [, data] of bad) await mallory.libp2p.services.pubsub.publish(topic, data)
    await allRejected
    assert.ok(rejections.every(r => r.from === mallory.peerId.toString() && r.source === 'gossip'))
    assert.deepEqual(rejections.map(r => r.reason).sort(), [
      'author signature does not verify', 'frame does not decode', 'frame does not decrypt with the epoch key', 'post is dated in the future'
    ])
    // The GossipSub interface type leaves getScore out; the implementation has it.
    const scores = alice.libp2p.services.pubsub as unknown as { getScore: (peer: string) => number }
    // Scores are cached for a heartbeat: the penalty shows by the next heartbeats.
    await nextEvent(alice.libp2p.services.pubsub, 'gossipsub:heartbeat', () => scores.getScore(mallory.peerId.toString()) < 0, 10_000)

    // A real post after the junk arrives, and only it is shown.
    const fine = channelMessage(alice, m => m.text === 'still fine')
    await bob.channels.post('team', 'still fine')
    await fine
    const texts = (await alice.channels.read('team')).filter(m => m.kind === 'text').map(m => m.text)
    assert.deepEqual(texts, ['still fine'])
  })

  it('a relay that forwards junk it cannot check is not scored down; the junk is still dropped', async () => {
    const { relay, members } = await team(2)
    const [alice, bob] = members
    const record = alice.channels.get('team')
    const channel = Buffer.from(record.id, 'hex')
    const key = Buffer.from(record.keys[record.epoch], 'hex')
    const topic = topicFor(channel, record.epoch, key)
    // Mallory holds the topic (a member of an earlier epoch could) and reaches alice only through the relay.
    const mallory = await nodes.node()
    const malloryKey = await generateKeyPair('Ed25519')
    const malloryKeys = localKeys(malloryKey, peerIdFromPrivateKey(malloryKey))
    const subscribed = nextEvent(relay.libp2p.services.pubsub, 'subscription-change', (d: any) => d.peerId.equals(mallory.peerId))
    mallory.libp2p.services.pubsub.subscribe(topic)
    await mallory.libp2p.dial(relay.libp2p.getMultiaddrs()[0])
    await subscribed
    await nextEvent(mallory.libp2p.services.pubsub, 'subscription-change', (d: any) => d.peerId.equals(relay.peerId))

    // Eight frames that decrypt with no key: as a sender's, they would put it on the graylist
    // (-10 x 8^2 = -640, below -400).
    const junk = 8
    const post = (text: string): Uint8Array<ArrayBuffer> => Post.encode({ kind: 0, id: randomBytes(16), wall: BigInt(Date.now()), counter: 0, text, relays: [], addrs: [], member: new Uint8Array(0), nextEpoch: 0 })
    const rejections: ChannelRejection[] = []
    const allRejected = nextEvent<ChannelRejection>(alice, 'channel:rejected', r => { rejections.push(r); return rejections.length === junk })
    for (let i = 0; i < junk; i++) await mallory.libp2p.services.pubsub.publish(topic, sealPost(malloryKeys, channel, record.epoch, randomBytes(32), post(`junk ${i}`)))
    await allRejected
    assert.ok(rejections.every(r => r.from === relay.peerId.toString() && r.reason === 'frame does not decrypt with the epoch key'), JSON.stringify(rejections))
    // Scores are recomputed on heartbeats: two of them after the last rejection.
    const scores = alice.libp2p.services.pubsub as unknown as { getScore: (peer: string) => number }
    for (let i = 0; i < 2; i++) await nextEvent(alice.libp2p.services.pubsub, 'gossipsub:heartbeat', () => true, 10_000)
    assert.ok(scores.getScore(relay.peerId.toString()) >= 0, `the relay's score is ${scores.getScore(relay.peerId.toString())}`)

    // The relay still carries the channel, and nothing of the junk is shown.
    const fine = channelMessage(alice, m => m.text === 'through the relay')
    await bob.channels.post('team', 'through the relay')
    await fine
    assert.deepEqual((await alice.channels.read('team')).filter(m => m.kind === 'text').map(m => m.text), ['through the relay'])
  })

  it('a removed member cannot read what is posted after its removal, even on the new topic', async () => {
    const { members } = await team(4)
    const [creator, stays, alsoStays, removed] = members
    const removedId = removed.peerId.toString()
    const old = removed.channels.get('team')
    const oldKey = Buffer.from(old.keys[old.epoch], 'hex')
    const channel = Buffer.from(old.id, 'hex')

    const rekeyed = [stays, alsoStays].map(async m => nextEvent<ChannelInfo>(m, 'channel:update', i => i.epoch === 1 && !i.awaitingKey, DEADLINE))
    const toldRemoved = nextEvent<ChannelInfo>(removed, 'channel:update', i => i.state === 'removed', DEADLINE)
    await creator.channels.remove('team', removedId)
    await Promise.all([...rekeyed, toldRemoved])
    assert.equal(creator.channels.members('team').length, 3)
    assert.ok(!creator.channels.members('team').some(m => m.peerId === removedId))

    // The removed member listens on every topic it could know of.
    const captured: Uint8Array[] = []
    for (const t of [topicFor(channel, 0, oldKey), topicFor(channel, 1, oldKey)]) removed.libp2p.services.pubsub.subscribe(t)
    removed.libp2p.services.pubsub.addEventListener('message', (evt) => { captured.push(evt.detail.data) })

    const secret = 'after the removal'
    const arrived = [creator, alsoStays].map(async m => channelMessage(m, x => x.text === secret))
    await stays.channels.post('team', secret)
    await Promise.all(arrived)
    // And one more from the creator, so a frame in flight to the removed node has had every chance.
    const last = channelMessage(stays, x => x.text === 'and another')
    await creator.channels.post('team', 'and another')
    await last
    assert.equal(removed.channels.get('team').keys['1'], undefined, 'the removed member never got the new key')
    assert.ok(!(await removed.channels.read('team')).some(m => m.text === secret || m.text === 'and another'))
    for (const data of captured) {
      assert.throws(() => openFrame(data, channel, 1, oldKey))
      assert.equal(Buffer.from(data).includes(Buffer.from(secret)), false)
    }
    await assert.rejects(removed.channels.post('team', 'let me in'), { name: 'ChannelStateError' })
  })

  it('after a removal an old invite gives no key to the new epoch: the newcomer waits until a fresh invite', async () => {
    const { members, invite: oldInvite, relay } = await team(3)
    const [creator, stays, removed] = members
    const rekeyed = nextEvent<ChannelInfo>(stays, 'channel:update', i => i.epoch === 1 && !i.awaitingKey)
    assert.equal(await creator.channels.remove('team', removed.peerId.toString()), removed.peerId.toString())
    await rekeyed
    // The removed member cannot come back with the invite it had.
    await assert.rejects(removed.channels.join(oldInvite), { name: 'ChannelStateError' })

    // Whoever holds the old invite (the removed member under a new identity, say) learns of the
    // new epoch from the archive, but not its key: its posts wait, unread by anyone.
    const late = await nodes.node()
    await late.addRelay(relay.card())
    const waiting = nextEvent<ChannelInfo>(late, 'channel:update', i => i.awaitingKey)
    await late.channels.join(oldInvite)
    await waiting
    await late.channels.post('team', 'held until I have the key')
    assert.ok(late.channels.channel('team').pending >= 1)
    assert.throws(() => late.channels.invite('team'), { name: 'ChannelStateError' })
    await assert.rejects(late.channels.join(oldInvite), { name: 'ChannelStateError', message: /fresh invite/ })

    // A member's fresh invite carries the current key: the held post goes out in the new epoch.
    const keyed = nextEvent<ChannelInfo>(late, 'channel:update', i => i.epoch === 1 && !i.awaitingKey)
    const arrived = [creator, stays].map(async m => channelMessage(m, x => x.text === 'held until I have the key'))
    await late.channels.join(stays.channels.invite('team'))
    await keyed
    await Promise.all(arrived)
    assert.ok(!(await removed.channels.read('team')).some(m => m.text === 'held until I have the key'))
  })

  it('the creator can cut off a member that left, who still holds the key', async () => {
    const { members } = await team(3)
    const [creator, stays, leaver] = members
    const left = channelMessage(creator, x => x.kind === 'leave')
    await leaver.channels.leave('team')
    await left
    const rekeyed = nextEvent<ChannelInfo>(stays, 'channel:update', i => i.epoch === 1 && !i.awaitingKey)
    await creator.channels.remove('team', leaver.peerId.toString())
    await rekeyed
    await assert.rejects(creator.channels.remove('team', creator.peerId.toString()), { name: 'ChannelStateError' })
  })

  it('a member that leaves is gone from the member list and the channel stops for it', async () => {
    const { members } = await team(3)
    const [alice, bob, carol] = members
    const left = [alice, bob].map(async m => channelMessage(m, x => x.kind === 'leave' && x.author === carol.peerId.toString()))
    await carol.channels.leave('team')
    await Promise.all(left)
    for (const m of [alice, bob]) assert.deepEqual(m.channels.members('team').map(x => x.peerId).sort(), [alice, bob].map(n => n.peerId.toString()).sort())
    assert.equal(carol.channels.channel('team').state, 'left')
    await assert.rejects(carol.channels.post('team', 'hello?'), { name: 'ChannelStateError' })
    await assert.rejects(bob.channels.remove('team', alice.peerId.toString()), { name: 'ChannelStateError' })
  })

  it('refuses altered and damaged invites with one clear error', async () => {
    const alice = await nodes.node({ memory: true })
    const { invite } = await alice.channels.create('crew')
    assert.equal(decodeInvite(invite).invite.name, 'crew')
    const body = invite.slice('pigeon-invite:'.length)
    const flipped = 'pigeon-invite:' + body.slice(0, 60) + (body[60] === 'A' ? 'B' : 'A') + body.slice(61)
    assert.throws(() => decodeInvite(flipped), InvalidInviteError)
    assert.throws(() => decodeInvite('pigeon-invite:!!!'), InvalidInviteError)
    assert.throws(() => decodeInvite('hello'), InvalidInviteError)
    await assert.rejects(alice.channels.join(invite), { name: 'ChannelStateError' })
    // An inviter cannot pass off another peer as the creator: the channel id binds the real one.
    const inviterKey = await generateKeyPair('Ed25519')
    const inviter = localKeys(inviterKey, peerIdFromPrivateKey(inviterKey))
    const genuine = decodeInvite(invite).invite
    const forged = encodeInvite(inviter, { ...genuine, creator: inviter.idBytes as Uint8Array<ArrayBuffer>, inviter: inviter.idBytes as Uint8Array<ArrayBuffer> })
    assert.throws(() => decodeInvite(forged), { name: 'InvalidInviteError', message: /creator/ })
    const resigned = encodeInvite(inviter, { ...genuine, inviter: inviter.idBytes as Uint8Array<ArrayBuffer> })
    assert.equal(decodeInvite(resigned).creator.toString(), alice.peerId.toString())
    await assert.rejects(alice.channels.create('crew'), { name: 'ChannelStateError' })
    await assert.rejects(alice.channels.create('has space'), { name: 'InvalidMessageError' })
    await assert.rejects(alice.channels.post('crew', 'x'.repeat(9000)), { name: 'InvalidMessageError' })
    await assert.rejects(alice.channels.post('nope', 'hi'), { name: 'ChannelNotFoundError' })
  })

  it('history from a lying relay goes through the same checks: forged frames are dropped, real ones kept', async () => {
    const { relay, members } = await team(2)
    const [alice, bob] = members
    const record = alice.channels.get('team')
    const channel = Buffer.from(record.id, 'hex')
    const key = Buffer.from(record.keys[record.epoch], 'hex')
    const topic = topicFor(channel, record.epoch, key)
    const textPost = (text: string): Uint8Array => Post.encode({ kind: 0, id: randomBytes(16), wall: BigInt(Date.now()), counter: 0, text, relays: [], addrs: [], member: new Uint8Array(0), nextEpoch: 0 })
    const carolKey = await generateKeyPair('Ed25519')
    const carol = localKeys(carolKey, peerIdFromPrivateKey(carolKey))
    const wrongKey = sealPost(carol, channel, record.epoch, randomBytes(32), textPost('wrong key'))
    const genuine = sealPost(carol, channel, record.epoch, key, textPost('relayed from the archive'))
    // The relay now answers every fetch with junk and a frame sealed with the wrong key.
    await relay.libp2p.unhandle(HISTORY_PROTOCOL)
    await relay.libp2p.handle(HISTORY_PROTOCOL, async (stream) => {
      const pb = pbStream(stream, { maxDataLength: 1 << 20 })
      const request = await pb.read(HistoryRequest)
      const after = request.after
      const frames = request.topic !== topic
        ? []
        : [randomBytes(500), wrongKey, genuine].map((data, i) => ({ seq: after + BigInt(i + 1), data: new Uint8Array(data) }))
      await pb.write({ status: 0, message: '', frames, more: false }, HistoryResponse)
      await stream.close()
    }, { runOnLimitedConnection: true })
    const rejected: ChannelRejection[] = []
    const both = nextEvent<ChannelRejection>(bob, 'channel:rejected', r => { rejected.push(r); return rejected.length === 2 })
    const kept = channelMessage(bob, m => m.text === 'relayed from the archive')
    // bob reconnects to its relay: a catch-up follows.
    await bob.libp2p.hangUp(relay.peerId)
    await bob.libp2p.dial(relay.libp2p.getMultiaddrs()[0])
    await Promise.all([both, kept])
    assert.ok(rejected.every(r => r.source === 'history' && r.from === relay.peerId.toString()))
    assert.ok(!(await bob.channels.read('team')).some(m => m.text === 'wrong key'))
  })

  it('members that cannot be dialled and share no relay still mesh through each other\'s relays', async () => {
    const relayA = await nodes.node({ relay: true })
    const relayB = await nodes.node({ relay: true })
    // No listen addresses: like nodes behind NAT, reachable only through their relays.
    const alice = await nodes.node({ memory: true, listen: [] })
    const bob = await nodes.node({ memory: true, listen: [] })
    await alice.addRelay(relayA.card())
    await bob.addRelay(relayB.card())
    const { invite } = await alice.channels.create('hidden')
    const bobSeen = channelMessage(alice, m => m.kind === 'join' && m.author === bob.peerId.toString())
    await bob.channels.join(invite)
    await bobSeen
    const fromBob = channelMessage(alice, m => m.text === 'via the relays')
    const fromAlice = channelMessage(bob, m => m.text === 'and back')
    await bob.channels.post('hidden', 'via the relays')
    await alice.channels.post('hidden', 'and back')
    await Promise.all([fromBob, fromAlice])
    // Neither has a direct connection to the other: every byte went through a relay.
    for (const [a, b] of [[alice, bob], [bob, alice]]) {
      for (const conn of a.libp2p.getConnections(b.peerId)) assert.ok(conn.remoteAddr.toString().includes('/p2p-circuit'))
    }
  })
})
