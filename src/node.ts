/**
 * PigeonNode: a libp2p peer with pigeon's services, a store and an outbox. The CLI's daemon
 * and embedding apps both use this class; nothing the CLI does bypasses it.
 */
import { mkdir } from 'node:fs/promises'
import { join } from 'node:path'
import { createLibp2p, type Libp2p, type Libp2pOptions } from 'libp2p'
import { tcp } from '@libp2p/tcp'
import { webSockets } from '@libp2p/websockets'
import { noise } from '@chainsafe/libp2p-noise'
import { yamux } from '@chainsafe/libp2p-yamux'
import { identify } from '@libp2p/identify'
import { ping, type Ping } from '@libp2p/ping'
import { generateKeyPair } from '@libp2p/crypto/keys'
import { peerIdFromString } from '@libp2p/peer-id'
import type { Multiaddr } from '@multiformats/multiaddr'
import { TypedEventEmitter } from 'main-event'
import { directMessages, type DirectMessages } from './dm/index.js'
import { Messenger, type ReceiptEvent, type ReceiptState } from './dm/messenger.js'
import { mailbox, type MailboxService, type RelayLimits } from './mailbox/index.js'
import type { RelayStats } from './mailbox/mailbox-service.js'
import { MailboxStore } from './mailbox/mailbox-store.js'
import { HomeRelays, type MailHeld } from './mailbox/home-relays.js'
import { DEFAULT_SWEEP_INTERVAL_MS } from './mailbox/constants.js'
import type { Body } from './wire/pb/wire.js'
import { localKeys, type LocalKeys } from './crypto/keys.js'
import { CARD_PREFIX, cardText, decodeCard, encodeCard, encodeCardBytes, type ContactCard } from './contacts/card.js'
import { CardRecords, CARD_RECORD_TTL_MS } from './discovery/card-records.js'
import { DHT_ADDRESSES, DHT_MODES, pigeonDht, type DhtAddresses, type DhtMode, type KadDHT } from './discovery/dht.js'
import { Discovery, type DiscoveryStatus } from './discovery/discovery.js'
import type { PublishState } from './discovery/card-publisher.js'
import { RelayAdvertiser, RelayFinder } from './discovery/relay-finder.js'
import { cardService, type CardService } from './discovery/card-service.js'
import { lanDiscovery, mdnsOn, upnpOn } from './network/lan.js'
import { uPnPNAT } from '@libp2p/upnp-nat'
import { LOOKUP_TIMEOUT_MS, type LookupStats } from './discovery/card-lookup.js'
import { ContactBook } from './contacts/contact-book.js'
import { safetyNumber, type SafetyNumber } from './contacts/safety-number.js'
import { WhereaboutsPush } from './contacts/whereabouts-push.js'
import { loadOrCreateIdentity } from './identity/identity.js'
import { Store, type Durability, type InboxQuery } from './store/store.js'
import type { LatencySummary } from './outbox/latency.js'
import { PeerDirectory } from './network/peer-directory.js'
import { depositAtRelays } from './mailbox/deposit.js'
import { applyPortMemory, learnPorts, type PortMemory } from './network/stable-ports.js'
import { relayListener, relayTransport, type RelayListener } from './network/relay-listener.js'
import { announceAddrs, announcedFirst } from './network/announce.js'
import { NatTraversal, type NatStatus } from './network/nat-traversal.js'
import { beyondLocal } from './network/locality.js'
import { stunProblem } from './network/stun-urls.js'
import { autoNATv2 } from '@libp2p/autonat-v2'
import { firstBadAddr } from './network/addrs.js'
import { BootstrapKeeper, bootstrapDiscovery, bootstrapPeer, checkBootstrap } from './network/bootstrap.js'
import { circuitRelayServer } from '@libp2p/circuit-relay-v2'
import { DEFAULT_LISTEN, DIAL_TIMEOUT_MS, STARTUP_DIALS, STORE_DIR } from './constants.js'
import { ContactError, NotStartedError, PeerNotFoundError } from './errors.js'
import { VERSION } from './version.js'
import { Channels, ChannelStore, ChannelArchive, ArchiveStore, ChannelTopics, pigeonGossipsub, history, type HistoryService, type ChannelMessageView, type ChannelInfo, type ChannelRejection } from './channels/index.js'
import type { GossipSub } from '@libp2p/gossipsub'
import type { ContactRecord, InboxRecord, OutboxRecord, OutboxState, RelayRecord } from './store/types.js'
import type { AbortOptions, ComponentLogger, Ed25519PrivateKey, PeerId } from '@libp2p/interface'
import { defaultLogger } from '@libp2p/logger'
import { levelled, type LevelLogger } from './ops/log.js'

interface NodeServices extends Record<string, unknown> {
  dm: DirectMessages
  mailbox: MailboxService
  relayListener: RelayListener
  pubsub: GossipSub
  history: HistoryService
  /** Absent when the DHT is off. */
  dht?: KadDHT
  card: CardService
  ping: Ping
}

/**
 * Limits on connections a relay carries for peers behind NAT. Direct messages are small and
 * batched; 1 MiB or 10 minutes per relayed connection is plenty, and a sender whose relayed
 * connection ran out simply opens another (or leaves the mail in the mailbox).
 */
const RELAY_RESERVATIONS = { maxReservations: 1024, defaultDataLimit: BigInt(1 << 20), defaultDurationLimit: 10 * 60_000 }

