/**
 * Structured logs (docs/operations.md, "Logs"): the pino-backed ComponentLogger in-process, and
 * the `pigeon start` daemon's stderr, which must hold records and never a secret.
 */
import { describe, it, after } from 'node:test'
import assert from 'node:assert/strict'
import { readFile } from 'node:fs/promises'
import { join } from 'node:path'
import { multiaddr } from '@multiformats/multiaddr'
import { peerIdFromString } from '@libp2p/peer-id'
import { CID } from 'multiformats/cid'
import { ControlApi, Daemon, pigeon } from './cli-helpers.js'
import { tempDir } from './helpers.js'
import { createLogger, formatLog, logSettings, prettyLine, REDACTED } from '../src/ops/log.js'

const PEER = '12D3KooWCqG1QvxrqNkFJak6pNFrBwuHznymfFF88TC3v5ojdW7c'
const PRETTY_LINE = /^\d\d:\d\d:\d\d\.\d{3} (TRACE|DEBUG|INFO |WARN |ERROR) \S+ /

/** A logger writing into an array of parsed records. */
function capture (level: 'trace' | 'debug' | 'info' = 'info'): { logger: ReturnType<typeof createLogger>, records: any[] } {
  const records: any[] = []
  const logger = createLogger({ level, format: 'json', destination: { write: (line: string) => { records.push(JSON.parse(line)) } } })
  return { logger, records }
}

describe('log format specifiers', () => {
  it('formats as @libp2p/logger does', () => {
    const bytes = Uint8Array.from([0, 1, 2, 3])
    assert.equal(formatLog('%s and %d and %i', ['text', 42.5, 42.5]), 'text and 42.5 and 42')
    assert.equal(formatLog('%j', [{ a: 1, b: [2] }]), '{"a":1,"b":[2]}')
    assert.equal(formatLog('%o', [{ a: 1, b: 'x' }]), "{ a: 1, b: 'x' }")
    assert.equal(formatLog('peer %p', [peerIdFromString(PEER)]), `peer ${PEER}`)
    assert.equal(formatLog('addr %a', [multiaddr('/ip4/127.0.0.1/tcp/1')]), 'addr /ip4/127.0.0.1/tcp/1')
    assert.equal(formatLog('%b', [bytes]), '1Ldp')
    assert.equal(formatLog('%t', [bytes]), 'aaaqeay')
    assert.equal(formatLog('%m', [bytes]), 'AAECAw')
    const cid = CID.parse('bafkqaaa')
    assert.equal(formatLog('%c %k', [cid, { toString: () => '/a/key' }]), 'bafkqaaa /a/key')
    assert.equal(formatLog('%p %b', [undefined, null]), 'undefined undefined')
    assert.equal(formatLog('100%% done', []), '100% done')
    assert.equal(formatLog('missing %s', []), 'missing %s', 'a specifier without an argument stays')
    assert.equal(formatLog('extra', ['a', 1]), 'extra a 1', 'arguments left over are appended')
    const err = new Error('it broke')
    assert.match(formatLog('failed: %e', [err]), /^failed: Error: it broke\n\s+at /)
    const agg = new AggregateError([new Error('one'), new Error('two')], 'both')
    const printed = formatLog('%e', [agg])
    assert.ok(printed.includes('both') && printed.includes('one') && printed.includes('two'))
  })

  it('redacts secret fields of objects formatted into a message', () => {
    const secret = { id: 'abc', text: 'hello', token: 't0k', privateKey: 'k3y', nested: { card: 'pigeon-card:x', passphrase: 'p' } }
    for (const spec of ['%o', '%O', '%j', '%s']) {
      const msg = formatLog(spec, [secret])
      assert.ok(msg.includes('abc'), `${spec}: ${msg}`)
      for (const value of ['hello', 't0k', 'k3y', 'pigeon-card:x', '"p"', "'p'"]) assert.ok(!msg.includes(value), `${spec} leaked ${value}: ${msg}`)
    }
    assert.ok(!formatLog('extra', [secret]).includes('hello'))
  })
})

