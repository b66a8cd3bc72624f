import t from 'tap';
import { parseImageReference } from '../../src/image/reference.ts';
import type { CheckResult } from '../../src/checks/types.ts';
import { ImageEvaluator, imageKey } from '../../src/controller/evaluations.ts';
import { runningImages, digestOfImageId } from '../../src/controller/pod-images.ts';
import { buildReportBody, canonicalReport, podOutcomes, podStanding, type TrackedPod } from '../../src/controller/report.ts';
import { compileText, reviewerFor, ACCOUNT } from '../fixtures/policy.ts';
import { originCheck } from '../../src/checks/origin.ts';
import { problemText } from '../../src/decision/decide.ts';

const HOST = `${ACCOUNT}.dkr.ecr.us-east-1.amazonaws.com`;
const DIGEST = `sha256:${'a'.repeat(64)}`;
const POLICY = `mode: enforce\nonError: deny\nregistries:\n  ecr:\n    - accountId: "${ACCOUNT}"\noverrides:\n  - name: relaxed\n    namespaces: [team-warn]\n    images: ["*"]\n    mode: warn\n`;

function podObject(name: string, containers: Array<{ name: string; image: string; imageID?: string }>) {
  return {
    metadata: { name, namespace: 'team-a', uid: `uid-${name}` },
    spec: { containers: containers.map(({ name, image }) => ({ name, image })) },
    status: { phase: 'Running', containerStatuses: containers.map(({ name, image, imageID }) => ({ name, image, imageID: imageID ?? '' })) },
  };
}

/** An evaluator whose checks are given per image (what the webhook's runner would return). */
function evaluatorWith(results: (image: string) => CheckResult[], mode = 'enforce') {
  const policy = compileText(POLICY);
  const effective = mode === 'warn' ? policy.forImage('team-warn', parseImageReference(`${HOST}/x`)) : policy.base;
  const calls: string[] = [];
  const evaluator = new ImageEvaluator({
    checkImage: (image) => {
      calls.push(image);
      return Promise.resolve({ results: results(image), effective });
    },
    policy: () => policy,
    concurrency: 4,
    budgetMs: 1000,
  });
  return { evaluator, policy, calls };
}

function tracked(policy: ReturnType<typeof compileText>, object: ReturnType<typeof podObject>): TrackedPod {
  const images = runningImages(object);
  const keys = 'containers' in images ? images.containers.map((c) => imageKey(policy, 'team-a', c.image)) : [];
  return { namespace: 'team-a', name: object.metadata.name, uid: object.metadata.uid, images, keys };
}

t.test('the running digest comes from imageID; a bare config ID or none falls back to the spec image', async (t) => {
  t.equal(digestOfImageId(`docker-pullable://${HOST}/web@${DIGEST}`), DIGEST);
  t.equal(digestOfImageId(`${HOST}/web@${DIGEST}`), DIGEST);
  t.equal(digestOfImageId(DIGEST), undefined, 'a bare sha256 is the image config ID, not a manifest digest');
  t.equal(digestOfImageId(''), undefined);
  t.equal(digestOfImageId(`${HOST}/web@sha256:short`), undefined);
  t.equal(digestOfImageId(42), undefined);
  const images = runningImages(
    podObject('p', [
      { name: 'app', image: `${HOST}/shop/web:1.0`, imageID: `${HOST}/alias@${DIGEST}` },
      { name: 'side', image: `${HOST}/shop/side:2` },
    ]),
  );
  t.ok('containers' in images);
  if (!('containers' in images)) return;
  t.equal(images.containers[0]!.image, `${HOST}/shop/web@${DIGEST}`, 'spec repository at the running digest');
  t.equal(images.containers[1]!.image, `${HOST}/shop/side:2`, 'no status digest: the spec image');
  t.match(runningImages({ metadata: {}, spec: { containers: 'nope' } }), { error: /containers/ }, 'an unreadable Pod is an error, not a throw');
});

