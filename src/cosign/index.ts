// cosign signature verification (issue 19): Sigstore bundles and cosign's older simple-signing
// layers, against key (PEM or KMS) and keyless (Fulcio + Rekor) authorities.
export * from './types.ts';
export { parsePublicKey, keyKind } from './keys.ts';
export { exactMatcher, regexMatcher } from './matcher.ts';
export { loadTrustedRoot, parseTrustedRoot, type LoadedTrustedRoot } from './trusted-root.ts';
export { verifyCosign, verifyWithAuthority, parseBundle, claimOf, type AuthorityVerdict } from './verify.ts';
export { verifyKeySignature } from './key-signature.ts';
export { legacyBundle } from './legacy.ts';
export { COSIGN_SIGN_PREDICATE } from './payload.ts';
