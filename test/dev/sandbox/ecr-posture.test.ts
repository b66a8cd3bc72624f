// The sandbox's posture operations through the real ECR client: GetLifecyclePolicy,
// GetRepositoryPolicy, DescribePullThroughCacheRules, DescribeRepositoryCreationTemplates, with
// the error classes client-ecr models (LifecyclePolicyNotFoundException, ...) and paging.
import t from 'tap';
import {
  DescribePullThroughCacheRulesCommand,
  DescribeRepositoryCreationTemplatesCommand,
  GetLifecyclePolicyCommand,
  GetRepositoryPolicyCommand,
  LifecyclePolicyNotFoundException,
  PullThroughCacheRuleNotFoundException,
  RepositoryNotFoundException,
  RepositoryPolicyNotFoundException,
  paginateDescribeRepositoryCreationTemplates,
} from '@aws-sdk/client-ecr';
import type { SandboxFixture } from '../../../src/dev/sandbox/index.ts';
import { ACCOUNT, clients, sandbox } from './helpers.ts';

const LIFECYCLE = {
  rules: [{ rulePriority: 1, selection: { tagStatus: 'any', countType: 'imageCountMoreThan', countNumber: 100 }, action: { type: 'expire' } }],
};
const POLICY = '{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Principal":{"AWS":"111122223333"},"Action":"ecr:BatchGetImage"}]}';

const fixture = (): SandboxFixture => ({
  defaultAccount: ACCOUNT,
  accounts: {
    [ACCOUNT]: {
      regions: {
        'us-east-1': {
          repositories: [
            { name: 'web', lifecyclePolicy: LIFECYCLE, repositoryPolicy: POLICY, images: [] },
            { name: 'bare', images: [] },
          ],
          pullThroughCacheRules: [
            { ecrRepositoryPrefix: 'docker-hub', upstreamRegistryUrl: 'registry-1.docker.io', upstreamRegistry: 'docker-hub' },
            { ecrRepositoryPrefix: 'quay', upstreamRegistryUrl: 'quay.io' },
          ],
          repositoryCreationTemplates: Array.from({ length: 5 }, (_, i) => ({
            prefix: `team-${i}`,
            appliedFor: ['CREATE_ON_PUSH' as const],
            imageTagMutability: 'IMMUTABLE' as const,
          })),
        },
      },
    },
  },
});

t.test('GetLifecyclePolicy and GetRepositoryPolicy: text, or the not-found exceptions', async (t) => {
  const sb = await sandbox(t, fixture());
  const { ecr } = clients(t, sb);
  const lifecycle = await ecr.send(new GetLifecyclePolicyCommand({ repositoryName: 'web', registryId: ACCOUNT }));
  t.same(JSON.parse(lifecycle.lifecyclePolicyText ?? ''), LIFECYCLE);
  t.equal(lifecycle.registryId, ACCOUNT);
  t.ok(lifecycle.lastEvaluatedAt instanceof Date);
  const policy = await ecr.send(new GetRepositoryPolicyCommand({ repositoryName: 'web' }));
  t.equal(policy.policyText, POLICY, 'the text as set, byte for byte');
  await t.rejects(ecr.send(new GetLifecyclePolicyCommand({ repositoryName: 'bare' })), LifecyclePolicyNotFoundException);
  await t.rejects(ecr.send(new GetRepositoryPolicyCommand({ repositoryName: 'bare' })), RepositoryPolicyNotFoundException);
  await t.rejects(ecr.send(new GetRepositoryPolicyCommand({ repositoryName: 'missing' })), RepositoryNotFoundException);
  await t.rejects(ecr.send(new GetLifecyclePolicyCommand({ repositoryName: 'Not Valid' })), { name: 'ValidationException' });
});

t.test('DescribePullThroughCacheRules: all, by prefix, and an unknown prefix', async (t) => {
  const sb = await sandbox(t, fixture());
  const { ecr } = clients(t, sb);
  const all = await ecr.send(new DescribePullThroughCacheRulesCommand({}));
  t.same(
    all.pullThroughCacheRules?.map((r) => [r.ecrRepositoryPrefix, r.upstreamRegistryUrl, r.registryId]),
    [
      ['docker-hub', 'registry-1.docker.io', ACCOUNT],
      ['quay', 'quay.io', ACCOUNT],
    ],
  );
  const one = await ecr.send(new DescribePullThroughCacheRulesCommand({ ecrRepositoryPrefixes: ['quay'] }));
  t.equal(one.pullThroughCacheRules?.length, 1);
  await t.rejects(ecr.send(new DescribePullThroughCacheRulesCommand({ ecrRepositoryPrefixes: ['ghcr'] })), PullThroughCacheRuleNotFoundException);
  await t.rejects(ecr.send(new DescribePullThroughCacheRulesCommand({ maxResults: 1001 })), { name: 'ValidationException' }, 'maxResults is 1-1000');
});

t.test('DescribeRepositoryCreationTemplates: pages through the SDK paginator', async (t) => {
  const sb = await sandbox(t, fixture());
  const { ecr } = clients(t, sb);
  const prefixes: string[] = [];
  let pages = 0;
  for await (const page of paginateDescribeRepositoryCreationTemplates({ client: ecr, pageSize: 2 }, {})) {
    pages++;
    for (const tpl of page.repositoryCreationTemplates ?? []) prefixes.push(tpl.prefix ?? '');
    t.equal(page.registryId, ACCOUNT);
  }
  t.equal(pages, 3, '5 templates, 2 a page');
  t.same(prefixes, ['team-0', 'team-1', 'team-2', 'team-3', 'team-4']);
  const one = await ecr.send(new DescribeRepositoryCreationTemplatesCommand({ prefixes: ['team-3'] }));
  t.same(
    one.repositoryCreationTemplates?.map((x) => [x.prefix, x.imageTagMutability, x.encryptionConfiguration?.encryptionType, x.appliedFor]),
    [['team-3', 'IMMUTABLE', 'AES256', ['CREATE_ON_PUSH']]],
  );
});
