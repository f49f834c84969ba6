/**
 * Sessions for direct messages (scheme 2): PQXDH to start one, the Double Ratchet with header
 * encryption to carry it. docs/protocol.md gives the bytes; docs/architecture.md the design.
 */
export { SessionError, SESSION_REFUSALS, type SessionRefusal } from './errors.js'
export * from './primitives.js'
export * from './ratchet.js'
export * from './prekeys.js'
export { startSession, acceptSession, decodeInit, associatedData, MAX_INIT_BYTES, type StartedSession, type AcceptedSession } from './pqxdh.js'