t.test('one result per Pod and check, with the webhook sentence, properties and a summary that adds up', async (t) => {
  const fail: CheckResult = {
    check: 'vulnerabilities',
    status: 'fail',
    reason: '1 CRITICAL finding: CVE-2024-3094 (xz-utils 5.6.0, fixed in 5.6.1)',
    hint: 'Rebuild.',
  };
  const { evaluator, policy } = evaluatorWith((image) => [
    { check: 'origin', status: 'pass' },
    image.includes('bad') ? fail : { check: 'vulnerabilities', status: 'pass' },
  ]);
  const good = tracked(policy, podObject('good', [{ name: 'app', image: `${HOST}/shop/web:1`, imageID: `${HOST}/shop/web@${DIGEST}` }]));
  const bad = tracked(policy, podObject('bad', [{ name: 'app', image: `${HOST}/shop/bad:1` }]));
  await evaluator.evaluate(
    [...good.keys, ...bad.keys].map((key, i) => ({ key, image: i === 0 ? `${HOST}/shop/web@${DIGEST}` : `${HOST}/shop/bad:1`, namespace: 'team-a' })),
  );
  const g = podOutcomes(good, (k) => evaluator.get(k))!;
  const b = podOutcomes(bad, (k) => evaluator.get(k))!;
  t.same(
    g.map((o) => [o.result.rule, o.result.result]),
    [
      ['origin', 'pass'],
      ['vulnerabilities', 'pass'],
    ],
  );
  t.equal(g[0]!.result.properties.digest, DIGEST, 'the running digest');
  const v = b.find((o) => o.result.rule === 'vulnerabilities')!;
  t.equal(v.result.result, 'fail');
  t.equal(v.result.message, problemText(fail), "the webhook's sentence");
  t.equal(v.result.properties.cves, 'CVE-2024-3094');
  t.equal(v.result.severity, 'critical');
  t.same(v.result.resources, [{ apiVersion: 'v1', kind: 'Pod', name: 'bad', namespace: 'team-a', uid: 'uid-bad' }]);
  t.equal(podStanding(b), 'fail');
  t.equal(podStanding(g), 'pass');
  const body = buildReportBody([...b, ...g].map((o) => o.result));
  t.same(body.summary, { pass: 3, fail: 1, warn: 0, error: 0, skip: 0 });
  t.same(
    body.results.map((r) => `${r.resources[0]!.name}/${r.rule}`),
    ['bad/origin', 'bad/vulnerabilities', 'good/origin', 'good/vulnerabilities'],
    'a stable order',
  );
});

t.test('a fail under a warn-mode policy is reported warn; several containers are named', async (t) => {
  const { evaluator, policy } = evaluatorWith(() => [{ check: 'signature', status: 'fail', reason: 'no Notation signature found', hint: 'Sign it.' }], 'warn');
  const p = tracked(
    policy,
    podObject('two', [
      { name: 'a', image: `${HOST}/shop/a:1` },
      { name: 'b', image: `${HOST}/shop/b:1` },
    ]),
  );
  await evaluator.evaluate(p.keys.map((key, i) => ({ key, image: `${HOST}/shop/${i === 0 ? 'a' : 'b'}:1`, namespace: 'team-a' })));
  const [o] = podOutcomes(p, (k) => evaluator.get(k))!;
  t.equal(o!.result.result, 'warn');
  t.match(o!.result.message, /^container "a": \[signature\] no Notation signature found\. Sign it\.\ncontainer "b": /);
  t.equal(o!.result.properties.container, 'a, b');
});

t.test('an AWS error is reported as error and keeps the previous result standing', async (t) => {
  let answer: CheckResult = { check: 'vulnerabilities', status: 'fail', reason: 'CRITICAL CVE-2024-1' };
  const { evaluator, policy } = evaluatorWith(() => [answer]);
  const p = tracked(policy, podObject('p', [{ name: 'app', image: `${HOST}/shop/web:1` }]));
  const task = { key: p.keys[0]!, image: `${HOST}/shop/web:1`, namespace: 'team-a' };
  await evaluator.evaluate([task]);
  answer = { check: 'vulnerabilities', status: 'error', reason: 'inspector2 ListFindings failed: ThrottlingException' };
  await evaluator.evaluate([task]);
  const [o] = podOutcomes(p, (k) => evaluator.get(k))!;
  t.equal(o!.result.result, 'error');
  t.match(o!.result.message, /could not be verified: inspector2 ListFindings failed/);
  t.equal(o!.result.properties.previousResult, 'fail', 'the previous result in properties');
  t.equal(o!.standing, 'fail', 'not flipped to pass');
  t.equal(podStanding([o!]), 'fail');
});

