#!/usr/bin/env node
/**
 * The `pigeon` command: a thin layer over the library. `init` and `start` work on the data dir
 * directly; every other command talks to the running node through its control API.
 */
import { homedir } from 'node:os'
import { join, resolve } from 'node:path'
import { Command, CommanderError, Option } from 'commander'
// Commands that talk to a running node load only the control client: the node itself (libp2p and
// everything under it, about a second to import) is loaded by the commands that run one.
import { ControlClient } from '../src/control/client.js'
import { VERSION } from '../src/version.js'
import type { ChannelInfo, ChannelMessageView, ContactRecord, ContactSafetyNumber, InboxRecord, MemberRecord, NodeStatus, OutboxRecord, RelayHealth, RelayRecord } from '../src/index.js'
import { createIdentity } from '../src/identity/identity.js'
import { peerIdFromPrivateKey, peerIdFromString } from '@libp2p/peer-id'
import { processAlive } from '../src/control/control-file.js'
import { CliError, EXIT, report } from './errors.js'
import { backupCommand, restoreCommand } from './backup.js'
import { channelLine, channelMessageLine, contactLine, identityWarning, inboxLine, memberLine, outboxLine, relayLine, safetyNumberText, statusText } from './format.js'
import { createLogger, LOG_FORMATS, LOG_LEVELS } from '../src/ops/log.js'
import { SETTINGS, SETTING_KEYS, configPath, configValues, daemonOptions, editConfigFile, loadConfig, type Config, type SettingKey, type SettingValue } from '../src/config/index.js'
import { announceProblem } from '../src/network/announce.js'
import { bootstrapPeer, bootstrapProblem } from '../src/network/bootstrap.js'
import { stunProblem } from '../src/network/stun-urls.js'
import { DHT_ADDRESSES, DHT_MODES } from '../src/discovery/constants.js'
import { firstBadAddr } from '../src/network/addrs.js'
import { qrText } from './qr.js'

/** How long a stopped node's process may linger before it exits anyway. */
const EXIT_GRACE_MS = 2_000

interface GlobalOptions { dataDir?: string, json?: boolean, verbose?: boolean }

const program = new Command()
  .name('pigeon')
  .description('A peer-to-peer messenger node: end-to-end encrypted direct messages with receipts, and group channels.')
  .version(VERSION)
  .option('-d, --data-dir <dir>', 'data directory (default: $PIGEON_HOME, else ~/.pigeon)')
  .option('--json', 'machine-readable output (see docs/cli.md)')
  .option('--verbose', 'print stack traces with errors')
  .showHelpAfterError('(run pigeon --help for usage)')
  .exitOverride()

function globals (): GlobalOptions {
  return program.opts<GlobalOptions>()
}

function dataDir (): string {
  return resolve(globals().dataDir ?? process.env.PIGEON_HOME ?? join(homedir(), '.pigeon'))
}

function out (human: string | (() => string), json: unknown): void {
  if (globals().json === true) process.stdout.write(JSON.stringify(json) + '\n')
  else process.stdout.write((typeof human === 'string' ? human : human()) + '\n')
}

async function client (): Promise<ControlClient> {
  return await ControlClient.connect(dataDir())
}

/** A commander parser for a positive whole number, named in its error. */
function count (flag: string): (value: string) => number {
  return (value: string) => {
    const n = Number(value)
    if (!Number.isSafeInteger(n) || n <= 0) throw new CliError(`${flag} "${value}" is not a positive whole number`, EXIT.USAGE)
    return n
  }
}

/** A commander parser for a whole number from 0 to `max`, named in its error. */
function wholeNumber (flag: string, max: number): (value: string) => number {
  return (value: string) => {
    const n = Number(value)
    if (!/^\d+$/.test(value.trim()) || n > max) throw new CliError(`${flag} "${value}" is not a whole number from 0 to ${max}`, EXIT.USAGE)
    return n
  }
}

/** `pigeon start`'s flags; a flag not given is undefined, so the config file and environment apply. */
interface StartOptions {
  listen?: string[]
  announce?: string[]
  bootstrap?: string[]
  dht?: string
  dhtAddresses?: string
  autoRelays?: number
  replaceRelaysAfter?: number
  mdns?: boolean
  upnp?: boolean
  webrtc?: boolean
  stun?: string[]
  relayStun?: boolean
  apiHost?: string
  apiPort?: string
  operatorHost?: string
  operatorPort?: string
  readReceipts?: boolean
  durability?: 'fsync' | 'os'
  relay?: boolean
  relayAllow?: string[]
  relayQuotaMessages?: number
  relayQuotaBytes?: number
  relayTotalBytes?: number
  relayDepositRate?: number
  relayMaxEnvelope?: number
  relayTtl?: number
  maxConnections?: number
  logLevel?: string
  logFormat?: string
}

