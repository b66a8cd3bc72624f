import t from 'tap';
import { BatchGetImageCommand, DescribeImagesCommand, ListImageReferrersCommand } from '@aws-sdk/client-ecr';
import {
  MediaTypes,
  dockerImage,
  imageDescriptor,
  imageDigest,
  ociImage,
  ociIndex,
  sha256Digest,
  startSandbox,
  type SandboxFixture,
} from '../../../src/dev/sandbox/index.ts';
import { ACCOUNT, clients, notationFile, sandbox } from './helpers.ts';

const one = (images: SandboxFixture['accounts'][string]['regions'][string]['repositories'][number]): SandboxFixture => ({
  defaultAccount: ACCOUNT,
  accounts: { [ACCOUNT]: { regions: { 'us-east-1': { repositories: [images] } } } },
});

t.test('digests are sha256 of the exact manifest bytes', async (t) => {
  const alpine = notationFile('alpine-manifest.json');
  t.equal(sha256Digest(alpine), 'sha256:19dbd2e48e921426ee8ace4dc892edfb2ecdc1d1a72d5416c83670c30acecef0', 'the real alpine manifest');
  const sb = await sandbox(t, one({ name: 'alpine', images: [{ manifest: alpine, tags: ['3.20'] }] }));
  const { ecr } = clients(t, sb);
  const r = await ecr.send(new DescribeImagesCommand({ repositoryName: 'alpine', imageIds: [{ imageTag: '3.20' }] }));
  t.equal(r.imageDetails?.[0]?.imageDigest, 'sha256:19dbd2e48e921426ee8ace4dc892edfb2ecdc1d1a72d5416c83670c30acecef0');
  t.equal(r.imageDetails?.[0]?.imageManifestMediaType, MediaTypes.OCI_MANIFEST, 'media type read from the manifest');
  const got = await ecr.send(new BatchGetImageCommand({ repositoryName: 'alpine', imageIds: [{ imageTag: '3.20' }] }));
  t.equal(got.images?.[0]?.imageManifest, alpine.toString('utf8'), 'whitespace and key order preserved');
});

t.test('builders', async (t) => {
  const a = ociImage({ seed: 'a' });
  const b = ociImage({ seed: 'b' });
  t.not(imageDigest(a), imageDigest(b), 'seed changes the digest');
  t.equal(imageDigest(a), imageDigest(ociImage({ seed: 'a' })), 'deterministic');
  const d = dockerImage({ seed: 'd', layers: ['one', 'two'] });
  const manifest = d.manifest as { mediaType: string; layers: Array<{ digest: string; size: number; mediaType: string }>; config: { mediaType: string } };
  t.equal(manifest.mediaType, MediaTypes.DOCKER_MANIFEST);
  t.equal(manifest.config.mediaType, MediaTypes.DOCKER_CONFIG);
  t.same(
    manifest.layers.map((l) => l.digest),
    [sha256Digest('one'), sha256Digest('two')],
  );
  t.equal(d.blobs?.length, 3, 'config + 2 layers');
  const list = ociIndex({ format: 'docker', children: [a, b] });
  t.equal((list.manifest as { mediaType: string }).mediaType, MediaTypes.DOCKER_MANIFEST_LIST);
  t.same(imageDescriptor(a).platform, { os: 'linux', architecture: 'amd64' });

  const sb = await sandbox(
    t,
    one({
      name: 'xx',
      images: [
        { ...list, tags: ['l'] },
        { ...d, tags: ['d'] },
      ],
    }),
  );
  const { ecr } = clients(t, sb);
  const r = await ecr.send(new DescribeImagesCommand({ repositoryName: 'xx', imageIds: [{ imageTag: 'l' }, { imageTag: 'd' }] }));
  t.equal(r.imageDetails?.[0]?.imageManifestMediaType, MediaTypes.DOCKER_MANIFEST_LIST);
  t.equal(r.imageDetails?.[1]?.imageSizeInBytes, (manifest.layers[0]?.size ?? 0) + (manifest.layers[1]?.size ?? 0) + (d.blobs?.[0]?.length ?? 0));
});

