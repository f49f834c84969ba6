/**
 * The operator endpoint: /healthz, /readyz and /metrics, with real nodes on 127.0.0.1, through
 * the library, the daemon and the built CLI.
 */
import { describe, it, after } from 'node:test'
import assert from 'node:assert/strict'
import { spawn } from 'node:child_process'
import { readFile } from 'node:fs/promises'
import { fileURLToPath } from 'node:url'
import { Registry } from 'prom-client'
import { Nodes, TCP, nextEvent, tempDir } from './helpers.js'
import { Daemon, Lines, PIGEON_BIN, exited, pigeon } from './cli-helpers.js'
import { OperatorServer, PigeonMetrics, readiness, startDaemon, VERSION, type InboxRecord, type PigeonNode, type ReceiptEvent } from '../src/index.js'

const DEADLINE = 20_000

// --- a strict parser for the Prometheus text exposition format (version 0.0.4) ---------------

interface Sample { name: string, labels: Record<string, string>, value: number }
interface Family { name: string, type: string, help?: string, samples: Sample[] }

const NAME = '[a-zA-Z_:][a-zA-Z0-9_:]*'
const LABEL_NAME = '[a-zA-Z_][a-zA-Z0-9_]*'
const TYPES = new Set(['counter', 'gauge', 'histogram', 'summary', 'untyped'])
const SUFFIXES: Record<string, string[]> = { histogram: ['_bucket', '_sum', '_count'], summary: ['', '_sum', '_count'], counter: [''], gauge: [''], untyped: [''] }

/** A sample value as Prometheus reads it: Go's ParseFloat, which takes NaN and Inf in any case (prom-client writes "Nan"). */
function parseValue (text: string, line: string): number {
  if (/^\+?inf$/i.test(text)) return Infinity
  if (/^-inf$/i.test(text)) return -Infinity
  if (/^nan$/i.test(text)) return NaN
  assert.match(text, /^[-+]?(\d+\.?\d*|\.\d+)([eE][-+]?\d+)?$/, `bad value in: ${line}`)
  return Number(text)
}

