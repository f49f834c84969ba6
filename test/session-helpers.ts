/**
 * Helpers for the session tests: a seeded source of random bytes (SHA-256 of seed and counter),
 * so that runs and the test vectors of docs/protocol.md are reproducible.
 */
import assert from 'node:assert/strict'
import { createHash } from 'node:crypto'
import { SessionError } from '../src/session/errors.js'
import { generateDh, type Random } from '../src/session/primitives.js'
import { generateKem, generateOneTimePrekeys, PREKEY_KIND, signPrekey, type PrekeySecrets } from '../src/session/prekeys.js'
import { PrekeyBundle } from '../src/session/pb/session.js'
import type { LocalKeys } from '../src/crypto/keys.js'

export function seededRandom (seed: string): Random {
  let counter = 0
  let pool = Buffer.alloc(0)
  return {
    bytes (length: number): Uint8Array {
      while (pool.byteLength < length) {
        const block = createHash('sha256').update(seed).update(String(counter++)).digest()
        pool = Buffer.concat([pool, block])
      }
      const out = new Uint8Array(pool.subarray(0, length))
      pool = pool.subarray(length)
      return out
    }
  }
}

/** A responder's prekeys as a node would keep them, and the bundles its card and relays give out. */
export interface Responder {
  keys: LocalKeys
  /** A bundle: with one-time prekeys while some are left (unless `oneTime` is false). */
  bundle(options?: { oneTime?: boolean }): Uint8Array
  secrets: PrekeySecrets
  /** One-time prekeys, X25519 and ML-KEM, still unused. */
  left(): { x25519: number, kem: number }
  /** Deletes used one-time prekeys, as the node does in the batch that stores the session. */
  consume(used: { oneTimePrekeyId?: number, pqOneTimePrekeyId?: number }): void
}

export function responder (keys: LocalKeys, random: Random, oneTimeCount = 2): Responder {
  const signed = { id: 7, pair: generateDh(random) }
  const lastResort = { id: 8, pair: generateKem(random) }
  const oneTime = generateOneTimePrekeys(keys.ed25519Private, 100, oneTimeCount, random)
  const x = new Map(oneTime.x25519.map(k => [k.id, k]))
  const kem = new Map(oneTime.kem.map(k => [k.id, k]))
  return {
    keys,
    bundle (options = {}) {
      const opk = options.oneTime === false ? undefined : x.values().next().value
      const pqopk = options.oneTime === false ? undefined : kem.values().next().value
      return PrekeyBundle.encode({
        identity: keys.idBytes as Uint8Array<ArrayBuffer>,
        signedPrekey: signPrekey(keys.ed25519Private, PREKEY_KIND.SIGNED, signed.id, signed.pair.public),
        pqPrekey: signPrekey(keys.ed25519Private, PREKEY_KIND.PQ_LAST_RESORT, lastResort.id, lastResort.pair.public),
        oneTimePrekey: opk == null ? undefined : { id: opk.id, publicKey: opk.pair.public as Uint8Array<ArrayBuffer> },
        pqOneTimePrekey: pqopk?.signed
      })
    },
    secrets: {
      signedPrekey: (id) => id === signed.id ? signed.pair : undefined,
      pqPrekey: (id, isOneTime) => isOneTime ? kem.get(id)?.pair : id === lastResort.id ? lastResort.pair : undefined,
      oneTimePrekey: (id) => x.get(id)?.pair
    },
    left: () => ({ x25519: x.size, kem: kem.size }),
    consume (used) {
      if (used.oneTimePrekeyId != null) x.delete(used.oneTimePrekeyId)
      if (used.pqOneTimePrekeyId != null) kem.delete(used.pqOneTimePrekeyId)
    }
  }
}

/** The reason a SessionError gave for refusing what `fn` did; fails when nothing was refused. */
export function refusal (fn: () => unknown): string {
  try {
    fn()
  } catch (err) {
    assert.ok(err instanceof SessionError, `not a SessionError: ${String(err)}`)
    return err.reason
  }
  assert.fail('was not refused')
}
