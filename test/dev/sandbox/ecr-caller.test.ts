// ECR's view of the caller: a request without registryId addresses the caller's own
// registry, and DescribeImageScanFindings relays Inspector's enhanced findings of another
// account's ENHANCED registry, which Inspector's own List APIs do not show the caller.
import t from 'tap';
import { DescribeImageScanFindingsCommand, ECRClient, GetRegistryScanningConfigurationCommand } from '@aws-sdk/client-ecr';
import { ListFindingsCommand } from '@aws-sdk/client-inspector2';
import { assumedAccessKeyId } from '../../../src/dev/sandbox/sts.ts';
import { ACCOUNT, OTHER_ACCOUNT, clients, imageDigest, sandbox, standardFixture } from './helpers.ts';

t.test("GetRegistryScanningConfiguration describes the registry of the credentials' account", async (t) => {
  const s = standardFixture();
  s.fixture.accounts[OTHER_ACCOUNT]!.regions['us-east-1']!.scanType = 'BASIC';
  const sb = await sandbox(t, s.fixture);
  const own = await clients(t, sb).ecr.send(new GetRegistryScanningConfigurationCommand({}));
  t.equal(own.registryId, ACCOUNT);
  t.equal(own.scanningConfiguration?.scanType, 'ENHANCED');

  const roleKey = assumedAccessKeyId(`arn:aws:iam::${OTHER_ACCOUNT}:role/reader`);
  const asOther = new ECRClient({ endpoint: sb.url, region: 'us-east-1', credentials: { accessKeyId: roleKey, secretAccessKey: 'x', sessionToken: 'y' } });
  t.teardown(() => asOther.destroy());
  const other = await asOther.send(new GetRegistryScanningConfigurationCommand({}));
  t.equal(other.registryId, OTHER_ACCOUNT, 'a role session in another account is answered for that account');
  t.equal(other.scanningConfiguration?.scanType, 'BASIC');
});

t.test('DescribeImageScanFindings carries enhancedFindings of another account Inspector does not list', async (t) => {
  const s = standardFixture();
  const sb = await sandbox(t, s.fixture);
  const { ecr, inspector } = clients(t, sb);
  const otherImage = s.fixture.accounts[OTHER_ACCOUNT]!.regions['us-east-1']!.repositories[0]!.images[0]!;
  const listed = await inspector.send(new ListFindingsCommand({ filterCriteria: { ecrImageRegistry: [{ comparison: 'EQUALS', value: OTHER_ACCOUNT }] } }));
  t.same(listed.findings, [], 'Inspector shows the caller nothing of the other account');
  const out = await ecr.send(
    new DescribeImageScanFindingsCommand({ registryId: OTHER_ACCOUNT, repositoryName: 'web', imageId: { imageDigest: imageDigest(otherImage) } }),
  );
  t.equal(out.imageScanStatus?.status, 'ACTIVE');
  t.notOk(out.imageScanFindings?.findings, 'no basic findings in an ENHANCED registry');
  const f = out.imageScanFindings?.enhancedFindings?.[0];
  t.equal(f?.awsAccountId, OTHER_ACCOUNT);
  t.equal(f?.severity, 'LOW');
  t.equal(f?.status, 'ACTIVE');
  t.equal(f?.packageVulnerabilityDetails?.vulnerabilityId, 'CVE-2024-9999');
  t.same(
    f?.packageVulnerabilityDetails?.vulnerablePackages?.map((p) => p.name),
    ['curl'],
  );
});
