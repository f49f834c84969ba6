import { decodeMessage, encodeMessage, MaxLengthError, message, streamMessage } from 'protons-runtime'
import { alloc as uint8ArrayAlloc } from 'uint8arrays/alloc'
import type { Codec, DecodeOptions } from 'protons-runtime'
import type { Uint8ArrayList } from 'uint8arraylist'

export interface Frame {
  version: number
  nonce: Uint8Array<ArrayBuffer>
  ciphertext: Uint8Array<ArrayBuffer>
}

export namespace Frame {
  let _codec: Codec<Frame>

  export const codec = (): Codec<Frame> => {
    if (_codec == null) {
      _codec = message<Frame>((obj, w, opts = {}) => {
        if (opts.lengthDelimited !== false) {
          w.fork()
        }

        if ((obj.version != null && obj.version !== 0)) {
          w.uint32(8)
          w.uint32(obj.version)
        }

        if ((obj.nonce != null && obj.nonce.byteLength > 0)) {
          w.uint32(18)
          w.bytes(obj.nonce)
        }

        if ((obj.ciphertext != null && obj.ciphertext.byteLength > 0)) {
          w.uint32(26)
          w.bytes(obj.ciphertext)
        }

        if (opts.lengthDelimited !== false) {
          w.ldelim()
        }
      }, (reader, length, opts = {}) => {
        const obj: any = {
          version: 0,
          nonce: uint8ArrayAlloc(0),
          ciphertext: uint8ArrayAlloc(0)
        }

        const end = length == null ? reader.len : reader.pos + length

        while (reader.pos < end) {
          const tag = reader.uint32()

          switch (tag >>> 3) {
            case 1: {
              obj.version = reader.uint32()
              break
            }
            case 2: {
              obj.nonce = reader.bytes()
              break
            }
            case 3: {
              obj.ciphertext = reader.bytes()
              break
            }
            default: {
              reader.skipType(tag & 7)
              break
            }
          }
        }

        return obj
      }, function * (reader, length, prefix, opts = {}) {
        const end = length == null ? reader.len : reader.pos + length

        while (reader.pos < end) {
          const tag = reader.uint32()

          switch (tag >>> 3) {
            case 1: {
              yield {
                field: `${prefix}.version`,
                value: reader.uint32()
              }
              break
            }
            case 2: {
              yield {
                field: `${prefix}.nonce`,
                value: reader.bytes()
              }
              break
            }
            case 3: {
              yield {
                field: `${prefix}.ciphertext`,
                value: reader.bytes()
              }
              break
            }
            default: {
              reader.skipType(tag & 7)
              break
            }
          }
        }
      })
    }

    return _codec
  }

  export interface FrameVersionFieldEvent {
    field: '$.version'
    value: number
  }

  export interface FrameNonceFieldEvent {
    field: '$.nonce'
    value: Uint8Array<ArrayBuffer>
  }

  export interface FrameCiphertextFieldEvent {
    field: '$.ciphertext'
    value: Uint8Array<ArrayBuffer>
  }

  export function encode (obj: Partial<Frame>): Uint8Array<ArrayBuffer> {
    return encodeMessage(obj, Frame.codec())
  }

  export function decode (buf: Uint8Array | Uint8ArrayList, opts?: DecodeOptions<Frame>): Frame {
    return decodeMessage(buf, Frame.codec(), opts)
  }

  export function stream (buf: Uint8Array | Uint8ArrayList, opts?: DecodeOptions<Frame>): Generator<FrameVersionFieldEvent | FrameNonceFieldEvent | FrameCiphertextFieldEvent> {
    return streamMessage(buf, Frame.codec(), opts)
  }
}

export interface Signed {
  author: Uint8Array<ArrayBuffer>
  signature: Uint8Array<ArrayBuffer>
  post: Uint8Array<ArrayBuffer>
}

export namespace Signed {
  let _codec: Codec<Signed>

  export const codec = (): Codec<Signed> => {
    if (_codec == null) {
      _codec = message<Signed>((obj, w, opts = {}) => {
        if (opts.lengthDelimited !== false) {
          w.fork()
        }

        if ((obj.author != null && obj.author.byteLength > 0)) {
          w.uint32(10)
          w.bytes(obj.author)
        }

        if ((obj.signature != null && obj.signature.byteLength > 0)) {
          w.uint32(18)
          w.bytes(obj.signature)
        }

        if ((obj.post != null && obj.post.byteLength > 0)) {
          w.uint32(26)
          w.bytes(obj.post)
        }

        if (opts.lengthDelimited !== false) {
          w.ldelim()
        }
      }, (reader, length, opts = {}) => {
        const obj: any = {
          author: uint8ArrayAlloc(0),
          signature: uint8ArrayAlloc(0),
          post: uint8ArrayAlloc(0)
        }

        const end = length == null ? reader.len : reader.pos + length

        while (reader.pos < end) {
          const tag = reader.uint32()

          switch (tag >>> 3) {
            case 1: {
              obj.author = reader.bytes()
              break
            }
            case 2: {
              obj.signature = reader.bytes()
              break
            }
            case 3: {
              obj.post = reader.bytes()
              break
            }
            default: {
              reader.skipType(tag & 7)
              break
            }
          }
        }

        return obj
      }, function * (reader, length, prefix, opts = {}) {
        const end = length == null ? reader.len : reader.pos + length

        while (reader.pos < end) {
          const tag = reader.uint32()

          switch (tag >>> 3) {
            case 1: {
              yield {
                field: `${prefix}.author`,
                value: reader.bytes()
              }
              break
            }
            case 2: {
              yield {
                field: `${prefix}.signature`,
                value: reader.bytes()
              }
              break
            }
            case 3: {
              yield {
                field: `${prefix}.post`,
                value: reader.bytes()
              }
              break
            }
            default: {
              reader.skipType(tag & 7)
              break
            }
          }
        }
      })
    }

    return _codec
  }

