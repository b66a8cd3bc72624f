// Public keys a policy trusts for cosign: PEM (SubjectPublicKeyInfo) or DER, of the kinds cosign
// signs with (sigstore/sigstore's signature package): ECDSA P-256 and P-384 (P-521 too),
// RSA of at least 2048 bits, and Ed25519. Anything else is refused when the policy loads.
import { createPublicKey, type KeyObject } from 'node:crypto';

const CURVES: Readonly<Record<string, string>> = { prime256v1: 'P-256', secp384r1: 'P-384', secp521r1: 'P-521' };
const MAX_KEY_TEXT = 16 * 1024;

/** The key and how messages name its kind; throws an Error whose message says what is wrong. */
export function parsePublicKey(input: string | Uint8Array): { key: KeyObject; kind: string } {
  if (input.length > MAX_KEY_TEXT) throw new Error(`a public key of ${input.length} bytes is not one (at most ${MAX_KEY_TEXT})`);
  let key: KeyObject;
  try {
    key =
      typeof input === 'string' ? createPublicKey({ key: input, format: 'pem' }) : createPublicKey({ key: Buffer.from(input), format: 'der', type: 'spki' });
  } catch (err) {
    throw new Error(`not a PEM public key (${err instanceof Error ? err.message : String(err)})`, { cause: err });
  }
  return { key, kind: keyKind(key) };
}

/** "ecdsa P-256", "rsa 3072", "ed25519"; throws for a kind cosign does not sign with. */
export function keyKind(key: KeyObject): string {
  const details = key.asymmetricKeyDetails ?? {};
  switch (key.asymmetricKeyType) {
    case 'ec': {
      const curve = CURVES[details.namedCurve ?? ''];
      if (!curve) throw new Error(`ECDSA curve ${details.namedCurve ?? 'unknown'} is not one cosign signs with (P-256, P-384, P-521)`);
      return `ecdsa ${curve}`;
    }
    case 'rsa':
      if ((details.modulusLength ?? 0) < 2048) throw new Error(`RSA key of ${details.modulusLength ?? 0} bits: at least 2048 are required`);
      return `rsa ${details.modulusLength}`;
    case 'ed25519':
      return 'ed25519';
    default:
      throw new Error(`${key.asymmetricKeyType ?? 'unknown'} keys are not ones cosign signs with (ECDSA, RSA, Ed25519)`);
  }
}
