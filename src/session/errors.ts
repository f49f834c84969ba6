/**
 * Why the session layer refused something. Every refusal has one of these reasons, so a node can
 * count them (and a peer cannot make it crash or drop a session by sending them).
 */
export const SESSION_REFUSALS = [
  /** Bytes that do not decode, or a field of the wrong size. */
  'malformed',
  /** A prekey whose signature by the owner's identity key does not verify. */
  'bad-signature',
  /** A handshake naming a one-time prekey this node no longer has (used, or never made). */
  'unknown-prekey',
  /** A handshake seen before. */
  'replayed-handshake',
  /** A message whose header opens under none of the session's header keys. */
  'unknown-session',
  /** A message more than MAX_SKIP ahead of the last one received in its chain. */
  'too-far-ahead',
  /** A message already received (or whose skipped key was dropped). */
  'duplicate',
  /** A message whose header opened but whose body does not authenticate. */
  'decrypt-failed'
] as const

export type SessionRefusal = typeof SESSION_REFUSALS[number]

export class SessionError extends Error {
  readonly reason: SessionRefusal

  constructor (reason: SessionRefusal, message: string) {
    super(message)
    this.name = 'SessionError'
    this.reason = reason
  }
}
