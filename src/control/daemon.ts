/**
 * The daemon: a PigeonNode plus the control API, as `pigeon start` runs it. Embedders who want
 * the CLI to work against their node can run this too.
 */
import { randomBytes } from 'node:crypto'
import { createNode, type PigeonInit, type PigeonNode } from '../node.js'
import { ControlServer } from './server.js'
import { controlAnswers, readControlFile, removeControlFile, writeControlFile } from './control-file.js'
import { DataDirLockedError } from '../errors.js'
import { Registry } from 'prom-client'
import { prometheusMetrics } from '@libp2p/prometheus-metrics'
import { OperatorServer } from '../ops/operator-server.js'
import { PigeonMetrics } from '../ops/metrics.js'
import { levelled } from '../ops/log.js'
import { defaultLogger } from '@libp2p/logger'

export interface DaemonInit extends Omit<PigeonInit, 'memory' | 'dataDir'> {
  dataDir: string
  /**
   * Interface for the control API. Anything but loopback exposes the API to the network,
   * protected only by the token.
   *
   * @default '127.0.0.1'
   */
  apiHost?: string
  /** Port for the control API. @default 0 (chosen by the OS) */
  apiPort?: number
  /**
   * Interface for the operator endpoint (health, readiness, metrics; docs/operations.md). It has
   * no token: anything but loopback shows the node's metrics to the network.
   *
   * @default DEFAULT_OPERATOR_HOST ('127.0.0.1')
   */
  operatorHost?: string
  /** Port for the operator endpoint, 0 for one chosen by the OS. @default undefined (no endpoint) */
  operatorPort?: number
  /** Told how long each part of the shutdown took, for logs. */
  onStopped?(timings: { apiMs: number, nodeMs: number }): void
}

export interface Daemon {
  node: PigeonNode
  /** Base URL of the control API. */
  apiUrl: string
  /** Base URL of the operator endpoint, when one was asked for. */
  operatorUrl?: string
  /** Resolves when the daemon has stopped, however it was asked to. */
  stopped: Promise<void>
  /** Stops the API and the node and removes the control file. Safe to call twice. */
  stop(): Promise<void>
}

export async function startDaemon (init: DaemonInit): Promise<Daemon> {
  const existing = await readControlFile(init.dataDir)
  // A control file left by a crash may name a pid the OS has since reused: only a node that
  // answers on the API with the file's token counts as running.
  if (existing != null && existing.pid !== process.pid && await controlAnswers(existing)) {
    throw new DataDirLockedError(`a pigeon node (pid ${existing.pid}) is already running with data dir ${init.dataDir}`)
  }
  const { apiHost, apiPort, operatorHost, operatorPort, onStopped, ...nodeInit } = init
  const log = levelled((init.logger ?? defaultLogger()).forComponent('pigeon:daemon'))
  // One registry per daemon: libp2p's metrics and pigeon's own, served together.
  const registry = operatorPort == null ? undefined : new Registry()
  const node = await createNode(registry == null ? nodeInit : { ...nodeInit, metrics: prometheusMetrics({ registry, statfsLocation: init.dataDir }) })
  let operator: { server: OperatorServer, metrics: PigeonMetrics } | undefined
  let operatorUrl: string | undefined
  try {
    if (registry != null) {
      // Up before the node starts, so that /readyz says 503 (not started) rather than nothing.
      operator = {
        metrics: new PigeonMetrics({ node, registry }),
        server: new OperatorServer({ node, registry, host: operatorHost, port: operatorPort })
      }
      operatorUrl = await operator.server.listen()
      log.info('operator endpoint at %s', operatorUrl)
    }
    await node.start()
  } catch (err: any) {
    log.error('node did not start: %s', err.message)
    operator?.metrics.stop()
    await operator?.server.close()
    await node.stop()
    throw err
  }
  const token = randomBytes(32).toString('hex')
  const { promise: stopped, resolve: markStopped } = Promise.withResolvers<void>()
  let stopping: Promise<void> | undefined
  const stop = async (): Promise<void> => {
    stopping ??= (async () => {
      const started = Date.now()
      await Promise.all([server.close().catch(() => {}), operator?.server.close().catch(() => {})])
      operator?.metrics.stop()
      const apiClosed = Date.now()
      await node.stop()
      const nodeStopped = Date.now()
      await removeControlFile(init.dataDir)
      init.onStopped?.({ apiMs: apiClosed - started, nodeMs: nodeStopped - apiClosed })
      markStopped()
    })()
    await stopping
  }
  const server = new ControlServer({ node, token, host: apiHost ?? '127.0.0.1', port: apiPort ?? 0, onStop: () => { void stop() } })
  let apiUrl: string
  try {
    apiUrl = await server.listen()
    await writeControlFile(init.dataDir, { url: apiUrl, token, pid: process.pid, peerId: node.peerId.toString(), startedAt: Date.now() })
    // The URL only: the token stays in the control file.
    log.info('control API at %s', apiUrl)
  } catch (err: any) {
    log.error('control API did not start: %s', err.message)
    await server.close().catch(() => {})
    await operator?.server.close().catch(() => {})
    await node.stop()
    throw err
  }
  return { node, apiUrl, ...(operatorUrl != null ? { operatorUrl } : {}), stopped, stop }
}