/** A port flag's value, refused (exit 2) when it is not one. */
function portFlag (flag: string, value: string | undefined): number | undefined {
  if (value == null) return undefined
  const n = Number(value)
  if (value.trim() === '' || !Number.isInteger(n) || n < 0 || n > 65535) throw new CliError(`${flag} "${value}" is not a port number`, EXIT.USAGE)
  return n
}

/** The settings `pigeon start`'s flags give, checked; they override the config file and environment. */
function startFlags (opts: StartOptions): Partial<Config> {
  for (const id of opts.relayAllow ?? []) {
    try {
      peerIdFromString(id)
    } catch {
      throw new CliError(`--relay-allow "${id}" is not a peer id`, EXIT.USAGE)
    }
  }
  for (const [flag, addrs, problem] of [['--announce', opts.announce, announceProblem], ['--bootstrap', opts.bootstrap, bootstrapProblem], ['--stun', opts.stun, stunProblem]] as const) {
    const bad = firstBadAddr(addrs ?? [], problem)
    if (bad != null) throw new CliError(`${flag} ${JSON.stringify(bad.addr)} ${bad.why}`, EXIT.USAGE)
  }
  const flags: Partial<Config> = {
    listen: opts.listen,
    announce: opts.announce,
    bootstrap: opts.bootstrap,
    dht: opts.dht as Config['dht'] | undefined,
    dhtAddresses: opts.dhtAddresses as Config['dhtAddresses'] | undefined,
    autoRelays: opts.autoRelays,
    replaceRelaysAfter: opts.replaceRelaysAfter,
    mdns: opts.mdns,
    upnp: opts.upnp,
    webrtc: opts.webrtc,
    stun: opts.stun,
    relayStun: opts.relayStun,
    apiHost: opts.apiHost,
    apiPort: portFlag('--api-port', opts.apiPort),
    operatorHost: opts.operatorHost,
    operatorPort: portFlag('--operator-port', opts.operatorPort),
    readReceipts: opts.readReceipts,
    durability: opts.durability,
    relay: opts.relay,
    relayAllow: opts.relayAllow,
    relayQuotaMessages: opts.relayQuotaMessages,
    relayQuotaBytes: opts.relayQuotaBytes,
    relayTotalBytes: opts.relayTotalBytes,
    relayDepositRate: opts.relayDepositRate,
    relayMaxEnvelope: opts.relayMaxEnvelope,
    relayTtl: opts.relayTtl,
    maxConnections: opts.maxConnections,
    logLevel: opts.logLevel as Config['logLevel'] | undefined,
    logFormat: opts.logFormat as Config['logFormat'] | undefined
  }
  return Object.fromEntries(Object.entries(flags).filter(([, v]) => v !== undefined))
}

/** ` (default: X)` for a flag's help, from the settings. */
function byDefault (key: SettingKey): string {
  return ` (default: ${showValue(key, SETTINGS[key].default)})`
}

/** A setting's value as `config show` prints it. */
function showValue (key: SettingKey, value: SettingValue): string {
  if (value === null) return (SETTINGS[key] as { none?: string }).none ?? 'none'
  return Array.isArray(value) ? value.join(' ') : String(value)
}

function seconds (value: string): number {
  const n = Number(value)
  if (!Number.isFinite(n) || n <= 0 || n > 600) throw new CliError(`"${value}" is not a number of seconds above 0 and at most 600`, EXIT.USAGE)
  return n
}

async function contactNames (api: ControlClient): Promise<Map<string, string>> {
  return namesOf(await api.request<ContactRecord[]>('GET', '/v1/contacts'))
}

function namesOf (contacts: ContactRecord[]): Map<string, string> {
  return new Map(contacts.map(c => [c.peerId, c.name]))
}

/**
 * Warns on stderr (so scripts reading stdout are not disturbed) about every contact among
 * `peers` whose identity changed and who was not verified since, once per contact.
 */
function warnIdentityChanges (contacts: ContactRecord[], peers: Iterable<string>, warned = new Set<string>()): Set<string> {
  const shown = new Set(peers)
  for (const c of contacts) {
    if (c.identityChanged == null || !shown.has(c.peerId) || warned.has(c.peerId)) continue
    warned.add(c.peerId)
    process.stderr.write(identityWarning({ name: c.name, peerId: c.peerId, ...c.identityChanged }) + '\n')
  }
  return warned
}

program.command('init')
  .description('create an Ed25519 identity in the data dir (refuses to overwrite one)')
  .action(async () => {
    const key = await createIdentity(dataDir())
    const peerId = peerIdFromPrivateKey(key).toString()
    out(`created identity ${peerId} in ${dataDir()}`, { peerId, dataDir: dataDir() })
  })

