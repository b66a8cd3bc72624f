import t from 'tap';
import { BatchGetImageCommand, DescribeImageScanFindingsCommand, DescribeImageSigningStatusCommand, DescribeImagesCommand } from '@aws-sdk/client-ecr';
import { MediaTypes } from '../../../src/dev/sandbox/index.ts';
import { ACCOUNT, OTHER_ACCOUNT, clients, imageDigest, sandbox, standardFixture } from './helpers.ts';

const ALL_TYPES = [MediaTypes.DOCKER_MANIFEST, MediaTypes.DOCKER_MANIFEST_LIST, MediaTypes.OCI_MANIFEST, MediaTypes.OCI_INDEX];

t.test('DescribeImages', async (t) => {
  const s = standardFixture();
  const sb = await sandbox(t, s.fixture);
  const { ecr } = clients(t, sb);
  const webDigest = imageDigest(s.web);

  t.test('by tag returns the digest and the image details', async (t) => {
    const r = await ecr.send(new DescribeImagesCommand({ repositoryName: 'web', imageIds: [{ imageTag: '1.4.2' }] }));
    const d = r.imageDetails?.[0];
    t.equal(r.imageDetails?.length, 1);
    t.equal(d?.imageDigest, webDigest);
    t.same(d?.imageTags, ['1.4.2', 'latest']);
    t.equal(d?.registryId, ACCOUNT);
    t.equal(d?.imageManifestMediaType, MediaTypes.OCI_MANIFEST);
    t.equal(d?.artifactMediaType, MediaTypes.OCI_CONFIG);
    t.equal(d?.imageStatus, 'ACTIVE');
    t.ok(d?.imagePushedAt instanceof Date, 'timestamps travel as epoch seconds and parse to Date');
    t.equal(d?.imagePushedAt?.toISOString(), '2026-03-01T10:00:00.000Z');
    t.equal(d?.lastRecordedPullTime?.toISOString(), '2026-11-27T08:30:00.000Z');
    t.equal(d?.imageScanStatus?.status, 'ACTIVE');
    // CLOSED findings do not count; CRITICAL and HIGH are active.
    t.same(d?.imageScanFindingsSummary?.findingSeverityCounts, { CRITICAL: 1, HIGH: 1 });
    t.ok((d?.imageSizeInBytes ?? 0) > 0);
  });

  t.test('by digest, and tag+digest together', async (t) => {
    const r = await ecr.send(new DescribeImagesCommand({ repositoryName: 'web', imageIds: [{ imageDigest: webDigest, imageTag: 'latest' }] }));
    t.equal(r.imageDetails?.[0]?.imageDigest, webDigest);
    await t.rejects(ecr.send(new DescribeImagesCommand({ repositoryName: 'web', imageIds: [{ imageDigest: webDigest, imageTag: 'multi' }] })), {
      name: 'ImageNotFoundException',
    });
  });

  t.test('an archived image is invisible unless imageStatus is ANY', async (t) => {
    await t.rejects(ecr.send(new DescribeImagesCommand({ repositoryName: 'web', imageIds: [{ imageTag: '1.0.0' }] })), {
      name: 'ImageNotFoundException',
      $metadata: { httpStatusCode: 400 },
    });
    const r = await ecr.send(new DescribeImagesCommand({ repositoryName: 'web', imageIds: [{ imageTag: '1.0.0' }], filter: { imageStatus: 'ANY' } }));
    t.equal(r.imageDetails?.[0]?.imageStatus, 'ARCHIVED');
    t.equal(r.imageDetails?.[0]?.imageDigest, imageDigest(s.old));
  });

  t.test('listing: children of an index and signatures are images too; filters and pages', async (t) => {
    const all = await ecr.send(new DescribeImagesCommand({ repositoryName: 'web' }));
    const digests = all.imageDetails?.map((d) => d.imageDigest) ?? [];
    t.ok(digests.includes(imageDigest(s.amd64)) && digests.includes(imageDigest(s.arm64)), 'platform manifests listed');
    t.notOk(digests.includes(imageDigest(s.old)), 'archived not listed by default');
    const sig = all.imageDetails?.find((d) => d.subjectManifestDigest === webDigest);
    t.ok(sig, 'the signature is listed with its subject');
    t.equal(sig?.artifactMediaType, MediaTypes.OCI_EMPTY);
    const untagged = await ecr.send(new DescribeImagesCommand({ repositoryName: 'web', filter: { tagStatus: 'UNTAGGED' } }));
    t.ok(
      untagged.imageDetails?.every((d) => !d.imageTags),
      'UNTAGGED only',
    );
    const first = await ecr.send(new DescribeImagesCommand({ repositoryName: 'web', maxResults: 2 }));
    t.equal(first.imageDetails?.length, 2);
    t.ok(first.nextToken);
    const rest = await ecr.send(new DescribeImagesCommand({ repositoryName: 'web', maxResults: 1000, nextToken: first.nextToken }));
    t.equal((first.imageDetails?.length ?? 0) + (rest.imageDetails?.length ?? 0), all.imageDetails?.length);
    t.notOk(rest.nextToken);
    await t.rejects(
      ecr.send(new DescribeImagesCommand({ repositoryName: 'team/api', nextToken: first.nextToken })),
      { name: 'InvalidParameterException' },
      'a token of another query is refused',
    );
  });

  t.test('errors: missing repository, bad digest, missing repositoryName', async (t) => {
    await t.rejects(ecr.send(new DescribeImagesCommand({ repositoryName: 'nope' })), { name: 'RepositoryNotFoundException' });
    await t.rejects(ecr.send(new DescribeImagesCommand({ repositoryName: 'web', imageIds: [{ imageDigest: 'not-a-digest' }] })), {
      name: 'InvalidParameterException',
    });
    await t.rejects(ecr.send(new DescribeImagesCommand({} as never)), { name: 'ValidationException', message: /repositoryName/ });
  });

  t.test('registryId picks the account, the SigV4 scope picks the region', async (t) => {
    const other = await ecr.send(new DescribeImagesCommand({ registryId: OTHER_ACCOUNT, repositoryName: 'web', imageIds: [{ imageTag: '1.4.2' }] }));
    t.equal(other.imageDetails?.[0]?.registryId, OTHER_ACCOUNT);
    t.not(other.imageDetails?.[0]?.imageDigest, webDigest);
    const west = clients(t, sb, 'us-west-2').ecr;
    const w = await west.send(new DescribeImagesCommand({ repositoryName: 'web', imageIds: [{ imageTag: '1.4.2' }] }));
    t.not(w.imageDetails?.[0]?.imageDigest, webDigest, 'us-west-2 has its own web:1.4.2');
    const euw = clients(t, sb, 'eu-west-1').ecr;
    await t.rejects(euw.send(new DescribeImagesCommand({ repositoryName: 'web' })), { name: 'RepositoryNotFoundException' });
  });
});

