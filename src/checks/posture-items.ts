// The repository baseline of the ECR best practices, one verdict per item: what is wrong and
// the aws CLI command that fixes it. Pure functions of facts, shared by the posture check
// (admission) and `audit` (the whole registry), so both say the same thing.
import type { RepositoryFacts } from '../facts/ecr/images.ts';
import { scanningFilterMatches, type RegistryScanning } from '../facts/ecr/scan.ts';
import type { LifecyclePolicyFact, RepositoryPolicyFact } from '../facts/ecr/posture.ts';
import type { EcrImageLocation } from '../facts/ports.ts';
import type { PostureItem } from '../policy/schema.ts';
import { analyzeRepositoryPolicy } from './repository-policy.ts';

export { POSTURE_ITEMS, type PostureItem } from '../policy/schema.ts';

/** The Security Hub control each item is (AWS Security Hub User Guide, "Amazon ECR controls"). */
export const CONTROL: Readonly<Record<PostureItem, string>> = {
  scanning: 'ECR.1',
  lifecyclePolicy: 'ECR.3',
  kmsEncryption: 'ECR.5',
  restrictedPolicy: 'repository policy',
};

export interface ItemVerdict {
  /** tagImmutability (ECR.2) is `audit`'s only: admission leaves it to the immutability check. */
  readonly item: PostureItem | 'tagImmutability';
  readonly control: string;
  readonly ok: boolean;
  /** What is so (ok) or what is wrong (not ok), one line. */
  readonly detail: string;
  /** The aws CLI command that fixes it (not ok only). */
  readonly fix?: string;
  /** The short form of `fix` for 120-character warnings: the command's name. */
  readonly fixCommand?: string;
  /** What is wrong in a few words, for warnings. */
  readonly short?: string;
}

/** Where a repository is: all the verdicts need of an image's location. */
export type RepositoryLocation = Pick<EcrImageLocation, 'accountId' | 'region' | 'repository'>;

const scope = (loc: RepositoryLocation) => `--registry-id ${loc.accountId} --region ${loc.region}`;

function verdict(item: PostureItem, ok: boolean, detail: string, fix?: string, short?: string): ItemVerdict {
  const fixCommand = fix?.split(' ').slice(0, 3).join(' ');
  return { item, control: CONTROL[item], ok, detail, ...(fix !== undefined && { fix, fixCommand }), ...(short !== undefined && { short }) };
}

/**
 * ECR.1: does the registry's scanning configuration scan this repository? ENHANCED: a rule with
 * CONTINUOUS_SCAN or SCAN_ON_PUSH whose filter matches (MANUAL is not scanning configured).
 * BASIC: a SCAN_ON_PUSH rule whose filter matches; a registry with no rule at all still honours
 * the repository's own (deprecated) imageScanningConfiguration.scanOnPush.
 */
export function scanningVerdict(scanning: RegistryScanning, repo: RepositoryFacts, loc: RepositoryLocation): ItemVerdict {
  const rules =
    scanning.rules ??
    scanning.repositoryFilters.map((f) => ({ scanFrequency: scanning.scanType === 'ENHANCED' ? 'CONTINUOUS_SCAN' : 'SCAN_ON_PUSH', filters: [f] }));
  const frequencies = scanning.scanType === 'ENHANCED' ? ['CONTINUOUS_SCAN', 'SCAN_ON_PUSH'] : ['SCAN_ON_PUSH'];
  const rule = rules.find((r) => frequencies.includes(r.scanFrequency) && r.filters.some((f) => scanningFilterMatches(f, loc.repository)));
  if (rule)
    return verdict(
      'scanning',
      true,
      `${scanning.scanType} ${rule.scanFrequency} (filter ${rule.filters.find((f) => scanningFilterMatches(f, loc.repository))})`,
    );
  if (scanning.scanType === 'BASIC' && rules.length === 0 && repo.scanOnPush === true)
    return verdict('scanning', true, 'BASIC scan on push (repository setting)');
  const frequency = scanning.scanType === 'ENHANCED' ? 'CONTINUOUS_SCAN' : 'SCAN_ON_PUSH';
  return verdict(
    'scanning',
    false,
    `repository ${loc.repository} is not scanned: no ${scanning.scanType} scanning rule of registry ${loc.accountId} (${loc.region}) matches it`,
    `aws ecr put-registry-scanning-configuration --scan-type ${scanning.scanType} --rules 'scanFrequency=${frequency},repositoryFilters=[{filter=${loc.repository},filterType=WILDCARD}]' --region ${loc.region} (in account ${loc.accountId}; it replaces every rule, so include the current ones from aws ecr get-registry-scanning-configuration)`,
    `not scanned (${scanning.scanType})`,
  );
}

