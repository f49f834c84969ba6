/** The config file, in the data dir. Optional: without it every setting has its default. */
export const CONFIG_FILE = 'config.json'

/** Relay TTLs are set in whole days. */
export const DAY_MS = 24 * 60 * 60 * 1000

/**
 * `PIGEON_*` variables that are not settings and are never refused: the data dir (read by the
 * CLI before any config), a backup's passphrase and test-only fault injection.
 */
export const NON_SETTING_ENV = [/^PIGEON_HOME$/, /^PIGEON_BACKUP_PASSPHRASE$/, /^PIGEON_FAULT$/]

/** libp2p's connection manager keeps at most this many connections unless told otherwise. */
export const LIBP2P_DEFAULT_MAX_CONNECTIONS = 300

/**
 * An unknown `PIGEON_*` variable this close (in edits) to a setting's variable is taken for a
 * misspelt setting and refused; one further away is left alone, as some other tool's.
 */
export const MAX_MISSPELLING_EDITS = 2