t.test('BatchGetImage', async (t) => {
  const s = standardFixture();
  const sb = await sandbox(t, s.fixture);
  const { ecr } = clients(t, sb);
  const webDigest = imageDigest(s.web);

  t.test('returns the exact manifest bytes, whose sha256 is the digest', async (t) => {
    const r = await ecr.send(new BatchGetImageCommand({ repositoryName: 'web', imageIds: [{ imageTag: '1.4.2' }], acceptedMediaTypes: ALL_TYPES }));
    const img = r.images?.[0];
    t.equal(img?.imageId?.imageDigest, webDigest);
    t.equal(img?.imageId?.imageTag, '1.4.2');
    t.equal(img?.imageManifestMediaType, MediaTypes.OCI_MANIFEST);
    const { createHash } = await import('node:crypto');
    t.equal(
      `sha256:${createHash('sha256')
        .update(img?.imageManifest ?? '')
        .digest('hex')}`,
      webDigest,
    );
    t.same(r.failures, []);
  });

  t.test('tag and digest that do not match fail with ImageTagDoesNotMatchDigest', async (t) => {
    const r = await ecr.send(
      new BatchGetImageCommand({
        repositoryName: 'web',
        imageIds: [
          { imageTag: 'multi', imageDigest: webDigest },
          { imageTag: 'latest', imageDigest: webDigest },
        ],
        acceptedMediaTypes: ALL_TYPES,
      }),
    );
    t.equal(r.images?.length, 1, 'the matching pair still succeeds');
    t.equal(r.failures?.[0]?.failureCode, 'ImageTagDoesNotMatchDigest');
    t.same(r.failures?.[0]?.imageId, { imageTag: 'multi', imageDigest: webDigest });
    t.type(r.failures?.[0]?.failureReason, 'string');
  });

  t.test('acceptedMediaTypes is honoured: an index needs the index type', async (t) => {
    const withoutIndex = await ecr.send(
      new BatchGetImageCommand({ repositoryName: 'web', imageIds: [{ imageTag: 'multi' }], acceptedMediaTypes: [MediaTypes.OCI_MANIFEST] }),
    );
    t.equal(withoutIndex.failures?.[0]?.failureCode, 'ImageNotFound');
    const omitted = await ecr.send(new BatchGetImageCommand({ repositoryName: 'web', imageIds: [{ imageTag: 'multi' }] }));
    t.equal(omitted.failures?.[0]?.failureCode, 'ImageNotFound', 'omitted acceptedMediaTypes does not include indexes');
    const ok = await ecr.send(new BatchGetImageCommand({ repositoryName: 'web', imageIds: [{ imageTag: 'multi' }], acceptedMediaTypes: ALL_TYPES }));
    t.equal(ok.images?.[0]?.imageManifestMediaType, MediaTypes.OCI_INDEX);
    const index = JSON.parse(ok.images?.[0]?.imageManifest ?? '{}') as { manifests: Array<{ digest: string; platform: { architecture: string } }> };
    t.same(
      index.manifests.map((m) => m.digest),
      [imageDigest(s.amd64), imageDigest(s.arm64)],
    );
    t.equal(index.manifests[1]?.platform.architecture, 'arm64');
  });

  t.test('other failure codes', async (t) => {
    const r = await ecr.send(
      new BatchGetImageCommand({
        repositoryName: 'web',
        imageIds: [{}, { imageTag: 'nope' }, { imageDigest: 'sha256:zz' }, { imageTag: '1.0.0' }],
        acceptedMediaTypes: ALL_TYPES,
      }),
    );
    t.same(
      r.failures?.map((f) => f.failureCode),
      ['MissingDigestAndTag', 'ImageNotFound', 'InvalidImageDigest', 'ImageInaccessible'],
    );
    t.same(r.images, []);
  });
});

