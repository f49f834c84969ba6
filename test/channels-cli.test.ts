/**
 * Channels through the CLI, with real processes: a relay, and alice and bob with it as home
 * relay, each a `pigeon start` child on 127.0.0.1 with LevelDB in a temp dir. Alice creates a
 * channel, bob joins it with the printed invite, both post and read, alice removes bob. The
 * tests run in order, each going on from where the one before left off. (Ordering, key
 * rotation and history in depth are covered in-process by channels.test.ts.)
 */
import { describe, it, before, after } from 'node:test'
import assert from 'node:assert/strict'
import { spawn } from 'node:child_process'
import { ControlApi, Daemon, EventStream, Lines, PIGEON_BIN, exited, pigeon, type CliResult } from './cli-helpers.js'
import { tempDir } from './helpers.js'

const json = (text: string): any => JSON.parse(text)
/** NDJSON: one value per line. */
const lines = (text: string): any[] => text.split('\n').filter(l => l.length > 0).map(json)

interface Peer { dir: string, d: Daemon, api: ControlApi }

const as = async (p: Peer, ...args: string[]): Promise<CliResult> => pigeon(['--data-dir', p.dir, ...args])

/** Runs a CLI command that must succeed; returns its stdout. */
async function ok (p: Peer, ...args: string[]): Promise<string> {
  const result = await as(p, ...args)
  assert.equal(result.code, 0, `pigeon ${args.join(' ')}: ${result.stderr}`)
  return result.stdout
}

/** Runs a CLI command that must fail with `code` and a single `pigeon: …` line on stderr; returns that line. */
async function fails (p: Peer, code: number, ...args: string[]): Promise<string> {
  const result = await as(p, ...args)
  assert.equal(result.code, code, `pigeon ${args.join(' ')} exited ${String(result.code)}: ${result.stderr}`)
  assert.equal(result.stdout, '')
  assert.match(result.stderr, /^pigeon: [^\n]+\n$/, 'one line')
  return result.stderr
}

