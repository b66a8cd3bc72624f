// The policy file's schema: one source for its TypeScript types, its validation and its
// defaults. Every object is closed (additionalProperties: false) so a misspelt key is an
// error at load instead of a silently ignored setting.
import { Type, type Static, type TLiteral, type TSchema, type TUnion } from '@sinclair/typebox';

const closed = { additionalProperties: false } as const;

function Enum<const T extends readonly string[]>(values: T, description: string): TUnion<TLiteral<T[number]>[]> {
  return Type.Union(
    values.map((v) => Type.Literal(v)),
    { description },
  );
}

export const MODES = ['enforce', 'warn', 'audit'] as const;
export const ON_ERROR = ['deny', 'allow'] as const;
export const PINNING_MODES = ['pods', 'pods-and-templates', 'off'] as const;
export const SEVERITIES = ['INFORMATIONAL', 'LOW', 'MEDIUM', 'HIGH', 'CRITICAL', 'UNTRIAGED'] as const;

const Pattern = Type.String({ minLength: 1, maxLength: 512 });
const AccountId = Type.String({ pattern: '^[0-9]{12}$', description: 'a 12-digit AWS account id, quoted' });
const Region = Type.String({ pattern: '^[a-z]{2}(-[a-z]+)+-[0-9]{1,2}$' });
const Url = Type.String({ pattern: '^https?://[^\\s]+$' });
const Seconds = (dflt: number) => Type.Integer({ minimum: 0, maximum: 86_400 * 7, default: dflt });

export const EcrRegistrySchema = Type.Object(
  {
    accountId: AccountId,
    regions: Type.Optional(Type.Array(Region, { minItems: 1 })),
    /** Role assumed (from the default credentials) to read this account's registries. */
    roleArn: Type.Optional(Type.String({ pattern: '^arn:aws[a-z-]*:iam::[0-9]{12}:role/.+$' })),
    /** Repository prefixes of pull-through-cache rules, so messages can name the upstream. */
    pullThroughCachePrefixes: Type.Optional(Type.Array(Type.String({ pattern: '^[a-z0-9][a-z0-9._/-]*$' }))),
  },
  closed,
);

export const OciRegistrySchema = Type.Object(
  {
    /** host[:port] exactly as image references name it. */
    host: Type.String({ pattern: '^[a-z0-9.-]+(:[0-9]{1,5})?$', description: 'host[:port], lower case' }),
    /** Plain HTTP instead of HTTPS: only for registries on loopback in tests. */
    plainHttp: Type.Optional(Type.Boolean()),
  },
  closed,
);

export const TrustStoreSchema = Type.Object(
  {
    type: Enum(['ca', 'signingAuthority'] as const, 'ca for notary.x509, signingAuthority for AWS Signer'),
    path: Type.String({ minLength: 1 }),
    name: Type.Optional(Type.String({ minLength: 1 })),
  },
  closed,
);

// cosign (issue 19). An authority is exactly one of key, kms, keyless (semantics.ts says which
// is missing or doubled, with the key path); keyless names its issuer and subject exactly or by
// a regular expression anchored at both ends, as cosign verify's --certificate-identity(-regexp).
export const SIGNATURE_FORMATS = ['notation', 'cosign'] as const;
const CosignAuthoritySchema = Type.Object(
  {
    name: Type.Optional(Type.String({ minLength: 1, maxLength: 100 })),
    /** A PEM public key: a file (mounted like a trust store) or the PEM text itself. */
    key: Type.Optional(Type.Object({ file: Type.Optional(Type.String({ minLength: 1 })), pem: Type.Optional(Type.String({ minLength: 1 })) }, closed)),
    /** An AWS KMS key (cosign sign --key awskms:///ARN): its public key read once with GetPublicKey. */
    kms: Type.Optional(
      Type.String({ pattern: '^arn:aws[a-z-]*:kms:[a-z]{2}(-[a-z]+)+-[0-9]{1,2}:[0-9]{12}:(key/[A-Za-z0-9-]{1,64}|alias/[A-Za-z0-9/_-]{1,250})$' }),
    ),
    keyless: Type.Optional(
      Type.Object(
        {
          issuer: Type.Optional(Type.String({ minLength: 1 })),
          issuerRegExp: Type.Optional(Type.String({ minLength: 1 })),
          subject: Type.Optional(Type.String({ minLength: 1 })),
          subjectRegExp: Type.Optional(Type.String({ minLength: 1 })),
        },
        closed,
      ),
    ),
  },
  closed,
);
const CosignSchema = Type.Object(
  {
    authorities: Type.Array(CosignAuthoritySchema, { minItems: 1, maxItems: 32 }),
    /** Sigstore trusted root (JSON) for keyless authorities and Rekor entries; the chart mounts
     *  the public-good one. Required when an authority is keyless. */
    trustedRoot: Type.Optional(Type.String({ minLength: 1 })),
  },
  closed,
);

