// digest and immutability checks end to end: the reviewer, the real ECR SDK client and the
// AWS sandbox speaking ECR's JSON 1.1 protocol.
import t from 'tap';
import { ociImage, ociIndex, imageDigest, type SandboxFixture } from '../../src/dev/sandbox/index.ts';
import { ACCOUNT, HOST, REGION, resultOf, startHarness } from '../helpers/harness.ts';

const web = ociImage({ seed: 'web-1.4.2', tags: ['1.4.2', 'latest'] });
const old = ociImage({ seed: 'web-old', tags: ['old'], status: 'ARCHIVED' });
const amd = ociImage({ seed: 'multi-amd64', platform: { os: 'linux', architecture: 'amd64' } });
const arm = ociImage({ seed: 'multi-arm64', platform: { os: 'linux', architecture: 'arm64', variant: 'v8' } });
const multi = ociIndex({ children: [amd, arm], tags: ['2.0'] });
const west = ociImage({ seed: 'west', tags: ['1'] });
const repoImage = (seed: string, tags: string[]) => ociImage({ seed, tags });

const fixture = (): SandboxFixture => ({
  defaultAccount: ACCOUNT,
  accounts: {
    [ACCOUNT]: {
      regions: {
        [REGION]: {
          repositories: [
            { name: 'web', tagMutability: 'IMMUTABLE', images: [web, old] },
            { name: 'multi', tagMutability: 'IMMUTABLE', images: [multi] },
            { name: 'mutable', tagMutability: 'MUTABLE', images: [repoImage('m', ['1.0'])] },
            { name: 'imm-excl', tagMutability: 'IMMUTABLE_WITH_EXCLUSION', exclusionFilters: ['dev-*'], images: [repoImage('ie', ['1.0', 'dev-7'])] },
            { name: 'mut-excl', tagMutability: 'MUTABLE_WITH_EXCLUSION', exclusionFilters: ['release-*'], images: [repoImage('me', ['release-3', 'latest'])] },
          ],
        },
        'us-west-2': { repositories: [{ name: 'web', tagMutability: 'IMMUTABLE', images: [west] }] },
      },
    },
  },
});

const POLICY = `
registries:
  ecr:
    - accountId: "${ACCOUNT}"
checks:
  immutability: true
`;