describe('createLogger', () => {
  it('writes one JSON record per call with level, time, component and msg, at or above its level', () => {
    const { logger, records } = capture('info')
    const log = logger.forComponent('pigeon:test')
    log('a debug line %s', 'hidden')
    log.trace('a trace line')
    log.info('started %p', peerIdFromString(PEER))
    log.warn('careful')
    log.error('broken: %s', 'disk')
    log.newScope('sub').info('scoped')
    assert.equal(log.enabled, false, 'debug is off at info')
    assert.deepEqual(records.map(r => [r.level, r.component, r.msg]), [
      ['info', 'pigeon:test', `started ${PEER}`],
      ['warn', 'pigeon:test', 'careful'],
      ['error', 'pigeon:test', 'broken: disk'],
      ['info', 'pigeon:test:sub', 'scoped']
    ])
    for (const r of records) assert.ok(!Number.isNaN(Date.parse(r.time)), r.time)
  })

  it('logs debug and trace when asked, and drops noise key dumps', () => {
    const { logger, records } = capture('trace')
    const log = logger.forComponent('libp2p:noise')
    log('debug %d', 1)
    log.trace('trace %d', 2)
    log('LOCAL_STATIC_PRIVATE_KEY 00ff')
    log.trace('CIPHER_STATE_1 0 00ff')
    assert.equal(log.enabled, true)
    assert.deepEqual(records.map(r => [r.level, r.msg]), [['debug', 'debug 1'], ['trace', 'trace 2']])
  })

  it('logs the errors of libp2p\'s components at debug, pigeon\'s at error', () => {
    const { logger, records } = capture('debug')
    logger.forComponent('libp2p:tcp:connection').error('abort with error - %e', new Error('read ECONNRESET'))
    logger.forComponent('pigeon:outbox').error('outbox failed: %s', 'disk full')
    assert.deepEqual(records.map(r => [r.level, r.component]), [['debug', 'libp2p:tcp:connection'], ['error', 'pigeon:outbox']])
  })

  it('takes structured fields and redacts secret ones', () => {
    const { logger, records } = capture()
    logger.forComponent('pigeon:test').info({ id: 'm1', text: 'hello', token: 't0k', nested: { key: 'k', invite: 'i' } }, 'sent %s', 'm1')
    assert.equal(records.length, 1)
    assert.equal(records[0].msg, 'sent m1')
    assert.equal(records[0].id, 'm1')
    assert.equal(records[0].text, REDACTED)
    assert.equal(records[0].token, REDACTED)
    assert.deepEqual(records[0].nested, { key: REDACTED, invite: REDACTED })
  })

  it('writes readable lines in the pretty format', () => {
    const lines: string[] = []
    const logger = createLogger({ level: 'info', format: 'pretty', destination: { write: (line: string) => { lines.push(line) } } })
    logger.forComponent('pigeon:node').info('started %s', 'ok')
    logger.forComponent('pigeon:cli').warn({ signal: 'SIGTERM' }, 'second signal')
    assert.equal(lines.length, 2)
    assert.match(lines[0], /^\d\d:\d\d:\d\d\.\d{3} INFO  pigeon:node started ok\n$/)
    assert.match(lines[1], /^\d\d:\d\d:\d\d\.\d{3} WARN  pigeon:cli second signal signal=SIGTERM\n$/)
    assert.equal(prettyLine('not json'), 'not json\n')
  })

  it('reads the level and format from the environment, a flag winning', () => {
    assert.deepEqual(logSettings({}), { level: 'info' })
    assert.deepEqual(logSettings({ PIGEON_LOG_LEVEL: 'debug', PIGEON_LOG_FORMAT: 'pretty' }), { level: 'debug', format: 'pretty' })
    assert.deepEqual(logSettings({ PIGEON_LOG_LEVEL: 'debug' }, { level: 'warn' }), { level: 'warn' })
    assert.throws(() => logSettings({ PIGEON_LOG_LEVEL: 'loud' }), /log level "loud"/)
    assert.throws(() => logSettings({ PIGEON_LOG_FORMAT: 'xml' }), /log format "xml"/)
  })
})

/** Every line of a daemon's stderr as a record; fails on a line that is not one. */
function records (stderr: string): any[] {
  return stderr.split('\n').filter(l => l.length > 0).map(line => {
    let record: any
    assert.doesNotThrow(() => { record = JSON.parse(line) }, `not JSON: ${line}`)
    for (const field of ['level', 'time', 'component', 'msg']) assert.equal(typeof record[field], 'string', `${field} missing: ${line}`)
    assert.ok(['trace', 'debug', 'info', 'warn', 'error'].includes(record.level), line)
    return record
  })
}

