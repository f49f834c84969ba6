/**
 * Telling contacts where this node is now. Every message a node sends carries its addresses and
 * home relays (its whereabouts), and the recipient remembers them (src/network/peer-directory.ts).
 * When they change (new addresses after a move or restart, a relay added, dropped or replaced),
 * contacts who get no message from this node would keep dialling old addresses and depositing at
 * old relays until a failed delivery made them look the card up on the DHT again. So the node
 * sends each contact a whereabouts message: an empty body of its own kind, through the outbox,
 * so it reaches a contact that is offline through that contact's relays, like any message.
 *
 * Changes come in bursts (a reservation on each relay, addresses appearing one by one), so the
 * push waits PUSH_DELAY_MS after the last change, and goes out only if the whereabouts differ from
 * those last pushed (remembered across restarts; see start() for a node that never pushed). A contact with a push still queued (not yet
 * sealed) gets no second one: the body is sealed when it is sent, so the queued one will carry
 * the newest whereabouts anyway.
 */
import type { Logger } from '@libp2p/interface'
import type { ContactRecord, OutboxRecord } from '../store/types.js'

/** Quiet time after the last change before contacts are told. */
export const PUSH_DELAY_MS = 3000
/** Contacts told at most, most recently added first: a large address book is not a storm. */
export const PUSH_MAX_CONTACTS = 256

/** What the push needs of the contact book. */
export interface PushContacts {
  newest(count: number): ContactRecord[]
}

/** What the push needs of the node's outbox and store. */
export interface PushOutbox {
  /** Queues a whereabouts message to `peer`; resolves with its id. */
  enqueueWhereabouts(peer: string): Promise<string>
  /** The outbox record of a message sent earlier, if still kept. */
  record(id: string): Promise<OutboxRecord | undefined>
}

/** Where the last pushed whereabouts are remembered. */
export interface PushMemory {
  load(): Promise<string | undefined>
  save(whereabouts: string): Promise<void>
}

export interface WhereaboutsPushInit {
  contacts: PushContacts
  outbox: PushOutbox
  memory: PushMemory
  /** This node's whereabouts now, as a comparable string. */
  current(): string
  log: Logger
  delay?: number
}

export class WhereaboutsPush {
  private readonly init: WhereaboutsPushInit
  /** The last push's record id per contact. */
  private readonly pushed = new Map<string, string>()
  private timer?: ReturnType<typeof setTimeout>
  private running = false
  private work: Promise<void> = Promise.resolve()

  constructor (init: WhereaboutsPushInit) {
    this.init = init
  }

  /**
   * Starts watching; the whereabouts at start are compared with those pushed before the last
   * stop. A node that never pushed (new, or from before pushes) has given its contacts its card,
   * so it only remembers where it is now, and tells changes from here on.
   */
  async start (): Promise<void> {
    this.running = true
    if (await this.init.memory.load() == null) await this.init.memory.save(this.init.current())
    this.changed()
  }

  /** Stops; a push in progress finishes (it only writes to the outbox). */
  async stop (): Promise<void> {
    this.running = false
    clearTimeout(this.timer)
    this.timer = undefined
    await this.work
  }

  /** Something this node tells others about itself changed: push after PUSH_DELAY_MS of quiet. */
  changed (): void {
    if (!this.running) return
    clearTimeout(this.timer)
    this.timer = setTimeout(() => {
      this.timer = undefined
      this.work = this.work.then(async () => { await this.push() }).catch((err: Error) => { this.init.log('could not tell contacts where this node is: %s', err.message) })
    }, this.init.delay ?? PUSH_DELAY_MS)
  }

  private async push (): Promise<void> {
    if (!this.running) return
    const now = this.init.current()
    if (now === await this.init.memory.load()) return
    let told = 0
    for (const contact of this.init.contacts.newest(PUSH_MAX_CONTACTS)) {
      if (!this.running) return
      const previous = this.pushed.get(contact.peerId)
      if (previous != null && (await this.init.outbox.record(previous))?.state === 'queued') continue
      this.pushed.set(contact.peerId, await this.init.outbox.enqueueWhereabouts(contact.peerId))
      told++
    }
    await this.init.memory.save(now)
    this.init.log('told %d contact(s) where this node is now', told)
  }
}
