// Shared fixtures for the notation tests: the reference vectors' directory, AWS-Signer-
// shaped chains and envelopes signed with real keys, and byte-level tampering.
import type { KeyObject } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { isDeepStrictEqual } from 'node:util';
import { join } from 'node:path';
import { signBytes, type SignatureAlgorithm } from '../../src/notation/algorithms.ts';
import { coseSign1ToBeSigned } from '../../src/notation/cose.ts';
import { CborTag, decodeCbor, encodeCbor, type CborKey, type CborValue } from '../../src/notation/cbor.ts';
import { parseTrustedIdentity } from '../../src/notation/identity.ts';
import { signEnvelope, type SignRequest, type SignedEnvelope } from '../../src/dev/notation/sign.ts';
import { buildAwsSignerShapedChain, type ChainOptions, type TestChain } from '../../src/dev/notation/testchain.ts';
import type { TargetDescriptor, TrustStore, VerifyOptions } from '../../src/notation/types.ts';

/** The Notary Project test vectors carried in the repository (see its README for source and licence). */
export const VECTORS = join(import.meta.dirname, '../fixtures/notation/');
export const readVector = (name: string): Uint8Array => new Uint8Array(readFileSync(join(VECTORS, name)));

export const PROFILE_ARN = 'arn:aws:signer:us-east-1:111122223333:/signing-profiles/release';
export const PROFILE_VERSION_ARN = `${PROFILE_ARN}/AbCdEf1234`;
export const JOB_ARN = 'arn:aws:signer:us-east-1:111122223333:/signing-jobs/3f1c2a4b-9d1e-4c5f-8a7b-0123456789ab';

export const TARGET: TargetDescriptor = {
  mediaType: 'application/vnd.oci.image.manifest.v1+json',
  digest: 'sha256:3c4c1f42a89e343a4d0b7f3bd3b5f4e7e1e5a9b1f2f4a9d0c3b2a1f0e9d8c7b6',
  size: 1532,
};

/** A fixed "now" with whole seconds, so COSE's second-precision times compare exactly. */
export const NOW = new Date(Math.floor(Date.now() / 1000) * 1000);
export const DAY = 24 * 60 * 60 * 1000;

export async function awsChain(options: ChainOptions = {}): Promise<TestChain> {
  return buildAwsSignerShapedChain({ now: NOW, ...options });
}

export function signingAuthorityStore(chain: TestChain, name = 'aws-signer-test-root'): TrustStore {
  return { type: 'signingAuthority', name, certificates: [chain.root] };
}

export function signAws(chain: TestChain, format: 'jws' | 'cose', overrides: Partial<SignRequest> = {}): SignedEnvelope {
  return signEnvelope({
    format,
    target: TARGET,
    certificates: chain.certificates,
    privateKey: chain.leafKey,
    signingTime: new Date(NOW.getTime() - 60_000),
    aws: { profileVersionArn: PROFILE_VERSION_ARN, jobArn: JOB_ARN },
    ...overrides,
  });
}

export function awsOptions(chain: TestChain, overrides: Partial<VerifyOptions> = {}): VerifyOptions {
  return {
    trustStores: [signingAuthorityStore(chain)],
    trustedIdentities: [parseTrustedIdentity(PROFILE_ARN)],
    revocation: 'enforce',
    checkRevocation: async () => [],
    now: NOW,
    ...overrides,
  };
}

// ---- tampering: change signed content, keep the signature ----

type Json = Record<string, unknown>;

function b64urlJson(s: string): Json {
  return JSON.parse(Buffer.from(s, 'base64url').toString('utf8')) as Json;
}

function toB64url(v: unknown): string {
  return Buffer.from(JSON.stringify(v)).toString('base64url');
}

