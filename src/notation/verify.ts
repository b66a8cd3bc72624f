// Signature verification in the order of trust-store-trust-policy.md, "Signature
// Verification": integrity, authenticity (chain, trust store, identity), expiry,
// authentic timestamp / certificate validity, revocation. Every validation is enforced;
// only revocation has a warn mode. Returns a value for every input, never throws.
import { algorithmForKey, verifySignatureBytes } from './algorithms.ts';
import { describeSubject, parseCertificate, type CertificateInfo } from './certificate.ts';
import { anchorChain, validateCodeSigningChain } from './chain.ts';
import { parseCose } from './cose.ts';
import { checkCriticalAttributes, type AwsSignerAttributes } from './critical.ts';
import type { ParsedEnvelope } from './envelope.ts';
import type { Parsed } from './errors.ts';
import { formatRfc3339 } from './encoding.ts';
import { profileArnMatches, subjectAttributes, subjectMatches } from './identity.ts';
import { parseJws } from './jws.ts';
import { parsePayload, targetMismatch } from './payload.ts';
import { checkRevocationStatus, startRevocationCheck, uncheckableRevocation } from './revocation.ts';
import { ErrorCodes } from '../support/errors.ts';
import {
  MAX_ENVELOPE_BYTES,
  MEDIA_TYPE_COSE,
  MEDIA_TYPE_JWS,
  SIGNING_SCHEME_SIGNING_AUTHORITY,
  type RejectedSignature,
  type RejectionCode,
  type TargetDescriptor,
  type TrustedIdentity,
  type VerificationResult,
  type VerifyOptions,
} from './types.ts';

function reject(code: RejectionCode, reason: string, signer?: string): RejectedSignature {
  return signer === undefined ? { ok: false, code, reason } : { ok: false, code, reason, signer };
}

/** Parses an envelope of either media type, within the size bound. */
export function parseEnvelope(envelope: Uint8Array, mediaType: string): Parsed<ParsedEnvelope> {
  if (!(envelope instanceof Uint8Array)) return { ok: false, code: ErrorCodes.PARSE, reason: 'the envelope is not bytes' };
  if (envelope.length > MAX_ENVELOPE_BYTES) {
    return { ok: false, code: ErrorCodes.PARSE, reason: `the envelope has ${envelope.length} bytes (at most ${MAX_ENVELOPE_BYTES})` };
  }
  if (mediaType === MEDIA_TYPE_JWS) return parseJws(envelope);
  if (mediaType === MEDIA_TYPE_COSE) return parseCose(envelope);
  return { ok: false, code: ErrorCodes.PARSE, reason: `unsupported envelope media type ${JSON.stringify(String(mediaType))}` };
}

function parseChain(env: ParsedEnvelope): Parsed<CertificateInfo[]> {
  const chain: CertificateInfo[] = [];
  for (const [i, der] of env.certificates.entries()) {
    const cert = parseCertificate(der);
    if (!cert.ok) return { ok: false, code: ErrorCodes.PARSE, reason: `certificate ${i} of the chain: ${cert.reason}` };
    chain.push(cert.value);
  }
  return { ok: true, value: chain };
}

