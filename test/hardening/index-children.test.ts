// Multi-arch children: every index entry a node could pull is a child to check (signed and
// scanned). containerd keeps an entry without a platform on every node and ignores
// annotations; only an entry whose platform says os "unknown" (BuildKit's attestations) is
// selected by no runtime. An index the webhook cannot account for entry by entry (a malformed
// entry, a nested index, too many children) is a fail, never a skip. Fed through the real
// runtime and the AWS sandbox (ECR API and the OCI /v2/ API).
import t from 'tap';
import { imageDescriptor, imageDigest, MediaTypes, ociImage, type ImageFixture, type SandboxFixture } from '../../src/dev/sandbox/index.ts';
import { MAX_INDEX_CHILDREN } from '../../src/facts/manifest.ts';
import { resultOf, startHarness } from '../helpers/harness.ts';
import { ACCOUNT, HOST, PROFILE, REGION, ROOT_PEM_PATH, sign, signedImage } from './helpers.ts';

/** A signed, scanned, clean child for a platform the cluster does not run. */
const s390x = ociImage({ seed: 'idx-s390x', platform: { os: 'linux', architecture: 's390x' }, scanStatus: { status: 'ACTIVE' } });
s390x.signatures = [sign(s390x)];
const amd64 = signedImage('idx-amd64', []);
/** The attacker's child: unsigned, with a CRITICAL finding. */
const attacker = ociImage({
  seed: 'idx-attacker',
  scanStatus: { status: 'ACTIVE' },
  findings: [{ vulnerabilityId: 'CVE-2024-3094', severity: 'CRITICAL', packages: [{ name: 'xz-utils', version: '5.6.0', fixedInVersion: '5.6.1' }] }],
});
/** Another attacker child: unsigned and never scanned. */
const unscanned = ociImage({ seed: 'idx-unscanned', coverage: null });
/** A BuildKit attestation manifest: unsigned, unscanned, platform unknown/unknown. */
const attestation = ociImage({ seed: 'idx-attestation', platform: { os: 'unknown', architecture: 'unknown' } });

type Entry = Record<string, unknown>;
const entry = (image: ImageFixture, changes: Entry = {}): Entry => {
  const d: Entry = { ...imageDescriptor(image), ...changes };
  for (const [k, v] of Object.entries(changes)) if (v === undefined) delete d[k];
  return d;
};
const ATTESTATION_ANNOTATION = { 'vnd.docker.reference.type': 'attestation-manifest', 'vnd.docker.reference.digest': imageDigest(amd64) };

/** An index over `entries`; its children are stored once, as images of the repository
 *  (the sandbox refuses an image listed twice), so `_children` only documents them. */
function index(tag: string, entries: Entry[], _children: ImageFixture[]): ImageFixture {
  return { manifest: { schemaVersion: 2, mediaType: MediaTypes.OCI_INDEX, manifests: entries }, tags: [tag] };
}

const innerIndex = index('inner', [entry(amd64)], [amd64]);
const innerDescriptor = { mediaType: MediaTypes.OCI_INDEX, digest: imageDigest(innerIndex), size: Buffer.byteLength(JSON.stringify(innerIndex.manifest)) };

