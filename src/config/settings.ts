/**
 * Every setting of `pigeon start`: its type, default, config file key, environment variable and
 * flag, and how a value is checked. The config file, the environment and the flags all go
 * through these, so a value means the same wherever it is given.
 */
import { multiaddr } from '@multiformats/multiaddr'
import { peerIdFromString } from '@libp2p/peer-id'
import { DEFAULT_LISTEN, MAX_ENVELOPE_BYTES } from '../constants.js'
import { DEFAULT_DEPOSIT_RATE_PER_MINUTE, DEFAULT_QUOTA_BYTES, DEFAULT_QUOTA_MESSAGES, DEFAULT_TOTAL_BYTES, DEFAULT_TTL_MS } from '../mailbox/constants.js'
import { DEFAULT_OPERATOR_HOST } from '../ops/constants.js'
import { DEFAULT_LOG_LEVEL, LOG_FORMATS, LOG_LEVELS } from '../ops/log.js'
import { DAY_MS, LIBP2P_DEFAULT_MAX_CONNECTIONS } from './constants.js'
import { announceProblem } from '../network/announce.js'
import { bootstrapProblem } from '../network/bootstrap.js'
import { firstBadAddr } from '../network/addrs.js'
import { DEFAULT_AUTO_RELAYS, DEFAULT_RELAY_REPLACE_AFTER_MS, DHT_ADDRESSES, DHT_MODES } from '../discovery/constants.js'
import { stunProblem } from '../network/stun-urls.js'

/** A value as the config file holds it: settings are flat and JSON-typed. */
export type SettingValue = string | number | boolean | string[] | null

/** Thrown by a setting's parser; the resolver adds where the value came from. */
export class BadValue extends Error {}

export interface Setting<T extends SettingValue> {
  /** Environment variable, `PIGEON_` and the key in upper snake case. */
  env: string
  /** The `pigeon start` flag, the key in kebab case. */
  flag: string
  default: T
  /** One line for docs and help. */
  description: string
  /** How `config show` prints null (a setting that is off or unrestricted). */
  none?: string
  /** Checks a config file value (any JSON); throws BadValue saying what it must be. */
  fromJson(value: unknown): T
  /** Parses an environment variable; throws BadValue saying what it must be. */
  fromText(text: string): T
}

type Kind<T extends SettingValue> = Pick<Setting<T>, 'fromJson' | 'fromText'>

function must (what: string): never {
  throw new BadValue(`must be ${what}`)
}

function integer (min: number, max: number, what: string): Kind<number> {
  const check = (n: unknown): number => (typeof n === 'number' && Number.isSafeInteger(n) && n >= min && n <= max) ? n : must(what)
  return {
    fromJson: check,
    fromText: (text) => /^\d+$/.test(text.trim()) ? check(Number(text)) : must(what)
  }
}

const port = integer(0, 65535, 'an integer from 0 to 65535')
const positive = integer(1, Number.MAX_SAFE_INTEGER, 'a positive whole number')

/** Null in the file means "not set" (the default); the environment has no way to say it. */
function nullable<T extends SettingValue> (kind: Kind<T>): Kind<T | null> {
  return { fromJson: (v) => v === null ? null : kind.fromJson(v), fromText: kind.fromText }
}

const TRUE = new Set(['true', '1', 'yes', 'on'])
const FALSE = new Set(['false', '0', 'no', 'off'])

const boolean: Kind<boolean> = {
  fromJson: (v) => typeof v === 'boolean' ? v : must('true or false'),
  fromText: (text) => {
    const t = text.trim().toLowerCase()
    return TRUE.has(t) ? true : FALSE.has(t) ? false : must('true or false (or 1, 0, yes, no, on, off)')
  }
}

function choice<T extends string> (choices: readonly T[]): Kind<T> {
  const what = `one of ${choices.map(c => `"${c}"`).join(', ')}`
  const check = (v: unknown): T => choices.includes(v as T) ? v as T : must(what)
  return { fromJson: check, fromText: (text) => check(text.trim()) }
}

const host: Kind<string> = {
  fromJson: (v) => typeof v === 'string' && /^[^\s/]+$/.test(v) ? v : must('a host name or IP address'),
  fromText: (text) => host.fromJson(text.trim())
}

