/**
 * Backups: a consistent snapshot of a node's identity and store, as a file that may be
 * encrypted with a passphrase, and its restore into a new data dir. docs/operations.md
 * describes the commands and the file format.
 */
export { backupNode, snapshotPayload, writeBackupFile, type BackupProgress, type BackupSummary, type WriteBackupOptions } from './backup.js'
export { checkRestoreTarget, restoreBackup, type RestoreOptions, type RestoreSummary } from './restore.js'
export { readBackup, type BackupHeader, type BackupInfo, type BackupRecord, type EncryptionHeader, type OpenOptions, type SealOptions } from './format.js'
