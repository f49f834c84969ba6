/**
 * Networks a test builds for itself out of Linux network namespaces (needs root and `ip`; CI runs
 * as root). Every namespace, link and address lives only inside namespaces this module created,
 * named with a random prefix, and `destroy()` deletes them (deleting a namespace deletes its
 * links). Nothing is routed out of them.
 */
import { execFile } from 'node:child_process'
import { randomBytes } from 'node:crypto'
import { promisify } from 'node:util'

const exec = promisify(execFile)
const IP_TIMEOUT_MS = 10_000

async function ip (...args: string[]): Promise<string> {
  const { stdout } = await exec('ip', args, { timeout: IP_TIMEOUT_MS })
  return stdout
}

/** Why namespace tests cannot run here, or undefined when they can. */
export async function netnsUnavailable (): Promise<string | undefined> {
  if (process.getuid?.() !== 0) return 'network namespace tests need root'
  const probe = `pgprobe-${randomBytes(3).toString('hex')}`
  try {
    await ip('netns', 'add', probe)
    await ip('netns', 'del', probe)
    return undefined
  } catch (err: any) {
    return `cannot create network namespaces here: ${String(err.message).split('\n')[0]}`
  }
}

/**
 * A LAN: `hosts` namespaces on one bridge (itself in a namespace of its own), each with one
 * address in `subnet` (the first three octets, e.g. '10.77.0': hosts get .1, .2, …) and a route
 * for multicast, as a home network has.
 */
export class Lan {
  private constructor (readonly prefix: string, readonly hosts: Array<{ netns: string, addr: string }>, private readonly bridgeNs: string) {}

  static async create (subnet: string, count: number): Promise<Lan> {
    const prefix = `pg${randomBytes(3).toString('hex')}`
    const bridgeNs = `${prefix}-sw`
    const hosts = Array.from({ length: count }, (_, i) => ({ netns: `${prefix}-h${i}`, addr: `${subnet}.${i + 1}` }))
    const lan = new Lan(prefix, hosts, bridgeNs)
    try {
      await ip('netns', 'add', bridgeNs)
      await ip('-n', bridgeNs, 'link', 'add', 'br0', 'type', 'bridge')
      await ip('-n', bridgeNs, 'link', 'set', 'br0', 'up')
      for (const [i, host] of hosts.entries()) {
        await ip('netns', 'add', host.netns)
        await ip('-n', host.netns, 'link', 'set', 'lo', 'up')
        await ip('-n', host.netns, 'link', 'add', 'eth0', 'type', 'veth', 'peer', 'name', `p${i}`, 'netns', bridgeNs)
        await ip('-n', bridgeNs, 'link', 'set', `p${i}`, 'master', 'br0')
        await ip('-n', bridgeNs, 'link', 'set', `p${i}`, 'up')
        await ip('-n', host.netns, 'addr', 'add', `${host.addr}/24`, 'dev', 'eth0')
        await ip('-n', host.netns, 'link', 'set', 'eth0', 'up')
        await ip('-n', host.netns, 'route', 'add', '224.0.0.0/4', 'dev', 'eth0')
      }
      return lan
    } catch (err) {
      await lan.destroy()
      throw err
    }
  }

  /** Deletes every namespace this LAN made (and with them their links); safe to call twice. */
  async destroy (): Promise<void> {
    for (const ns of [...this.hosts.map(h => h.netns), this.bridgeNs]) {
      await ip('netns', 'del', ns).catch(() => {})
    }
  }
}
