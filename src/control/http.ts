/**
 * Listening and closing for pigeon's HTTP servers (the control API and the operator endpoint).
 */
import type { Server } from 'node:http'

/** Starts `server` listening; resolves with its base URL (http://host:port). */
export async function listenHttp (server: Server, port: number, host: string, what: string): Promise<string> {
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject)
    server.listen(port, host, () => { server.off('error', reject); resolve() })
  })
  const address = server.address()
  if (address == null || typeof address === 'string') throw new Error(`${what} has no TCP address`)
  const shown = address.family === 'IPv6' ? `[${address.address}]` : address.address
  return `http://${shown}:${address.port}`
}

/** Stops listening; requests still running get `graceMs` to finish, then their connections are cut. */
export async function closeHttp (server: Server, graceMs: number): Promise<void> {
  const closed = new Promise<void>(resolve => { server.close(() => { resolve() }) })
  server.closeIdleConnections()
  const grace = new Promise<void>(resolve => setTimeout(resolve, graceMs).unref())
  await Promise.race([closed, grace])
  server.closeAllConnections()
}