t.test('DescribeImageSigningStatus and DescribeImageScanFindings', async (t) => {
  const s = standardFixture();
  const sb = await sandbox(t, s.fixture);
  const { ecr } = clients(t, sb);

  const signing = await ecr.send(new DescribeImageSigningStatusCommand({ repositoryName: 'web', imageId: { imageTag: '1.4.2' } }));
  t.equal(signing.imageId?.imageDigest, imageDigest(s.web));
  t.same(signing.signingStatuses, [{ signingProfileArn: 'arn:aws:signer:us-east-1:111122223333:/signing-profiles/release', status: 'COMPLETE' }]);

  const enhanced = await ecr.send(new DescribeImageScanFindingsCommand({ repositoryName: 'web', imageId: { imageTag: '1.4.2' } }));
  const ef = enhanced.imageScanFindings?.enhancedFindings ?? [];
  t.same(ef.map((f) => f.packageVulnerabilityDetails?.vulnerabilityId).sort(), ['CVE-2024-3094', 'CVE-2025-1111'], 'active Inspector findings only');
  t.equal(ef[0]?.resources?.[0]?.details?.awsEcrContainerImage?.imageHash, imageDigest(s.web));
  t.equal(ef[0]?.packageVulnerabilityDetails?.vulnerablePackages?.[0]?.fixedInVersion, '5.6.1');
  t.notOk(enhanced.imageScanFindings?.findings, 'no basic findings in an ENHANCED registry');

  const west = clients(t, sb, 'us-west-2').ecr;
  const basic = await west.send(new DescribeImageScanFindingsCommand({ repositoryName: 'web', imageId: { imageTag: '1.4.2' } }));
  t.equal(basic.imageScanStatus?.status, 'COMPLETE');
  t.same(
    basic.imageScanFindings?.findings?.map((f) => f.name),
    ['CVE-2022-0001'],
  );
  t.same(basic.imageScanFindings?.findingSeverityCounts, { HIGH: 1 });
  t.notOk(basic.imageScanFindings?.enhancedFindings);

  await t.rejects(
    ecr.send(new DescribeImageScanFindingsCommand({ repositoryName: 'team/api', imageId: { imageTag: 'v1' } })),
    { name: 'ScanNotFoundException' },
    'no scan status: ScanNotFoundException',
  );
  await t.rejects(ecr.send(new DescribeImageSigningStatusCommand({ repositoryName: 'web', imageId: { imageTag: 'gone' } })), {
    name: 'ImageNotFoundException',
  });
});
