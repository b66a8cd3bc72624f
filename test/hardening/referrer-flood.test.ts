// Issue 12, high 2 (fetching side): referrers a tenant hangs on an image cost bounded work.
// Envelopes over the bound are refused from their declared size, before any download; the
// envelopes one image check reads are capped by a byte budget shared by an index and its
// children, and a denial says when referrers went unread. Through the real runtime, the ECR
// API path and the registry (OCI referrers API) path, with onError allow: none of this may
// turn into an allow.
import t from 'tap';
import { imageDigest, ociImage, ociIndex, type ImageFixture, type SandboxFixture } from '../../src/dev/sandbox/index.ts';
import { ENVELOPE_BUDGET_BYTES, MAX_ENVELOPE_BYTES } from '../../src/facts/signature-budget.ts';
import { resultOf, startHarness } from '../helpers/harness.ts';
import { ACCOUNT, HOST, PROFILE, REGION, ROOT_PEM_PATH, sign } from './helpers.ts';
import { MiB, coseBomb, jwsBomb, referrersOf } from './referrer-fixtures.ts';

const FLOOD = 50;
/** Just under the envelope bound: each is read, and the budget decides how many. */
const NEAR_LIMIT = MAX_ENVELOPE_BYTES - 4096;

function image(seed: string, extra: Partial<ImageFixture> = {}): ImageFixture {
  return { ...ociImage({ seed, tags: [seed] }), ...extra };
}

const flooded = image('flooded', { signatures: referrersOf(coseBomb(4 * MiB), FLOOD, 'application/cose') });
const jwsFlooded = image('jws-flooded', { signatures: referrersOf(jwsBomb(4 * MiB), FLOOD, 'application/jose+json') });
const budgeted = image('budgeted', { signatures: referrersOf(coseBomb(NEAR_LIMIT), 40, 'application/cose') });
// A real signature among the flood is still found: the oversized ones cost no download.
const floodedSigned = image('flooded-signed');
floodedSigned.signatures = [...referrersOf(coseBomb(4 * MiB), FLOOD - 1, 'application/cose'), sign(floodedSigned)];
// An index whose children each carry near-limit junk: one budget for all of them.
const children = ['amd64', 'arm64', 's390x'].map((architecture) => {
  const child = ociImage({ seed: `child-${architecture}`, platform: { os: 'linux', architecture } });
  child.signatures = referrersOf(coseBomb(NEAR_LIMIT - architecture.length), 10, 'application/cose');
  return child;
});
const index = ociIndex({ children, tags: ['index'] });

const fixture = (): SandboxFixture => ({
  defaultAccount: ACCOUNT,
  accounts: {
    [ACCOUNT]: {
      regions: { [REGION]: { repositories: [{ name: 'app', tagMutability: 'IMMUTABLE', images: [flooded, jwsFlooded, budgeted, floodedSigned, index] }] } },
    },
  },
});

const policy = (source: 'ecr-api' | 'registry') => (url: string) => `mode: enforce
onError: allow
registries:
  ecr: [{ accountId: "${ACCOUNT}", regions: [${REGION}] }]
aws:
  endpoints: { ecrRegistry: "${url}" }
checks:
  signature:
    trustStores: [{ type: signingAuthority, path: ${ROOT_PEM_PATH} }]
    trustedIdentities: ["${PROFILE}"]
    multiArch: allChildren
    source: ${source}
`;

for (const source of ['ecr-api', 'registry'] as const) {
  const downloads = source === 'ecr-api' ? 'layer:GET' : 'oci:GET blobs';
  t.test(`${source}: oversized envelopes are refused before download, and denied under onError allow`, async (t) => {
    const h = await startHarness({ fixture: fixture(), policy: policy(source), budgetMs: 20_000 });
    t.teardown(() => h.close());
    for (const tag of ['flooded', 'jws-flooded']) {
      h.sandbox.resetCalls();
      const out = await h.reviewPod([`${HOST}/app:${tag}`]);
      t.equal(out.response.allowed, false, `${tag}: denied`);
      t.equal(resultOf(out, 'signature')?.status, 'fail', `${tag}: a fail (the referrers are the requester's), not an error for onError`);
      t.match(out.response.status?.message, new RegExp(`over the ${MAX_ENVELOPE_BYTES}-byte limit`));
      t.equal(h.sandbox.calls(downloads), 0, `${tag}: no envelope was downloaded`);
    }
    const ok = await h.reviewPod([`${HOST}/app:flooded-signed`]);
    t.equal(ok.response.allowed, true, 'a real signature among 49 oversized referrers is still found');
  });

  t.test(`${source}: one image check reads at most the envelope budget, and says so`, async (t) => {
    const h = await startHarness({ fixture: fixture(), policy: policy(source), budgetMs: 20_000 });
    t.teardown(() => h.close());
    const fit = Math.floor(ENVELOPE_BUDGET_BYTES / NEAR_LIMIT);
    const out = await h.reviewPod([`${HOST}/app:budgeted`]);
    t.equal(out.response.allowed, false);
    t.equal(resultOf(out, 'signature')?.status, 'fail');
    t.match(
      out.response.status?.message,
      new RegExp(`${40 - fit} not read: the budget of one image check \\(\\d+ signature manifests, 1 MiB of envelopes\\) was spent`),
    );
    t.equal(h.sandbox.calls(downloads), fit, `${fit} envelopes of ${NEAR_LIMIT} bytes read, no more`);

    h.sandbox.resetCalls();
    const idx = await h.reviewPod([`${HOST}/app:index`]);
    t.equal(idx.response.allowed, false, 'an index whose children carry only junk is denied');
    t.equal(resultOf(idx, 'signature')?.status, 'fail');
    t.ok(h.sandbox.calls(downloads) <= fit, `the index and its three children share one budget: ${h.sandbox.calls(downloads)} envelopes read`);
    t.equal(idx.images[0]?.digest, imageDigest(index));
  });
}
