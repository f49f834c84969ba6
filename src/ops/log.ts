/**
 * Structured logs: a libp2p `ComponentLogger` backed by pino, so that libp2p's own components
 * and pigeon's log through one place, with a level and a component on every record
 * (docs/operations.md, "Logs"). JSON lines for log collectors, readable lines on a terminal.
 */
import { format as utilFormat, inspect } from 'node:util'
import { pino, type Logger as PinoLogger } from 'pino'
import { base32 } from 'multiformats/bases/base32'
import { base58btc } from 'multiformats/bases/base58'
import { base64 } from 'multiformats/bases/base64'
import type { ComponentLogger, Logger } from '@libp2p/interface'

export const LOG_LEVELS = ['trace', 'debug', 'info', 'warn', 'error'] as const
export type LogLevel = typeof LOG_LEVELS[number]
export const LOG_FORMATS = ['json', 'pretty'] as const
export type LogFormat = typeof LOG_FORMATS[number]

/** Quiet enough for production: libp2p's and pigeon's many debug calls stay off. */
export const DEFAULT_LOG_LEVEL: LogLevel = 'info'

/** What replaces a redacted value. */
export const REDACTED = '[redacted]'

/**
 * Structured fields never written as they are, wherever they sit in an object: message and
 * post text, the control token, keys, passphrases, invites and contact cards.
 */
export const REDACTED_FIELDS = ['text', 'token', 'key', 'passphrase', 'invite', 'card'] as const

/** Field names redacted in objects formatted into a message (`%o`, `%j`, extra arguments). */
const SECRET_FIELD = /^(?:text|token|passphrase|invite|card|secret|password)$|key$/i

/**
 * Lines that @chainsafe/libp2p-noise writes with DUMP_SESSION_KEYS set: session and static
 * private keys. Dropped whatever the level.
 */
const KEY_DUMP = /^(?:LOCAL|REMOTE)_\w*KEY|^CIPHER_STATE/

/**
 * The level of `.error` calls from components that are not pigeon's (libp2p and its modules).
 * They report what a peer-to-peer node sees all the time (a peer reset its connection, a stream
 * was aborted at shutdown), with stacks: at error they would bury pigeon's own errors and set off
 * any alert on error records. Failures that matter reach pigeon, which logs them itself.
 */
export const FOREIGN_ERROR_LEVEL: LogLevel = 'debug'

/** Components whose `.error` calls are logged at error. */
const OWN_COMPONENT = /^pigeon(?::|$)/

/** A libp2p Logger with the levels between debug and error too. */
export interface LevelLogger extends Logger {
  /** Same as calling the logger. */
  debug(formatter: any, ...args: any[]): void
  info(formatter: any, ...args: any[]): void
  warn(formatter: any, ...args: any[]): void
  newScope(name: string): LevelLogger
}

export interface PigeonLogger extends ComponentLogger {
  forComponent(name: string): LevelLogger
  readonly level: LogLevel
  readonly format: LogFormat
}

export interface LogInit {
  /** Least severe level written. @default DEFAULT_LOG_LEVEL ('info') */
  level?: LogLevel
  /** @default 'pretty' when stderr is a terminal, else 'json' */
  format?: LogFormat
  /** Where lines go, one `write` per line. @default process.stderr */
  destination?: { write(line: string): unknown }
}

export function isLogLevel (value: unknown): value is LogLevel {
  return typeof value === 'string' && (LOG_LEVELS as readonly string[]).includes(value)
}

export function isLogFormat (value: unknown): value is LogFormat {
  return typeof value === 'string' && (LOG_FORMATS as readonly string[]).includes(value)
}

/** A copy of `value` with secret-looking fields replaced, for objects formatted into a message. */
function redactValue (value: unknown, depth = 0): unknown {
  if (value == null || typeof value !== 'object' || depth > 4) return value
  if (value instanceof Error || ArrayBuffer.isView(value) || value instanceof Date) return value
  if (typeof (value as any).toJSON === 'function' || (value.constructor !== Object && !Array.isArray(value))) return value
  if (Array.isArray(value)) return value.map(v => redactValue(v, depth + 1))
  const out: Record<string, unknown> = {}
  for (const [k, v] of Object.entries(value)) out[k] = SECRET_FIELD.test(k) ? REDACTED : redactValue(v, depth + 1)
  return out
}