program.command('start')
  .description('run the node in the foreground until SIGINT or SIGTERM (creates an identity if none)')
  .option('-l, --listen <multiaddr...>', 'addresses to listen on (default: TCP and WebSockets on all interfaces, OS-chosen ports)')
  .option('--bootstrap <multiaddr...>', 'peers to connect to at start, to join the network (multiaddrs ending in /p2p/<peer id>)')
  .option('--announce <multiaddr...>', 'public addresses to publish besides the listen addresses: a cloud VM\'s, a port forward (never loopback)')
  .addOption(new Option('--dht <mode>', `the DHT that finds peers by id: server, client, auto (a server once the node has a public address; a relay is a server) or off${byDefault('dht')}`).choices(DHT_MODES))
  .addOption(new Option('--dht-addresses <which>', `peer addresses the DHT passes on: public, or all (for one LAN or a test lab)${byDefault('dhtAddresses')}`).choices(DHT_ADDRESSES))
  .option('--auto-relays <count>', `home relays chosen on the DHT when none was added by hand (0: none)${byDefault('autoRelays')}`, wholeNumber('--auto-relays', 16))
  .option('--replace-relays-after <seconds>', `seconds a home relay chosen on the DHT may stay unreachable before another replaces it${byDefault('replaceRelaysAfter')}`, count('--replace-relays-after'))
  .option('--mdns', 'find pigeon peers on the same LAN with mDNS (the default for a node that is not a relay and listens beyond loopback)')
  .option('--no-mdns', 'do not use mDNS')
  .option('--upnp', 'map a port on the home router with UPnP where it offers it (the default for a node that is not a relay and listens beyond loopback)')
  .option('--no-upnp', 'do not use UPnP')
  .option('--webrtc', 'hole punching: upgrade relayed connections to direct WebRTC ones where both NATs allow (the default for a node that is not a relay)')
  .option('--no-webrtc', 'do not hole-punch: peers behind NAT stay reached through relays')
  .option('--stun <url...>', 'STUN servers (stun:host:port) WebRTC asks for this node\'s public address besides its home relays')
  .option('--api-host <host>', `interface for the control API${byDefault('apiHost')}`)
  .option('--api-port <port>', `port for the control API (0: chosen by the OS)${byDefault('apiPort')}`)
  .option('--operator-port <port>', 'serve /healthz, /readyz and /metrics on this port (0: chosen by the OS; default: off)')
  .option('--operator-host <host>', `interface for the operator endpoint${byDefault('operatorHost')}`)
  .option('--read-receipts', 'tell senders when their messages are read (the default; overrides the config)')
  .option('--no-read-receipts', 'do not tell senders when their messages are read')
  .addOption(new Option('--durability <mode>', `fsync: survive power loss; os: survive a process crash, faster${byDefault('durability')}`).choices(['fsync', 'os']))
  .option('--relay', 'also run as a relay: keep mailboxes for offline peers and relay connections for peers behind NAT')
  .option('--no-relay', 'do not run as a relay (overrides the config)')
  .option('--relay-stun', 'a relay answers STUN on UDP at its TCP port, so the nodes it serves can hole-punch (the default)')
  .option('--no-relay-stun', 'a relay does not answer STUN on UDP at its TCP port (it does by default)')
  .option('--relay-allow <peerId...>', 'serve only these recipients (default: anyone)')
  .option('--relay-quota-messages <count>', `envelopes held per recipient${byDefault('relayQuotaMessages')}`, count('--relay-quota-messages'))
  .option('--relay-quota-bytes <bytes>', `bytes held per recipient${byDefault('relayQuotaBytes')}`, count('--relay-quota-bytes'))
  .option('--relay-total-bytes <bytes>', `bytes held for all recipients together${byDefault('relayTotalBytes')}`, count('--relay-total-bytes'))
  .option('--relay-deposit-rate <count>', `envelopes one sender may deposit per minute${byDefault('relayDepositRate')}`, count('--relay-deposit-rate'))
  .option('--relay-max-envelope <bytes>', `largest envelope accepted${byDefault('relayMaxEnvelope')}`, count('--relay-max-envelope'))
  .option('--relay-ttl <days>', `days unfetched mail is kept${byDefault('relayTtl')}`, count('--relay-ttl'))
  .option('--max-connections <count>', 'connections kept open at most (default: libp2p\'s, 300; a relay with many clients needs more)', count('--max-connections'))
  .addOption(new Option('--log-level <level>', `least severe log records written to stderr${byDefault('logLevel')}`).choices(LOG_LEVELS))
  .addOption(new Option('--log-format <format>', 'json: one JSON object per line; pretty: readable lines (default: pretty on a terminal, else json)').choices(LOG_FORMATS))
  .addHelpText('after', '\nEvery option can also be set in the data dir\'s config.json or a PIGEON_* variable; flags win.\nSee `pigeon config show` and docs/configuration.md.')
  .action(async (opts: StartOptions) => {
    // Flags over PIGEON_* variables over the data dir's config.json over defaults; a bad value
    // anywhere stops here, before anything starts.
    const config = configValues(await loadConfig({ dataDir: dataDir(), env: process.env, flags: startFlags(opts) }))
    // The level and format were checked with the other settings (environment included).
    const logger = createLogger({ level: config.logLevel, format: config.logFormat ?? undefined })
    const log = logger.forComponent('pigeon:cli')
    const { startDaemon } = await import('../src/control/daemon.js')
    const daemon = await startDaemon({
      dataDir: dataDir(),
      ...daemonOptions(config),
      logger,
      onStopped: ({ apiMs, nodeMs }) => { log.info('control API closed in %d ms, node stopped in %d ms', apiMs, nodeMs) }
    })
    const { node } = daemon
    let signals = 0
    const onSignal = (signal: string): void => {
      if (++signals > 1) {
        log.warn('second %s, exiting now', signal)
        process.exit(EXIT.ERROR)
      }
      log.info('%s received, stopping', signal)
      daemon.stop().catch((err: Error) => { log.error('stopping failed: %e', err) })
    }
    process.on('SIGINT', onSignal)
    process.on('SIGTERM', onSignal)
    // Ids and peer ids only: message text never goes to a log.
    node.addEventListener('message', (evt) => { log('message %s from %s', evt.detail.id, evt.detail.from) })
    node.addEventListener('receipt', (evt) => { log('message %s %s', evt.detail.id, evt.detail.state) })
    out(() => [
      `pigeon ${VERSION} ${config.relay ? 'relay' : 'node'} ${node.peerId.toString()} running`,
      `data dir     ${dataDir()}`,
      `listening    ${node.addresses().join('\n             ')}`,
      `control API  ${daemon.apiUrl}`,
      ...(daemon.operatorUrl != null ? [`operator     ${daemon.operatorUrl} (/healthz, /readyz, /metrics)`] : []),
      `contact card ${node.card()}`,
      'stop with Ctrl-C or `pigeon stop`'
    ].join('\n'), { peerId: node.peerId.toString(), dataDir: dataDir(), addresses: node.addresses(), apiUrl: daemon.apiUrl, ...(daemon.operatorUrl != null ? { operatorUrl: daemon.operatorUrl } : {}), card: node.card(), pid: process.pid })
    await daemon.stopped
    log.info('stopped')
    // Everything is closed and flushed; a handle still open somewhere (a peer slow to finish its
    // side of a connection) must not keep a stopped node's process alive.
    // It is a bug when this fires (tests fail on the line): the warning names what was left open.
    setTimeout(() => {
      log.warn('exiting with handles still open: %s', process.getActiveResourcesInfo().join(', '))
      process.exit(process.exitCode ?? EXIT.OK)
    }, EXIT_GRACE_MS).unref()
  })

