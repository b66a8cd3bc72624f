import t from 'tap';
import { Inspector2Client, ListCoverageCommand, ListFindingAggregationsCommand, ListFindingsCommand } from '@aws-sdk/client-inspector2';
import { ociImage, type FindingFixture, type SandboxFixture } from '../../../src/dev/sandbox/index.ts';
import { assumedAccessKeyId } from '../../../src/dev/sandbox/sts.ts';
import { ACCOUNT, OTHER_ACCOUNT, clients, imageDigest, sandbox, standardFixture } from './helpers.ts';

const eq = (value: string) => [{ comparison: 'EQUALS' as const, value }];

t.test('ListFindings: filters, fields, OR within a list, AND across lists', async (t) => {
  const s = standardFixture();
  const sb = await sandbox(t, s.fixture);
  const { inspector } = clients(t, sb);
  const digest = imageDigest(s.web);

  const r = await inspector.send(
    new ListFindingsCommand({
      filterCriteria: {
        resourceType: eq('AWS_ECR_CONTAINER_IMAGE'),
        ecrImageRegistry: eq(ACCOUNT),
        ecrImageRepositoryName: eq('web'),
        ecrImageHash: eq(digest),
        findingStatus: eq('ACTIVE'),
      },
    }),
  );
  t.same(
    r.findings?.map((f) => f.packageVulnerabilityDetails?.vulnerabilityId),
    ['CVE-2024-3094', 'CVE-2025-1111'],
  );
  const f = r.findings?.[0];
  t.match(f?.findingArn, /^arn:aws:inspector2:us-east-1:111122223333:finding\/[0-9a-f]{32}$/);
  t.equal(f?.awsAccountId, ACCOUNT);
  t.equal(f?.severity, 'CRITICAL');
  t.equal(f?.status, 'ACTIVE');
  t.equal(f?.type, 'PACKAGE_VULNERABILITY');
  t.equal(f?.inspectorScore, 10);
  t.equal(f?.fixAvailable, 'YES');
  t.ok(f?.firstObservedAt instanceof Date && f.lastObservedAt instanceof Date);
  t.same(f?.packageVulnerabilityDetails?.vulnerablePackages, [{ name: 'xz-utils', version: '5.6.0', fixedInVersion: '5.6.1', packageManager: 'OS' }]);
  const res = f?.resources?.[0];
  t.equal(res?.type, 'AWS_ECR_CONTAINER_IMAGE');
  t.equal(res?.id, `arn:aws:ecr:us-east-1:${ACCOUNT}:repository/web/${digest}`);
  t.match(res?.details?.awsEcrContainerImage, {
    registry: ACCOUNT,
    repositoryName: 'web',
    imageHash: digest,
    imageTags: ['1.4.2', 'latest'],
    platform: 'DEBIAN_12',
    architecture: 'amd64',
  });
  t.equal(r.findings?.[1]?.fixAvailable, 'NO', 'no fixed version: no fix available');

  const severities = await inspector.send(
    new ListFindingsCommand({
      filterCriteria: {
        ecrImageHash: eq(digest),
        severity: [
          { comparison: 'EQUALS', value: 'CRITICAL' },
          { comparison: 'EQUALS', value: 'MEDIUM' },
        ],
      },
    }),
  );
  t.same(
    severities.findings?.map((x) => x.severity),
    ['CRITICAL', 'MEDIUM'],
    'OR within severity; the CLOSED MEDIUM appears without a status filter',
  );

  const notClosed = await inspector.send(
    new ListFindingsCommand({ filterCriteria: { ecrImageHash: eq(digest), findingStatus: [{ comparison: 'NOT_EQUALS', value: 'CLOSED' }] } }),
  );
  t.equal(notClosed.findings?.length, 2);
  const prefix = await inspector.send(new ListFindingsCommand({ filterCriteria: { ecrImageRepositoryName: [{ comparison: 'PREFIX', value: 'we' }] } }));
  t.same(new Set(prefix.findings?.map((x) => x.awsAccountId)), new Set([ACCOUNT]), "only the caller's own account is visible");
  const other = await inspector.send(new ListFindingsCommand({ filterCriteria: { awsAccountId: eq(OTHER_ACCOUNT) } }));
  t.same(other.findings, [], "another account's findings are not listed to a member or standalone account");

  const west = clients(t, sb, 'us-west-2').inspector;
  const none = await west.send(new ListFindingsCommand({}));
  t.same(none.findings, [], 'the region comes from the SigV4 scope');

  const sorted = await inspector.send(
    new ListFindingsCommand({ filterCriteria: { ecrImageHash: eq(digest) }, sortCriteria: { field: 'SEVERITY', sortOrder: 'ASC' } }),
  );
  t.same(
    sorted.findings?.map((x) => x.severity),
    ['MEDIUM', 'HIGH', 'CRITICAL'],
  );

  await t.rejects(inspector.send(new ListFindingsCommand({ maxResults: 101 })), { name: 'ValidationException', $metadata: { httpStatusCode: 400 } });
  await t.rejects(
    inspector.send(new ListFindingsCommand({ filterCriteria: { lambdaFunctionName: eq('x') } })),
    { name: 'ValidationException', message: /lambdaFunctionName is not supported/ },
    'unmodelled filters are refused, not ignored',
  );
  await t.rejects(
    inspector.send(new ListFindingsCommand({ filterCriteria: { severity: Array.from({ length: 11 }, () => eq('HIGH')[0]!) } })),
    { name: 'ValidationException' },
    'at most 10 filters in a list',
  );
});

