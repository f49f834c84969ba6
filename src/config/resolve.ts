/**
 * Resolving the effective configuration: defaults, then the config file, then `PIGEON_*`
 * environment variables, then flags, each layer checked against the settings before it is used.
 */
import { readFile } from 'node:fs/promises'
import { join } from 'node:path'
import { ConfigError } from '../errors.js'
import { CONFIG_FILE, MAX_MISSPELLING_EDITS, NON_SETTING_ENV } from './constants.js'
import { BadValue, SETTINGS, SETTING_KEYS, type Config, type Setting, type SettingKey, type SettingValue } from './settings.js'

/** Where an effective value came from, lowest precedence first. */
export type ConfigSource = 'default' | 'file' | 'env' | 'flag'

export type ResolvedConfig = { [K in SettingKey]: { value: Config[K], source: ConfigSource } }

export interface ResolveInit {
  /** The parsed config file, if there is one: any JSON, checked here. */
  file?: unknown
  /** The environment; only `PIGEON_*` variables are read. */
  env?: Record<string, string | undefined>
  /** Values from flags, already parsed and checked by the flag parser. */
  flags?: Partial<Config>
}

const setting = (key: SettingKey): Setting<SettingValue> => SETTINGS[key] as Setting<SettingValue>

/** How an error names a setting given in `source`. */
function label (key: SettingKey, source: ConfigSource): string {
  switch (source) {
    case 'file': return `${CONFIG_FILE}: ${key}`
    case 'env': return setting(key).env
    case 'flag': return setting(key).flag
    default: return key
  }
}

function parse (key: SettingKey, source: 'file' | 'env', raw: unknown): SettingValue {
  try {
    return source === 'file' ? setting(key).fromJson(raw) : setting(key).fromText(raw as string)
  } catch (err) {
    if (err instanceof BadValue) throw new ConfigError(`${label(key, source)}: ${err.message}`)
    throw err
  }
}

/** Levenshtein distance, for "did you mean". */
function edits (a: string, b: string): number {
  let row = Array.from({ length: b.length + 1 }, (_, j) => j)
  for (let i = 1; i <= a.length; i++) {
    const next = [i]
    for (let j = 1; j <= b.length; j++) {
      next[j] = Math.min(row[j] + 1, next[j - 1] + 1, row[j - 1] + (a[i - 1] === b[j - 1] ? 0 : 1))
    }
    row = next
  }
  return row[b.length]
}

/** The closest of `names` to `name`, if it is close enough to be a misspelling. */
function closest (name: string, names: string[], fold: (s: string) => string = s => s): string | undefined {
  let best: { name: string, d: number } | undefined
  for (const n of names) {
    const d = edits(fold(name), fold(n))
    if (d <= MAX_MISSPELLING_EDITS && (best == null || d < best.d)) best = { name: n, d }
  }
  return best?.name
}

const didYouMean = (name: string | undefined): string => name == null ? '' : ` (did you mean ${name}?)`

const ENV_NAMES = SETTING_KEYS.map(k => setting(k).env)
/** `PIGEON_API`, `PIGEON_RELAY`, ...: an unknown variable under one of these is a setting nobody has. */
const ENV_GROUPS = [...new Set(ENV_NAMES.map(e => e.split('_').slice(0, 2).join('_')))]

/**
 * Whether an unknown `PIGEON_*` variable looks like a setting: it is in a setting's group
 * (`PIGEON_RELAY_QUOTA`) or a few edits from a setting's variable (`PIGEON_APIPORT`). Others,
 * such as another tool's `PIGEON_BENCH_RUNS`, are left alone.
 */
function looksLikeSetting (name: string): boolean {
  return ENV_GROUPS.some(g => name === g || name.startsWith(g)) || closest(name, ENV_NAMES) != null
}

/** The settings a config file sets; refuses anything but an object of known keys with good values. */
export function fileLayer (file: unknown): Partial<Config> {
  if (typeof file !== 'object' || file === null || Array.isArray(file)) throw new ConfigError(`${CONFIG_FILE}: must hold a JSON object`)
  const layer: Record<string, SettingValue> = {}
  for (const [key, raw] of Object.entries(file)) {
    if (!Object.hasOwn(SETTINGS, key)) {
      throw new ConfigError(`${CONFIG_FILE}: ${key}: unknown key${didYouMean(closest(key, SETTING_KEYS, s => s.toLowerCase()))}`)
    }
    layer[key] = parse(key as SettingKey, 'file', raw)
  }
  return layer as Partial<Config>
}

