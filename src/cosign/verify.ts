// Verifies one cosign signature against the policy's authorities. The cryptography (bundle
// shape, signature, certificate chain to the trusted root's Fulcio CAs, SCTs, Rekor inclusion
// proof or signed entry timestamp, certificate validity at the log's integrated time) is
// @sigstore/verify's; this file decides which checks an authority demands, matches the
// certificate identity, and holds the signed payload to the deployed digest.
import type { KeyObject } from 'node:crypto';
import { bundleFromJSON } from '@sigstore/bundle';
import { crypto } from '@sigstore/core';
import { toSignedEntity, Verifier, type SignedEntity, type Signer, type TrustMaterial } from '@sigstore/verify';
import { ErrorCodes, type RejectionCode } from '../support/errors.ts';
import { BUNDLE_BOUNDS, boundedJson } from './json.ts';
import { legacyBundle } from './legacy.ts';
import { withKeySignatureCheck } from './key-signature.ts';
import { inTotoClaim, simpleSigningClaim, type Claim } from './payload.ts';
import type { Authority, AuthorityFailure, CosignArtifact, CosignResult, KeylessAuthority, SignedBundle, VerifyOptions } from './types.ts';

/** Trust material with nothing in it: a key authority's bundle with no log entries needs none. */
const EMPTY_MATERIAL: TrustMaterial = { certificateAuthorities: [], timestampAuthorities: [], tlogs: [], ctlogs: [], publicKey: () => noKey() };

function noKey(): never {
  throw new Error('no public key');
}

type Parsed = { ok: true; signed: SignedBundle } | { ok: false; reason: string };

/** Shape first (size, depth, values), then @sigstore/bundle's own validation. */
export function parseBundle(bytes: Uint8Array): Parsed {
  const json = boundedJson(bytes, BUNDLE_BOUNDS, 'Sigstore bundle');
  if (!json.ok) return json;
  try {
    return { ok: true, signed: { bundle: bundleFromJSON(json.value) } };
  } catch (err) {
    // ValidationError lists the invalid fields: name them, they say what is missing.
    const fields = (err as { fields?: unknown }).fields;
    const which = Array.isArray(fields) ? `: ${fields.slice(0, 5).join(', ')}` : '';
    return { ok: false, reason: `not a valid Sigstore bundle (${err instanceof Error ? err.message.slice(0, 200) : String(err)}${which})` };
  }
}

function toSigned(artifact: CosignArtifact): Parsed {
  if (artifact.form === 'bundle') return parseBundle(artifact.bundle);
  const legacy = legacyBundle(artifact.payload, artifact.annotations);
  return legacy.ok ? { ok: true, signed: { bundle: legacy.bundle, payload: artifact.payload } } : legacy;
}

/** What the signature claims to sign: the simple-signing payload, or the DSSE in-toto statement. */
export function claimOf(signed: SignedBundle, targetDigest: string): Claim {
  const { content } = signed.bundle;
  if (content.$case === 'dsseEnvelope') return inTotoClaim(content.dsseEnvelope.payloadType, content.dsseEnvelope.payload, targetDigest);
  if (!signed.payload) return { ok: false, reason: 'a message-signature bundle without its payload cannot say what it signs' };
  return simpleSigningClaim(signed.payload);
}

const VERIFY_CODES: Readonly<Record<string, RejectionCode>> = {
  SIGNATURE_ERROR: ErrorCodes.INTEGRITY,
  TLOG_ERROR: ErrorCodes.INTEGRITY,
  TLOG_BODY_ERROR: ErrorCodes.INTEGRITY,
  TLOG_INCLUSION_PROOF_ERROR: ErrorCodes.INTEGRITY,
  TLOG_INCLUSION_PROMISE_ERROR: ErrorCodes.INTEGRITY,
  CERTIFICATE_ERROR: ErrorCodes.UNTRUSTED_CHAIN,
  TIMESTAMP_ERROR: ErrorCodes.CERT_VALIDITY,
  PUBLIC_KEY_ERROR: ErrorCodes.UNTRUSTED_CHAIN,
};

/** Why @sigstore/verify refused, as a rejection code and a bounded reason. */
function failure(authority: string, err: unknown): AuthorityFailure {
  const code = (err as { code?: unknown }).code;
  const message = err instanceof Error ? err.message : String(err);
  return { authority, code: (typeof code === 'string' && VERIFY_CODES[code]) || ErrorCodes.INTEGRITY, reason: message.slice(0, 300) };
}

function keyMaterial(key: KeyObject, options: VerifyOptions): TrustMaterial {
  // Any key hint: the bundle's hint is the signer's word, the authority's key is ours.
  return { ...(options.trustMaterial ?? EMPTY_MATERIAL), publicKey: () => ({ publicKey: key, validFor: () => true }) };
}

/** The certificate's identity against a keyless authority's issuer and subject. */
function identityProblem(authority: KeylessAuthority, signer: Signer): string | undefined {
  const subject = signer.identity?.subjectAlternativeName;
  const issuer = signer.identity?.extensions?.issuer;
  if (issuer === undefined || !authority.issuer.test(issuer)) return `issuer ${issuer ?? '(none)'} is not ${authority.issuer.text}`;
  if (subject === undefined || !authority.subject.test(subject)) return `subject ${subject ?? '(none)'} is not ${authority.subject.text}`;
  return undefined;
}

export type AuthorityVerdict = { ok: true; signer: string } | { ok: false; failure: AuthorityFailure };

/** What keyless verification of one signature found, whoever asks: the certificate's signer,
 *  or why it does not verify. Computed once per signature and shared by every keyless
 *  authority, which then only compare identities. */
