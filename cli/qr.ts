/**
 * A contact card as a QR code in the terminal, so another device can scan it (`pigeon id --qr`).
 * Two rows of modules per line of text (Unicode half blocks): light modules are drawn, dark
 * ones are left as the background, which suits the usual light-on-dark terminal; scanners read
 * the inverted picture of a dark-on-light terminal too.
 */
import { renderUnicodeCompact } from 'uqr'

/** Quiet zone around the code, in modules: scanners need a margin of background. */
const QUIET_ZONE = 2

export function qrText (text: string): string {
  // Level L: the card is long, and a screen shows it without damage, so no room goes to repair.
  return renderUnicodeCompact(text, { ecc: 'L', border: QUIET_ZONE })
}
