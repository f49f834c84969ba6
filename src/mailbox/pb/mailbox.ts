import { decodeMessage, encodeMessage, MaxLengthError, message, streamMessage } from 'protons-runtime'
import { alloc as uint8ArrayAlloc } from 'uint8arrays/alloc'
import type { Codec, DecodeOptions } from 'protons-runtime'
import type { Uint8ArrayList } from 'uint8arraylist'

export interface StoredEnvelope {
  envelope: Uint8Array<ArrayBuffer>
  id: Uint8Array<ArrayBuffer>
  storedAt: bigint
}

export namespace StoredEnvelope {
  let _codec: Codec<StoredEnvelope>

  export const codec = (): Codec<StoredEnvelope> => {
    if (_codec == null) {
      _codec = message<StoredEnvelope>((obj, w, opts = {}) => {
        if (opts.lengthDelimited !== false) {
          w.fork()
        }

        if ((obj.envelope != null && obj.envelope.byteLength > 0)) {
          w.uint32(10)
          w.bytes(obj.envelope)
        }

        if ((obj.id != null && obj.id.byteLength > 0)) {
          w.uint32(18)
          w.bytes(obj.id)
        }

        if ((obj.storedAt != null && obj.storedAt !== 0n)) {
          w.uint32(24)
          w.uint64(obj.storedAt)
        }

        if (opts.lengthDelimited !== false) {
          w.ldelim()
        }
      }, (reader, length, opts = {}) => {
        const obj: any = {
          envelope: uint8ArrayAlloc(0),
          id: uint8ArrayAlloc(0),
          storedAt: 0n
        }

        const end = length == null ? reader.len : reader.pos + length

        while (reader.pos < end) {
          const tag = reader.uint32()

          switch (tag >>> 3) {
            case 1: {
              obj.envelope = reader.bytes()
              break
            }
            case 2: {
              obj.id = reader.bytes()
              break
            }
            case 3: {
              obj.storedAt = reader.uint64()
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
                field: `${prefix}.envelope`,
                value: reader.bytes()
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
                field: `${prefix}.storedAt`,
                value: reader.uint64()
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

  export interface StoredEnvelopeEnvelopeFieldEvent {
    field: '$.envelope'
    value: Uint8Array<ArrayBuffer>
  }

  export interface StoredEnvelopeIdFieldEvent {
    field: '$.id'
    value: Uint8Array<ArrayBuffer>
  }

  export interface StoredEnvelopeStoredAtFieldEvent {
    field: '$.storedAt'
    value: bigint
  }

  export function encode (obj: Partial<StoredEnvelope>): Uint8Array<ArrayBuffer> {
    return encodeMessage(obj, StoredEnvelope.codec())
  }

  export function decode (buf: Uint8Array | Uint8ArrayList, opts?: DecodeOptions<StoredEnvelope>): StoredEnvelope {
    return decodeMessage(buf, StoredEnvelope.codec(), opts)
  }

  export function stream (buf: Uint8Array | Uint8ArrayList, opts?: DecodeOptions<StoredEnvelope>): Generator<StoredEnvelopeEnvelopeFieldEvent | StoredEnvelopeIdFieldEvent | StoredEnvelopeStoredAtFieldEvent> {
    return streamMessage(buf, StoredEnvelope.codec(), opts)
  }
}

export interface Request {
  type: number
  envelopes: Uint8Array<ArrayBuffer>[]
  cursor: Uint8Array<ArrayBuffer>
  limit: number
  ids: Uint8Array<ArrayBuffer>[]
}

export namespace Request {
  let _codec: Codec<Request>

  export const codec = (): Codec<Request> => {
    if (_codec == null) {
      _codec = message<Request>((obj, w, opts = {}) => {
        if (opts.lengthDelimited !== false) {
          w.fork()
        }

        if ((obj.type != null && obj.type !== 0)) {
          w.uint32(8)
          w.uint32(obj.type)
        }

        if (obj.envelopes != null && obj.envelopes.length > 0) {
          for (const value of obj.envelopes) {
            w.uint32(18)
            w.bytes(value)
          }
        }

        if ((obj.cursor != null && obj.cursor.byteLength > 0)) {
          w.uint32(26)
          w.bytes(obj.cursor)
        }

        if ((obj.limit != null && obj.limit !== 0)) {
          w.uint32(32)
          w.uint32(obj.limit)
        }

        if (obj.ids != null && obj.ids.length > 0) {
          for (const value of obj.ids) {
            w.uint32(42)
            w.bytes(value)
          }
        }

        if (opts.lengthDelimited !== false) {
          w.ldelim()
        }
      }, (reader, length, opts = {}) => {
        const obj: any = {
          type: 0,
          envelopes: [],
          cursor: uint8ArrayAlloc(0),
          limit: 0,
          ids: []
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
              if (opts.limits?.envelopes != null && obj.envelopes.length === opts.limits.envelopes) {
                throw new MaxLengthError('Decode error - repeated field "envelopes" had too many elements')
              }

              obj.envelopes.push(reader.bytes())
              break
            }
            case 3: {
              obj.cursor = reader.bytes()
              break
            }
            case 4: {
              obj.limit = reader.uint32()
              break
            }
            case 5: {
              if (opts.limits?.ids != null && obj.ids.length === opts.limits.ids) {
                throw new MaxLengthError('Decode error - repeated field "ids" had too many elements')
              }

              obj.ids.push(reader.bytes())
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
          envelopes: 0,
          ids: 0
        }

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
              if (opts.limits?.envelopes != null && obj.envelopes === opts.limits.envelopes) {
                throw new MaxLengthError('Streaming decode error - repeated field "envelopes" had too many elements')
              }

              yield {
                field: `${prefix}.envelopes[]`,
                index: obj.envelopes,
                value: reader.bytes()
              }

              obj.envelopes++

              break
            }
            case 3: {
              yield {
                field: `${prefix}.cursor`,
                value: reader.bytes()
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
            case 5: {
              if (opts.limits?.ids != null && obj.ids === opts.limits.ids) {
                throw new MaxLengthError('Streaming decode error - repeated field "ids" had too many elements')
              }

              yield {
                field: `${prefix}.ids[]`,
                index: obj.ids,
                value: reader.bytes()
              }

              obj.ids++

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

  export interface RequestTypeFieldEvent {
    field: '$.type'
    value: number
  }

  export interface RequestEnvelopesFieldEvent {
    field: '$.envelopes[]'
    index: number
    value: Uint8Array<ArrayBuffer>
  }

  export interface RequestCursorFieldEvent {
    field: '$.cursor'
    value: Uint8Array<ArrayBuffer>
  }

  export interface RequestLimitFieldEvent {
    field: '$.limit'
    value: number
  }

  export interface RequestIdsFieldEvent {
    field: '$.ids[]'
    index: number
    value: Uint8Array<ArrayBuffer>
  }

  export function encode (obj: Partial<Request>): Uint8Array<ArrayBuffer> {
    return encodeMessage(obj, Request.codec())
  }

  export function decode (buf: Uint8Array | Uint8ArrayList, opts?: DecodeOptions<Request>): Request {
    return decodeMessage(buf, Request.codec(), opts)
  }

  export function stream (buf: Uint8Array | Uint8ArrayList, opts?: DecodeOptions<Request>): Generator<RequestTypeFieldEvent | RequestEnvelopesFieldEvent | RequestCursorFieldEvent | RequestLimitFieldEvent | RequestIdsFieldEvent> {
    return streamMessage(buf, Request.codec(), opts)
  }
}

export interface Response {
  status: number
  reason: number
  message: string
  results: DepositResult[]
  envelopes: StoredEnvelope[]
  nextCursor: Uint8Array<ArrayBuffer>
  deleted: number
  more?: boolean
  held?: number
  heldBytes?: bigint
}

export namespace Response {
  let _codec: Codec<Response>

  export const codec = (): Codec<Response> => {
    if (_codec == null) {
      _codec = message<Response>((obj, w, opts = {}) => {
        if (opts.lengthDelimited !== false) {
          w.fork()
        }

        if ((obj.status != null && obj.status !== 0)) {
          w.uint32(8)
          w.uint32(obj.status)
        }

        if ((obj.reason != null && obj.reason !== 0)) {
          w.uint32(16)
          w.uint32(obj.reason)
        }

        if ((obj.message != null && obj.message !== '')) {
          w.uint32(26)
          w.string(obj.message)
        }

        if (obj.results != null && obj.results.length > 0) {
          for (const value of obj.results) {
            w.uint32(34)
            DepositResult.codec().encode(value, w)
          }
        }

        if (obj.envelopes != null && obj.envelopes.length > 0) {
          for (const value of obj.envelopes) {
            w.uint32(42)
            StoredEnvelope.codec().encode(value, w)
          }
        }

        if ((obj.nextCursor != null && obj.nextCursor.byteLength > 0)) {
          w.uint32(50)
          w.bytes(obj.nextCursor)
        }

        if ((obj.deleted != null && obj.deleted !== 0)) {
          w.uint32(56)
          w.uint32(obj.deleted)
        }

        if (obj.more != null) {
          w.uint32(64)
          w.bool(obj.more)
        }

        if (obj.held != null) {
          w.uint32(72)
          w.uint32(obj.held)
        }

        if (obj.heldBytes != null) {
          w.uint32(80)
          w.uint64(obj.heldBytes)
        }

        if (opts.lengthDelimited !== false) {
          w.ldelim()
        }
      }, (reader, length, opts = {}) => {
        const obj: any = {
          status: 0,
          reason: 0,
          message: '',
          results: [],
          envelopes: [],
          nextCursor: uint8ArrayAlloc(0),
          deleted: 0
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
              obj.reason = reader.uint32()
              break
            }
            case 3: {
              obj.message = reader.string()
              break
            }
            case 4: {
              if (opts.limits?.results != null && obj.results.length === opts.limits.results) {
                throw new MaxLengthError('Decode error - repeated field "results" had too many elements')
              }

              obj.results.push(DepositResult.codec().decode(reader, reader.uint32(), {
                limits: opts.limits?.results$
              }))
              break
            }
            case 5: {
              if (opts.limits?.envelopes != null && obj.envelopes.length === opts.limits.envelopes) {
                throw new MaxLengthError('Decode error - repeated field "envelopes" had too many elements')
              }

              obj.envelopes.push(StoredEnvelope.codec().decode(reader, reader.uint32(), {
                limits: opts.limits?.envelopes$
              }))
              break
            }
            case 6: {
              obj.nextCursor = reader.bytes()
              break
            }
            case 7: {
              obj.deleted = reader.uint32()
              break
            }
            case 8: {
              obj.more = reader.bool()
              break
            }
            case 9: {
              obj.held = reader.uint32()
              break
            }
            case 10: {
              obj.heldBytes = reader.uint64()
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
          results: 0,
          envelopes: 0
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
                field: `${prefix}.reason`,
                value: reader.uint32()
              }
              break
            }
            case 3: {
              yield {
                field: `${prefix}.message`,
                value: reader.string()
              }
              break
            }
            case 4: {
              if (opts.limits?.results != null && obj.results === opts.limits.results) {
                throw new MaxLengthError('Streaming decode error - repeated field "results" had too many elements')
              }

              for (const evt of DepositResult.codec().stream(reader, reader.uint32(), `${prefix}.results[]`, {
                limits: opts.limits?.results$
              })) {
                yield {
                  ...evt,
                  index: obj.results
                }
              }

              obj.results++

              break
            }
            case 5: {
              if (opts.limits?.envelopes != null && obj.envelopes === opts.limits.envelopes) {
                throw new MaxLengthError('Streaming decode error - repeated field "envelopes" had too many elements')
              }

              for (const evt of StoredEnvelope.codec().stream(reader, reader.uint32(), `${prefix}.envelopes[]`, {
                limits: opts.limits?.envelopes$
              })) {
                yield {
                  ...evt,
                  index: obj.envelopes
                }
              }

              obj.envelopes++

              break
            }
            case 6: {
              yield {
                field: `${prefix}.nextCursor`,
                value: reader.bytes()
              }
              break
            }
            case 7: {
              yield {
                field: `${prefix}.deleted`,
                value: reader.uint32()
              }
              break
            }
            case 8: {
              yield {
                field: `${prefix}.more`,
                value: reader.bool()
              }
              break
            }
            case 9: {
              yield {
                field: `${prefix}.held`,
                value: reader.uint32()
              }
              break
            }
            case 10: {
              yield {
                field: `${prefix}.heldBytes`,
                value: reader.uint64()
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

  export interface ResponseStatusFieldEvent {
    field: '$.status'
    value: number
  }

  export interface ResponseReasonFieldEvent {
    field: '$.reason'
    value: number
  }

  export interface ResponseMessageFieldEvent {
    field: '$.message'
    value: string
  }

  export interface ResponseResultsIdFieldEvent {
    field: '$.results[].id'
    value: Uint8Array<ArrayBuffer>
    index: number
  }

  export interface ResponseResultsReasonFieldEvent {
    field: '$.results[].reason'
    value: number
    index: number
  }

  export interface ResponseEnvelopesEnvelopeFieldEvent {
    field: '$.envelopes[].envelope'
    value: Uint8Array<ArrayBuffer>
    index: number
  }

  export interface ResponseEnvelopesIdFieldEvent {
    field: '$.envelopes[].id'
    value: Uint8Array<ArrayBuffer>
    index: number
  }

  export interface ResponseEnvelopesStoredAtFieldEvent {
    field: '$.envelopes[].storedAt'
    value: bigint
    index: number
  }

  export interface ResponseNextCursorFieldEvent {
    field: '$.nextCursor'
    value: Uint8Array<ArrayBuffer>
  }

  export interface ResponseDeletedFieldEvent {
    field: '$.deleted'
    value: number
  }

  export interface ResponseMoreFieldEvent {
    field: '$.more'
    value: boolean
  }

  export interface ResponseHeldFieldEvent {
    field: '$.held'
    value: number
  }

  export interface ResponseHeldBytesFieldEvent {
    field: '$.heldBytes'
    value: bigint
  }

  export function encode (obj: Partial<Response>): Uint8Array<ArrayBuffer> {
    return encodeMessage(obj, Response.codec())
  }

  export function decode (buf: Uint8Array | Uint8ArrayList, opts?: DecodeOptions<Response>): Response {
    return decodeMessage(buf, Response.codec(), opts)
  }

  export function stream (buf: Uint8Array | Uint8ArrayList, opts?: DecodeOptions<Response>): Generator<ResponseStatusFieldEvent | ResponseReasonFieldEvent | ResponseMessageFieldEvent | ResponseResultsIdFieldEvent | ResponseResultsReasonFieldEvent | ResponseEnvelopesEnvelopeFieldEvent | ResponseEnvelopesIdFieldEvent | ResponseEnvelopesStoredAtFieldEvent | ResponseNextCursorFieldEvent | ResponseDeletedFieldEvent | ResponseMoreFieldEvent | ResponseHeldFieldEvent | ResponseHeldBytesFieldEvent> {
    return streamMessage(buf, Response.codec(), opts)
  }
}

export interface DepositResult {
  id: Uint8Array<ArrayBuffer>
  reason: number
}

export namespace DepositResult {
  let _codec: Codec<DepositResult>

  export const codec = (): Codec<DepositResult> => {
    if (_codec == null) {
      _codec = message<DepositResult>((obj, w, opts = {}) => {
        if (opts.lengthDelimited !== false) {
          w.fork()
        }

        if ((obj.id != null && obj.id.byteLength > 0)) {
          w.uint32(10)
          w.bytes(obj.id)
        }

        if ((obj.reason != null && obj.reason !== 0)) {
          w.uint32(16)
          w.uint32(obj.reason)
        }

        if (opts.lengthDelimited !== false) {
          w.ldelim()
        }
      }, (reader, length, opts = {}) => {
        const obj: any = {
          id: uint8ArrayAlloc(0),
          reason: 0
        }

        const end = length == null ? reader.len : reader.pos + length

        while (reader.pos < end) {
          const tag = reader.uint32()

          switch (tag >>> 3) {
            case 1: {
              obj.id = reader.bytes()
              break
            }
            case 2: {
              obj.reason = reader.uint32()
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
                value: reader.bytes()
              }
              break
            }
            case 2: {
              yield {
                field: `${prefix}.reason`,
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

  export interface DepositResultIdFieldEvent {
    field: '$.id'
    value: Uint8Array<ArrayBuffer>
  }

  export interface DepositResultReasonFieldEvent {
    field: '$.reason'
    value: number
  }

  export function encode (obj: Partial<DepositResult>): Uint8Array<ArrayBuffer> {
    return encodeMessage(obj, DepositResult.codec())
  }

  export function decode (buf: Uint8Array | Uint8ArrayList, opts?: DecodeOptions<DepositResult>): DepositResult {
    return decodeMessage(buf, DepositResult.codec(), opts)
  }

  export function stream (buf: Uint8Array | Uint8ArrayList, opts?: DecodeOptions<DepositResult>): Generator<DepositResultIdFieldEvent | DepositResultReasonFieldEvent> {
    return streamMessage(buf, DepositResult.codec(), opts)
  }
}