/** Rewrites a JWS envelope's decoded protected header and/or payload. */
export function tamperJws(envelope: Uint8Array, edit: { protected?: (h: Json) => void; payload?: (p: Json) => void; top?: (e: Json) => void }): Uint8Array {
  const env = JSON.parse(Buffer.from(envelope).toString('utf8')) as Json;
  if (edit.protected) {
    const h = b64urlJson(env.protected as string);
    edit.protected(h);
    env.protected = toB64url(h);
  }
  if (edit.payload) {
    const p = b64urlJson(env.payload as string);
    edit.payload(p);
    env.payload = toB64url(p);
  }
  edit.top?.(env);
  return Buffer.from(JSON.stringify(env));
}

/** Rewrites a COSE_Sign1 envelope's protected header map, payload or unprotected map. */
export function tamperCose(
  envelope: Uint8Array,
  edit: { protected?: (h: Map<CborKey, CborValue>) => void; payload?: (p: Json) => void; unprotected?: (u: Map<CborKey, CborValue>) => void },
): Uint8Array {
  const top = decodeCbor(envelope);
  if (!top.ok || !(top.value instanceof CborTag)) throw new Error('not a COSE envelope');
  const [prot, unprot, payload, sig] = top.value.value as [Uint8Array, Map<CborKey, CborValue>, Uint8Array, Uint8Array];
  let protBytes = prot;
  if (edit.protected) {
    const h = decodeCbor(prot);
    if (!h.ok) throw new Error('bad protected header');
    edit.protected(h.value as Map<CborKey, CborValue>);
    protBytes = encodeCbor(h.value);
  }
  let payloadBytes = payload;
  if (edit.payload) {
    const p = JSON.parse(Buffer.from(payload).toString('utf8')) as Json;
    edit.payload(p);
    payloadBytes = Buffer.from(JSON.stringify(p));
  }
  edit.unprotected?.(unprot);
  return encodeCbor(new CborTag(18, [protBytes, unprot, payloadBytes, sig]));
}

// ---- re-signing: change signed content AND sign it again with the leaf key, so a check
// is proven to refuse even a correctly signed envelope ----

export function resignJws(envelope: Uint8Array, key: KeyObject, edit: (h: Json) => void, alg: SignatureAlgorithm = 'ES384'): Uint8Array {
  const env = JSON.parse(Buffer.from(envelope).toString('utf8')) as Json;
  const h = b64urlJson(env.protected as string);
  edit(h);
  env.protected = toB64url(h);
  env.signature = Buffer.from(signBytes(alg, key, Buffer.from(`${env.protected as string}.${env.payload as string}`))).toString('base64url');
  return Buffer.from(JSON.stringify(env));
}

export function resignCose(envelope: Uint8Array, key: KeyObject, edit: (h: Map<CborKey, CborValue>) => void, alg: SignatureAlgorithm = 'ES384'): Uint8Array {
  const top = decodeCbor(envelope);
  if (!top.ok || !(top.value instanceof CborTag)) throw new Error('not a COSE envelope');
  const [prot, unprot, payload] = top.value.value as [Uint8Array, Map<CborKey, CborValue>, Uint8Array, Uint8Array];
  const h = decodeCbor(prot);
  if (!h.ok) throw new Error('bad protected header');
  edit(h.value as Map<CborKey, CborValue>);
  const protBytes = encodeCbor(h.value);
  const signature = signBytes(alg, key, coseSign1ToBeSigned(protBytes, payload));
  return encodeCbor(new CborTag(18, [protBytes, unprot, payload, signature]));
}

/** Whether two JWS envelopes are the same JSON value: an edit that only changes how the JSON is
 *  written (whitespace between tokens, `\/` for `/` in a string: x5c is standard base64, which
 *  has '/') is the same envelope, which may verify; the fuzz tests exempt exactly those. */
export function sameJson(a: Uint8Array, b: Uint8Array): boolean {
  try {
    return isDeepStrictEqual(JSON.parse(Buffer.from(a).toString('utf8')), JSON.parse(Buffer.from(b).toString('utf8')));
  } catch {
    return false;
  }
}
