/**
 * Channel cryptography: topics, sealed frames and signed invites.
 *
 *   topic      = "/pigeon/channel/1/" || hex(SHA-256("pigeon-channel-topic-v1\0" || channel id || epoch BE32 || epoch key))[0..32]
 *   aad        = "pigeon-channel-v1\0" || channel id || epoch BE32
 *   frame      = Frame{ version 1, nonce, XChaCha20-Poly1305(epoch key, nonce, aad, Signed{ author, signature, post }) }
 *   signature  = Ed25519(author, "pigeon-channel-sig-v1\0" || channel id || epoch BE32 || post)
 *
 * The topic hides the channel id from anyone who sees only the topic (a relay archiving it), and
 * depends on the epoch key, so a removed member (who knows the channel id but not the new key)
 * cannot even find the new epoch's topic. The
 * author's identity and signature are inside the ciphertext: a relay learns neither.
 */
import { createHash, hash, randomBytes, sign, verify, type KeyObject } from 'node:crypto'
import { xchacha20poly1305 } from '@noble/ciphers/chacha.js'
import { Frame, Invite, Post, Signed, SignedInvite } from './pb/channel.js'
import { peerIdFromBytes, peerKeys, type LocalKeys, type PeerKeys } from '../crypto/keys.js'
import { CHANNEL_ID_LENGTH, CHANNEL_KEY_LENGTH, FRAME_VERSION, MAX_FRAME_BYTES, MAX_POST_ADDRS, TOPIC_PREFIX } from './constants.js'
import { InvalidInviteError } from '../errors.js'
import type { PeerId } from '@libp2p/interface'

const TOPIC_CONTEXT = Buffer.from('pigeon-channel-topic-v1\0')
const AAD_CONTEXT = Buffer.from('pigeon-channel-v1\0')
const SIGNATURE_CONTEXT = Buffer.from('pigeon-channel-sig-v1\0')
const INVITE_CONTEXT = Buffer.from('pigeon-invite-v1\0')
const CHANNEL_ID_CONTEXT = Buffer.from('pigeon-channel-id-v1\0')
const NONCE_LENGTH = 24
/** Invites are text a person copies: this prefix says what it is. */
export const INVITE_PREFIX = 'pigeon-invite:'
/** Largest invite string accepted: its addresses are bounded, so real ones are ~1-2 KiB. */
const MAX_INVITE_CHARS = 16 * 1024

function epochBytes (epoch: number): Buffer {
  const buf = Buffer.alloc(4)
  buf.writeUInt32BE(epoch)
  return buf
}

/** A channel id binds its creator: the first 16 bytes of SHA-256(context || creator peer id bytes || nonce). */
export function channelIdFor (creator: Uint8Array, nonce: Uint8Array): Uint8Array {
  return createHash('sha256').update(CHANNEL_ID_CONTEXT).update(creator).update(nonce).digest().subarray(0, CHANNEL_ID_LENGTH)
}

/** The gossipsub topic of a channel's epoch: only holders of the epoch key can name it. */
export function topicFor (channel: Uint8Array, epoch: number, key: Uint8Array): string {
  const digest = createHash('sha256').update(TOPIC_CONTEXT).update(channel).update(epochBytes(epoch)).update(key).digest('hex')
  return TOPIC_PREFIX + digest.slice(0, 32)
}

/** gossipsub message id: a hash of the data, so a copy of a frame is dropped wherever it arrives. */
export function frameId (data: Uint8Array): Uint8Array {
  // One-shot: every copy of every frame is hashed, and createHash's object costs more than the hash.
  return hash('sha256', data, 'buffer').subarray(0, 20)
}

function aad (channel: Uint8Array, epoch: number): Buffer {
  return Buffer.concat([AAD_CONTEXT, channel, epochBytes(epoch)])
}

function signingInput (channel: Uint8Array, epoch: number, post: Uint8Array): Buffer {
  return Buffer.concat([SIGNATURE_CONTEXT, channel, epochBytes(epoch), post])
}