t.test('an unreadable image is an error without a check; a missing evaluation holds the Pod back', async (t) => {
  const { evaluator, policy, calls } = evaluatorWith(() => [{ check: 'origin', status: 'pass' }]);
  const p = tracked(policy, podObject('odd', [{ name: 'app', image: 'Registry.Example/UPPER/Case:1' }]));
  t.equal(
    podOutcomes(p, (k) => evaluator.get(k)),
    undefined,
    'not evaluated yet: no partial results',
  );
  await evaluator.evaluate([{ key: p.keys[0]!, image: 'Registry.Example/UPPER/Case:1', namespace: 'team-a' }]);
  t.same(calls, [], 'no check ran');
  const [o] = podOutcomes(p, (k) => evaluator.get(k))!;
  t.equal(o!.result.result, 'error');
  t.match(o!.result.message, /cannot read the image reference/);
});

t.test('the evaluator runs at most `concurrency` images at once and each distinct key once', async (t) => {
  const policy = compileText(POLICY);
  let inFlight = 0;
  let peak = 0;
  const evaluator = new ImageEvaluator({
    checkImage: async () => {
      peak = Math.max(peak, ++inFlight);
      await new Promise((r) => setTimeout(r, 5));
      inFlight--;
      return { results: [{ check: 'origin', status: 'pass' }], effective: policy.base };
    },
    policy: () => policy,
    concurrency: 3,
    budgetMs: 1000,
  });
  await evaluator.evaluate(Array.from({ length: 20 }, (_, i) => ({ key: `k${i}`, image: `${HOST}/shop/web:${i}`, namespace: 'team-a' })));
  t.equal(peak, 3);
  t.equal(evaluator.size, 20);
  evaluator.retain(new Set(['k1', 'k2']));
  t.equal(evaluator.size, 2, 'evaluations no Pod needs are dropped');
});

t.test('the canonical form ignores key order and what the API server adds, and sees every change', async (t) => {
  const body = buildReportBody([
    {
      policy: 'ecr-admission',
      rule: 'origin',
      result: 'pass',
      message: 'm',
      source: 'ecr-admission',
      scored: true,
      resources: [{ apiVersion: 'v1', kind: 'Pod', name: 'p', namespace: 'n', uid: 'u' }],
      properties: { image: 'i', container: 'c' },
    },
  ]);
  const reordered = JSON.parse(
    JSON.stringify({ summary: body.summary, results: body.results.map((r) => Object.fromEntries(Object.entries(r).reverse())) }),
  ) as object;
  t.equal(canonicalReport(reordered), canonicalReport(body), 'same content, other key order');
  t.equal(canonicalReport({ ...body, metadata: { resourceVersion: '9' } } as object), canonicalReport(body), 'metadata is not content');
  const changed = structuredClone(body);
  changed.results[0]!.message = 'other';
  t.not(canonicalReport(changed), canonicalReport(body));
});

t.test('the same checks as an admission: checkImage is the reviewer the webhook uses', async (t) => {
  const reviewer = reviewerFor(POLICY, { checks: [originCheck] });
  const allowed = await reviewer.checkImage(`${HOST}/shop/web:1`, 'team-a', new AbortController().signal, Date.now() + 1000);
  t.same(
    allowed.results.map((r) => [r.check, r.status]),
    [['origin', 'pass']],
  );
  const refused = await reviewer.checkImage('docker.io/library/nginx:1', 'team-a', new AbortController().signal, Date.now() + 1000);
  t.equal(refused.results[0]!.status, 'fail', 'an origin the policy does not allow fails, as at admission');
});
