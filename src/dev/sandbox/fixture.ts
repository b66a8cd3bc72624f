// The sandbox's declarative fixture: plain data (structured-clonable, no functions) that a
// test or the demo writes inline. Digests are never written by hand: they are computed from
// the exact manifest bytes, so a fixture cannot disagree with itself. builders.ts makes
// manifests, indexes and blobs with correct digests.

export type Bytes = Uint8Array | string; // strings are UTF-8
export type Timestamp = Date | string | number; // number: epoch milliseconds

export type TagMutability = 'MUTABLE' | 'IMMUTABLE' | 'IMMUTABLE_WITH_EXCLUSION' | 'MUTABLE_WITH_EXCLUSION';
export type ImageStatus = 'ACTIVE' | 'ARCHIVED' | 'ACTIVATING';
export type EcrScanStatus =
  | 'IN_PROGRESS'
  | 'COMPLETE'
  | 'FAILED'
  | 'UNSUPPORTED_IMAGE'
  | 'ACTIVE'
  | 'PENDING'
  | 'SCAN_ELIGIBILITY_EXPIRED'
  | 'FINDINGS_UNAVAILABLE'
  | 'LIMIT_EXCEEDED'
  | 'IMAGE_ARCHIVED';
export type Severity = 'INFORMATIONAL' | 'LOW' | 'MEDIUM' | 'HIGH' | 'CRITICAL' | 'UNTRIAGED';
export type CoverageReason =
  | 'SUCCESSFUL'
  | 'PENDING_INITIAL_SCAN'
  | 'SCAN_IN_PROGRESS'
  | 'PENDING_REVIVAL_SCAN'
  | 'UNSUPPORTED_OS'
  | 'UNSUPPORTED_MEDIA_TYPE'
  | 'SCAN_ELIGIBILITY_EXPIRED'
  | 'IMAGE_ARCHIVED'
  | 'IMAGE_SIZE_EXCEEDED'
  | 'ACCESS_DENIED'
  | 'INTERNAL_ERROR'
  | 'NO_INVENTORY'
  | 'SCAN_FREQUENCY_MANUAL'
  | 'SCAN_FREQUENCY_SCAN_ON_PUSH'
  | 'STALE_INVENTORY'
  | 'PENDING_DISABLE'
  | 'EXCLUDED_BY_TAG'
  | 'RESOURCE_TERMINATED';

export const NOTARY_SIGNATURE_ARTIFACT_TYPE = 'application/vnd.cncf.notary.signature';

export interface SandboxFixture {
  /** The caller's own account: the account of any credentials this sandbox's STS did not
   *  issue (sts.ts callerAccount). ECR requests without registryId address it, and Inspector
   *  shows it only its own resources unless it is inspector.delegatedAdministrator. */
  defaultAccount: string;
  /** Region the OCI registry API serves when the Host header names none (default: the
   *  default account's only region, else us-east-1). */
  defaultRegion?: string;
  accounts: Record<string, AccountFixture>;
  /** Registry (OCI /v2/) settings. */
  registry?: {
    /** Require HTTP Basic AWS:<password from GetAuthorizationToken> on /v2/ (default false). */
    requireAuth?: boolean;
    /** Lifetime of GetAuthorizationToken passwords (default 12 hours, as ECR). */
    tokenTtlMs?: number;
  };
  /** Lifetime of GetDownloadUrlForLayer URLs (default 1 hour). */
  layerUrlTtlMs?: number;
  /** AWS Signer: revoked signing-profile version ARNs, signing-job ARNs, certificate hashes. */
  revoked?: RevokedEntity[];
  /** Amazon Inspector's organisation set-up. */
  inspector?: InspectorFixture;
  /** AWS KMS keys (issue 19): GetPublicKey for cosign authorities (kms.ts). */
  kms?: { keys: KmsKeyFixture[] };
}