  export interface SignedAuthorFieldEvent {
    field: '$.author'
    value: Uint8Array<ArrayBuffer>
  }

  export interface SignedSignatureFieldEvent {
    field: '$.signature'
    value: Uint8Array<ArrayBuffer>
  }

  export interface SignedPostFieldEvent {
    field: '$.post'
    value: Uint8Array<ArrayBuffer>
  }

  export function encode (obj: Partial<Signed>): Uint8Array<ArrayBuffer> {
    return encodeMessage(obj, Signed.codec())
  }

  export function decode (buf: Uint8Array | Uint8ArrayList, opts?: DecodeOptions<Signed>): Signed {
    return decodeMessage(buf, Signed.codec(), opts)
  }

  export function stream (buf: Uint8Array | Uint8ArrayList, opts?: DecodeOptions<Signed>): Generator<SignedAuthorFieldEvent | SignedSignatureFieldEvent | SignedPostFieldEvent> {
    return streamMessage(buf, Signed.codec(), opts)
  }
}

export interface Post {
  kind: number
  id: Uint8Array<ArrayBuffer>
  wall: bigint
  counter: number
  text: string
  relays: Uint8Array<ArrayBuffer>[]
  addrs: Uint8Array<ArrayBuffer>[]
  member: Uint8Array<ArrayBuffer>
  nextEpoch: number
}

export namespace Post {
  let _codec: Codec<Post>

  export const codec = (): Codec<Post> => {
    if (_codec == null) {
      _codec = message<Post>((obj, w, opts = {}) => {
        if (opts.lengthDelimited !== false) {
          w.fork()
        }

        if ((obj.kind != null && obj.kind !== 0)) {
          w.uint32(8)
          w.uint32(obj.kind)
        }

        if ((obj.id != null && obj.id.byteLength > 0)) {
          w.uint32(18)
          w.bytes(obj.id)
        }

        if ((obj.wall != null && obj.wall !== 0n)) {
          w.uint32(24)
          w.uint64(obj.wall)
        }

        if ((obj.counter != null && obj.counter !== 0)) {
          w.uint32(32)
          w.uint32(obj.counter)
        }

        if ((obj.text != null && obj.text !== '')) {
          w.uint32(42)
          w.string(obj.text)
        }

        if (obj.relays != null && obj.relays.length > 0) {
          for (const value of obj.relays) {
            w.uint32(50)
            w.bytes(value)
          }
        }

        if (obj.addrs != null && obj.addrs.length > 0) {
          for (const value of obj.addrs) {
            w.uint32(58)
            w.bytes(value)
          }
        }

        if ((obj.member != null && obj.member.byteLength > 0)) {
          w.uint32(66)
          w.bytes(obj.member)
        }

        if ((obj.nextEpoch != null && obj.nextEpoch !== 0)) {
          w.uint32(72)
          w.uint32(obj.nextEpoch)
        }

        if (opts.lengthDelimited !== false) {
          w.ldelim()
        }
      }, (reader, length, opts = {}) => {
        const obj: any = {
          kind: 0,
          id: uint8ArrayAlloc(0),
          wall: 0n,
          counter: 0,
          text: '',
          relays: [],
          addrs: [],
          member: uint8ArrayAlloc(0),
          nextEpoch: 0
        }

        const end = length == null ? reader.len : reader.pos + length

        while (reader.pos < end) {
          const tag = reader.uint32()

          switch (tag >>> 3) {
            case 1: {
              obj.kind = reader.uint32()
              break
            }
            case 2: {
              obj.id = reader.bytes()
              break
            }
            case 3: {
              obj.wall = reader.uint64()
              break
            }
            case 4: {
              obj.counter = reader.uint32()
              break
            }
            case 5: {
              obj.text = reader.string()
              break
            }
            case 6: {
              if (opts.limits?.relays != null && obj.relays.length === opts.limits.relays) {
                throw new MaxLengthError('Decode error - repeated field "relays" had too many elements')
              }

              obj.relays.push(reader.bytes())
              break
            }
            case 7: {
              if (opts.limits?.addrs != null && obj.addrs.length === opts.limits.addrs) {
                throw new MaxLengthError('Decode error - repeated field "addrs" had too many elements')
              }

              obj.addrs.push(reader.bytes())
              break
            }
            case 8: {
              obj.member = reader.bytes()
              break
            }
            case 9: {
              obj.nextEpoch = reader.uint32()
              break
            }
            default: {
              reader.skipType(tag & 7)
              break
            }
          }
        }

        return obj
      }, function * (reader, length, prefix, opts = {}) {
        const obj = {
          relays: 0,
          addrs: 0
        }

        const end = length == null ? reader.len : reader.pos + length

        while (reader.pos < end) {
          const tag = reader.uint32()

          switch (tag >>> 3) {
            case 1: {
              yield {
                field: `${prefix}.kind`,
                value: reader.uint32()
              }
              break
            }
            case 2: {
              yield {
                field: `${prefix}.id`,
                value: reader.bytes()
              }
              break
            }
            case 3: {
              yield {
                field: `${prefix}.wall`,
                value: reader.uint64()
              }
              break
            }
            case 4: {
              yield {
                field: `${prefix}.counter`,
                value: reader.uint32()
              }
              break
            }
            case 5: {
              yield {
                field: `${prefix}.text`,
                value: reader.string()
              }
              break
            }
            case 6: {
              if (opts.limits?.relays != null && obj.relays === opts.limits.relays) {
                throw new MaxLengthError('Streaming decode error - repeated field "relays" had too many elements')
              }

              yield {
                field: `${prefix}.relays[]`,
                index: obj.relays,
                value: reader.bytes()
              }

              obj.relays++

              break
            }
            case 7: {
              if (opts.limits?.addrs != null && obj.addrs === opts.limits.addrs) {
                throw new MaxLengthError('Streaming decode error - repeated field "addrs" had too many elements')
              }

              yield {
                field: `${prefix}.addrs[]`,
                index: obj.addrs,
                value: reader.bytes()
              }

              obj.addrs++

              break
            }
            case 8: {
              yield {
                field: `${prefix}.member`,
                value: reader.bytes()
              }
              break
            }
            case 9: {
              yield {
                field: `${prefix}.nextEpoch`,
                value: reader.uint32()
              }
              break
            }
            default: {
              reader.skipType(tag & 7)
              break
            }
          }
        }
      })
    }

    return _codec
  }

