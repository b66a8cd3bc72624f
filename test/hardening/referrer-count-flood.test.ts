// Issue 12 (review finding): an index of 64 unsigned children with 50 tiny junk Notation-typed
// referrers on each. The envelope byte budget let tiny envelopes cost nothing, and the check
// waited for every child before judging any: thousands of AWS calls, past the admission
// deadline, and an `error` that onError allow admitted. Now one image check reads at most
// MAX_REFERRER_READS signature manifests (charged before each read, shared by the index and
// its children) and the first child denied outright decides the check. Through the real
// runtime and the AWS sandbox with 20 ms of latency on every call, onError allow, both
// multiArch settings, the ECR API and the registry (OCI referrers API) paths: a `fail`, in a
// bounded number of AWS calls, well within the budget; a signed multi-arch image still passes.
import t from 'tap';
import { ociImage, ociIndex, type SandboxFixture } from '../../src/dev/sandbox/index.ts';
import { MAX_REFERRER_READS } from '../../src/facts/signature-budget.ts';
import { resultOf, startHarness } from '../helpers/harness.ts';
import { ACCOUNT, HOST, PROFILE, REGION, ROOT_PEM_PATH, sign } from './helpers.ts';
import { referrersOf } from './referrer-fixtures.ts';

const CHILDREN = 64;
const JUNK_PER_CHILD = 50;
const LATENCY_MS = 20;
const BUDGET_MS = 8000;
/** The reviewer's run made 4,737 calls; the bounded work is a few listings per child and
 *  MAX_REFERRER_READS manifest reads. */
const MAX_CALLS = 300;

const junk = Buffer.from('not a signature at all, 64 bytes of junk junk junk junk junk!!');
const floodChildren = Array.from({ length: CHILDREN }, (_, i) => {
  const child = ociImage({ seed: `count-flood-${i}`, platform: { os: 'linux', architecture: `arch${i}` } });
  child.signatures = referrersOf(junk, JUNK_PER_CHILD, 'application/cose');
  return child;
});
const flood = ociIndex({ children: floodChildren, tags: ['flood'] });

const signedChildren = ['amd64', 'arm64', 'ppc64le', 's390x'].map((architecture) => {
  const child = ociImage({ seed: `count-signed-${architecture}`, platform: { os: 'linux', architecture } });
  child.signatures = [sign(child)];
  return child;
});
const signed = ociIndex({ children: signedChildren, tags: ['signed'] });

const fixture = (): SandboxFixture => ({
  defaultAccount: ACCOUNT,
  accounts: { [ACCOUNT]: { regions: { [REGION]: { repositories: [{ name: 'app', tagMutability: 'IMMUTABLE', images: [flood, signed] }] } } } },
});

const policy = (source: 'ecr-api' | 'registry', multiArch: 'allChildren' | 'indexOrChildren') => (url: string) => `mode: enforce
onError: allow
registries:
  ecr: [{ accountId: "${ACCOUNT}", regions: [${REGION}] }]
aws:
  endpoints: { ecrRegistry: "${url}" }
checks:
  signature:
    trustStores: [{ type: signingAuthority, path: ${ROOT_PEM_PATH} }]
    trustedIdentities: ["${PROFILE}"]
    multiArch: ${multiArch}
    source: ${source}
`;

for (const source of ['ecr-api', 'registry'] as const) {
  const manifestReads = source === 'ecr-api' ? 'ecr:BatchGetImage' : 'oci:GET manifests';
  for (const multiArch of ['allChildren', 'indexOrChildren'] as const) {
    t.test(`${source}, ${multiArch}: 64 children flooded with junk referrers are denied as a fail, in bounded calls and time`, async (t) => {
      const h = await startHarness({ fixture: fixture(), policy: policy(source, multiArch), budgetMs: BUDGET_MS, latencyMs: LATENCY_MS });
      t.teardown(() => h.close());
      const started = Date.now();
      const out = await h.reviewPod([`${HOST}/app:flood`]);
      const ms = Date.now() - started;
      const calls = h.sandbox.callLog().length;
      t.comment(`${source} ${multiArch}: ${calls} calls (${h.sandbox.calls(manifestReads)} ${manifestReads}), ${ms} ms`);
      t.equal(out.response.allowed, false, 'denied under onError allow');
      t.equal(resultOf(out, 'signature')?.status, 'fail', 'a fail (the referrers are the requester’s), not an error for onError');
      t.match(resultOf(out, 'signature')?.reason, /no valid signature from a trusted identity/);
      t.match(resultOf(out, 'signature')?.reason, new RegExp(`not read: the budget of one image check \\(${MAX_REFERRER_READS} signature manifests`));
      t.ok(calls < MAX_CALLS, `${calls} AWS calls, under ${MAX_CALLS}`);
      // The image, the index and its children resolved, then at most MAX_REFERRER_READS referrer manifests.
      t.ok(h.sandbox.calls(manifestReads) <= MAX_REFERRER_READS + 3, `${h.sandbox.calls(manifestReads)} ${manifestReads}: the read budget holds`);
      t.ok(ms < BUDGET_MS / 2, `decided in ${ms} ms, well within the ${BUDGET_MS} ms budget`);

      // Asked again (a denial is remembered for the not-found TTL): no new storm either.
      h.sandbox.resetCalls();
      const again = await h.reviewPod([`${HOST}/app:flood`]);
      t.equal(resultOf(again, 'signature')?.status, 'fail', 'denied again');
      t.ok(h.sandbox.callLog().length < MAX_CALLS, `${h.sandbox.callLog().length} calls the second time`);
    });

    t.test(`${source}, ${multiArch}: a multi-arch image signed on every platform is still admitted`, async (t) => {
      const h = await startHarness({ fixture: fixture(), policy: policy(source, multiArch), budgetMs: BUDGET_MS, latencyMs: LATENCY_MS });
      t.teardown(() => h.close());
      const out = await h.reviewPod([`${HOST}/app:signed`]);
      t.equal(resultOf(out, 'signature')?.status, 'pass', String(resultOf(out, 'signature')?.reason));
      t.equal(out.response.allowed, true, 'admitted');
    });
  }
}
