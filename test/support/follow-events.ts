/**
 * `node follow-events.js DATA_DIR`: prints the control API's events of the node running with
 * DATA_DIR, one JSON line each ({"event": …, "data": …}), until the node stops or stdin closes.
 * For tests whose nodes run inside network namespaces, where the test process cannot reach the
 * node's control API on 127.0.0.1: it runs in the node's namespace (`ip netns exec`).
 */
import { ControlClient } from '../../src/control/client.js'

const dataDir = process.argv[2]
if (dataDir == null) {
  process.stderr.write('usage: follow-events DATA_DIR\n')
  process.exit(2)
}
const controller = new AbortController()
process.stdin.on('end', () => { controller.abort() }).resume()
const api = await ControlClient.connect(dataDir)
process.stdout.write(JSON.stringify({ event: 'ready' }) + '\n')
for await (const event of api.events('/v1/events', controller.signal)) {
  process.stdout.write(JSON.stringify(event) + '\n')
}