  export interface PostKindFieldEvent {
    field: '$.kind'
    value: number
  }

  export interface PostIdFieldEvent {
    field: '$.id'
    value: Uint8Array<ArrayBuffer>
  }

  export interface PostWallFieldEvent {
    field: '$.wall'
    value: bigint
  }

  export interface PostCounterFieldEvent {
    field: '$.counter'
    value: number
  }

  export interface PostTextFieldEvent {
    field: '$.text'
    value: string
  }

  export interface PostRelaysFieldEvent {
    field: '$.relays[]'
    index: number
    value: Uint8Array<ArrayBuffer>
  }

  export interface PostAddrsFieldEvent {
    field: '$.addrs[]'
    index: number
    value: Uint8Array<ArrayBuffer>
  }

  export interface PostMemberFieldEvent {
    field: '$.member'
    value: Uint8Array<ArrayBuffer>
  }

  export interface PostNextEpochFieldEvent {
    field: '$.nextEpoch'
    value: number
  }

  export function encode (obj: Partial<Post>): Uint8Array<ArrayBuffer> {
    return encodeMessage(obj, Post.codec())
  }

  export function decode (buf: Uint8Array | Uint8ArrayList, opts?: DecodeOptions<Post>): Post {
    return decodeMessage(buf, Post.codec(), opts)
  }

  export function stream (buf: Uint8Array | Uint8ArrayList, opts?: DecodeOptions<Post>): Generator<PostKindFieldEvent | PostIdFieldEvent | PostWallFieldEvent | PostCounterFieldEvent | PostTextFieldEvent | PostRelaysFieldEvent | PostAddrsFieldEvent | PostMemberFieldEvent | PostNextEpochFieldEvent> {
    return streamMessage(buf, Post.codec(), opts)
  }
}

export interface Invite {
  channel: Uint8Array<ArrayBuffer>
  name: string
  creator: Uint8Array<ArrayBuffer>
  epoch: number
  key: Uint8Array<ArrayBuffer>
  inviter: Uint8Array<ArrayBuffer>
  addrs: Uint8Array<ArrayBuffer>[]
  relays: Uint8Array<ArrayBuffer>[]
  createdAt: bigint
  nonce: Uint8Array<ArrayBuffer>
}

export namespace Invite {
  let _codec: Codec<Invite>