export interface PigeonInit {
  /**
   * Where the identity and the store live. Required unless `memory` is set.
   */
  dataDir?: string
  /**
   * Keep everything in memory: no identity file, no LevelDB. For tests and throwaway nodes.
   *
   * @default false
   */
  memory?: boolean
  /** Use this identity instead of the data dir's (or a new one with `memory`). */
  privateKey?: Ed25519PrivateKey
  /**
   * Multiaddrs to listen on. TCP (`/tcp/N`) and WebSockets (`/tcp/N/ws`); port 0 lets the OS choose.
   *
   * @default DEFAULT_LISTEN: ['/ip4/0.0.0.0/tcp/0', '/ip4/0.0.0.0/tcp/0/ws']
   */
  listen?: string[]
  /**
   * Addresses to publish besides the listen addresses, first in the contact card and in identify:
   * the public address of a cloud VM, a container's host port, a port forward. Each one a TCP
   * (`/tcp/N`) or WebSockets (`/tcp/N/ws`) address on /ip4, /ip6 or /dns*; never loopback, never
   * port 0. Bad ones throw a TypeError from createNode.
   */
  announce?: string[]
  /**
   * Bootstrap peers: multiaddrs ending in `/p2p/<peer id>` that the node connects to when it
   * starts, to join the network. Dialled in the background, so an unreachable one never holds up
   * `start()`. Bad ones throw a TypeError from createNode.
   */
  bootstrap?: string[]
  /**
   * The DHT (docs/architecture.md, "Discovery"): 'server' answers queries and stores card records
   * for others; 'client' only asks; 'auto' is a client that becomes a server once the node has a
   * public address (a relay in 'auto' is a server from the start); 'off' runs no DHT, so nobody
   * can find this node by its peer id and it finds nobody.
   *
   * @default 'auto'
   */
  dht?: DhtMode
  /**
   * Which peer addresses the DHT passes on: 'public' drops loopback and private ones, as a DHT
   * across the internet must; 'all' keeps them, for a network inside one LAN or a test lab.
   *
   * @default 'public'
   */
  dhtAddresses?: DhtAddresses
  /**
   * Send read receipts when messages are marked read.
   *
   * @default true
   */
  readReceipts?: boolean
  /**
   * 'fsync': a message is on disk before `send` returns and before it is acknowledged to its
   * sender, surviving power loss. 'os': written to the OS before either, surviving a crash of
   * the process but not of the machine; faster.
   *
   * @default 'fsync'
   */
  durability?: Durability
  /**
   * Reuse the ports the OS chose for port-0 listen addresses on the previous start, so that
   * contact cards stay valid across restarts. Ignored with `memory`.
   *
   * @default true
   */
  stablePorts?: boolean
  /**
   * Envelopes one peer may deliver per second; beyond it the node delays that peer's acks.
   *
   * @default DM_INBOUND_RATE (2000)
   */
  inboundRate?: number
  /**
   * Run as a relay: keep a store-and-forward mailbox for other peers (and answer their deposits,
   * fetches and deletes). `true` uses the default limits.
   *
   * @default false
   */
  relay?: boolean | RelayLimits
  /**
   * Connections libp2p keeps open at most; beyond it, it closes the least valuable. A relay with
   * many clients needs more than libp2p's default.
   *
   * @default libp2p's default (300)
   */
  maxConnections?: number
  /**
   * Find pigeon peers on the same LAN with mDNS, with no relay and no internet
   * (src/network/lan.ts). A peer found so can be added by its peer id alone.
   *
   * @default true for a node that is not a relay and listens on an interface beyond loopback
   * (the default listen addresses do); false otherwise
   */
  mdns?: boolean
  /**
   * Home relays a node chooses for itself on the DHT when none was added by hand: the relays
   * closest to its peer id among those that advertise themselves. 0 turns this off. A relay
   * never chooses relays.
   *
   * @default DEFAULT_AUTO_RELAYS (2)
   */
  autoRelays?: number
  /**
   * How long a relay chosen on the DHT may stay unreachable before another replaces it, ms.
   *
   * @default DEFAULT_RELAY_REPLACE_AFTER_MS (60000)
   */
  relayReplaceAfter?: number
  /**
   * Networks (multiaddrs such as `/ip4/127.0.0.0/ipcidr/8`) whose inbound connections libp2p
   * always accepts: exempt from its per-host limit of 5 new connections a second and from
   * `maxConnections`. For a test network or lab where many peers share one host, or a relay
   * behind a load balancer. Handed to libp2p's `connectionManager.allow`.
   *
   * @default none
   */
  allowNetworks?: string[]
  /**
   * Map a port on the home router with UPnP IGD (`@libp2p/upnp-nat`), where the router offers it:
   * the mapped public address is published once a peer has dialled it back (AutoNAT), and the
   * node is then directly reachable from anywhere.
   *
   * @default true for a node that is not a relay and listens beyond loopback (as mdns); false otherwise
   */
  upnp?: boolean
  /**
   * Hole punching: a relayed connection this node dials is upgraded to a direct WebRTC one
   * where both NATs allow it (src/network/hole-punch.ts), and the relay is then only the
   * introducer. ICE learns this node's public address from the STUN servers below.
   *
   * @default true for a node that is not a relay; false for a relay
   */
  webrtc?: boolean
  /**
   * STUN servers (`stun:host:port`) that WebRTC asks besides the home relays, which serve STUN on
   * UDP at their TCP port. Bad ones throw a TypeError from createNode.
   *
   * @default none
   */
  stun?: string[]
  /**
   * A relay answers STUN binding requests on UDP at the port number of its first TCP listen
   * address, so that the nodes it serves can hole-punch. Ignored when not a relay.
   *
   * @default true
   */
  relayStun?: boolean
  /** Delay before the first retry of a failed delivery, ms. @default RETRY_MIN_MS (1000) */
  retryMin?: number
  /** Longest delay between retries, ms. @default RETRY_MAX_MS (300000) */
  retryMax?: number
  /**
   * libp2p's metrics implementation, handed to `createLibp2p` as is: for example
   * `prometheusMetrics({ registry })` from `@libp2p/prometheus-metrics`, as the daemon's
   * operator endpoint does (docs/operations.md). Off when absent.
   */
  metrics?: Libp2pOptions['metrics']
  /**
   * Where the node and libp2p log: a libp2p ComponentLogger, such as `createLogger()` from
   * pigeon (pino, structured; docs/operations.md, "Logs"), as the daemon uses.
   *
   * @default defaultLogger() from @libp2p/logger (the `debug` package: off unless DEBUG is set)
   */
  logger?: ComponentLogger
}

/** Whether a node hole-punches with WebRTC (PigeonInit.webrtc). */
function webrtcOn (init: PigeonInit): boolean {
  return init.webrtc ?? (init.relay == null || init.relay === false)
}

/** How long `relayHealth` waits for a relay's ping. */
const RELAY_PING_TIMEOUT_MS = 2000

/** A home relay and its health (PigeonNode.relayHealth). */
export interface RelayHealth extends RelayRecord {
  source: 'manual' | 'discovered'
  connected: boolean
  /** Round trip of a ping now, ms; null when not connected or it did not answer in time. */
  rttMs: number | null
  /** What the relay said it held for this node when a drain of its mailbox last began. */
  mail: MailHeld | null
}

/** 'stored': held by relays for an offline recipient; the others come from the recipient. */
export type { ReceiptEvent, ReceiptState }