function parseLabels (text: string, line: string): Record<string, string> {
  const labels: Record<string, string> = {}
  const re = new RegExp(`^(${LABEL_NAME})="((?:[^"\\\\\\n]|\\\\[\\\\"n])*)"(,|$)`)
  let rest = text
  while (rest.length > 0) {
    const m = re.exec(rest)
    assert.ok(m != null, `bad labels in: ${line}`)
    assert.ok(!(m[1] in labels), `label ${m[1]} twice in: ${line}`)
    labels[m[1]] = m[2].replace(/\\(["\\n])/g, (_, c: string) => c === 'n' ? '\n' : c)
    rest = rest.slice(m[0].length)
  }
  return labels
}

/** Parses an exposition; throws on anything the format does not allow. */
function parseMetrics (text: string): Map<string, Family> {
  assert.ok(text.endsWith('\n'), 'the exposition ends with a newline')
  const families = new Map<string, Family>()
  const sampleRe = new RegExp(`^(${NAME})(?:\\{(.*)\\})? (\\S+)(?: (-?\\d+))?$`)
  for (const line of text.slice(0, -1).split('\n')) {
    if (line === '') continue
    if (line.startsWith('#')) {
      const m = new RegExp(`^# (HELP|TYPE) (${NAME}) ?(.*)$`).exec(line)
      if (m == null) continue // other comments are allowed
      const [, kind, name, rest] = m
      const family = families.get(name) ?? { name, type: 'untyped', samples: [] }
      if (kind === 'TYPE') {
        assert.ok(TYPES.has(rest), `unknown type in: ${line}`)
        assert.equal(family.samples.length, 0, `TYPE after samples in: ${line}`)
        family.type = rest
      } else {
        assert.equal(family.help, undefined, `second HELP for ${name}`)
        family.help = rest
      }
      families.set(name, family)
      continue
    }
    const m = sampleRe.exec(line)
    assert.ok(m != null, `bad sample line: ${line}`)
    const [, name, labelText, valueText] = m
    const sample = { name, labels: parseLabels(labelText ?? '', line), value: parseValue(valueText, line) }
    const family = [...families.values()].find(f => (SUFFIXES[f.type] ?? ['']).some(s => f.name + s === name))
    assert.ok(family != null, `sample without a TYPE or HELP: ${line}`)
    if (family.type === 'histogram' && name.endsWith('_bucket')) assert.ok('le' in sample.labels, `bucket without le: ${line}`)
    family.samples.push(sample)
  }
  return families
}

/** The value of the one sample of `name` whose labels include `labels`. */
function value (families: Map<string, Family>, name: string, labels: Record<string, string> = {}): number {
  for (const family of families.values()) {
    const found = family.samples.filter(s => s.name === name && Object.entries(labels).every(([k, v]) => s.labels[k] === v))
    if (found.length > 0) {
      assert.equal(found.length, 1, `more than one sample ${name} ${JSON.stringify(labels)}`)
      return found[0].value
    }
  }
  assert.fail(`no sample ${name} ${JSON.stringify(labels)}`)
}

async function get (url: string, init: RequestInit = {}): Promise<{ status: number, headers: Headers, text: string }> {
  const res = await fetch(url, { ...init, signal: AbortSignal.timeout(10_000) })
  return { status: res.status, headers: res.headers, text: await res.text() }
}

async function scrape (base: string): Promise<{ text: string, families: Map<string, Family> }> {
  const res = await get(`${base}/metrics`)
  assert.equal(res.status, 200)
  assert.match(res.headers.get('content-type') ?? '', /^text\/plain; version=0\.0\.4/)
  return { text: res.text, families: parseMetrics(res.text) }
}

/** An operator endpoint on a library node, as an embedder would run one. */
async function operatorFor (node: PigeonNode, registry = new Registry()): Promise<{ url: string, close: () => Promise<void> }> {
  const metrics = new PigeonMetrics({ node, registry })
  const server = new OperatorServer({ node, registry })
  const url = await server.listen()
  return { url, close: async () => { metrics.stop(); await server.close() } }
}

describe('operator endpoint', () => {
  const nodes = new Nodes()
  const cleanups: Array<() => Promise<unknown>> = []
  after(async () => {
    for (const c of cleanups.reverse()) await c().catch(() => {})
    await nodes.cleanup()
  })
  const dir = async (): Promise<string> => { const t = await tempDir(); cleanups.push(t.cleanup); return t.dir }

  it('serves health, readiness and metrics from the daemon; counters move as a message is sent, delivered and read', async () => {
    const daemon = await startDaemon({ dataDir: await dir(), listen: TCP, durability: 'os', retryMin: 100, retryMax: 1000, operatorPort: 0 })
    cleanups.push(async () => daemon.stop())
    assert.match(daemon.operatorUrl ?? '', /^http:\/\/127\.0\.0\.1:\d+$/)
    const base = daemon.operatorUrl as string
    const alice = daemon.node
    const bob = await nodes.node()
    await alice.addContact('bob', bob.card())
    await bob.addContact('alice', alice.card())

    const health = await get(`${base}/healthz`)
    assert.equal(health.status, 200)
    assert.match(health.headers.get('content-type') ?? '', /^application\/json/)
    assert.deepEqual(JSON.parse(health.text), { status: 'ok' })

    const ready = await get(`${base}/readyz`)
    assert.equal(ready.status, 200)
    const body = JSON.parse(ready.text)
    assert.equal(body.ready, true)
    assert.deepEqual(Object.keys(body.checks).sort(), ['listening', 'relays', 'started', 'store'])
    for (const check of Object.values<any>(body.checks)) assert.equal(check.ok, true)
    assert.deepEqual(body.failing, [])

    assert.equal((await get(`${base}/nope`)).status, 404)
    assert.equal((await get(`${base}/`)).status, 404)
    const post = await get(`${base}/metrics`, { method: 'POST' })
    assert.equal(post.status, 405)
    assert.equal(post.headers.get('allow'), 'GET, HEAD')
    assert.equal((await get(`${base}/readyz`, { method: 'DELETE' })).status, 405)
    const head = await get(`${base}/healthz`, { method: 'HEAD' })
    assert.equal(head.status, 200)
    assert.equal(head.text, '')

    const before = await scrape(base)
    assert.equal(value(before.families, 'pigeon_build_info', { version: VERSION }), 1)
    assert.equal(value(before.families, 'pigeon_messages_sent_total'), 0)
    assert.equal(value(before.families, 'pigeon_messages_delivered_total'), 0)
    assert.equal(value(before.families, 'pigeon_messages_failed_total', { reason: 'decrypt-failed' }), 0)
    assert.equal(value(before.families, 'pigeon_delivery_latency_seconds_count'), 0)
    assert.ok(value(before.families, 'pigeon_store_bytes') > 0)
    assert.equal(before.families.get('pigeon_messages_sent_total')?.type, 'counter')
    assert.equal(before.families.get('pigeon_outbox_messages')?.type, 'gauge')
    assert.equal(before.families.get('pigeon_delivery_latency_seconds')?.type, 'histogram')
    // libp2p's own metrics and the process's come in the same exposition.
    assert.ok([...before.families.keys()].some(n => n.startsWith('libp2p_')), 'libp2p metrics are served')
    assert.ok(before.families.has('process_cpu_user_seconds_total'))
    assert.equal(before.families.has('pigeon_mailbox_messages'), false, 'no relay metrics on a node that is not a relay')

    const id = await alice.send('bob', 'metrics are not content')
    await alice.waitFor(id, 'delivered', { signal: AbortSignal.timeout(DEADLINE) })
    const delivered = await scrape(base)
    assert.equal(value(delivered.families, 'pigeon_messages_sent_total'), 1)
    assert.equal(value(delivered.families, 'pigeon_messages_delivered_total'), 1)
    assert.equal(value(delivered.families, 'pigeon_messages_read_total'), 0)
    assert.equal(value(delivered.families, 'pigeon_delivery_latency_seconds_count'), 1)
    assert.equal(value(delivered.families, 'pigeon_delivery_latency_seconds_bucket', { le: '+Inf' }), 1)
    assert.equal(value(delivered.families, 'pigeon_outbox_messages', { state: 'delivered' }), 1)
    assert.ok(value(delivered.families, 'pigeon_peers_connected') >= 1)

    const read = nextEvent<ReceiptEvent>(alice, 'receipt', r => r.id === id && r.state === 'read', DEADLINE)
    await bob.markRead([{ from: alice.peerId.toString(), id }])
    await read
    const after = await scrape(base)
    assert.equal(value(after.families, 'pigeon_messages_read_total'), 1)
    assert.equal(value(after.families, 'pigeon_delivery_latency_seconds_count'), 1, 'a read does not observe the latency again')
    assert.equal(value(after.families, 'pigeon_messages_sent_total'), 1)

    // Nothing private in the exposition: no peer ids, no text.
    for (const secret of [alice.peerId.toString(), bob.peerId.toString(), 'metrics are not content', id]) {
      assert.equal(after.text.includes(secret), false, `${secret} appears in /metrics`)
    }
  })

  it('is off unless configured', async () => {
    const daemon = await startDaemon({ dataDir: await dir(), listen: TCP, durability: 'os' })
    cleanups.push(async () => daemon.stop())
    assert.equal(daemon.operatorUrl, undefined)
    await daemon.stop()
  })

  it('reports not ready, naming the check, while a home relay is down, and ready when it is back', async () => {
    const relayDir = await dir()
    let relay = await nodes.node({ dataDir: relayDir, relay: true })
    const relayId = relay.peerId.toString()
    const alice = await nodes.node()
    const op = await operatorFor(alice)
    cleanups.push(op.close)
    const isRelay = (p: { toString: () => string }): boolean => p.toString() === relayId

    const connected = nextEvent(alice.libp2p, 'peer:connect', isRelay, DEADLINE)
    await alice.addRelay(relay.card())
    await connected
    let res = await get(`${op.url}/readyz`)
    assert.equal(res.status, 200, res.text)
    assert.deepEqual(JSON.parse(res.text).checks.relays, { ok: true, detail: '1 of 1 home relays connected' })

    const gone = nextEvent(alice.libp2p, 'peer:disconnect', isRelay, DEADLINE)
    await relay.stop()
    await gone
    res = await get(`${op.url}/readyz`)
    assert.equal(res.status, 503)
    const down = JSON.parse(res.text)
    assert.equal(down.ready, false)
    assert.deepEqual(down.failing, ['relays'])
    assert.deepEqual(down.checks.relays, { ok: false, detail: '0 of 1 home relays connected' })
    for (const name of ['started', 'store', 'listening']) assert.equal(down.checks[name].ok, true)
    const metrics = await scrape(op.url)
    assert.equal(value(metrics.families, 'pigeon_home_relays', { state: 'disconnected' }), 1)

    // Same data dir, so the same port: alice's redial (every 5 s) finds it again.
    const back = nextEvent(alice.libp2p, 'peer:connect', isRelay, DEADLINE)
    relay = await nodes.node({ dataDir: relayDir, relay: true })
    await back
    res = await get(`${op.url}/readyz`)
    assert.equal(res.status, 200, res.text)
    assert.deepEqual(JSON.parse(res.text).failing, [])
  })

  it('says not started and not listening for a node that is not started', async () => {
    const node = await nodes.createOnly()
    const result = readiness(node)
    assert.equal(result.ready, false)
    assert.deepEqual(result.failing, ['started', 'listening'])
    assert.equal(result.checks.store.ok, true)
    assert.equal(result.checks.relays.ok, true)
  })

  it('counts mail a relay holds, and a message stored at relays as sent once', async () => {
    const relay = await nodes.node({ relay: true })
    const relayOp = await operatorFor(relay)
    cleanups.push(relayOp.close)
    const alice = await nodes.node()
    const aliceOp = await operatorFor(alice)
    cleanups.push(aliceOp.close)
    const bobDir = await dir()
    let bob = await nodes.node({ dataDir: bobDir })
    await bob.addRelay(relay.card())
    await alice.addContact('bob', bob.card())
    await bob.addContact('alice', alice.card())
    await bob.stop()

    let relayMetrics = await scrape(relayOp.url)
    assert.equal(value(relayMetrics.families, 'pigeon_mailbox_messages'), 0)
    assert.equal(value(relayMetrics.families, 'pigeon_mailbox_limit_bytes'), 1024 * 1024 * 1024)
    assert.equal(value(relayMetrics.families, 'pigeon_mailbox_deposits_refused_total', { reason: 'quota-exceeded' }), 0)

    const stored = nextEvent<ReceiptEvent>(alice, 'receipt', r => r.state === 'stored', DEADLINE)
    const id = await alice.send('bob', 'while you were away')
    await stored
    relayMetrics = await scrape(relayOp.url)
    assert.equal(value(relayMetrics.families, 'pigeon_mailbox_messages'), 1)
    assert.ok(value(relayMetrics.families, 'pigeon_mailbox_bytes') > 0)
    assert.equal(value(relayMetrics.families, 'pigeon_mailbox_deposits_total'), 1)
    let aliceMetrics = await scrape(aliceOp.url)
    assert.equal(value(aliceMetrics.families, 'pigeon_messages_sent_total'), 1)
    assert.equal(value(aliceMetrics.families, 'pigeon_outbox_messages', { state: 'sent' }), 1)

    bob = await nodes.node({ dataDir: bobDir })
    await nextEvent<InboxRecord>(bob, 'message', m => m.id === id, DEADLINE)
    await alice.waitFor(id, 'delivered', { signal: AbortSignal.timeout(DEADLINE) })
    aliceMetrics = await scrape(aliceOp.url)
    assert.equal(value(aliceMetrics.families, 'pigeon_messages_sent_total'), 1, 'the delivery receipt does not count it again')
    assert.equal(value(aliceMetrics.families, 'pigeon_messages_delivered_total'), 1)
    assert.equal(value(aliceMetrics.families, 'pigeon_delivery_latency_seconds_count'), 1)
  })

  it('serves every metric that deploy/alerts.yml and deploy/prometheus.yml use', async () => {
    const relay = await startDaemon({ dataDir: await dir(), listen: TCP, durability: 'os', relay: true, operatorPort: 0 })
    cleanups.push(async () => relay.stop())
    const { families } = await scrape(relay.operatorUrl as string)
    const served = new Set([...families.values()].flatMap(f => f.samples.map(s => s.name)))
    for (const file of ['alerts.yml', 'prometheus.yml']) {
      const text = await readFile(fileURLToPath(new URL(`../../deploy/${file}`, import.meta.url)), 'utf8')
      for (const name of new Set(text.match(/\b(pigeon|nodejs|libp2p)_[a-z_]+/g) ?? [])) assert.ok(served.has(name), `${file} uses ${name}, which /metrics does not serve`)
    }
  })

  describe('pigeon start', () => {
    it('--operator-port serves the endpoint and prints its URL; without it there is none', async () => {
      const withOp = await Daemon.start(await dir(), { args: ['--operator-port', '0'] })
      cleanups.push(async () => withOp.stop())
      const info = withOp.info as typeof withOp.info & { operatorUrl?: string }
      assert.match(info.operatorUrl ?? '', /^http:\/\/127\.0\.0\.1:\d+$/)
      const health = await get(`${info.operatorUrl as string}/healthz`)
      assert.equal(health.status, 200)
      assert.equal((await get(`${info.operatorUrl as string}/readyz`)).status, 200)
      const { families } = await scrape(info.operatorUrl as string)
      assert.equal(value(families, 'pigeon_build_info', { version: VERSION }), 1)
      assert.equal(await withOp.stop(), 0)

      const without = await Daemon.start(await dir())
      cleanups.push(async () => without.stop())
      assert.equal((without.info as { operatorUrl?: string }).operatorUrl, undefined)
      assert.equal(await without.stop(), 0)
    })

    it('prints the operator URL next to the control API in its human output', async () => {
      const child = spawn(process.execPath, [PIGEON_BIN, '--data-dir', await dir(), 'start', '--listen', '/ip4/127.0.0.1/tcp/0', '--durability', 'os', '--operator-port', '0', '--operator-host', '127.0.0.1'], { stdio: ['ignore', 'pipe', 'pipe'] })
      cleanups.push(async () => { child.kill('SIGKILL') })
      const lines = new Lines(child)
      await lines.next(l => l.startsWith('control API  '))
      const line = await lines.next()
      const url = /^operator {5}(http:\/\/127\.0\.0\.1:\d+) \(\/healthz, \/readyz, \/metrics\)$/.exec(line)?.[1]
      assert.ok(url != null, `unexpected line: ${line}`)
      assert.equal((await get(`${url}/healthz`)).status, 200)
      child.kill('SIGTERM')
      const [code] = await exited(child, 15_000)
      assert.equal(code, 0)
    })

    it('refuses a bad --operator-port, and --operator-host without it, with exit code 2', async () => {
      const data = await dir()
      for (const args of [['--operator-port', 'abc'], ['--operator-port', '70000'], ['--operator-port', '-1'], ['--operator-port', ''], ['--operator-host', '0.0.0.0']]) {
        const res = await pigeon(['--data-dir', data, 'start', ...args])
        assert.equal(res.code, 2, `${args.join(' ')}: ${res.stderr}`)
        assert.match(res.stderr, /--operator-(port|host)/)
        assert.equal(res.stderr.trim().split('\n').length, 1, res.stderr)
      }
    })
  })
})