const configCommand = program.command('config').description(`the settings of pigeon start: defaults, the data dir's config.json, PIGEON_* variables (docs/configuration.md)`)
configCommand.command('show')
  .description('print each setting, its effective value and where it came from (default, file or env); needs no running node')
  .action(async () => {
    const config = await loadConfig({ dataDir: dataDir(), env: process.env })
    const rows = SETTING_KEYS.map(k => [k, showValue(k, config[k].value), config[k].source === 'env' ? `env ${SETTINGS[k].env}` : config[k].source])
    const widths = [0, 1].map(i => Math.max(...rows.map(r => r[i].length)))
    out(() => rows.map(([k, v, source]) => `${k.padEnd(widths[0])}  ${v.padEnd(widths[1])}  ${source}`).join('\n'), config)
  })
configCommand.command('path')
  .description('print the path of the config file (it need not exist)')
  .action(() => {
    out(configPath(dataDir()), { path: configPath(dataDir()) })
  })

const bootstrapCommand = program.command('bootstrap').description('peers a node connects to when it starts, to join the network (kept in the data dir\'s config.json; needs no running node)')
bootstrapCommand.command('add')
  .description('add a bootstrap peer; used from the next start')
  .argument('<multiaddr>', 'where the peer is, ending in its id: /ip4/198.18.0.10/tcp/4001/p2p/12D3KooW...')
  .action(async (addr: string) => {
    const problem = bootstrapProblem(addr)
    if (problem != null) throw new CliError(`${JSON.stringify(addr)} ${problem}`, EXIT.USAGE)
    let added = false
    await editConfigFile(dataDir(), (file) => {
      const list = Array.isArray(file.bootstrap) ? file.bootstrap as string[] : []
      if (list.includes(addr)) return
      file.bootstrap = [...list, addr]
      added = true
    })
    out(added ? `added bootstrap peer ${addr} (used from the next start)` : `${addr} is already a bootstrap peer`, { addr, added })
  })
