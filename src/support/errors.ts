// The one registry of error codes. Every error the project raises or reports carries a `code`
// from ErrorCodes, so logs, metrics, HTTP answers and tests match on the code, never on message
// text; and code compares a code with the registry's member (err.code === ErrorCodes.THROTTLED),
// never with a string literal (test/support/errors.test.ts scans src/ for that). The string
// values are a contract (they appear in logs, HTTP responses and check results): change a
// value only as a breaking change. Each error class narrows `code` to its group below.
export const ErrorCodes = {
  // Command line and configuration (AdmissionError): exit code 2 from the CLI.
  USAGE: 'E_USAGE',
  CONFIG_INVALID: 'E_CONFIG_INVALID',
  CONFIG_READ: 'E_CONFIG_READ',
  TLS_INVALID: 'E_TLS_INVALID',

  // Input a requester sent (AdmissionError, and the server's 400 answer).
  REFERENCE_INVALID: 'E_REFERENCE_INVALID',
  REVIEW_INVALID: 'E_REVIEW_INVALID',
  OBJECT_INVALID: 'E_OBJECT_INVALID',

  // The HTTP server (BodyBudgetError, and the error handler's answer for an error with no code).
  BODY_TOO_COSTLY: 'E_BODY_TOO_COSTLY',
  BODY_BUDGET_BUSY: 'E_BODY_BUDGET_BUSY',
  BODY_TOO_SLOW: 'E_BODY_TOO_SLOW',
  REQUEST: 'E_REQUEST',

  // An admission's deadline passed while it waited on shared work (AbortedError).
  DEADLINE: 'E_DEADLINE',

  // Facts from AWS and OCI registries (FactError). The first six are facts about the image
  // (definitive: the checks deny on them whatever onError says); the rest mean the service
  // could not answer, and the decision follows onError.
  IMAGE_NOT_FOUND: 'IMAGE_NOT_FOUND',
  REPOSITORY_NOT_FOUND: 'REPOSITORY_NOT_FOUND',
  IMAGE_ARCHIVED: 'IMAGE_ARCHIVED',
  IMAGE_ACTIVATING: 'IMAGE_ACTIVATING',
  TAG_DIGEST_MISMATCH: 'TAG_DIGEST_MISMATCH',
  INVALID_MANIFEST: 'INVALID_MANIFEST',
  ACCESS_DENIED: 'ACCESS_DENIED',
  THROTTLED: 'THROTTLED',
  TIMEOUT: 'TIMEOUT',
  AWS_ERROR: 'AWS_ERROR',

  // Notation configuration: trust stores and trusted identities that cannot be loaded (NotationError).
  TRUST_STORE_INVALID: 'TRUST_STORE_INVALID',
  TRUSTED_IDENTITY_INVALID: 'TRUSTED_IDENTITY_INVALID',

  // Why Notation verification rejected a signature (RejectedSignature, Parsed failures).
  PARSE: 'PARSE',
  UNSUPPORTED_ALGORITHM: 'UNSUPPORTED_ALGORITHM',
  INTEGRITY: 'INTEGRITY',
  TARGET_MISMATCH: 'TARGET_MISMATCH',
  INVALID_CHAIN: 'INVALID_CHAIN',
  UNTRUSTED_CHAIN: 'UNTRUSTED_CHAIN',
  WRONG_TRUST_STORE_TYPE: 'WRONG_TRUST_STORE_TYPE',
  UNTRUSTED_IDENTITY: 'UNTRUSTED_IDENTITY',
  EXPIRED: 'EXPIRED',
  CERT_VALIDITY: 'CERT_VALIDITY',
  CRITICAL_HEADER: 'CRITICAL_HEADER',
  UNSUPPORTED_PLUGIN: 'UNSUPPORTED_PLUGIN',
  REVOKED: 'REVOKED',
  REVOCATION_ERROR: 'REVOCATION_ERROR',
  /** The chain names OCSP/CRL endpoints, which are not checked, and revocation is enforce. */
  REVOCATION_UNSUPPORTED: 'REVOCATION_UNSUPPORTED',
  ABORTED: 'ABORTED',
  INTERNAL: 'INTERNAL',

  // The signature check: a signature that could not be fetched to be verified.
  UNREADABLE: 'UNREADABLE',

  // Development tools (src/dev): a sandbox fixture that does not describe a possible state.
  SANDBOX_FIXTURE: 'E_SANDBOX_FIXTURE',
} as const;

type Registry = typeof ErrorCodes;
export type ErrorCode = Registry[keyof Registry];

export type AdmissionErrorCode = Registry[
  'USAGE' | 'CONFIG_INVALID' | 'CONFIG_READ' | 'TLS_INVALID' | 'REFERENCE_INVALID' | 'REVIEW_INVALID' | 'OBJECT_INVALID'];
export type BodyBudgetErrorCode = Registry['BODY_TOO_COSTLY' | 'BODY_BUDGET_BUSY' | 'BODY_TOO_SLOW'];
export type FactErrorCode = Registry[
  | 'IMAGE_NOT_FOUND'
  | 'REPOSITORY_NOT_FOUND'
  | 'IMAGE_ARCHIVED'
  | 'IMAGE_ACTIVATING'
  | 'TAG_DIGEST_MISMATCH'
  | 'INVALID_MANIFEST'
  | 'ACCESS_DENIED'
  | 'THROTTLED'
  | 'TIMEOUT'
  | 'AWS_ERROR'];
export type NotationErrorCode = Registry['TRUST_STORE_INVALID' | 'TRUSTED_IDENTITY_INVALID'];
export type RejectionCode = Registry[
  | 'PARSE'
  | 'UNSUPPORTED_ALGORITHM'
  | 'INTEGRITY'
  | 'TARGET_MISMATCH'
  | 'INVALID_CHAIN'
  | 'UNTRUSTED_CHAIN'
  | 'WRONG_TRUST_STORE_TYPE'
  | 'UNTRUSTED_IDENTITY'
  | 'EXPIRED'
  | 'CERT_VALIDITY'
  | 'CRITICAL_HEADER'
  | 'UNSUPPORTED_PLUGIN'
  | 'REVOKED'
  | 'REVOCATION_ERROR'
  | 'REVOCATION_UNSUPPORTED'
  | 'ABORTED'
  | 'INTERNAL'];

export class AdmissionError extends Error {
  readonly code: AdmissionErrorCode;
  constructor(code: AdmissionErrorCode, message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.code = code;
    this.name = 'AdmissionError';
  }
}

export function errorMessage(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}

/** Whether `err` carries `code` (any error class, or an error that crossed a boundary as data). */
export function hasCode(err: unknown, code: ErrorCode): boolean {
  return typeof err === 'object' && err !== null && (err as { code?: unknown }).code === code;
}