/** A non-empty list whose items `item` checks; in the environment, separated by commas or spaces. */
function list (item: (s: string) => void, what: string): Kind<string[]> {
  const check = (items: string[]): string[] => {
    if (items.length === 0) must(`a non-empty list of ${what}`)
    for (const s of items) {
      try {
        item(s)
      } catch {
        throw new BadValue(`${JSON.stringify(s)} is not a ${what.replace(/s$/, '')}`)
      }
    }
    return items
  }
  return {
    fromJson: (v) => Array.isArray(v) && v.every(s => typeof s === 'string') ? check(v) : must(`a non-empty list of ${what}`),
    fromText: (text) => check(text.split(/[\s,]+/).filter(s => s !== ''))
  }
}

const multiaddrs = list((s) => { multiaddr(s) }, 'multiaddrs')

/** A non-empty list of multiaddrs, each of which `problem` accepts (it says why it does not). */
function checkedAddrs (problem: (addr: string) => string | undefined): Kind<string[]> {
  const check = (items: string[]): string[] => {
    if (items.length === 0) must('a non-empty list of multiaddrs')
    const bad = firstBadAddr(items, problem)
    if (bad != null) throw new BadValue(`${JSON.stringify(bad.addr)} ${bad.why}`)
    return items
  }
  return {
    fromJson: (v) => check(Array.isArray(v) && v.every(s => typeof s === 'string') ? v : must('a non-empty list of multiaddrs')),
    fromText: (text) => check(text.split(/[\s,]+/).filter(s => s !== ''))
  }
}

/** Addresses to announce: each one a dialable, non-loopback TCP or WebSockets address. */
const announceList = checkedAddrs(announceProblem)
/** Bootstrap peers: each address ends in its peer's id. */
const bootstrapList = checkedAddrs(bootstrapProblem)
const peerIds = list((s) => { peerIdFromString(s) }, 'peer ids')
/** STUN servers: each one `stun:host` or `stun:host:port`. */
const stunUrls = list((s) => { if (stunProblem(s) != null) throw new Error(stunProblem(s)) }, 'STUN servers')

/**
 * The settings, in the order `pigeon config show` prints them. Relay limits apply only when
 * `relay` is true.
 */