bootstrapCommand.command('list')
  .description('the bootstrap peers the next start uses, and where they are set')
  .action(async () => {
    const { bootstrap } = await loadConfig({ dataDir: dataDir(), env: process.env })
    const list = bootstrap.value ?? []
    const where = bootstrap.source === 'env' ? ` (from ${SETTINGS.bootstrap.env}, which overrides config.json)` : ''
    out(() => list.length === 0 ? 'no bootstrap peers: add one with `pigeon bootstrap add <multiaddr>`' : list.join('\n') + where, { bootstrap: list, source: bootstrap.source })
  })
bootstrapCommand.command('remove')
  .description('remove a bootstrap peer, by its address or its peer id')
  .argument('<multiaddr-or-peer-id>', 'an address as listed, or the peer id it ends in')
  .action(async (which: string) => {
    let removed: string[] = []
    await editConfigFile(dataDir(), (file) => {
      const list = Array.isArray(file.bootstrap) ? file.bootstrap as string[] : []
      removed = list.filter(a => a === which || bootstrapPeer(a) === which)
      const kept = list.filter(a => !removed.includes(a))
      if (kept.length > 0) file.bootstrap = kept
      else delete file.bootstrap
    })
    if (removed.length === 0) throw new CliError(`${JSON.stringify(which)} is not a bootstrap peer in ${configPath(dataDir())}`)
    out(removed.map(a => `removed bootstrap peer ${a}`).join('\n'), { removed })
  })

program.command('id')
  .description('print the peer id, listen addresses and contact card')
  .option('--qr', 'show the contact card as a QR code, for another device to scan')
  .action(async (opts: { qr?: boolean }) => {
    if (opts.qr === true && globals().json === true) throw new CliError('--qr draws a picture for people; use --json without it', EXIT.USAGE)
    const id = await (await client()).request<{ peerId: string, addresses: string[], card: string }>('GET', '/v1/id')
    if (opts.qr === true) {
      out(`${qrText(id.card)}\npeer id ${id.peerId}\ncard    ${id.card}`, id)
      return
    }
    out(() => [`peer id   ${id.peerId}`, `addresses ${id.addresses.join('\n          ')}`, `card      ${id.card}`].join('\n'), id)
  })

const relays = program.command('relays').description('manage home relays: always-on nodes that hold your mail while you are offline')
relays.command('add')
  .description('use a relay (from its contact card) as a home relay; your card then names it')
  .argument('<card>', 'the relay\'s contact card (pigeon-card:...)')
  .action(async (card: string) => {
    const record = await (await client()).request<RelayRecord>('POST', '/v1/relays', { card })
    out(`added home relay ${record.peerId}`, record)
  })
relays.command('list')
  .description('list home relays: connected or not, round trip, mail each held for you at the last drain, and whether it was added by hand or chosen on the DHT')
  .action(async () => {
    const list = await (await client()).request<RelayHealth[]>('GET', '/v1/relays')
    out(() => list.length === 0 ? 'no home relays' : list.map(relayLine).join('\n'), list)
  })
relays.command('remove')
  .description('stop using a home relay')
  .argument('<peerId>')
  .action(async (peerId: string) => {
    await (await client()).request('DELETE', `/v1/relays/${encodeURIComponent(peerId)}`)
    out(`removed home relay ${peerId}`, { removed: peerId })
  })

const contacts = program.command('contacts').description('manage contacts')
contacts.command('add')
  .description('add a contact from its card or, by peer id alone, from the card it published on the DHT (or refresh the card of an existing one)')
  .argument('<name>', 'a short name: letters, digits, ".", "_" or "-"')
  .argument('<card-or-peer-id>', 'the contact card string (pigeon-card:...), or the peer id (12D3KooW...)')
  .action(async (name: string, card: string) => {
    const record = await (await client()).request<ContactRecord>('POST', '/v1/contacts', { name, card })
    out(`added ${record.name} (${record.peerId})`, record)
  })
contacts.command('list')
  .description('list contacts')
  .action(async () => {
    const list = await (await client()).request<ContactRecord[]>('GET', '/v1/contacts')
    out(() => list.length === 0 ? 'no contacts' : list.map(contactLine).join('\n'), list)
  })
