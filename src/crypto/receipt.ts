/**
 * Delivery receipts: the receiver signs the ids it now holds durably, so the sender's
 * "delivered" state rests on the recipient's own word and not on the transport.
 *
 *   input = "pigeon-receipt-v1\0" || len(sender) (1 byte) || sender peer id bytes
 *           || timestamp (uint64 big-endian, ms) || count (uint16 big-endian) || ids (16 bytes each)
 */
import { sign, verify } from 'node:crypto'
import type { LocalKeys, PeerKeys } from './keys.js'

const CONTEXT = new TextEncoder().encode('pigeon-receipt-v1\0')

function signingInput (sender: Uint8Array, timestamp: bigint, ids: Uint8Array[]): Uint8Array {
  const fixed = Buffer.alloc(1 + 8 + 2)
  fixed.writeUInt8(sender.byteLength, 0)
  fixed.writeBigUInt64BE(timestamp, 1)
  fixed.writeUInt16BE(ids.length, 9)
  return Buffer.concat([CONTEXT, fixed.subarray(0, 1), sender, fixed.subarray(1), ...ids])
}

/** Signs a receipt for `ids`, addressed to the peer `sender` that sent them. */
export function signReceipt (local: LocalKeys, sender: PeerKeys, timestamp: bigint, ids: Uint8Array[]): Uint8Array {
  return new Uint8Array(sign(null, signingInput(sender.idBytes, timestamp, ids), local.ed25519Private))
}

/** Checks a receipt from `receiver` for messages that `local` sent. */
export function verifyReceipt (local: LocalKeys, receiver: PeerKeys, timestamp: bigint, ids: Uint8Array[], signature: Uint8Array): boolean {
  if (ids.length === 0 || ids.length > 0xffff) return false
  return verify(null, signingInput(local.idBytes, timestamp, ids), receiver.ed25519, signature)
}