const INDEXES = {
  // A signed child for s390x plus the attacker's child with no platform.
  noPlatform: index('no-platform', [entry(s390x), entry(attacker, { platform: undefined })], [s390x, attacker]),
  // The same, the attacker's child dressed as an attestation by annotation only.
  annotated: index('annotated', [entry(s390x), entry(attacker, { platform: undefined, annotations: ATTESTATION_ANNOTATION })], [s390x, attacker]),
  // A runnable platform carrying the attestation annotation: containerd ignores annotations.
  annotatedAmd64: index('annotated-amd64', [entry(s390x), entry(attacker, { annotations: ATTESTATION_ANNOTATION })], [s390x, attacker]),
  unscannedChild: index('unscanned-child', [entry(s390x), entry(unscanned, { platform: undefined })], [s390x, unscanned]),
  // BuildKit's layout: a signed amd64 image and its unknown/unknown attestation.
  withAttestation: index('with-attestation', [entry(amd64), entry(attestation, { annotations: ATTESTATION_ANNOTATION })], [amd64, attestation]),
  nested: index('nested', [entry(s390x), { ...innerDescriptor, platform: { os: 'linux', architecture: 'amd64' } }], [s390x, innerIndex]),
  nestedNoPlatform: index('nested-no-platform', [entry(s390x), innerDescriptor], [s390x, innerIndex]),
  numericDigest: index('numeric-digest', [entry(s390x), { ...entry(attacker), digest: 12345 }], [s390x, attacker]),
  sha512Digest: index('sha512-digest', [entry(s390x), { ...entry(attacker), digest: `sha512:${'ab'.repeat(64)}` }], [s390x, attacker]),
  stringSize: index('string-size', [entry(s390x), { ...entry(attacker), size: '1000' }], [s390x, attacker]),
  nullEntry: index('null-entry', [entry(s390x), null as unknown as Entry], [s390x]),
  badPlatform: index('bad-platform', [entry(s390x), { ...entry(attacker), platform: 'linux/amd64' }], [s390x, attacker]),
  tooMany: index(
    'too-many',
    Array.from({ length: MAX_INDEX_CHILDREN + 1 }, () => entry(amd64)),
    [amd64],
  ),
  atBound: index(
    'at-bound',
    Array.from({ length: MAX_INDEX_CHILDREN }, () => entry(amd64)),
    [amd64],
  ),
};

const fixture = (): SandboxFixture => ({
  defaultAccount: ACCOUNT,
  accounts: {
    [ACCOUNT]: {
      regions: {
        [REGION]: {
          repositories: [
            { name: 'multi', tagMutability: 'IMMUTABLE', images: [...Object.values(INDEXES), innerIndex, s390x, amd64, attacker, unscanned, attestation] },
          ],
        },
      },
    },
  },
});

const policy = (multiArch: 'indexOrChildren' | 'allChildren', registries = '') => `mode: enforce
onError: allow
registries:
  ecr: [{ accountId: "${ACCOUNT}", regions: [${REGION}] }]
${registries}checks:
  immutability: true
  signature:
    trustStores: [{ type: signingAuthority, path: ${ROOT_PEM_PATH} }]
    trustedIdentities: ["${PROFILE}"]
    multiArch: ${multiArch}
  vulnerabilities:
    denySeverities: [CRITICAL]
`;

for (const multiArch of ['indexOrChildren', 'allChildren'] as const) {
  t.test(`multiArch ${multiArch}: a child without a platform is checked like any other`, async (t) => {
    const h = await startHarness({ fixture: fixture(), policy: policy(multiArch), budgetMs: 3000 });
    t.teardown(() => h.close());
    for (const tag of ['no-platform', 'annotated', 'annotated-amd64'] as const) {
      const out = await h.reviewPod([`${HOST}/multi:${tag}`]);
      t.equal(out.response.allowed, false, `${tag}: an unsigned index with an unsigned child a node can pull is denied (even under onError allow)`);
      t.match(resultOf(out, 'digest')?.reason, /index of 2 platforms/, `${tag}: both entries are children`);
      t.equal(resultOf(out, 'signature')?.status, 'fail', `${tag}: [signature] fails`);
      t.match(
        resultOf(out, 'signature')?.reason,
        new RegExp(`\\(${imageDigest(attacker).slice(0, 19)}\\): no Notation signature found`),
        `${tag}: on the attacker's child`,
      );
      t.equal(resultOf(out, 'vulnerabilities')?.status, 'fail', `${tag}: [vulnerabilities] fails`);
      t.match(resultOf(out, 'vulnerabilities')?.reason, /CVE-2024-3094/, `${tag}: on the attacker's child's finding`);
    }
    const unscannedOut = await h.reviewPod([`${HOST}/multi:unscanned-child`]);
    t.equal(unscannedOut.response.allowed, false, 'an unscanned child without a platform denies the index');
    t.match(resultOf(unscannedOut, 'vulnerabilities')?.reason, /not scanned: .*unspecified/, 'named as the platform-less child');
  });

  t.test(`multiArch ${multiArch}: an os "unknown" attestation entry is no child`, async (t) => {
    const h = await startHarness({ fixture: fixture(), policy: policy(multiArch), budgetMs: 3000 });
    t.teardown(() => h.close());
    const out = await h.reviewPod([`${HOST}/multi:with-attestation`]);
    t.equal(out.response.allowed, true, `admitted: ${out.response.status?.message ?? ''}`);
    t.match(resultOf(out, 'digest')?.reason, /index of 1 platforms/, 'only the amd64 image is a child');
    t.equal(h.sandbox.callLog().filter((c) => JSON.stringify(c).includes(imageDigest(attestation))).length, 0, 'the attestation is never looked up');
  });
}

