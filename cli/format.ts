/** Human-readable output. Anything a script needs is in --json instead. */
import type { ChannelInfo, ChannelMessageView, ContactRecord, InboxRecord, MemberRecord, NodeStatus, OutboxRecord, RelayHealth } from '../src/index.js'

export function time (ms: number): string {
  const d = new Date(ms)
  const pad = (n: number): string => n.toString().padStart(2, '0')
  return `${d.getFullYear()}-${pad(d.getMonth() + 1)}-${pad(d.getDate())} ${pad(d.getHours())}:${pad(d.getMinutes())}:${pad(d.getSeconds())}`
}

export function shortPeer (peerId: string): string {
  return peerId.length > 16 ? `${peerId.slice(0, 8)}…${peerId.slice(-6)}` : peerId
}

export function sender (record: InboxRecord, names: Map<string, string>): string {
  return names.get(record.from) ?? shortPeer(record.from)
}

export function inboxLine (record: InboxRecord, names: Map<string, string>): string {
  const flags = record.request && !names.has(record.from) ? ' (request)' : ''
  return `[${time(record.receivedAt)}] ${sender(record, names)}${flags}: ${record.text}`
}

export function outboxLine (r: OutboxRecord, names: Map<string, string>): string {
  const held = r.state === 'sent' && r.storedAt != null && r.storedAt.length > 0 ? ` (held by ${r.storedAt.length} relay${r.storedAt.length === 1 ? '' : 's'})` : ''
  const problem = (r.state === 'queued' || r.state === 'failed') && r.lastError != null ? `  [${r.lastError}]` : ''
  return `[${time(r.createdAt)}] to ${names.get(r.to) ?? shortPeer(r.to)}: ${r.text ?? ''}  ${r.id.slice(0, 8)} ${r.state}${held}${problem}`
}

export function contactLine (c: ContactRecord): string {
  const trust = c.identityChanged != null ? 'IDENTITY CHANGED' : c.verifiedAt != null ? 'verified' : 'not verified'
  return `${c.name}\t${c.peerId}\t${c.addrs.length} address${c.addrs.length === 1 ? '' : 'es'}\t${trust}`
}

/** One line that says a contact's name now belongs to another identity, and what to do. */
export function identityWarning (c: { name: string, peerId: string, previous: string, at: number }): string {
  return `warning: ${c.name}'s identity changed on ${time(c.at)}: the name now belongs to ${shortPeer(c.peerId)}, not ${shortPeer(c.previous)}. Compare safety numbers (pigeon contacts verify ${c.name}) before you trust it.`
}

/** A safety number for people to read aloud: 12 groups of 5 digits, in 3 rows. */
export function safetyNumberText (groups: string[]): string {
  const rows: string[] = []
  for (let i = 0; i < groups.length; i += 4) rows.push('  ' + groups.slice(i, i + 4).join(' '))
  return rows.join('\n')
}

/**
 * Text from other peers made safe for a terminal: control characters (escape sequences, carriage
 * returns that overwrite a line) become U+FFFD, and every line after the first is indented so
 * that each message still starts its own line with its time.
 */
export function printable (text: string): string {
  return text.replace(/[\p{Cc}\u2028\u2029]/gu, c => c === '\n' ? '\n    ' : c === '\t' ? c : '\uFFFD')
}

/** Who a channel peer is to this node: "you", a contact name, or a short peer id. */
export function channelPeer (peerId: string, names: Map<string, string>, self: string): string {
  if (peerId === self) return 'you'
  return names.get(peerId) ?? shortPeer(peerId)
}

/** A channel message in display order: posts as `[time] author: text`, joins, leaves and removals as `* …` lines. */
export function channelMessageLine (m: ChannelMessageView, names: Map<string, string>, self: string): string {
  const who = channelPeer(m.author, names, self)
  const at = `[${time(m.wall)}]`
  switch (m.kind) {
    case 'text': return `${at} ${who}: ${printable(m.text ?? '')}`
    case 'join': return `${at} * ${who} joined`
    case 'leave': return `${at} * ${who} left`
    case 'remove': return `${at} * ${who} removed ${m.member != null ? channelPeer(m.member, names, self) : 'a member'}`
    default: return `${at} * ${who}: ${String(m.kind)}`
  }
}

/** A member: peer id, then "you", the contact name or "-", then "creator" or "member". */
export function memberLine (m: MemberRecord, names: Map<string, string>, self: string, creator: string): string {
  const who = m.peerId === self ? 'you' : names.get(m.peerId) ?? '-'
  return `${m.peerId}\t${who}\t${m.peerId === creator ? 'creator' : 'member'}`
}

export function channelLine (c: ChannelInfo): string {
  const notes = [
    c.state === 'active' ? 'active' : c.state === 'left' ? 'left' : 'removed',
    ...(c.awaitingKey ? ['waiting for a new key'] : []),
    ...(c.pending > 0 ? [`${c.pending} post${c.pending === 1 ? '' : 's'} not yet sent`] : [])
  ]
  return `${c.name}\t${c.id}\t${c.members} member${c.members === 1 ? '' : 's'}\t${notes.join(', ')}`
}

export function bytes (n: number): string {
  if (n < 1024) return `${n} B`
  if (n < 1024 * 1024) return `${(n / 1024).toFixed(1)} KiB`
  return `${(n / 1024 / 1024).toFixed(1)} MiB`
}

export function duration (ms: number): string {
  const s = Math.floor(ms / 1000)
  if (s < 60) return `${s}s`
  if (s < 3600) return s % 60 === 0 ? `${s / 60}m` : `${Math.floor(s / 60)}m ${s % 60}s`
  const m = Math.floor((s % 3600) / 60)
  return m === 0 ? `${Math.floor(s / 3600)}h` : `${Math.floor(s / 3600)}h ${m}m`
}

