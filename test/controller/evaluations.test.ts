// What an `error` leaves standing is what the same effective policy said before: a pinned
// reference whose tag moved is judged under its digest's policy (admission/pipeline.ts), and a
// pass said under the tag's override must not stand beside an error under the other (attacker
// review of the moved-tag change).
import t from 'tap';
import type { ImageCheck } from '../../src/admission/pipeline.ts';
import type { CheckResult } from '../../src/checks/types.ts';
import { ImageEvaluator } from '../../src/controller/evaluations.ts';
import { parseImageReference } from '../../src/image/reference.ts';
import { compileText, ECR } from '../fixtures/policy.ts';

const policy = compileText(`registries:
  ecr:
    - accountId: "111122223333"
overrides:
  - { name: dev-audit, images: ["${ECR}/web:dev-*"], mode: audit }
`);
const image = `${ECR}/web:dev-1@sha256:${'a'.repeat(64)}`;
const devAudit = policy.forImage('team-a', parseImageReference(`${ECR}/web:dev-1`));
const base = policy.base;
t.not(devAudit, base, 'two effective policies');

const vulnerabilities = (status: CheckResult['status']): CheckResult => ({
  check: 'vulnerabilities',
  status,
  ...(status !== 'pass' && { reason: 'Inspector throttled' }),
});

/** An evaluator whose checkImage answers the next of `answers` each round. */
function evaluator(answers: ImageCheck[]) {
  let round = 0;
  const e = new ImageEvaluator({
    checkImage: async () => answers[round++]!,
    policy: () => policy,
    concurrency: 1,
    budgetMs: 1_000,
  });
  const task = { key: 'k', image, namespace: 'team-a' };
  return { next: async () => (await e.evaluate([task]), e.get('k')!) };
}

t.test('an error keeps the pass said under the same effective policy', async (t) => {
  const { next } = evaluator([
    { results: [vulnerabilities('pass')], effective: devAudit },
    { results: [vulnerabilities('error')], effective: devAudit },
  ]);
  await next();
  t.equal((await next()).standing.get('vulnerabilities')?.status, 'pass');
});

t.test('an error under another effective policy (the tag moved) leaves nothing standing', async (t) => {
  const { next } = evaluator([
    { results: [vulnerabilities('pass')], effective: devAudit },
    { results: [vulnerabilities('error')], effective: base },
  ]);
  await next();
  t.equal((await next()).standing.get('vulnerabilities'), undefined);
});

t.test('a tag that could not be read (a fault) overturns nothing: what stood stands, under its policy', async (t) => {
  // The digest alone, judged under the base policy because the tag lookup was throttled, would
  // otherwise turn a Pod the tag's override passed into an alert for one round (attacker review).
  const digest = (status: CheckResult['status']): CheckResult => ({ check: 'digest', status, reason: status });
  const { next } = evaluator([
    { results: [digest('pass'), vulnerabilities('pass')], effective: devAudit },
    {
      results: [digest('pass'), vulnerabilities('fail')],
      effective: base,
      tagMismatch: { kind: 'unread', detail: 'tag dev-1 did not resolve: ecr BatchGetImage throttled' },
    },
    {
      results: [digest('pass'), vulnerabilities('fail')],
      effective: base,
      tagMismatch: { kind: 'gone', detail: 'tag dev-1 names no image in web now' },
    },
  ]);
  await next();
  const unread = await next();
  t.equal(unread.policy, devAudit, 'the policy that stood');
  t.same(
    unread.results.map((r) => [r.check, r.status]),
    [
      ['digest', 'error'],
      ['vulnerabilities', 'error'],
    ],
    'every check in error this round',
  );
  t.match(unread.results[1]?.reason, /not re-checked: tag dev-1 did not resolve: ecr BatchGetImage throttled/);
  t.equal(unread.standing.get('vulnerabilities')?.status, 'pass', 'the pass stands beside it');
  const gone = await next();
  t.equal(gone.policy, base, 'a tag known gone is judged as the digest alone');
  t.equal(gone.results[1]?.status, 'fail');
  t.equal(gone.standing.get('vulnerabilities')?.status, 'fail');
});