/** Signs and encrypts an encoded Post for a channel epoch; returns the gossipsub data. */
export function sealPost (local: LocalKeys, channel: Uint8Array, epoch: number, key: Uint8Array, post: Uint8Array): Uint8Array {
  return encryptSigned(local, channel, epoch, key, post, sign(null, signingInput(channel, epoch, post), local.ed25519Private))
}

/** sealPost with the signature made on libuv's thread pool, off the event loop (~28 µs each). */
export async function sealPostAsync (local: LocalKeys, channel: Uint8Array, epoch: number, key: Uint8Array, post: Uint8Array): Promise<Uint8Array> {
  const signature = await signAsync(signingInput(channel, epoch, post), local.ed25519Private)
  return encryptSigned(local, channel, epoch, key, post, signature)
}

async function signAsync (input: Buffer, key: KeyObject): Promise<Buffer> {
  return await new Promise((resolve, reject) => {
    sign(null, input, key, (err, signature) => { if (err != null) reject(err); else resolve(signature) })
  })
}

function encryptSigned (local: LocalKeys, channel: Uint8Array, epoch: number, key: Uint8Array, post: Uint8Array, signature: Uint8Array): Uint8Array {
  const plaintext = Signed.encode({ author: local.idBytes as Uint8Array<ArrayBuffer>, signature: signature as Uint8Array<ArrayBuffer>, post: post as Uint8Array<ArrayBuffer> })
  const nonce = new Uint8Array(randomBytes(NONCE_LENGTH))
  const ciphertext = xchacha20poly1305(key, nonce, aad(channel, epoch)).encrypt(plaintext)
  return Frame.encode({ version: FRAME_VERSION, nonce, ciphertext: ciphertext as Uint8Array<ArrayBuffer> })
}

/** Why a frame was refused. Every reason makes the gossipsub validator reject it. */
export type FrameRejection = 'too-large' | 'malformed' | 'unsupported-version' | 'decrypt-failed' | 'bad-signature'

export class FrameRejectedError extends Error {
  readonly reason: FrameRejection
  /** Found by checkFrame: what a relay, without the key, can check too. */
  readonly outer: boolean
  constructor (reason: FrameRejection, message: string = reason, outer = false) {
    super(message)
    this.name = 'FrameRejectedError'
    this.reason = reason
    this.outer = outer
  }
}

/** Checks only what a relay can check: the size and the outer structure. */
export function checkFrame (data: Uint8Array): Frame {
  if (data.byteLength > MAX_FRAME_BYTES) throw new FrameRejectedError('too-large', 'too-large', true)
  let frame: Frame
  try {
    frame = Frame.decode(data)
  } catch {
    throw new FrameRejectedError('malformed', 'frame does not decode', true)
  }
  if (frame.version !== FRAME_VERSION) throw new FrameRejectedError('unsupported-version', `unsupported frame version ${frame.version}`, true)
  if (frame.nonce.byteLength !== NONCE_LENGTH || frame.ciphertext.byteLength < 16) throw new FrameRejectedError('malformed', 'frame field has the wrong length', true)
  return frame
}

export interface OpenedPost {
  author: PeerId
  post: Post
}

/** Decrypts and verifies a frame with the epoch key. Throws FrameRejectedError. */
export function openFrame (data: Uint8Array, channel: Uint8Array, epoch: number, key: Uint8Array): OpenedPost {
  const opened = decryptFrame(data, channel, epoch, key)
  if (!verify(null, opened.input, opened.keys.ed25519, opened.signed.signature)) {
    throw new FrameRejectedError('bad-signature', 'author signature does not verify')
  }
  return { author: opened.author, post: decodePost(opened.signed.post) }
}

/**
 * openFrame with the signature checked on libuv's thread pool: the check is most of the cost of
 * a frame (~120 µs), and a node receiving a busy channel then uses its other cores for it.
 */