/** One KMS key. Absent publicKeyPem: a symmetric key (no public key). */
export interface KmsKeyFixture {
  /** arn:aws:kms:REGION:ACCOUNT:key/ID */
  arn: string;
  /** SubjectPublicKeyInfo PEM of an asymmetric key (e.g. the cosign.pub a test generated). */
  publicKeyPem?: string;
  /** Default SIGN_VERIFY. */
  keyUsage?: 'SIGN_VERIFY' | 'ENCRYPT_DECRYPT';
  /** KeyState (enums.d.ts); default Enabled. */
  keyState?: 'Enabled' | 'Disabled' | 'PendingDeletion' | 'PendingImport' | 'Unavailable';
  /** Alias names, "alias/..." */
  aliases?: string[];
}

export interface InspectorFixture {
  /** The account that is Inspector's delegated administrator: its calls list every account's
   *  findings and coverage. Any other caller sees only its own account's, as in AWS. */
  delegatedAdministrator?: string;
  /** Pages as Inspector serves them: `emptyPages` empty pages, each with a nextToken, before
   *  every page of results; `trailingToken`: the last page of results carries a nextToken
   *  that leads to one more, empty, page. A client must follow the token, not the contents. */
  paging?: { emptyPages?: number; trailingToken?: boolean };
}

/** A bare string is revoked for every signature; with effectiveFrom only signatures whose
 *  signatureTimestamp is at or after it (Signer's RevokeSigningProfile effectiveTime). */
export type RevokedEntity = string | { entity: string; effectiveFrom?: Timestamp };

export interface AccountFixture {
  regions: Record<string, RegionFixture>;
}

export interface RegionFixture {
  /** ECR registry scanning: BASIC (ECR's own scanner) or ENHANCED (Inspector). Default ENHANCED. */
  scanType?: 'BASIC' | 'ENHANCED';
  scanningRules?: Array<{ scanFrequency: 'SCAN_ON_PUSH' | 'CONTINUOUS_SCAN' | 'MANUAL'; filters: string[] }>;
  repositories: RepositoryFixture[];
  /** DescribePullThroughCacheRules (ecr-posture.ts). */
  pullThroughCacheRules?: PullThroughCacheRuleFixture[];
  /** DescribeRepositoryCreationTemplates (ecr-posture.ts); prefix ROOT applies to every repository. */
  repositoryCreationTemplates?: CreationTemplateFixture[];
}

export interface PullThroughCacheRuleFixture {
  ecrRepositoryPrefix: string;
  upstreamRegistryUrl: string;
  upstreamRegistry?: string;
  credentialArn?: string;
}

export interface CreationTemplateFixture {
  prefix: string;
  appliedFor: Array<'CREATE_ON_PUSH' | 'PULL_THROUGH_CACHE' | 'REPLICATION'>;
  description?: string;
  imageTagMutability?: TagMutability;
  encryption?: { type: 'AES256' | 'KMS' | 'KMS_DSSE'; kmsKey?: string };
  /** Text, or an object serialised with JSON.stringify. */
  lifecyclePolicy?: string | object;
  repositoryPolicy?: string | object;
}

export interface RepositoryFixture {
  name: string;
  tagMutability?: TagMutability; // default MUTABLE
  /** WILDCARD filters; required (1..5) for the *_WITH_EXCLUSION mutabilities. */
  exclusionFilters?: string[];
  scanOnPush?: boolean;
  encryption?: { type: 'AES256' | 'KMS' | 'KMS_DSSE'; kmsKey?: string };
  /** GetLifecyclePolicy's lifecyclePolicyText (an object is serialised); absent: LifecyclePolicyNotFoundException. */
  lifecyclePolicy?: string | object;
  /** GetRepositoryPolicy's policyText (an object is serialised); absent: RepositoryPolicyNotFoundException. */
  repositoryPolicy?: string | object;
  createdAt?: Timestamp;
  images: ImageFixture[];
  /** Signatures whose subject is named by digest (e.g. a digest not in this repository). */
  signatures?: Array<SignatureFixture & { subjectDigest: string }>;
}