  export const codec = (): Codec<Invite> => {
    if (_codec == null) {
      _codec = message<Invite>((obj, w, opts = {}) => {
        if (opts.lengthDelimited !== false) {
          w.fork()
        }

        if ((obj.channel != null && obj.channel.byteLength > 0)) {
          w.uint32(10)
          w.bytes(obj.channel)
        }

        if ((obj.name != null && obj.name !== '')) {
          w.uint32(18)
          w.string(obj.name)
        }

        if ((obj.creator != null && obj.creator.byteLength > 0)) {
          w.uint32(26)
          w.bytes(obj.creator)
        }

        if ((obj.epoch != null && obj.epoch !== 0)) {
          w.uint32(32)
          w.uint32(obj.epoch)
        }

        if ((obj.key != null && obj.key.byteLength > 0)) {
          w.uint32(42)
          w.bytes(obj.key)
        }

        if ((obj.inviter != null && obj.inviter.byteLength > 0)) {
          w.uint32(50)
          w.bytes(obj.inviter)
        }

        if (obj.addrs != null && obj.addrs.length > 0) {
          for (const value of obj.addrs) {
            w.uint32(58)
            w.bytes(value)
          }
        }

        if (obj.relays != null && obj.relays.length > 0) {
          for (const value of obj.relays) {
            w.uint32(66)
            w.bytes(value)
          }
        }

        if ((obj.createdAt != null && obj.createdAt !== 0n)) {
          w.uint32(72)
          w.uint64(obj.createdAt)
        }

        if ((obj.nonce != null && obj.nonce.byteLength > 0)) {
          w.uint32(82)
          w.bytes(obj.nonce)
        }

        if (opts.lengthDelimited !== false) {
          w.ldelim()
        }
      }, (reader, length, opts = {}) => {
        const obj: any = {
          channel: uint8ArrayAlloc(0),
          name: '',
          creator: uint8ArrayAlloc(0),
          epoch: 0,
          key: uint8ArrayAlloc(0),
          inviter: uint8ArrayAlloc(0),
          addrs: [],
          relays: [],
          createdAt: 0n,
          nonce: uint8ArrayAlloc(0)
        }

        const end = length == null ? reader.len : reader.pos + length

        while (reader.pos < end) {
          const tag = reader.uint32()

          switch (tag >>> 3) {
            case 1: {
              obj.channel = reader.bytes()
              break
            }
            case 2: {
              obj.name = reader.string()
              break
            }
            case 3: {
              obj.creator = reader.bytes()
              break
            }
            case 4: {
              obj.epoch = reader.uint32()
              break
            }
            case 5: {
              obj.key = reader.bytes()
              break
            }
            case 6: {
              obj.inviter = reader.bytes()
              break
            }
            case 7: {
              if (opts.limits?.addrs != null && obj.addrs.length === opts.limits.addrs) {
                throw new MaxLengthError('Decode error - repeated field "addrs" had too many elements')
              }

              obj.addrs.push(reader.bytes())
              break
            }
            case 8: {
              if (opts.limits?.relays != null && obj.relays.length === opts.limits.relays) {
                throw new MaxLengthError('Decode error - repeated field "relays" had too many elements')
              }

              obj.relays.push(reader.bytes())
              break
            }
            case 9: {
              obj.createdAt = reader.uint64()
              break
            }
            case 10: {
              obj.nonce = reader.bytes()
              break
            }
            default: {
              reader.skipType(tag & 7)
              break
            }
          }
        }

        return obj
      }, function * (reader, length, prefix, opts = {}) {
        const obj = {
          addrs: 0,
          relays: 0
        }

        const end = length == null ? reader.len : reader.pos + length

        while (reader.pos < end) {
          const tag = reader.uint32()

          switch (tag >>> 3) {
            case 1: {
              yield {
                field: `${prefix}.channel`,
                value: reader.bytes()
              }
              break
            }
            case 2: {
              yield {
                field: `${prefix}.name`,
                value: reader.string()
              }
              break
            }
            case 3: {
              yield {
                field: `${prefix}.creator`,
                value: reader.bytes()
              }
              break
            }
            case 4: {
              yield {
                field: `${prefix}.epoch`,
                value: reader.uint32()
              }
              break
            }
            case 5: {
              yield {
                field: `${prefix}.key`,
                value: reader.bytes()
              }
              break
            }
            case 6: {
              yield {
                field: `${prefix}.inviter`,
                value: reader.bytes()
              }
              break
            }
            case 7: {
              if (opts.limits?.addrs != null && obj.addrs === opts.limits.addrs) {
                throw new MaxLengthError('Streaming decode error - repeated field "addrs" had too many elements')
              }

              yield {
                field: `${prefix}.addrs[]`,
                index: obj.addrs,
                value: reader.bytes()
              }

              obj.addrs++

              break
            }
            case 8: {
              if (opts.limits?.relays != null && obj.relays === opts.limits.relays) {
                throw new MaxLengthError('Streaming decode error - repeated field "relays" had too many elements')
              }

              yield {
                field: `${prefix}.relays[]`,
                index: obj.relays,
                value: reader.bytes()
              }

              obj.relays++

              break
            }
            case 9: {
              yield {
                field: `${prefix}.createdAt`,
                value: reader.uint64()
              }
              break
            }
            case 10: {
              yield {
                field: `${prefix}.nonce`,
                value: reader.bytes()
              }
              break
            }
            default: {
              reader.skipType(tag & 7)
              break
            }
          }
        }
      })
    }

    return _codec
  }

  export interface InviteChannelFieldEvent {
    field: '$.channel'
    value: Uint8Array<ArrayBuffer>
  }

