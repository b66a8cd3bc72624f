// What a cosign signature says it signs, read from its payload: the simple-signing JSON of the
// older format ({critical: {identity: {docker-reference}, image: {docker-manifest-digest}, type}})
// or the in-toto statement cosign 3 wraps in a DSSE envelope (subject digest, predicate type
// https://sigstore.dev/cosign/sign/v1). The digest must be the one deployed; the reference is
// only reported (a tag or repository the signer named, which may differ after a copy).
import { asRecord, boundedJson, PAYLOAD_BOUNDS } from './json.ts';

export const SIMPLE_SIGNING_TYPE = 'cosign container image signature';
export const IN_TOTO_PAYLOAD_TYPE = 'application/vnd.in-toto+json';
export const COSIGN_SIGN_PREDICATE = 'https://sigstore.dev/cosign/sign/v1';
const STATEMENT_TYPES: ReadonlySet<string> = new Set(['https://in-toto.io/Statement/v1', 'https://in-toto.io/Statement/v0.1']);
/** cosign writes one subject; a statement with many is not a signature of one image. */
const MAX_SUBJECTS = 16;
const DIGEST = /^sha256:[a-f0-9]{64}$/;

export interface SignedClaim {
  /** sha256:<hex> the payload names. */
  readonly digest: string;
  readonly reference?: string;
}

export type Claim = { ok: true; claim: SignedClaim } | { ok: false; reason: string };

export function simpleSigningClaim(payload: Uint8Array): Claim {
  const json = boundedJson(payload, PAYLOAD_BOUNDS, 'simple-signing payload');
  if (!json.ok) return json;
  const critical = asRecord(asRecord(json.value)?.critical);
  const digest = asRecord(critical?.image)?.['docker-manifest-digest'];
  const reference = asRecord(critical?.identity)?.['docker-reference'];
  if (critical?.type !== SIMPLE_SIGNING_TYPE) return { ok: false, reason: `payload is not a "${SIMPLE_SIGNING_TYPE}"` };
  if (typeof digest !== 'string' || !DIGEST.test(digest)) return { ok: false, reason: 'payload has no sha256 critical.image.docker-manifest-digest' };
  return { ok: true, claim: { digest, ...(typeof reference === 'string' && reference !== '' && { reference: reference.slice(0, 300) }) } };
}

/** The in-toto statement of a DSSE bundle; `targetDigest` picks the subject when there are several. */
export function inTotoClaim(payloadType: string, payload: Uint8Array, targetDigest: string): Claim {
  if (payloadType !== IN_TOTO_PAYLOAD_TYPE) return { ok: false, reason: `DSSE payload type ${payloadType.slice(0, 100)} is not ${IN_TOTO_PAYLOAD_TYPE}` };
  const json = boundedJson(payload, PAYLOAD_BOUNDS, 'in-toto statement');
  if (!json.ok) return json;
  const statement = asRecord(json.value);
  if (typeof statement?._type !== 'string' || !STATEMENT_TYPES.has(statement._type)) return { ok: false, reason: 'DSSE payload is not an in-toto statement' };
  if (statement.predicateType !== COSIGN_SIGN_PREDICATE) {
    const type = typeof statement.predicateType === 'string' ? statement.predicateType.slice(0, 120) : 'none';
    return { ok: false, reason: `an attestation of predicate type ${type}, not a cosign signature (${COSIGN_SIGN_PREDICATE})` };
  }
  const subjects = Array.isArray(statement.subject) ? statement.subject.slice(0, MAX_SUBJECTS + 1).map(asRecord) : [];
  if (subjects.length === 0 || subjects.length > MAX_SUBJECTS)
    return { ok: false, reason: `in-toto statement has ${subjects.length === 0 ? 'no' : 'too many'} subjects` };
  const named = subjects
    .map((s) => ({ hex: asRecord(s?.digest)?.sha256, name: s?.name }))
    .filter((s): s is { hex: string; name: unknown } => typeof s.hex === 'string' && /^[a-f0-9]{64}$/.test(s.hex));
  if (named.length === 0) return { ok: false, reason: 'in-toto statement names no sha256 subject digest' };
  const match = named.find((s) => `sha256:${s.hex}` === targetDigest) ?? named[0]!;
  return {
    ok: true,
    claim: { digest: `sha256:${match.hex}`, ...(typeof match.name === 'string' && match.name !== '' && { reference: match.name.slice(0, 300) }) },
  };
}
