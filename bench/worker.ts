/**
 * A bench worker: one process, one endpoint (or one mailbox-case role, or one channel-case
 * group). The parent (run.ts) sends commands over IPC; see ipc.ts. Putting each node in its own
 * process keeps sender and receiver (and relay) from sharing one event loop, as real peers would
 * not. The channel case is the exception: its six nodes of one kind share one process and one
 * clock (channel-case.ts says why). So is the load case: its relay has a process to itself, but
 * hundreds of clients share each of a few others (load.ts says why).
 */
import { startRawReceiver, startRawSender } from './raw.js'
import { randomTexts } from './text.js'
import type { Command, Request, Response } from './ipc.js'
import type { Receiver, Sender } from './endpoint.js'
import type { BenchRecipient, BenchRelay, BenchSender } from './mailbox.js'
import type { ChannelGroup } from './channel-group.js'
import type { LoadClients, LoadRelay } from './load.js'

/**
 * After the parent disconnects, a worker stops its endpoints and must then exit on its own. If it
 * is still alive this long after, something was left open: the worker names it on stderr and
 * exits with code 1 rather than linger.
 */
const EXIT_GRACE_MS = 5_000

/** Loaded on demand: a raw worker runs no pigeon code at all, not even its module loading. */
async function pigeon (): Promise<typeof import('./dm.js')> {
  return await import('./dm.js')
}

async function mailbox (): Promise<typeof import('./mailbox.js')> {
  return await import('./mailbox.js')
}

let receiver: Receiver | undefined
let sender: Sender | undefined
/** Mailbox case roles: at most one per worker. */
let relay: BenchRelay | undefined
let mailSender: BenchSender | undefined
let mailRecipient: BenchRecipient | undefined
/** Channel case: six nodes of one kind. */
let group: ChannelGroup | undefined
/** Load case: a relay, or one share of the clients. */
let loadRelay: LoadRelay | undefined
let loadClients: LoadClients | undefined

function need<T> (role: T | undefined, name: string): T {
  if (role == null) throw new Error(`not a ${name}`)
  return role
}

