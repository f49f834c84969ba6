/**
 * A logger that writes nothing and costs nothing to create. libp2p makes a logger for every
 * connection and stream; the default one (the `debug` package) checks whether stderr is a
 * terminal each time, which in a test running dozens of nodes in one process is a measurable
 * share of the CPU. For tests that run many nodes and read no logs.
 */
import type { ComponentLogger, Logger } from '@libp2p/interface'

function silent (): Logger {
  const log = Object.assign(() => {}, {
    enabled: false,
    error: Object.assign(() => {}, { enabled: false }),
    trace: Object.assign(() => {}, { enabled: false }),
    newScope: () => log
  })
  return log as unknown as Logger
}

const SILENT = silent()

export const quietLogger: ComponentLogger = { forComponent: () => SILENT }