contacts.command('verify')
  .description('show the safety number you and a contact both see, as digits and a QR code, to compare in person or over a channel you trust')
  .argument('<name>')
  .action(async (name: string) => {
    const n = await (await client()).request<ContactSafetyNumber>('GET', `/v1/contacts/${encodeURIComponent(name)}/safety-number`)
    out(() => [
      `safety number with ${n.name} (${n.peerId}):`,
      safetyNumberText(n.groups),
      qrText(n.qr),
      ...(n.identityChanged != null ? [identityWarning({ name: n.name, peerId: n.peerId, ...n.identityChanged })] : []),
      n.verifiedAt != null && n.identityChanged == null
        ? `verified on ${new Date(n.verifiedAt).toISOString()}.`
        : `if ${n.name} sees the same digits, run: pigeon contacts verified ${n.name}`
    ].join('\n'), n)
  })
contacts.command('verified')
  .description('record that the safety number with a contact matched (clears an identity warning)')
  .argument('<name>')
  .action(async (name: string) => {
    const record = await (await client()).request<ContactRecord>('POST', `/v1/contacts/${encodeURIComponent(name)}/verified`)
    out(`${record.name} is verified`, record)
  })
contacts.command('remove')
  .description('remove a contact')
  .argument('<name>')
  .action(async (name: string) => {
    await (await client()).request('DELETE', `/v1/contacts/${encodeURIComponent(name)}`)
    out(`removed ${name}`, { removed: name })
  })

program.command('send')
  .description('send a message; prints its id')
  .argument('<to>', 'a contact name or a peer id')
  .argument('<text>', 'the message')
  .option('-w, --wait', 'wait until the recipient confirms delivery')
  .option('-t, --timeout <seconds>', 'how long --wait waits', seconds, 30)
  .action(async (to: string, text: string, opts: { wait?: boolean, timeout: number }) => {
    const api = await client()
    const { id } = await api.request<{ id: string }>('POST', '/v1/messages', { to, text })
    if (opts.wait !== true) {
      out(id, { id, state: 'queued' })
      return
    }
    const ms = Math.round(opts.timeout * 1000)
    try {
      const record = await api.request<{ state: string, deliveredAt?: number }>('GET', `/v1/messages/${id}/wait?state=delivered&timeout=${ms}`, undefined, { timeout: ms + 10_000 })
      out(`${id} ${record.state}`, { id, state: record.state, deliveredAt: record.deliveredAt })
    } catch (err: any) {
      if (err.status !== 408) throw err
      const record = await api.request<OutboxRecord>('GET', `/v1/messages/${id}`)
      const where = record.state === 'sent' && record.storedAt != null && record.storedAt.length > 0
        ? `it is held by ${record.storedAt.length} relay${record.storedAt.length === 1 ? '' : 's'} until the recipient comes online`
        : `it stays queued and will be retried${record.lastError != null ? ` (last error: ${record.lastError})` : ''}`
      throw new CliError(`message ${id} was not delivered within ${opts.timeout}s; ${where}`, EXIT.TIMEOUT)
    }
  })

program.command('inbox')
  .description('show received messages, oldest first, and mark them read')
  .option('-f, --follow', 'keep running and print new messages as they arrive')
  .option('--from <name>', 'only messages from this contact name or peer id')
  .option('--peek', 'do not mark the shown messages read')
  .option('-n, --limit <count>', 'show at most this many (the oldest first)')
  .action(async (opts: { follow?: boolean, from?: string, peek?: boolean, limit?: string }) => {
    const api = await client()
    const contactList = await api.request<ContactRecord[]>('GET', '/v1/contacts')
    const names = namesOf(contactList)
    const warned = new Set<string>()
    const query = new URLSearchParams()
    if (opts.from != null) query.set('from', opts.from)
    if (opts.limit != null) query.set('limit', opts.limit)
    const json = globals().json === true
    // Without --follow, --json prints one array; with it, one record per line (NDJSON).
    const show = async (records: InboxRecord[], asArray = false): Promise<void> => {
      warnIdentityChanges(contactList, records.map(r => r.from), warned)
      if (json && asArray) process.stdout.write(JSON.stringify(records) + '\n')
      else for (const r of records) process.stdout.write((json ? JSON.stringify(r) : inboxLine(r, names)) + '\n')
      const unread = records.filter(r => !r.read)
      if (opts.peek !== true && unread.length > 0) {
        await api.request('POST', '/v1/inbox/read', { messages: unread.map(r => ({ from: r.from, id: r.id })) })
      }
    }
    // Ctrl-C ends --follow cleanly at any moment, the backlog included.
    const controller = new AbortController()
    if (opts.follow === true) {
      const stop = (): void => { controller.abort() }
      process.once('SIGINT', stop)
      process.once('SIGTERM', stop)
    }
    const records = await api.request<InboxRecord[]>('GET', `/v1/inbox?${query.toString()}`)
    if (opts.follow !== true) {
      await show(records, true)
      return
    }
    await show(records)
    if (controller.signal.aborted) return
    const after = records.length > 0 ? records[records.length - 1].seq : 0
    const follow = new URLSearchParams({ 'inbox-after': String(after) })
    if (opts.from != null) follow.set('from', opts.from)
    for await (const event of api.events(`/v1/events?${follow.toString()}`, controller.signal)) {
      if (event.event === 'message') await show([event.data as InboxRecord])
    }
    if (!controller.signal.aborted) throw new CliError('the node stopped', EXIT.NOT_RUNNING)
  })

