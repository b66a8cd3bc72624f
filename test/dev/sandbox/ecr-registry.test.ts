import t from 'tap';
import {
  DescribeRepositoriesCommand,
  GetAuthorizationTokenCommand,
  GetDownloadUrlForLayerCommand,
  GetRegistryScanningConfigurationCommand,
  ListImageReferrersCommand,
  BatchGetImageCommand,
} from '@aws-sdk/client-ecr';
import { MediaTypes, NOTARY_SIGNATURE_ARTIFACT_TYPE, ociImage, sha256Digest, type SandboxFixture } from '../../../src/dev/sandbox/index.ts';
import { ACCOUNT, OTHER_ACCOUNT, clients, imageDigest, notationFile, sandbox, standardFixture } from './helpers.ts';

/** The fields of an OCI image manifest these tests read; the assertions check the values. */
interface Descriptor {
  mediaType?: string;
  digest?: string;
}
interface SignatureManifest {
  artifactType?: string;
  config?: Descriptor;
  layers?: Descriptor[];
  subject?: Descriptor;
}

t.test('DescribeRepositories', async (t) => {
  const s = standardFixture();
  const sb = await sandbox(t, s.fixture);
  const { ecr } = clients(t, sb);
  const r = await ecr.send(new DescribeRepositoriesCommand({ repositoryNames: ['web', 'team/api'] }));
  const [web, api] = r.repositories ?? [];
  t.equal(web?.imageTagMutability, 'IMMUTABLE_WITH_EXCLUSION');
  t.same(web?.imageTagMutabilityExclusionFilters, [
    { filterType: 'WILDCARD', filter: 'latest' },
    { filterType: 'WILDCARD', filter: 'dev-*' },
  ]);
  t.equal(web?.repositoryArn, `arn:aws:ecr:us-east-1:${ACCOUNT}:repository/web`);
  t.equal(web?.repositoryUri, `${ACCOUNT}.dkr.ecr.us-east-1.amazonaws.com/web`);
  t.same(web?.imageScanningConfiguration, { scanOnPush: true });
  t.same(web?.encryptionConfiguration, { encryptionType: 'AES256' });
  t.ok(web?.createdAt instanceof Date);
  t.equal(api?.imageTagMutability, 'MUTABLE');
  t.notOk(api?.imageTagMutabilityExclusionFilters, 'no exclusion filters on a plain mutability');
  t.same(api?.encryptionConfiguration, { encryptionType: 'KMS', kmsKey: 'arn:aws:kms:us-east-1:111122223333:key/k1' });

  const west = clients(t, sb, 'us-west-2').ecr;
  const w = await west.send(new DescribeRepositoriesCommand({ repositoryNames: ['web'] }));
  t.equal(w.repositories?.[0]?.imageTagMutability, 'IMMUTABLE');

  const all = await ecr.send(new DescribeRepositoriesCommand({}));
  t.same(
    all.repositories?.map((x) => x.repositoryName),
    ['web', 'team/api'],
  );
  const paged = await ecr.send(new DescribeRepositoriesCommand({ maxResults: 1 }));
  t.equal(paged.repositories?.length, 1);
  const next = await ecr.send(new DescribeRepositoriesCommand({ maxResults: 1, nextToken: paged.nextToken }));
  t.equal(next.repositories?.[0]?.repositoryName, 'team/api');

  await t.rejects(ecr.send(new DescribeRepositoriesCommand({ repositoryNames: ['web', 'missing'] })), {
    name: 'RepositoryNotFoundException',
    message: /'missing'.*111122223333/,
  });
  const other = await ecr.send(new DescribeRepositoriesCommand({ registryId: OTHER_ACCOUNT, repositoryNames: ['web'] }));
  t.equal(other.repositories?.[0]?.registryId, OTHER_ACCOUNT);
});

function manySignatures(count: number): { fixture: SandboxFixture; subject: string } {
  const envelope = notationFile('ca_valid_sig_env.json');
  const image = ociImage({
    seed: 'many',
    tags: ['v1'],
    signatures: Array.from({ length: count }, (_, i) => ({
      envelope: Buffer.concat([envelope, Buffer.from(`\n${i}`)]),
      envelopeMediaType: 'application/jose+json' as const,
      ...(i === 0 ? { legacyConfigMediaType: true } : {}),
      ...(i === 1 ? { artifactType: 'application/spdx+json' } : {}),
      ...(i === 2 ? { status: 'ARCHIVED' as const } : {}),
    })),
  });
  return {
    subject: imageDigest(image),
    fixture: { defaultAccount: ACCOUNT, accounts: { [ACCOUNT]: { regions: { 'us-east-1': { repositories: [{ name: 'app', images: [image] }] } } } } },
  };
}