export interface PigeonEvents {
  /** A new message arrived and is stored. */
  message: CustomEvent<InboxRecord>
  /** A message this node sent changed state: stored at relays, delivered, read or failed. */
  receipt: CustomEvent<ReceiptEvent>
  /** Any change to an outbox record (messages and receipts), failed attempts (with lastError) included. */
  outbox: CustomEvent<OutboxRecord>
  /** A channel message is stored: a post (own ones included), a join, a leave or a removal. */
  'channel:message': CustomEvent<ChannelMessageView>
  /** A channel changed: members, key epoch, state (left, removed), or waiting for a new key. */
  'channel:update': CustomEvent<ChannelInfo>
  /** A channel frame failed validation and was dropped; its sender's gossipsub score went down. */
  'channel:rejected': CustomEvent<ChannelRejection>
  /** This node's card was stored on the DHT (at start, after a change, and every few hours). */
  'card:published': CustomEvent<PublishState>
  /** This relay was stored on the DHT as one that serves anyone (relays only): when. */
  'relay:advertised': CustomEvent<number>
  /** This node's home relays changed (added or removed, by hand or by the relay finder): the new list. */
  'relays:change': CustomEvent<RelayRecord[]>
  /** An attempt to turn a relayed connection into a direct one ended (src/network/hole-punch.ts). */
  'hole-punch': CustomEvent<{ peer: string, outcome: 'direct' | 'failed', ms: number }>
  /** A contact name was given to another identity than it had before: never to be trusted silently. */
  'contact:identity-changed': CustomEvent<IdentityChange>
}

/** A contact whose name now belongs to another identity than before. */
export interface IdentityChange {
  name: string
  peerId: string
  /** The peer id the name had before. */
  previous: string
  at: number
}

/** The safety number with a contact, and whether it was compared. */
export interface ContactSafetyNumber extends SafetyNumber {
  name: string
  peerId: string
  verifiedAt: number | null
  identityChanged: { previous: string, at: number } | null
}

export interface NodeStatus {
  version: string
  peerId: string
  uptimeMs: number
  addresses: string[]
  peers: { connected: number, list: string[] }
  /**
   * Open connections by how they reach the other side: direct, or relayed through a circuit
   * relay (limited in bytes and time; docs/architecture.md, section 2.9).
   */
  connections: { direct: number, relayed: number, relayedPeers: string[] }
  /** The configured bootstrap peers, and whether each is connected now. */
  bootstrap: Array<{ addr: string, connected: boolean }>
  outbox: Record<OutboxState, number>
  inbox: { total: number, unread: number, requests: number }
  contacts: number
  /** Contacts whose identity changed and who were not verified since: each a warning. */
  identityChanged: IdentityChange[]
  store: { bytes: number, location: string | null, durability: Durability }
  readReceipts: boolean
  /** This node's home relays, whether each is connected now, and how it was chosen. */
  relays: Array<{ peerId: string, connected: boolean, source: 'manual' | 'discovered' }>
  /** When this node is a relay: mail held for others, and what happened to deposits since start. */
  relay: (RelayStats & { messages: number, bytes: number, recipients: number, archive: { topics: number, frames: number, archived: number, rejected: number, served: number, expired: number } }) | null
  /** Channels this node is in, and channel frames since start. */
  channels: { active: number, received: number, rejected: number, posted: number, published: number, pending: number }
  /** Send-to-delivered latency of this node's messages over the last minutes (this node's clock). */
  delivery: LatencySummary
  /**
   * The DHT: mode, servers known, this node's published card, records refused, and (a relay that
   * serves anyone) when it was last stored as a provider of the relay key.
   */
  dht: DiscoveryStatus & { advertised: number | null }
  /**
   * NAT traversal: whether peers can dial this node (src/network/reachability.ts: a public
   * address announced or dialled back through AutoNAT, one not yet dialled back, or none) and its
   * public addresses not yet dialled back (so not yet given to peers), whether
   * it hole-punches with WebRTC, the STUN servers it would ask now,
   * its upgrade attempts since start, and (a relay) the STUN server it runs.
   */
  nat: NatStatus
}

/** Own addresses put in a card or a message body: a card holds up to 32. */
const MAX_SELF_ADDRS = 16

/** A peer's card is looked up again after a failed delivery at most this often. */
const CARD_REFRESH_INTERVAL_MS = 60_000
/** How long such a lookup may hold up the fallback to the peer's relays. */
const CARD_REFRESH_TIMEOUT_MS = 5000
/** Peers whose last refresh time is remembered. */
const CARD_REFRESH_REMEMBERED = 1000

/** Store meta key for the whereabouts last pushed to contacts. */
const WHEREABOUTS_META_KEY = 'whereabouts-pushed'

/** Store meta key for the remembered listen ports. */
const PORTS_META_KEY = 'listen-ports'


export class PigeonNode extends TypedEventEmitter<PigeonEvents> {
  readonly peerId: PeerId
  readonly libp2p: Libp2p<NodeServices>
  readonly store: Store
  private readonly keys: LocalKeys
  /** Direct messages: sending, sealing, receiving, receipts (src/dm/messenger.ts). */
  private readonly messenger: Messenger
  private readonly log: LevelLogger
  private readonly durability: Durability
  private readonly book: ContactBook
  private readonly directory: PeerDirectory
  private readonly homeRelays: HomeRelays
  /** Group channels: create, join, post, read, remove, leave (docs/api.md, "Channels"). */
  readonly channels: Channels
  private readonly archive?: ChannelArchive
  /** The DHT side of the node: its own card published, other peers' cards found. */
  private readonly discovery: Discovery
  /** Chooses home relays on the DHT for a node given none (absent on a relay and with the DHT off). */
  private readonly relayFinder?: RelayFinder
  /** Advertises a relay that serves anyone on the DHT (absent on other nodes). */
  private readonly relayAdvertiser?: RelayAdvertiser
  /** Tells contacts when this node's addresses or home relays change. */
  private readonly whereaboutsPush: WhereaboutsPush
  /** Hole punching, STUN, and whether peers can dial this node. */
  private readonly nat: NatTraversal
  /** PigeonInit.dhtAddresses: with 'all', private addresses go on the DHT too. */
  private readonly dhtAddresses: DhtAddresses
  /** When each peer's card was last looked up after a failed delivery, oldest first. */
  private readonly refreshedAt = new Map<string, number>()
  private startedAt = 0
  /** Cache for whereabouts(); cleared when this node's addresses or home relays change. */
  private selfInfo?: { relays: Array<Uint8Array<ArrayBuffer>>, addrs: Array<Uint8Array<ArrayBuffer>> }
  private started = false
  private stopped = false
  /** Addresses published without being listened on (PigeonInit.announce). */
  private announced: Multiaddr[] = []
  /** Bootstrap peers' addresses (PigeonInit.bootstrap). */
  private bootstrapPeers: string[] = []
  /** Dials the bootstrap peers again while none is connected. */
  private bootstrapKeeper?: BootstrapKeeper
  /** The listen addresses as configured (port 0 included), for stable ports; undefined when off. */
  private configuredListen?: string[]

