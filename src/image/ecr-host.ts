// Recognises private ECR registry hosts. Anything not matched exactly is not ECR: a host that
// merely contains "amazonaws.com" (amazonaws.com.evil.example, a Cyrillic "а") must never be
// mistaken for an allowed registry, so the patterns are anchored and ASCII-only.
export interface EcrRegistry {
  readonly accountId: string;
  readonly region: string;
  readonly fips: boolean;
  readonly dualStack: boolean;
  /** aws, aws-cn or aws-us-gov: signatures and roles do not cross partitions. */
  readonly partition: 'aws' | 'aws-cn' | 'aws-us-gov';
  readonly host: string;
}

const REGION = '[a-z]{2}(?:-[a-z]+)+-\\d{1,2}';
const STANDARD = new RegExp(`^(\\d{12})\\.dkr\\.ecr(-fips)?\\.(${REGION})\\.amazonaws\\.com(\\.cn)?$`);
const DUAL_STACK = new RegExp(`^(\\d{12})\\.dkr-ecr(-fips)?\\.(${REGION})\\.on\\.aws$`);

function partitionOf(region: string): EcrRegistry['partition'] {
  if (region.startsWith('cn-')) return 'aws-cn';
  if (region.startsWith('us-gov-')) return 'aws-us-gov';
  return 'aws';
}

/** Returns the ECR registry a host names, or undefined when it is not an ECR private registry. */
export function parseEcrHost(domain: string): EcrRegistry | undefined {
  // ASCII-only lower-casing: toLowerCase() maps the Kelvin sign (U+212A) to "k", so
  // "dKr" with that sign would otherwise match.
  const host = domain.replace(/[A-Z]+/g, (c) => c.toLowerCase());
  const standard = STANDARD.exec(host);
  if (standard) {
    const [, accountId = '', fips, region = '', china] = standard;
    const partition = partitionOf(region);
    // ".amazonaws.com.cn" is the China partition's suffix and only its regions use it.
    if ((partition === 'aws-cn') !== (china !== undefined)) return undefined;
    return { accountId, region, fips: fips !== undefined, dualStack: false, partition, host };
  }
  const dual = DUAL_STACK.exec(host);
  if (dual) {
    const [, accountId = '', fips, region = ''] = dual;
    const partition = partitionOf(region);
    if (partition === 'aws-cn') return undefined;
    return { accountId, region, fips: fips !== undefined, dualStack: true, partition, host };
  }
  return undefined;
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
