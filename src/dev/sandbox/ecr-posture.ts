// ECR operations about a repository's posture and the registry's governance:
// GetLifecyclePolicy, GetRepositoryPolicy, DescribePullThroughCacheRules,
// DescribeRepositoryCreationTemplates. Shapes and errors from @aws-sdk/client-ecr
// (models_0.d.ts: GetLifecyclePolicyResponse, GetRepositoryPolicyResponse, PullThroughCacheRule,
// RepositoryCreationTemplate; commands/*Command.d.ts @throws) and the Amazon ECR API Reference.
import { invalidParameter, repositoryName, requireRepository, type EcrHandler } from './ecr-common.ts';
import { DEFAULT_PUSHED_AT, toDate } from './fixture.ts';
import { page } from './validate.ts';
import { ApiError, epochSeconds } from './wire.ts';

const text = (v: string | object): string => (typeof v === 'string' ? v : JSON.stringify(v));

/** GetLifecyclePolicy: LifecyclePolicyNotFoundException (client fault) when the repository has
 *  none, RepositoryNotFoundException when there is no repository. */
export const getLifecyclePolicy: EcrHandler = (req) => {
  const repo = requireRepository(req, repositoryName(req.input));
  const policy = repo.fixture.lifecyclePolicy;
  if (policy === undefined) {
    throw new ApiError(
      400,
      'LifecyclePolicyNotFoundException',
      `Lifecycle policy does not exist for the repository with name '${repo.name}' in the registry with id '${repo.account}'`,
    );
  }
  return {
    registryId: repo.account,
    repositoryName: repo.name,
    lifecyclePolicyText: text(policy),
    lastEvaluatedAt: epochSeconds(toDate(repo.fixture.createdAt ?? DEFAULT_PUSHED_AT)),
  };
};

/** GetRepositoryPolicy: RepositoryPolicyNotFoundException when the repository has none. */
export const getRepositoryPolicy: EcrHandler = (req) => {
  const repo = requireRepository(req, repositoryName(req.input));
  const policy = repo.fixture.repositoryPolicy;
  if (policy === undefined) {
    throw new ApiError(
      400,
      'RepositoryPolicyNotFoundException',
      `Repository policy does not exist for the repository with name '${repo.name}' in the registry with id '${repo.account}'`,
    );
  }
  return { registryId: repo.account, repositoryName: repo.name, policyText: text(policy) };
};

/** DescribePullThroughCacheRules: ecrRepositoryPrefixes (1-100) select rules, a named prefix
 *  without a rule is PullThroughCacheRuleNotFoundException; maxResults 1-1000, 100 by default
 *  (DescribePullThroughCacheRulesRequest). */
export const describePullThroughCacheRules: EcrHandler = (req) => {
  const { input } = req;
  const prefixes = input.optionalStringList('ecrRepositoryPrefixes', { min: 1, max: 100 });
  const maxResults = input.optionalInt('maxResults', 1, 1000) ?? 100;
  const nextToken = input.optionalString('nextToken');
  const rules = req.rt.state().region(req.account, req.region)?.fixture.pullThroughCacheRules ?? [];
  for (const p of prefixes ?? []) {
    if (!rules.some((r) => r.ecrRepositoryPrefix === p)) {
      throw new ApiError(
        400,
        'PullThroughCacheRuleNotFoundException',
        `The pull through cache rule with prefix '${p}' does not exist in the registry with id '${req.account}'`,
      );
    }
  }
  const selected = prefixes ? rules.filter((r) => prefixes.includes(r.ecrRepositoryPrefix)) : rules;
  const p = page(selected, `DescribePullThroughCacheRules/${req.account}/${req.region}/${(prefixes ?? []).join(',')}`, nextToken, maxResults, invalidParameter);
  return {
    pullThroughCacheRules: p.items.map((r) => ({
      ecrRepositoryPrefix: r.ecrRepositoryPrefix,
      upstreamRegistryUrl: r.upstreamRegistryUrl,
      registryId: req.account,
      createdAt: epochSeconds(toDate(DEFAULT_PUSHED_AT)),
      ...(r.upstreamRegistry !== undefined && { upstreamRegistry: r.upstreamRegistry }),
      ...(r.credentialArn !== undefined && { credentialArn: r.credentialArn }),
    })),
    ...(p.nextToken ? { nextToken: p.nextToken } : {}),
  };
};

/** DescribeRepositoryCreationTemplates: the caller's registry (no registryId in the request);
 *  prefixes (0-100) select templates; maxResults 1-1000, 100 by default. */
export const describeRepositoryCreationTemplates: EcrHandler = (req) => {
  const { input } = req;
  const prefixes = input.optionalStringList('prefixes', { min: 0, max: 100 });
  const maxResults = input.optionalInt('maxResults', 1, 1000) ?? 100;
  const nextToken = input.optionalString('nextToken');
  const templates = req.rt.state().region(req.account, req.region)?.fixture.repositoryCreationTemplates ?? [];
  const selected = prefixes && prefixes.length > 0 ? templates.filter((t) => prefixes.includes(t.prefix)) : templates;
  const p = page(
    selected,
    `DescribeRepositoryCreationTemplates/${req.account}/${req.region}/${(prefixes ?? []).join(',')}`,
    nextToken,
    maxResults,
    invalidParameter,
  );
  return {
    registryId: req.account,
    repositoryCreationTemplates: p.items.map((t) => ({
      prefix: t.prefix,
      appliedFor: t.appliedFor,
      ...(t.description !== undefined && { description: t.description }),
      imageTagMutability: t.imageTagMutability ?? 'MUTABLE',
      encryptionConfiguration: { encryptionType: t.encryption?.type ?? 'AES256', ...(t.encryption?.kmsKey ? { kmsKey: t.encryption.kmsKey } : {}) },
      ...(t.lifecyclePolicy !== undefined && { lifecyclePolicy: text(t.lifecyclePolicy) }),
      ...(t.repositoryPolicy !== undefined && { repositoryPolicy: text(t.repositoryPolicy) }),
      createdAt: epochSeconds(toDate(DEFAULT_PUSHED_AT)),
      updatedAt: epochSeconds(toDate(DEFAULT_PUSHED_AT)),
    })),
    ...(p.nextToken ? { nextToken: p.nextToken } : {}),
  };
};
