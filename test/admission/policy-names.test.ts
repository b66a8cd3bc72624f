// Which policy judges an image is chosen by matching its reference as a node pulls it: an ECR
// registry by its canonical host, a reference without tag or digest with the `latest` a node
// pulls, and a reference no node can pull by the strictest policy that could apply. Matched as
// written, an override that enforced on `HOST/prod/*` was escaped by the same images through
// the registry's FIPS or dual-stack endpoints, one on `HOST/app:*` by `HOST/app`, and an
// unparseable reference chose an audit override by its raw text (attacker review).
import t from 'tap';
import { imageDigest, ociImage } from '../../src/dev/sandbox/index.ts';
import { ACCOUNT, HOST, REGION, resultOf, startHarness } from '../helpers/harness.ts';
import { CONTINUOUS_SCAN, XZ_CRITICAL, ecrFixture } from '../helpers/ecr-fixture.ts';

const vulnerable = ociImage({ seed: 'vulnerable', tags: ['1.0', 'latest'], ...CONTINUOUS_SCAN, findings: [XZ_CRITICAL] });

const fixture = () =>
  ecrFixture([
    { name: 'prod/app', tagMutability: 'MUTABLE', images: [vulnerable] },
    { name: 'app', tagMutability: 'MUTABLE', images: [vulnerable] },
  ]);

// Everything warns, but production images and every tag of `app` are enforced; `x*` is audited.
const POLICY = `
mode: warn
registries:
  ecr:
    - accountId: "${ACCOUNT}"
checks:
  vulnerabilities: {}
overrides:
  - { name: prod-enforce, images: ["${HOST}/prod/*"], mode: enforce }
  - { name: app-enforce, images: ["${HOST}/app:*"], mode: enforce }
  - { name: x-audit, images: ["${HOST}/x*"], mode: audit }
`;

t.test('FIPS and dual-stack endpoints of an ECR registry are matched as its canonical host', async (t) => {
  const h = await startHarness({ fixture: fixture(), policy: POLICY });
  t.teardown(() => h.close());
  const digest = imageDigest(vulnerable);
  for (const host of [
    HOST,
    `${ACCOUNT}.dkr.ecr-fips.${REGION}.amazonaws.com`,
    `${ACCOUNT}.dkr-ecr.${REGION}.on.aws`,
    `${ACCOUNT}.dkr-ecr-fips.${REGION}.on.aws`,
    `${HOST}:443`,
  ]) {
    for (const image of [`${host}/prod/app:1.0`, `${host}/prod/app@${digest}`]) {
      const review = await h.reviewPod([image]);
      t.equal(review.images[0]?.policy.name, 'prod-enforce', `${image}: the override on ${HOST}/prod/*`);
      t.equal(review.response.allowed, false, `${image}: denied under the override`);
      // Port 443 written out is not an ECR host to the origin check (nor, likely, to a node's
      // ECR credential provider): its origin fails, under the override's mode.
      t.equal(resultOf(review, host.endsWith(':443') ? 'origin' : 'vulnerabilities')?.status, 'fail');
    }
  }
});

t.test('an exact pattern without a tag still names the tagless reference (review of this change)', async (t) => {
  const h = await startHarness({
    fixture: fixture(),
    policy: `${POLICY}
  - { name: exact-enforce, images: ["${HOST}/exact/app"], mode: enforce }
`.replace('registries:\n  ecr:', 'registries:\n  allow: ["docker.io/library/nginx"]\n  ecr:'),
  });
  t.teardown(() => h.close());
  t.equal((await h.reviewPod(['nginx'])).response.allowed, true, 'allow: ["docker.io/library/nginx"] still allows nginx');
  t.equal((await h.reviewPod([`${HOST}/exact/app`])).images[0]?.policy.name, 'exact-enforce', 'the override still applies to the reference it names');
});

t.test('a reference without a tag is matched with the latest a node pulls', async (t) => {
  const h = await startHarness({ fixture: fixture(), policy: POLICY });
  t.teardown(() => h.close());
  for (const image of [`${HOST}/app:latest`, `${HOST}/app`]) {
    const review = await h.reviewPod([image]);
    t.equal(review.images[0]?.policy.name, 'app-enforce', `${image}: the override on ${HOST}/app:*`);
    t.equal(review.response.allowed, false, `${image}: denied`);
  }
});

t.test('a reference no node can pull is judged under the strictest policy that could apply', async (t) => {
  const h = await startHarness({ fixture: fixture(), policy: POLICY });
  t.teardown(() => h.close());
  const review = await h.reviewPod([`${HOST}/x/../../app`]);
  t.equal(review.response.allowed, false, 'not audited under x-audit by its raw text');
  t.equal(review.images[0]?.policy.mode, 'enforce');
  t.match(review.response.status?.message, /\[origin\]/);
});