/** ECR.3: a lifecycle policy, so images nobody uses stop accumulating (and being scanned). */
export function lifecycleVerdict(fact: LifecyclePolicyFact, loc: RepositoryLocation): ItemVerdict {
  if (fact.present) return verdict('lifecyclePolicy', true, 'lifecycle policy set');
  return verdict(
    'lifecyclePolicy',
    false,
    `repository ${loc.repository} has no lifecycle policy`,
    `aws ecr put-lifecycle-policy --repository-name ${loc.repository} --lifecycle-policy-text file://lifecycle-policy.json ${scope(loc)}`,
    'no lifecycle policy',
  );
}

/**
 * ECR.5: encrypted with a KMS key (KMS or KMS_DSSE). The key's ARN is shown: telling an AWS
 * managed key (alias/aws/ecr) from a customer managed one needs kms:DescribeKey, which this
 * does not call. Encryption is fixed at creation, so the fix is a new repository.
 */
export function encryptionVerdict(repo: RepositoryFacts, loc: RepositoryLocation): ItemVerdict {
  const type = repo.encryption?.type ?? 'AES256';
  if (type === 'KMS' || type === 'KMS_DSSE') return verdict('kmsEncryption', true, `${type} with ${repo.encryption?.kmsKey ?? 'the AWS managed key aws/ecr'}`);
  return verdict(
    'kmsEncryption',
    false,
    `repository ${loc.repository} is encrypted with ${type} (ECR-managed keys), not a KMS key`,
    `aws ecr create-repository --repository-name ${loc.repository}-kms --encryption-configuration encryptionType=KMS,kmsKey=<key ARN> --region ${loc.region} (encryption is set at creation: move the images to the new repository)`,
    `encrypted with ${type}, not KMS`,
  );
}

/** Repository policy: no unrestricted wildcard principal, no write granted to another account.
 *  No policy passes: access then comes from IAM identity policies alone. */
export function policyVerdict(fact: RepositoryPolicyFact, loc: RepositoryLocation): ItemVerdict {
  if (fact.text === undefined) return verdict('restrictedPolicy', true, 'no repository policy');
  const { problems } = analyzeRepositoryPolicy(fact.text, loc.accountId);
  if (problems.length === 0) return verdict('restrictedPolicy', true, 'repository policy restricted');
  const first = problems[0]!;
  const more = problems.length > 1 ? ` (+${problems.length - 1} more)` : '';
  const what =
    first.kind === 'unreadable' ? 'cannot be read' : first.kind === 'wildcard-principal' ? 'grants a wildcard principal' : 'grants push across accounts';
  return verdict(
    'restrictedPolicy',
    false,
    `the policy of repository ${loc.repository} ${what}: ${first.statement}: ${first.detail}${more}`,
    `aws ecr set-repository-policy --repository-name ${loc.repository} --policy-text file://policy.json ${scope(loc)} (the policy without it; aws ecr get-repository-policy shows it)`,
    `${first.kind === 'unreadable' ? 'unreadable' : first.kind === 'wildcard-principal' ? 'wildcard principal' : 'push across accounts'} (${first.statement.slice(0, 16)})`,
  );
}
