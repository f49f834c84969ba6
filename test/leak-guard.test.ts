/**
 * The suite's leak guard (test/support/leak-guard.ts) on two small test files of its own: one that
 * cleans up exits at once, one that leaves a timer and a server behind fails within seconds,
 * naming both and where they were made.
 */
import { describe, it, after } from 'node:test'
import assert from 'node:assert/strict'
import { spawn } from 'node:child_process'
import { writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { exited } from './cli-helpers.js'
import { tempDir } from './helpers.js'

const GUARD = fileURLToPath(new URL('./support/leak-guard.js', import.meta.url))
const GRACE_MS = 300

const LEAKY = `
import { it } from 'node:test'
import net from 'node:net'
function startPoller () { setInterval(() => {}, 60_000) }
it('leaves an interval and a server', async () => {
  startPoller()
  const server = net.createServer()
  await new Promise(resolve => server.listen(0, '127.0.0.1', resolve))
  console.log('PORT ' + server.address().port)
})
`
const CLEAN = `
import { it } from 'node:test'
import net from 'node:net'
it('closes what it opens', async () => {
  const timer = setInterval(() => {}, 60_000)
  const server = net.createServer()
  await new Promise(resolve => server.listen(0, '127.0.0.1', resolve))
  clearInterval(timer)
  await new Promise(resolve => server.close(resolve))
})
`

async function runGuarded (source: string, cleanups: Array<() => Promise<void>>): Promise<{ code: number | null, output: string }> {
  const tmp = await tempDir()
  cleanups.push(tmp.cleanup)
  const file = join(tmp.dir, 'fixture.test.mjs')
  await writeFile(file, source)
  // Without the runner's context variable, the child is a test run of its own, not a nested one.
  const { NODE_TEST_CONTEXT: _nested, ...env } = process.env
  const child = spawn(process.execPath, ['--test', '--import', GUARD, file], {
    env: { ...env, PIGEON_LEAK_GRACE_MS: String(GRACE_MS) },
    stdio: ['ignore', 'pipe', 'pipe']
  })
  let output = ''
  child.stdout.setEncoding('utf8').on('data', (d: string) => { output += d })
  child.stderr.setEncoding('utf8').on('data', (d: string) => { output += d })
  const [code] = await exited(child, 30_000)
  return { code, output }
}

describe('leak guard', () => {
  const cleanups: Array<() => Promise<void>> = []
  after(async () => { for (const c of cleanups) await c() })

  it('fails a test file that leaves a handle open, naming each handle and where it was created', async () => {
    const { code, output } = await runGuarded(LEAKY, cleanups)
    assert.notEqual(code, 0, output)
    assert.match(output, /LEAK: process still alive 300 ms after its last test/)
    assert.match(output, /--- Timeout .*created at:\n\s+at startPoller \(.*fixture\.test\.mjs:4/)
    const port = /PORT (\d+)/.exec(output)?.[1]
    assert.ok(port != null, output)
    assert.match(output, new RegExp(`--- TCPSERVERWRAP \\[local 127\\.0\\.0\\.1:${port}\\]`))
  })

  it('lets a test file that closes what it opened exit at once, with no report', async () => {
    const { code, output } = await runGuarded(CLEAN, cleanups)
    assert.equal(code, 0, output)
    assert.match(output, /pass 1/)
    assert.doesNotMatch(output, /LEAK/)
  })
})