function notEmpty (s?: string): string | undefined {
  const trimmed = s?.trim()
  return trimmed == null || trimmed === '' ? undefined : trimmed
}

/** An error as @libp2p/logger's `%e` prints it: the stack (with the message), and nested errors of an AggregateError. */
function printError (err: any, indent = ''): string {
  const message = notEmpty(err?.message)
  const stack = notEmpty(err?.stack)
  let text: string
  if (message != null && stack != null) text = stack.includes(message) ? stack : `${message}\n${stack}`
  else text = stack ?? message ?? String(err)
  text = text.split('\n').join(`\n${indent}`)
  if (err instanceof AggregateError || (err?.name === 'AggregateError' && Array.isArray(err.errors))) {
    const inner = `${indent}    `
    text += err.errors.length > 0
      ? `\n${inner}${(err.errors as unknown[]).map(e => printError(e, inner)).join(`\n${inner}`)}`
      : `\n${inner}[Error list was empty]`
  }
  return text.trim()
}

function orUndefined (v: unknown, f: (v: any) => string): string {
  return v == null ? 'undefined' : f(v)
}

/** libp2p's format specifiers (@libp2p/logger) and Node's (util.format). */
const SPECIFIERS: Record<string, (v: any) => string> = {
  s: (v) => typeof v === 'string' ? v : utilFormat('%s', redactValue(v)),
  d: (v) => utilFormat('%d', v),
  i: (v) => utilFormat('%i', v),
  f: (v) => utilFormat('%f', v),
  j: (v) => {
    try {
      return JSON.stringify(redactValue(v)) ?? 'undefined'
    } catch {
      return '[Circular]'
    }
  },
  o: (v) => inspect(redactValue(v), { breakLength: Infinity, depth: 4 }).split('\n').map(l => l.trim()).join(' '),
  O: (v) => inspect(redactValue(v), { depth: 4 }),
  p: (v) => orUndefined(v, String),
  a: (v) => orUndefined(v, String),
  c: (v) => orUndefined(v, String),
  k: (v) => orUndefined(v, String),
  b: (v) => orUndefined(v, b => base58btc.baseEncode(b)),
  t: (v) => orUndefined(v, b => base32.baseEncode(b)),
  m: (v) => orUndefined(v, b => base64.baseEncode(b)),
  e: (v) => orUndefined(v, printError)
}

/**
 * A log call's message: `formatter` with its specifiers replaced by the arguments, and any
 * arguments left over appended with spaces (as `debug` and `util.format` do).
 */
export function formatLog (formatter: unknown, args: unknown[]): string {
  if (typeof formatter !== 'string') {
    return [formatter, ...args].map(v => typeof v === 'string' ? v : v instanceof Error ? printError(v) : SPECIFIERS.o(v)).join(' ')
  }
  let index = 0
  const msg = formatter.replace(/%([a-zA-Z%])/g, (match, spec: string) => {
    if (spec === '%') return '%'
    const f = SPECIFIERS[spec]
    if (f == null || index >= args.length) return match
    return f(args[index++])
  })
  const rest = args.slice(index).map(v => typeof v === 'string' ? v : v instanceof Error ? printError(v) : SPECIFIERS.o(v))
  return rest.length === 0 ? msg : `${msg} ${rest.join(' ')}`
}

function isFields (v: unknown): v is Record<string, unknown> {
  return v != null && typeof v === 'object' && (v.constructor === Object || Object.getPrototypeOf(v) === null)
}

function pad (n: number, width = 2): string {
  return String(n).padStart(width, '0')
}

/** One JSON record as a readable line: `HH:MM:SS.mmm LEVEL component message key=value…`. */
export function prettyLine (json: string): string {
  let record: Record<string, unknown>
  try {
    record = JSON.parse(json)
  } catch {
    return json.endsWith('\n') ? json : `${json}\n`
  }
  const { level, time, component, msg, ...fields } = record
  const at = new Date(typeof time === 'string' || typeof time === 'number' ? time : Date.now())
  const clock = `${pad(at.getHours())}:${pad(at.getMinutes())}:${pad(at.getSeconds())}.${pad(at.getMilliseconds(), 3)}`
  const extra = Object.entries(fields).map(([k, v]) => ` ${k}=${typeof v === 'string' ? v : JSON.stringify(v)}`).join('')
  return `${clock} ${String(level).toUpperCase().padEnd(5)} ${String(component ?? '-')} ${String(msg ?? '')}${extra}\n`
}

