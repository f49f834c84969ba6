/**
 * `npm run bench` as a smoke test: the dm case at a tiny size prints its JSON lines (pigeon's
 * figure beside the raw libraries' and their ratio) and the process, with its worker processes,
 * exits on its own. Speed itself is never asserted here.
 */
import { describe, it } from 'node:test'
import assert from 'node:assert/strict'
import { spawn } from 'node:child_process'
import { fileURLToPath } from 'node:url'
import { exited } from './cli-helpers.js'

const BENCH = fileURLToPath(new URL('../bench/run.js', import.meta.url))

describe('npm run bench', () => {
  it('prints each figure beside its raw baseline and their ratio, then exits on its own', async () => {
    const child = spawn(process.execPath, [BENCH], {
      env: { ...process.env, BENCH_CASES: 'dm', BENCH_DM_COUNT: '20', BENCH_LATENCY_COUNT: '5', BENCH_WARMUP: '2', BENCH_ROUNDS: '1' },
      stdio: ['ignore', 'pipe', 'pipe']
    })
    let stdout = ''
    let stderr = ''
    child.stdout.setEncoding('utf8').on('data', (d: string) => { stdout += d })
    child.stderr.setEncoding('utf8').on('data', (d: string) => { stderr += d })
    const [code] = await exited(child, 90_000)
    assert.equal(code, 0, stderr)
    assert.doesNotMatch(stderr, /still running/, 'no process needed its exit grace')
    const lines = stdout.trim().split('\n').map(l => JSON.parse(l))
    assert.deepEqual(lines.map(l => `${String(l.bench)} ${String(l.durability)}`), ['dm-throughput fsync', 'dm-throughput os', 'dm-latency fsync', 'dm-latency os'])
    for (const l of lines) {
      const pigeon = l.pigeon_msgs_per_s ?? l.pigeon_p50_ms
      const raw = l.raw_msgs_per_s ?? l.raw_p50_ms
      assert.ok(pigeon > 0 && raw > 0, JSON.stringify(l))
      assert.ok(Math.abs(l.ratio - pigeon / raw) <= 0.01 * l.ratio + 0.001, `ratio is pigeon / raw: ${JSON.stringify(l)}`)
    }
  })
})
