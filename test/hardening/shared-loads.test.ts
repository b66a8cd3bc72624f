// Single-flight: an admission that joins a call another admission started shares its
// answer, but not its deadline. When the shared call ends because the first admission ran
// out of time, a later admission that still has time asks again instead of failing (or, with
// onError allow, being admitted unchecked) on a timeout that was not its own.
import t from 'tap';
import { setTimeout as sleep } from 'node:timers/promises';
import { resultOf, startHarness } from '../helpers/harness.ts';
import { faultFixture } from './fault-matrix.ts';
import { fullPolicy, HOST } from './helpers.ts';

const BUDGET_MS = 800;

for (const [op, check] of [
  ['ecr:BatchGetImage', 'digest'],
  ['ecr:DescribeImages', 'digest'],
  ['ecr:ListImageReferrers', 'signature'],
  ['signer:GetRevocationStatus', 'signature'],
  ['inspector2:ListFindings', 'vulnerabilities'],
] as const) {
  t.test(`${op}: a later admission does not inherit the first one's timeout`, async (t) => {
    for (const onError of ['deny', 'allow'] as const) {
      const h = await startHarness({ fixture: faultFixture(), policy: fullPolicy({ onError }), budgetMs: BUDGET_MS });
      t.teardown(() => h.close());
      const image = op === 'ecr:DescribeImages' ? `${HOST}/app:old` : `${HOST}/app:1.0`;
      if (op !== 'ecr:BatchGetImage' && op !== 'ecr:DescribeImages') await h.reviewPod([`${HOST}/app:1.0`]).then(() => h.runtime.cache.clear());
      h.sandbox.inject(op, { kind: 'slow', delayMs: 2 * BUDGET_MS, times: 1 });
      const first = h.reviewPod([image]);
      await sleep(BUDGET_MS * 0.6);
      const calls = h.sandbox.calls(op);
      const second = await h.reviewPod([image]);
      const firstOutcome = await first;
      t.equal(resultOf(firstOutcome, check)?.status, 'error', `onError ${onError}: the first admission ran out of time on ${op}`);
      t.ok(h.sandbox.calls(op) > calls, `onError ${onError}: the second admission asked ${op} again`);
      if (op === 'ecr:DescribeImages') {
        t.equal(second.response.allowed, false, `onError ${onError}: the archived image is denied, not admitted on a timeout`);
        t.match(second.response.status?.message, /tag old is archived/);
      } else {
        t.equal(second.response.allowed, true, `onError ${onError}: the second admission got the right answer: ${second.response.status?.message ?? ''}`);
        t.equal(resultOf(second, check)?.status, 'pass');
      }
    }
  });
}
