import { decodeMessage, encodeMessage, message, streamMessage } from 'protons-runtime'
import { alloc as uint8ArrayAlloc } from 'uint8arrays/alloc'
import type { Codec, DecodeOptions } from 'protons-runtime'
import type { Uint8ArrayList } from 'uint8arraylist'

export interface SignedPrekey {
  id: number
  publicKey: Uint8Array<ArrayBuffer>
  signature: Uint8Array<ArrayBuffer>
}

export namespace SignedPrekey {
  let _codec: Codec<SignedPrekey>

  export const codec = (): Codec<SignedPrekey> => {
    if (_codec == null) {
      _codec = message<SignedPrekey>((obj, w, opts = {}) => {
        if (opts.lengthDelimited !== false) {
          w.fork()
        }

        if ((obj.id != null && obj.id !== 0)) {
          w.uint32(8)
          w.uint32(obj.id)
        }

        if ((obj.publicKey != null && obj.publicKey.byteLength > 0)) {
          w.uint32(18)
          w.bytes(obj.publicKey)
        }

        if ((obj.signature != null && obj.signature.byteLength > 0)) {
          w.uint32(26)
          w.bytes(obj.signature)
        }

        if (opts.lengthDelimited !== false) {
          w.ldelim()
        }
      }, (reader, length, opts = {}) => {
        const obj: any = {
          id: 0,
          publicKey: uint8ArrayAlloc(0),
          signature: uint8ArrayAlloc(0)
        }

        const end = length == null ? reader.len : reader.pos + length

        while (reader.pos < end) {
          const tag = reader.uint32()

          switch (tag >>> 3) {
            case 1: {
              obj.id = reader.uint32()
              break
            }
            case 2: {
              obj.publicKey = reader.bytes()
              break
            }
            case 3: {
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
                field: `${prefix}.id`,
                value: reader.uint32()
              }
              break
            }
            case 2: {
              yield {
                field: `${prefix}.publicKey`,
                value: reader.bytes()
              }
              break
            }
            case 3: {
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

  export interface SignedPrekeyIdFieldEvent {
    field: '$.id'
    value: number
  }

  export interface SignedPrekeyPublicKeyFieldEvent {
    field: '$.publicKey'
    value: Uint8Array<ArrayBuffer>
  }

  export interface SignedPrekeySignatureFieldEvent {
    field: '$.signature'
    value: Uint8Array<ArrayBuffer>
  }

  export function encode (obj: Partial<SignedPrekey>): Uint8Array<ArrayBuffer> {
    return encodeMessage(obj, SignedPrekey.codec())
  }

  export function decode (buf: Uint8Array | Uint8ArrayList, opts?: DecodeOptions<SignedPrekey>): SignedPrekey {
    return decodeMessage(buf, SignedPrekey.codec(), opts)
  }

  export function stream (buf: Uint8Array | Uint8ArrayList, opts?: DecodeOptions<SignedPrekey>): Generator<SignedPrekeyIdFieldEvent | SignedPrekeyPublicKeyFieldEvent | SignedPrekeySignatureFieldEvent> {
    return streamMessage(buf, SignedPrekey.codec(), opts)
  }
}

export interface OneTimePrekey {
  id: number
  publicKey: Uint8Array<ArrayBuffer>
}

export namespace OneTimePrekey {
  let _codec: Codec<OneTimePrekey>

  export const codec = (): Codec<OneTimePrekey> => {
    if (_codec == null) {
      _codec = message<OneTimePrekey>((obj, w, opts = {}) => {
        if (opts.lengthDelimited !== false) {
          w.fork()
        }

        if ((obj.id != null && obj.id !== 0)) {
          w.uint32(8)
          w.uint32(obj.id)
        }

        if ((obj.publicKey != null && obj.publicKey.byteLength > 0)) {
          w.uint32(18)
          w.bytes(obj.publicKey)
        }

        if (opts.lengthDelimited !== false) {
          w.ldelim()
        }
      }, (reader, length, opts = {}) => {
        const obj: any = {
          id: 0,
          publicKey: uint8ArrayAlloc(0)
        }

        const end = length == null ? reader.len : reader.pos + length

        while (reader.pos < end) {
          const tag = reader.uint32()

          switch (tag >>> 3) {
            case 1: {
              obj.id = reader.uint32()
              break
            }
            case 2: {
              obj.publicKey = reader.bytes()
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
                field: `${prefix}.id`,
                value: reader.uint32()
              }
              break
            }
            case 2: {
              yield {
                field: `${prefix}.publicKey`,
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

  export interface OneTimePrekeyIdFieldEvent {
    field: '$.id'
    value: number
  }

  export interface OneTimePrekeyPublicKeyFieldEvent {
    field: '$.publicKey'
    value: Uint8Array<ArrayBuffer>
  }

  export function encode (obj: Partial<OneTimePrekey>): Uint8Array<ArrayBuffer> {
    return encodeMessage(obj, OneTimePrekey.codec())
  }

  export function decode (buf: Uint8Array | Uint8ArrayList, opts?: DecodeOptions<OneTimePrekey>): OneTimePrekey {
    return decodeMessage(buf, OneTimePrekey.codec(), opts)
  }

  export function stream (buf: Uint8Array | Uint8ArrayList, opts?: DecodeOptions<OneTimePrekey>): Generator<OneTimePrekeyIdFieldEvent | OneTimePrekeyPublicKeyFieldEvent> {
    return streamMessage(buf, OneTimePrekey.codec(), opts)
  }
}

export interface PrekeyBundle {
  identity: Uint8Array<ArrayBuffer>
  signedPrekey?: SignedPrekey
  pqPrekey?: SignedPrekey
  oneTimePrekey?: OneTimePrekey
  pqOneTimePrekey?: SignedPrekey
}

export namespace PrekeyBundle {
  let _codec: Codec<PrekeyBundle>

  export const codec = (): Codec<PrekeyBundle> => {
    if (_codec == null) {
      _codec = message<PrekeyBundle>((obj, w, opts = {}) => {
        if (opts.lengthDelimited !== false) {
          w.fork()
        }

        if ((obj.identity != null && obj.identity.byteLength > 0)) {
          w.uint32(10)
          w.bytes(obj.identity)
        }

        if (obj.signedPrekey != null) {
          w.uint32(18)
          SignedPrekey.codec().encode(obj.signedPrekey, w)
        }

        if (obj.pqPrekey != null) {
          w.uint32(26)
          SignedPrekey.codec().encode(obj.pqPrekey, w)
        }

        if (obj.oneTimePrekey != null) {
          w.uint32(34)
          OneTimePrekey.codec().encode(obj.oneTimePrekey, w)
        }

        if (obj.pqOneTimePrekey != null) {
          w.uint32(42)
          SignedPrekey.codec().encode(obj.pqOneTimePrekey, w)
        }

        if (opts.lengthDelimited !== false) {
          w.ldelim()
        }
      }, (reader, length, opts = {}) => {
        const obj: any = {
          identity: uint8ArrayAlloc(0)
        }

        const end = length == null ? reader.len : reader.pos + length

        while (reader.pos < end) {
          const tag = reader.uint32()

          switch (tag >>> 3) {
            case 1: {
              obj.identity = reader.bytes()
              break
            }
            case 2: {
              obj.signedPrekey = SignedPrekey.codec().decode(reader, reader.uint32(), {
                limits: opts.limits?.signedPrekey
              })
              break
            }
            case 3: {
              obj.pqPrekey = SignedPrekey.codec().decode(reader, reader.uint32(), {
                limits: opts.limits?.pqPrekey
              })
              break
            }
            case 4: {
              obj.oneTimePrekey = OneTimePrekey.codec().decode(reader, reader.uint32(), {
                limits: opts.limits?.oneTimePrekey
              })
              break
            }
            case 5: {
              obj.pqOneTimePrekey = SignedPrekey.codec().decode(reader, reader.uint32(), {
                limits: opts.limits?.pqOneTimePrekey
              })
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
                field: `${prefix}.identity`,
                value: reader.bytes()
              }
              break
            }
            case 2: {
              yield * SignedPrekey.codec().stream(reader, reader.uint32(), `${prefix}.signedPrekey`, {
                limits: opts.limits?.signedPrekey
              })

              break
            }
            case 3: {
              yield * SignedPrekey.codec().stream(reader, reader.uint32(), `${prefix}.pqPrekey`, {
                limits: opts.limits?.pqPrekey
              })

              break
            }
            case 4: {
              yield * OneTimePrekey.codec().stream(reader, reader.uint32(), `${prefix}.oneTimePrekey`, {
                limits: opts.limits?.oneTimePrekey
              })

              break
            }
            case 5: {
              yield * SignedPrekey.codec().stream(reader, reader.uint32(), `${prefix}.pqOneTimePrekey`, {
                limits: opts.limits?.pqOneTimePrekey
              })

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

  export interface PrekeyBundleIdentityFieldEvent {
    field: '$.identity'
    value: Uint8Array<ArrayBuffer>
  }

  export interface PrekeyBundleSignedPrekeyIdFieldEvent {
    field: '$.signedPrekey.id'
    value: number
  }

  export interface PrekeyBundleSignedPrekeyPublicKeyFieldEvent {
    field: '$.signedPrekey.publicKey'
    value: Uint8Array<ArrayBuffer>
  }

  export interface PrekeyBundleSignedPrekeySignatureFieldEvent {
    field: '$.signedPrekey.signature'
    value: Uint8Array<ArrayBuffer>
  }

  export interface PrekeyBundlePqPrekeyIdFieldEvent {
    field: '$.pqPrekey.id'
    value: number
  }

  export interface PrekeyBundlePqPrekeyPublicKeyFieldEvent {
    field: '$.pqPrekey.publicKey'
    value: Uint8Array<ArrayBuffer>
  }

  export interface PrekeyBundlePqPrekeySignatureFieldEvent {
    field: '$.pqPrekey.signature'
    value: Uint8Array<ArrayBuffer>
  }

  export interface PrekeyBundleOneTimePrekeyIdFieldEvent {
    field: '$.oneTimePrekey.id'
    value: number
  }

  export interface PrekeyBundleOneTimePrekeyPublicKeyFieldEvent {
    field: '$.oneTimePrekey.publicKey'
    value: Uint8Array<ArrayBuffer>
  }

  export interface PrekeyBundlePqOneTimePrekeyIdFieldEvent {
    field: '$.pqOneTimePrekey.id'
    value: number
  }

  export interface PrekeyBundlePqOneTimePrekeyPublicKeyFieldEvent {
    field: '$.pqOneTimePrekey.publicKey'
    value: Uint8Array<ArrayBuffer>
  }

  export interface PrekeyBundlePqOneTimePrekeySignatureFieldEvent {
    field: '$.pqOneTimePrekey.signature'
    value: Uint8Array<ArrayBuffer>
  }

  export function encode (obj: Partial<PrekeyBundle>): Uint8Array<ArrayBuffer> {
    return encodeMessage(obj, PrekeyBundle.codec())
  }

  export function decode (buf: Uint8Array | Uint8ArrayList, opts?: DecodeOptions<PrekeyBundle>): PrekeyBundle {
    return decodeMessage(buf, PrekeyBundle.codec(), opts)
  }

  export function stream (buf: Uint8Array | Uint8ArrayList, opts?: DecodeOptions<PrekeyBundle>): Generator<PrekeyBundleIdentityFieldEvent | PrekeyBundleSignedPrekeyIdFieldEvent | PrekeyBundleSignedPrekeyPublicKeyFieldEvent | PrekeyBundleSignedPrekeySignatureFieldEvent | PrekeyBundlePqPrekeyIdFieldEvent | PrekeyBundlePqPrekeyPublicKeyFieldEvent | PrekeyBundlePqPrekeySignatureFieldEvent | PrekeyBundleOneTimePrekeyIdFieldEvent | PrekeyBundleOneTimePrekeyPublicKeyFieldEvent | PrekeyBundlePqOneTimePrekeyIdFieldEvent | PrekeyBundlePqOneTimePrekeyPublicKeyFieldEvent | PrekeyBundlePqOneTimePrekeySignatureFieldEvent> {
    return streamMessage(buf, PrekeyBundle.codec(), opts)
  }
}

export interface SessionInit {
  ephemeral: Uint8Array<ArrayBuffer>
  sealedIdentity: Uint8Array<ArrayBuffer>
  signedPrekeyId: number
  pqPrekeyId: number
  pqOneTime: boolean
  oneTimePrekeyId?: number
  kemCiphertext: Uint8Array<ArrayBuffer>
  header: Uint8Array<ArrayBuffer>
  ciphertext: Uint8Array<ArrayBuffer>
}

export namespace SessionInit {
  let _codec: Codec<SessionInit>

  export const codec = (): Codec<SessionInit> => {
    if (_codec == null) {
      _codec = message<SessionInit>((obj, w, opts = {}) => {
        if (opts.lengthDelimited !== false) {
          w.fork()
        }

        if ((obj.ephemeral != null && obj.ephemeral.byteLength > 0)) {
          w.uint32(10)
          w.bytes(obj.ephemeral)
        }

        if ((obj.sealedIdentity != null && obj.sealedIdentity.byteLength > 0)) {
          w.uint32(18)
          w.bytes(obj.sealedIdentity)
        }

        if ((obj.signedPrekeyId != null && obj.signedPrekeyId !== 0)) {
          w.uint32(24)
          w.uint32(obj.signedPrekeyId)
        }

        if ((obj.pqPrekeyId != null && obj.pqPrekeyId !== 0)) {
          w.uint32(32)
          w.uint32(obj.pqPrekeyId)
        }

        if ((obj.pqOneTime != null && obj.pqOneTime !== false)) {
          w.uint32(40)
          w.bool(obj.pqOneTime)
        }

        if (obj.oneTimePrekeyId != null) {
          w.uint32(48)
          w.uint32(obj.oneTimePrekeyId)
        }

        if ((obj.kemCiphertext != null && obj.kemCiphertext.byteLength > 0)) {
          w.uint32(58)
          w.bytes(obj.kemCiphertext)
        }

        if ((obj.header != null && obj.header.byteLength > 0)) {
          w.uint32(66)
          w.bytes(obj.header)
        }

        if ((obj.ciphertext != null && obj.ciphertext.byteLength > 0)) {
          w.uint32(74)
          w.bytes(obj.ciphertext)
        }

        if (opts.lengthDelimited !== false) {
          w.ldelim()
        }
      }, (reader, length, opts = {}) => {
        const obj: any = {
          ephemeral: uint8ArrayAlloc(0),
          sealedIdentity: uint8ArrayAlloc(0),
          signedPrekeyId: 0,
          pqPrekeyId: 0,
          pqOneTime: false,
          kemCiphertext: uint8ArrayAlloc(0),
          header: uint8ArrayAlloc(0),
          ciphertext: uint8ArrayAlloc(0)
        }

        const end = length == null ? reader.len : reader.pos + length

        while (reader.pos < end) {
          const tag = reader.uint32()

          switch (tag >>> 3) {
            case 1: {
              obj.ephemeral = reader.bytes()
              break
            }
            case 2: {
              obj.sealedIdentity = reader.bytes()
              break
            }
            case 3: {
              obj.signedPrekeyId = reader.uint32()
              break
            }
            case 4: {
              obj.pqPrekeyId = reader.uint32()
              break
            }
            case 5: {
              obj.pqOneTime = reader.bool()
              break
            }
            case 6: {
              obj.oneTimePrekeyId = reader.uint32()
              break
            }
            case 7: {
              obj.kemCiphertext = reader.bytes()
              break
            }
            case 8: {
              obj.header = reader.bytes()
              break
            }
            case 9: {
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
                field: `${prefix}.ephemeral`,
                value: reader.bytes()
              }
              break
            }
            case 2: {
              yield {
                field: `${prefix}.sealedIdentity`,
                value: reader.bytes()
              }
              break
            }
            case 3: {
              yield {
                field: `${prefix}.signedPrekeyId`,
                value: reader.uint32()
              }
              break
            }
            case 4: {
              yield {
                field: `${prefix}.pqPrekeyId`,
                value: reader.uint32()
              }
              break
            }
            case 5: {
              yield {
                field: `${prefix}.pqOneTime`,
                value: reader.bool()
              }
              break
            }
            case 6: {
              yield {
                field: `${prefix}.oneTimePrekeyId`,
                value: reader.uint32()
              }
              break
            }
            case 7: {
              yield {
                field: `${prefix}.kemCiphertext`,
                value: reader.bytes()
              }
              break
            }
            case 8: {
              yield {
                field: `${prefix}.header`,
                value: reader.bytes()
              }
              break
            }
            case 9: {
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

  export interface SessionInitEphemeralFieldEvent {
    field: '$.ephemeral'
    value: Uint8Array<ArrayBuffer>
  }

  export interface SessionInitSealedIdentityFieldEvent {
    field: '$.sealedIdentity'
    value: Uint8Array<ArrayBuffer>
  }

  export interface SessionInitSignedPrekeyIdFieldEvent {
    field: '$.signedPrekeyId'
    value: number
  }

  export interface SessionInitPqPrekeyIdFieldEvent {
    field: '$.pqPrekeyId'
    value: number
  }

  export interface SessionInitPqOneTimeFieldEvent {
    field: '$.pqOneTime'
    value: boolean
  }

  export interface SessionInitOneTimePrekeyIdFieldEvent {
    field: '$.oneTimePrekeyId'
    value: number
  }

  export interface SessionInitKemCiphertextFieldEvent {
    field: '$.kemCiphertext'
    value: Uint8Array<ArrayBuffer>
  }

  export interface SessionInitHeaderFieldEvent {
    field: '$.header'
    value: Uint8Array<ArrayBuffer>
  }

  export interface SessionInitCiphertextFieldEvent {
    field: '$.ciphertext'
    value: Uint8Array<ArrayBuffer>
  }

  export function encode (obj: Partial<SessionInit>): Uint8Array<ArrayBuffer> {
    return encodeMessage(obj, SessionInit.codec())
  }

  export function decode (buf: Uint8Array | Uint8ArrayList, opts?: DecodeOptions<SessionInit>): SessionInit {
    return decodeMessage(buf, SessionInit.codec(), opts)
  }

  export function stream (buf: Uint8Array | Uint8ArrayList, opts?: DecodeOptions<SessionInit>): Generator<SessionInitEphemeralFieldEvent | SessionInitSealedIdentityFieldEvent | SessionInitSignedPrekeyIdFieldEvent | SessionInitPqPrekeyIdFieldEvent | SessionInitPqOneTimeFieldEvent | SessionInitOneTimePrekeyIdFieldEvent | SessionInitKemCiphertextFieldEvent | SessionInitHeaderFieldEvent | SessionInitCiphertextFieldEvent> {
    return streamMessage(buf, SessionInit.codec(), opts)
  }
}

export interface SessionMessage {
  header: Uint8Array<ArrayBuffer>
  ciphertext: Uint8Array<ArrayBuffer>
}

export namespace SessionMessage {
  let _codec: Codec<SessionMessage>

  export const codec = (): Codec<SessionMessage> => {
    if (_codec == null) {
      _codec = message<SessionMessage>((obj, w, opts = {}) => {
        if (opts.lengthDelimited !== false) {
          w.fork()
        }

        if ((obj.header != null && obj.header.byteLength > 0)) {
          w.uint32(10)
          w.bytes(obj.header)
        }

        if ((obj.ciphertext != null && obj.ciphertext.byteLength > 0)) {
          w.uint32(18)
          w.bytes(obj.ciphertext)
        }

        if (opts.lengthDelimited !== false) {
          w.ldelim()
        }
      }, (reader, length, opts = {}) => {
        const obj: any = {
          header: uint8ArrayAlloc(0),
          ciphertext: uint8ArrayAlloc(0)
        }

        const end = length == null ? reader.len : reader.pos + length

        while (reader.pos < end) {
          const tag = reader.uint32()

          switch (tag >>> 3) {
            case 1: {
              obj.header = reader.bytes()
              break
            }
            case 2: {
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
                field: `${prefix}.header`,
                value: reader.bytes()
              }
              break
            }
            case 2: {
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

  export interface SessionMessageHeaderFieldEvent {
    field: '$.header'
    value: Uint8Array<ArrayBuffer>
  }

  export interface SessionMessageCiphertextFieldEvent {
    field: '$.ciphertext'
    value: Uint8Array<ArrayBuffer>
  }

  export function encode (obj: Partial<SessionMessage>): Uint8Array<ArrayBuffer> {
    return encodeMessage(obj, SessionMessage.codec())
  }

  export function decode (buf: Uint8Array | Uint8ArrayList, opts?: DecodeOptions<SessionMessage>): SessionMessage {
    return decodeMessage(buf, SessionMessage.codec(), opts)
  }

  export function stream (buf: Uint8Array | Uint8ArrayList, opts?: DecodeOptions<SessionMessage>): Generator<SessionMessageHeaderFieldEvent | SessionMessageCiphertextFieldEvent> {
    return streamMessage(buf, SessionMessage.codec(), opts)
  }
}