/** Which configured identity trusts this signature, or why none does. */
function matchIdentity(
  identities: TrustedIdentity[],
  leaf: CertificateInfo,
  aws: AwsSignerAttributes | undefined,
): { matched: TrustedIdentity } | { reason: string } {
  if (aws) {
    // AWS Signer signatures are identified by their signing profile, as the AWS Signer
    // plugin does it. Its refusal of "*" is kept: one AWS root signs for every account.
    const matched = identities.find((id) => profileArnMatches(id, aws.profileVersionArn));
    if (matched) return { matched };
    const wildcard = identities.some((id) => id.kind === 'any');
    return {
      reason: wildcard
        ? `signed by ${aws.profileVersionArn}: "*" does not apply to AWS Signer signatures (it would trust every AWS account); list signing-profile ARNs`
        : `signed by ${aws.profileVersionArn}, which matches no trusted signing-profile ARN`,
    };
  }
  const any = identities.find((id) => id.kind === 'any');
  if (any) return { matched: any };
  const subjects = identities.filter((id) => id.kind === 'x509Subject');
  const leafSubject = describeSubject(leaf);
  if (subjects.length === 0) return { reason: `signed by ${JSON.stringify(leafSubject)}; no x509.subject identity is trusted` };
  const attrs = subjectAttributes(leaf.subject, leaf.multiValuedRdn);
  if (typeof attrs === 'string') return { reason: `the signing certificate cannot be matched: ${attrs}` };
  const matched = subjects.find((id) => subjectMatches(id.attributes, attrs));
  return matched ? { matched } : { reason: `signed by ${JSON.stringify(leafSubject)}, which matches no trusted x509.subject` };
}

/** The first certificate not valid at `at`, as a sentence. */
function invalidAt(certs: CertificateInfo[], at: Date, what: string): string | undefined {
  for (const cert of certs) {
    if (at < cert.notBefore || at > cert.notAfter) {
      return `certificate ${JSON.stringify(describeSubject(cert))} is valid ${formatRfc3339(cert.notBefore)} to ${formatRfc3339(cert.notAfter)}, not at ${what} ${formatRfc3339(at)}`;
    }
  }
  return undefined;
}

