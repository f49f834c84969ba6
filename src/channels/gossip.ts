/**
 * gossipsub as pigeon runs it, and the one validator per topic that both a member (which can
 * decrypt) and a relay's archive (which cannot) hang their checks on.
 *
 * Messages are unsigned at the gossipsub layer (StrictNoSign): the author's signature is inside
 * the ciphertext, and an outer signature would show every relay who posted. The message id is a
 * hash of the data, so a copy of a frame is dropped wherever it arrives.
 *
 * Peer scoring (gossipsub v1.1) is on for channel topics with these choices (docs/protocol.md,
 * "Peer scoring"): P4, invalid messages, weighs heavily and decays within a minute, so a peer
 * that sends a handful of frames that fail validation stops receiving gossip, then our
 * publishes, then is ignored (graylisted), and an honest peer that forwarded one bad frame
 * recovers. P3 (mesh delivery rate) is off: chat is bursty and quiet, and a quiet channel must
 * not penalise its own members. P1/P2 reward time in the mesh and first deliveries a little.
 */
import { gossipsub, TopicValidatorResult, type GossipSub, type GossipsubOpts } from '@libp2p/gossipsub'
import { createTopicScoreParams, type PeerScoreParams } from '@libp2p/gossipsub/score'
import { frameId } from './crypto.js'
import { MAX_GOSSIP_RPC_BYTES } from './constants.js'
import type { PeerId } from '@libp2p/interface'

/** Scores below which a peer gets no gossip, none of our publishes, and nothing of it is processed. */
export const SCORE_THRESHOLDS = {
  gossipThreshold: -100,
  publishThreshold: -200,
  graylistThreshold: -400,
  acceptPXThreshold: 100,
  opportunisticGraftThreshold: 5
}

/** Per-topic score parameters for every channel topic. */
export const CHANNEL_TOPIC_SCORE = {
  topicWeight: 1,
  // P1: up to +3.6 for an hour in the mesh.
  timeInMeshWeight: 0.001,
  timeInMeshQuantum: 1000,
  timeInMeshCap: 3600,
  // P2: +1 per first delivery, decaying, capped at +50.
  firstMessageDeliveriesWeight: 1,
  firstMessageDeliveriesDecay: 0.9,
  firstMessageDeliveriesCap: 50,
  // P3 and P3b off: quiet channels are normal.
  meshMessageDeliveriesWeight: 0,
  meshMessageDeliveriesDecay: 0.5,
  meshMessageDeliveriesCap: 100,
  meshMessageDeliveriesThreshold: 1,
  meshMessageDeliveriesWindow: 10,
  meshMessageDeliveriesActivation: 5000,
  meshFailurePenaltyWeight: 0,
  meshFailurePenaltyDecay: 0.5,
  // P4: -10 × (invalid count)²: 4 invalid frames in quick succession put a peer under the gossip
  // threshold, 5 under the publish threshold, 7 on the graylist; the count decays by 10% a second.
  invalidMessageDeliveriesWeight: -10,
  invalidMessageDeliveriesDecay: 0.9
}

/** The gossipsub service with pigeon's settings. */
export function pigeonGossipsub (overrides: Partial<GossipsubOpts> = {}): ReturnType<typeof gossipsub> {
  return gossipsub({
    globalSignaturePolicy: 'StrictNoSign',
    msgIdFn: (msg) => frameId(msg.data),
    // Members behind NAT are reached through their relay's circuit.
    runOnLimitedConnection: true,
    // A post written while no other member is online stays held and is published again later.
    allowPublishToZeroTopicPeers: true,
    ignoreDuplicatePublishError: true,
    // A cap on each gossipsub RPC (subscriptions, control and messages together); each frame's
    // own cap (MAX_FRAME_BYTES) is the validator's.
    maxInboundDataLength: MAX_GOSSIP_RPC_BYTES,
    emitSelf: false,
    scoreParams: {
      // Several members on one host or behind one NAT are normal for a messenger.
      IPColocationFactorWeight: 0,
      behaviourPenaltyWeight: -10,
      behaviourPenaltyDecay: 0.9
    },
    scoreThresholds: SCORE_THRESHOLDS,
    ...overrides
  })
}

export type TopicCheck = (data: Uint8Array, from: PeerId) => TopicValidatorResult | Promise<TopicValidatorResult>

/**
 * Subscriptions and validators shared by the member side and the archive side: a relay that is
 * also a member of a channel archives only what its member side accepts.
 */
export class ChannelTopics {
  private readonly pubsub: GossipSub
  private readonly members = new Map<string, TopicCheck>()
  private readonly archives = new Map<string, TopicCheck>()

  constructor (pubsub: GossipSub) {
    this.pubsub = pubsub
  }

  get gossip (): GossipSub {
    return this.pubsub
  }

  join (topic: string, side: 'member' | 'archive', check: TopicCheck): void {
    (side === 'member' ? this.members : this.archives).set(topic, check)
    if (!this.pubsub.topicValidators.has(topic)) {
      // Scored like every channel topic: P4 counts nothing on a topic without parameters, and
      // channel topics are made at run time, so they cannot be listed in the options up front.
      // The implementation keeps its PeerScore public as `score`; the interface type does not say so.
      const scored = this.pubsub as unknown as { score?: { params: PeerScoreParams } }
      if (scored.score != null) scored.score.params.topics[topic] = createTopicScoreParams(CHANNEL_TOPIC_SCORE)
      this.pubsub.topicValidators.set(topic, async (from, message) => await this.validate(topic, message.data, from))
    }
    // gossipsub does nothing for a topic it already has.
    this.pubsub.subscribe(topic)
  }

  leave (topic: string, side: 'member' | 'archive'): void {
    (side === 'member' ? this.members : this.archives).delete(topic)
    if (this.members.has(topic) || this.archives.has(topic)) return
    this.pubsub.unsubscribe(topic)
    this.pubsub.topicValidators.delete(topic)
    const scored = this.pubsub as unknown as { score?: { params: PeerScoreParams } }
    if (scored.score != null) delete scored.score.params.topics[topic]
  }

  private async validate (topic: string, data: Uint8Array, from: PeerId): Promise<TopicValidatorResult> {
    const member = this.members.get(topic)
    const archive = this.archives.get(topic)
    let result = TopicValidatorResult.Ignore
    if (member != null) result = await member(data, from)
    if (archive != null && result !== TopicValidatorResult.Reject) {
      const archived = await archive(data, from)
      if (member == null) result = archived
    }
    return result
  }
}
