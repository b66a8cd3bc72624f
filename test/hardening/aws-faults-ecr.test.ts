// AWS faults on the ECR operations the checks use (BatchGetImage, DescribeRepositories,
// DescribeImages, ListImageReferrers, GetDownloadUrlForLayer), every fault kind, under both
// onError settings: see fault-matrix.ts for what each cell must show.
import t from 'tap';
import { resultOf, startHarness } from '../helpers/harness.ts';
import { BUDGET_MS, FAULT_KINDS, TARGETS, faultFixture, runCell, runCells } from './fault-matrix.ts';
import { fullPolicy, HOST } from './helpers.ts';

const OPS = ['ecr:BatchGetImage', 'ecr:DescribeRepositories', 'ecr:DescribeImages', 'ecr:ListImageReferrers', 'ecr:GetDownloadUrlForLayer'];

t.test('every fault on every ECR operation: a decision per onError, named, in time, not remembered', async (t) => {
  const cells = TARGETS.filter((x) => OPS.includes(x.op)).flatMap((target) =>
    FAULT_KINDS.flatMap((kind) => (['deny', 'allow'] as const).map((onError) => ({ target, kind, onError }))),
  );
  const results = await runCells(cells, 4, ({ target, kind, onError }) => runCell(target, kind, onError));
  for (const r of results.sort((a, b) => a.label.localeCompare(b.label))) t.same(r.problems, [], `${r.label} (${r.ms} ms)`);
  t.comment(`${results.length} fault cells, slowest ${Math.max(...results.map((r) => r.ms))} ms`);
});

t.test('a tag ECR says does not exist stays "not found" when DescribeImages (asked only to explain it) fails', async (t) => {
  // Archived or not found, both deny: DescribeImages only picks the message, so its failure
  // must not turn a definitive answer into an error that onError allow would admit.
  for (const kind of FAULT_KINDS) {
    const h = await startHarness({ fixture: faultFixture(), policy: fullPolicy({ onError: 'allow' }), budgetMs: BUDGET_MS });
    h.sandbox.inject('ecr:DescribeImages', { kind, delayMs: BUDGET_MS * 3 });
    const started = Date.now();
    const out = await h.reviewPod([`${HOST}/app:nope`]);
    t.equal(out.response.allowed, false, `${kind}: a missing tag is denied under onError allow`);
    t.equal(resultOf(out, 'digest')?.status, 'fail', `${kind}: [digest] fails`);
    t.match(out.response.status?.message, /tag nope not found in repository app/, `${kind}: and says not found`);
    t.ok(h.sandbox.calls('ecr:DescribeImages') > 0, `${kind}: DescribeImages was asked`);
    t.ok(Date.now() - started < BUDGET_MS, `${kind}: decided in ${Date.now() - started} ms, before the deadline`);
    await h.close();
  }
});

t.test('a slow or failing DescribeRepositories (asked only for how long a tag may be trusted) does not hold the digest check', async (t) => {
  for (const kind of ['slow', 'throttle'] as const) {
    for (const immutability of [false, true]) {
      const h = await startHarness({ fixture: faultFixture(), policy: fullPolicy({ immutability }), budgetMs: BUDGET_MS });
      h.sandbox.inject('ecr:DescribeRepositories', { kind, delayMs: BUDGET_MS * 3 });
      const out = await h.reviewPod([`${HOST}/app:1.0`]);
      t.equal(resultOf(out, 'digest')?.status, 'pass', `${kind}, immutability ${immutability}: [digest] passes (${resultOf(out, 'digest')?.reason})`);
      if (immutability) {
        t.equal(resultOf(out, 'immutability')?.status, 'error', `${kind}: [immutability], which needs the answer, is the error`);
        t.match(resultOf(out, 'immutability')?.reason, /ecr DescribeRepositories/);
      } else {
        t.equal(out.response.allowed, true, `${kind}: with immutability off, the image is admitted`);
      }
      await h.close();
    }
  }
});
