/**
 * The session scheme checked against its specification (docs/protocol.md, section 19) by an
 * independent implementation of the responder's side written here with @noble/* only: the first
 * message of a session, made by src/session from fixed seeds, is opened step by step from the
 * formulas in the docs. The intermediate values are the test vectors printed there.
 */
import { describe, it } from 'node:test'
import assert from 'node:assert/strict'
import { generateKeyPairFromSeed } from '@libp2p/crypto/keys'
import { peerIdFromPrivateKey } from '@libp2p/peer-id'
import { ed25519, x25519 } from '@noble/curves/ed25519.js'
import { ml_kem768 as mlKem } from '@noble/post-quantum/ml-kem.js'
import { hkdf } from '@noble/hashes/hkdf.js'
import { hmac } from '@noble/hashes/hmac.js'
import { sha256 } from '@noble/hashes/sha2.js'
import { chacha20poly1305, xchacha20poly1305 } from '@noble/ciphers/chacha.js'
import { localKeys } from '../src/crypto/keys.js'
import { checkBundle, startSession } from '../src/session/index.js'
import { SessionInit } from '../src/session/pb/session.js'
import { responder, seededRandom } from './session-helpers.js'

const hex = (b: Uint8Array): string => Buffer.from(b).toString('hex')
const utf8 = (s: string): Uint8Array => new TextEncoder().encode(s)
const cat = (...parts: Uint8Array[]): Uint8Array => new Uint8Array(Buffer.concat(parts))
const ZERO = new Uint8Array(32)

/** The values docs/protocol.md, section 19.6, prints. */
const VECTORS = {
  sk: 'f3bb842b6e5bc22575482c116bc5757d9e085038a64e7e694f6930c0082f88e7',
  rk: '708dcfb9816ddf88935a787858e34b927b34dd070725ad5df1705aec21ea9d8a',
  hka: '7838d919d5b0a1860961155104474b87dded0f036d85844d95af21ef417688d6',
  nhkb: '877dda536f5b00d28685d03fb246d9ff999d527f8e29e065c3391c4802abbcb7',
  header: 'a3d9516758c7574abe5e288c9386b2030ee11252da36a0bb4ece8f5cd83bdf220000000000000000',
  plaintext: 'hello, bob'
}

describe('the session scheme against docs/protocol.md (independent implementation)', () => {
  it('opens the first message of a session made from fixed seeds, step by step', async () => {
    const aliceKey = await generateKeyPairFromSeed('Ed25519', new Uint8Array(32).fill(1))
    const bobKey = await generateKeyPairFromSeed('Ed25519', new Uint8Array(32).fill(2))
    const alice = localKeys(aliceKey, peerIdFromPrivateKey(aliceKey))
    const bob = localKeys(bobKey, peerIdFromPrivateKey(bobKey))
    const bobPrekeys = responder(bob, seededRandom('vectors: bob'), 1)
    const bundleBytes = bobPrekeys.bundle()
    const started = startSession(alice, checkBundle(bundleBytes, bob), utf8(VECTORS.plaintext), { now: 0, random: seededRandom('vectors: alice') })
    const init = SessionInit.decode(started.init)

    // Bob's secrets, as the responder keeps them.
    const spk = bobPrekeys.secrets.signedPrekey(init.signedPrekeyId)!
    const opk = bobPrekeys.secrets.oneTimePrekey(init.oneTimePrekeyId!)!
    const pq = bobPrekeys.secrets.pqPrekey(init.pqPrekeyId, init.pqOneTime)!
    const ikB = ed25519.utils.toMontgomerySecret(bobKey.raw.subarray(0, 32))
    const ikA = ed25519.utils.toMontgomery(aliceKey.publicKey.raw)

    // 19.4: the initiator's identity, sealed under a key from DH3.
    const dh3 = x25519.getSharedSecret(spk.secret, init.ephemeral)
    const senderKey = hkdf(sha256, dh3, init.ephemeral, utf8('pigeon-session-sender-v1'), 32)
    const sender = chacha20poly1305(senderKey, new Uint8Array(12), init.ephemeral).decrypt(init.sealedIdentity)
    assert.equal(hex(sender), hex(alice.idBytes))

    // 19.4: SK and the session's first keys.
    const dh1 = x25519.getSharedSecret(spk.secret, ikA)
    const dh2 = x25519.getSharedSecret(ikB, init.ephemeral)
    const dh4 = x25519.getSharedSecret(opk.secret, init.ephemeral)
    const ss = mlKem.decapsulate(init.kemCiphertext, mlKem.keygen(pq.seed).secretKey)
    const sk = hkdf(sha256, cat(new Uint8Array(32).fill(0xff), dh1, dh2, dh3, dh4, ss), ZERO, utf8('pigeon_PQXDH_CURVE25519_SHA-256_ML-KEM-768'), 32)
    const keys = hkdf(sha256, sk, ZERO, utf8('pigeon-session-init-v1'), 96)
    const [rk, hka, nhkb] = [keys.subarray(0, 32), keys.subarray(32, 64), keys.subarray(64, 96)]

    // 19.2: the header, under HKa, with its 24-byte nonce in front.
    const header = xchacha20poly1305(hka, init.header.subarray(0, 24)).decrypt(init.header.subarray(24))
    assert.equal(header.byteLength, 40)
    const ratchetKey = header.subarray(0, 32)
    const view = new DataView(header.buffer, header.byteOffset)
    assert.deepEqual([view.getUint32(32), view.getUint32(36)], [0, 0], 'PN and N of the first message')

    // 19.3: KDF_RK_HE with DH(SPK_B, the initiator's ratchet key), then KDF_CK, then ENCRYPT.
    const rkOut = hkdf(sha256, x25519.getSharedSecret(spk.secret, ratchetKey), rk, utf8('pigeon-ratchet-rk-v1'), 96)
    const ck = rkOut.subarray(32, 64)
    const mk = hmac(sha256, ck, Uint8Array.of(1))
    const ad = cat(alice.idBytes, bob.idBytes, init.header)
    const plaintext = chacha20poly1305(mk, new Uint8Array(12), ad).decrypt(init.ciphertext)
    assert.equal(new TextDecoder().decode(plaintext), VECTORS.plaintext)

    const found = { sk: hex(sk), rk: hex(rk), hka: hex(hka), nhkb: hex(nhkb), header: hex(header), plaintext: VECTORS.plaintext }
    if (process.env.PRINT_VECTORS != null) console.log(JSON.stringify(found, null, 2))
    assert.deepEqual(found, VECTORS, 'the vectors in docs/protocol.md')
  })
})
