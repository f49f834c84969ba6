/**
 * One class per failure, each with a stable `name` that callers and tests match on.
 */

export class PigeonError extends Error {
  static override name = 'PigeonError'
  override name = 'PigeonError'
}

/** `init` found an identity already in the data dir. */
export class IdentityExistsError extends PigeonError {
  static override name = 'IdentityExistsError'
  override name = 'IdentityExistsError'
}

/** The identity file is unreadable or not an Ed25519 key. */
export class InvalidIdentityError extends PigeonError {
  static override name = 'InvalidIdentityError'
  override name = 'InvalidIdentityError'
}

/** Another node holds this data dir. */
export class DataDirLockedError extends PigeonError {
  static override name = 'DataDirLockedError'
  override name = 'DataDirLockedError'
}

/** A contact card failed to parse or its signature does not verify. */
export class InvalidCardError extends PigeonError {
  static override name = 'InvalidCardError'
  override name = 'InvalidCardError'
}

/** `send` was given a name that is not a contact and not a peer id. */
export class UnknownRecipientError extends PigeonError {
  static override name = 'UnknownRecipientError'
  override name = 'UnknownRecipientError'
}

/** A contact name is taken, malformed, or missing. */
export class ContactError extends PigeonError {
  static override name = 'ContactError'
  override name = 'ContactError'
}

/** The text is empty or larger than MAX_TEXT_BYTES. */
export class InvalidMessageError extends PigeonError {
  static override name = 'InvalidMessageError'
  override name = 'InvalidMessageError'
}

/** The recipient refused the message for good (see the record's lastError). */
export class DeliveryFailedError extends PigeonError {
  static override name = 'DeliveryFailedError'
  override name = 'DeliveryFailedError'
}

/** No message with that id. */
export class MessageNotFoundError extends PigeonError {
  static override name = 'MessageNotFoundError'
  override name = 'MessageNotFoundError'
}

/** An envelope was refused: `reason` says why (see Ack.Reason in the wire format). */
export class EnvelopeRejectedError extends PigeonError {
  static override name = 'EnvelopeRejectedError'
  override name = 'EnvelopeRejectedError'
  readonly reason: string

  constructor (reason: string, message?: string) {
    super(message ?? `envelope rejected: ${reason}`)
    this.reason = reason
  }
}

/** The peer answered with something that breaks the protocol. */
export class ProtocolViolationError extends PigeonError {
  static override name = 'ProtocolViolationError'
  override name = 'ProtocolViolationError'
}

/** The node is not started, or is stopping. */
export class NotStartedError extends PigeonError {
  static override name = 'NotStartedError'
  override name = 'NotStartedError'
}

/** A wait ran out of time. */
export class TimeoutError extends PigeonError {
  static override name = 'TimeoutError'
  override name = 'TimeoutError'
}

/** A peer id whose card nobody has published on the DHT (or not found before the deadline). */
export class PeerNotFoundError extends PigeonError {
  static override name = 'PeerNotFoundError'
  override name = 'PeerNotFoundError'
}

/** The CLI found no running node for the data dir. */
export class NodeNotRunningError extends PigeonError {
  static override name = 'NodeNotRunningError'
  override name = 'NodeNotRunningError'
}

/** The control API answered with an error. */
export class ControlApiError extends PigeonError {
  static override name = 'ControlApiError'
  override name = 'ControlApiError'
  readonly status: number

  constructor (status: number, message: string) {
    super(message)
    this.status = status
  }
}

/** An invite string that is damaged, altered or not an invite. */
export class InvalidInviteError extends PigeonError {
  static override name = 'InvalidInviteError'
  override name = 'InvalidInviteError'
}

/** No channel of that name (or id) on this node. */
export class ChannelNotFoundError extends PigeonError {
  static override name = 'ChannelNotFoundError'
  override name = 'ChannelNotFoundError'
}

/** A channel operation this node may not do: not the creator, already a member, left or removed. */
export class ChannelStateError extends PigeonError {
  static override name = 'ChannelStateError'
  override name = 'ChannelStateError'
}

/** A backup file that is not a pigeon backup, or is truncated, damaged or altered. */
export class BackupFormatError extends PigeonError {
  static override name = 'BackupFormatError'
  override name = 'BackupFormatError'
}

/** A backup is encrypted and no passphrase, or the wrong one, was given. */
export class BackupPassphraseError extends PigeonError {
  static override name = 'BackupPassphraseError'
  override name = 'BackupPassphraseError'
}

/** `restore` will not write into this data dir: a node runs on it, or it already holds an identity or data. */
export class RestoreRefusedError extends PigeonError {
  static override name = 'RestoreRefusedError'
  override name = 'RestoreRefusedError'
}

/** The configuration (config file, `PIGEON_*` variable or flag) has an unknown key or a bad value. */
export class ConfigError extends PigeonError {
  static override name = 'ConfigError'
  override name = 'ConfigError'
}
