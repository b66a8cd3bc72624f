// The ECR calls `audit` makes to walk a whole registry: every repository (DescribeRepositories
// through the SDK's paginator), each one's lifecycle and repository policy, and the registry's
// scanning configuration, pull-through-cache rules and repository creation templates. No cache
// (a walk asks each question once) and no admission deadline: throttling is waited out with
// backoff, so a busy registry makes the walk slower, never wrong.
import {
  GetLifecyclePolicyCommand,
  GetRegistryScanningConfigurationCommand,
  GetRepositoryPolicyCommand,
  paginateDescribePullThroughCacheRules,
  paginateDescribeRepositories,
  paginateDescribeRepositoryCreationTemplates,
  type ECRClient,
} from '@aws-sdk/client-ecr';
import { setTimeout as sleep } from 'node:timers/promises';
import { outcomeOf } from '../aws-clients.ts';
import { fromAwsError } from '../errors.ts';
import type { RepositoryFacts } from './images.ts';
import type { LifecyclePolicyFact, RepositoryPolicyFact } from './posture.ts';
import type { RegistryScanning } from './scan.ts';

const THROTTLED = new Set(['ThrottlingException', 'TooManyRequestsException', 'Throttling', 'LimitExceededException']);

export interface ThrottlePolicy {
  /** Attempts after the SDK's own retries gave up on throttling (default 12). */
  readonly attempts?: number;
  /** First wait in ms, doubled each time up to maxDelayMs, with full jitter (default 500 / 20,000). */
  readonly baseDelayMs?: number;
  readonly maxDelayMs?: number;
  /** Called on each wait, so the caller can count them. */
  readonly onThrottle?: (operation: string) => void;
}

/** Runs `call`, waiting out ThrottlingException with exponential backoff and full jitter
 *  (up to ~4 minutes at the defaults) before the throttling counts as a failure. */
export async function patiently<T>(operation: string, call: () => Promise<T>, policy: ThrottlePolicy = {}): Promise<T> {
  const attempts = policy.attempts ?? 12;
  const base = policy.baseDelayMs ?? 500;
  const max = policy.maxDelayMs ?? 20_000;
  for (let attempt = 1; ; attempt++) {
    try {
      return await call();
    } catch (error) {
      if (!THROTTLED.has(outcomeOf(error)) || attempt >= attempts) throw error;
      policy.onThrottle?.(operation);
      await sleep(Math.random() * Math.min(max, base * 2 ** (attempt - 1)));
    }
  }
}

export interface WalkedRepository extends RepositoryFacts {
  readonly uri?: string;
}

/** A page bound no real registry reaches (ECR's repository quota is per region, in the
 *  thousands): a nextToken that never ends is an error, not a walk that never ends. */
const MAX_PAGES = 1_000;

/**
 * Pages of a listing through the SDK's paginator, one page per paginator: a generator that
 * threw is finished (its next() answers done), so retrying a throttled page means starting a
 * paginator again at that page's token (startingToken).
 */
async function* pagesOf<P extends { nextToken?: string | undefined }>(
  operation: string,
  start: (token: string | undefined) => AsyncGenerator<P>,
  throttle: ThrottlePolicy | undefined,
): AsyncGenerator<P> {
  let token: string | undefined;
  for (let n = 0; n < MAX_PAGES; n++) {
    const page = await patiently(operation, () => start(token).next(), throttle);
    if (page.done) return;
    yield page.value;
    token = page.value.nextToken;
    if (token === undefined) return;
  }
  throw new Error(`${operation} returned more than ${MAX_PAGES} pages`);
}

/** Every repository of the registry, page by page (1,000 a page). */
export async function* repositoriesOf(client: ECRClient, accountId: string, throttle?: ThrottlePolicy): AsyncGenerator<WalkedRepository[]> {
  try {
    const pages = pagesOf(
      'DescribeRepositories',
      (token) => paginateDescribeRepositories({ client, pageSize: 1000, ...(token !== undefined && { startingToken: token }) }, { registryId: accountId }),
      throttle,
    );
    for await (const page of pages) {
      yield (page.repositories ?? []).map((r) => ({
        name: r.repositoryName ?? '',
        tagMutability: r.imageTagMutability ?? 'MUTABLE',
        exclusionFilters: (r.imageTagMutabilityExclusionFilters ?? []).map((f) => f.filter ?? '').filter((f) => f !== ''),
        ...(r.imageScanningConfiguration?.scanOnPush !== undefined && { scanOnPush: r.imageScanningConfiguration.scanOnPush }),
        ...(r.encryptionConfiguration?.encryptionType !== undefined && {
          encryption: {
            type: r.encryptionConfiguration.encryptionType,
            ...(r.encryptionConfiguration.kmsKey !== undefined && { kmsKey: r.encryptionConfiguration.kmsKey }),
          },
        }),
        ...(r.repositoryUri !== undefined && { uri: r.repositoryUri }),
      }));
    }
  } catch (error) {
    throw fromAwsError(error, 'ecr', 'DescribeRepositories');
  }
}