async function verify(envelope: Uint8Array, mediaType: string, target: TargetDescriptor, opts: VerifyOptions): Promise<VerificationResult> {
  if (opts.signal?.aborted) return reject(ErrorCodes.ABORTED, 'verification was cancelled');
  const parsedEnv = parseEnvelope(envelope, mediaType);
  if (!parsedEnv.ok) return reject(parsedEnv.code, parsedEnv.reason);
  const env = parsedEnv.value;

  const critical = checkCriticalAttributes(env);
  if (!critical.ok) return reject(critical.code, critical.reason);
  const aws = critical.value.aws;

  const chainParsed = parseChain(env);
  if (!chainParsed.ok) return reject(chainParsed.code, chainParsed.reason, aws?.profileVersionArn);
  const chain = chainParsed.value;
  const leaf = chain[0] as CertificateInfo;
  const signer = aws?.profileVersionArn ?? describeSubject(leaf);
  // Signer is asked now, in parallel with the verification below (revocation.ts).
  const authenticTime = env.signingScheme === SIGNING_SCHEME_SIGNING_AUTHORITY ? env.authenticSigningTime : undefined;
  const revocationAsked =
    aws && authenticTime && 'matched' in matchIdentity(opts.trustedIdentities, leaf, aws) ? startRevocationCheck(chain, aws, authenticTime, opts) : undefined;
  // The verification below is synchronous: one turn of the event loop first lets the SDK's
  // middleware put the request on the wire, so that Signer's round trip overlaps it.
  if (revocationAsked) await new Promise<void>((resolve) => setImmediate(resolve));

  // Integrity: the leaf's key decides the algorithm; `alg` must agree (no substitution).
  const keyAlg = algorithmForKey(leaf.publicKey);
  if ('error' in keyAlg) return reject(ErrorCodes.UNSUPPORTED_ALGORITHM, `signing certificate: ${keyAlg.error}`, signer);
  if (keyAlg.alg !== env.alg) {
    return reject(ErrorCodes.INTEGRITY, `the envelope says ${env.alg} but the signing key requires ${keyAlg.alg}`, signer);
  }
  if (!verifySignatureBytes(env.alg, leaf.publicKey, env.signingInput, env.signature)) {
    return reject(ErrorCodes.INTEGRITY, 'the signature does not verify with the signing certificate (tampered or corrupted)', signer);
  }
  if (env.payload === null) return reject(ErrorCodes.PARSE, 'the JWS payload is not base64url', signer);
  const payload = parsePayload(env.payload);
  if (!payload.ok) return reject(payload.code, payload.reason, signer);
  const mismatch = targetMismatch(payload.value.targetArtifact, target);
  if (mismatch) return reject(ErrorCodes.TARGET_MISMATCH, mismatch, signer);

  // Authenticity.
  const chainOk = validateCodeSigningChain(chain);
  if (!chainOk.ok) return reject(chainOk.code, chainOk.reason, signer);
  const anchor = anchorChain(chain, opts.trustStores, env.signingScheme);
  if (!anchor.ok) return reject(anchor.code, anchor.reason, signer);
  const identity = matchIdentity(opts.trustedIdentities, leaf, aws);
  if ('reason' in identity) return reject(ErrorCodes.UNTRUSTED_IDENTITY, identity.reason, signer);

  // Expiry.
  const now = opts.now ?? new Date();
  if (env.expiry && now >= env.expiry) {
    return reject(ErrorCodes.EXPIRED, `the signature expired at ${formatRfc3339(env.expiry)}`, signer);
  }

  // Authentic timestamp: a signing authority vouches for the signing time, so the chain
  // must have been valid then (AWS Signer leaves live about three days); without one,
  // the chain must be valid now. Timestamp countersignatures (RFC 3161) are not used.
  const validated = anchor.value.outsideChain ? [...chain, anchor.value.certificate] : chain;
  const validity = authenticTime ? invalidAt(validated, authenticTime, 'authentic signing time') : invalidAt(validated, now, 'verification time');
  if (validity) return reject(ErrorCodes.CERT_VALIDITY, validity, signer);

  const warnings: string[] = [];
  let revocation: 'checked' | 'revoked' | 'unavailable' | 'skipped' | 'not-applicable';
  if (aws && authenticTime) {
    const status = await checkRevocationStatus(chain, aws, authenticTime, opts, revocationAsked);
    if (status.kind === 'reject') return { ...reject(status.code, status.reason, signer), ...status.extra };
    revocation = status.kind;
    if (status.warning) warnings.push(status.warning);
  } else {
    const status = uncheckableRevocation(chain, opts.revocation);
    if (status.kind === 'reject') return reject(status.code, status.reason, signer);
    revocation = status.kind;
    if (status.warning) warnings.push(status.warning);
  }

  return {
    ok: true,
    signingScheme: env.signingScheme,
    signer,
    signingTime: (authenticTime ?? env.signingTime) as Date,
    ...(env.expiry && { expiry: env.expiry }),
    warnings,
    envelopeMediaType: env.mediaType,
    trustedIdentity: identity.matched.text,
    trustStore: anchor.value.store.name,
    ...(aws && { signingJob: aws.jobArn }),
    revocation,
  };
}

/** Verifies one signature envelope against a target descriptor and policy. Never throws. */
export async function verifySignature(
  envelope: Uint8Array,
  envelopeMediaType: string,
  target: TargetDescriptor,
  opts: VerifyOptions,
): Promise<VerificationResult> {
  try {
    return await verify(envelope, envelopeMediaType, target, opts);
  } catch (err) {
    return reject(ErrorCodes.INTERNAL, `verification failed unexpectedly: ${err instanceof Error ? err.message : String(err)}`);
  }
}

/** Who signed the envelope, for messages only (not verified). Never throws. */
export function signerOf(envelope: Uint8Array, mediaType: string): string | undefined {
  try {
    const env = parseEnvelope(envelope, mediaType);
    if (!env.ok) return undefined;
    const profile = env.value.extendedAttributes.get('com.amazonaws.signer.signingProfileVersion');
    if (typeof profile === 'string' && profile.length <= 512) return profile;
    const der = env.value.certificates[0];
    const leaf = der ? parseCertificate(der) : undefined;
    return leaf?.ok ? describeSubject(leaf.value) : undefined;
  } catch {
    return undefined;
  }
}
