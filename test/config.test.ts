/**
 * Configuration: defaults < the data dir's config.json < PIGEON_* variables < flags, every value
 * checked with the key named; `pigeon start` uses the result and `pigeon config show` prints it.
 */
import { describe, it, after } from 'node:test'
import assert from 'node:assert/strict'
import { createServer } from 'node:net'
import { once } from 'node:events'
import { stat, writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import { ControlApi, Daemon, pigeon } from './cli-helpers.js'
import { tempDir } from './helpers.js'
import { SETTINGS, SETTING_KEYS, configValues, daemonOptions, resolveConfig, type ResolveInit } from '../src/config/index.js'
import { ConfigError } from '../src/index.js'
import { DEFAULT_LISTEN } from '../src/constants.js'

const PEER = '12D3KooWCv7vKKUKGoaGeStyAEmr9tGiwrjoxUAzMfB7txAzpyv9'

/** The message of the ConfigError that resolving `init` throws. */
function refusal (init: ResolveInit): string {
  try {
    resolveConfig(init)
  } catch (err: any) {
    assert.ok(err instanceof ConfigError, String(err))
    assert.equal(err.name, 'ConfigError')
    return err.message
  }
  assert.fail(`accepted ${JSON.stringify(init)}`)
}

describe('config resolution', () => {
  it('every setting has its default when nothing is given', () => {
    const config = resolveConfig()
    for (const key of SETTING_KEYS) assert.deepEqual(config[key], { value: SETTINGS[key].default, source: 'default' }, key)
    assert.deepEqual(config.listen.value, DEFAULT_LISTEN)
    assert.equal(config.apiPort.value, 0)
    assert.equal(config.operatorPort.value, null)
    assert.equal(config.relayTtl.value, 30)
  })

  it('env names and flags follow the key', () => {
    for (const key of SETTING_KEYS) {
      assert.equal(SETTINGS[key].env, `PIGEON_${key.replace(/[A-Z]/g, c => `_${c}`).toUpperCase()}`)
      assert.equal(SETTINGS[key].flag, `--${key.replace(/[A-Z]/g, c => `-${c.toLowerCase()}`)}`)
    }
  })

  it('flags override env, which overrides the file, which overrides defaults', () => {
    const file = { apiPort: 1, relayTtl: 7, durability: 'os' }
    const env = { PIGEON_API_PORT: '2', PIGEON_RELAY_TTL: '8' }
    const all = resolveConfig({ file, env, flags: { apiPort: 3 } })
    assert.deepEqual(all.apiPort, { value: 3, source: 'flag' })
    assert.deepEqual(all.relayTtl, { value: 8, source: 'env' })
    assert.deepEqual(all.durability, { value: 'os', source: 'file' })
    assert.deepEqual(all.apiHost, { value: '127.0.0.1', source: 'default' })
    assert.deepEqual(resolveConfig({ file, env }).apiPort, { value: 2, source: 'env' })
    assert.deepEqual(resolveConfig({ file }).apiPort, { value: 1, source: 'file' })
  })

  it('reads every kind of value from the file and the environment', () => {
    const file = configValues(resolveConfig({
      file: { listen: ['/ip4/127.0.0.1/tcp/0'], apiHost: '::1', readReceipts: false, relay: true, relayAllow: [PEER], operatorPort: 0, operatorHost: '0.0.0.0', logLevel: 'debug' }
    }))
    assert.deepEqual(file.listen, ['/ip4/127.0.0.1/tcp/0'])
    assert.equal(file.apiHost, '::1')
    assert.equal(file.readReceipts, false)
    assert.deepEqual(file.relayAllow, [PEER])
    assert.equal(file.operatorPort, 0)
    assert.equal(file.logLevel, 'debug')
    const env = configValues(resolveConfig({
      env: { PIGEON_LISTEN: '/ip4/127.0.0.1/tcp/0, /ip4/127.0.0.1/tcp/0/ws', PIGEON_READ_RECEIPTS: 'no', PIGEON_RELAY: '1', PIGEON_RELAY_ALLOW: `${PEER} ${PEER}`, PIGEON_OPERATOR_PORT: '9090', PIGEON_RELAY_QUOTA_BYTES: '1024' }
    }))
    assert.deepEqual(env.listen, ['/ip4/127.0.0.1/tcp/0', '/ip4/127.0.0.1/tcp/0/ws'])
    assert.equal(env.readReceipts, false)
    assert.equal(env.relay, true)
    assert.deepEqual(env.relayAllow, [PEER, PEER])
    assert.equal(env.operatorPort, 9090)
    assert.equal(env.relayQuotaBytes, 1024)
  })

  it('null in the file means the default for settings that can be off', () => {
    const config = resolveConfig({ file: { operatorPort: null, relayAllow: null } })
    assert.deepEqual(config.operatorPort, { value: null, source: 'file' })
    assert.deepEqual(config.relayAllow, { value: null, source: 'file' })
    assert.equal(refusal({ file: { apiPort: null } }), 'config.json: apiPort: must be an integer from 0 to 65535')
  })

  it('refuses a file that is not an object, and unknown keys, naming the key', () => {
    for (const file of [[], 3, null, 'x']) assert.equal(refusal({ file }), 'config.json: must hold a JSON object')
    assert.equal(refusal({ file: { apiport: 1 } }), 'config.json: apiport: unknown key (did you mean apiPort?)')
    assert.equal(refusal({ file: { relayQuota: 1 } }), 'config.json: relayQuota: unknown key')
    assert.equal(refusal({ file: { dataDir: '/tmp' } }), 'config.json: dataDir: unknown key')
  })

  it('refuses bad file values, naming the key', () => {
    const cases: Array<[Record<string, unknown>, string]> = [
      [{ apiPort: 70000 }, 'apiPort: must be an integer from 0 to 65535'],
      [{ apiPort: '8080' }, 'apiPort: must be an integer from 0 to 65535'],
      [{ apiPort: 1.5 }, 'apiPort: must be an integer from 0 to 65535'],
      [{ operatorPort: -1 }, 'operatorPort: must be an integer from 0 to 65535'],
      [{ apiHost: '' }, 'apiHost: must be a host name or IP address'],
      [{ apiHost: 'http://x' }, 'apiHost: must be a host name or IP address'],
      [{ readReceipts: 'false' }, 'readReceipts: must be true or false'],
      [{ relay: 1 }, 'relay: must be true or false'],
      [{ durability: 'disk' }, 'durability: must be one of "fsync", "os"'],
      [{ logLevel: 'loud' }, 'logLevel: must be one of "trace", "debug", "info", "warn", "error"'],
      [{ logFormat: 'xml' }, 'logFormat: must be one of "json", "pretty"'],
      [{ maxConnections: 0 }, 'maxConnections: must be a positive whole number'],
      [{ listen: [] }, 'listen: must be a non-empty list of multiaddrs'],
      [{ listen: '/ip4/127.0.0.1/tcp/0' }, 'listen: must be a non-empty list of multiaddrs'],
      [{ listen: ['nope'] }, 'listen: "nope" is not a multiaddr'],
      [{ relayAllow: ['bob'] }, 'relayAllow: "bob" is not a peer id'],
      [{ relayQuotaMessages: 0 }, 'relayQuotaMessages: must be a positive whole number'],
      [{ relayTtl: 1.5 }, 'relayTtl: must be a positive whole number'],
      [{ relayTotalBytes: -5 }, 'relayTotalBytes: must be a positive whole number']
    ]
    for (const [file, message] of cases) assert.equal(refusal({ file }), `config.json: ${message}`)
  })

  it('refuses bad environment values, naming the variable', () => {
    const cases: Array<[string, string, string]> = [
      ['PIGEON_API_PORT', 'abc', 'must be an integer from 0 to 65535'],
      ['PIGEON_API_PORT', '-1', 'must be an integer from 0 to 65535'],
      ['PIGEON_OPERATOR_PORT', '65536', 'must be an integer from 0 to 65535'],
      ['PIGEON_READ_RECEIPTS', 'maybe', 'must be true or false (or 1, 0, yes, no, on, off)'],
      ['PIGEON_DURABILITY', 'disk', 'must be one of "fsync", "os"'],
      ['PIGEON_LISTEN', 'nope', '"nope" is not a multiaddr'],
      ['PIGEON_RELAY_ALLOW', 'bob', '"bob" is not a peer id'],
      ['PIGEON_RELAY_TTL', '0', 'must be a positive whole number'],
      ['PIGEON_RELAY_QUOTA_MESSAGES', '1e3', 'must be a positive whole number'],
      ['PIGEON_MAX_CONNECTIONS', 'many', 'must be a positive whole number'],
      ['PIGEON_LOG_FORMAT', 'xml', 'must be one of "json", "pretty"']
    ]
    for (const [name, value, message] of cases) assert.equal(refusal({ env: { [name]: value } }), `${name}: ${message}`)
  })

  it('refuses unknown PIGEON_* variables that look like settings, and leaves the others alone', () => {
    assert.equal(refusal({ env: { PIGEON_APIPORT: '1' } }), 'PIGEON_APIPORT: unknown setting (did you mean PIGEON_API_PORT?)')
    assert.equal(refusal({ env: { PIGEON_RELAY_QUOTA: '1' } }), 'PIGEON_RELAY_QUOTA: unknown setting')
    assert.equal(refusal({ env: { PIGEON_DURABILTY: 'os' } }), 'PIGEON_DURABILTY: unknown setting (did you mean PIGEON_DURABILITY?)')
    assert.equal(refusal({ env: { PIGEON_LOG_FORMT: 'json' } }), 'PIGEON_LOG_FORMT: unknown setting (did you mean PIGEON_LOG_FORMAT?)')
    const config = resolveConfig({
      env: { PIGEON_HOME: '/tmp/x', PIGEON_BACKUP_PASSPHRASE: 'p', PIGEON_FAULT: 'crash-before-ack', PIGEON_BENCH_RUNS: '3', PATH: '/bin', pigeon_api_port: 'x' }
    })
    for (const key of SETTING_KEYS) assert.equal(config[key].source, 'default', key)
  })

  it('an empty variable counts as unset', () => {
    assert.deepEqual(resolveConfig({ file: { relay: true }, env: { PIGEON_RELAY: '', PIGEON_API_PORT: '' } }).relay, { value: true, source: 'file' })
  })

  it('refuses settings that need another: operatorHost without operatorPort, relay flags without a relay', () => {
    assert.equal(refusal({ file: { operatorHost: '0.0.0.0' } }), 'config.json: operatorHost: needs operatorPort to be set')
    assert.equal(refusal({ env: { PIGEON_OPERATOR_HOST: '0.0.0.0' } }), 'PIGEON_OPERATOR_HOST: needs operatorPort to be set')
    assert.equal(refusal({ flags: { operatorHost: '0.0.0.0' } }), '--operator-host needs --operator-port')
    assert.equal(resolveConfig({ file: { operatorPort: 0 }, flags: { operatorHost: '0.0.0.0' } }).operatorHost.value, '0.0.0.0')
    assert.equal(refusal({ flags: { relayQuotaMessages: 5 } }), '--relay-* options need --relay')
    assert.equal(refusal({ file: { relay: true }, env: { PIGEON_RELAY: 'false' }, flags: { relayTtl: 5 } }), '--relay-* options need --relay')
    // A relay turned on anywhere takes limits from flags; limits in the file wait for a relay.
    assert.equal(resolveConfig({ file: { relay: true }, flags: { relayTtl: 5 } }).relayTtl.value, 5)
    assert.equal(resolveConfig({ file: { relayTtl: 5 } }).relay.value, false)
  })

  it('daemonOptions hands the settings to startDaemon, the relay limits only with a relay', () => {
    const off = daemonOptions(configValues(resolveConfig({ file: { relayTtl: 2 } })))
    assert.equal(off.relay, false)
    assert.equal(off.operatorPort, undefined)
    assert.deepEqual(off.listen, DEFAULT_LISTEN)
    const on = daemonOptions(configValues(resolveConfig({ file: { relay: true, relayTtl: 2, relayAllow: [PEER], operatorPort: 0 } })))
    assert.deepEqual(on.relay, { serve: [PEER], quotaMessages: 10_000, quotaBytes: 64 * 1024 * 1024, totalBytes: 1024 * 1024 * 1024, depositRatePerMinute: 6000, maxEnvelopeBytes: 40 * 1024, ttl: 2 * 24 * 60 * 60 * 1000 })
    assert.equal(on.operatorPort, 0)
    assert.equal((daemonOptions(configValues(resolveConfig({ flags: { relay: true } }))).relay as any).serve, 'open')
    assert.equal(off.maxConnections, undefined, 'libp2p keeps its own default')
    assert.equal(daemonOptions(configValues(resolveConfig({ env: { PIGEON_MAX_CONNECTIONS: '1000' } }))).maxConnections, 1000)
  })
})

describe('pigeon start and pigeon config with a config file', () => {
  const cleanups: Array<() => Promise<unknown>> = []
  after(async () => { for (const c of cleanups.reverse()) await c().catch(() => {}) })

  /** A temp data dir holding `config` as config.json (none if undefined). */
  async function dataDir (config?: unknown): Promise<string> {
    const { dir, cleanup } = await tempDir()
    cleanups.push(cleanup)
    if (config !== undefined) await writeFile(join(dir, 'config.json'), typeof config === 'string' ? config : JSON.stringify(config))
    return dir
  }

  async function start (dir: string, options: { args?: string[], env?: NodeJS.ProcessEnv } = {}): Promise<{ daemon: Daemon, status: any }> {
    const daemon = await Daemon.start(dir, options)
    cleanups.push(async () => daemon.stop())
    const { status, json } = await (await ControlApi.of(dir)).call('GET', '/v1/status')
    assert.equal(status, 200)
    return { daemon, status: json }
  }

  it('start uses the file', async () => {
    const { status } = await start(await dataDir({ relay: true, readReceipts: false, relayQuotaMessages: 5 }))
    assert.notEqual(status.relay, null, 'running as a relay')
    assert.equal(status.readReceipts, false)
  })

  it('start uses the apiPort of the file', async () => {
    // A port the OS just handed out and nobody holds; start binds it a moment later.
    const server = createServer().listen(0, '127.0.0.1')
    await once(server, 'listening')
    const port = (server.address() as { port: number }).port
    server.close()
    await once(server, 'close')
    const { daemon } = await start(await dataDir({ apiPort: port }))
    assert.equal(daemon.info.apiUrl, `http://127.0.0.1:${port}`)
  })

  it('environment variables override the file', async () => {
    const { status } = await start(await dataDir({ relay: true, readReceipts: false }), { env: { PIGEON_RELAY: 'false', PIGEON_READ_RECEIPTS: 'true' } })
    assert.equal(status.relay, null, 'not a relay')
    assert.equal(status.readReceipts, true)
  })

  it('flags override environment variables', async () => {
    // Daemon.start passes --durability os.
    const { status } = await start(await dataDir({ durability: 'fsync' }), { env: { PIGEON_DURABILITY: 'fsync', PIGEON_READ_RECEIPTS: 'true', PIGEON_RELAY: 'true' }, args: ['--no-read-receipts', '--no-relay'] })
    assert.equal(status.store.durability, 'os')
    assert.equal(status.readReceipts, false)
    assert.equal(status.relay, null)
  })

  it('start refuses unknown keys and bad values with one line naming the key, exit 2, and starts nothing', async () => {
    const cases: Array<[unknown, NodeJS.ProcessEnv, string]> = [
      [{ apiport: 1 }, {}, 'config.json: apiport: unknown key (did you mean apiPort?)'],
      [{ apiPort: 70000 }, {}, 'config.json: apiPort: must be an integer from 0 to 65535'],
      ['{"relay": true,', {}, 'config.json: not valid JSON'],
      [{ relay: true }, { PIGEON_RELAY_TTL: 'forever' }, 'PIGEON_RELAY_TTL: must be a positive whole number'],
      [undefined, { PIGEON_RELAY_QUOTA: '5' }, 'PIGEON_RELAY_QUOTA: unknown setting'],
      [{ stun: ['turn:relay.example.org'] }, {}, 'config.json: stun: "turn:relay.example.org" is not a STUN server'],
      [undefined, { PIGEON_WEBRTC: 'maybe' }, 'PIGEON_WEBRTC: must be true or false']
    ]
    for (const [config, env, message] of cases) {
      const dir = await dataDir(config)
      const result = await pigeon(['--data-dir', dir, 'start', '--listen', '/ip4/127.0.0.1/tcp/0'], { env })
      assert.equal(result.code, 2, result.stderr)
      assert.ok(result.stderr.startsWith(`pigeon: ${message}`), result.stderr)
      assert.equal(result.stderr.trim().split('\n').length, 1, result.stderr)
      await assert.rejects(stat(join(dir, 'identity.key')), { code: 'ENOENT' }, 'no node was started')
    }
    const dir = await dataDir(undefined)
    const flag = await pigeon(['--data-dir', dir, 'start', '--listen', '/ip4/127.0.0.1/tcp/0', '--stun', 'stun:relay.example.org:99999'])
    assert.equal(flag.code, 2, flag.stderr)
    assert.equal(flag.stderr.trim(), 'pigeon: --stun "stun:relay.example.org:99999" has port 99999, which is not from 1 to 65535')
  })

  it('config show prints each value and its source, without a running node', async () => {
    const dir = await dataDir({ apiPort: 7000, relay: true })
    const env = { PIGEON_RELAY: 'false', PIGEON_LISTEN: '/ip4/127.0.0.1/tcp/0' }
    const text = await pigeon(['--data-dir', dir, 'config', 'show'], { env })
    assert.equal(text.code, 0, text.stderr)
    const lines = text.stdout.trimEnd().split('\n')
    assert.equal(lines.length, SETTING_KEYS.length)
    const row = (key: string): string[] => (lines.find(l => l.startsWith(`${key} `)) ?? assert.fail(`no ${key} line`)).trim().split(/\s{2,}/)
    assert.deepEqual(row('apiPort'), ['apiPort', '7000', 'file'])
    assert.deepEqual(row('relay'), ['relay', 'false', 'env PIGEON_RELAY'])
    assert.deepEqual(row('listen'), ['listen', '/ip4/127.0.0.1/tcp/0', 'env PIGEON_LISTEN'])
    assert.deepEqual(row('apiHost'), ['apiHost', '127.0.0.1', 'default'])
    assert.deepEqual(row('operatorPort'), ['operatorPort', 'off', 'default'])

    const json = await pigeon(['--data-dir', dir, 'config', 'show', '--json'], { env })
    assert.equal(json.code, 0, json.stderr)
    const shown = JSON.parse(json.stdout)
    assert.deepEqual(Object.keys(shown), SETTING_KEYS)
    assert.deepEqual(shown.apiPort, { value: 7000, source: 'file' })
    assert.deepEqual(shown.relay, { value: false, source: 'env' })
    assert.deepEqual(shown.listen, { value: ['/ip4/127.0.0.1/tcp/0'], source: 'env' })
    assert.deepEqual(shown.operatorPort, { value: null, source: 'default' })
    assert.deepEqual(shown.relayTtl, { value: 30, source: 'default' })
  })

  it('config show refuses what start refuses; config path prints the file', async () => {
    const dir = await dataDir({ apiPort: 'x' })
    const bad = await pigeon(['--data-dir', dir, 'config', 'show'])
    assert.equal(bad.code, 2)
    assert.equal(bad.stderr, 'pigeon: config.json: apiPort: must be an integer from 0 to 65535\n')
    const path = await pigeon(['--data-dir', dir, 'config', 'path'])
    assert.equal(path.code, 0, path.stderr)
    assert.equal(path.stdout, `${join(dir, 'config.json')}\n`)
  })
})
