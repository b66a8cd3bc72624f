// The vocabulary of cosign verification: the authorities a policy trusts, the signatures found
// on an image (a Sigstore bundle, or cosign's older simple-signing layer), and the outcome.
import type { KeyObject } from 'node:crypto';
import type { Bundle } from '@sigstore/bundle';
import type { TrustMaterial } from '@sigstore/verify';
import type { RejectionCode } from '../support/errors.ts';

/** application/vnd.dev.sigstore.bundle.v0.3+json: what cosign 2.x/3.x hangs on an image as a referrer. */
export const SIGSTORE_BUNDLE_V03 = 'application/vnd.dev.sigstore.bundle.v0.3+json';
/** The layer media type of cosign's older simple-signing signature (tag sha256-<hex>.sig). */
export const SIMPLE_SIGNING = 'application/vnd.dev.cosign.simplesigning.v1+json';
/** Annotations of a simple-signing layer (cosign's pkg/oci/static). */
export const ANNOTATION_SIGNATURE = 'dev.cosignproject.cosign/signature';
export const ANNOTATION_CERTIFICATE = 'dev.sigstore.cosign/certificate';
export const ANNOTATION_CHAIN = 'dev.sigstore.cosign/chain';
export const ANNOTATION_BUNDLE = 'dev.sigstore.cosign/bundle';

/** A string compared exactly, or a regular expression anchored at both ends. */
export interface Matcher {
  /** As the policy wrote it, for messages. */
  readonly text: string;
  test(value: string): boolean;
}

export interface KeyAuthority {
  readonly kind: 'key';
  readonly name: string;
  readonly key: KeyObject;
  /** "key /etc/keys/cosign.pub (ecdsa P-256)", "kms arn:aws:kms:..." */
  readonly describe: string;
}

export interface KeylessAuthority {
  readonly kind: 'keyless';
  readonly name: string;
  readonly issuer: Matcher;
  readonly subject: Matcher;
  readonly describe: string;
}

/** An authority ready to verify with: a KMS key is a KeyAuthority once its public key is known. */
export type Authority = KeyAuthority | KeylessAuthority;

/** One signature as found in the registry, before anything about it is trusted. */
export type CosignArtifact =
  | {
      readonly form: 'bundle';
      /** Digest of the referrer manifest that carried it. */
      readonly manifestDigest: string;
      readonly bundle: Uint8Array;
    }
  | {
      readonly form: 'simple-signing';
      readonly manifestDigest: string;
      /** The layer blob: the signed simple-signing JSON. */
      readonly payload: Uint8Array;
      /** The layer descriptor's annotations (signature, certificate, chain, Rekor bundle). */
      readonly annotations: Readonly<Record<string, string>>;
    };

export interface VerifyOptions {
  /** From the trusted root (Fulcio CAs, Rekor and CT log keys); required by keyless authorities
   *  and by any bundle that carries transparency-log entries. */
  readonly trustMaterial?: TrustMaterial;
}

/** Why one authority did not accept one signature. */
export interface AuthorityFailure {
  readonly authority: string;
  readonly code: RejectionCode;
  readonly reason: string;
}

export type CosignResult =
  | {
      readonly ok: true;
      readonly authority: string;
      /** Who signed: the authority's key, or the certificate's subject and issuer. */
      readonly signer: string;
      /** The payload's docker-reference (or in-toto subject name), reported, never trusted. */
      readonly reference?: string;
    }
  | {
      readonly ok: false;
      readonly code: RejectionCode;
      /** A problem of the signature itself (shape, payload), before any authority. */
      readonly reason: string;
      /** Each authority tried, and why it refused. */
      readonly tried: readonly AuthorityFailure[];
    };

/** A parsed bundle and the payload its signature covers (for a message signature, the layer). */
export interface SignedBundle {
  readonly bundle: Bundle;
  readonly payload?: Uint8Array;
}
