// Native Notary Project signature verification (JWS and COSE envelopes, X.509 chains,
// trust stores, trusted identities, AWS Signer revocation). Pure: no network I/O; the
// caller supplies envelope bytes, the target descriptor and the revocation callback.
export type {
  RejectedSignature,
  RejectionCode,
  RevocationInput,
  RevocationMode,
  SigningScheme,
  TargetDescriptor,
  TrustedIdentity,
  TrustStore,
  TrustStoreType,
  VerificationResult,
  VerifiedSignature,
  VerifyOptions,
} from './types.ts';
export {
  MAX_CERTIFICATES,
  MAX_ENVELOPE_BYTES,
  MEDIA_TYPE_COSE,
  MEDIA_TYPE_JWS,
  MEDIA_TYPE_PAYLOAD,
  SIGNING_SCHEME_SIGNING_AUTHORITY,
  SIGNING_SCHEME_X509,
} from './types.ts';
export { NotationError, type NotationErrorCode } from './errors.ts';
export { loadTrustStore, AWS_SIGNER_ROOT_CN, AWS_SIGNER_ROOT_SHA256 } from './truststore.ts';
export { parseTrustedIdentity } from './identity.ts';
export { verifySignature, signerOf } from './verify.ts';
export { AWS_SIGNER_PLATFORM_ID } from './revocation.ts';
export { AWS_SIGNER_PLUGIN, ATTR_SIGNING_JOB, ATTR_SIGNING_PROFILE_VERSION } from './critical.ts';