export const SignatureCheckSchema = Type.Object(
  {
    /** Notation's trust stores and identities: required unless formats leaves notation out (semantics.ts). */
    trustStores: Type.Optional(Type.Array(TrustStoreSchema, { minItems: 1 })),
    trustedIdentities: Type.Optional(Type.Array(Type.String({ minLength: 1 }), { minItems: 1 })),
    revocation: Type.Optional(Enum(['enforce', 'warn', 'skip'] as const, 'revocation mode')),
    /** indexOrChildren: a signature on the index, or on every platform child, counts.
     *  allChildren: every platform child must carry its own signature. */
    multiArch: Type.Optional(Enum(['indexOrChildren', 'allChildren'] as const, 'multi-arch rule')),
    /** Where ECR images' signatures are read: the ECR API (ListImageReferrers, default) or the
     *  registry's OCI referrers API with a GetAuthorizationToken password. */
    source: Type.Optional(Enum(['ecr-api', 'registry'] as const, 'ecr-api | registry')),
    // cosign (issue 19): which formats may satisfy the check, and cosign's authorities.
    formats: Type.Optional(Type.Array(Enum(SIGNATURE_FORMATS, 'notation | cosign'), { minItems: 1, uniqueItems: true })),
    cosign: Type.Optional(CosignSchema),
  },
  closed,
);

export const ExceptionSchema = Type.Object(
  {
    id: Type.String({ minLength: 1 }),
    images: Type.Array(Pattern, { minItems: 1 }),
    expires: Type.String({ pattern: '^[0-9]{4}-[0-9]{2}-[0-9]{2}$', description: 'YYYY-MM-DD (UTC, end of day)' }),
    reason: Type.String({ minLength: 1 }),
  },
  closed,
);

export const VulnerabilitiesCheckSchema = Type.Object(
  {
    denySeverities: Type.Optional(Type.Array(Enum(SEVERITIES, 'Inspector severity'), { minItems: 1 })),
    notScanned: Type.Optional(Enum(['deny', 'warn', 'allow'] as const, 'what an image Inspector has not scanned gets')),
    exceptions: Type.Optional(Type.Array(ExceptionSchema)),
    fixAvailableOnly: Type.Optional(Type.Boolean()),
    minInspectorScore: Type.Optional(Type.Number({ minimum: 0, maximum: 10 })),
  },
  closed,
);

/** The posture check's items (checks/posture-items.ts): ECR.1, ECR.3, ECR.5, repository policy. */
export const POSTURE_ITEMS = ['scanning', 'lifecyclePolicy', 'kmsEncryption', 'restrictedPolicy'] as const;

export const PostureCheckSchema = Type.Object(
  {
    /** Absent: all four. */
    require: Type.Optional(
      Type.Array(Enum(POSTURE_ITEMS, 'scanning | lifecyclePolicy | kmsEncryption | restrictedPolicy'), { minItems: 1, uniqueItems: true }),
    ),
    /** warn (default): warnings, admitted; deny: a failing item fails the check. */
    action: Type.Optional(Enum(['warn', 'deny'] as const, 'warn | deny')),
  },
  closed,
);

