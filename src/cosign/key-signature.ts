// The digest a key signature was made with, by key kind, as cosign signs (sigstore/sigstore
// pkg/signature GetDefaultPublicKeyDetails): ECDSA P-256 with SHA-256, P-384 with SHA-384,
// P-521 with SHA-512, Ed25519 pure (no pre-hash), RSA PKCS#1 v1.5 with SHA-256 (or PSS, opt-in).
// @sigstore/verify checks a DSSE signature with the key type's default digest and a message
// signature with the bundle's digest (SHA-256), which only fits P-256 and RSA: so a key
// authority's entity checks its signature here instead. Older cosign releases signed every
// ECDSA key with SHA-256, so that is tried after the curve's own digest.
import { constants, verify, type KeyObject } from 'node:crypto';
import { dsse } from '@sigstore/core';
import type { SignedEntity } from '@sigstore/verify';
import type { SignedBundle } from './types.ts';

const CURVE_DIGEST: Readonly<Record<string, string>> = { prime256v1: 'sha256', secp384r1: 'sha384', secp521r1: 'sha512' };

/** Whether `signature` over `data` verifies with `key` under one of the digests cosign uses for that key kind. */
export function verifyKeySignature(data: Buffer, key: KeyObject, signature: Buffer): boolean {
  const attempt = (algorithm: string | null, k: KeyObject | { key: KeyObject; padding: number; saltLength: number } = key): boolean => {
    try {
      return verify(algorithm, data, k, signature);
    } catch {
      return false;
    }
  };
  switch (key.asymmetricKeyType) {
    case 'ed25519':
      return attempt(null);
    case 'ec': {
      const digest = CURVE_DIGEST[key.asymmetricKeyDetails?.namedCurve ?? ''] ?? 'sha256';
      return attempt(digest) || (digest !== 'sha256' && attempt('sha256'));
    }
    case 'rsa':
      return attempt('sha256') || attempt('sha256', { key, padding: constants.RSA_PKCS1_PSS_PADDING, saltLength: constants.RSA_PSS_SALTLEN_AUTO });
    default:
      return false;
  }
}

/** The bytes a bundle's signature covers: the DSSE pre-authentication encoding, or the payload. */
function signedBytes(signed: SignedBundle): Buffer | undefined {
  const { content } = signed.bundle;
  if (content.$case === 'dsseEnvelope') return dsse.preAuthEncoding(content.dsseEnvelope.payloadType, content.dsseEnvelope.payload);
  return signed.payload && Buffer.from(signed.payload);
}

/** `entity` whose signature check uses verifyKeySignature; everything else is @sigstore/verify's. */
export function withKeySignatureCheck(entity: SignedEntity, signed: SignedBundle): SignedEntity {
  const original = entity.signature;
  const data = signedBytes(signed);
  const signature: SignedEntity['signature'] = {
    signature: original.signature,
    compareSignature: (s: Buffer) => original.compareSignature(s),
    compareDigest: (d: Buffer) => original.compareDigest(d),
    compareSignedDigest: (d: Buffer) => original.compareSignedDigest(d),
    verifySignature: (key: KeyObject) => data !== undefined && verifyKeySignature(data, key, original.signature),
  };
  return { ...entity, signature };
}
