// Public types of the Notation verification library. Everything here is data:
// the verifier takes these in and hands results back as values, never throws.
import type { X509Certificate } from 'node:crypto';
import type { RejectionCode } from '../support/errors.ts';

/** The OCI descriptor the signature must be about (the image manifest that was resolved). */
export interface TargetDescriptor {
  digest: string;
  mediaType: string;
  size: number;
}

export type TrustStoreType = 'ca' | 'signingAuthority';

export interface TrustStore {
  type: TrustStoreType;
  /** Shown in messages; the file or directory name it was loaded from. */
  name: string;
  certificates: X509Certificate[];
}

export const SIGNING_SCHEME_X509 = 'notary.x509';
export const SIGNING_SCHEME_SIGNING_AUTHORITY = 'notary.x509.signingAuthority';
export type SigningScheme = typeof SIGNING_SCHEME_X509 | typeof SIGNING_SCHEME_SIGNING_AUTHORITY;

/**
 * One entry of a policy's trustedIdentities, parsed once at configuration time.
 * `text` is what the user wrote, for messages.
 */
export type TrustedIdentity =
  | { kind: 'any'; text: string }
  /** arn:<partition>:signer:<region>:<account>:/signing-profiles/<name>, lower-cased for comparison */
  | { kind: 'signingProfile'; text: string; arn: string }
  /** arn:...:/signing-profiles/<name>/<version>, lower-cased for comparison */
  | { kind: 'signingProfileVersion'; text: string; arn: string }
  /** x509.subject: attribute type (C, ST, O, ... or a dotted OID) -> value */
  | { kind: 'x509Subject'; text: string; attributes: ReadonlyMap<string, string> };

/** Exactly the inputs of AWS Signer's GetRevocationStatus. */
export interface RevocationInput {
  platformId: string;
  profileVersionArn: string;
  jobArn: string;
  signatureTimestamp: Date;
  certificateHashes: string[];
}

export type RevocationMode = 'enforce' | 'warn' | 'skip';

export interface VerifyOptions {
  trustStores: TrustStore[];
  trustedIdentities: TrustedIdentity[];
  /**
   * enforce: revoked or unknown status rejects (so does a non-AWS chain naming OCSP/CRL
   * endpoints, which are not checked); warn: all pass with a warning; skip: no call, no warning.
   */
  revocation: RevocationMode;
  /** Returns the revoked entities (ARNs or certificate hashes); an empty list means nothing is revoked. */
  checkRevocation?: (input: RevocationInput, signal?: AbortSignal) => Promise<string[]>;
  /** Verification time; defaults to the current time. */
  now?: Date;
  signal?: AbortSignal;
}

export interface VerifiedSignature {
  ok: true;
  signingScheme: SigningScheme;
  /** The signing-profile version ARN for AWS Signer signatures, else the leaf certificate's subject. */
  signer: string;
  /** authenticSigningTime for notary.x509.signingAuthority, the (unauthenticated) signingTime otherwise. */
  signingTime: Date;
  expiry?: Date;
  /** Validations that failed but were configured to only warn, and checks that could not run. */
  warnings: string[];
  envelopeMediaType: string;
  /** The trusted identity entry that matched, as the user wrote it. */
  trustedIdentity: string;
  /** Name of the trust store the chain was anchored in. */
  trustStore: string;
  /** Present on AWS Signer signatures. */
  signingJob?: string;
  /**
   * checked: GetRevocationStatus said nothing is revoked. revoked / unavailable: it said
   * revoked, or could not answer, and the mode was warn. skipped: mode skip.
   * not-applicable: not an AWS Signer signature (no OCSP/CRL checking is implemented): the
   * chain names no OCSP/CRL endpoint, or it does and the mode was warn (with a warning).
   */
  revocation: 'checked' | 'revoked' | 'unavailable' | 'skipped' | 'not-applicable';
}

/** Why a signature was rejected: a member of the one error registry (support/errors.ts). */
export type { RejectionCode };

export interface RejectedSignature {
  ok: false;
  code: RejectionCode;
  /** One line a developer can read. */
  reason: string;
  signer?: string;
  /** What GetRevocationStatus reported, when code is REVOKED. */
  revokedEntities?: string[];
}

export type VerificationResult = VerifiedSignature | RejectedSignature;

export const MEDIA_TYPE_JWS = 'application/jose+json';
export const MEDIA_TYPE_COSE = 'application/cose';
export const MEDIA_TYPE_PAYLOAD = 'application/vnd.cncf.notary.payload.v1+json';

/**
 * Hostile-input bounds. An envelope is refused above this size before any decoding: real
 * ones are a few KB (notation's alpine COSE 1.5 KB, JWS 2 KB; an AWS-Signer-shaped JWS with
 * its three-certificate chain 4.6 KB), and 64 KiB leaves room for ten RSA-4096 certificates
 * and a timestamp countersignature. The code that fetches envelopes uses the same bound, so
 * a bigger blob is never downloaded.
 */
export const MAX_ENVELOPE_BYTES = 64 * 1024;
export const MAX_CERTIFICATES = 10;
