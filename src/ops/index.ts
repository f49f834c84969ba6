/** The operator endpoint: health, readiness and Prometheus metrics (docs/operations.md). */
export { OperatorServer, type OperatorServerInit } from './operator-server.js'
export { PigeonMetrics, FAILURE_REASONS, type PigeonMetricsInit } from './metrics.js'
export { readiness, type Readiness, type CheckResult } from './readiness.js'
export { DEFAULT_OPERATOR_HOST } from './constants.js'
export { createLogger, levelled, logSettings, formatLog, prettyLine, DEFAULT_LOG_LEVEL, FOREIGN_ERROR_LEVEL, LOG_LEVELS, LOG_FORMATS, REDACTED, REDACTED_FIELDS, type LevelLogger, type LogFormat, type LogInit, type LogLevel, type PigeonLogger } from './log.js'