t.test('ListImageReferrers', async (t) => {
  const { fixture, subject } = manySignatures(60);
  const sb = await sandbox(t, fixture);
  const { ecr } = clients(t, sb);

  // ListImageReferrersRequest.maxResults in @aws-sdk/client-ecr's models_0.d.ts: 1 to 50;
  // "If this parameter is not used, then ListImageReferrers returns up to 20 results and a
  // nextToken value, if applicable."
  const listAll = async (maxResults: number | undefined) => {
    const seen: string[] = [];
    const sizes: number[] = [];
    let nextToken: string | undefined;
    do {
      const r = await ecr.send(
        new ListImageReferrersCommand({
          repositoryName: 'app',
          subjectId: { imageDigest: subject },
          nextToken,
          ...(maxResults !== undefined && { maxResults }),
        }),
      );
      sizes.push(r.referrers?.length ?? 0);
      seen.push(...(r.referrers ?? []).map((x) => x.digest ?? ''));
      nextToken = r.nextToken;
    } while (nextToken);
    return { seen, sizes };
  };

  t.test('without maxResults a page holds 20, as in AWS', async (t) => {
    const { seen, sizes } = await listAll(undefined);
    t.same(sizes, [20, 20, 19], 'pages of 20 and a nextToken while more remain');
    t.equal(new Set(seen).size, 59, 'no referrer repeats across pages');
  });

  t.test('paginates past 50 with maxResults 50', async (t) => {
    const { seen, sizes } = await listAll(50);
    t.same(sizes, [50, 9]);
    t.equal(seen.length, 59, 'the archived referrer is not listed by default');
    t.equal(new Set(seen).size, 59, 'no referrer repeats across pages');
    const any = await ecr.send(
      new ListImageReferrersCommand({ repositoryName: 'app', subjectId: { imageDigest: subject }, filter: { artifactStatus: 'ANY' }, maxResults: 50 }),
    );
    const second = await ecr.send(
      new ListImageReferrersCommand({
        repositoryName: 'app',
        subjectId: { imageDigest: subject },
        filter: { artifactStatus: 'ANY' },
        nextToken: any.nextToken,
      }),
    );
    t.equal((any.referrers?.length ?? 0) + (second.referrers?.length ?? 0), 60);
  });

  t.test('referrer fields and the artifactTypes filter', async (t) => {
    const r = await ecr.send(
      new ListImageReferrersCommand({
        repositoryName: 'app',
        subjectId: { imageDigest: subject },
        filter: { artifactTypes: ['application/spdx+json'] },
      }),
    );
    t.equal(r.referrers?.length, 1);
    const ref = r.referrers?.[0];
    t.equal(ref?.artifactType, 'application/spdx+json');
    t.equal(ref?.mediaType, MediaTypes.OCI_MANIFEST);
    t.equal(ref?.artifactStatus, 'ACTIVE');
    t.type(ref?.size, 'number');
    t.match(ref?.annotations, { 'org.opencontainers.image.created': /^\d{4}-\d\d-\d\dT/ });
    const notary = await ecr.send(
      new ListImageReferrersCommand({
        repositoryName: 'app',
        subjectId: { imageDigest: subject },
        filter: { artifactTypes: [NOTARY_SIGNATURE_ARTIFACT_TYPE] },
        maxResults: 50,
      }),
    );
    // 60 signatures: one SPDX, one archived; the legacy one (config.mediaType only) still counts.
    const more = await ecr.send(
      new ListImageReferrersCommand({
        repositoryName: 'app',
        subjectId: { imageDigest: subject },
        filter: { artifactTypes: [NOTARY_SIGNATURE_ARTIFACT_TYPE] },
        nextToken: notary.nextToken,
      }),
    );
    t.equal((notary.referrers?.length ?? 0) + (more.referrers?.length ?? 0), 58);
  });

  t.test('the referrer manifest is a real Notation signature manifest', async (t) => {
    const r = await ecr.send(new ListImageReferrersCommand({ repositoryName: 'app', subjectId: { imageDigest: subject }, maxResults: 50 }));
    const digests = (r.referrers ?? []).map((x) => x.digest);
    const got = await ecr.send(new BatchGetImageCommand({ repositoryName: 'app', imageIds: digests.slice(0, 3).map((imageDigest) => ({ imageDigest })) }));
    const manifests = (got.images ?? []).map((i) => JSON.parse(i.imageManifest ?? '{}') as SignatureManifest);
    const legacy = manifests.find((m) => m.artifactType === undefined);
    const modern = manifests.find((m) => m.artifactType === NOTARY_SIGNATURE_ARTIFACT_TYPE);
    t.ok(legacy && modern, 'one legacy and one modern signature manifest');
    t.equal(legacy?.config?.mediaType, NOTARY_SIGNATURE_ARTIFACT_TYPE, 'legacy: config.mediaType carries the type');
    t.equal(modern?.config?.mediaType, MediaTypes.OCI_EMPTY);
    t.equal(modern?.config?.digest, sha256Digest('{}'));
    t.equal(modern?.layers?.length, 1);
    t.equal(modern?.layers?.[0]?.mediaType, 'application/jose+json');
    t.equal(modern?.subject?.digest, subject);
    t.equal(modern?.subject?.mediaType, MediaTypes.OCI_MANIFEST);
  });

  t.test('validation', async (t) => {
    await t.rejects(ecr.send(new ListImageReferrersCommand({ repositoryName: 'app', subjectId: { imageDigest: subject }, maxResults: 51 })), {
      name: 'ValidationException',
    });
    await t.rejects(ecr.send(new ListImageReferrersCommand({ repositoryName: 'nope', subjectId: { imageDigest: subject } })), {
      name: 'RepositoryNotFoundException',
    });
    await t.rejects(ecr.send(new ListImageReferrersCommand({ repositoryName: 'app' } as never)), { name: 'ValidationException', message: /subjectId/ });
  });
});