  private constructor (libp2p: Libp2p<NodeServices>, store: Store, privateKey: Ed25519PrivateKey, init: PigeonInit, records: CardRecords, archiveStore?: ArchiveStore, holdDataChannels?: () => () => void) {
    super()
    const logger = init.logger ?? defaultLogger()
    this.libp2p = libp2p
    this.store = store
    this.peerId = libp2p.peerId
    this.keys = localKeys(privateKey, libp2p.peerId)
    this.book = new ContactBook(store, libp2p.peerId)
    this.directory = new PeerDirectory({ store, peerStore: libp2p.peerStore, book: this.book, self: libp2p.peerId })
    this.homeRelays = new HomeRelays({
      store,
      libp2p,
      listenVia: async (addr) => libp2p.services.relayListener.listenVia(addr),
      mailbox: libp2p.services.mailbox,
      self: libp2p.peerId,
      log: logger.forComponent('pigeon:home-relays'),
      // The messenger is made below; mail is drained only once the node runs.
      receiver: { receive: async (envelopes) => await this.messenger.receive(envelopes) },
      receipt: async (sender, ids) => { await this.messenger.enqueue(sender, { kind: 'delivery-receipt', refs: ids }) }
    })
    this.log = levelled(logger.forComponent('pigeon:node'))
    this.durability = store.location == null ? 'os' : (init.durability ?? 'fsync')
    this.messenger = new Messenger({
      store,
      dm: libp2p.services.dm,
      keys: this.keys,
      contacts: this.book,
      directory: this.directory,
      // Channels are made below; a grant can only arrive once the node runs.
      grants: { applyGrant: async (sender, grant) => { await this.channels.applyGrant(sender, grant) } },
      whereabouts: { whereabouts: () => this.whereabouts() },
      relays: {
        deposit: async (peer, items, options) => {
          // The direct attempt failed: the peer may have moved or changed relays since its card.
          await this.refreshCard(peer, options.signal)
          return await depositAtRelays(libp2p.services.mailbox, libp2p.peerStore, await this.directory.relaysFor(peer), items, options)
        }
      },
      events: {
        message: (record) => { this.safeDispatchEvent<InboxRecord>('message', { detail: record }) },
        receipt: (event) => { this.safeDispatchEvent<ReceiptEvent>('receipt', { detail: event }) },
        outbox: (record) => { this.safeDispatchEvent<OutboxRecord>('outbox', { detail: record }) }
      },
      log: logger.forComponent('pigeon:outbox'),
      readReceipts: init.readReceipts ?? true,
      retryMin: init.retryMin,
      retryMax: init.retryMax
    })
    this.discovery = new Discovery({
      dht: libp2p.services.dht,
      records,
      cards: libp2p.services.card,
      reachable: async (peer) => await this.knowsHowToReach(peer),
      self: libp2p.peerId,
      source: { cardRecord: () => this.cardRecord() },
      log: logger.forComponent('pigeon:discovery')
    })
    const dht = libp2p.services.dht
    if (dht != null && init.relay != null && init.relay !== false) {
      const serve = init.relay === true ? 'open' : (init.relay.serve ?? 'open')
      if (serve === 'open') {
        this.relayAdvertiser = new RelayAdvertiser({ dht, log: logger.forComponent('pigeon:relay-advertiser') })
        this.relayAdvertiser.addEventListener('advertised', (evt) => { this.safeDispatchEvent<number>('relay:advertised', { detail: evt.detail }) })
      }
    } else if (dht != null) {
      this.relayFinder = new RelayFinder({
        dht,
        relays: {
          list: () => this.homeRelays.list(),
          add: async (card, source) => await this.addRelay(card, source),
          remove: async (peerId) => { await this.removeRelay(peerId) },
          connected: (peerId) => this.libp2p.getConnections(peerIdFromString(peerId)).length > 0,
          reach: async (peerId, options) => await this.libp2p.dial(peerIdFromString(peerId), { signal: AbortSignal.any([options.signal, AbortSignal.timeout(DIAL_TIMEOUT_MS)]) }).then(() => true, () => false)
        },
        network: { online: () => this.libp2p.getConnections().length > 0 },
        cards: this,
        self: libp2p.peerId,
        log: logger.forComponent('pigeon:relay-finder'),
        target: init.autoRelays,
        replaceAfter: init.relayReplaceAfter
      })
    }
    this.whereaboutsPush = new WhereaboutsPush({
      contacts: this.book,
      outbox: {
        enqueueWhereabouts: async (peer) => await this.messenger.enqueue(peerIdFromString(peer), { kind: 'whereabouts' }),
        record: async (id) => await this.store.getOutgoing(id)
      },
      memory: {
        load: async () => await store.getMeta<string>(WHEREABOUTS_META_KEY),
        save: async (whereabouts) => { await store.putMeta(WHEREABOUTS_META_KEY, whereabouts) }
      },
      current: () => JSON.stringify({ relays: this.homeRelays.addresses().map(String), addrs: this.cardAddresses().map(String) }),
      log: logger.forComponent('pigeon:whereabouts')
    })
    this.dhtAddresses = init.dhtAddresses ?? 'public'
    this.nat = new NatTraversal({
      network: libp2p,
      addresses: { listening: () => libp2p.services.relayListener.listening(), advertised: () => libp2p.getMultiaddrs() },
      relays: this.homeRelays,
      // Whether create() gave libp2p the UPnP service (upnpOn), not worked out a second time.
      upnp: (libp2p.services as Record<string, unknown>).upnp != null,
      webrtc: webrtcOn(init),
      serveStun: init.relay != null && init.relay !== false && init.relayStun !== false,
      stun: init.stun ?? [],
      holdDataChannels,
      logger
    })
    this.nat.addEventListener('hole-punch', (evt) => { this.safeDispatchEvent('hole-punch', { detail: evt.detail }) })
    this.discovery.publisher?.addEventListener('published', (evt) => { this.safeDispatchEvent<PublishState>('card:published', { detail: evt.detail }) })
    const topics = new ChannelTopics(libp2p.services.pubsub)
    this.channels = new Channels({
      store: new ChannelStore(store.database, store.syncs),
      topics,
      history: libp2p.services.history,
      libp2p,
      keys: this.keys,
      log: logger.forComponent('pigeon:channels'),
      whereabouts: () => this.whereabouts(),
      homeRelays: () => this.homeRelays.list().map(r => r.peerId),
      learn: async (peer, relays, addrs) => { await this.directory.learn(peer, { relays, addrs } as unknown as Body) },
      grant: async (member, grant) => { await this.messenger.enqueue(member, { kind: 'channel-key', channel: Buffer.from(grant).toString('base64') }) },
      resolve: (nameOrPeerId) => this.resolve(nameOrPeerId),
      onMessage: (message) => { this.safeDispatchEvent<ChannelMessageView>('channel:message', { detail: message }) },
      onUpdate: (info) => { this.safeDispatchEvent<ChannelInfo>('channel:update', { detail: info }) },
      onReject: (rejection) => { this.safeDispatchEvent<ChannelRejection>('channel:rejected', { detail: rejection }) }
    })
    if (archiveStore != null) {
      const limits = init.relay === true || init.relay == null || init.relay === false ? {} : init.relay
      this.archive = new ChannelArchive({
        ...limits,
        store: archiveStore,
        topics,
        serve: limits.serve == null || limits.serve === 'open' ? 'open' : new Set(limits.serve),
        log: logger.forComponent('pigeon:archive'),
        sweepInterval: limits.sweepInterval ?? DEFAULT_SWEEP_INTERVAL_MS
      })
    }
  }