function millis (ms: number | null): string {
  if (ms == null) return '-'
  return ms < 1000 ? `${Math.round(ms)} ms` : `${(ms / 1000).toFixed(1)} s`
}

/**
 * One home relay: peer id, connected (with the round trip of a ping now), the mail it held for
 * this node when its mailbox was last drained, how it was chosen, and its first address.
 */
export function relayLine (r: RelayHealth, now = Date.now()): string {
  const link = r.connected ? `connected, ${r.rttMs == null ? 'no answer to ping' : `${millis(r.rttMs)} round trip`}` : 'not connected'
  const mail = r.mail == null
    ? 'mail: not drained yet'
    : `mail: held ${r.mail.messages} (${bytes(r.mail.bytes)}) for you ${duration(Math.max(now - r.mail.at, 0))} ago`
  return `${r.peerId}\t${link}\t${mail}\t${r.source === 'discovered' ? 'from the DHT' : 'by hand'}\t${r.addrs[0] ?? ''}`
}

/**
 * A plain word when the node is cut off: no peer at all. Said differently when it has bootstrap
 * peers that do not answer and when it has none to try.
 */
function network (s: NodeStatus): string[] {
  if (s.peers.connected > 0) return []
  if (s.bootstrap.length > 0) {
    return [`network    not connected to any network: none of ${s.bootstrap.length} bootstrap peer${s.bootstrap.length === 1 ? '' : 's'} answers (check them with \`pigeon bootstrap list\`, and this machine's connection)`]
  }
  return ['network    not connected to any network: there is no bootstrap peer to join through. Add one with `pigeon bootstrap add <multiaddr>` (a relay\'s or a friend\'s address ending in /p2p/<peer id>), or add a contact or a home relay']
}

/** The DHT in one line: mode, servers known, and whether (and when) this node's card is on it. */
function dht (s: NodeStatus): string {
  const d = s.dht
  if (d.mode === 'off') return 'dht        off: nobody can find this node by its peer id'
  const card = d.published == null ? 'card not published yet' : `card published ${duration(Math.max(Date.now() - d.published.at, 0))} ago to ${d.published.peers} peer${d.published.peers === 1 ? '' : 's'}`
  const refused = Object.values(d.refused).reduce((a, b) => a + b, 0)
  return `dht        ${d.mode}, ${d.routingTable} server${d.routingTable === 1 ? '' : 's'} known, ${card}${refused > 0 ? `, ${refused} bad record${refused === 1 ? '' : 's'} refused` : ''}`
}

/**
 * NAT traversal in one line: whether peers can dial this node (public, unknown or private), hole punching (on or off, attempts and how many went direct) and,
 * on a relay, the STUN server it runs.
 */
function nat (s: NodeStatus): string {
  const n = s.nat
  const punch = n.holePunch == null
    ? 'hole punching off'
    : `hole punching ${n.holePunch.attempts === 0 ? 'not tried yet' : `${n.holePunch.direct} of ${n.holePunch.attempts} direct`}, STUN ${n.stunServers.length === 0 ? 'none (no home relay yet)' : n.stunServers.join(' ')}`
  const stun = n.stunServer == null ? '' : `; answering STUN on udp ${n.stunServer.port} (${n.stunServer.answered} answered)`
  const waiting = n.unverified.length === 0 ? '' : ` (${n.unverified.join(' ')} not yet dialled back by a peer, so not published)`
  return `nat        ${n.reachability}${waiting}${n.upnp ? ', UPnP on' : ''}; ${punch}${stun}`
}

export function statusText (s: NodeStatus): string {
  const o = s.outbox
  return [
    `pigeon ${s.version}  peer ${s.peerId}`,
    `uptime     ${duration(s.uptimeMs)}`,
    `peers      ${s.peers.connected} connected${s.connections.relayed > 0 ? ` (${s.connections.direct} direct, ${s.connections.relayed} relayed)` : ''}`,
    ...network(s),
    dht(s),
    nat(s),
    `outbox     ${o.queued} queued, ${o.sent} sent, ${o.delivered} delivered, ${o.read} read, ${o.failed} failed`,
    `delivery   ${s.delivery.count === 0 ? `none in the last ${duration(s.delivery.windowMs)}` : `p50 ${millis(s.delivery.p50Ms)}, p99 ${millis(s.delivery.p99Ms)} over ${s.delivery.count} in the last ${duration(s.delivery.windowMs)}`}`,
    `inbox      ${s.inbox.total} messages, ${s.inbox.unread} unread, ${s.inbox.requests} requests`,
    `contacts   ${s.contacts}`,
    ...s.identityChanged.map(identityWarning),
    `channels   ${s.channels.active} active${s.channels.pending > 0 ? `, ${s.channels.pending} post${s.channels.pending === 1 ? '' : 's'} not yet sent` : ''}`,
    `relays     ${s.relays.length === 0 ? 'none' : `${s.relays.filter(r => r.connected).length} of ${s.relays.length} connected`}`,
    ...(s.relay != null ? [`mailboxes  ${s.relay.messages} messages, ${bytes(s.relay.bytes)} for ${s.relay.recipients} peers; ${s.relay.deposited} deposited, ${Object.values(s.relay.refused).reduce((a, b) => a + b, 0)} refused since start`] : []),
    `store      ${bytes(s.store.bytes)} (${s.store.durability})${s.store.location != null ? `  ${s.store.location}` : ''}`,
    `listening  ${s.addresses.length > 0 ? s.addresses.join('\n           ') : '(nothing)'}`
  ].join('\n')
}
