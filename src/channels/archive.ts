/**
 * A relay's side of channels: it subscribes to the topics its clients ask it to archive, checks
 * what it can (size and structure: it holds no key), keeps the frames, and serves them back a
 * page at a time over /pigeon/history/1.0.0.
 */
import { TopicValidatorResult } from '@libp2p/gossipsub'
import { checkFrame, frameId } from './crypto.js'
import { MAX_ARCHIVE_TOPICS, DEFAULT_ARCHIVE_MESSAGES, DEFAULT_ARCHIVE_TOPICS, DEFAULT_ARCHIVE_TOPICS_PER_PEER, DEFAULT_ARCHIVE_TTL_MS } from './constants.js'
import type { ArchiveStore } from './archive-store.js'
import type { ChannelTopics } from './gossip.js'
import type { HistoryServer } from './history.js'
import type { Logger, PeerId } from '@libp2p/interface'

export interface ArchiveLimits {
  /** Topics one peer may ask this relay to archive. @default DEFAULT_ARCHIVE_TOPICS_PER_PEER (256) */
  archiveTopicsPerPeer?: number
  /** Topics archived in all. @default DEFAULT_ARCHIVE_TOPICS (4000) */
  archiveTopics?: number
  /** Frames kept per topic, oldest dropped first. @default DEFAULT_ARCHIVE_MESSAGES (10000) */
  archiveMessages?: number
  /** How long a frame is kept, ms. @default DEFAULT_ARCHIVE_TTL_MS (30 days) */
  archiveTtl?: number
}

export interface ArchiveInit extends ArchiveLimits {
  store: ArchiveStore
  topics: ChannelTopics
  /** Who may ask for a topic to be archived: 'open', or these peer ids (the relay's clients). */
  serve: 'open' | Set<string>
  log: Logger
  /** How often expired frames are swept, ms. */
  sweepInterval: number
}

export class ChannelArchive implements HistoryServer {
  private readonly init: ArchiveInit
  private readonly perPeer: number
  private readonly total: number
  private readonly maxMessages: number
  private readonly ttl: number
  /** Frames validated and waiting for the next write, per topic: one batch for a burst. */
  private queue = new Map<string, Array<{ id: string, data: Uint8Array }>>()
  private flushing?: Promise<void>
  private sweeper?: ReturnType<typeof setInterval>
  readonly stats = { archived: 0, rejected: 0, served: 0, expired: 0 }

  constructor (init: ArchiveInit) {
    this.init = init
    this.perPeer = init.archiveTopicsPerPeer ?? DEFAULT_ARCHIVE_TOPICS_PER_PEER
    this.total = Math.min(init.archiveTopics ?? DEFAULT_ARCHIVE_TOPICS, MAX_ARCHIVE_TOPICS)
    this.maxMessages = init.archiveMessages ?? DEFAULT_ARCHIVE_MESSAGES
    this.ttl = init.archiveTtl ?? DEFAULT_ARCHIVE_TTL_MS
  }

  start (): void {
    for (const topic of this.init.store.topics.keys()) this.subscribe(topic)
    void this.sweep()
    this.sweeper = setInterval(() => { void this.sweep() }, this.init.sweepInterval)
    this.sweeper.unref()
  }

  async stop (): Promise<void> {
    clearInterval(this.sweeper)
    for (const topic of this.init.store.topics.keys()) this.init.topics.leave(topic, 'archive')
    await this.flushing
  }

  private subscribe (topic: string): void {
    this.init.topics.join(topic, 'archive', (data) => this.check(topic, data))
  }

  private check (topic: string, data: Uint8Array): TopicValidatorResult {
    try {
      checkFrame(data)
    } catch {
      this.stats.rejected++
      return TopicValidatorResult.Reject
    }
    const list = this.queue.get(topic) ?? []
    list.push({ id: Buffer.from(frameId(data)).toString('hex'), data })
    this.queue.set(topic, list)
    this.flushing ??= this.flush()
    return TopicValidatorResult.Accept
  }

  private async flush (): Promise<void> {
    try {
      while (this.queue.size > 0) {
        const batch = this.queue
        this.queue = new Map()
        for (const [topic, frames] of batch) {
          this.stats.archived += await this.init.store.add(topic, frames, this.maxMessages)
        }
      }
    } catch (err: any) {
      this.init.log.error('archiving failed: %s', err.message)
    } finally {
      this.flushing = undefined
    }
  }

  async archive (peer: PeerId, topic: string): Promise<true | string> {
    const who = peer.toString()
    if (this.init.serve !== 'open' && !this.init.serve.has(who)) return 'this relay does not serve you'
    if (!await this.init.store.addTopic(topic, who, { perPeer: this.perPeer, total: this.total })) return 'archive topic limit reached'
    this.subscribe(topic)
    return true
  }

  async page (topic: string, after: number, limit: number, budget: number): Promise<{ frames: Array<{ seq: number, data: Uint8Array }>, more: boolean }> {
    // Frames validated a moment ago are part of the history a member expects to see.
    await this.flushing
    const page = await this.init.store.page(topic, after, limit, budget)
    this.stats.served += page.frames.length
    return page
  }

  async sweep (now = Date.now()): Promise<number> {
    try {
      const { frames, topics } = await this.init.store.sweep(now - this.ttl)
      this.stats.expired += frames
      for (const topic of topics) this.init.topics.leave(topic, 'archive')
      return frames
    } catch (err: any) {
      this.init.log.error('archive sweep failed: %s', err.message)
      return 0
    }
  }

  totals (): { topics: number, frames: number } {
    return this.init.store.totals()
  }
}
