/**
 * Changing the data dir's config.json from the CLI (`pigeon bootstrap add|remove`). An edit is
 * checked as `pigeon start` would check the file before it is written, and written whole to a
 * temporary file that then replaces the old one, so a crash leaves the old file or the new one.
 */
import { mkdir, rename, writeFile } from 'node:fs/promises'
import { ConfigError } from '../errors.js'
import { CONFIG_FILE } from './constants.js'
import { configPath, fileLayer, readConfigFile } from './resolve.js'

export async function editConfigFile (dataDir: string, edit: (file: Record<string, unknown>) => void): Promise<void> {
  const current = await readConfigFile(dataDir) ?? {}
  if (typeof current !== 'object' || current === null || Array.isArray(current)) throw new ConfigError(`${CONFIG_FILE}: must hold a JSON object`)
  const next: Record<string, unknown> = { ...current }
  edit(next)
  fileLayer(next)
  await mkdir(dataDir, { recursive: true, mode: 0o700 })
  const path = configPath(dataDir)
  const tmp = `${path}.${process.pid}.tmp`
  await writeFile(tmp, JSON.stringify(next, null, 2) + '\n', { mode: 0o600 })
  await rename(tmp, path)
}
