/**
 * Contact cards: a signed, copy-pasteable string that says who a peer is and where to reach it.
 *
 *   "pigeon-card:" + base64url(SignedCard { card: encoded Card, signature })
 *
 * The signature is by the card's own peer id over "pigeon-card-v1\0" followed by the Card bytes
 * exactly as carried, so anyone can check a card without re-encoding it or asking its owner.
 */
import { sign, verify } from 'node:crypto'
import { multiaddr, type Multiaddr } from '@multiformats/multiaddr'
import { Card, SignedCard } from './pb/card.js'
import { InvalidCardError } from '../errors.js'
import { peerIdFromBytes, peerKeys, type LocalKeys } from '../crypto/keys.js'
import { KEM_PUBLIC_KEY_LENGTH } from '../session/prekeys.js'
import type { CardPrekeys } from '../session/prekey-store.js'
import type { PeerId } from '@libp2p/interface'

export const CARD_PREFIX = 'pigeon-card:'
const CARD_VERSION = 1
const SIGNATURE_CONTEXT = new TextEncoder().encode('pigeon-card-v1\0')
/** A card is pasted by people: 8 KiB of base64 holds dozens of addresses and no abuse. */
export const MAX_CARD_CHARS = 8192
const MAX_CARD_ADDRS = 32
const MAX_CARD_RELAYS = 16
/** The most a card's binary form (SignedCard) can take and still fit MAX_CARD_CHARS as text. */
export const MAX_CARD_BYTES = Math.floor((MAX_CARD_CHARS - CARD_PREFIX.length) * 3 / 4)

export interface ContactCard {
  peerId: PeerId
  addrs: Multiaddr[]
  /** Home relays: multiaddrs ending in /p2p/<relay>. */
  relays: Multiaddr[]
  timestamp: number
  /** When the card stops being valid as a DHT record (ms since the epoch); 0: never (pasted cards). */
  expires: number
  /** The peer's session prekeys (scheme 2), not yet checked against their own signatures; absent: scheme 1 only. */
  prekeys?: CardPrekeys
}

export interface CardTimes {
  /** When the card was made, ms since the epoch: also its sequence number (a newer card wins). */
  timestamp?: number
  /** When it stops being valid as a DHT record; 0 (the default): never. */
  expires?: number
}

function signingInput (card: Uint8Array): Uint8Array {
  return Buffer.concat([SIGNATURE_CONTEXT, card])
}

export function encodeCard (local: LocalKeys, addrs: Multiaddr[], relays: Multiaddr[] = [], times: CardTimes = {}, prekeys?: CardPrekeys): string {
  return cardText(encodeCardBytes(local, addrs, relays, times, prekeys))
}

/** A card in binary form (an encoded SignedCard), as the DHT carries it. */
export function encodeCardBytes (local: LocalKeys, addrs: Multiaddr[], relays: Multiaddr[] = [], times: CardTimes = {}, prekeys?: CardPrekeys): Uint8Array {
  const card = Card.encode({
    version: CARD_VERSION,
    peerId: local.idBytes as Uint8Array<ArrayBuffer>,
    addrs: addrs.slice(0, MAX_CARD_ADDRS).map(a => a.bytes as Uint8Array<ArrayBuffer>),
    relays: relays.slice(0, MAX_CARD_RELAYS).map(a => a.bytes as Uint8Array<ArrayBuffer>),
    timestamp: BigInt(times.timestamp ?? Date.now()),
    expires: BigInt(times.expires ?? 0),
    signedPrekey: prekeys?.signedPrekey,
    pqPrekey: prekeys?.pqPrekey
  })
  const signature = new Uint8Array(sign(null, signingInput(card), local.ed25519Private))
  return SignedCard.encode({ card, signature })
}

/** A card's binary form as the text people paste. */
export function cardText (bytes: Uint8Array): string {
  return CARD_PREFIX + Buffer.from(bytes).toString('base64url')
}

export function decodeCard (text: string): ContactCard {
  const trimmed = text.trim()
  if (!trimmed.startsWith(CARD_PREFIX)) throw new InvalidCardError(`a contact card starts with "${CARD_PREFIX}"`)
  if (trimmed.length > MAX_CARD_CHARS) throw new InvalidCardError(`contact card is longer than ${MAX_CARD_CHARS} characters`)
  const b64 = trimmed.slice(CARD_PREFIX.length)
  if (!/^[A-Za-z0-9_-]*$/.test(b64)) throw new InvalidCardError('contact card has characters outside base64url')
  return decodeCardBytes(Buffer.from(b64, 'base64url'))
}

/** A card from its binary form (an encoded SignedCard), checked as decodeCard checks text. */
export function decodeCardBytes (bytes: Uint8Array): ContactCard {
  if (bytes.byteLength > MAX_CARD_BYTES) throw new InvalidCardError(`contact card is larger than ${MAX_CARD_BYTES} bytes`)
  let signed: SignedCard
  let card: Card
  try {
    signed = SignedCard.decode(bytes)
    card = Card.decode(signed.card, { limits: { addrs: MAX_CARD_ADDRS, relays: MAX_CARD_RELAYS } })
  } catch (err: any) {
    throw new InvalidCardError(`contact card does not decode: ${err.message}`)
  }
  if (card.version !== CARD_VERSION) throw new InvalidCardError(`unsupported contact card version ${card.version}`)
  const peerId = peerIdFromBytes(card.peerId)
  const keys = peerId == null ? undefined : peerKeys(peerId)
  if (peerId == null || keys == null) throw new InvalidCardError('contact card does not name a valid Ed25519 peer id')
  if (!verify(null, signingInput(signed.card), keys.ed25519, signed.signature)) throw new InvalidCardError('contact card signature does not verify')
  let addrs: Multiaddr[]
  let relays: Multiaddr[]
  try {
    // A copy: multiaddr 13 reads a short port field past its end when given a view into a larger buffer.
    addrs = card.addrs.map(bytes => multiaddr(Uint8Array.from(bytes)))
    relays = card.relays.map(bytes => multiaddr(Uint8Array.from(bytes)))
  } catch (err: any) {
    throw new InvalidCardError(`contact card has an invalid address: ${err.message}`)
  }
  if (relays.some(r => r.getComponents().at(-1)?.name !== 'p2p')) throw new InvalidCardError('a relay address in a contact card must end in /p2p/<relay peer id>')
  const decoded: ContactCard = { peerId, addrs, relays, timestamp: Number(card.timestamp), expires: Number(card.expires) }
  const prekeys = cardPrekeys(card)
  if (prekeys != null) decoded.prekeys = prekeys
  return decoded
}

/**
 * A card's prekeys, both or none, with the right lengths. Their own signatures are checked where
 * they are used (src/session/prekeys.ts, checkBundle); the card's signature already binds them to
 * its peer.
 */
function cardPrekeys (card: Card): CardPrekeys | undefined {
  const { signedPrekey, pqPrekey } = card
  if (signedPrekey == null && pqPrekey == null) return undefined
  if (signedPrekey == null || pqPrekey == null) throw new InvalidCardError('a contact card carries both session prekeys or neither')
  if (signedPrekey.publicKey.byteLength !== 32 || pqPrekey.publicKey.byteLength !== KEM_PUBLIC_KEY_LENGTH || signedPrekey.signature.byteLength !== 64 || pqPrekey.signature.byteLength !== 64) {
    throw new InvalidCardError('a session prekey in a contact card has the wrong length')
  }
  return { signedPrekey, pqPrekey }
}