export interface ImageFixture {
  /** The manifest: exact bytes, or an object serialised with JSON.stringify (compact). */
  manifest: Bytes | object;
  /** Default: the manifest's own mediaType field; else OCI index if it has `manifests`, else OCI manifest. */
  mediaType?: string;
  tags?: string[];
  status?: ImageStatus; // default ACTIVE
  pushedAt?: Timestamp; // default 2026-01-01T00:00:00Z
  lastRecordedPullTime?: Timestamp;
  /** Default: the sum of config and layer sizes (indexes: of their children). */
  sizeInBytes?: number;
  /** For a descriptor in an index and for Inspector's architecture. */
  platform?: { os: string; architecture: string; variant?: string };
  /** Inspector's operating-system platform of the image, e.g. DEBIAN_12, ALPINE_LINUX_3_20. */
  inspectorPlatform?: string;
  /** Blobs of this image (config, layers): stored under their sha256. */
  blobs?: Bytes[];
  /** For an index: its platform manifests, also images of the repository. */
  children?: ImageFixture[];
  /** ECR imageScanStatus; absent means ECR reports none (DescribeImageScanFindings: ScanNotFoundException). */
  scanStatus?: { status: EcrScanStatus; description?: string };
  scanCompletedAt?: Timestamp;
  /** Inspector findings (also ECR enhancedFindings in an ENHANCED region). */
  findings?: FindingFixture[];
  /** ECR BASIC scanning findings (DescribeImageScanFindings `findings`). */
  basicFindings?: BasicFindingFixture[];
  /** Inspector coverage; default: in an ENHANCED region, ACTIVE/SUCCESSFUL for images,
   *  INACTIVE/IMAGE_ARCHIVED for archived ones, INACTIVE/UNSUPPORTED_MEDIA_TYPE for an index
   *  (its platform images are what gets scanned); in a BASIC region, not covered; null: never covered. */
  coverage?: { statusCode: 'ACTIVE' | 'INACTIVE'; reason: CoverageReason; lastScannedAt?: Timestamp } | null;
  /** ECR managed signing (DescribeImageSigningStatus). */
  signingStatuses?: Array<{ signingProfileArn: string; status: 'IN_PROGRESS' | 'COMPLETE' | 'FAILED'; failureCode?: string; failureReason?: string }>;
  /** Notation signatures over this image: each becomes a referrer manifest in the repository. */
  signatures?: SignatureFixture[];
}

export interface SignatureFixture {
  envelope: Bytes;
  envelopeMediaType: 'application/jose+json' | 'application/cose';
  /** Default application/vnd.cncf.notary.signature. */
  artifactType?: string;
  /** Legacy Notation form: no artifactType field, config.mediaType carries the type. */
  legacyConfigMediaType?: boolean;
  annotations?: Record<string, string>;
  status?: ImageStatus;
  pushedAt?: Timestamp;
}

export interface FindingFixture {
  vulnerabilityId: string;
  severity: Severity;
  status?: 'ACTIVE' | 'SUPPRESSED' | 'CLOSED'; // default ACTIVE
  title?: string;
  description?: string;
  inspectorScore?: number;
  fixAvailable?: 'YES' | 'NO' | 'PARTIAL';
  source?: string; // default NVD
  packages: Array<{ name: string; version: string; fixedInVersion?: string; packageManager?: string }>;
  firstObservedAt?: Timestamp;
  lastObservedAt?: Timestamp;
  findingArn?: string;
}

export interface BasicFindingFixture {
  name: string;
  severity: 'INFORMATIONAL' | 'LOW' | 'MEDIUM' | 'HIGH' | 'CRITICAL' | 'UNDEFINED';
  description?: string;
  uri?: string;
  attributes?: Array<{ key: string; value?: string }>;
}

export function toDate(t: Timestamp): Date {
  return t instanceof Date ? t : new Date(t);
}

export const DEFAULT_PUSHED_AT = '2026-01-01T00:00:00Z';
