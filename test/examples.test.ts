import { describe, it } from 'node:test'
import assert from 'node:assert/strict'
import { spawn } from 'node:child_process'
import { fileURLToPath } from 'node:url'
import { exited } from './cli-helpers.js'

describe('examples', () => {
  it('npm run demo shows a conversation with delivery and read receipts', async () => {
    const demo = spawn(process.execPath, [fileURLToPath(new URL('../examples/demo.js', import.meta.url))], { stdio: ['ignore', 'pipe', 'pipe'] })
    let out = ''
    demo.stdout.setEncoding('utf8').on('data', (d: string) => { out += d })
    demo.stderr.setEncoding('utf8').on('data', (d: string) => { out += d })
    const [code] = await exited(demo, 30_000)
    assert.equal(code, 0, out)
    assert.equal(out.match(/received "/g)?.length, 3)
    assert.equal(out.match(/ delivered$/gm)?.length, 3)
    assert.equal(out.match(/ read$/gm)?.length, 3)
    assert.match(out, /alice's outbox: \{"queued":0,"sent":0,"delivered":0,"read":2,"failed":0\}/)
  })
})