describe('pigeon start logs', { concurrency: false }, () => {
  const cleanups: Array<() => Promise<unknown>> = []
  after(async () => { for (const c of cleanups.reverse()) await c().catch(() => {}) })

  async function start (args: string[] = [], env: NodeJS.ProcessEnv = {}): Promise<{ dir: string, d: Daemon, api: ControlApi }> {
    const t = await tempDir()
    cleanups.push(t.cleanup)
    const d = await Daemon.start(t.dir, { args, env })
    cleanups.push(async () => d.stop())
    return { dir: t.dir, d, api: await ControlApi.of(t.dir) }
  }

  it('writes JSON records to a piped stderr, and no message text, post, token, key, invite or card even at trace', async () => {
    const [alice, bob] = await Promise.all([start(['--log-level', 'trace']), start([], { PIGEON_LOG_LEVEL: 'trace' })])
    const text = 'zebra-quokka-7731 the secret message'
    const post = 'marmot-ibis-4409 the secret post'

    assert.equal((await alice.api.call('POST', '/v1/contacts', { body: { name: 'bob', card: bob.d.info.card } })).status, 201)
    const sent = await alice.api.call('POST', '/v1/messages', { body: { to: 'bob', text } })
    assert.equal(sent.status, 201, JSON.stringify(sent.json))
    await alice.api.waitFor(sent.json.id, 'delivered')

    const created = await alice.api.call('POST', '/v1/channels', { body: { name: 'team' } })
    assert.equal(created.status, 201, JSON.stringify(created.json))
    const invite: string = created.json.invite
    const bobEvents = await bob.api.events()
    cleanups.push(async () => { bobEvents.close() })
    const joined = await bob.api.call('POST', '/v1/channels/join', { body: { invite } })
    assert.equal(joined.status, 201, JSON.stringify(joined.json))
    await bobEvents.next('channel', m => m.kind === 'join' && m.author === alice.d.info.peerId)
    const posted = await alice.api.call('POST', '/v1/channels/team/posts', { body: { text: post } })
    assert.equal(posted.status, 201, JSON.stringify(posted.json))
    await bobEvents.next('channel', m => m.id === posted.json.id && m.text === post)
    bobEvents.close()

    assert.equal(await alice.d.stop(), 0, alice.d.stderr)
    assert.equal(await bob.d.stop(), 0, bob.d.stderr)

    const secrets: Array<[string, string]> = [['message text', text], ['post text', post], ['invite', invite], ['invite body', invite.slice('pigeon-invite:'.length)]]
    for (const p of [alice, bob]) {
      secrets.push(['control token', p.api.token], ['contact card', p.d.info.card.slice('pigeon-card:'.length)])
      const key = await readFile(join(p.dir, 'identity.key'))
      secrets.push(['identity key (base64)', key.toString('base64')], ['identity key (hex)', key.toString('hex')], ['identity key (base64url)', key.toString('base64url')])
    }
    // Distinctive fragments too: a secret split or truncated in a record still must not show.
    secrets.push(['message text fragment', 'zebra-quokka'], ['post text fragment', 'marmot-ibis'])
    for (const p of [alice, bob]) {
      const stderr = p.d.stderr
      const logged = records(stderr)
      assert.ok(logged.some(r => r.level === 'trace'), 'trace records are written')
      assert.ok(logged.some(r => r.level === 'debug' && r.component.startsWith('libp2p')), 'libp2p logs through it')
      assert.deepEqual(logged.filter(r => r.level === 'error' && !r.component.startsWith('pigeon')), [], 'libp2p\'s errors are at debug')
      for (const [what, secret] of secrets) assert.ok(!stderr.includes(secret), `${what} appears in the logs`)
      const info = logged.filter(r => r.level === 'info').map(r => `${r.component as string} ${r.msg as string}`)
      assert.ok(info.some(l => l.startsWith(`pigeon:node started ${p.d.info.peerId} with `)), info.join('\n'))
      assert.ok(info.includes('pigeon:cli SIGTERM received, stopping'), info.join('\n'))
      assert.ok(info.includes('pigeon:node stopping'), info.join('\n'))
      assert.ok(info.some(l => /^pigeon:node stopped in \d+ ms/.test(l)), info.join('\n'))
      assert.ok(info.some(l => /^pigeon:cli control API closed in \d+ ms, node stopped in \d+ ms$/.test(l)), info.join('\n'))
      assert.ok(info.includes('pigeon:cli stopped'), info.join('\n'))
    }
  })

  it('logs info and above by default, and readable lines with --log-format pretty (over PIGEON_LOG_FORMAT)', async () => {
    const quiet = await start()
    assert.equal(await quiet.d.stop(), 0, quiet.d.stderr)
    const logged = records(quiet.d.stderr)
    assert.ok(logged.length > 0)
    assert.ok(logged.every(r => ['info', 'warn', 'error'].includes(r.level)), quiet.d.stderr)

    const pretty = await start(['--log-format', 'pretty'], { PIGEON_LOG_FORMAT: 'json' })
    assert.equal(await pretty.d.stop(), 0, pretty.d.stderr)
    const lines = pretty.d.stderr.trimEnd().split('\n')
    for (const line of lines) assert.match(line, PRETTY_LINE)
    assert.ok(lines.some(l => / INFO  pigeon:node started 12D3KooW/.test(l)), pretty.d.stderr)
    assert.ok(lines.some(l => / INFO  pigeon:cli SIGTERM received, stopping$/.test(l)), pretty.d.stderr)
  })

  it('refuses a bad log level in one line', async () => {
    const { dir, cleanup } = await tempDir()
    cleanups.push(cleanup)
    const flag = await pigeon(['--data-dir', dir, 'start', '--log-level', 'loud'])
    assert.equal(flag.code, 2)
    assert.match(flag.stderr, /--log-level/)
    const env = await pigeon(['--data-dir', dir, 'start'], { env: { PIGEON_LOG_LEVEL: 'loud' } })
    assert.equal(env.code, 2)
    assert.match(env.stderr, /^pigeon: [^\n]*PIGEON_LOG_LEVEL[^\n]*\n$/)
  })
})