  /** Builds a node (not yet started): loads or creates the identity and opens the store. */
  static async create (init: PigeonInit): Promise<PigeonNode> {
    if (init.memory !== true && init.dataDir == null) throw new TypeError('createNode needs a dataDir, or memory: true')
    const announced = announceAddrs(init.announce ?? [])
    const bootstrapPeers = checkBootstrap(init.bootstrap ?? [])
    if (init.dht != null && !DHT_MODES.includes(init.dht)) throw new TypeError(`dht must be one of ${DHT_MODES.join(', ')}`)
    if (init.dhtAddresses != null && !DHT_ADDRESSES.includes(init.dhtAddresses)) throw new TypeError(`dhtAddresses must be one of ${DHT_ADDRESSES.join(', ')}`)
    const badStun = firstBadAddr(init.stun ?? [], stunProblem)
    if (badStun != null) throw new TypeError(`stun server ${JSON.stringify(badStun.addr)} ${badStun.why}`)
    let privateKey = init.privateKey
    let store: Store
    if (init.memory === true) {
      privateKey ??= await generateKeyPair('Ed25519')
      store = await Store.memory()
    } else {
      const dataDir = init.dataDir as string
      await mkdir(dataDir, { recursive: true, mode: 0o700 })
      privateKey ??= await loadOrCreateIdentity(dataDir)
      store = await Store.open(join(dataDir, STORE_DIR), init.durability ?? 'fsync')
    }
    const key = privateKey
    let node: PigeonNode | undefined
    try {
      const relayLimits = init.relay === true ? {} : init.relay === false ? undefined : init.relay
      let mailboxStore: MailboxStore | undefined
      let archiveStore: ArchiveStore | undefined
      if (relayLimits != null) {
        mailboxStore = new MailboxStore(store.database, store.syncs)
        await mailboxStore.open()
        archiveStore = new ArchiveStore(store.database)
        await archiveStore.open()
      }
      const configured = init.listen ?? DEFAULT_LISTEN
      const remembered = init.memory === true || init.stablePorts === false ? {} : await store.getMeta<PortMemory>(PORTS_META_KEY) ?? {}
      // A relay that serves an allow-list relays connections (circuit relay) only for those peers too.
      const records = new CardRecords()
      // Relays answer the DHT from the start: they are the network's always-on servers.
      const dhtMode: DhtMode = init.dht == null || init.dht === 'auto' ? (relayLimits != null ? 'server' : 'auto') : init.dht
      const allowed = relayLimits?.serve != null && relayLimits.serve !== 'open' ? new Set(relayLimits.serve) : undefined
      // Loaded only for a node that uses it: @libp2p/webrtc and its native libdatachannel take
      // about 0.4 s to import, which every CLI command would otherwise pay.
      const webrtc = webrtcOn(init) ? await import('./network/webrtc.js') : undefined
      const libp2p = await createLibp2p({
        start: false,
        privateKey: key,
        connectionGater: allowed == null ? {} : { denyInboundRelayReservation: (source) => !allowed.has(source.toString()) },
        connectionManager: {
          ...(init.maxConnections != null ? { maxConnections: init.maxConnections } : {}),
          ...(init.allowNetworks != null ? { allow: init.allowNetworks } : {})
        },
        addresses: { listen: await applyPortMemory(configured, remembered), appendAnnounce: announced.map(a => a.toString()) },
        transports: [tcp(), webSockets(), relayTransport(), ...(webrtc != null ? [webrtc.webrtcTransport({ stunServers: () => node?.nat.stunServers() ?? [] })] : [])],
        peerDiscovery: [...bootstrapDiscovery(bootstrapPeers), ...lanDiscovery(mdnsOn(init.mdns, relayLimits != null, configured))],
        connectionEncrypters: [noise()],
        streamMuxers: [yamux()],
        ...(init.metrics != null ? { metrics: init.metrics } : {}),
        ...(init.logger != null ? { logger: init.logger } : {}),
        services: {
          identify: identify(),
          ping: ping(),
          // AutoNAT v2: asks peers to dial this node's public addresses back, so that they are
          // published only once they work, and answers such requests (a dial back on a new
          // connection; an address that is not the asker's own IP costs the asker 30-100 kB first,
          // so nobody can aim this node at a third party cheaply). v1 (@libp2p/autonat 3.0.28)
          // fails with libp2p 3.3: its dial back reuses the open connection and is refused.
          autoNAT: autoNATv2(),
          // A mapping the router itself made is published at once (autoConfirmAddress): AutoNAT
          // asks only peers that connect after an address appears, so a mapping made after the
          // node joined would wait for a new peer; a router behind another NAT is refused by
          // upnp-nat itself (its external address is private).
          ...(upnpOn(init.upnp, relayLimits != null, configured) ? { upnp: uPnPNAT({ portMappingDescription: 'pigeon', autoConfirmAddress: true }) } : {}),
          dm: directMessages({ inboundRate: init.inboundRate, receiver: { receive: async (envelopes, from) => await node!.messenger.receive(envelopes, from) } }),
          relayListener: relayListener(),
          pubsub: pigeonGossipsub(),
          card: cardService({ card: (asker) => node?.isStarted() === true ? node.cardRecord(asker).bytes : undefined }),
          ...(dhtMode !== 'off' ? { dht: pigeonDht({ mode: dhtMode, addresses: init.dhtAddresses ?? 'public', records }) } : {}),
          history: history({ server: () => node?.archive }),
          ...(relayLimits != null ? { circuitRelay: circuitRelayServer({ reservations: RELAY_RESERVATIONS }) } : {}),
          mailbox: mailbox({
            relay: relayLimits == null || mailboxStore == null ? undefined : { ...relayLimits, store: mailboxStore },
            isHomeRelay: (peer) => node?.homeRelays.isHome(peer) ?? false,
            onNotify: (relay) => { node?.homeRelays.drain(relay) }
          })
        }
      })
      node = new PigeonNode(libp2p as unknown as Libp2p<NodeServices>, store, key, init, records, archiveStore, webrtc?.holdDataChannels)
      await node.book.load()
      await node.homeRelays.load()
      await node.channels.load()
      node.announced = announced
      node.bootstrapPeers = bootstrapPeers
      node.bootstrapKeeper = new BootstrapKeeper({ addrs: bootstrapPeers, libp2p, log: (init.logger ?? defaultLogger()).forComponent('pigeon:bootstrap') })
      node.configuredListen = init.memory === true || init.stablePorts === false ? undefined : configured
      return node
    } catch (err) {
      await store.close()
      throw err
    }
  }