t.test('an index the webhook cannot account for entry by entry is a fail, whatever onError says', async (t) => {
  const h = await startHarness({ fixture: fixture(), policy: policy('allChildren'), budgetMs: 3000 });
  t.teardown(() => h.close());
  const cases: Array<[string, RegExp]> = [
    ['nested', /index entry 1 \(sha256:[a-f0-9]{64}\) is itself an index; nested indexes are not checked/],
    ['nested-no-platform', /is itself an index/],
    ['numeric-digest', /index entry 1 has no sha256 digest \(number\)/],
    ['sha512-digest', /index entry 1 has no sha256 digest \('sha512:/],
    ['string-size', /index entry 1 \(sha256:[a-f0-9]{64}\) has no valid size/],
    ['null-entry', /index entry 1 is not an object/],
    ['bad-platform', /has a platform without string os and architecture/],
    ['too-many', new RegExp(`more than ${MAX_INDEX_CHILDREN} platform manifests`)],
  ];
  for (const [tag, reason] of cases) {
    const out = await h.reviewPod([`${HOST}/multi:${tag}`]);
    t.equal(out.response.allowed, false, `${tag}: denied`);
    t.equal(resultOf(out, 'digest')?.status, 'fail', `${tag}: [digest] fails (not an error onError could admit)`);
    t.match(resultOf(out, 'digest')?.reason, reason, `${tag}: ${resultOf(out, 'digest')?.reason}`);
    t.match(out.response.status?.message, /\[digest\] tag \S+ is an index the webhook cannot check/, `${tag}: the denial says why`);
  }
  const atBound = await h.reviewPod([`${HOST}/multi:at-bound`]);
  t.equal(atBound.response.allowed, true, `${MAX_INDEX_CHILDREN} entries (one image listed over and over) are within the bound`);
  t.match(resultOf(atBound, 'digest')?.reason, /index of 1 platforms/, 'and a repeated child is checked once');
});

t.test('the OCI /v2/ path applies the same rule', async (t) => {
  const h = await startHarness({
    fixture: fixture(),
    policy: (url) => policy('allChildren', `  oci: [{ host: "${new URL(url).host}", plainHttp: true }]\n`),
    budgetMs: 3000,
  });
  t.teardown(() => h.close());
  const host = new URL(h.sandbox.url).host;
  const out = await h.reviewPod([`${host}/multi:no-platform`]);
  t.equal(out.response.allowed, false, 'the platform-less unsigned child denies the index');
  t.match(resultOf(out, 'signature')?.reason, new RegExp(`platform unspecified \\(${imageDigest(attacker).slice(0, 19)}\\)`));
  const attested = await h.reviewPod([`${host}/multi:with-attestation`]);
  t.equal(attested.response.allowed, true, `the os "unknown" attestation is skipped: ${attested.response.status?.message ?? ''}`);
  const nested = await h.reviewPod([`${host}/multi:nested`]);
  t.equal(resultOf(nested, 'digest')?.status, 'fail');
  t.match(resultOf(nested, 'digest')?.reason, /is an index the webhook cannot check: .*nested indexes are not checked/);
});