t.test('digest: tags, digests, indexes, archives and errors', async (t) => {
  const h = await startHarness({ fixture: fixture(), policy: POLICY });
  t.teardown(() => h.close());
  const webDigest = imageDigest(web);

  const ok = await h.reviewPod([`${HOST}/web:1.4.2`]);
  t.equal(ok.response.allowed, true, 'an existing tag in an immutable repository is admitted');
  t.equal(ok.images[0]?.digest, webDigest, 'the tag resolves to the digest of its manifest bytes');
  t.match(resultOf(ok, 'digest')?.reason, webDigest);

  const byDigest = await h.reviewPod([`${HOST}/web@${webDigest}`]);
  t.equal(byDigest.response.allowed, true, 'a digest reference that exists is admitted');

  const both = await h.reviewPod([`${HOST}/web:1.4.2@${webDigest}`]);
  t.equal(both.response.allowed, true, 'tag and digest that agree are admitted');

  // A tag that names another digest is judged as the digest alone (test/admission/moved-tag.test.ts):
  // here an archived one.
  const mismatch = await h.reviewPod([`${HOST}/web:1.4.2@${imageDigest(old)}`]);
  t.equal(mismatch.response.allowed, false, 'tag and digest that disagree: the digest is judged, and it is archived');
  t.match(
    mismatch.response.status?.message,
    /\[digest\] digest sha256:\w+ is archived .*\(tag 1\.4\.2 points to sha256:\w+, not sha256:\w+: judged as the digest alone/,
  );

  const unknown = await h.reviewPod([`${HOST}/web:9.9.9`]);
  t.equal(unknown.response.allowed, false);
  t.match(unknown.response.status?.message, /\[digest\] tag 9\.9\.9 not found in repository web \(111122223333, us-east-1\)\. Push it/);

  const missingDigest = await h.reviewPod([`${HOST}/web@sha256:${'0'.repeat(64)}`]);
  t.match(missingDigest.response.status?.message, /\[digest\] digest sha256:000000000000 not found/);

  const noRepo = await h.reviewPod([`${HOST}/nope:1`]);
  t.match(noRepo.response.status?.message, /\[digest\] repository nope \(111122223333, us-east-1\) does not exist/);

  const archived = await h.reviewPod([`${HOST}/web:old`]);
  t.equal(archived.response.allowed, false);
  t.match(
    archived.response.status?.message,
    /tag old is archived in repository web .* update-image-storage-class/,
    'archived is named as such, not as not found',
  );

  // A tag whose lookup fails (here: its image is archived) cannot be shown to name the digest
  // written beside it: the digest alone is judged, which is what a node pulls.
  const archivedTag = await h.reviewPod([`${HOST}/web:old@${webDigest}`]);
  t.equal(archivedTag.response.allowed, true, 'the digest alone exists and passes');
  t.match(resultOf(archivedTag, 'digest')?.reason, /\(tag old did not resolve: tag old is archived in repository web.*: judged as the digest alone/);
  t.match(archivedTag.response.warnings?.join('\n'), /its tag could not be resolved: judged as sha256:\w{12} alone; re-pin or drop the tag/);

  const index = await h.reviewPod([`${HOST}/multi:2.0`]);
  t.equal(index.response.allowed, true);
  t.equal(index.images[0]?.digest, imageDigest(multi), 'a multi-arch tag resolves to the index digest');
  t.match(resultOf(index, 'digest')?.reason, /index of 2 platforms/, 'the platform children are known');

  const otherRegion = await h.reviewPod([`${ACCOUNT}.dkr.ecr.us-west-2.amazonaws.com/web:1`]);
  t.equal(otherRegion.images[0]?.digest, imageDigest(west), 'the region comes from the image host: a client per (account, region)');
});

t.test('immutability: the four mutability settings and exclusion filters', async (t) => {
  const h = await startHarness({ fixture: fixture(), policy: POLICY });
  t.teardown(() => h.close());
  const cases: Array<[string, boolean, RegExp?]> = [
    ['web:1.4.2', true],
    [
      'mutable:1.0',
      false,
      /repository mutable has MUTABLE tags: 1\.0 can be moved.*put-image-tag-mutability --repository-name mutable --image-tag-mutability IMMUTABLE/,
    ],
    ['imm-excl:1.0', true],
    ['imm-excl:dev-7', false, /tag dev-7 matches an exclusion filter \(dev-\*\)/],
    ['mut-excl:release-3', true],
    ['mut-excl:latest', false, /tag latest is not matched by the immutable filters \(release-\*\)/],
  ];
  for (const [image, allowed, message] of cases) {
    const out = await h.reviewPod([`${HOST}/${image}`]);
    t.equal(resultOf(out, 'immutability')?.status, allowed ? 'pass' : 'fail', `${image}: immutability ${allowed ? 'passes' : 'fails'}`);
    if (message) t.match(out.response.status?.message, message);
  }
  const digestOnly = await h.reviewPod([`${HOST}/mutable@${imageDigest(fixture().accounts[ACCOUNT]!.regions[REGION]!.repositories[2]!.images[0]!)}`]);
  t.equal(resultOf(digestOnly, 'immutability')?.status, 'pass', 'a digest reference passes: no tag can redirect it');
});

t.test('200 concurrent admissions of one uncached image make one BatchGetImage', async (t) => {
  const h = await startHarness({ fixture: fixture(), policy: POLICY, latencyMs: 30 });
  t.teardown(() => h.close());
  const outcomes = await Promise.all(Array.from({ length: 200 }, () => h.reviewPod([`${HOST}/web:1.4.2`])));
  t.ok(
    outcomes.every((o) => o.response.allowed),
    'all 200 admitted',
  );
  t.equal(h.sandbox.calls('ecr:BatchGetImage'), 1, 'exactly one BatchGetImage');
  t.equal(h.sandbox.calls('ecr:DescribeRepositories'), 1, 'exactly one DescribeRepositories');
  const coalesced = (await h.metrics.registry.getSingleMetric('ecr_admission_cache_events_total')!.get()).values
    .filter((v) => v.labels.event === 'coalesced')
    .reduce((a, v) => a + v.value, 0);
  t.ok(coalesced >= 199, `the other admissions waited on the same call (coalesced ${coalesced})`);
});

t.test('throttling is retried by the SDK and then succeeds', async (t) => {
  const h = await startHarness({ fixture: fixture(), policy: POLICY });
  t.teardown(() => h.close());
  h.sandbox.inject('ecr:BatchGetImage', { kind: 'throttle', times: 1 });
  const out = await h.reviewPod([`${HOST}/web:1.4.2`]);
  t.equal(out.response.allowed, true, 'admitted after a retry');
  t.equal(h.sandbox.calls('ecr:BatchGetImage'), 2, 'the SDK really retried: two calls reached the sandbox');
});

t.test('access denied is an error that names the service and operation, folded by onError', async (t) => {
  const h = await startHarness({ fixture: fixture(), policy: POLICY });
  t.teardown(() => h.close());
  h.sandbox.inject('ecr:BatchGetImage', { kind: 'access-denied' });
  const out = await h.reviewPod([`${HOST}/web:1.4.2`]);
  t.equal(resultOf(out, 'digest')?.status, 'error');
  t.equal(out.response.allowed, false, 'onError deny (the default) denies');
  t.match(
    out.response.status?.message,
    /\[digest\] could not be verified: ecr BatchGetImage was refused \(AccessDeniedException\).*Grant the webhook's IAM role/,
  );
  h.sandbox.clearFaults();
  const again = await h.reviewPod([`${HOST}/web:1.4.2`]);
  t.equal(again.response.allowed, true, 'the failure was not cached: the next admission asks again and passes');
});

t.test('a deadline that passes yields a decision in time, following onError', async (t) => {
  for (const onError of ['deny', 'allow'] as const) {
    const h = await startHarness({ fixture: fixture(), policy: `onError: ${onError}\n${POLICY}`, budgetMs: 300 });
    h.sandbox.inject('ecr:BatchGetImage', { kind: 'slow', delayMs: 3000 });
    const started = Date.now();
    const out = await h.reviewPod([`${HOST}/web:1.4.2`]);
    const took = Date.now() - started;
    t.ok(took < 1500, `answered in ${took} ms with a 300 ms budget (the sandbox would take 3000 ms)`);
    t.equal(resultOf(out, 'digest')?.status, 'error');
    t.equal(out.response.allowed, onError === 'allow', `onError ${onError}`);
    if (onError === 'allow') t.match(out.response.warnings?.join('\n'), /\[digest\] not verified/);
    else t.match(out.response.status?.message, /\[digest\] could not be verified/);
    await h.close();
  }
});

t.test('a cross-account registry is read with the role the policy names', async (t) => {
  const OTHER = '444455556666';
  const ROLE = `arn:aws:iam::${OTHER}:role/ecr-admission-read`;
  const f = fixture();
  f.accounts[OTHER] = {
    regions: { [REGION]: { repositories: [{ name: 'shared', tagMutability: 'IMMUTABLE', images: [ociImage({ seed: 'shared', tags: ['1'] })] }] } },
  };
  const policy = `registries:\n  ecr:\n    - accountId: "${ACCOUNT}"\n    - accountId: "${OTHER}"\n      roleArn: ${ROLE}\n`;
  const h = await startHarness({ fixture: f, policy });
  t.teardown(() => h.close());
  const out = await h.reviewPod([`${OTHER}.dkr.ecr.${REGION}.amazonaws.com/shared:1`, `${HOST}/web:1.4.2`]);
  t.equal(out.response.allowed, true, 'both registries admitted');
  t.equal(h.sandbox.calls('sts:AssumeRole'), 1, 'the role was assumed once, through AWS_ENDPOINT_URL_STS');
  const log = h.sandbox.callLog();
  const assumeCall = log.find((c) => c.op === 'sts:AssumeRole');
  t.match(assumeCall?.input, { RoleArn: ROLE, RoleSessionName: 'ecr-admission' });
  const otherCalls = log.filter((c) => c.op.startsWith('ecr:') && JSON.stringify(c.input).includes(OTHER));
  const ownCalls = log.filter((c) => c.op.startsWith('ecr:') && JSON.stringify(c.input).includes(ACCOUNT));
  t.ok(otherCalls.length > 0 && otherCalls.every((c) => c.accessKeyId === `ASIA${OTHER}SBX`), 'calls to the other account are signed with the assumed role');
  t.ok(ownCalls.length > 0 && ownCalls.every((c) => c.accessKeyId === 'AKIDSANDBOX'), 'calls to the own account keep the default credentials');
});

t.test('a pull-through-cache repository that has not been filled says so', async (t) => {
  const h = await startHarness({
    fixture: fixture(),
    policy: `registries:\n  ecr:\n    - accountId: "${ACCOUNT}"\n      pullThroughCachePrefixes: [docker-hub]\n`,
  });
  t.teardown(() => h.close());
  const out = await h.reviewPod([`${HOST}/docker-hub/library/nginx:1.27`]);
  t.equal(out.response.allowed, false);
  t.match(
    out.response.status?.message,
    /\[digest\] tag 1\.27 is not in the pull-through cache docker-hub \(upstream library\/nginx\) yet\. ECR fills the cache on the first pull/,
  );
  const plain = await h.reviewPod([`${HOST}/other/nginx:1.27`]);
  t.match(plain.response.status?.message, /\[digest\] repository other\/nginx .* does not exist/, 'a repository outside the prefixes is plainly not found');
});
