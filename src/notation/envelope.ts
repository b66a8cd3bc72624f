// The envelope-format-independent view of a Notary Project signature
// (signature-specification.md, "Signature Envelope"), and the checks on its signed
// attributes that both JWS and COSE share.
import type { SignatureAlgorithm } from './algorithms.ts';
import { failure, parsed, type Parsed } from './errors.ts';
import { ErrorCodes } from '../support/errors.ts';
import { MAX_CERTIFICATES, MEDIA_TYPE_PAYLOAD, SIGNING_SCHEME_SIGNING_AUTHORITY, SIGNING_SCHEME_X509, type SigningScheme } from './types.ts';

export const HEADER_SIGNING_SCHEME = 'io.cncf.notary.signingScheme';
export const HEADER_SIGNING_TIME = 'io.cncf.notary.signingTime';
export const HEADER_AUTHENTIC_SIGNING_TIME = 'io.cncf.notary.authenticSigningTime';
export const HEADER_EXPIRY = 'io.cncf.notary.expiry';
export const HEADER_VERIFICATION_PLUGIN = 'io.cncf.notary.verificationPlugin';
export const HEADER_VERIFICATION_PLUGIN_MIN_VERSION = 'io.cncf.notary.verificationPluginMinVersion';

/** Signed attributes with a meaning in the specification itself; everything else is "extended". */
export const STANDARD_ATTRIBUTES: ReadonlySet<string> = new Set([HEADER_SIGNING_SCHEME, HEADER_SIGNING_TIME, HEADER_AUTHENTIC_SIGNING_TIME, HEADER_EXPIRY]);

export interface ParsedEnvelope {
  mediaType: string;
  alg: SignatureAlgorithm;
  /** The exact bytes the signature covers (JWS signing input, COSE Sig_structure). */
  signingInput: Uint8Array;
  signature: Uint8Array;
  /** null when the JWS payload text is not base64url (reported after the signature check). */
  payload: Uint8Array | null;
  signingScheme: SigningScheme;
  signingTime?: Date;
  authenticSigningTime?: Date;
  expiry?: Date;
  /** Labels listed in `crit` (COSE integer labels as their decimal text). */
  critical: ReadonlySet<string>;
  /** Signed attributes outside the standard set, by name; values as decoded (JSON or CBOR). */
  extendedAttributes: ReadonlyMap<string, unknown>;
  /** DER certificates, leaf first. */
  certificates: Uint8Array[];
}

/** What a format parser extracts before the shared checks run. */
export interface EnvelopeFields {
  contentType: unknown;
  signingScheme: unknown;
  signingTime: Date | undefined;
  authenticSigningTime: Date | undefined;
  expiry: Date | undefined;
  critical: string[];
  /** Every label present in the protected header, for "critical but absent" checks. */
  presentLabels: ReadonlySet<string>;
  certificates: Uint8Array[];
}

/**
 * The signed-attribute rules of signature-specification.md: supported content type and
 * signing scheme, the time attribute each scheme requires (and forbids), and that the
 * attributes that must be critical are listed in `crit`, and everything in `crit` exists.
 */
export function checkSignedAttributes(f: EnvelopeFields): Parsed<{ signingScheme: SigningScheme; critical: ReadonlySet<string> }> {
  if (f.contentType !== MEDIA_TYPE_PAYLOAD) {
    return failure(ErrorCodes.PARSE, `unsupported payload content type ${describe(f.contentType)} (want ${MEDIA_TYPE_PAYLOAD})`);
  }
  const scheme = f.signingScheme;
  if (scheme !== SIGNING_SCHEME_X509 && scheme !== SIGNING_SCHEME_SIGNING_AUTHORITY) {
    return failure(ErrorCodes.PARSE, `unsupported signing scheme ${describe(scheme)}`);
  }
  if (scheme === SIGNING_SCHEME_X509) {
    if (!f.signingTime) return failure(ErrorCodes.PARSE, `${HEADER_SIGNING_TIME} is required by signing scheme ${scheme}`);
    if (f.authenticSigningTime) {
      return failure(ErrorCodes.PARSE, `${HEADER_AUTHENTIC_SIGNING_TIME} must not be present with signing scheme ${scheme}`);
    }
  } else {
    if (!f.authenticSigningTime) {
      return failure(ErrorCodes.PARSE, `${HEADER_AUTHENTIC_SIGNING_TIME} is required by signing scheme ${scheme}`);
    }
    if (f.signingTime) return failure(ErrorCodes.PARSE, `${HEADER_SIGNING_TIME} must not be present with signing scheme ${scheme}`);
  }
  if (f.critical.length === 0) return failure(ErrorCodes.PARSE, 'the crit header is missing or empty');
  const critical = new Set(f.critical);
  const mustBeCritical = [HEADER_SIGNING_SCHEME];
  if (scheme === SIGNING_SCHEME_SIGNING_AUTHORITY) mustBeCritical.push(HEADER_AUTHENTIC_SIGNING_TIME);
  if (f.expiry) mustBeCritical.push(HEADER_EXPIRY);
  for (const name of mustBeCritical) {
    if (!critical.has(name)) return failure(ErrorCodes.PARSE, `${name} must be marked critical`);
  }
  for (const name of critical) {
    if (!f.presentLabels.has(name)) return failure(ErrorCodes.PARSE, `${describe(name)} is marked critical but not present`);
  }
  if (f.certificates.length === 0) return failure(ErrorCodes.PARSE, 'the envelope carries no certificate chain');
  if (f.certificates.length > MAX_CERTIFICATES) {
    return failure(ErrorCodes.PARSE, `the certificate chain has ${f.certificates.length} certificates (at most ${MAX_CERTIFICATES})`);
  }
  return parsed({ signingScheme: scheme, critical });
}

/** A short, safe rendering of an untrusted value for a message. */
export function describe(value: unknown): string {
  let text: string;
  try {
    text = typeof value === 'bigint' ? String(value) : (JSON.stringify(value) ?? String(value));
  } catch {
    text = Object.prototype.toString.call(value);
  }
  return text.length > 80 ? `${text.slice(0, 77)}...` : text;
}
