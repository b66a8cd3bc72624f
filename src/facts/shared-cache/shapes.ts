// What may be shared, and the shape each shared fact must have when it is read back. The
// shared level is written by other processes and reachable over the network: a value that
// fails its shape, or that does not belong to the key it sits under (a manifest of another
// digest, a repository of another name), is a miss, never a fact. Only facts are listed here:
// decisions and verdicts (signature-verdict) depend on the policy and are never shared, and a
// fact absent from this table stays in its process.
//
// Each fact also names its invalidation groups: the things an AWS event can say changed (a tag
// moved, a digest deleted or rescanned). A shared value is stored with the version of each of
// its groups, and read back only while they are unchanged (shared-cache.ts).
import { arrayOf, bool, int, isDigest, isRecord, oneOf, optional, str, type Check } from './values.ts';

export interface SharedFact {
  /** Whether `value`, read under `key`, has this fact's shape and belongs to the key. */
  readonly valid: (value: unknown, key: string) => boolean;
  /** The invalidation groups of a value under `key` (read from the key alone when value is undefined). */
  readonly groups: (key: string, value?: unknown) => string[];
}

const MAX_LIST = 10_000;
const digest: Check = (v) => isDigest(v);
const descriptor = { digest, mediaType: str(255), size: int(0, Number.MAX_SAFE_INTEGER) };
const resolvedImage = isRecord({ ...descriptor, platforms: optional(arrayOf(isRecord({ ...descriptor, platform: str(255) }), 1024)) });

/** `acct/region/repo@sha256:...` (a key may end in `|severities`): the digest group. */
const digestOfKey = (key: string): { where: string; digest: string } | undefined => {
  const at = key.lastIndexOf('@');
  if (at < 0) return undefined;
  return { where: key.slice(0, at), digest: key.slice(at + 1).split('|', 1)[0]! };
};

export const digestGroup = (where: string, digest: string): string => `d:${where}@${digest}`;
export const tagGroup = (where: string, tag: string): string => `t:${where}:${tag}`;

const finding = isRecord({
  id: str(512),
  severity: str(32),
  inspectorScore: optional((v) => typeof v === 'number' && Number.isFinite(v)),
  fixAvailable: optional(str(32)),
  packages: arrayOf(isRecord({ name: str(1024), version: optional(str(1024)), fixedInVersion: optional(str(1024)) }), MAX_LIST),
  digest,
});
const manifestScan = isRecord({ digest, platform: optional(str(255)), state: str(64), detail: optional(str(4096)) });
const report = isRecord({
  scanning: oneOf('BASIC', 'ENHANCED'),
  via: oneOf('inspector', 'ecr'),
  manifests: arrayOf(manifestScan, 1024),
  findings: arrayOf(finding, MAX_LIST),
  truncated: bool,
  repositoryCovered: bool,
});

export const SHARED_FACTS: ReadonlyMap<string, SharedFact> = new Map<string, SharedFact>([
  [
    'tag',
    {
      valid: (v) => isRecord({ digest })(v),
      groups: (key) => {
        const colon = key.lastIndexOf(':');
        return [tagGroup(key.slice(0, colon), key.slice(colon + 1))];
      },
    },
  ],
  [
    'manifest',
    {
      // Content-addressed: the value must describe the very digest of its key.
      valid: (v, key) => resolvedImage(v) && (v as { digest: string }).digest === digestOfKey(key)?.digest,
      groups: (key) => {
        const d = digestOfKey(key);
        return d ? [digestGroup(d.where, d.digest)] : [];
      },
    },
  ],
  [
    'repository',
    {
      valid: (v, key) =>
        isRecord({
          name: str(256),
          tagMutability: oneOf('MUTABLE', 'IMMUTABLE', 'IMMUTABLE_WITH_EXCLUSION', 'MUTABLE_WITH_EXCLUSION'),
          exclusionFilters: arrayOf(str(256), 100),
          scanOnPush: optional(bool),
          // Every repository has one (AES256 by default: DescribeRepositories always returns
          // encryptionConfiguration). Left out of this shape, no repository fact was ever a
          // shared hit: every replica asked AWS (found by the fleet bench, issue 18).
          // EncryptionConfiguration.encryptionType: AES256 | KMS | KMS_DSSE; kmsKey: 1-2048 chars
          // (ECR API reference, EncryptionConfiguration).
          encryption: optional(isRecord({ type: oneOf('AES256', 'KMS', 'KMS_DSSE'), kmsKey: optional(str(2048)) })),
        })(v) && (v as { name: string }).name === key.split('/').slice(2).join('/'),
      groups: () => [],
    },
  ],
  [
    'registry-scanning',
    {
      valid: (v) => isRecord({ scanType: oneOf('BASIC', 'ENHANCED'), repositoryFilters: arrayOf(str(256), 1000), authoritative: bool })(v),
      groups: () => [],
    },
  ],
  [
    'vulnerabilities',
    {
      // The report of the key's digest: its manifests are that digest or its platform images,
      // and every finding sits on one of them.
      valid: (v, key) => {
        if (!report(v)) return false;
        const r = v as { manifests: { digest: string; platform?: string }[]; findings: { digest: string }[] };
        const own = digestOfKey(key)?.digest;
        if (r.manifests.length === 0) return false;
        if (r.manifests.length === 1 && r.manifests[0]!.platform === undefined && r.manifests[0]!.digest !== own) return false;
        const scanned = new Set(r.manifests.map((m) => m.digest));
        return r.findings.every((f) => scanned.has(f.digest));
      },
      // An event names the digest it is about: the image's own, or one of its platform images.
      groups: (key, value) => {
        const d = digestOfKey(key);
        if (!d) return [];
        const digests = new Set([d.digest]);
        if (report(value)) for (const m of (value as { manifests: { digest: string }[] }).manifests) digests.add(m.digest);
        return [...digests].map((x) => digestGroup(d.where, x));
      },
    },
  ],
  ['revocation', { valid: (v) => arrayOf(str(2048), 100)(v), groups: () => [] }],
]);