program.command('outbox')
  .description('messages you sent, oldest first, with their state and any delivery problem')
  .option('--to <name>', 'only messages to this contact name or peer id')
  .option('-n, --limit <count>', 'only the newest this many')
  .action(async (opts: { to?: string, limit?: string }) => {
    const api = await client()
    const query = new URLSearchParams()
    if (opts.to != null) query.set('to', opts.to)
    if (opts.limit != null) query.set('limit', opts.limit)
    const records = await api.request<OutboxRecord[]>('GET', `/v1/messages?${query.toString()}`)
    const contactList = await api.request<ContactRecord[]>('GET', '/v1/contacts')
    const names = namesOf(contactList)
    warnIdentityChanges(contactList, records.map(r => r.to))
    out(() => records.length === 0 ? 'nothing sent' : records.map(r => outboxLine(r, names)).join('\n'), records)
  })

/** A channel's path in the control API. */
function channelPath (name: string, rest = ''): string {
  return `/v1/channels/${encodeURIComponent(name)}${rest}`
}

const channel = program.command('channel').description('group channels: end-to-end encrypted, one order for every member, archived by relays')
channel.command('create')
  .description('create a channel; prints the invite that others join with')
  .argument('<name>', 'this node\'s name for it: 1 to 64 characters, no spaces')
  .action(async (name: string) => {
    const created = await (await client()).request<ChannelInfo & { invite: string }>('POST', '/v1/channels', { name })
    out(created.invite, created)
    if (globals().json !== true) process.stderr.write(`pigeon: created channel ${created.name}; others join with: pigeon channel join <the invite above>\n`)
  })
channel.command('invite')
  .description('print an invite to a channel (any member can invite)')
  .argument('<name>', 'channel name or id')
  .action(async (name: string) => {
    const { invite } = await (await client()).request<{ invite: string }>('GET', channelPath(name, '/invite'))
    out(invite, { invite })
  })
channel.command('join')
  .description('join a channel with an invite')
  .argument('<invite>', 'the invite (pigeon-invite:...)')
  .option('--as <name>', 'your name for the channel (default: the name in the invite)')
  .action(async (invite: string, opts: { as?: string }) => {
    const joined = await (await client()).request<ChannelInfo>('POST', '/v1/channels/join', { invite, name: opts.as })
    out(`joined ${joined.name} (${joined.id})`, joined)
  })
channel.command('post')
  .description('post to a channel; prints the post id')
  .argument('<name>', 'channel name or id')
  .argument('<text...>', 'the post (several words are joined with spaces)')
  .action(async (name: string, words: string[]) => {
    const message = await (await client()).request<ChannelMessageView>('POST', channelPath(name, '/posts'), { text: words.join(' ') })
    out(message.id, message)
  })
channel.command('read')
  .description('show a channel\'s messages in the order every member sees them')
  .argument('<name>', 'channel name or id')
  .option('-f, --follow', 'keep running and print new messages as they arrive')
  .option('-n, --last <count>', 'only the newest this many', count('--last'))
  .action(async (name: string, opts: { follow?: boolean, last?: number }) => {
    const api = await client()
    const json = globals().json === true
    const names = json ? new Map<string, string>() : await contactNames(api)
    // One message per line in both modes (NDJSON with --json), so a script can follow too.
    const show = (m: ChannelMessageView): void => { process.stdout.write((json ? JSON.stringify(m) : channelMessageLine(m, names, api.info.peerId)) + '\n') }
    if (opts.follow !== true) {
      const query = opts.last != null ? `?last=${opts.last}` : ''
      for (const m of await api.request<ChannelMessageView[]>('GET', channelPath(name, `/messages${query}`))) show(m)
      return
    }
    // Ctrl-C ends --follow cleanly at any moment, the backlog included.
    const controller = new AbortController()
    const stop = (): void => { controller.abort() }
    process.once('SIGINT', stop)
    process.once('SIGTERM', stop)
    // The stream replays the backlog itself: late history can sort before the newest message
    // shown, so resuming after an order key from a separate list could miss it.
    const follow = new URLSearchParams({ channel: name })
    if (opts.last != null) follow.set('channel-last', String(opts.last))
    else follow.set('channel-after', '')
    for await (const event of api.events(`/v1/events?${follow.toString()}`, controller.signal)) {
      if (event.event === 'channel') show(event.data as ChannelMessageView)
    }
    if (!controller.signal.aborted) throw new CliError('the node stopped', EXIT.NOT_RUNNING)
  })
