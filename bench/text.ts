import { randomBytes } from 'node:crypto'

/** Printable ASCII, space to tilde: one byte per character in UTF-8, so length is byte size. */
const FIRST = 0x20
const SPAN = 0x7f - FIRST

/** Random printable text of exactly `bytes` UTF-8 bytes, so no two messages compress alike. */
export function randomText (bytes: number): string {
  const raw = randomBytes(bytes)
  let out = ''
  for (const b of raw) out += String.fromCharCode(FIRST + (b % SPAN))
  return out
}

export function randomTexts (count: number, bytes: number): string[] {
  return Array.from({ length: count }, () => randomText(bytes))
}