  export interface InviteNameFieldEvent {
    field: '$.name'
    value: string
  }

  export interface InviteCreatorFieldEvent {
    field: '$.creator'
    value: Uint8Array<ArrayBuffer>
  }

  export interface InviteEpochFieldEvent {
    field: '$.epoch'
    value: number
  }

  export interface InviteKeyFieldEvent {
    field: '$.key'
    value: Uint8Array<ArrayBuffer>
  }

  export interface InviteInviterFieldEvent {
    field: '$.inviter'
    value: Uint8Array<ArrayBuffer>
  }

  export interface InviteAddrsFieldEvent {
    field: '$.addrs[]'
    index: number
    value: Uint8Array<ArrayBuffer>
  }

  export interface InviteRelaysFieldEvent {
    field: '$.relays[]'
    index: number
    value: Uint8Array<ArrayBuffer>
  }

  export interface InviteCreatedAtFieldEvent {
    field: '$.createdAt'
    value: bigint
  }

  export interface InviteNonceFieldEvent {
    field: '$.nonce'
    value: Uint8Array<ArrayBuffer>
  }

  export function encode (obj: Partial<Invite>): Uint8Array<ArrayBuffer> {
    return encodeMessage(obj, Invite.codec())
  }

  export function decode (buf: Uint8Array | Uint8ArrayList, opts?: DecodeOptions<Invite>): Invite {
    return decodeMessage(buf, Invite.codec(), opts)
  }

  export function stream (buf: Uint8Array | Uint8ArrayList, opts?: DecodeOptions<Invite>): Generator<InviteChannelFieldEvent | InviteNameFieldEvent | InviteCreatorFieldEvent | InviteEpochFieldEvent | InviteKeyFieldEvent | InviteInviterFieldEvent | InviteAddrsFieldEvent | InviteRelaysFieldEvent | InviteCreatedAtFieldEvent | InviteNonceFieldEvent> {
    return streamMessage(buf, Invite.codec(), opts)
  }
}

export interface SignedInvite {
  invite: Uint8Array<ArrayBuffer>
  signature: Uint8Array<ArrayBuffer>
}

export namespace SignedInvite {
  let _codec: Codec<SignedInvite>

  export const codec = (): Codec<SignedInvite> => {
    if (_codec == null) {
      _codec = message<SignedInvite>((obj, w, opts = {}) => {
        if (opts.lengthDelimited !== false) {
          w.fork()
        }

        if ((obj.invite != null && obj.invite.byteLength > 0)) {
          w.uint32(10)
          w.bytes(obj.invite)
        }

        if ((obj.signature != null && obj.signature.byteLength > 0)) {
          w.uint32(18)
          w.bytes(obj.signature)
        }

        if (opts.lengthDelimited !== false) {
          w.ldelim()
        }
      }, (reader, length, opts = {}) => {
        const obj: any = {
          invite: uint8ArrayAlloc(0),
          signature: uint8ArrayAlloc(0)
        }

        const end = length == null ? reader.len : reader.pos + length

        while (reader.pos < end) {
          const tag = reader.uint32()

          switch (tag >>> 3) {
            case 1: {
              obj.invite = reader.bytes()
              break
            }
            case 2: {
              obj.signature = reader.bytes()
              break
            }
            default: {
              reader.skipType(tag & 7)
              break
            }
          }
        }

        return obj
      }, function * (reader, length, prefix, opts = {}) {
        const end = length == null ? reader.len : reader.pos + length

        while (reader.pos < end) {
          const tag = reader.uint32()

          switch (tag >>> 3) {
            case 1: {
              yield {
                field: `${prefix}.invite`,
                value: reader.bytes()
              }
              break
            }
            case 2: {
              yield {
                field: `${prefix}.signature`,
                value: reader.bytes()
              }
              break
            }
            default: {
              reader.skipType(tag & 7)
              break
            }
          }
        }
      })
    }

    return _codec
  }

  export interface SignedInviteInviteFieldEvent {
    field: '$.invite'
    value: Uint8Array<ArrayBuffer>
  }

  export interface SignedInviteSignatureFieldEvent {
    field: '$.signature'
    value: Uint8Array<ArrayBuffer>
  }

  export function encode (obj: Partial<SignedInvite>): Uint8Array<ArrayBuffer> {
    return encodeMessage(obj, SignedInvite.codec())
  }

  export function decode (buf: Uint8Array | Uint8ArrayList, opts?: DecodeOptions<SignedInvite>): SignedInvite {
    return decodeMessage(buf, SignedInvite.codec(), opts)
  }

  export function stream (buf: Uint8Array | Uint8ArrayList, opts?: DecodeOptions<SignedInvite>): Generator<SignedInviteInviteFieldEvent | SignedInviteSignatureFieldEvent> {
    return streamMessage(buf, SignedInvite.codec(), opts)
  }
}

export interface KeyGrant {
  channel: Uint8Array<ArrayBuffer>
  epoch: number
  key: Uint8Array<ArrayBuffer>
  removed: Uint8Array<ArrayBuffer>[]
}