t.test('ListFindings paginates with maxResults <= 100 and nextToken', async (t) => {
  const findings: FindingFixture[] = Array.from({ length: 230 }, (_, i) => ({
    vulnerabilityId: `CVE-2026-${String(i).padStart(5, '0')}`,
    severity: i % 2 ? 'HIGH' : 'LOW',
    packages: [{ name: `pkg${i}`, version: '1.0' }],
  }));
  const image = ociImage({ seed: 'big', tags: ['v1'], findings });
  const fixture: SandboxFixture = {
    defaultAccount: ACCOUNT,
    accounts: { [ACCOUNT]: { regions: { 'us-east-1': { repositories: [{ name: 'big', images: [image] }] } } } },
  };
  const sb = await sandbox(t, fixture);
  const { inspector } = clients(t, sb);
  const ids: string[] = [];
  let nextToken: string | undefined;
  let pages = 0;
  do {
    const r = await inspector.send(new ListFindingsCommand({ maxResults: 100, nextToken, filterCriteria: { ecrImageHash: eq(imageDigest(image)) } }));
    ids.push(...(r.findings ?? []).map((f) => f.packageVulnerabilityDetails?.vulnerabilityId ?? ''));
    nextToken = r.nextToken;
    pages += 1;
  } while (nextToken);
  t.equal(pages, 3);
  t.equal(ids.length, 230);
  t.equal(new Set(ids).size, 230);
  t.equal(sb.calls('inspector2:ListFindings'), 3);
  const defaultPage = await inspector.send(new ListFindingsCommand({}));
  t.equal(defaultPage.findings?.length, 50, 'default page size');
});