  async start (): Promise<void> {
    if (this.started) return
    if (this.stopped) throw new NotStartedError('a stopped node cannot be started again: create a new one')
    await this.libp2p.start()
    if (this.configuredListen != null) await this.store.putMeta(PORTS_META_KEY, learnPorts(this.configuredListen, this.libp2p.services.relayListener.listening()))
    for (const contact of this.book.list()) await this.directory.rememberContact(contact)
    this.libp2p.addEventListener('self:peer:update', () => {
      this.selfInfo = undefined
      this.discovery.changed()
      this.whereaboutsPush.changed()
    })
    this.libp2p.addEventListener('peer:connect', (evt) => {
      if (this.homeRelays.isHome(evt.detail)) this.log.info('home relay %p connected', evt.detail)
      this.messenger.kick(evt.detail.toString())
      this.homeRelays.connected(evt.detail)
    })
    this.libp2p.addEventListener('peer:disconnect', (evt) => {
      if (this.started && this.homeRelays.isHome(evt.detail)) this.log.info('home relay %p disconnected', evt.detail)
    })
    await this.messenger.start()
    // Channels listen for connections before the home relays connect: catching up starts on connect.
    this.archive?.start()
    await this.channels.start()
    await this.homeRelays.start()
    this.discovery.start()
    await this.nat.start()
    this.bootstrapKeeper?.start()
    this.relayAdvertiser?.start()
    this.relayFinder?.start()
    this.startedAt = Date.now()
    this.started = true
    await this.whereaboutsPush.start()
    this.greetContacts()
    this.log.info('started %p with %d listen address(es)', this.peerId, this.libp2p.getMultiaddrs().length)
  }

  /**
   * Dials contacts in the background. A node's addresses change when it restarts (ports chosen by
   * the OS, a new network), so contacts holding mail for it cannot find it; connecting to them
   * lets them learn the new addresses through identify and deliver at once (their outbox kicks
   * on peer:connect). Bounded so a large address book does not turn every start into a storm.
   */
  private greetContacts (): void {
    for (const contact of this.book.newest(STARTUP_DIALS, c => c.addrs.length > 0)) {
      this.libp2p.dial(peerIdFromString(contact.peerId), { signal: AbortSignal.timeout(DIAL_TIMEOUT_MS) })
        .catch(err => { this.log('contact %s not reachable at start: %s', contact.name, err.message) })
    }
  }

  /** Stops the network, lets batches in flight settle, and closes the store. Safe to call twice. */
  async stop (): Promise<void> {
    if (this.stopped) return
    this.stopped = true
    if (!this.started) {
      await this.store.close().catch(() => {})
      return
    }
    this.started = false
    this.log.info('stopping')
    const began = Date.now()
    this.discovery.stop()
    await this.nat.stop()
    this.bootstrapKeeper?.stop()
    this.relayAdvertiser?.stop()
    this.relayFinder?.stop()
    this.homeRelays.stop()
    await this.channels.stop()
    await this.archive?.stop()
    await this.whereaboutsPush.stop()
    await this.messenger.stop()
    const servicesStopped = Date.now()
    await this.libp2p.stop()
    this.nat.released()
    const libp2pStopped = Date.now()
    await this.store.close()
    const done = Date.now()
    this.log.info('stopped in %d ms (services %d ms, libp2p %d ms, store %d ms)', done - began, servicesStopped - began, libp2pStopped - servicesStopped, done - libp2pStopped)
  }

  isStarted (): boolean {
    return this.started
  }

  /** Listen addresses with this node's peer id appended. */
  addresses (): string[] {
    return announcedFirst(this.libp2p.getMultiaddrs(), this.announced).map(a => a.toString())
  }

  /** This node's signed contact card. */
  card (): string {
    return encodeCard(this.keys, this.cardAddresses(), this.homeRelays.addresses())
  }

  /**
   * This node's card as its DHT record: signed, with an expiry (CARD_RECORD_TTL_MS from now). For
   * the DHT and for peers beyond this node's network it holds no private or loopback address
   * (src/network/locality.ts), unless dhtAddresses is 'all' (one LAN, a lab).
   */
  private cardRecord (reader: 'same-network' | 'beyond' = 'beyond'): { bytes: Uint8Array, timestamp: number } {
    const timestamp = Date.now()
    const local = reader === 'same-network' || this.dhtAddresses === 'all'
    const addrs = local ? this.cardAddresses() : beyondLocal(this.cardAddresses())
    const relays = local ? this.homeRelays.addresses() : beyondLocal(this.homeRelays.addresses())
    return { bytes: encodeCardBytes(this.keys, addrs, relays, { timestamp, expires: timestamp + CARD_RECORD_TTL_MS }), timestamp }
  }