t.test('repository-level signatures name their subject by digest, even a missing one', async (t) => {
  const image = ociImage({ seed: 'subject', tags: ['v1'] });
  const dangling = sha256Digest('an image that was deleted');
  const envelope = notationFile('cose_signature.sig');
  const sb = await sandbox(
    t,
    one({
      name: 'rr',
      images: [image],
      signatures: [
        { subjectDigest: imageDigest(image), envelope, envelopeMediaType: 'application/cose' },
        { subjectDigest: dangling, envelope, envelopeMediaType: 'application/cose', annotations: { 'io.cncf.notary.x509chain.thumbprint#S256': '["ab"]' } },
      ],
    }),
  );
  const { ecr } = clients(t, sb);
  const live = await ecr.send(new ListImageReferrersCommand({ repositoryName: 'rr', subjectId: { imageDigest: imageDigest(image) } }));
  t.equal(live.referrers?.length, 1);
  const gone = await ecr.send(new ListImageReferrersCommand({ repositoryName: 'rr', subjectId: { imageDigest: dangling } }));
  t.equal(gone.referrers?.[0]?.annotations?.['io.cncf.notary.x509chain.thumbprint#S256'], '["ab"]');
  const m = await ecr.send(new BatchGetImageCommand({ repositoryName: 'rr', imageIds: [{ imageDigest: live.referrers?.[0]?.digest }] }));
  t.equal((JSON.parse(m.images?.[0]?.imageManifest ?? '{}') as { layers: Array<{ mediaType: string }> }).layers[0]?.mediaType, 'application/cose');
});

t.test('invalid fixtures are refused with E_SANDBOX_FIXTURE', async (t) => {
  const image = ociImage({ seed: 'i', tags: ['v1'] });
  const cases: Array<[string, SandboxFixture, RegExp]> = [
    ['duplicate tag', one({ name: 'rr', images: [image, ociImage({ seed: 'j', tags: ['v1'] })] }), /tag 'v1' is on two images/],
    ['exclusion without filters', one({ name: 'rr', tagMutability: 'IMMUTABLE_WITH_EXCLUSION', images: [] }), /needs 1 to 5 exclusionFilters/],
    ['filters without exclusion', one({ name: 'rr', tagMutability: 'IMMUTABLE', exclusionFilters: ['x'], images: [] }), /only valid/],
    ['bad repository name', one({ name: 'Bad', images: [] }), /invalid repository name/],
    ['duplicate image', one({ name: 'rr', images: [image, { ...image, tags: [] }] }), /appears twice/],
    ['bad account', { defaultAccount: '12', accounts: {} }, /12-digit/],
  ];
  for (const [name, fixture, message] of cases) {
    await t.rejects(startSandbox({ fixture }), { code: 'E_SANDBOX_FIXTURE', message }, name);
  }
});

t.test('the sandbox keeps its own copy of the fixture', async (t) => {
  const fixture = one({ name: 'rr', images: [ociImage({ seed: 'i', tags: ['v1'] })] });
  const sb = await sandbox(t, fixture);
  fixture.accounts[ACCOUNT]!.regions['us-east-1']!.repositories[0]!.images = [];
  const { ecr } = clients(t, sb);
  const r = await ecr.send(new DescribeImagesCommand({ repositoryName: 'rr' }));
  t.equal(r.imageDetails?.length, 1, 'changing the caller object later does not change the sandbox');
  t.same(sb.endpoints(), {
    AWS_ENDPOINT_URL_ECR: sb.url,
    AWS_ENDPOINT_URL_INSPECTOR2: sb.url,
    AWS_ENDPOINT_URL_SIGNER: sb.url,
    AWS_ENDPOINT_URL_STS: sb.url,
    AWS_ENDPOINT_URL_KMS: sb.url,
    AWS_ENDPOINT_URL_SQS: sb.url,
  });
  t.match(sb.url, /^http:\/\/127\.0\.0\.1:\d+$/);
});