type KeylessOutcome = { ok: true; signer: Signer } | { ok: false; code: RejectionCode; reason: string };

function keylessOutcome(entity: SignedEntity, trustMaterial: TrustMaterial): KeylessOutcome {
  // The signature over the leaf's own key first: a microsecond check that turns away forged or
  // copied material before the certificate chain, SCT and log entry (milliseconds) are checked.
  if (entity.key.$case === 'certificate') {
    let leafKey: KeyObject;
    try {
      leafKey = crypto.createPublicKey(entity.key.certificate.publicKey);
    } catch {
      return { ok: false, code: ErrorCodes.PARSE, reason: "the certificate's public key cannot be read" };
    }
    if (!entity.signature.verifySignature(leafKey)) return { ok: false, code: ErrorCodes.INTEGRITY, reason: 'signature verification failed' };
  }
  try {
    // Keyless: a certificate from the root's Fulcio, an SCT from its CT log, and at least one
    // Rekor entry (inclusion proof or signed entry timestamp) whose time the certificate covers.
    return { ok: true, signer: new Verifier(trustMaterial, { tlogThreshold: 1, ctlogThreshold: 1, timestampThreshold: 1 }).verify(entity) };
  } catch (err) {
    const { code, reason } = failure('', err);
    return { ok: false, code, reason };
  }
}

/** One authority against one parsed signature: the cryptography and the identity, not the
 *  payload. `keyless` memoises the identity-independent keyless verification of this signature. */
export function verifyWithAuthority(
  signed: SignedBundle,
  authority: Authority,
  options: VerifyOptions,
  keyless: { outcome?: KeylessOutcome; entity?: SignedEntity } = {},
): AuthorityVerdict {
  const material = signed.bundle.verificationMaterial.content;
  const refuse = (code: RejectionCode, reason: string): AuthorityVerdict => ({ ok: false, failure: { authority: authority.name, code, reason } });
  let entity: SignedEntity;
  try {
    entity = keyless.entity ??= toSignedEntity(signed.bundle, signed.payload && Buffer.from(signed.payload));
  } catch (err) {
    return { ok: false, failure: failure(authority.name, err) };
  }
  if (authority.kind === 'key') {
    if (material.$case !== 'publicKey') return refuse(ErrorCodes.UNTRUSTED_IDENTITY, 'signed with a certificate (keyless), not with a key');
    // With the digest cosign uses for this key kind (key-signature.ts); the signature first:
    // another key's signature is refused before any log entry is checked.
    const keyed = withKeySignatureCheck(entity, signed);
    if (!keyed.signature.verifySignature(authority.key)) return refuse(ErrorCodes.INTEGRITY, 'not signed by this key');
    try {
      // A key is its own trust: no log entry or timestamp is demanded, but any the bundle
      // carries must verify against the trusted root.
      new Verifier(keyMaterial(authority.key, options), { tlogThreshold: 0, ctlogThreshold: 0, timestampThreshold: 0 }).verify(keyed);
      return { ok: true, signer: authority.describe };
    } catch (err) {
      const f = failure(authority.name, err);
      return {
        ok: false,
        failure: f.code === ErrorCodes.INTEGRITY && f.reason === 'signature verification failed' ? { ...f, reason: 'not signed by this key' } : f,
      };
    }
  }
  if (material.$case === 'publicKey') return refuse(ErrorCodes.UNTRUSTED_IDENTITY, 'signed with a key, not with a certificate (keyless)');
  if (!options.trustMaterial) return refuse(ErrorCodes.UNTRUSTED_CHAIN, 'no Sigstore trusted root is configured');
  const outcome = (keyless.outcome ??= keylessOutcome(entity, options.trustMaterial));
  if (!outcome.ok) return refuse(outcome.code, outcome.reason);
  const problem = identityProblem(authority, outcome.signer);
  if (problem) return refuse(ErrorCodes.UNTRUSTED_IDENTITY, problem);
  return { ok: true, signer: `${outcome.signer.identity?.subjectAlternativeName ?? '?'} (issuer ${outcome.signer.identity?.extensions?.issuer ?? '?'})` };
}

/** The signature against every authority in turn; the first that accepts it decides. */
export function verifyCosign(artifact: CosignArtifact, targetDigest: string, authorities: readonly Authority[], options: VerifyOptions): CosignResult {
  const parsed = toSigned(artifact);
  if (!parsed.ok) return { ok: false, code: ErrorCodes.PARSE, reason: parsed.reason, tried: [] };
  // The payload is the signer's unverified word until an authority accepts the signature, but
  // a payload about another digest can never admit this one, whoever signed it.
  const claim = claimOf(parsed.signed, targetDigest);
  if (!claim.ok) return { ok: false, code: ErrorCodes.PARSE, reason: claim.reason, tried: [] };
  if (claim.claim.digest !== targetDigest)
    return { ok: false, code: ErrorCodes.TARGET_MISMATCH, reason: `signs ${claim.claim.digest.slice(0, 19)}…, not the deployed digest`, tried: [] };
  const tried: AuthorityFailure[] = [];
  const shared = {};
  for (const authority of authorities) {
    const verdict = verifyWithAuthority(parsed.signed, authority, options, shared);
    if (verdict.ok)
      return { ok: true, authority: authority.name, signer: verdict.signer, ...(claim.claim.reference !== undefined && { reference: claim.claim.reference }) };
    tried.push(verdict.failure);
  }
  return { ok: false, code: tried[0]?.code ?? ErrorCodes.UNTRUSTED_IDENTITY, reason: 'no authority accepted it', tried };
}