t.test('GetDownloadUrlForLayer serves the exact envelope bytes from a URL on the sandbox', async (t) => {
  const s = standardFixture();
  s.fixture.layerUrlTtlMs = 300;
  const sb = await sandbox(t, s.fixture);
  const { ecr } = clients(t, sb);
  const refs = await ecr.send(new ListImageReferrersCommand({ repositoryName: 'web', subjectId: { imageDigest: imageDigest(s.web) } }));
  const sig = await ecr.send(new BatchGetImageCommand({ repositoryName: 'web', imageIds: [{ imageDigest: refs.referrers?.[0]?.digest }] }));
  const layerDigest = (JSON.parse(sig.images?.[0]?.imageManifest ?? '{}') as { layers: Array<{ digest: string }> }).layers[0]!.digest;
  t.equal(layerDigest, sha256Digest(s.envelope));

  const r = await ecr.send(new GetDownloadUrlForLayerCommand({ repositoryName: 'web', layerDigest }));
  t.equal(r.layerDigest, layerDigest);
  t.ok(r.downloadUrl?.startsWith(`${sb.url}/layers/`), 'the URL points at the sandbox');
  const res = await fetch(r.downloadUrl!);
  t.equal(res.status, 200);
  t.same(Buffer.from(await res.arrayBuffer()), s.envelope, 'exact envelope bytes');
  t.equal(sb.calls('layer:GET'), 1);

  const tampered = await fetch(`${r.downloadUrl!.slice(0, -2)}xx`);
  t.equal(tampered.status, 403, 'a tampered URL is refused');
  await new Promise((resolve) => setTimeout(resolve, 350));
  const expired = await fetch(r.downloadUrl!);
  t.equal(expired.status, 403, 'the URL expires');
  t.match(await expired.text(), /<Code>AccessDenied<\/Code><Message>Request has expired/);

  await t.rejects(
    ecr.send(new GetDownloadUrlForLayerCommand({ repositoryName: 'team/api', layerDigest })),
    { name: 'LayersNotFoundException' },
    'the layer must belong to the repository',
  );
});

t.test('GetAuthorizationToken and GetRegistryScanningConfiguration', async (t) => {
  const s = standardFixture();
  const sb = await sandbox(t, s.fixture);
  const { ecr } = clients(t, sb);
  const auth = await ecr.send(new GetAuthorizationTokenCommand({}));
  const data = auth.authorizationData?.[0];
  t.equal(data?.proxyEndpoint, sb.url);
  t.match(Buffer.from(data?.authorizationToken ?? '', 'base64').toString(), /^AWS:.+/);
  const hours = ((data?.expiresAt?.getTime() ?? 0) - Date.now()) / 3_600_000;
  t.ok(hours > 11.9 && hours <= 12, `valid 12 hours (${hours.toFixed(2)})`);

  const enhanced = await ecr.send(new GetRegistryScanningConfigurationCommand({}));
  t.equal(enhanced.registryId, ACCOUNT);
  t.equal(enhanced.scanningConfiguration?.scanType, 'ENHANCED');
  t.same(enhanced.scanningConfiguration?.rules, [{ scanFrequency: 'CONTINUOUS_SCAN', repositoryFilters: [{ filter: '*', filterType: 'WILDCARD' }] }]);
  const basic = await clients(t, sb, 'us-west-2').ecr.send(new GetRegistryScanningConfigurationCommand({}));
  t.equal(basic.scanningConfiguration?.scanType, 'BASIC');
});
