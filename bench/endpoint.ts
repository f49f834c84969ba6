/**
 * The two roles every case has, whether the bytes travel over pigeon or over a bare libp2p
 * stream. run.ts drives both implementations through these, so they are timed the same way.
 */
import type { AbortOptions } from '@libp2p/interface'

export interface Receiver {
  /** What the sender needs to reach this side: a contact card or a multiaddr with peer id. */
  readonly address: string
  /** Messages received so far: a check that the sender's numbers are real. */
  received(): number
  stop(): Promise<void>
}

export interface Sender {
  /**
   * Sends every text without waiting per message and resolves when the last one is
   * acknowledged. Returns the elapsed ms from the first send to the last acknowledgement.
   */
  burst(texts: string[], options: AbortOptions): Promise<number>
  /** Sends the texts one at a time, each after the previous one's ack; returns each round trip in ms. */
  pingPong(texts: string[], options: AbortOptions): Promise<number[]>
  stop(): Promise<void>
}