export async function openFrameAsync (data: Uint8Array, channel: Uint8Array, epoch: number, key: Uint8Array): Promise<OpenedPost> {
  const opened = decryptFrame(data, channel, epoch, key)
  const valid = await new Promise<boolean>((resolve) => {
    verify(null, opened.input, opened.keys.ed25519, opened.signed.signature, (err, result) => { resolve(err == null && result) })
  })
  if (!valid) throw new FrameRejectedError('bad-signature', 'author signature does not verify')
  return { author: opened.author, post: decodePost(opened.signed.post) }
}

/** Decrypts a frame and finds its author, leaving the signature to the caller. */
function decryptFrame (data: Uint8Array, channel: Uint8Array, epoch: number, key: Uint8Array): { author: PeerId, keys: PeerKeys, signed: Signed, input: Buffer } {
  const frame = checkFrame(data)
  let plaintext: Uint8Array
  try {
    plaintext = xchacha20poly1305(key, frame.nonce, aad(channel, epoch)).decrypt(frame.ciphertext)
  } catch {
    throw new FrameRejectedError('decrypt-failed', 'frame does not decrypt with the epoch key')
  }
  let signed: Signed
  try {
    signed = Signed.decode(plaintext)
  } catch {
    throw new FrameRejectedError('malformed', 'signed content does not decode')
  }
  const author = peerIdFromBytes(signed.author)
  const keys = author == null ? undefined : peerKeys(author)
  if (author == null || keys == null) throw new FrameRejectedError('malformed', 'author is not an Ed25519 peer id')
  return { author, keys, signed, input: signingInput(channel, epoch, signed.post) }
}

function decodePost (bytes: Uint8Array): Post {
  try {
    return Post.decode(bytes, { limits: { relays: MAX_POST_ADDRS, addrs: MAX_POST_ADDRS } })
  } catch {
    throw new FrameRejectedError('malformed', 'post does not decode')
  }
}


/** Makes the copy-pasteable invite string, signed by `local` (the inviter named inside). */
export function encodeInvite (local: LocalKeys, invite: Invite): string {
  const bytes = Invite.encode(invite)
  const signature = sign(null, Buffer.concat([INVITE_CONTEXT, bytes]), local.ed25519Private)
  return INVITE_PREFIX + Buffer.from(SignedInvite.encode({ invite: bytes, signature })).toString('base64url')
}

export interface DecodedInvite {
  invite: Invite
  creator: PeerId
  inviter: PeerId
}

/** Parses and verifies an invite string. Throws InvalidInviteError with one readable line. */
export function decodeInvite (text: string): DecodedInvite {
  const trimmed = text.trim()
  if (!trimmed.startsWith(INVITE_PREFIX)) throw new InvalidInviteError(`an invite starts with "${INVITE_PREFIX}"`)
  if (trimmed.length > MAX_INVITE_CHARS) throw new InvalidInviteError('the invite is too long')
  let invite: Invite
  let signed: SignedInvite
  try {
    signed = SignedInvite.decode(Buffer.from(trimmed.slice(INVITE_PREFIX.length), 'base64url'))
    invite = Invite.decode(signed.invite, { limits: { addrs: MAX_POST_ADDRS, relays: MAX_POST_ADDRS } })
  } catch {
    throw new InvalidInviteError('the invite is damaged (it does not decode): copy it again in full')
  }
  const inviter = peerIdFromBytes(invite.inviter)
  const creator = peerIdFromBytes(invite.creator)
  const keys = inviter == null ? undefined : peerKeys(inviter)
  if (inviter == null || creator == null || keys == null) throw new InvalidInviteError('the invite names an invalid peer id')
  if (!verify(null, Buffer.concat([INVITE_CONTEXT, signed.invite]), keys.ed25519, signed.signature)) {
    throw new InvalidInviteError('the invite signature does not verify: it was altered')
  }
  if (invite.channel.byteLength !== CHANNEL_ID_LENGTH || invite.key.byteLength !== CHANNEL_KEY_LENGTH) throw new InvalidInviteError('the invite has a malformed channel id or key')
  if (Buffer.compare(channelIdFor(invite.creator, invite.nonce), invite.channel) !== 0) throw new InvalidInviteError('the invite names a creator that did not make this channel')
  return { invite, creator, inviter }
}
