// AWS Signer revocation: the exact GetRevocationStatus inputs the AWS Signer Notation
// plugin sends (aws/aws-signer-notation-plugin, internal/verifier/verifier.go), and what
// a returned entity means.
import { createHash } from 'node:crypto';
import { describeSubject, type CertificateInfo } from './certificate.ts';
import type { AwsSignerAttributes } from './critical.ts';
import type { RevocationInput, VerifyOptions } from './types.ts';
import { ErrorCodes } from '../support/errors.ts';

export const AWS_SIGNER_PLATFORM_ID = 'Notation-OCI-SHA384-ECDSA';

export function tbsHash(cert: CertificateInfo): string {
  return createHash('sha384').update(cert.tbs).digest('hex');
}

/**
 * For each certificate from the leaf: hex(SHA-384(tbsCertificate)) followed by the same
 * of the next certificate; the last one is followed by itself.
 */
export function certificateHashes(chain: CertificateInfo[]): string[] {
  const hashes = chain.map(tbsHash);
  return hashes.map((h, i) => h + (hashes[i + 1] ?? h));
}

export function revocationInput(chain: CertificateInfo[], profileVersionArn: string, jobArn: string, authenticSigningTime: Date): RevocationInput {
  return {
    platformId: AWS_SIGNER_PLATFORM_ID,
    profileVersionArn,
    jobArn,
    signatureTimestamp: authenticSigningTime,
    certificateHashes: certificateHashes(chain),
  };
}

/**
 * Names what each revoked entity is. The service answers with ARNs (the profile version,
 * the job, or the profile) or certificate hashes (a pair from the input, or one
 * certificate's own hash); anything unrecognised is still reported, and still revoked.
 */
export function describeRevokedEntities(entities: string[], input: RevocationInput, chain: CertificateInfo[]): string {
  const single = chain.map(tbsHash);
  const parts = entities.map((entity) => {
    const e = entity.toLowerCase();
    if (e === input.profileVersionArn.toLowerCase()) return `signing profile version ${entity}`;
    if (e === input.jobArn.toLowerCase()) return `signing job ${entity}`;
    if (e.startsWith('arn:')) {
      const profile = input.profileVersionArn.toLowerCase();
      return profile.slice(0, profile.lastIndexOf('/')) === e ? `signing profile ${entity}` : `resource ${entity}`;
    }
    let index = input.certificateHashes.findIndex((h) => h.toLowerCase() === e);
    if (index === -1) index = single.findIndex((h) => h === e);
    const cert = chain[index];
    if (cert) return `certificate ${JSON.stringify(describeSubject(cert))} (chain position ${index})`;
    return `unrecognised entity ${entity.slice(0, 200)}`;
  });
  return parts.join('; ');
}

export type RevocationOutcome =
  | { kind: 'checked' | 'revoked' | 'unavailable' | 'skipped' | 'not-applicable'; warning?: string }
  | {
      kind: 'reject';
      code: typeof ErrorCodes.REVOKED | typeof ErrorCodes.REVOCATION_ERROR | typeof ErrorCodes.REVOCATION_UNSUPPORTED | typeof ErrorCodes.ABORTED;
      reason: string;
      extra?: { revokedEntities: string[] };
    };

class RevocationAborted extends Error {}

/** Runs the callback, giving up when the caller's signal aborts even if the callback ignores it. */
async function callChecker(check: NonNullable<VerifyOptions['checkRevocation']>, input: RevocationInput, signal: AbortSignal | undefined): Promise<unknown> {
  if (!signal) return check(input);
  if (signal.aborted) throw new RevocationAborted();
  let onAbort: (() => void) | undefined;
  const aborted = new Promise<never>((_, rejectPromise) => {
    onAbort = () => rejectPromise(new RevocationAborted());
    signal.addEventListener('abort', onAbort, { once: true });
  });
  try {
    return await Promise.race([check(input, signal), aborted]);
  } finally {
    if (onAbort) signal.removeEventListener('abort', onAbort);
  }
}

function shortError(err: unknown): string {
  const text = err instanceof Error ? `${err.name}: ${err.message}` : String(err);
  return text.length > 160 ? `${text.slice(0, 157)}...` : text;
}

/**
 * Asks AWS Signer at once, while the envelope is still being verified: GetRevocationStatus is
 * the last call of a cold admission's longest chain, and its input (the chain's hashes, the
 * job, the profile, the signing time) is known as soon as the envelope is parsed. The answer
 * is used only once the signature verifies (checkRevocationStatus), and is asked for only for
 * a trusted signing profile, so an envelope that names no trusted profile costs no call.
 */
