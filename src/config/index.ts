/**
 * The configuration of `pigeon start`: a schema of its settings, and their resolution from
 * defaults, the data dir's `config.json`, `PIGEON_*` variables and flags (docs/configuration.md).
 */
export { SETTINGS, SETTING_KEYS, type Config, type Setting, type SettingKey, type SettingValue } from './settings.js'
export { resolveConfig, loadConfig, readConfigFile, configPath, configValues, type ConfigSource, type ResolvedConfig, type ResolveInit } from './resolve.js'
export { daemonOptions } from './daemon-options.js'
export { editConfigFile } from './edit.js'
export { CONFIG_FILE } from './constants.js'