async function execute (command: Command): Promise<unknown> {
  switch (command.op) {
    case 'receive':
      receiver = command.kind === 'pigeon'
        ? await (await pigeon()).startPigeonReceiver(command.root, command.durability)
        : await startRawReceiver()
      return { address: receiver.address }
    case 'connect': {
      const options = { signal: AbortSignal.timeout(command.timeoutMs) }
      sender = command.kind === 'pigeon'
        ? await (await pigeon()).startPigeonSender(command.root, command.durability, command.address)
        : await startRawSender(command.address, options)
      return {}
    }
    case 'burst': {
      if (sender == null) throw new Error('not a sender')
      const texts = randomTexts(command.count, command.bytes)
      return { ms: await sender.burst(texts, { signal: AbortSignal.timeout(command.timeoutMs) }) }
    }
    case 'pingPong': {
      if (sender == null) throw new Error('not a sender')
      const texts = randomTexts(command.count, command.bytes)
      return { samples: await sender.pingPong(texts, { signal: AbortSignal.timeout(command.timeoutMs) }) }
    }
    case 'received':
      if (receiver == null) throw new Error('not a receiver')
      return { count: receiver.received() }
    case 'stop':
      await shutdown()
      return {}
    case 'levelBaseline': {
      const { levelBaseline } = await import('./level.js')
      return await levelBaseline(command.root, command.durability, command.count, command.bytes, command.batch, { signal: AbortSignal.timeout(command.timeoutMs) })
    }
    case 'relay':
      relay = await (await mailbox()).BenchRelay.start(command.root, command.durability, command.limits)
      return { card: relay.card() }
    case 'relayCounts':
      return await need(relay, 'relay').counts()
    case 'sender':
      mailSender = await (await mailbox()).BenchSender.start(command.root, command.durability, command.retry)
      return { card: mailSender.card() }
    case 'addRecipient':
      await need(mailSender, 'mailbox sender').addRecipient(command.card)
      return {}
    case 'deposit': {
      const texts = randomTexts(command.count, command.bytes)
      return await need(mailSender, 'mailbox sender').deposit(texts, { signal: AbortSignal.timeout(command.timeoutMs) })
    }
    case 'armDelivered':
      need(mailSender, 'mailbox sender').armDelivered()
      return {}
    case 'awaitDelivered':
      return { ms: await need(mailSender, 'mailbox sender').awaitDelivered({ signal: AbortSignal.timeout(command.timeoutMs) }) }
    case 'recipient':
      mailRecipient = await (await mailbox()).BenchRecipient.start(command.root, command.durability, command.relayCard)
      return { card: mailRecipient.card() }
    case 'goOffline':
      await need(mailRecipient, 'mailbox recipient').goOffline(command.senderCard)
      return {}
    case 'drain':
      return await need(mailRecipient, 'mailbox recipient').drain(command.count, { signal: AbortSignal.timeout(command.timeoutMs) })
    case 'channelGroup': {
      const options = { signal: AbortSignal.timeout(command.timeoutMs) }
      const start = performance.now()
      group = command.kind === 'pigeon'
        ? await (await import('./channel-pigeon.js')).startPigeonGroup(command.members, command.root, command.durability, options)
        : await (await import('./channel-raw.js')).startRawGroup(command.members, options)
      return { shape: group.shape(), setupMs: performance.now() - start }
    }
    case 'channelBurst':
      return await need(group, 'channel group').burst(command.count, command.bytes, command.concurrency, { signal: AbortSignal.timeout(command.timeoutMs) })
    case 'channelLatency':
      return { samples: await need(group, 'channel group').latency(command.count, command.bytes, { signal: AbortSignal.timeout(command.timeoutMs) }) }
    case 'channelShape': {
      const g = need(group, 'channel group')
      return { shape: g.shape(), unexpected: g.unexpected() }
    }
    case 'quiet':
      return { ms: (await (await import('./quiet.js')).quiet({ signal: AbortSignal.timeout(command.timeoutMs) })).waitedMs }
    case 'loadRelay':
      loadRelay = await (await import('./load.js')).LoadRelay.start(command.kind, command.root, command.durability, command.limits, command.maxConnections)
      return { address: loadRelay.address(), operatorUrl: loadRelay.operatorUrl }
    case 'loadProbe':
      return need(loadRelay, 'load relay').probe(command.resetLag === true)
    case 'loadMemory':
      return (await import('./load.js')).memory()
    case 'loadClients': {
      const { clients, started } = await (await import('./load.js')).LoadClients.start(command.first, command.count, command.relayAddr, { signal: AbortSignal.timeout(command.timeoutMs) })
      loadClients = clients
      return started
    }
    case 'loadRun':
      return await need(loadClients, 'load clients').run(command.peers, command.bytes, command.warmupMs, command.durationMs, command.intervalMs, { signal: AbortSignal.timeout(command.timeoutMs) })
  }
}

async function shutdown (): Promise<void> {
  const endpoints = [sender, receiver, relay, mailSender, mailRecipient, group, loadRelay, loadClients]
  sender = undefined
  receiver = undefined
  relay = undefined
  mailSender = undefined
  mailRecipient = undefined
  group = undefined
  loadRelay = undefined
  loadClients = undefined
  await Promise.all(endpoints.map(async e => e?.stop()))
}

process.on('message', (msg: Request) => {
  execute(msg.command).then(
    result => ({ id: msg.id, ok: true as const, result }),
    (err: any) => ({ id: msg.id, ok: false as const, error: `${err?.name ?? 'Error'}: ${err?.message ?? String(err)}` })
  ).then((response: Response) => {
    if (process.connected) process.send?.(response)
  }, () => {})
})

process.once('disconnect', () => {
  setTimeout(() => {
    process.stderr.write(`worker ${process.argv[2]}: still running ${EXIT_GRACE_MS} ms after its endpoints stopped; open: ${process.getActiveResourcesInfo().join(', ')}\n`)
    process.exit(1)
  }, EXIT_GRACE_MS).unref()
  shutdown().catch((err: any) => { process.stderr.write(`worker ${process.argv[2]}: ${err.message}\n`) })
})
