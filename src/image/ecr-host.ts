// Recognises private ECR registry hosts. Anything not matched exactly is not ECR: a host that
// merely contains "amazonaws.com" (amazonaws.com.evil.example, a Cyrillic "а") must never be
// mistaken for an allowed registry, so the patterns are anchored and ASCII-only.
//
// The region must be one AWS has: the SDK's partition data lists every region by name (issue
// 12: a grammar that took any "xx-word-9" let Pods naming thousands of invented regions make
// one SDK client each). A region opened after this release's SDK is refused until an upgrade:
// failing closed on a name nobody can verify is the safe side.
import { partition } from '@aws-sdk/core/client';

export interface EcrRegistry {
  readonly accountId: string;
  readonly region: string;
  readonly fips: boolean;
  readonly dualStack: boolean;
  /** aws, aws-cn or aws-us-gov: signatures and roles do not cross partitions. */
  readonly partition: EcrPartition;
  readonly host: string;
}

export type EcrPartition = 'aws' | 'aws-cn' | 'aws-us-gov';

/** The partitions whose registry hosts end in amazonaws.com, amazonaws.com.cn or on.aws; the
 *  ISO and European sovereign partitions use other DNS suffixes this grammar does not take. */
const ECR_PARTITIONS: ReadonlySet<string> = new Set<EcrPartition>(['aws', 'aws-cn', 'aws-us-gov']);

// The shape of a region name, checked before the partition data is asked; it also keeps out
// the data's pseudo-regions such as "aws-global".
const REGION = '[a-z]{2}(?:-[a-z]+)+-\\d{1,2}';
const REGION_NAME = new RegExp(`^${REGION}$`);
const STANDARD = new RegExp(`^(\\d{12})\\.dkr\\.ecr(-fips)?\\.(${REGION})\\.amazonaws\\.com(\\.cn)?$`);
const DUAL_STACK = new RegExp(`^(\\d{12})\\.dkr-ecr(-fips)?\\.(${REGION})\\.on\\.aws$`);

export interface KnownRegion {
  readonly partition: EcrPartition;
  /** amazonaws.com or amazonaws.com.cn: the suffix of the partition's registry hosts. */
  readonly dnsSuffix: string;
}

/**
 * The partition of `region` when the SDK's partition data lists it by name in a partition
 * ECR hosts are recognised for; undefined for anything else. The data's `regionRegex` is not
 * enough (it takes "us-invented-7"): partition() merges a listed region's own entry (its
 * `description`) into the partition's outputs, and returns the outputs alone for a name only
 * a regionRegex, or nothing, matched (@aws-sdk/core, util-endpoints/lib/aws/partition.js).
 */
export function knownRegion(region: string): KnownRegion | undefined {
  if (!REGION_NAME.test(region)) return undefined;
  const info: { name: string; dnsSuffix: string; description?: unknown } = partition(region);
  if (typeof info.description !== 'string' || !ECR_PARTITIONS.has(info.name)) return undefined;
  return { partition: info.name as EcrPartition, dnsSuffix: info.dnsSuffix };
}

interface HostShape {
  readonly accountId: string;
  readonly region: string;
  readonly fips: boolean;
  readonly dualStack: boolean;
  /** The host's DNS suffix after the region. */
  readonly suffix: 'amazonaws.com' | 'amazonaws.com.cn' | 'on.aws';
  readonly host: string;
}

function hostShape(domain: string): HostShape | undefined {
  // ASCII-only lower-casing: toLowerCase() maps the Kelvin sign (U+212A) to "k", so
  // "dKr" with that sign would otherwise match.
  const host = domain.replace(/[A-Z]+/g, (c) => c.toLowerCase());
  const standard = STANDARD.exec(host);
  if (standard) {
    const [, accountId = '', fips, region = '', china] = standard;
    return { accountId, region, fips: fips !== undefined, dualStack: false, suffix: china !== undefined ? 'amazonaws.com.cn' : 'amazonaws.com', host };
  }
  const dual = DUAL_STACK.exec(host);
  if (dual) {
    const [, accountId = '', fips, region = ''] = dual;
    return { accountId, region, fips: fips !== undefined, dualStack: true, suffix: 'on.aws', host };
  }
  return undefined;
}

/** Returns the ECR registry a host names, or undefined when it is not an ECR private registry
 *  (including a registry-shaped host whose region AWS does not have: see unknownEcrRegion). */
export function parseEcrHost(domain: string): EcrRegistry | undefined {
  const shape = hostShape(domain);
  if (!shape) return undefined;
  const known = knownRegion(shape.region);
  if (!known) return undefined;
  // Each partition's registries use its own suffix (".amazonaws.com.cn" only China's); the
  // global dual-stack domain on.aws has no China registries.
  const suffixFits = shape.dualStack ? known.partition !== 'aws-cn' : shape.suffix === known.dnsSuffix;
  if (!suffixFits) return undefined;
  const { suffix: _suffix, ...registry } = shape;
  return { ...registry, partition: known.partition };
}

/** The region label of a host that has the form of an ECR registry but names a region AWS does
 *  not have (per the SDK's partition data), so the origin check can say so; else undefined. */
export function unknownEcrRegion(domain: string): string | undefined {
  const shape = hostShape(domain);
  return shape && !knownRegion(shape.region) ? shape.region : undefined;
}

/** The canonical host of a registry (what DescribeImages' registryId + region name). */
export function ecrHost(accountId: string, region: string): string {
  const suffix = region.startsWith('cn-') ? 'amazonaws.com.cn' : 'amazonaws.com';
  return `${accountId}.dkr.ecr.${region}.${suffix}`;
}

/** A pull-through-cache repository is named "<ecrRepositoryPrefix>/<upstream path>"
 *  (DescribePullThroughCacheRules). Given the prefixes the policy names, returns the rule's
 *  prefix and the upstream path, so a message can say where the image really came from. The
 *  longest prefix wins, and a prefix matches whole path components only. */
export function pullThroughCacheOrigin(repository: string, prefixes: readonly string[]): { prefix: string; upstreamPath: string } | undefined {
  let best: { prefix: string; upstreamPath: string } | undefined;
  for (const raw of prefixes) {
    const prefix = raw.replace(/\/+$/, '');
    if (prefix === '' || !repository.startsWith(`${prefix}/`) || repository.length === prefix.length + 1) continue;
    if (!best || prefix.length > best.prefix.length) best = { prefix, upstreamPath: repository.slice(prefix.length + 1) };
  }
  return best;
}