export async function lifecyclePolicyOf(client: ECRClient, accountId: string, repository: string, throttle?: ThrottlePolicy): Promise<LifecyclePolicyFact> {
  try {
    const out = await patiently(
      'GetLifecyclePolicy',
      () => client.send(new GetLifecyclePolicyCommand({ registryId: accountId, repositoryName: repository })),
      throttle,
    );
    return { present: (out.lifecyclePolicyText ?? '') !== '' };
  } catch (error) {
    if (outcomeOf(error) === 'LifecyclePolicyNotFoundException') return { present: false };
    throw fromAwsError(error, 'ecr', 'GetLifecyclePolicy');
  }
}

export async function repositoryPolicyOf(client: ECRClient, accountId: string, repository: string, throttle?: ThrottlePolicy): Promise<RepositoryPolicyFact> {
  try {
    const out = await patiently(
      'GetRepositoryPolicy',
      () => client.send(new GetRepositoryPolicyCommand({ registryId: accountId, repositoryName: repository })),
      throttle,
    );
    return out.policyText !== undefined ? { text: out.policyText } : {};
  } catch (error) {
    if (outcomeOf(error) === 'RepositoryPolicyNotFoundException') return {};
    throw fromAwsError(error, 'ecr', 'GetRepositoryPolicy');
  }
}

/** GetRegistryScanningConfiguration (the caller's registry: no registryId in the request). */
export async function scanningOf(client: ECRClient, accountId: string, throttle?: ThrottlePolicy): Promise<RegistryScanning> {
  try {
    const out = await patiently('GetRegistryScanningConfiguration', () => client.send(new GetRegistryScanningConfigurationCommand({})), throttle);
    const rules = (out.scanningConfiguration?.rules ?? []).map((r) => ({
      scanFrequency: r.scanFrequency ?? 'MANUAL',
      filters: (r.repositoryFilters ?? []).map((f) => f.filter ?? '').filter((f) => f !== ''),
    }));
    return {
      scanType: out.scanningConfiguration?.scanType === 'ENHANCED' ? 'ENHANCED' : 'BASIC',
      repositoryFilters: rules.flatMap((r) => r.filters),
      rules,
      authoritative: out.registryId === undefined || out.registryId === accountId,
    };
  } catch (error) {
    throw fromAwsError(error, 'ecr', 'GetRegistryScanningConfiguration');
  }
}

export interface PullThroughCacheRuleFact {
  readonly prefix: string;
  readonly upstream: string;
}

export async function pullThroughCacheRulesOf(client: ECRClient, accountId: string, throttle?: ThrottlePolicy): Promise<PullThroughCacheRuleFact[]> {
  const out: PullThroughCacheRuleFact[] = [];
  try {
    const pages = pagesOf(
      'DescribePullThroughCacheRules',
      (token) =>
        paginateDescribePullThroughCacheRules({ client, pageSize: 1000, ...(token !== undefined && { startingToken: token }) }, { registryId: accountId }),
      throttle,
    );
    for await (const page of pages) {
      for (const r of page.pullThroughCacheRules ?? []) out.push({ prefix: r.ecrRepositoryPrefix ?? '', upstream: r.upstreamRegistryUrl ?? '' });
    }
  } catch (error) {
    throw fromAwsError(error, 'ecr', 'DescribePullThroughCacheRules');
  }
  return out;
}

export interface CreationTemplateFact {
  readonly prefix: string;
  readonly appliedFor: readonly string[];
  readonly tagMutability: string;
  readonly encryptionType: string;
  readonly lifecyclePolicy: boolean;
  readonly repositoryPolicy?: string;
}

/** DescribeRepositoryCreationTemplates (the caller's registry: no registryId in the request). */
export async function creationTemplatesOf(client: ECRClient, throttle?: ThrottlePolicy): Promise<CreationTemplateFact[]> {
  const out: CreationTemplateFact[] = [];
  try {
    const pages = pagesOf(
      'DescribeRepositoryCreationTemplates',
      (token) => paginateDescribeRepositoryCreationTemplates({ client, pageSize: 1000, ...(token !== undefined && { startingToken: token }) }, {}),
      throttle,
    );
    for await (const page of pages) {
      for (const t of page.repositoryCreationTemplates ?? []) {
        out.push({
          prefix: t.prefix ?? '',
          appliedFor: t.appliedFor ?? [],
          tagMutability: t.imageTagMutability ?? 'MUTABLE',
          encryptionType: t.encryptionConfiguration?.encryptionType ?? 'AES256',
          lifecyclePolicy: (t.lifecyclePolicy ?? '') !== '',
          ...(t.repositoryPolicy !== undefined && t.repositoryPolicy !== '' && { repositoryPolicy: t.repositoryPolicy }),
        });
      }
    }
  } catch (error) {
    throw fromAwsError(error, 'ecr', 'DescribeRepositoryCreationTemplates');
  }
  return out;
}