channel.command('members')
  .description('list a channel\'s current members, oldest first')
  .argument('<name>', 'channel name or id')
  .action(async (name: string) => {
    const api = await client()
    const [info, members, names] = await Promise.all([
      api.request<ChannelInfo>('GET', channelPath(name)),
      api.request<MemberRecord[]>('GET', channelPath(name, '/members')),
      contactNames(api)
    ])
    out(() => members.map(m => memberLine(m, names, api.info.peerId, info.creator)).join('\n'),
      members.map(m => ({ ...m, contact: names.get(m.peerId) ?? null, creator: m.peerId === info.creator, you: m.peerId === api.info.peerId })))
  })
channel.command('remove')
  .description('remove a member (creator only): the others get a new key the removed member never sees')
  .argument('<name>', 'channel name or id')
  .argument('<member>', 'a contact name or a peer id')
  .action(async (name: string, member: string) => {
    const { removed } = await (await client()).request<{ removed: string }>('DELETE', channelPath(name, `/members/${encodeURIComponent(member)}`))
    out(`removed ${member === removed ? removed : `${member} (${removed})`} from ${name}`, { channel: name, removed })
  })
channel.command('leave')
  .description('leave a channel: the others are told, and its keys are forgotten')
  .argument('<name>', 'channel name or id')
  .action(async (name: string) => {
    const info = await (await client()).request<ChannelInfo>('POST', channelPath(name, '/leave'))
    out(`left ${info.name}`, info)
  })
channel.command('list')
  .description('list channels, with those left or removed from')
  .action(async () => {
    const list = await (await client()).request<ChannelInfo[]>('GET', '/v1/channels')
    out(() => list.length === 0 ? 'no channels' : list.map(channelLine).join('\n'), list)
  })

program.command('backup')
  .description('write a consistent snapshot of the running node (identity, contacts, messages, channels) to a file, mode 0600')
  .argument('<file>', 'where to write it (replaced if it exists)')
  .option('--passphrase-file <file>', 'encrypt with the passphrase in this file (else $PIGEON_BACKUP_PASSPHRASE, if set)')
  .action(async (file: string, opts: { passphraseFile?: string }) => {
    await backupCommand(await client(), file, opts, globals().json === true)
  })

program.command('restore')
  .description('restore a backup into the data dir (-d), which must hold no identity, no data and no running node')
  .argument('<file>', 'the backup file')
  .option('--passphrase-file <file>', 'the passphrase of an encrypted backup (else $PIGEON_BACKUP_PASSPHRASE)')
  .action(async (file: string, opts: { passphraseFile?: string }) => {
    await restoreCommand(file, dataDir(), opts, globals().json === true)
  })

program.command('status')
  .description('peers, outbox by state, inbox, store size, uptime, version')
  .action(async () => {
    const status = await (await client()).request<NodeStatus>('GET', '/v1/status')
    out(() => statusText(status), status)
  })

program.command('stop')
  .description('stop the running node')
  .option('-t, --timeout <seconds>', 'how long to wait for it to exit', seconds, 15)
  .action(async (opts: { timeout: number }) => {
    const api = await client()
    await api.request('POST', '/v1/stop')
    const deadline = Date.now() + opts.timeout * 1000
    // The node exits on its own schedule; poll its pid, bounded by the deadline.
    while (processAlive(api.info.pid)) {
      if (Date.now() > deadline) throw new CliError(`node (pid ${api.info.pid}) did not stop within ${opts.timeout}s`, EXIT.TIMEOUT)
      await new Promise(resolve => setTimeout(resolve, 50))
    }
    out('stopped', { stopped: true, pid: api.info.pid })
  })

async function main (): Promise<number> {
  try {
    await program.parseAsync(process.argv)
    return EXIT.OK
  } catch (err: any) {
    if (err instanceof CommanderError) {
      // Commander already printed the usage error; --help and --version exit 0.
      return err.exitCode === 0 ? EXIT.OK : EXIT.USAGE
    }
    return report(err, globals().verbose === true)
  }
}

process.exitCode = await main()