export const SETTINGS = {
  listen: { env: 'PIGEON_LISTEN', flag: '--listen', default: DEFAULT_LISTEN, description: 'addresses to listen on (multiaddrs)', ...multiaddrs },
  announce: { env: 'PIGEON_ANNOUNCE', flag: '--announce', default: null, none: 'none', description: 'public addresses to publish besides the listen addresses, e.g. a cloud VM\'s or a port forward (multiaddrs; never loopback)', ...nullable(announceList) },
  bootstrap: { env: 'PIGEON_BOOTSTRAP', flag: '--bootstrap', default: null, none: 'none', description: 'peers to connect to at start, to join the network (multiaddrs ending in /p2p/<peer id>)', ...nullable(bootstrapList) },
  dht: { env: 'PIGEON_DHT', flag: '--dht', default: 'auto', description: 'the DHT that finds peers by id: server answers others (relays, public nodes), client only asks, auto becomes a server with a public address (a relay: server), off: none', ...choice(DHT_MODES) },
  dhtAddresses: { env: 'PIGEON_DHT_ADDRESSES', flag: '--dht-addresses', default: 'public', description: 'peer addresses the DHT passes on: public drops loopback and private ones; all keeps them (one LAN, a test lab)', ...choice(DHT_ADDRESSES) },
  mdns: { env: 'PIGEON_MDNS', flag: '--mdns', default: null, none: 'on for a node that is not a relay and listens beyond loopback', description: 'find pigeon peers on the same LAN with mDNS (true or false)', ...nullable(boolean) },
  autoRelays: { env: 'PIGEON_AUTO_RELAYS', flag: '--auto-relays', default: DEFAULT_AUTO_RELAYS, description: 'home relays chosen on the DHT when none was added by hand (0: none)', ...integer(0, 16, 'a whole number from 0 to 16') },
  replaceRelaysAfter: { env: 'PIGEON_REPLACE_RELAYS_AFTER', flag: '--replace-relays-after', default: DEFAULT_RELAY_REPLACE_AFTER_MS / 1000, description: 'seconds a home relay chosen on the DHT may stay unreachable before another replaces it', ...integer(1, 86_400, 'a whole number of seconds from 1 to 86400') },
  upnp: { env: 'PIGEON_UPNP', flag: '--upnp', default: null, none: 'on for a node that is not a relay and listens beyond loopback', description: 'map a port on the home router with UPnP where it offers it (true or false)', ...nullable(boolean) },
  webrtc: { env: 'PIGEON_WEBRTC', flag: '--webrtc', default: null, none: 'on for a node that is not a relay', description: 'hole punching: upgrade relayed connections to direct WebRTC ones where both NATs allow (true or false)', ...nullable(boolean) },
  stun: { env: 'PIGEON_STUN', flag: '--stun', default: null, none: 'only the home relays\' own', description: 'STUN servers WebRTC asks for this node\'s public address besides its home relays (stun:host:port)', ...nullable(stunUrls) },
  apiHost: { env: 'PIGEON_API_HOST', flag: '--api-host', default: '127.0.0.1', description: 'interface of the control API', ...host },
  apiPort: { env: 'PIGEON_API_PORT', flag: '--api-port', default: 0, description: 'port of the control API (0: chosen by the OS)', ...port },
  operatorHost: { env: 'PIGEON_OPERATOR_HOST', flag: '--operator-host', default: DEFAULT_OPERATOR_HOST, description: 'interface of the operator endpoint (needs operatorPort)', ...host },
  operatorPort: { env: 'PIGEON_OPERATOR_PORT', flag: '--operator-port', default: null, none: 'off', description: 'port of the operator endpoint: /healthz, /readyz, /metrics (0: chosen by the OS; null: off)', ...nullable(port) },
  readReceipts: { env: 'PIGEON_READ_RECEIPTS', flag: '--read-receipts', default: true, description: 'tell senders when their messages are read', ...boolean },
  durability: { env: 'PIGEON_DURABILITY', flag: '--durability', default: 'fsync', description: 'fsync: survive power loss; os: survive a process crash, faster', ...choice(['fsync', 'os'] as const) },
  relay: { env: 'PIGEON_RELAY', flag: '--relay', default: false, description: 'also run as a relay', ...boolean },
  relayStun: { env: 'PIGEON_RELAY_STUN', flag: '--relay-stun', default: true, description: 'a relay answers STUN on UDP at its TCP port, so the nodes it serves can hole-punch', ...boolean },
  relayAllow: { env: 'PIGEON_RELAY_ALLOW', flag: '--relay-allow', default: null, none: 'anyone', description: 'the only recipients a relay serves (peer ids; null: anyone)', ...nullable(peerIds) },
  relayQuotaMessages: { env: 'PIGEON_RELAY_QUOTA_MESSAGES', flag: '--relay-quota-messages', default: DEFAULT_QUOTA_MESSAGES, description: 'envelopes a relay holds per recipient', ...positive },
  relayQuotaBytes: { env: 'PIGEON_RELAY_QUOTA_BYTES', flag: '--relay-quota-bytes', default: DEFAULT_QUOTA_BYTES, description: 'bytes a relay holds per recipient', ...positive },
  relayTotalBytes: { env: 'PIGEON_RELAY_TOTAL_BYTES', flag: '--relay-total-bytes', default: DEFAULT_TOTAL_BYTES, description: 'bytes a relay holds for all recipients together', ...positive },
  relayDepositRate: { env: 'PIGEON_RELAY_DEPOSIT_RATE', flag: '--relay-deposit-rate', default: DEFAULT_DEPOSIT_RATE_PER_MINUTE, description: 'envelopes one sender may deposit per minute', ...positive },
  relayMaxEnvelope: { env: 'PIGEON_RELAY_MAX_ENVELOPE', flag: '--relay-max-envelope', default: MAX_ENVELOPE_BYTES, description: 'largest envelope a relay accepts, in bytes', ...positive },
  relayTtl: { env: 'PIGEON_RELAY_TTL', flag: '--relay-ttl', default: DEFAULT_TTL_MS / DAY_MS, description: 'days a relay keeps unfetched mail', ...positive },
  maxConnections: { env: 'PIGEON_MAX_CONNECTIONS', flag: '--max-connections', default: null, none: `libp2p's default (${LIBP2P_DEFAULT_MAX_CONNECTIONS})`, description: 'connections kept open at most (a relay with many clients needs more)', ...nullable(positive) },
  logLevel: { env: 'PIGEON_LOG_LEVEL', flag: '--log-level', default: DEFAULT_LOG_LEVEL, description: 'least severe log records written to stderr', ...choice(LOG_LEVELS) },
  logFormat: { env: 'PIGEON_LOG_FORMAT', flag: '--log-format', default: null, none: 'pretty on a terminal, else json', description: 'json: one JSON object per line; pretty: readable lines', ...nullable(choice(LOG_FORMATS)) }
} satisfies Record<string, Setting<any>>

export type SettingKey = keyof typeof SETTINGS

/** The effective value of every setting. */
export type Config = { -readonly [K in SettingKey]: ReturnType<(typeof SETTINGS)[K]['fromJson']> }

export const SETTING_KEYS = Object.keys(SETTINGS) as SettingKey[]