export const ChecksSchema = Type.Object(
  {
    immutability: Type.Optional(Type.Boolean()),
    signature: Type.Optional(SignatureCheckSchema),
    vulnerabilities: Type.Optional(VulnerabilitiesCheckSchema),
    posture: Type.Optional(PostureCheckSchema),
  },
  closed,
);

export const OverrideSchema = Type.Object(
  {
    name: Type.String({ minLength: 1 }),
    namespaces: Type.Optional(Type.Array(Pattern, { minItems: 1 })),
    images: Type.Optional(Type.Array(Pattern, { minItems: 1 })),
    mode: Type.Optional(Enum(MODES, 'enforce | warn | audit')),
    onError: Type.Optional(Enum(ON_ERROR, 'deny | allow')),
    checks: Type.Optional(ChecksSchema),
  },
  closed,
);

// Issue 16: the fleet's shared fact cache and the EventBridge events that keep facts fresh.
// The password and the HMAC key come from the environment (the chart's Secret), never the file.
export const SharedCacheSchema = Type.Object(
  {
    url: Type.String({ pattern: '^rediss?://[^\\s]+$', description: 'redis://host:port[/db] or rediss:// (TLS)' }),
    /** PEM CA bundle for rediss:// (default: Node's trusted CAs). */
    caFile: Type.Optional(Type.String({ minLength: 1 })),
    /** Bound of one command, ms: past it, the fact comes from AWS and the level is degraded. */
    opTimeoutMs: Type.Integer({ minimum: 1, maximum: 5_000, default: 100 }),
    /** How long one process's load holds a fact's lock at most. */
    lockMs: Type.Integer({ minimum: 100, maximum: 60_000, default: 5_000 }),
    keyPrefix: Type.String({ pattern: '^[A-Za-z0-9:_.-]{1,64}$', default: 'ecr-admission:' }),
  },
  closed,
);

export const EventsSchema = Type.Object(
  {
    /** The SQS queue EventBridge's ECR and Inspector rules feed (https://sqs.<region>.amazonaws.com/<account>/<name>). */
    sqsQueueUrl: Url,
    /** The queue's region, when its URL does not name one (a VPC endpoint, the sandbox). */
    region: Type.Optional(Region),
    waitTimeSeconds: Type.Integer({ minimum: 1, maximum: 20, default: 20 }),
  },
  closed,
);

export const CacheSchema = Type.Object(
  {
    maxEntries: Type.Integer({ minimum: 10, maximum: 1_000_000, default: 10_000 }),
    ttlSeconds: Type.Object(
      {
        /** A tag's digest in a MUTABLE repository: the tag can move, so trust it briefly. */
        mutableTag: Seconds(15),
        /** Accepted for compatibility; governs nothing until Pods are pinned to the verified
         *  digest: ECR lets a tag be reused after its image is deleted, even in an IMMUTABLE
         *  repository, so every tag's digest is trusted for mutableTag only (facts/ecr.ts). */
        immutableTag: Seconds(3600),
        repository: Seconds(300),
        /** Facts about a digest (manifest, signatures' verdict): content-addressed. */
        digest: Seconds(3600),
        revocation: Seconds(300),
        findings: Seconds(300),
        notFound: Seconds(10),
      },
      { ...closed, default: {} },
    ),
    /** A stale fact may be served while it is refreshed, up to this long past its TTL. */
    staleSeconds: Seconds(300),
    /** A Valkey/Redis level shared by every replica (facts only), facts/shared-cache/. */
    shared: Type.Optional(SharedCacheSchema),
  },
  { ...closed, default: {} },
);

