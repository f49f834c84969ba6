/**
 * The storage baseline for the mailbox case: the `level` package (classic-level, the LevelDB
 * pigeon's store uses) with no pigeon code. Batched puts of raw byte values under ordered keys,
 * synced per batch when durability is 'fsync', then one iterator scan over everything: about the
 * least a relay must do to take in a mailbox and to read it back out.
 */
import { randomBytes } from 'node:crypto'
import { mkdtemp, rm } from 'node:fs/promises'
import { join } from 'node:path'
import { Level } from 'level'
import { race } from './deadline.js'
import type { AbortOptions } from '@libp2p/interface'
import type { Durability } from '../src/index.js'

export interface LevelBaseline {
  /** All batched puts, first to last. */
  putMs: number
  /** One iterator over every entry, keys and values. */
  scanMs: number
  /** Entries the scan returned: must equal the count put. */
  scanned: number
}

const KEY_WIDTH = 16

export async function levelBaseline (root: string, durability: Durability, count: number, bytes: number, batchSize: number, options: AbortOptions): Promise<LevelBaseline> {
  const dir = await mkdtemp(join(root, 'level-'))
  const db = new Level<string, Uint8Array>(dir, { valueEncoding: 'view' })
  try {
    await db.open()
    const values = Array.from({ length: count }, () => new Uint8Array(randomBytes(bytes)))
    const write = { sync: durability === 'fsync' }

    const putStart = performance.now()
    for (let i = 0; i < count; i += batchSize) {
      options.signal?.throwIfAborted()
      const ops = []
      for (let j = i; j < Math.min(i + batchSize, count); j++) {
        ops.push({ type: 'put' as const, key: j.toString().padStart(KEY_WIDTH, '0'), value: values[j] })
      }
      // classic-level takes `sync`; abstract-level's option types leave it out.
      await db.batch(ops, write as any)
    }
    const putMs = performance.now() - putStart

    const scanStart = performance.now()
    let scanned = 0
    await race((async () => {
      for await (const [, value] of db.iterator()) {
        if (value.byteLength !== bytes) throw new Error(`scan found a ${value.byteLength}-byte value`)
        scanned++
      }
    })(), options.signal)
    const scanMs = performance.now() - scanStart
    if (scanned !== count) throw new Error(`level scan returned ${scanned} of ${count} entries`)
    return { putMs, scanMs, scanned }
  } finally {
    await db.close().catch(() => {})
    await rm(dir, { recursive: true, force: true })
  }
}