t.test('ListCoverage', async (t) => {
  const s = standardFixture();
  const pending = ociImage({ seed: 'pending', tags: ['new'], coverage: { statusCode: 'ACTIVE', reason: 'PENDING_INITIAL_SCAN' } });
  const unsupported = ociImage({ seed: 'win', tags: ['win'], coverage: { statusCode: 'INACTIVE', reason: 'UNSUPPORTED_OS' } });
  const expired = ociImage({ seed: 'stale', tags: ['stale'], coverage: { statusCode: 'INACTIVE', reason: 'SCAN_ELIGIBILITY_EXPIRED' } });
  const onPush = ociImage({ seed: 'onpush', tags: ['onpush'], coverage: { statusCode: 'INACTIVE', reason: 'SCAN_FREQUENCY_SCAN_ON_PUSH' } });
  const onPushScanned = ociImage({
    seed: 'onpush-scanned',
    tags: ['onpush-scanned'],
    coverage: { statusCode: 'INACTIVE', reason: 'SCAN_FREQUENCY_SCAN_ON_PUSH', lastScannedAt: '2026-02-01T00:00:00Z' },
  });
  const successful = ociImage({ seed: 'ok', tags: ['ok'], pushedAt: '2026-02-02T00:00:00Z', coverage: { statusCode: 'ACTIVE', reason: 'SUCCESSFUL' } });
  s.fixture.accounts[ACCOUNT]!.regions['us-east-1']!.repositories[0]!.images.push(pending, unsupported, expired, onPush, onPushScanned, successful);
  const sb = await sandbox(t, s.fixture);
  const { inspector } = clients(t, sb);

  const one = await inspector.send(
    new ListCoverageCommand({
      filterCriteria: { resourceType: eq('AWS_ECR_CONTAINER_IMAGE'), accountId: eq(ACCOUNT), ecrRepositoryName: eq('web'), ecrImageTags: eq('1.4.2') },
    }),
  );
  t.equal(one.coveredResources?.length, 1);
  const both = await inspector.send(new ListCoverageCommand({ filterCriteria: { ecrRepositoryName: eq('web'), ecrImageTags: eq('1.4.2') } }));
  t.same(
    both.coveredResources?.map((x) => x.accountId),
    [ACCOUNT],
    "web:1.4.2 of the caller's own account only",
  );
  const c = one.coveredResources?.[0];
  t.equal(c?.resourceId, `arn:aws:ecr:us-east-1:${ACCOUNT}:repository/web/${imageDigest(s.web)}`);
  t.equal(c?.resourceType, 'AWS_ECR_CONTAINER_IMAGE');
  t.equal(c?.scanType, 'PACKAGE');
  t.equal(c?.accountId, ACCOUNT);
  t.same(c?.scanStatus, { statusCode: 'ACTIVE', reason: 'SUCCESSFUL' });
  t.same(c?.resourceMetadata?.ecrImage?.tags, ['1.4.2', 'latest']);

  const reasons = async (tag: string) =>
    (await inspector.send(new ListCoverageCommand({ filterCriteria: { accountId: eq(ACCOUNT), ecrImageTags: eq(tag) } }))).coveredResources?.map(
      (x) => `${x.scanStatus?.statusCode}/${x.scanStatus?.reason}`,
    );
  t.same(await reasons('new'), ['ACTIVE/PENDING_INITIAL_SCAN']);
  t.same(await reasons('win'), ['INACTIVE/UNSUPPORTED_OS']);
  t.same(await reasons('stale'), ['INACTIVE/SCAN_ELIGIBILITY_EXPIRED']);
  t.same(await reasons('1.0.0'), ['INACTIVE/IMAGE_ARCHIVED'], 'archived images default to IMAGE_ARCHIVED');
  t.same(await reasons('multi'), ['INACTIVE/UNSUPPORTED_MEDIA_TYPE'], 'an index itself is not scanned');
  const lastScanned = async (tag: string) =>
    (await inspector.send(new ListCoverageCommand({ filterCriteria: { accountId: eq(ACCOUNT), ecrImageTags: eq(tag) } }))).coveredResources?.map((x) =>
      x.lastScannedAt?.toISOString(),
    );
  t.same(await lastScanned('onpush'), [undefined], 'an on-push image Inspector never scanned has no lastScannedAt');
  t.same(await lastScanned('onpush-scanned'), ['2026-02-01T00:00:00.000Z'], 'one it scanned has');
  t.same(await lastScanned('ok'), ['2026-02-02T00:00:00.000Z'], 'a SUCCESSFUL coverage always has one (default: the push)');
  t.same(await lastScanned('new'), [undefined], 'a pending one has none');

  const byId = await inspector.send(
    new ListCoverageCommand({ filterCriteria: { resourceId: eq(`arn:aws:ecr:us-east-1:${ACCOUNT}:repository/web/${imageDigest(s.amd64)}`) } }),
  );
  t.equal(byId.coveredResources?.length, 1, 'resourceId matches one image');
  await t.rejects(
    inspector.send(new ListCoverageCommand({ filterCriteria: { ecrRepositoryName: [{ comparison: 'PREFIX' as never, value: 'w' }] } })),
    { name: 'ValidationException' },
    'coverage filters have no PREFIX',
  );
  const basicRegion = await clients(t, sb, 'us-west-2').inspector.send(new ListCoverageCommand({}));
  t.same(basicRegion.coveredResources, [], 'a BASIC registry is not covered by Inspector');
});

t.test('ListFindingAggregations: per-image severity counts', async (t) => {
  const s = standardFixture();
  const sb = await sandbox(t, s.fixture);
  const { inspector } = clients(t, sb);
  const r = await inspector.send(
    new ListFindingAggregationsCommand({
      aggregationType: 'AWS_ECR_CONTAINER',
      aggregationRequest: { awsEcrContainerAggregation: { imageShas: [eq(imageDigest(s.web))[0]!, eq(imageDigest(s.amd64))[0]!] } },
    }),
  );
  t.equal(r.aggregationType, 'AWS_ECR_CONTAINER');
  t.equal(r.responses?.length, 1, 'an image without active findings is absent');
  const agg = r.responses?.[0]?.awsEcrContainerAggregation;
  t.equal(agg?.imageSha, imageDigest(s.web));
  t.equal(agg?.repository, 'web');
  t.equal(agg?.accountId, ACCOUNT);
  t.same(agg?.severityCounts, { all: 2, critical: 1, high: 1, medium: 0 }, 'the CLOSED finding does not count');

  const all = await inspector.send(new ListFindingAggregationsCommand({ aggregationType: 'AWS_ECR_CONTAINER' }));
  t.equal(all.responses?.length, 1, "the caller's own account only");
  await t.rejects(inspector.send(new ListFindingAggregationsCommand({ aggregationType: 'AMI' })), { name: 'ValidationException' });
  await t.rejects(
    inspector.send(
      new ListFindingAggregationsCommand({
        aggregationType: 'AWS_ECR_CONTAINER',
        aggregationRequest: { awsEcrContainerAggregation: { imageShas: Array.from({ length: 11 }, () => eq('sha256:00')[0]!) } },
      }),
    ),
    { name: 'ValidationException' },
    'at most 10 imageShas',
  );
});