  /**
   * This node's relays and addresses as every sealed body carries them: computed once and again
   * only when they change, not for each message.
   */
  private whereabouts (): { relays: Array<Uint8Array<ArrayBuffer>>, addrs: Array<Uint8Array<ArrayBuffer>> } {
    this.selfInfo ??= {
      relays: this.homeRelays.addresses().slice(0, MAX_SELF_ADDRS).map(a => a.bytes as Uint8Array<ArrayBuffer>),
      addrs: this.cardAddresses().map(a => a.bytes as Uint8Array<ArrayBuffer>)
    }
    return this.selfInfo
  }

  /** Listen addresses without this node's own /p2p suffix, as cards and messages carry them. */
  private cardAddresses (): Multiaddr[] {
    return announcedFirst(this.libp2p.getMultiaddrs(), this.announced).slice(0, MAX_SELF_ADDRS).map(a => a.decapsulateCode(421))
  }

  // --- direct messages (src/dm/messenger.ts) -----------------------------------

  /**
   * Accepts a message for delivery: it is durably queued before this returns, then sealed, delivered,
   * retried and kept until the recipient's signed receipt arrives.
   *
   * @param to a contact name or a peer id
   * @returns the message id (32 hex characters)
   */
  async send (to: string, text: string): Promise<string> {
    this.assertStarted()
    return await this.messenger.send(to, text)
  }

  /** The outbox record of a message this node sent. */
  async message (id: string): Promise<OutboxRecord> {
    return await this.messenger.message(id)
  }

  /** Sent messages, oldest first (read receipts excluded unless `includeReceipts`). */
  async sent (options: { to?: string, limit?: number, includeReceipts?: boolean } = {}): Promise<OutboxRecord[]> {
    return await this.messenger.sent(options)
  }

  /**
   * Resolves when the message reaches `state` ('delivered' also accepts 'read'), rejects with
   * TimeoutError when the signal fires first and with the reason when delivery failed for good.
   */
  async waitFor (id: string, state: 'delivered' | 'read' = 'delivered', options: AbortOptions = {}): Promise<OutboxRecord> {
    return await this.messenger.waitFor(id, state, options)
  }

  /** Received messages, oldest first. `from` is a contact name or a peer id. */
  async inbox (query: Omit<InboxQuery, 'from'> & { from?: string } = {}): Promise<InboxRecord[]> {
    return await this.messenger.inbox(query)
  }

  /**
   * Marks received messages read and, unless read receipts are off, tells their senders.
   * Returns the records that changed.
   */
  async markRead (refs: Array<{ from: string, id: string }>): Promise<InboxRecord[]> {
    this.assertStarted()
    return await this.messenger.markRead(refs)
  }

  // --- contacts -------------------------------------------------------------

  /**
   * Adds a contact from its card, or refreshes the card of an existing contact of that name.
   * Given a peer id instead of a card, finds the peer's current card on the DHT first (throws
   * PeerNotFoundError when nobody has published one before the deadline).
   */
  async addContact (name: string, cardOrPeerId: string, options: AbortOptions = {}): Promise<ContactRecord> {
    const text = cardOrPeerId.trim()
    const card = text.startsWith(CARD_PREFIX) ? text : await this.findCard(this.peerIdOrCard(text), { ...options, name })
    const before = this.book.find(name)?.identityChanged
    const record = await this.book.add(name, card)
    if (record.identityChanged != null && record.identityChanged !== before) {
      this.safeDispatchEvent<IdentityChange>('contact:identity-changed', { detail: { name: record.name, peerId: record.peerId, ...record.identityChanged } })
    }
    if (this.started) {
      await this.directory.rememberContact(record)
      this.messenger.kick(record.peerId)
    }
    return record
  }

  /** Whether this node has a connection to `peer`, or addresses for it (mDNS, an earlier visit). */
  private async knowsHowToReach (peer: PeerId): Promise<boolean> {
    if (this.libp2p.getConnections(peer).length > 0) return true
    const known = await this.libp2p.peerStore.get(peer).catch(() => undefined)
    return (known?.addresses.length ?? 0) > 0
  }

  /** `text` as a peer id, or a ContactError saying it is neither a card nor a peer id. */
  private peerIdOrCard (text: string): PeerId {
    try {
      const peer = peerIdFromString(text)
      if (peer.type === 'Ed25519') return peer
    } catch {}
    throw new ContactError(`"${text.length > 80 ? text.slice(0, 80) + '…' : text}" is neither a contact card (pigeon-card:…) nor a peer id`)
  }

