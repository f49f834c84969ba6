/**
 * Frame options for /pigeon/dm/1.0.0 streams: unsigned-varint length prefix, then the frame.
 *
 * lpStream in @libp2p/utils 7.4 reads the prefix a byte at a time and, while the varint is
 * incomplete, never checks `maxLengthLength`: a peer sending 0xff forever keeps the reader busy
 * until the idle timeout (measured: 16 s of CPU and +322 MB for 6 MB of 0xff). This decoder
 * refuses a prefix longer than any allowed frame length needs.
 */
import { ProtocolViolationError } from '../errors.js'
import { MAX_FRAME_BYTES } from '../constants.js'
import type { Uint8ArrayList } from 'uint8arraylist'

/** Bytes an unsigned varint needs for MAX_FRAME_BYTES (7 payload bits per byte). */
export const MAX_LENGTH_PREFIX_BYTES = Math.ceil(Math.log2(MAX_FRAME_BYTES + 1) / 7)

/**
 * Decodes the length prefix read so far. A RangeError means "need another byte" to lpStream;
 * anything else ends the stream.
 */
export function decodeFrameLength (buf: Uint8ArrayList): number {
  let value = 0
  for (let i = 0; i < buf.byteLength; i++) {
    if (i >= MAX_LENGTH_PREFIX_BYTES) break
    const byte = buf.get(i)
    value += (byte & 0x7f) * 2 ** (7 * i)
    if ((byte & 0x80) === 0) return value
  }
  if (buf.byteLength >= MAX_LENGTH_PREFIX_BYTES) {
    throw new ProtocolViolationError(`frame length prefix longer than ${MAX_LENGTH_PREFIX_BYTES} bytes`)
  }
  throw new RangeError('incomplete length prefix')
}

/** Options for pbStream on both ends of a dm stream. */
export const FRAME_OPTIONS = {
  maxDataLength: MAX_FRAME_BYTES,
  maxLengthLength: MAX_LENGTH_PREFIX_BYTES,
  lengthDecoder: decodeFrameLength
}
