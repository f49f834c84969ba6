/**
 * Opening an envelope addressed to this node, and the rules on its body that the envelope layer
 * does not know: the receiving half of direct messages, shared by direct delivery and mail
 * fetched from a relay (the messenger calls it for both).
 */
import { open, MAX_RECEIPT_REFS } from '../crypto/envelope.js'
import { BODY_KIND } from '../wire/constants.js'
import { MAX_ENVELOPE_BYTES, MAX_KEY_GRANT_BYTES, MAX_TEXT_BYTES, MESSAGE_ID_LENGTH } from '../constants.js'
import { EnvelopeRejectedError } from '../errors.js'
import type { Body, Envelope } from '../wire/pb/wire.js'
import type { LocalKeys } from '../crypto/keys.js'
import type { IncomingMessage } from './index.js'

/** Relay addresses, and own addresses, a body may carry. */
const MAX_BODY_RELAYS = 16

/** Bytes an envelope occupies on the wire, without encoding it again. */
function envelopeSize (env: Envelope): number {
  return env.id.byteLength + env.recipient.byteLength + env.ephemeralKey.byteLength + env.nonce.byteLength + env.ciphertext.byteLength + 16
}

/**
 * Opens an envelope addressed to `keys` and checks its body: the receiving half of the protocol
 * shared by direct delivery and mail fetched from a relay. Throws EnvelopeRejectedError.
 */
export function openIncoming (keys: LocalKeys, env: Envelope): IncomingMessage {
  if (envelopeSize(env) > MAX_ENVELOPE_BYTES) throw new EnvelopeRejectedError('too-large')
  const opened = open(keys, env)
  checkBody(opened.body)
  return { id: env.id, sender: opened.sender, body: opened.body }
}

/** Rules on the decrypted body that the envelope layer does not know. */
function checkBody (body: Body): void {
  if (body.kind === BODY_KIND.TEXT) {
    if (Buffer.byteLength(body.text) > MAX_TEXT_BYTES) throw new EnvelopeRejectedError('too-large', 'text exceeds the size cap')
    if (body.text.length === 0) throw new EnvelopeRejectedError('malformed', 'empty text')
  } else if (body.kind === BODY_KIND.READ_RECEIPT || body.kind === BODY_KIND.DELIVERY_RECEIPT) {
    if (body.refs.length === 0 || body.refs.length > MAX_RECEIPT_REFS || body.refs.some(r => r.byteLength !== MESSAGE_ID_LENGTH)) {
      throw new EnvelopeRejectedError('malformed', 'receipt refs are malformed')
    }
  } else if (body.kind === BODY_KIND.CHANNEL_KEY) {
    if (body.channel.byteLength === 0 || body.channel.byteLength > MAX_KEY_GRANT_BYTES) throw new EnvelopeRejectedError('malformed', 'channel key grant is empty or too large')
  } else if (body.kind === BODY_KIND.WHEREABOUTS) {
    if (body.text.length > 0 || body.refs.length > 0 || body.channel.byteLength > 0) throw new EnvelopeRejectedError('malformed', 'a whereabouts body carries nothing but addresses')
  } else {
    throw new EnvelopeRejectedError('unsupported-kind', `unknown body kind ${body.kind}`)
  }
  if (body.relays.length > MAX_BODY_RELAYS || body.addrs.length > MAX_BODY_RELAYS) throw new EnvelopeRejectedError('malformed', 'too many addresses in the body')
}