export namespace KeyGrant {
  let _codec: Codec<KeyGrant>

  export const codec = (): Codec<KeyGrant> => {
    if (_codec == null) {
      _codec = message<KeyGrant>((obj, w, opts = {}) => {
        if (opts.lengthDelimited !== false) {
          w.fork()
        }

        if ((obj.channel != null && obj.channel.byteLength > 0)) {
          w.uint32(10)
          w.bytes(obj.channel)
        }

        if ((obj.epoch != null && obj.epoch !== 0)) {
          w.uint32(16)
          w.uint32(obj.epoch)
        }

        if ((obj.key != null && obj.key.byteLength > 0)) {
          w.uint32(26)
          w.bytes(obj.key)
        }

        if (obj.removed != null && obj.removed.length > 0) {
          for (const value of obj.removed) {
            w.uint32(34)
            w.bytes(value)
          }
        }

        if (opts.lengthDelimited !== false) {
          w.ldelim()
        }
      }, (reader, length, opts = {}) => {
        const obj: any = {
          channel: uint8ArrayAlloc(0),
          epoch: 0,
          key: uint8ArrayAlloc(0),
          removed: []
        }

        const end = length == null ? reader.len : reader.pos + length

        while (reader.pos < end) {
          const tag = reader.uint32()

          switch (tag >>> 3) {
            case 1: {
              obj.channel = reader.bytes()
              break
            }
            case 2: {
              obj.epoch = reader.uint32()
              break
            }
            case 3: {
              obj.key = reader.bytes()
              break
            }
            case 4: {
              if (opts.limits?.removed != null && obj.removed.length === opts.limits.removed) {
                throw new MaxLengthError('Decode error - repeated field "removed" had too many elements')
              }

              obj.removed.push(reader.bytes())
              break
            }
            default: {
              reader.skipType(tag & 7)
              break
            }
          }
        }

        return obj
      }, function * (reader, length, prefix, opts = {}) {
        const obj = {
          removed: 0
        }

        const end = length == null ? reader.len : reader.pos + length

        while (reader.pos < end) {
          const tag = reader.uint32()

          switch (tag >>> 3) {
            case 1: {
              yield {
                field: `${prefix}.channel`,
                value: reader.bytes()
              }
              break
            }
            case 2: {
              yield {
                field: `${prefix}.epoch`,
                value: reader.uint32()
              }
              break
            }
            case 3: {
              yield {
                field: `${prefix}.key`,
                value: reader.bytes()
              }
              break
            }
            case 4: {
              if (opts.limits?.removed != null && obj.removed === opts.limits.removed) {
                throw new MaxLengthError('Streaming decode error - repeated field "removed" had too many elements')
              }

              yield {
                field: `${prefix}.removed[]`,
                index: obj.removed,
                value: reader.bytes()
              }

              obj.removed++

              break
            }
            default: {
              reader.skipType(tag & 7)
              break
            }
          }
        }
      })
    }

    return _codec
  }

  export interface KeyGrantChannelFieldEvent {
    field: '$.channel'
    value: Uint8Array<ArrayBuffer>
  }

  export interface KeyGrantEpochFieldEvent {
    field: '$.epoch'
    value: number
  }

  export interface KeyGrantKeyFieldEvent {
    field: '$.key'
    value: Uint8Array<ArrayBuffer>
  }

  export interface KeyGrantRemovedFieldEvent {
    field: '$.removed[]'
    index: number
    value: Uint8Array<ArrayBuffer>
  }

  export function encode (obj: Partial<KeyGrant>): Uint8Array<ArrayBuffer> {
    return encodeMessage(obj, KeyGrant.codec())
  }

  export function decode (buf: Uint8Array | Uint8ArrayList, opts?: DecodeOptions<KeyGrant>): KeyGrant {
    return decodeMessage(buf, KeyGrant.codec(), opts)
  }

  export function stream (buf: Uint8Array | Uint8ArrayList, opts?: DecodeOptions<KeyGrant>): Generator<KeyGrantChannelFieldEvent | KeyGrantEpochFieldEvent | KeyGrantKeyFieldEvent | KeyGrantRemovedFieldEvent> {
    return streamMessage(buf, KeyGrant.codec(), opts)
  }
}

export interface HistoryRequest {
  type: number
  topic: string
  after: bigint
  limit: number
}

export namespace HistoryRequest {
  let _codec: Codec<HistoryRequest>

