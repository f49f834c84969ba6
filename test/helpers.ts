import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { createNode, type PigeonInit, type PigeonNode } from '../src/index.js'

export const TCP = ['/ip4/127.0.0.1/tcp/0']
export const WS = ['/ip4/127.0.0.1/tcp/0/ws']

/** A temp dir removed by the returned cleanup. */
export async function tempDir (prefix = 'pigeon-test-'): Promise<{ dir: string, cleanup: () => Promise<void> }> {
  const dir = await mkdtemp(join(tmpdir(), prefix))
  return { dir, cleanup: async () => { await rm(dir, { recursive: true, force: true }) } }
}

/** Starts nodes and stops them (and removes their dirs) when the returned cleanup runs. */
export class Nodes {
  private readonly started: PigeonNode[] = []
  private readonly dirs: Array<() => Promise<void>> = []

  /** A node that is created (and cleaned up) but not started, to attach listeners first. */
  async createOnly (init: Partial<PigeonInit> = {}): Promise<PigeonNode> {
    let dataDir = init.dataDir
    if (dataDir == null && init.memory !== true) {
      const tmp = await tempDir()
      this.dirs.push(tmp.cleanup)
      dataDir = tmp.dir
    }
    const node = await createNode({ listen: TCP, durability: 'os', retryMin: 100, retryMax: 1000, ...init, dataDir })
    this.started.push(node)
    return node
  }

  async node (init: Partial<PigeonInit> = {}): Promise<PigeonNode> {
    const node = await this.createOnly(init)
    await node.start()
    return node
  }

  async cleanup (): Promise<void> {
    await Promise.allSettled(this.started.map(async n => n.stop()))
    await Promise.allSettled(this.dirs.map(async c => c()))
  }
}

/** Resolves with the first event of `type` that `match` accepts; rejects after `ms`. */
export async function nextEvent<T> (target: EventTarget, type: string, match: (detail: T) => boolean = () => true, ms = 15_000): Promise<T> {
  return await new Promise<T>((resolve, reject) => {
    const timer = setTimeout(() => {
      target.removeEventListener(type, listener)
      reject(new Error(`no ${type} event within ${ms} ms`))
    }, ms)
    const listener = (evt: Event): void => {
      const detail = (evt as CustomEvent<T>).detail
      if (!match(detail)) return
      clearTimeout(timer)
      target.removeEventListener(type, listener)
      resolve(detail)
    }
    target.addEventListener(type, listener)
  })
}
