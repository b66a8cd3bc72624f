// Shared vocabulary of the OCI distribution client: media types, the bounds every response
// is held to, and the values the client hands back.
import type { ResolvedImage } from '../ports.ts';
import type { FactError } from '../errors.ts';
import { MAX_ENVELOPE_BYTES, MAX_REFERRERS, MAX_SIGNATURE_MANIFEST_BYTES, REFERRER_FETCH_CONCURRENCY } from '../signature-budget.ts';

export const OCI_SERVICE = 'oci';

export const NOTARY_SIGNATURE_ARTIFACT_TYPE = 'application/vnd.cncf.notary.signature';
export const OCI_MANIFEST = 'application/vnd.oci.image.manifest.v1+json';
export const OCI_INDEX = 'application/vnd.oci.image.index.v1+json';
export const DOCKER_MANIFEST = 'application/vnd.docker.distribution.manifest.v2+json';
export const DOCKER_MANIFEST_LIST = 'application/vnd.docker.distribution.manifest.list.v2+json';

/** What an image reference may resolve to. Docker schema 1 is deliberately absent: it
 *  cannot carry a subject, so nothing could sign it. */
export const IMAGE_MEDIA_TYPES: readonly string[] = [OCI_MANIFEST, OCI_INDEX, DOCKER_MANIFEST, DOCKER_MANIFEST_LIST];

/** Envelope types the Notation verifier reads. */
export const ENVELOPE_MEDIA_TYPES: readonly string[] = ['application/jose+json', 'application/cose'];

const MiB = 1024 * 1024;

export interface OciLimits {
  /** Manifests and indexes (the OCI spec's own 4 MiB recommendation). */
  readonly maxManifestBytes: number;
  /** Signature manifests (a real one is under 1 KB). */
  readonly maxSignatureManifestBytes: number;
  /** Signature envelope blobs. */
  readonly maxBlobBytes: number;
  /** Signature referrers examined per digest; more are reported as truncated. */
  readonly maxReferrers: number;
  /** Pages of a paginated referrers answer followed. */
  readonly maxReferrerPages: number;
  /** Redirects followed by one request (a blob GET redirects to object storage). */
  readonly maxRedirects: number;
  /** Signature manifests and blobs fetched at once. */
  readonly concurrency: number;
}

export const DEFAULT_LIMITS: OciLimits = {
  maxManifestBytes: 4 * MiB,
  maxSignatureManifestBytes: MAX_SIGNATURE_MANIFEST_BYTES,
  maxBlobBytes: MAX_ENVELOPE_BYTES,
  maxReferrers: MAX_REFERRERS,
  maxReferrerPages: 5,
  maxRedirects: 5,
  concurrency: REFERRER_FETCH_CONCURRENCY,
};

/** Error bodies and token answers are only read for their message: a few KiB suffice. */
export const MAX_SMALL_BODY_BYTES = 64 * 1024;

export interface RegistryCredentials {
  readonly username: string;
  readonly password: string;
}

/** Supplies credentials for HTTP Basic (and for the Bearer token request). `refresh` is set
 *  when the registry refused the previous ones, so a cached token should be replaced. */
export type CredentialSource = (request: { refresh: boolean; signal: AbortSignal }) => Promise<RegistryCredentials | undefined>;

export interface OciDescriptor {
  readonly mediaType: string;
  readonly digest: string;
  readonly size: number;
  readonly artifactType?: string;
  readonly annotations?: Readonly<Record<string, string>>;
}

/** A manifest as the registry serves it: digest checked against its bytes. */
export interface OciManifest extends ResolvedImage {
  readonly bytes: Uint8Array;
}

export interface OciSignature {
  /** Digest of the signature manifest (the referrer). */
  readonly manifestDigest: string;
  readonly envelope: Uint8Array;
  /** application/jose+json or application/cose. */
  readonly envelopeMediaType: string;
  readonly envelopeDigest: string;
  /** Annotations of the signature manifest (Notation puts io.cncf.notary.x509chain.thumbprint#S256 here). */
  readonly annotations: Readonly<Record<string, string>>;
}

/** Why a listed signature referrer was not returned. Stable: messages and tests use them.
 *  Bytes that do not hash to their digest are not here: no push can store them, so the
 *  registry is at fault (a FailedSignature, for onError). */
export type SignatureProblem =
  | 'missing' // the registry listed it but cannot serve the manifest or the blob
  | 'too-large' // manifest or envelope over the limit
  | 'size-mismatch' // bytes hash to the descriptor's digest but are not its size
  | 'malformed' // not a readable OCI manifest
  | 'layer-count' // a Notation signature manifest has exactly one layer
  | 'subject-mismatch' // subject.digest is not the image digest
  | 'unsupported-envelope'; // layer media type is neither JWS nor COSE

export interface SkippedSignature {
  readonly manifestDigest: string;
  readonly problem: SignatureProblem;
  readonly reason: string;
}

/** A listed signature referrer the registry failed to serve (5xx, throttling, timeout, auth):
 *  the registry's fault, not the referrer's. */
export interface FailedSignature {
  readonly manifestDigest: string;
  readonly error: FactError;
}

export interface OciSignatureList {
  readonly signatures: OciSignature[];
  /** Referrers at fault themselves (oversized, wrong size, malformed, missing). */
  readonly skipped: SkippedSignature[];
  readonly failed: FailedSignature[];
  /** Referrers not fetched because the image check's envelope budget was spent. */
  readonly overBudget: number;
  /** Referrers listed that may be signatures (by artifact type), before the examination cap. */
  readonly listed: number;
  /** True when more than `maxReferrers` were listed: the rest were not examined. */
  readonly truncated: boolean;
  /** Where the list came from: the referrers API, or the sha256-<hex> tag fallback. */
  readonly source: 'referrers-api' | 'referrers-tag';
}
