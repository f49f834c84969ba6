/**
 * Networks a test builds for itself out of Linux network namespaces (needs root and `ip`; CI runs
 * as root). Every namespace, link and address lives only inside namespaces this module created,
 * named with a random prefix, and `destroy()` deletes them (deleting a namespace deletes its
 * links). Nothing is routed out of them.
 */
import { execFile, spawn, type ChildProcess } from 'node:child_process'
import { existsSync } from 'node:fs'
import { mkdtemp, rm, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { randomBytes, randomUUID } from 'node:crypto'
import { promisify } from 'node:util'

const exec = promisify(execFile)
const IP_TIMEOUT_MS = 10_000
/** Debian puts it in /usr/sbin, which a test's PATH may not hold. */
const MINIUPNPD = existsSync('/usr/sbin/miniupnpd') ? '/usr/sbin/miniupnpd' : 'miniupnpd'

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

async function nft (netns: string, ruleset: string): Promise<void> {
  await new Promise<void>((resolve, reject) => {
    const child = execFile('ip', ['netns', 'exec', netns, 'nft', '-f', '-'], { timeout: IP_TIMEOUT_MS }, (err) => { err != null ? reject(err) : resolve() })
    child.stdin?.end(ruleset)
  })
}

/** Why the NAT lab cannot run here (namespaces, or nft missing), or undefined when it can. */
export async function natLabUnavailable (): Promise<string | undefined> {
  const why = await netnsUnavailable()
  if (why != null) return why
  try {
    await exec('nft', ['--version'], { timeout: IP_TIMEOUT_MS })
    return undefined
  } catch {
    return 'the NAT lab needs nft (Debian package nftables; .ci/run installs it)'
  }
}

/** Why a UPnP lab cannot run here (the NAT lab's needs, or miniupnpd missing), or undefined when it can. */
export async function upnpLabUnavailable (): Promise<string | undefined> {
  const why = await natLabUnavailable()
  if (why != null) return why
  try {
    await exec(MINIUPNPD, ['--version'], { timeout: IP_TIMEOUT_MS })
    return undefined
  } catch {
    return 'the UPnP lab needs miniupnpd (Debian package miniupnpd-nftables; .ci/run installs it)'
  }
}

/** How a home router maps its hosts' connections onto its public address. */
export type NatKind = 'cone' | 'symmetric'

export interface LabHost {
  netns: string
  addr: string
}

/**
 * A small internet: a public segment 198.18.0.0/24 (a switch namespace with a bridge) and home
 * networks, each behind a router namespace that masquerades its one host onto the segment with
 * nftables. 'cone' is plain masquerade (Linux keeps the source port where it can, so a mapping
 * does not depend on the destination); 'symmetric' is `masquerade fully-random`, a new random
 * port per destination, which defeats hole punching. Nothing is routed beyond the segment, and
 * destroy() deletes every namespace.
 */
export class Internet {
  private readonly namespaces: string[] = []
  private readonly routers = new Map<number, string>()
  /** Home networks whose router runs miniupnpd, and the daemon once started (on attach). */
  private readonly upnpRouters = new Map<number, ChildProcess | undefined>()
  private readonly daemons: ChildProcess[] = []
  private readonly dirs: string[] = []

  private constructor (readonly prefix: string, private readonly switchNs: string, readonly segment: string) {}

  /**
   * @param segment - the public segment's first three octets: 198.18.0 by default (libp2p classes
   * it private); a range libp2p classes public where a test needs one (UPnP refuses a private
   * external address as a double NAT)
   */
  static async create (segment = '198.18.0'): Promise<Internet> {
    const prefix = `pg${randomBytes(3).toString('hex')}`
    const net = new Internet(prefix, `${prefix}-sw`, segment)
    try {
      await net.namespace(net.switchNs)
      await ip('-n', net.switchNs, 'link', 'add', 'br0', 'type', 'bridge')
      await ip('-n', net.switchNs, 'link', 'set', 'br0', 'up')
      return net
    } catch (err) {
      await net.destroy()
      throw err
    }
  }

  private async namespace (name: string): Promise<void> {
    await ip('netns', 'add', name)
    this.namespaces.push(name)
    await ip('-n', name, 'link', 'set', 'lo', 'up')
  }

  /** Plugs interface `dev` of `netns` into the public switch with address 198.18.0.<octet>. */
  private async plug (netns: string, dev: string, octet: number): Promise<string> {
    const port = `s${octet}`
    await ip('-n', netns, 'link', 'add', dev, 'type', 'veth', 'peer', 'name', port, 'netns', this.switchNs)
    await ip('-n', this.switchNs, 'link', 'set', port, 'master', 'br0')
    await ip('-n', this.switchNs, 'link', 'set', port, 'up')
    const addr = `${this.segment}.${octet}`
    await ip('-n', netns, 'addr', 'add', `${addr}/24`, 'dev', dev)
    await ip('-n', netns, 'link', 'set', dev, 'up')
    return addr
  }

  /** A host on the public segment at 198.18.0.<octet> (2 to 99). */
  async publicHost (octet: number): Promise<LabHost> {
    const netns = `${this.prefix}-p${octet}`
    await this.namespace(netns)
    return { netns, addr: await this.plug(netns, 'eth0', octet) }
  }

  /**
   * Home network `n` (1 to 99): a router at <segment>.<100+n> doing `nat`, and its LAN
   * 10.<n>.0.0/24. With `upnp`, the router also runs miniupnpd (Debian's miniupnpd-nftables) on
   * its LAN side, and lets in what it maps.
   */
  async home (n: number, nat: NatKind, options: { upnp?: boolean } = {}): Promise<void> {
    const router = `${this.prefix}-r${n}`
    await this.namespace(router)
    await this.plug(router, 'wan', 100 + n)
    await exec('ip', ['netns', 'exec', router, 'sysctl', '-qw', 'net.ipv4.ip_forward=1'], { timeout: IP_TIMEOUT_MS })
    // The filter is a home router's firewall: unsolicited packets from the internet are dropped.
    // Without it the router answers a peer's early hole-punching packet itself (port unreachable),
    // and the conntrack entry that answer leaves makes the NAT map the host's own packet to that
    // peer onto a different port, so hole punching between two such routers never works.
    await nft(router, [
      'table ip nat {',
      '  chain postrouting {',
      '    type nat hook postrouting priority srcnat; policy accept;',
      `    oifname "wan" masquerade${nat === 'symmetric' ? ' fully-random' : ''}`,
      '  }',
      '}',
      'table ip filter {',
      '  chain input {',
      '    type filter hook input priority filter; policy accept;',
      '    iifname "wan" ct state new drop',
      '  }',
      '  chain forward {',
      '    type filter hook forward priority filter; policy accept;',
      // What UPnP mapped (destination NAT) is let in; nothing else unsolicited.
      '    iifname "wan" ct state new ct status & dnat == 0 drop',
      '  }',
      '}',
      ''
    ].join('\n'))
    this.routers.set(n, router)
    if (options.upnp === true) this.upnpRouters.set(n, undefined)
  }

  /**
   * Runs miniupnpd in `router`, mapping for its LAN 10.<n>.0.0/24, in chains of its own. It needs
   * the LAN interface, so it starts when the first host is attached.
   */
  private async upnp (router: string, n: number): Promise<void> {
    await ip('-n', router, 'route', 'add', '239.255.255.250/32', 'dev', 'lan')
    await nft(router, [
      'table inet miniupnpd {',
      '  chain forward { type filter hook forward priority filter; policy accept; jump forward_miniupnpd; }',
      '  chain forward_miniupnpd { }',
      '  chain prerouting { type nat hook prerouting priority dstnat; policy accept; jump prerouting_miniupnpd; }',
      '  chain prerouting_miniupnpd { }',
      '  chain postrouting { type nat hook postrouting priority srcnat; policy accept; jump postrouting_miniupnpd; }',
      '  chain postrouting_miniupnpd { }',
      '}',
      ''
    ].join('\n'))
    const dir = await mkdtemp(join(tmpdir(), 'pigeon-upnp-'))
    this.dirs.push(dir)
    const conf = join(dir, 'miniupnpd.conf')
    await writeFile(conf, [
      'ext_ifname=wan',
      'listening_ip=lan',
      'http_port=0',
      'enable_natpmp=no',
      'enable_upnp=yes',
      'secure_mode=yes',
      'system_uptime=yes',
      `uuid=${randomUUID()}`,
      'upnp_table_name=miniupnpd',
      'upnp_nat_table_name=miniupnpd',
      'upnp_forward_chain=forward_miniupnpd',
      'upnp_nat_chain=prerouting_miniupnpd',
      'upnp_nat_postrouting_chain=postrouting_miniupnpd',
      `allow 1024-65535 10.${n}.0.0/24 1024-65535`,
      'deny 0-65535 0.0.0.0/0 0-65535',
      ''
    ].join('\n'))
    const child = spawn('ip', ['netns', 'exec', router, MINIUPNPD, '-f', conf, '-d', '-P', join(dir, 'miniupnpd.pid')], { stdio: ['ignore', 'ignore', 'pipe'] })
    this.daemons.push(child)
    this.upnpRouters.set(n, child)
    // Ready once it says it listens for HTTP (its log goes to stderr with -d).
    await new Promise<void>((resolve, reject) => {
      let log = ''
      const timer = setTimeout(() => { reject(new Error(`miniupnpd did not start within ${IP_TIMEOUT_MS} ms: ${log}`)) }, IP_TIMEOUT_MS)
      child.stderr?.setEncoding('utf8').on('data', (d: string) => {
        log += d
        if (process.env.UPNP_LAB_LOG != null) process.stderr.write(d)
        if (/HTTP listening on port/.test(log)) { clearTimeout(timer); resolve() }
      })
      child.once('exit', (code) => { clearTimeout(timer); reject(new Error(`miniupnpd exited with ${String(code)}: ${log}`)) })
    })
  }

  /** A host namespace, not yet on any network. */
  async host (name: string): Promise<string> {
    const netns = `${this.prefix}-${name}`
    await this.namespace(netns)
    return netns
  }

  /** Puts `netns` on home network `n` as 10.<n>.0.2, leaving the network it was on; returns its new address. */
  async attach (netns: string, n: number): Promise<string> {
    const router = this.routers.get(n)
    if (router == null) throw new Error(`no home network ${n}`)
    await ip('-n', netns, 'link', 'del', 'eth0').catch(() => {})
    await ip('-n', router, 'link', 'del', 'lan').catch(() => {})
    await ip('-n', router, 'link', 'add', 'lan', 'type', 'veth', 'peer', 'name', 'eth0', 'netns', netns)
    await ip('-n', router, 'addr', 'add', `10.${n}.0.1/24`, 'dev', 'lan')
    await ip('-n', router, 'link', 'set', 'lan', 'up')
    const addr = `10.${n}.0.2`
    await ip('-n', netns, 'addr', 'add', `${addr}/24`, 'dev', 'eth0')
    await ip('-n', netns, 'link', 'set', 'eth0', 'up')
    await ip('-n', netns, 'route', 'add', 'default', 'via', `10.${n}.0.1`)
    if (this.upnpRouters.has(n) && this.upnpRouters.get(n) == null) await this.upnp(router, n)
    return addr
  }

  /** Deletes every namespace of this internet (and stops its UPnP daemons); safe to call twice. */
  async destroy (): Promise<void> {
    for (const child of this.daemons.splice(0)) {
      if (child.exitCode == null && child.signalCode == null) {
        const exited = new Promise(resolve => child.once('exit', resolve))
        child.kill('SIGTERM')
        await exited
      }
    }
    for (const dir of this.dirs.splice(0)) await rm(dir, { recursive: true, force: true })
    for (const ns of this.namespaces.splice(0).reverse()) await ip('netns', 'del', ns).catch(() => {})
  }
}