t.test("Inspector answers for the caller's account; the delegated administrator sees every account", async (t) => {
  const s = standardFixture();
  const sb = await sandbox(t, s.fixture);
  const accountsSeen = async (inspector: ReturnType<typeof clients>['inspector']) => {
    const findings = await inspector.send(new ListFindingsCommand({ filterCriteria: { ecrImageRepositoryName: eq('web') } }));
    const coverage = await inspector.send(new ListCoverageCommand({ filterCriteria: { ecrRepositoryName: eq('web') } }));
    const aggregations = await inspector.send(new ListFindingAggregationsCommand({ aggregationType: 'AWS_ECR_CONTAINER' }));
    return {
      findings: [...new Set(findings.findings?.map((f) => f.awsAccountId))].sort(),
      coverage: [...new Set(coverage.coveredResources?.map((c) => c.accountId))].sort(),
      aggregations: [...new Set(aggregations.responses?.map((r) => r.awsEcrContainerAggregation?.accountId))].sort(),
    };
  };
  const own = { findings: [ACCOUNT], coverage: [ACCOUNT], aggregations: [ACCOUNT] };
  t.same(await accountsSeen(clients(t, sb).inspector), own, "static credentials are the default account's: its own resources only");

  // A key the sandbox's STS issued for a role belongs to the role's account.
  const roleKey = assumedAccessKeyId(`arn:aws:iam::${OTHER_ACCOUNT}:role/reader`);
  const asOther = new Inspector2Client({
    endpoint: sb.url,
    region: 'us-east-1',
    credentials: { accessKeyId: roleKey, secretAccessKey: 'x', sessionToken: 'y' },
  });
  t.teardown(() => asOther.destroy());
  t.same(
    await accountsSeen(asOther),
    { findings: [OTHER_ACCOUNT], coverage: [OTHER_ACCOUNT], aggregations: [OTHER_ACCOUNT] },
    "a role's session sees the role's account",
  );

  sb.update((f) => {
    f.inspector = { delegatedAdministrator: ACCOUNT };
  });
  const all = [ACCOUNT, OTHER_ACCOUNT].sort();
  t.same(
    await accountsSeen(clients(t, sb).inspector),
    { findings: all, coverage: all, aggregations: all },
    'the delegated administrator sees every account of the region',
  );
  t.same(
    await accountsSeen(asOther),
    { findings: [OTHER_ACCOUNT], coverage: [OTHER_ACCOUNT], aggregations: [OTHER_ACCOUNT] },
    'a member still sees only its own',
  );

  t.throws(
    () =>
      sb.update((f) => {
        f.inspector = { delegatedAdministrator: 'admin' };
      }),
    { code: 'E_SANDBOX_FIXTURE' },
    'the delegated administrator is an account id',
  );
});

t.test('inspector.paging: empty pages with a nextToken, and a trailing token', async (t) => {
  const s = standardFixture();
  s.fixture.inspector = { paging: { emptyPages: 2, trailingToken: true } };
  const sb = await sandbox(t, s.fixture);
  const { inspector } = clients(t, sb);
  const resourceId = eq(`arn:aws:ecr:us-east-1:${ACCOUNT}:repository/web/${imageDigest(s.web)}`);
  const sizes: number[] = [];
  const tokens: boolean[] = [];
  let nextToken: string | undefined;
  do {
    const page = await inspector.send(new ListCoverageCommand({ filterCriteria: { resourceId }, nextToken }));
    sizes.push(page.coveredResources?.length ?? 0);
    tokens.push(page.nextToken !== undefined);
    nextToken = page.nextToken;
  } while (nextToken);
  t.same(sizes, [0, 0, 1, 0], 'two empty pages, the result, then the empty page the trailing token leads to');
  t.same(tokens, [true, true, true, false], 'every page but the last carries a nextToken');

  const findings = await inspector.send(new ListFindingsCommand({ filterCriteria: { ecrImageHash: eq(imageDigest(s.web)) }, maxResults: 1 }));
  t.same(findings.findings, [], 'ListFindings pages the same way');
  t.ok(findings.nextToken);
  await t.rejects(
    inspector.send(new ListCoverageCommand({ filterCriteria: { resourceId: eq('x') }, nextToken: findings.nextToken })),
    { name: 'ValidationException' },
    'a token belongs to its own query',
  );
  t.throws(
    () =>
      sb.update((f) => {
        f.inspector = { paging: { emptyPages: -1 } };
      }),
    { code: 'E_SANDBOX_FIXTURE' },
  );
});
