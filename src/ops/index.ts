/** The operator endpoint: health, readiness and Prometheus metrics (docs/operations.md). */
export { OperatorServer, type OperatorServerInit } from './operator-server.js'
export { PigeonMetrics, type PigeonMetricsInit } from './metrics.js'
export { readiness, type Readiness, type CheckResult } from './readiness.js'
export { createLogger, levelled, logSettings, LOG_LEVELS, LOG_FORMATS, type LevelLogger, type LogFormat, type LogInit, type LogLevel, type PigeonLogger } from './log.js'