/**
 * A ComponentLogger for `createNode({ logger })` and libp2p: `forComponent(name)` gives a
 * logger whose call logs at debug, `.trace`, `.info`, `.warn` and `.error` at theirs, each
 * record `{level, time, component, msg}`.
 */
export function createLogger (init: LogInit = {}): PigeonLogger {
  const level = init.level ?? DEFAULT_LOG_LEVEL
  const format = init.format ?? (process.stderr.isTTY === true ? 'pretty' : 'json')
  const sink = init.destination ?? process.stderr
  const root = pino({
    level,
    base: undefined,
    messageKey: 'msg',
    timestamp: pino.stdTimeFunctions.isoTime,
    formatters: { level: (label) => ({ level: label }) },
    redact: { paths: REDACTED_FIELDS.flatMap(f => [f, `*.${f}`]), censor: REDACTED }
  }, { write: format === 'pretty' ? (line: string) => sink.write(prettyLine(line)) : (line: string) => sink.write(line) })

  const forComponent = (component: string): LevelLogger => {
    const child: PinoLogger = root.child({ component })
    const at = (lvl: LogLevel): ((formatter: any, ...args: any[]) => void) & { enabled: boolean } => {
      const write = (formatter: any, ...args: any[]): void => {
        if (!child.isLevelEnabled(lvl)) return
        if (typeof formatter === 'string' && KEY_DUMP.test(formatter)) return
        if (isFields(formatter) && (args.length === 0 || typeof args[0] === 'string')) {
          child[lvl](formatter, args.length === 0 ? '' : formatLog(args[0], args.slice(1)))
        } else {
          child[lvl](formatLog(formatter, args))
        }
      }
      return Object.assign(write, { enabled: child.isLevelEnabled(lvl) })
    }
    const debug = at('debug')
    return Object.assign(debug, {
      debug,
      enabled: debug.enabled,
      trace: at('trace'),
      info: at('info'),
      warn: at('warn'),
      error: OWN_COMPONENT.test(component) ? at('error') : at(FOREIGN_ERROR_LEVEL),
      newScope: (name: string) => forComponent(`${component}:${name}`)
    })
  }
  return { forComponent, level, format }
}

/**
 * Any libp2p Logger with info and warn: ours as they are, others (the `debug`-based default
 * logger) logging both through the plain call.
 */
export function levelled (log: Logger): LevelLogger {
  const own = log as unknown as Partial<Record<'info' | 'warn' | 'debug', unknown>>
  if (typeof own.info === 'function' && typeof own.warn === 'function' && typeof own.debug === 'function') return log as LevelLogger
  return Object.assign((formatter: any, ...args: any[]) => { log(formatter, ...args) }, {
    enabled: log.enabled,
    debug: (formatter: any, ...args: any[]) => { log(formatter, ...args) },
    info: (formatter: any, ...args: any[]) => { log(formatter, ...args) },
    warn: (formatter: any, ...args: any[]) => { log(formatter, ...args) },
    error: log.error,
    trace: log.trace,
    newScope: (name: string) => levelled(log.newScope(name))
  })
}

/**
 * The level and format asked for in the environment (`PIGEON_LOG_LEVEL`, `PIGEON_LOG_FORMAT`);
 * a flag, when given, wins over the variable. Throws a TypeError naming a bad value.
 */
export function logSettings (env: NodeJS.ProcessEnv = process.env, flags: { level?: string, format?: string } = {}): { level: LogLevel, format?: LogFormat } {
  const level = notEmpty(flags.level) ?? notEmpty(env.PIGEON_LOG_LEVEL) ?? DEFAULT_LOG_LEVEL
  const format = notEmpty(flags.format) ?? notEmpty(env.PIGEON_LOG_FORMAT)
  if (!isLogLevel(level)) throw new TypeError(`log level "${level}" is not one of ${LOG_LEVELS.join(', ')}`)
  if (format != null && !isLogFormat(format)) throw new TypeError(`log format "${format}" is not one of ${LOG_FORMATS.join(', ')}`)
  return { level, ...(format != null ? { format } : {}) }
}
