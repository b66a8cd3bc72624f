// A check stopped by the admission deadline names the AWS call it was waiting on, whichever
// call that is, and whether the admission started that call or joined one another admission
// started: "waiting on ecr DescribeRepositories" tells an operator where to look.
import t from 'tap';
import { resultOf, startHarness } from '../helpers/harness.ts';
import { faultFixture, NAMES_A_CALL } from './fault-matrix.ts';
import { fullPolicy, HOST } from './helpers.ts';

const BUDGET_MS = 800;
const SLOW = { kind: 'slow' as const, delayMs: 5000 };

const CASES: Array<[op: string, image: string, check: string, names: RegExp]> = [
  ['ecr:BatchGetImage', `${HOST}/app:1.0`, 'digest', /ecr BatchGetImage/],
  ['ecr:DescribeRepositories', `${HOST}/app:1.0`, 'immutability', /ecr DescribeRepositories/],
  ['ecr:DescribeImages', `${HOST}/app:old`, 'digest', /ecr DescribeImages/],
  ['ecr:ListImageReferrers', `${HOST}/app:1.0`, 'signature', /ecr ListImageReferrers/],
  ['ecr:GetDownloadUrlForLayer', `${HOST}/app:1.0`, 'signature', /ecr GetDownloadUrlForLayer/],
  ['signer:GetRevocationStatus', `${HOST}/app:1.0`, 'signature', /signer GetRevocationStatus/],
  ['inspector2:ListFindings', `${HOST}/app:1.0`, 'vulnerabilities', /inspector2 ListFindings/],
  ['inspector2:ListCoverage', `${HOST}/app:1.0`, 'vulnerabilities', /inspector2 ListCoverage/],
];

t.test('a call slower than the deadline is named by the check that waited on it', async (t) => {
  await Promise.all(
    CASES.map(async ([op, image, check, names]) => {
      const h = await startHarness({ fixture: faultFixture(), policy: fullPolicy(), budgetMs: BUDGET_MS });
      try {
        h.sandbox.inject(op, SLOW);
        const started = Date.now();
        const out = await h.reviewPod([image]);
        t.ok(Date.now() - started < BUDGET_MS + 1000, `${op}: decided in ${Date.now() - started} ms`);
        const result = resultOf(out, check);
        t.equal(result?.status, 'error', `${op}: [${check}] is an error`);
        t.match(result?.reason, names, `${op}: [${check}] names the call: ${result?.reason}`);
        for (const r of out.images[0]?.results.filter((x) => x.status === 'error') ?? []) t.match(r.reason, NAMES_A_CALL, `${op}: [${r.check}] names a call`);
      } finally {
        await h.close();
      }
    }),
  );
});

t.test("an admission that joined another admission's call names it too", async (t) => {
  const h = await startHarness({ fixture: faultFixture(), policy: fullPolicy(), budgetMs: BUDGET_MS });
  t.teardown(() => h.close());
  h.sandbox.inject('ecr:DescribeRepositories', SLOW);
  const first = h.reviewPod([`${HOST}/app:1.0`]);
  await new Promise((r) => setTimeout(r, BUDGET_MS / 2));
  const second = await h.reviewPod([`${HOST}/app:1.0`]);
  await first;
  // It joined the first one's call, and asked again when that call ran out of the first's time.
  t.equal(h.sandbox.calls('ecr:DescribeRepositories'), 2, 'one call per admission deadline, not one per admission');
  t.match(resultOf(second, 'immutability')?.reason, /ecr DescribeRepositories/, 'and names it');
  for (const r of second.images[0]?.results.filter((x) => x.status === 'error') ?? [])
    t.match(r.reason, NAMES_A_CALL, `[${r.check}] names a call: ${r.reason}`);
});
