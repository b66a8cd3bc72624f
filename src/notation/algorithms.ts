// The Notary Project's signature algorithms: RSASSA-PSS and ECDSA at three sizes each.
// The signing key decides the algorithm; the envelope's `alg` must agree with it so an
// attacker cannot substitute a weaker algorithm (signature-envelope-jws.md, "alg").
import { constants, sign as cryptoSign, verify as cryptoVerify, type KeyObject } from 'node:crypto';

export type SignatureAlgorithm = 'PS256' | 'PS384' | 'PS512' | 'ES256' | 'ES384' | 'ES512';

export const JWS_ALGORITHMS: ReadonlyMap<string, SignatureAlgorithm> = new Map([
  ['PS256', 'PS256'],
  ['PS384', 'PS384'],
  ['PS512', 'PS512'],
  ['ES256', 'ES256'],
  ['ES384', 'ES384'],
  ['ES512', 'ES512'],
]);

export const COSE_ALGORITHMS: ReadonlyMap<number, SignatureAlgorithm> = new Map([
  [-37, 'PS256'],
  [-38, 'PS384'],
  [-39, 'PS512'],
  [-7, 'ES256'],
  [-35, 'ES384'],
  [-36, 'ES512'],
]);

export const COSE_ALGORITHM_IDS: Readonly<Record<SignatureAlgorithm, number>> = {
  PS256: -37,
  PS384: -38,
  PS512: -39,
  ES256: -7,
  ES384: -35,
  ES512: -36,
};

const HASH: Readonly<Record<SignatureAlgorithm, { name: string; bytes: number }>> = {
  PS256: { name: 'sha256', bytes: 32 },
  PS384: { name: 'sha384', bytes: 48 },
  PS512: { name: 'sha512', bytes: 64 },
  ES256: { name: 'sha256', bytes: 32 },
  ES384: { name: 'sha384', bytes: 48 },
  ES512: { name: 'sha512', bytes: 64 },
};

/** The algorithm a key must sign with, or a sentence saying why the key is not acceptable. */
export function algorithmForKey(key: KeyObject): { alg: SignatureAlgorithm } | { error: string } {
  const type = key.asymmetricKeyType;
  const details = key.asymmetricKeyDetails ?? {};
  if (type === 'rsa') {
    switch (details.modulusLength) {
      case 2048:
        return { alg: 'PS256' };
      case 3072:
        return { alg: 'PS384' };
      case 4096:
        return { alg: 'PS512' };
      default:
        return { error: `RSA key of ${String(details.modulusLength)} bits is not supported (2048, 3072 or 4096)` };
    }
  }
  if (type === 'ec') {
    switch (details.namedCurve) {
      case 'prime256v1':
        return { alg: 'ES256' };
      case 'secp384r1':
        return { alg: 'ES384' };
      case 'secp521r1':
        return { alg: 'ES512' };
      default:
        return { error: `EC curve ${String(details.namedCurve)} is not supported (P-256, P-384 or P-521)` };
    }
  }
  return { error: `${String(type)} keys are not supported (RSA or EC)` };
}

function keyOptions(alg: SignatureAlgorithm, key: KeyObject) {
  return alg.startsWith('PS') ? { key, padding: constants.RSA_PKCS1_PSS_PADDING, saltLength: HASH[alg].bytes } : { key, dsaEncoding: 'ieee-p1363' as const };
}

/** Verifies a raw signature (r||s for ECDSA, as JWS and COSE both carry it). Never throws. */
export function verifySignatureBytes(alg: SignatureAlgorithm, key: KeyObject, data: Uint8Array, signature: Uint8Array): boolean {
  try {
    return cryptoVerify(HASH[alg].name, data, keyOptions(alg, key), signature);
  } catch {
    return false;
  }
}

export function signBytes(alg: SignatureAlgorithm, key: KeyObject, data: Uint8Array): Uint8Array {
  return cryptoSign(HASH[alg].name, data, keyOptions(alg, key));
}