/** The settings the environment sets; refuses bad values and unknown variables that look like settings. */
export function envLayer (env: Record<string, string | undefined>): Partial<Config> {
  const layer: Record<string, SettingValue> = {}
  const byEnv = new Map(SETTING_KEYS.map(k => [setting(k).env, k]))
  for (const [name, text] of Object.entries(env)) {
    // An empty variable counts as unset, so `PIGEON_RELAY= pigeon start` ignores an exported one.
    if (!name.startsWith('PIGEON_') || text == null || text === '') continue
    const key = byEnv.get(name)
    if (key != null) {
      layer[key] = parse(key, 'env', text)
    } else if (!NON_SETTING_ENV.some(re => re.test(name)) && looksLikeSetting(name)) {
      throw new ConfigError(`${name}: unknown setting${didYouMean(closest(name, ENV_NAMES))}`)
    }
  }
  return layer as Partial<Config>
}

/**
 * The effective configuration: defaults < file < env < flags. Throws ConfigError, one line naming
 * the key, for an unknown key, a bad value or settings that do not go together.
 */
export function resolveConfig (init: ResolveInit = {}): ResolvedConfig {
  const layers: Array<[ConfigSource, Partial<Config>]> = [
    ['file', init.file === undefined ? {} : fileLayer(init.file)],
    ['env', envLayer(init.env ?? {})],
    ['flag', init.flags ?? {}]
  ]
  const resolved: Record<string, { value: SettingValue, source: ConfigSource }> = {}
  for (const key of SETTING_KEYS) {
    resolved[key] = { value: setting(key).default, source: 'default' }
    for (const [source, layer] of layers) {
      const value = layer[key]
      if (value !== undefined) resolved[key] = { value, source }
    }
  }
  const config = resolved as ResolvedConfig
  checkTogether(config, init.flags ?? {})
  return config
}

/** Settings that only mean something with another one. */
function checkTogether (config: ResolvedConfig, flags: Partial<Config>): void {
  const { operatorHost, operatorPort, relay } = config
  if (operatorHost.source !== 'default' && operatorPort.value == null) {
    throw new ConfigError(operatorHost.source === 'flag' ? '--operator-host needs --operator-port' : `${label('operatorHost', operatorHost.source)}: needs operatorPort to be set`)
  }
  // A relay limit in the file or environment may wait for the relay to be turned on; one given
  // as a flag is a mistake if no relay runs.
  const relayFlags = SETTING_KEYS.filter(k => k.startsWith('relay') && k !== 'relay' && flags[k] !== undefined)
  if (relayFlags.length > 0 && relay.value !== true) throw new ConfigError('--relay-* options need --relay')
}

/** Reads the config file in `dataDir`; undefined when there is none. */
export async function readConfigFile (dataDir: string): Promise<unknown> {
  let text: string
  try {
    text = await readFile(configPath(dataDir), 'utf8')
  } catch (err: any) {
    if (err.code === 'ENOENT') return undefined
    throw new ConfigError(`${CONFIG_FILE}: cannot read it (${err.code ?? err.message})`)
  }
  try {
    return JSON.parse(text)
  } catch (err: any) {
    throw new ConfigError(`${CONFIG_FILE}: not valid JSON (${err.message})`)
  }
}

export function configPath (dataDir: string): string {
  return join(dataDir, CONFIG_FILE)
}

/** Reads the config file in `dataDir` and resolves it with the environment and flags. */
export async function loadConfig (init: { dataDir: string, env?: Record<string, string | undefined>, flags?: Partial<Config> }): Promise<ResolvedConfig> {
  return resolveConfig({ file: await readConfigFile(init.dataDir), env: init.env, flags: init.flags })
}

/** Just the values. */
export function configValues (config: ResolvedConfig): Config {
  return Object.fromEntries(SETTING_KEYS.map(k => [k, config[k].value])) as Config
}
