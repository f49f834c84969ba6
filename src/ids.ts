/** Message ids: 16 bytes on the wire, 32 lowercase hex characters everywhere else. */

export function idToHex (id: Uint8Array): string {
  return Buffer.from(id.buffer, id.byteOffset, id.byteLength).toString('hex')
}

export function idFromHex (hex: string): Uint8Array<ArrayBuffer> {
  return new Uint8Array(Buffer.from(hex, 'hex'))
}
