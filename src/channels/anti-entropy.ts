/**
 * When to ask a channel's relay again for what this node may have missed (anti-entropy). A
 * relay that had nothing new is asked again after twice the wait, up to ANTI_ENTROPY_MAX_MS;
 * one that had something, or any sign of life on the channel (a live post), brings the wait
 * back to the start. An idle node in many channels then costs its relays a request every few
 * minutes per channel instead of one every few seconds, and a busy channel, where posts are
 * missed in the first place, is still checked every round.
 */
export interface AntiEntropyInit {
  /** The first wait, and the wait after a relay had something new. */
  minMs: number
  /** The longest wait. */
  maxMs: number
}

interface Slot { waitMs: number, dueAt: number }

export class AntiEntropy {
  private readonly init: AntiEntropyInit
  /** By `${channel} ${relay}`. */
  private readonly slots = new Map<string, Slot>()

  constructor (init: AntiEntropyInit) {
    this.init = init
  }

  /** Whether `relay` should be asked about `channel` now (a pair never asked is due). */
  due (channel: string, relay: string, now = Date.now()): boolean {
    const slot = this.slots.get(`${channel} ${relay}`)
    return slot == null || now >= slot.dueAt
  }

  /** A catch-up from `relay` ended; `found` says whether it brought any frame. */
  done (channel: string, relay: string, found: boolean, now = Date.now()): void {
    const key = `${channel} ${relay}`
    const previous = this.slots.get(key)?.waitMs
    const waitMs = found || previous == null ? this.init.minMs : Math.min(previous * 2, this.init.maxMs)
    this.slots.set(key, { waitMs, dueAt: now + waitMs })
  }

  /** A live post arrived on `channel`: every relay of it is due again within the first wait. */
  activity (channel: string, now = Date.now()): void {
    const prefix = `${channel} `
    for (const [key, slot] of this.slots) {
      if (!key.startsWith(prefix)) continue
      slot.waitMs = this.init.minMs
      slot.dueAt = Math.min(slot.dueAt, now + this.init.minMs)
    }
  }

  /** Forgets a channel (left, removed). */
  forget (channel: string): void {
    const prefix = `${channel} `
    for (const key of [...this.slots.keys()]) if (key.startsWith(prefix)) this.slots.delete(key)
  }
}
