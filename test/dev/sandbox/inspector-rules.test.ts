// Inspector covers, by default, only the repositories an ENHANCED scanning rule matches.
import t from 'tap';
import { ListCoverageCommand } from '@aws-sdk/client-inspector2';
import { GetRegistryScanningConfigurationCommand } from '@aws-sdk/client-ecr';
import { ociImage, type SandboxFixture } from '../../../src/dev/sandbox/index.ts';
import { ECR_FILTER_TABLE } from '../../helpers/ecr-filter-table.ts';
import { ACCOUNT, clients, sandbox } from './helpers.ts';

t.test('ListCoverage: default coverage follows the registry scanning rules', async (t) => {
  const fixture: SandboxFixture = {
    defaultAccount: ACCOUNT,
    accounts: {
      [ACCOUNT]: {
        regions: {
          'us-east-1': {
            scanType: 'ENHANCED',
            scanningRules: [{ scanFrequency: 'CONTINUOUS_SCAN', filters: ['prod-*', 'team.a/api'] }],
            repositories: [
              { name: 'prod-api', images: [ociImage({ seed: 'p', tags: ['1'] })] },
              { name: 'team.a/api', images: [ociImage({ seed: 't', tags: ['1'] })] },
              { name: 'teamxa/api', images: [ociImage({ seed: 'x', tags: ['1'] })] },
              {
                name: 'dev-api',
                images: [ociImage({ seed: 'd', tags: ['1'] }), ociImage({ seed: 'd2', tags: ['2'], coverage: { statusCode: 'ACTIVE', reason: 'SUCCESSFUL' } })],
              },
            ],
          },
        },
      },
    },
  };
  const sb = await sandbox(t, fixture);
  const { inspector, ecr } = clients(t, sb);
  const config = await ecr.send(new GetRegistryScanningConfigurationCommand({}));
  t.same(
    config.scanningConfiguration?.rules?.[0]?.repositoryFilters?.map((f) => f.filter),
    ['prod-*', 'team.a/api'],
  );

  const all = await inspector.send(new ListCoverageCommand({}));
  const covered = (all.coveredResources ?? []).map((r) => `${r.resourceMetadata?.ecrRepository?.name}:${r.resourceMetadata?.ecrImage?.tags?.join(',')}`).sort();
  t.same(
    covered,
    ['dev-api:2', 'prod-api:1', 'team.a/api:1'],
    'repositories no rule matches are not covered ("." in a filter is literal); an explicit coverage still stands',
  );
});

t.test("ListCoverage: a filter without a wildcard matches every repository name containing it (ECR's table)", async (t) => {
  const regions = ['us-east-1', 'us-east-2', 'us-west-1', 'us-west-2', 'eu-west-1'];
  const names = Object.keys(ECR_FILTER_TABLE[0]![1]);
  const fixture: SandboxFixture = {
    defaultAccount: ACCOUNT,
    accounts: {
      [ACCOUNT]: {
        regions: Object.fromEntries(
          ECR_FILTER_TABLE.map(([filter], i) => [
            regions[i]!,
            {
              scanType: 'ENHANCED' as const,
              scanningRules: [{ scanFrequency: 'CONTINUOUS_SCAN' as const, filters: [filter] }],
              repositories: names.map((name) => ({ name, images: [ociImage({ seed: `${filter}/${name}`, tags: ['1'] })] })),
            },
          ]),
        ),
      },
    },
  };
  const sb = await sandbox(t, fixture);
  for (const [i, [filter, expected]] of ECR_FILTER_TABLE.entries()) {
    const out = await clients(t, sb, regions[i]).inspector.send(new ListCoverageCommand({}));
    const covered = new Set((out.coveredResources ?? []).map((r) => r.resourceMetadata?.ecrRepository?.name));
    t.same(Object.fromEntries(names.map((n) => [n, covered.has(n)])), expected, `filter ${filter}`);
  }
});
