/**
 * Reading back a QR code drawn in the terminal (cli/qr.ts): half-block characters to modules, then
 * to pixels, decoded with jsQR as a camera app would.
 */
import jsQRModule from 'jsqr'

// jsqr is CommonJS with an `exports.default`: from ESM, its function is one level down.
const jsQR = jsQRModule.default

/** Per character: [top module, bottom module], true where the module is light (drawn). */
const HALVES: Record<string, [boolean, boolean]> = {
  '█': [true, true],
  '▀': [true, false],
  '▄': [false, true],
  ' ': [false, false]
}
/** Pixels per module, and extra light margin around the picture. */
const SCALE = 4
const MARGIN = 4

/** Decodes the QR code drawn by `lines`; undefined if it cannot be read. */
export function readTerminalQr (lines: string[]): string | undefined {
  const width = Math.max(...lines.map(l => [...l].length))
  const rows: boolean[][] = []
  for (const line of lines) {
    const chars = [...line.padEnd(width, ' ')]
    const top: boolean[] = []
    const bottom: boolean[] = []
    for (const c of chars) {
      const halves = HALVES[c]
      if (halves == null) throw new Error(`not a QR character: ${JSON.stringify(c)}`)
      top.push(halves[0])
      bottom.push(halves[1])
    }
    rows.push(top, bottom)
  }
  const w = (width + 2 * MARGIN) * SCALE
  const h = (rows.length + 2 * MARGIN) * SCALE
  const pixels = new Uint8ClampedArray(w * h * 4).fill(255)
  for (let y = 0; y < rows.length; y++) {
    for (let x = 0; x < width; x++) {
      if (rows[y][x]) continue
      for (let dy = 0; dy < SCALE; dy++) {
        for (let dx = 0; dx < SCALE; dx++) {
          const at = (((y + MARGIN) * SCALE + dy) * w + (x + MARGIN) * SCALE + dx) * 4
          pixels[at] = pixels[at + 1] = pixels[at + 2] = 0
        }
      }
    }
  }
  return jsQR(pixels, w, h)?.data
}