export const AwsSchema = Type.Object(
  {
    endpoints: Type.Object(
      {
        ecr: Type.Optional(Url),
        inspector2: Type.Optional(Url),
        signer: Type.Optional(Url),
        /** Signer's data plane (GetRevocationStatus), when it is not data-<signer endpoint host>:
         *  a VPC endpoint of its own (facts/aws-clients.ts). */
        signerData: Type.Optional(Url),
        sts: Type.Optional(Url),
        /** The ECR registry endpoint (https://<account>.dkr.ecr.<region>.amazonaws.com by default)
         *  for checks.signature.source: registry. */
        ecrRegistry: Type.Optional(Url),
        /** KMS, for checks.signature.cosign authorities' kms keys (issue 19). */
        kms: Type.Optional(Url),
      },
      { ...closed, default: {} },
    ),
    maxAttempts: Type.Integer({ minimum: 1, maximum: 10, default: 3 }),
  },
  { ...closed, default: {} },
);

/** Digest pinning (README "Digest pinning"): what the mutating webhook rewrites to tag@digest. */
export const PinningSchema = Type.Object(
  {
    /** pods: Pods only (default); pods-and-templates: workload templates too (starts a
     *  rollout when a tag moves); off: nothing is rewritten. */
    mode: Type.Union(
      PINNING_MODES.map((v) => Type.Literal(v)),
      { description: 'pods | pods-and-templates | off', default: 'pods' },
    ),
    /** Deny a Pod whose ECR or registries.oci image reaches validation without a digest. */
    requireOnPods: Type.Boolean({ default: false }),
  },
  { ...closed, default: {} },
);

export const PolicySchema = Type.Object(
  {
    mode: Enum(MODES, 'enforce | warn | audit'),
    onError: Enum(ON_ERROR, 'deny | allow'),
    registries: Type.Object(
      {
        ecr: Type.Array(EcrRegistrySchema, { default: [] }),
        allow: Type.Array(Pattern, { default: [] }),
        /** Non-ECR registries read through the OCI distribution API: their images are admitted
         *  when the digest resolves and, if checks.signature is set, a valid signature is found. */
        oci: Type.Array(OciRegistrySchema, { default: [] }),
      },
      { ...closed, default: {} },
    ),
    namespaces: Type.Object(
      {
        exclude: Type.Array(Pattern, { default: [] }),
      },
      { ...closed, default: {} },
    ),
    checks: Type.Object(ChecksSchema.properties, { ...closed, default: {} }),
    overrides: Type.Array(OverrideSchema, { default: [] }),
    cache: CacheSchema,
    aws: AwsSchema,
    pinning: PinningSchema,
    events: Type.Optional(EventsSchema),
  },
  closed,
);

// Defaults for the two enums are set here rather than in the schema so a missing mode reads
// as "enforce" in one obvious place.
(PolicySchema.properties.mode as TSchema).default = 'enforce';
(PolicySchema.properties.onError as TSchema).default = 'deny';

export type PolicyFile = Static<typeof PolicySchema>;
export type ChecksConfig = Static<typeof ChecksSchema>;
export type SignatureCheckConfig = Static<typeof SignatureCheckSchema>;
export type CosignConfig = Static<typeof CosignSchema>;
export type CosignAuthorityConfig = Static<typeof CosignAuthoritySchema>;
export type SignatureFormat = (typeof SIGNATURE_FORMATS)[number];
export type VulnerabilitiesCheckConfig = Static<typeof VulnerabilitiesCheckSchema>;
export type PostureCheckConfig = Static<typeof PostureCheckSchema>;
export type PostureItem = (typeof POSTURE_ITEMS)[number];
export type OverrideConfig = Static<typeof OverrideSchema>;
export type EcrRegistryConfig = Static<typeof EcrRegistrySchema>;
export type OciRegistryConfig = Static<typeof OciRegistrySchema>;
export type CacheConfig = Static<typeof CacheSchema>;
export type AwsConfig = Static<typeof AwsSchema>;
export type PinningConfig = Static<typeof PinningSchema>;
export type SharedCacheConfig = Static<typeof SharedCacheSchema>;
export type EventsConfig = Static<typeof EventsSchema>;
export type Mode = (typeof MODES)[number];
export type OnError = (typeof ON_ERROR)[number];
export type Severity = (typeof SEVERITIES)[number];