  export const codec = (): Codec<HistoryRequest> => {
    if (_codec == null) {
      _codec = message<HistoryRequest>((obj, w, opts = {}) => {
        if (opts.lengthDelimited !== false) {
          w.fork()
        }

        if ((obj.type != null && obj.type !== 0)) {
          w.uint32(8)
          w.uint32(obj.type)
        }

        if ((obj.topic != null && obj.topic !== '')) {
          w.uint32(18)
          w.string(obj.topic)
        }

        if ((obj.after != null && obj.after !== 0n)) {
          w.uint32(24)
          w.uint64(obj.after)
        }

        if ((obj.limit != null && obj.limit !== 0)) {
          w.uint32(32)
          w.uint32(obj.limit)
        }

        if (opts.lengthDelimited !== false) {
          w.ldelim()
        }
      }, (reader, length, opts = {}) => {
        const obj: any = {
          type: 0,
          topic: '',
          after: 0n,
          limit: 0
        }

        const end = length == null ? reader.len : reader.pos + length

        while (reader.pos < end) {
          const tag = reader.uint32()

          switch (tag >>> 3) {
            case 1: {
              obj.type = reader.uint32()
              break
            }
            case 2: {
              obj.topic = reader.string()
              break
            }
            case 3: {
              obj.after = reader.uint64()
              break
            }
            case 4: {
              obj.limit = reader.uint32()
              break
            }
            default: {
              reader.skipType(tag & 7)
              break
            }
          }
        }

        return obj
      }, function * (reader, length, prefix, opts = {}) {
        const end = length == null ? reader.len : reader.pos + length

        while (reader.pos < end) {
          const tag = reader.uint32()

          switch (tag >>> 3) {
            case 1: {
              yield {
                field: `${prefix}.type`,
                value: reader.uint32()
              }
              break
            }
            case 2: {
              yield {
                field: `${prefix}.topic`,
                value: reader.string()
              }
              break
            }
            case 3: {
              yield {
                field: `${prefix}.after`,
                value: reader.uint64()
              }
              break
            }
            case 4: {
              yield {
                field: `${prefix}.limit`,
                value: reader.uint32()
              }
              break
            }
            default: {
              reader.skipType(tag & 7)
              break
            }
          }
        }
      })
    }

    return _codec
  }

  export interface HistoryRequestTypeFieldEvent {
    field: '$.type'
    value: number
  }

  export interface HistoryRequestTopicFieldEvent {
    field: '$.topic'
    value: string
  }

  export interface HistoryRequestAfterFieldEvent {
    field: '$.after'
    value: bigint
  }

  export interface HistoryRequestLimitFieldEvent {
    field: '$.limit'
    value: number
  }

  export function encode (obj: Partial<HistoryRequest>): Uint8Array<ArrayBuffer> {
    return encodeMessage(obj, HistoryRequest.codec())
  }

  export function decode (buf: Uint8Array | Uint8ArrayList, opts?: DecodeOptions<HistoryRequest>): HistoryRequest {
    return decodeMessage(buf, HistoryRequest.codec(), opts)
  }

  export function stream (buf: Uint8Array | Uint8ArrayList, opts?: DecodeOptions<HistoryRequest>): Generator<HistoryRequestTypeFieldEvent | HistoryRequestTopicFieldEvent | HistoryRequestAfterFieldEvent | HistoryRequestLimitFieldEvent> {
    return streamMessage(buf, HistoryRequest.codec(), opts)
  }
}

export interface ArchivedFrame {
  seq: bigint
  data: Uint8Array<ArrayBuffer>
}

export namespace ArchivedFrame {
  let _codec: Codec<ArchivedFrame>

  export const codec = (): Codec<ArchivedFrame> => {
    if (_codec == null) {
      _codec = message<ArchivedFrame>((obj, w, opts = {}) => {
        if (opts.lengthDelimited !== false) {
          w.fork()
        }

        if ((obj.seq != null && obj.seq !== 0n)) {
          w.uint32(8)
          w.uint64(obj.seq)
        }

        if ((obj.data != null && obj.data.byteLength > 0)) {
          w.uint32(18)
          w.bytes(obj.data)
        }

        if (opts.lengthDelimited !== false) {
          w.ldelim()
        }
      }, (reader, length, opts = {}) => {
        const obj: any = {
          seq: 0n,
          data: uint8ArrayAlloc(0)
        }

        const end = length == null ? reader.len : reader.pos + length

        while (reader.pos < end) {
          const tag = reader.uint32()

          switch (tag >>> 3) {
            case 1: {
              obj.seq = reader.uint64()
              break
            }
            case 2: {
              obj.data = reader.bytes()
              break
            }
            default: {
              reader.skipType(tag & 7)
              break
            }
          }
        }

        return obj
      }, function * (reader, length, prefix, opts = {}) {
        const end = length == null ? reader.len : reader.pos + length

        while (reader.pos < end) {
          const tag = reader.uint32()

          switch (tag >>> 3) {
            case 1: {
              yield {
                field: `${prefix}.seq`,
                value: reader.uint64()
              }
              break
            }
            case 2: {
              yield {
                field: `${prefix}.data`,
                value: reader.bytes()
              }
              break
            }
            default: {
              reader.skipType(tag & 7)
              break
            }
          }
        }
      })
    }

    return _codec
  }

  export interface ArchivedFrameSeqFieldEvent {
    field: '$.seq'
    value: bigint
  }

  export interface ArchivedFrameDataFieldEvent {
    field: '$.data'
    value: Uint8Array<ArrayBuffer>
  }

  export function encode (obj: Partial<ArchivedFrame>): Uint8Array<ArrayBuffer> {
    return encodeMessage(obj, ArchivedFrame.codec())
  }