  /**
   * A peer's current card (as text) from the DHT. Throws PeerNotFoundError when none is found
   * before `signal` fires, or within LOOKUP_TIMEOUT_MS without one.
   */
  async findCard (peer: PeerId | string, options: AbortOptions & { name?: string, stats?: LookupStats, via?: 'any' | 'dht' } = {}): Promise<string> {
    this.assertStarted()
    const peerId = typeof peer === 'string' ? this.peerIdOrCard(peer) : peer
    if (peerId.equals(this.peerId)) throw new ContactError('that is this node\'s own peer id')
    const signal = AbortSignal.any([options.signal ?? new AbortController().signal, AbortSignal.timeout(LOOKUP_TIMEOUT_MS)])
    const found = await this.discovery.find(peerId, { signal, stats: options.stats, via: options.via })
    if (found == null) {
      const who = options.name ?? this.book.byPeerId(peerId.toString())?.name
      throw new PeerNotFoundError(`${peerId} was not found on the network (is ${who != null ? `${who}'s` : 'its'} node online, or has it ever been?)`)
    }
    return cardText(found.bytes)
  }

  /**
   * After a failed delivery: looks the peer's card up again, at most once a minute per peer and
   * only while the DHT knows servers, and learns its new addresses and relays.
   */
  private async refreshCard (peer: string, signal: AbortSignal): Promise<void> {
    if (!this.discovery.ready()) return
    const last = this.refreshedAt.get(peer)
    if (last != null && Date.now() - last < CARD_REFRESH_INTERVAL_MS) return
    this.refreshedAt.delete(peer)
    this.refreshedAt.set(peer, Date.now())
    if (this.refreshedAt.size > CARD_REFRESH_REMEMBERED) this.refreshedAt.delete(this.refreshedAt.keys().next().value as string)
    const found = await this.discovery.find(peerIdFromString(peer), { signal: AbortSignal.any([signal, AbortSignal.timeout(CARD_REFRESH_TIMEOUT_MS)]) })
      .catch(err => { this.log('looking up %s again failed: %s', peer, err.message) })
    if (found == null) return
    await this.learnCard(found.card, cardText(found.bytes))
  }

  /** A newer card for a peer: its contact record (if any) and the directory take it. */
  private async learnCard (card: ContactCard, text: string): Promise<void> {
    const peer = card.peerId.toString()
    const contact = this.book.byPeerId(peer)
    if (contact != null && card.timestamp > decodeCard(contact.card).timestamp) {
      const record = await this.book.add(contact.name, text).catch(() => undefined)
      if (record != null) await this.directory.rememberContact(record)
    }
    await this.directory.learn(peer, { relays: card.relays.map(a => a.bytes), addrs: card.addrs.map(a => a.bytes) } as unknown as Body)
  }

  /**
   * The safety number of this node and contact `name`: 60 digits both sides compute alike, to
   * compare out of band (docs/architecture.md, section 7).
   */
  safetyNumber (name: string): ContactSafetyNumber {
    const contact = this.book.get(name)
    return {
      name: contact.name,
      peerId: contact.peerId,
      ...safetyNumber(this.peerId, peerIdFromString(contact.peerId)),
      verifiedAt: contact.verifiedAt ?? null,
      identityChanged: contact.identityChanged ?? null
    }
  }

  /** Records that the safety number with `name` was compared and matched; clears an identity warning. */
  async markVerified (name: string): Promise<ContactRecord> {
    return await this.book.markVerified(name)
  }

  /** Contacts whose identity changed since they were last verified (or added under that name). */
  identityChanges (): IdentityChange[] {
    return this.book.changed().map(c => ({ name: c.name, peerId: c.peerId, ...c.identityChanged! }))
  }

  async removeContact (name: string): Promise<void> {
    await this.book.remove(name)
  }

  /** Contacts sorted by name. */
  contacts (): ContactRecord[] {
    return this.book.list()
  }

  /** A contact name or a peer id string to a peer id. */
  resolve (nameOrPeerId: string): PeerId {
    return this.book.resolve(nameOrPeerId)
  }

  // --- relays ---------------------------------------------------------------

  /**
   * Adds a home relay from its contact card: it will hold this node's mail while it is offline.
   * Relays added by hand (`source` 'manual', the default) win: once there is one, the node
   * chooses no relays on the DHT and drops none it chose.
   */
  async addRelay (card: string, source: 'manual' | 'discovered' = 'manual'): Promise<RelayRecord> {
    const record = await this.homeRelays.add(card, source)
    this.relaysChanged()
    return record
  }

  private relaysChanged (): void {
    this.selfInfo = undefined
    this.discovery.changed()
    this.safeDispatchEvent<RelayRecord[]>('relays:change', { detail: this.homeRelays.list() })
    this.whereaboutsPush.changed()
  }

  async removeRelay (peerId: string): Promise<void> {
    await this.homeRelays.remove(peerId)
    this.relaysChanged()
  }

  relays (): RelayRecord[] {
    return this.homeRelays.list()
  }

  /**
   * Each home relay with its health: connected or not, the round trip of a ping now (connected
   * ones, RELAY_PING_TIMEOUT_MS at most; null when not connected or no answer), and the mail it
   * said it held for this node when its mailbox was last drained (null before any drain, or
   * from a relay that does not say).
   */
  async relayHealth (): Promise<RelayHealth[]> {
    return await Promise.all(this.homeRelays.list().map(async (record) => {
      const peer = peerIdFromString(record.peerId)
      const connected = this.libp2p.getConnections(peer).length > 0
      const rttMs = connected ? await this.libp2p.services.ping.ping(peer, { signal: AbortSignal.timeout(RELAY_PING_TIMEOUT_MS) }).catch(() => null) : null
      return { ...record, source: record.source ?? 'manual', connected, rttMs, mail: this.homeRelays.held(record.peerId) ?? null }
    }))
  }

  // --- status ---------------------------------------------------------------

  async status (): Promise<NodeStatus> {
    // Records on the schedule are counted by their state in memory, where 'sent' (in flight) lives.
    const outbox = await this.messenger.outboxCounts()
    const peers = this.libp2p.getPeers().map(p => p.toString())
    const connected = new Set(peers)
    const mailboxService = this.libp2p.services.mailbox
    const channels = this.channels.list()
    return {
      version: VERSION,
      peerId: this.peerId.toString(),
      uptimeMs: this.started ? Date.now() - this.startedAt : 0,
      addresses: this.addresses(),
      peers: { connected: peers.length, list: peers },
      connections: this.connectionKinds(),
      bootstrap: this.bootstrapPeers.map(addr => ({ addr, connected: connected.has(bootstrapPeer(addr)) })),
      outbox,
      inbox: await this.store.countIncoming(),
      contacts: this.book.size,
      identityChanged: this.identityChanges(),
      store: { bytes: await this.store.sizeOnDisk(), location: this.store.location ?? null, durability: this.durability },
      readReceipts: this.messenger.readReceipts,
      relays: this.homeRelays.list().map(r => ({ peerId: r.peerId, connected: connected.has(r.peerId), source: r.source ?? 'manual' })),
      relay: mailboxService.isRelay ? { ...mailboxService.totals(), ...mailboxService.stats, archive: { ...this.archive!.totals(), ...this.archive!.stats } } : null,
      channels: {
        active: channels.filter(c => c.state === 'active').length,
        pending: channels.reduce((n, c) => n + c.pending, 0),
        ...this.channels.stats
      },
      delivery: this.messenger.delivery(),
      dht: { ...this.discovery.status(), advertised: this.relayAdvertiser?.advertisedAt ?? null },
      nat: this.nat.status()
    }
  }

  private connectionKinds (): { direct: number, relayed: number, relayedPeers: string[] } {
    const kinds = { direct: 0, relayed: 0, relayedPeers: new Set<string>() }
    for (const c of this.libp2p.getConnections()) {
      // A WebRTC connection signalled through a relay keeps the circuit in its address but is direct.
      if (c.limits != null || !c.direct) {
        kinds.relayed++
        kinds.relayedPeers.add(c.remotePeer.toString())
      } else {
        kinds.direct++
      }
    }
    return { ...kinds, relayedPeers: [...kinds.relayedPeers] }
  }

  private assertStarted (): void {
    if (!this.started) throw new NotStartedError('the node is not started')
  }
}

/** Creates a node (call `start()` on it). See docs/api.md. */
export async function createNode (init: PigeonInit): Promise<PigeonNode> {
  return await PigeonNode.create(init)
}
