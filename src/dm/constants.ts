export {
  DM_PROTOCOL,
  DM_IDLE_TIMEOUT_MS,
  DM_ACK_TIMEOUT_MS,
  DM_MAX_INBOUND_STREAMS,
  DM_MAX_OUTBOUND_STREAMS,
  MAX_FRAME_BYTES,
  MAX_BATCH_ENVELOPES,
  MAX_ENVELOPE_BYTES,
  MAX_TEXT_BYTES,
  DM_INBOUND_RATE
} from '../constants.js'

/**
 * The sender closes a stream idle this long: shorter than the receiver's idle timeout, so
 * a sender never writes into a stream the receiver is about to time out.
 */
export const DM_SENDER_IDLE_MS = 10_000