  export function decode (buf: Uint8Array | Uint8ArrayList, opts?: DecodeOptions<ArchivedFrame>): ArchivedFrame {
    return decodeMessage(buf, ArchivedFrame.codec(), opts)
  }

  export function stream (buf: Uint8Array | Uint8ArrayList, opts?: DecodeOptions<ArchivedFrame>): Generator<ArchivedFrameSeqFieldEvent | ArchivedFrameDataFieldEvent> {
    return streamMessage(buf, ArchivedFrame.codec(), opts)
  }
}

export interface HistoryResponse {
  status: number
  message: string
  frames: ArchivedFrame[]
  more: boolean
}

export namespace HistoryResponse {
  let _codec: Codec<HistoryResponse>

  export const codec = (): Codec<HistoryResponse> => {
    if (_codec == null) {
      _codec = message<HistoryResponse>((obj, w, opts = {}) => {
        if (opts.lengthDelimited !== false) {
          w.fork()
        }

        if ((obj.status != null && obj.status !== 0)) {
          w.uint32(8)
          w.uint32(obj.status)
        }

        if ((obj.message != null && obj.message !== '')) {
          w.uint32(18)
          w.string(obj.message)
        }

        if (obj.frames != null && obj.frames.length > 0) {
          for (const value of obj.frames) {
            w.uint32(26)
            ArchivedFrame.codec().encode(value, w)
          }
        }

        if ((obj.more != null && obj.more !== false)) {
          w.uint32(32)
          w.bool(obj.more)
        }

        if (opts.lengthDelimited !== false) {
          w.ldelim()
        }
      }, (reader, length, opts = {}) => {
        const obj: any = {
          status: 0,
          message: '',
          frames: [],
          more: false
        }

        const end = length == null ? reader.len : reader.pos + length

        while (reader.pos < end) {
          const tag = reader.uint32()

          switch (tag >>> 3) {
            case 1: {
              obj.status = reader.uint32()
              break
            }
            case 2: {
              obj.message = reader.string()
              break
            }
            case 3: {
              if (opts.limits?.frames != null && obj.frames.length === opts.limits.frames) {
                throw new MaxLengthError('Decode error - repeated field "frames" had too many elements')
              }

              obj.frames.push(ArchivedFrame.codec().decode(reader, reader.uint32(), {
                limits: opts.limits?.frames$
              }))
              break
            }
            case 4: {
              obj.more = reader.bool()
              break
            }
            default: {
              reader.skipType(tag & 7)
              break
            }
          }
        }

        return obj
      }, function * (reader, length, prefix, opts = {}) {
        const obj = {
          frames: 0
        }

        const end = length == null ? reader.len : reader.pos + length

        while (reader.pos < end) {
          const tag = reader.uint32()

          switch (tag >>> 3) {
            case 1: {
              yield {
                field: `${prefix}.status`,
                value: reader.uint32()
              }
              break
            }
            case 2: {
              yield {
                field: `${prefix}.message`,
                value: reader.string()
              }
              break
            }
            case 3: {
              if (opts.limits?.frames != null && obj.frames === opts.limits.frames) {
                throw new MaxLengthError('Streaming decode error - repeated field "frames" had too many elements')
              }

              for (const evt of ArchivedFrame.codec().stream(reader, reader.uint32(), `${prefix}.frames[]`, {
                limits: opts.limits?.frames$
              })) {
                yield {
                  ...evt,
                  index: obj.frames
                }
              }

              obj.frames++

              break
            }
            case 4: {
              yield {
                field: `${prefix}.more`,
                value: reader.bool()
              }
              break
            }
            default: {
              reader.skipType(tag & 7)
              break
            }
          }
        }
      })
    }

    return _codec
  }

  export interface HistoryResponseStatusFieldEvent {
    field: '$.status'
    value: number
  }

  export interface HistoryResponseMessageFieldEvent {
    field: '$.message'
    value: string
  }

  export interface HistoryResponseFramesSeqFieldEvent {
    field: '$.frames[].seq'
    value: bigint
    index: number
  }

  export interface HistoryResponseFramesDataFieldEvent {
    field: '$.frames[].data'
    value: Uint8Array<ArrayBuffer>
    index: number
  }

  export interface HistoryResponseMoreFieldEvent {
    field: '$.more'
    value: boolean
  }

  export function encode (obj: Partial<HistoryResponse>): Uint8Array<ArrayBuffer> {
    return encodeMessage(obj, HistoryResponse.codec())
  }

  export function decode (buf: Uint8Array | Uint8ArrayList, opts?: DecodeOptions<HistoryResponse>): HistoryResponse {
    return decodeMessage(buf, HistoryResponse.codec(), opts)
  }

  export function stream (buf: Uint8Array | Uint8ArrayList, opts?: DecodeOptions<HistoryResponse>): Generator<HistoryResponseStatusFieldEvent | HistoryResponseMessageFieldEvent | HistoryResponseFramesSeqFieldEvent | HistoryResponseFramesDataFieldEvent | HistoryResponseMoreFieldEvent> {
    return streamMessage(buf, HistoryResponse.codec(), opts)
  }
}
