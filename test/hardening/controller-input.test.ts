// What a tenant who may create Pods (and a runtime that writes their status) can feed the
// controller (issue 15): hostile container lists, image strings and imageIDs become `error`
// results or are ignored, never a throw; a namespace of thousands of Pods gets a report etcd can
// store, failures kept first and the cut said in the report.
import t from 'tap';
import { runningImages, digestOfImageId } from '../../src/controller/pod-images.ts';
import { buildReportBody, MAX_REPORT_BYTES, podOutcomes, type ReportResult, type TrackedPod } from '../../src/controller/report.ts';
import { ImageEvaluator, imageKey } from '../../src/controller/evaluations.ts';
import { compileText, ACCOUNT } from '../fixtures/policy.ts';

const HOST = `${ACCOUNT}.dkr.ecr.us-east-1.amazonaws.com`;
const DIGEST = `sha256:${'b'.repeat(64)}`;

t.test('hostile Pods: unreadable containers and statuses never throw', async (t) => {
  const many = {
    metadata: { name: 'p', namespace: 'n', uid: 'u' },
    spec: { containers: Array.from({ length: 20_000 }, (_, i) => ({ name: `c${i}`, image: 'x' })) },
  };
  t.match(runningImages(many), { error: /256/ }, '20,000 containers: an error, bounded like the webhook');
  for (const spec of [null, 'spec', { containers: [{ name: 'a', image: 42 }] }, { containers: [{ name: 'a' }] }, { containers: 'x' }]) {
    const result = runningImages({ metadata: { name: 'p' }, spec });
    t.ok('error' in result, `spec ${JSON.stringify(spec)}: an error`);
  }
  const ids = [
    'x'.repeat(1 << 20),
    `${'a/'.repeat(5000)}@${DIGEST}`,
    `${HOST}/other@sha256:${'z'.repeat(64)}`,
    `@${DIGEST}\n`,
    { digest: DIGEST },
    ['@'],
    null,
  ];
  for (const imageID of ids) {
    const pod = {
      metadata: { name: 'p' },
      spec: { containers: [{ name: 'app', image: `${HOST}/shop/web:1` }] },
      status: { containerStatuses: [{ name: 'app', imageID }] },
    };
    const images = runningImages(pod);
    t.ok(
      'containers' in images && images.containers[0]!.image === `${HOST}/shop/web:1`,
      `imageID ${JSON.stringify(imageID).slice(0, 40)}: ignored, the spec image is checked`,
    );
  }
  t.equal(digestOfImageId(`evil.example/x@${DIGEST}`), DIGEST, 'a digest under another repository name: the digest only');
  const aliased = runningImages({
    metadata: { name: 'p' },
    spec: { containers: [{ name: 'app', image: `${HOST}/shop/web:1` }] },
    status: { containerStatuses: [{ name: 'app', imageID: `evil.example/x@${DIGEST}` }] },
  });
  t.equal('containers' in aliased && aliased.containers[0]!.image, `${HOST}/shop/web@${DIGEST}`, "checked in the spec's repository, never the status's");
  const statuses = {
    metadata: { name: 'p' },
    spec: { containers: [{ name: 'app', image: `${HOST}/shop/web:1` }] },
    status: { containerStatuses: Array.from({ length: 100_000 }, () => ({ name: 'app', imageID: '' })) },
  };
  t.ok('containers' in runningImages(statuses), '100,000 statuses: read up to a bound, no throw');
});

t.test('a namespace of 5,000 Pods: a report etcd can store, failures first, the cut said', async (t) => {
  const policy = compileText(`mode: enforce\nonError: deny\nregistries:\n  ecr:\n    - accountId: "${ACCOUNT}"\n`);
  const evaluator = new ImageEvaluator({
    checkImage: (image) =>
      Promise.resolve({
        results: [
          { check: 'origin', status: 'pass' },
          image.includes('bad') ? { check: 'vulnerabilities', status: 'fail', reason: 'CRITICAL CVE-2024-3094' } : { check: 'vulnerabilities', status: 'pass' },
        ],
        effective: policy.base,
      }),
    policy: () => policy,
    concurrency: 8,
    budgetMs: 1000,
  });
  const results: ReportResult[] = [];
  for (let i = 0; i < 5000; i++) {
    const image = `${HOST}/shop/${i % 100 === 0 ? 'bad' : 'web'}:${i % 50}`;
    const pod = { metadata: { name: `pod-${i}`, namespace: 'n', uid: `u${i}` }, spec: { containers: [{ name: 'app', image }] } };
    const key = imageKey(policy, 'n', image);
    if (!evaluator.get(key)) await evaluator.evaluate([{ key, image, namespace: 'n' }]);
    const tracked: TrackedPod = { namespace: 'n', name: `pod-${i}`, uid: `u${i}`, images: runningImages(pod), keys: [key] };
    results.push(...podOutcomes(tracked, (k) => evaluator.get(k))!.map((o) => o.result));
  }
  const body = buildReportBody(results);
  t.ok(JSON.stringify(body).length <= MAX_REPORT_BYTES + 2048, `${JSON.stringify(body).length} bytes: under the bound`);
  t.equal(body.results.filter((r) => r.result === 'fail').length, 50, 'every failure kept');
  const cut = body.results.find((r) => r.rule === 'report-size');
  t.match(cut?.message, /results left out/);
  const counted = { pass: 0, fail: 0, warn: 0, error: 0, skip: 0 };
  for (const r of body.results) counted[r.result]++;
  t.same(body.summary, counted, 'the summary adds up to what the report holds');
  t.equal(JSON.stringify(buildReportBody(results)), JSON.stringify(body), 'the same cut every time (no rewrite of an unchanged namespace)');
});
