/**
 * A sender worker and a receiver worker for one kind of endpoint, connected. Keeping a pair
 * alive across rounds lets run.ts interleave raw and pigeon rounds, so both see the same
 * background load on a shared machine.
 */
import { WorkerProcess, type Kind } from './ipc.js'
import type { Durability } from '../src/index.js'

/** Starting a node and dialing: seconds when healthy. */
const SETUP_TIMEOUT_MS = 20_000

export class Pair {
  readonly kind: Kind
  private readonly sender: WorkerProcess
  private readonly receiver: WorkerProcess
  /** Messages the receiver should have got so far. */
  private sent = 0

  private constructor (kind: Kind) {
    this.kind = kind
    this.receiver = new WorkerProcess(`${kind}-receiver`)
    this.sender = new WorkerProcess(`${kind}-sender`)
  }

  static async start (kind: Kind, durability: Durability, root: string): Promise<Pair> {
    const pair = new Pair(kind)
    try {
      const { address } = await pair.receiver.call({ op: 'receive', kind, durability, root }, SETUP_TIMEOUT_MS)
      await pair.sender.call({ op: 'connect', kind, durability, root, address, timeoutMs: SETUP_TIMEOUT_MS }, SETUP_TIMEOUT_MS)
      return pair
    } catch (err) {
      await pair.close()
      throw err
    }
  }

  /** Sends `count` messages without waiting per message; ms from first send to last ack. */
  async burst (count: number, bytes: number, timeoutMs: number): Promise<number> {
    this.sent += count
    const { ms } = await this.sender.call({ op: 'burst', count, bytes, timeoutMs }, timeoutMs)
    return ms
  }

  /** Sends `count` messages one at a time; each one's send-to-ack ms. */
  async pingPong (count: number, bytes: number, timeoutMs: number): Promise<number[]> {
    this.sent += count
    const { samples } = await this.sender.call({ op: 'pingPong', count, bytes, timeoutMs }, timeoutMs)
    return samples
  }

  /** Fails if the receiver did not get exactly what was acknowledged: the numbers would be fiction. */
  async check (): Promise<void> {
    const { count } = await this.receiver.call({ op: 'received' })
    if (count !== this.sent) throw new Error(`${this.kind} receiver got ${count} messages, the sender had ${this.sent} acknowledged`)
  }

  async close (): Promise<void> {
    await Promise.allSettled([this.sender.close(), this.receiver.close()])
  }
}

/** Runs `body` with a raw and a pigeon pair, both closed afterwards whatever happens. */
export async function withPairs<T> (durability: Durability, root: string, body: (raw: Pair, pigeon: Pair) => Promise<T>): Promise<T> {
  const pairs: Pair[] = []
  try {
    const raw = await Pair.start('raw', durability, root)
    pairs.push(raw)
    const pigeon = await Pair.start('pigeon', durability, root)
    pairs.push(pigeon)
    const result = await body(raw, pigeon)
    await raw.check()
    await pigeon.check()
    return result
  } finally {
    await Promise.allSettled(pairs.map(async p => p.close()))
  }
}