describe('channels through the CLI', { concurrency: false }, () => {
  const cleanups: Array<() => Promise<unknown>> = []
  // Last in, first out: daemons stop before their dirs go.
  after(async () => { for (const c of cleanups.reverse()) await c().catch(() => {}) })

  async function peer (args: string[] = []): Promise<Peer> {
    const t = await tempDir()
    cleanups.push(t.cleanup)
    const d = await Daemon.start(t.dir, { args })
    cleanups.push(async () => d.stop())
    return { dir: t.dir, d, api: await ControlApi.of(t.dir) }
  }

  let relay: Peer
  let alice: Peer
  let bob: Peer
  let aliceId: string
  let bobId: string
  /** Alice's events for her channel "team", open from before bob joined. */
  let aliceEvents: EventStream
  /** All of bob's events, open from before he joined. */
  let bobEvents: EventStream
  let invite: string

  before(async () => {
    [relay, alice, bob] = await Promise.all([peer(['--relay']), peer(), peer()])
    aliceId = alice.d.info.peerId
    bobId = bob.d.info.peerId
    for (const p of [alice, bob]) assert.equal(await ok(p, 'relays', 'add', relay.d.info.card), `added home relay ${relay.d.info.peerId}\n`)
    await ok(alice, 'contacts', 'add', 'bob', bob.d.info.card)
  })

  it('create prints an invite on stdout and a hint on stderr; list and invite show the channel', async () => {
    const created = await as(alice, 'channel', 'create', 'team')
    assert.equal(created.code, 0, created.stderr)
    assert.match(created.stdout, /^pigeon-invite:[A-Za-z0-9_-]+\n$/)
    assert.match(created.stderr, /^pigeon: created channel team; others join with: pigeon channel join <the invite above>\n$/)
    invite = created.stdout.trim()

    const [info] = json(await ok(alice, '--json', 'channel', 'list'))
    assert.deepEqual([info.name, info.creator, info.state, info.members], ['team', aliceId, 'active', 1])
    // The creator's join may still be on its way to the relay ("1 post not yet sent").
    assert.match(await ok(alice, 'channel', 'list'), new RegExp(`^team\\t${info.id}\\t1 member\\tactive(, 1 post not yet sent)?\\n$`))
    assert.match(await ok(alice, 'channel', 'invite', 'team'), /^pigeon-invite:[A-Za-z0-9_-]+\n$/)
    assert.equal(json(await ok(alice, '--json', 'channel', 'invite', info.id)).invite.startsWith('pigeon-invite:'), true, 'by id too')
  })

  it('a second node joins with the invite, under its own name for the channel, and both see both joins', async () => {
    aliceEvents = await alice.api.events('?channel=team')
    bobEvents = await bob.api.events()
    cleanups.push(async () => { aliceEvents.close(); bobEvents.close() })
    assert.match(await ok(bob, 'channel', 'join', invite, '--as', 'crew'), /^joined crew \([0-9a-f]{32}\)\n$/)
    // Alice sees bob's join live; bob reads hers from the relay's archive or from alice.
    await Promise.all([
      aliceEvents.next('channel', m => m.kind === 'join' && m.author === bobId),
      bobEvents.next('channel', m => m.kind === 'join' && m.author === aliceId && m.name === 'crew')
    ])
    const again = await fails(bob, 1, 'channel', 'join', invite)
    assert.match(again, /already a member of this channel \(crew\)/)
  })

  it('posts from both are read by both, in the same order; human lines name contacts, "you" and joins', async () => {
    const fromAlice = json(await ok(alice, '--json', 'channel', 'post', 'team', 'hello from alice'))
    // Several words without quotes make one post, as with quotes.
    const fromBob = (await ok(bob, 'channel', 'post', 'crew', 'hello', 'from', 'bob')).trim()
    assert.match(fromBob, /^[0-9a-f]{32}$/)
    await Promise.all([
      aliceEvents.next('channel', m => m.id === fromBob && m.text === 'hello from bob'),
      bobEvents.next('channel', m => m.id === fromAlice.id && m.text === 'hello from alice')
    ])

    const [aliceView, bobView] = (await Promise.all([ok(alice, '--json', 'channel', 'read', 'team'), ok(bob, 'channel', 'read', 'crew', '--json')])).map(lines)
    assert.deepEqual(aliceView.map(m => m.id), bobView.map(m => m.id), 'the same order on both')
    assert.deepEqual(aliceView.map(m => m.kind).sort(), ['join', 'join', 'text', 'text'])
    assert.deepEqual(aliceView.map(m => m.order), aliceView.map(m => m.order).sort(), 'display order is order-key order')
    assert.ok(aliceView.every(m => m.name === 'team') && bobView.every(m => m.name === 'crew'), 'each node\'s own name for the channel')

    const human = (await ok(alice, 'channel', 'read', 'team')).trimEnd().split('\n')
    const expected = aliceView.map(m => m.kind === 'join'
      ? `* ${m.author === aliceId ? 'you' : 'bob'} joined`
      : `${m.author === aliceId ? 'you' : 'bob'}: ${m.text as string}`)
    assert.deepEqual(human.map(l => l.replace(/^\[\d{4}-\d\d-\d\d \d\d:\d\d:\d\d\] /, '')), expected)
    // Bob has no contacts: alice is a short peer id.
    assert.match(await ok(bob, 'channel', 'read', 'crew'), new RegExp(`\\] ${aliceId.slice(0, 8)}…${aliceId.slice(-6)}: hello from alice\\n`))

    const last = lines(await ok(bob, '--json', 'channel', 'read', 'crew', '-n', '2'))
    assert.deepEqual(last.map(m => m.id), bobView.slice(-2).map(m => m.id), '-n gives the newest')
  })

  it('read --follow prints the backlog, then a new post as it arrives, and ends cleanly on Ctrl-C', async () => {
    const follow = spawn(process.execPath, [PIGEON_BIN, '--data-dir', bob.dir, '--json', 'channel', 'read', 'crew', '--follow', '-n', '1'], { stdio: ['ignore', 'pipe', 'pipe'] })
    let stderr = ''
    follow.stderr.setEncoding('utf8').on('data', (d: string) => { stderr += d })
    const out = new Lines(follow)
    try {
      const newest = lines(await ok(bob, '--json', 'channel', 'read', 'crew', '-n', '1'))[0]
      assert.equal(json(await out.next()).id, newest.id, 'the backlog first')
      const id = (await ok(alice, 'channel', 'post', 'team', 'are you following?')).trim()
      const line = json(await out.next(l => json(l).kind === 'text'))
      assert.deepEqual([line.id, line.text, line.author], [id, 'are you following?', aliceId])
    } finally {
      follow.kill('SIGINT')
      const [code] = await exited(follow, 10_000)
      assert.equal(code, 0, stderr)
    }
    assert.equal(stderr, '')
  })

  it('members lists both, with contact names, the creator and "you"', async () => {
    assert.equal(await ok(alice, 'channel', 'members', 'team'), `${aliceId}\tyou\tcreator\n${bobId}\tbob\tmember\n`)
    assert.equal(await ok(bob, 'channel', 'members', 'crew'), `${aliceId}\t-\tcreator\n${bobId}\tyou\tmember\n`)
    const members = json(await ok(bob, '--json', 'channel', 'members', 'crew'))
    assert.deepEqual(members.map((m: any) => [m.peerId, m.state, m.contact, m.creator, m.you]), [[aliceId, 'member', null, true, false], [bobId, 'member', null, false, true]])
  })

  it('only the creator removes: bob fails with exit 1, alice removes bob, who then cannot post', async () => {
    assert.equal(await fails(bob, 1, 'channel', 'remove', 'crew', aliceId), 'pigeon: only the creator of crew can remove members\n')
    assert.match(await ok(alice, 'channel', 'remove', 'team', 'bob'), /^removed bob \(12D3KooW\w+\) from team\n$/)
    assert.equal(await ok(alice, 'channel', 'members', 'team'), `${aliceId}\tyou\tcreator\n`)
    await bobEvents.next('channel', m => m.kind === 'remove' && m.member === bobId)
    assert.match(await ok(alice, 'channel', 'read', 'team', '-n', '1'), /\] \* you removed bob\n$/)
    assert.equal(json(await ok(bob, '--json', 'channel', 'list'))[0].state, 'removed')
    assert.equal(await fails(bob, 1, 'channel', 'post', 'crew', 'still here?'), 'pigeon: you were removed from channel crew\n')
    assert.match(await fails(alice, 1, 'channel', 'remove', 'team', 'bob'), /bob is not a member of team/)
  })

  it('leave: the channel stays listed as left and takes no more posts', async () => {
    assert.equal(await ok(alice, 'channel', 'leave', 'team'), 'left team\n')
    assert.match(await ok(alice, 'channel', 'list'), /^team\t[0-9a-f]{32}\t0 members\tleft\n$/)
    await fails(alice, 1, 'channel', 'post', 'team', 'anyone?')
  })

  it('a bad invite, an unknown channel and bad input exit 2 with one line', async () => {
    assert.equal(await fails(alice, 2, 'channel', 'join', 'not an invite'), 'pigeon: an invite starts with "pigeon-invite:"\n')
    await fails(alice, 2, 'channel', 'join', invite.slice(0, -8) + 'AAAAAAAA')
    const unknown = [['read', 'nosuch'], ['read', 'nosuch', '--follow'], ['post', 'nosuch', 'hi'], ['members', 'nosuch'], ['invite', 'nosuch'], ['leave', 'nosuch'], ['remove', 'nosuch', 'bob']]
    await Promise.all(unknown.map(async args => {
      assert.equal(await fails(alice, 2, 'channel', ...args), 'pigeon: no channel named nosuch\n', args.join(' '))
    }))
    await Promise.all([fails(alice, 2, 'channel', 'create', 'two words'), fails(alice, 2, 'channel', 'read', 'team', '-n', '0')])
  })

  it('missing arguments are usage errors (exit 2)', async () => {
    const missing = [['channel'], ['channel', 'create'], ['channel', 'join'], ['channel', 'post', 'team'], ['channel', 'read'], ['channel', 'remove', 'team'], ['channel', 'members']]
    await Promise.all(missing.map(async args => {
      const result = await as(alice, ...args)
      assert.equal(result.code, 2, `${args.join(' ')}: ${result.stderr}`)
      assert.equal(result.stdout, '')
    }))
  })

  it('the control API answers channel errors with 4xx', async () => {
    const call = async (method: string, path: string, body?: unknown): Promise<[number, string]> => {
      const { status, json } = await alice.api.call(method, path, { body })
      return [status, json.error?.name]
    }
    assert.deepEqual(await call('GET', '/v1/channels/nosuch'), [404, 'ChannelNotFoundError'])
    assert.deepEqual(await call('POST', '/v1/channels/join', { invite: 'pigeon-invite:AAAA' }), [400, 'InvalidInviteError'])
    assert.deepEqual(await call('POST', '/v1/channels/join', {}), [400, 'BadRequest'])
    assert.deepEqual(await call('POST', '/v1/channels/team/posts', { text: 'x' }), [409, 'ChannelStateError'])
    assert.deepEqual(await call('GET', '/v1/channels/team/messages?after=nope'), [400, 'BadRequest'])
    assert.deepEqual(await call('GET', '/v1/channels/team/messages?limit=1&last=1'), [400, 'BadRequest'])
    assert.deepEqual(await call('GET', '/v1/events?channel=nosuch'), [404, 'ChannelNotFoundError'])
    assert.deepEqual(await call('GET', '/v1/events?channel-last=3'), [400, 'BadRequest'])
    const [first] = (await alice.api.call('GET', '/v1/channels/team/messages?limit=1')).json
    const rest = (await alice.api.call('GET', `/v1/channels/team/messages?after=${first.order as string}`)).json
    assert.ok(rest.length > 0 && rest.every((m: any) => m.order > first.order), 'after resumes past an order key')
  })
})
