// Issue 22 item 3 and issue 12 (low, junk referrers): ListImageReferrers asks for 50 per page
// (AWS answers 20 without maxResults) and reads a bounded number of pages; Notation signature
// artifacts are examined first, so junk of other types cannot push a real signature out of
// what is examined; when more signature referrers exist than are examined, the denial says so.
// Through the real runtime and the sandbox (whose ListImageReferrers pages like AWS's).
import t from 'tap';
import { ociImage, type ImageFixture, type SandboxFixture, type SignatureFixture } from '../../src/dev/sandbox/index.ts';
import { MAX_REFERRERS } from '../../src/facts/signature-budget.ts';
import { resultOf, startHarness } from '../helpers/harness.ts';
import { ACCOUNT, HOST, PROFILE, REGION, ROOT_PEM_PATH, sign } from './helpers.ts';
import { junkArtifacts } from './referrer-fixtures.ts';

const OLD = new Date('2026-01-01T00:00:00Z');
const NEW = new Date('2026-02-01T00:00:00Z');
const junkSignatures = (count: number): SignatureFixture[] =>
  Array.from({ length: count }, (_, i) => ({ envelope: Buffer.from(`{"junk":${i}}`), envelopeMediaType: 'application/jose+json' as const, pushedAt: OLD }));

// 60 artifacts of another type (SBOMs) and one real signature.
const amongJunk = ociImage({ seed: 'among-junk', tags: ['among-junk'] });
amongJunk.signatures = [sign(amongJunk)];
// 60 signature-typed referrers that do not verify, and the real signature, the newest.
const amongBad = ociImage({ seed: 'among-bad', tags: ['among-bad'] });
amongBad.signatures = [...junkSignatures(60), { ...sign(amongBad), pushedAt: NEW }];
// 60 signature-typed referrers, none valid: more than are examined.
const onlyBad = ociImage({ seed: 'only-bad', tags: ['only-bad'] });
onlyBad.signatures = junkSignatures(60);

const images: ImageFixture[] = [amongJunk, ...junkArtifacts(amongJunk, 60), amongBad, onlyBad];
const fixture = (): SandboxFixture => ({
  defaultAccount: ACCOUNT,
  accounts: { [ACCOUNT]: { regions: { [REGION]: { repositories: [{ name: 'app', tagMutability: 'IMMUTABLE', images }] } } } },
});
const policy = (source: 'ecr-api' | 'registry') => (url: string) => `mode: enforce
registries:
  ecr: [{ accountId: "${ACCOUNT}", regions: [${REGION}] }]
aws:
  endpoints: { ecrRegistry: "${url}" }
checks:
  signature:
    trustStores: [{ type: signingAuthority, path: ${ROOT_PEM_PATH} }]
    trustedIdentities: ["${PROFILE}"]
    source: ${source}
`;

t.test('ecr-api: ListImageReferrers asks for 50 per page, and at most two pages', async (t) => {
  const h = await startHarness({ fixture: fixture(), policy: policy('ecr-api'), budgetMs: 20_000 });
  t.teardown(() => h.close());
  const out = await h.reviewPod([`${HOST}/app:only-bad`]);
  t.equal(out.response.allowed, false);
  const calls = h.sandbox.callLog().filter((c) => c.op === 'ecr:ListImageReferrers');
  t.ok(calls.length > 0 && calls.every((c) => (c.input as { maxResults?: number }).maxResults === 50), 'every page asked for maxResults 50');
  t.equal(calls.length, 2, '60 signature referrers: two pages of up to 50');
  t.ok((calls[1]?.input as { nextToken?: string }).nextToken, 'the second page follows the nextToken');
  t.same(
    calls.map((c) => (c.input as { filter?: unknown }).filter),
    calls.map(() => ({ artifactTypes: ['application/vnd.cncf.notary.signature'] })),
    'filtered by the Notation artifact type',
  );
});

for (const source of ['ecr-api', 'registry'] as const) {
  t.test(`${source}: junk referrers do not push a real signature out`, async (t) => {
    const h = await startHarness({ fixture: fixture(), policy: policy(source), budgetMs: 20_000 });
    t.teardown(() => h.close());
    const junk = await h.reviewPod([`${HOST}/app:among-junk`]);
    t.equal(junk.response.allowed, true, '60 artifacts of another type and one signature: admitted');
    const bad = await h.reviewPod([`${HOST}/app:among-bad`]);
    t.equal(bad.response.allowed, true, '60 bad signatures and one real, newer one: admitted');
    const only = await h.reviewPod([`${HOST}/app:only-bad`]);
    t.equal(only.response.allowed, false);
    t.equal(resultOf(only, 'signature')?.status, 'fail');
    t.match(
      only.response.status?.message,
      `more than ${MAX_REFERRERS} signature referrers: only ${MAX_REFERRERS} examined`,
      'the denial says the cap was reached',
    );
  });
}
