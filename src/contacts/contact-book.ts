/**
 * The address book: contacts by name and by peer id, kept in the store and indexed in memory.
 */
import { peerIdFromString } from '@libp2p/peer-id'
import { decodeCard } from './card.js'
import { ContactError, UnknownRecipientError } from '../errors.js'
import type { Store } from '../store/store.js'
import type { ContactRecord } from '../store/types.js'
import type { PeerId } from '@libp2p/interface'

const CONTACT_NAME = /^[\p{L}\p{N}_.-]{1,64}$/u

export class ContactBook {
  private readonly store: Store
  private readonly self: PeerId
  private readonly byName = new Map<string, ContactRecord>()
  private readonly byPeer = new Map<string, ContactRecord>()

  constructor (store: Store, self: PeerId) {
    this.store = store
    this.self = self
  }

  async load (): Promise<void> {
    for (const contact of await this.store.listContacts()) this.index(contact)
  }

  get size (): number {
    return this.byName.size
  }

  /** Contacts sorted by name. */
  list (): ContactRecord[] {
    return [...this.byName.values()].sort((a, b) => a.name.localeCompare(b.name))
  }

  /** The `count` most recently added contacts that `filter` accepts. */
  newest (count: number, filter: (c: ContactRecord) => boolean = () => true): ContactRecord[] {
    return [...this.byName.values()].filter(filter).sort((a, b) => b.addedAt - a.addedAt).slice(0, count)
  }

  isContact (peerId: string): boolean {
    return this.byPeer.has(peerId)
  }

  byPeerId (peerId: string): ContactRecord | undefined {
    return this.byPeer.get(peerId)
  }

  /** Adds a contact from its card, or refreshes the card of an existing contact of that name. */
  async add (name: string, card: string): Promise<ContactRecord> {
    if (!CONTACT_NAME.test(name)) throw new ContactError('a contact name is 1-64 letters, digits, ".", "_" or "-"')
    if (name.startsWith('12D3Koo') || name.startsWith('Qm')) throw new ContactError('a contact name must not look like a peer id')
    const parsed = decodeCard(card)
    const peer = parsed.peerId.toString()
    if (parsed.peerId.equals(this.self)) throw new ContactError('that card is your own')
    const sameName = this.byName.get(name)
    const samePeer = this.byPeer.get(peer)
    if (sameName != null && sameName.peerId !== peer) throw new ContactError(`contact "${name}" already exists for another peer; remove it first`)
    if (samePeer != null && samePeer.name !== name) throw new ContactError(`that peer is already a contact as "${samePeer.name}"`)
    if (samePeer != null && decodeCard(samePeer.card).timestamp > parsed.timestamp) throw new ContactError(`that card is older than the one you have for "${name}"`)
    const former = sameName == null ? await this.store.getFormerContact(name) : undefined
    const record: ContactRecord = {
      name,
      peerId: peer,
      card: card.trim(),
      addrs: parsed.addrs.map(a => a.toString()),
      relays: parsed.relays.map(a => a.toString()),
      addedAt: sameName?.addedAt ?? Date.now()
    }
    if (sameName?.verifiedAt != null) record.verifiedAt = sameName.verifiedAt
    if (sameName?.identityChanged != null) record.identityChanged = sameName.identityChanged
    // The name comes back with another identity: never trusted silently.
    if (former != null && former.peerId !== peer) record.identityChanged = { previous: former.peerId, at: Date.now() }
    // The same identity back under its name keeps the comparison made before.
    if (former != null && former.peerId === peer && former.verifiedAt != null) record.verifiedAt = former.verifiedAt
    await this.store.putContact(record)
    this.index(record)
    return record
  }

  async remove (name: string): Promise<ContactRecord> {
    const record = this.byName.get(name)
    if (record == null) throw new ContactError(`no contact named "${name}"`)
    await this.store.removeContact(name, { peerId: record.peerId, removedAt: Date.now(), ...(record.verifiedAt != null ? { verifiedAt: record.verifiedAt } : {}) })
    this.byName.delete(name)
    this.byPeer.delete(record.peerId)
    return record
  }

  /** The contact of that name, if any. */
  find (name: string): ContactRecord | undefined {
    return this.byName.get(name)
  }

  /** The contact of that name, or ContactError. */
  get (name: string): ContactRecord {
    const record = this.byName.get(name)
    if (record == null) throw new ContactError(`no contact named "${name}"`)
    return record
  }

  /** Records that the user compared the safety number with `name`: clears an identity warning. */
  async markVerified (name: string): Promise<ContactRecord> {
    const { identityChanged, ...rest } = this.get(name)
    const record: ContactRecord = { ...rest, verifiedAt: Date.now() }
    await this.store.putContact(record)
    this.index(record)
    return record
  }

  /** Contacts whose identity changed and who have not been verified since. */
  changed (): ContactRecord[] {
    return this.list().filter(c => c.identityChanged != null)
  }

  /** A contact name or a peer id string to a peer id this node can message. */
  resolve (nameOrPeerId: string): PeerId {
    const contact = this.byName.get(nameOrPeerId)
    if (contact != null) return peerIdFromString(contact.peerId)
    let peerId: PeerId
    try {
      peerId = peerIdFromString(nameOrPeerId)
    } catch {
      throw new UnknownRecipientError(`"${nameOrPeerId}" is neither a contact nor a peer id`)
    }
    if (peerId.type !== 'Ed25519') throw new UnknownRecipientError(`${nameOrPeerId} is not an Ed25519 peer id`)
    if (peerId.equals(this.self)) throw new UnknownRecipientError('that is this node\'s own peer id')
    return peerId
  }

  private index (record: ContactRecord): void {
    this.byName.set(record.name, record)
    this.byPeer.set(record.peerId, record)
  }
}