export function startRevocationCheck(
  chain: CertificateInfo[],
  aws: AwsSignerAttributes,
  authenticSigningTime: Date,
  opts: VerifyOptions,
): Promise<unknown> | undefined {
  if (opts.revocation === 'skip' || !opts.checkRevocation) return undefined;
  const answer = callChecker(opts.checkRevocation, revocationInput(chain, aws.profileVersionArn, aws.jobArn, authenticSigningTime), opts.signal);
  // Awaited by checkRevocationStatus, or dropped when verification fails first.
  answer.catch(() => {});
  return answer;
}

/**
 * AWS Signer revocation under the caller's mode: enforce rejects on "revoked" and on
 * "could not tell"; warn lets both through with a warning; skip does not ask. `started` is
 * the answer startRevocationCheck already asked for, with the same input.
 */
export async function checkRevocationStatus(
  chain: CertificateInfo[],
  aws: AwsSignerAttributes,
  authenticSigningTime: Date,
  opts: VerifyOptions,
  started?: Promise<unknown>,
): Promise<RevocationOutcome> {
  if (opts.revocation === 'skip') return { kind: 'skipped' };
  const enforce = opts.revocation === 'enforce';
  const unavailable = (why: string): RevocationOutcome =>
    enforce
      ? { kind: 'reject', code: ErrorCodes.REVOCATION_ERROR, reason: `revocation status unknown: ${why}` }
      : { kind: 'unavailable', warning: `revocation not checked: ${why}` };

  if (!opts.checkRevocation) return unavailable('no revocation checker is configured');
  const input = revocationInput(chain, aws.profileVersionArn, aws.jobArn, authenticSigningTime);
  let answer: unknown;
  try {
    answer = await (started ?? callChecker(opts.checkRevocation, input, opts.signal));
  } catch (err) {
    if (err instanceof RevocationAborted) {
      return { kind: 'reject', code: ErrorCodes.ABORTED, reason: 'verification was cancelled during the revocation check' };
    }
    return unavailable(`GetRevocationStatus failed (${shortError(err)})`);
  }
  if (!Array.isArray(answer) || !answer.every((e) => typeof e === 'string')) {
    return unavailable('the revocation checker returned something other than a list of strings');
  }
  if (answer.length === 0) return { kind: 'checked' };
  const what = describeRevokedEntities(answer, input, chain);
  return enforce
    ? { kind: 'reject', code: ErrorCodes.REVOKED, reason: `revoked in AWS Signer: ${what}`, extra: { revokedEntities: answer } }
    : { kind: 'revoked', warning: `revoked in AWS Signer: ${what}` };
}

/**
 * Chains outside AWS Signer (notary.x509, or a signing authority without the AWS Signer
 * plugin): OCSP and CRL checking is not implemented. A chain that names no OCSP responder or
 * CRL distribution point has nothing to check (notation's test certificates, many private
 * CAs). One that names them has a revocation status nobody looked at, and under enforce an
 * unchecked status is not a pass (the same rule as an AWS Signer status that could not be
 * had): the signature is rejected, definitively, with the way out in the reason. The
 * endpoints are not fetched: a registry-supplied certificate would otherwise make the
 * webhook call any URL an attacker chose.
 */
export function uncheckableRevocation(chain: CertificateInfo[], mode: VerifyOptions['revocation']): RevocationOutcome {
  if (mode === 'skip') return { kind: 'skipped' };
  const named = chain.find((c) => c.revocationEndpoints && c.revocationEndpoints.length > 0);
  if (!named) return { kind: 'not-applicable' };
  const what = (named.revocationEndpoints ?? []).map((e) => (e === 'OCSP' ? 'an OCSP responder' : 'CRL distribution points')).join(' and ');
  const subject = JSON.stringify(describeSubject(named));
  if (mode === 'enforce') {
    return {
      kind: 'reject',
      code: ErrorCodes.REVOCATION_UNSUPPORTED,
      reason: `revocation not checked: certificate ${subject} names ${what}, and OCSP/CRL revocation checking is not implemented (only AWS Signer revocation is); to admit it, set revocation: warn or skip for these images in an override`,
    };
  }
  return { kind: 'not-applicable', warning: 'revocation not checked: the certificates name OCSP/CRL endpoints, and only AWS Signer revocation is supported' };
}
