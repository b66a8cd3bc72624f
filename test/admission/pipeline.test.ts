import t from 'tap';
import { originCheck } from '../../src/checks/origin.ts';
import { pass, type Check } from '../../src/checks/types.ts';
import { loadAdmissionReview } from '../fixtures/admission.ts';
import { ACCOUNT, ECR, FIXTURE_POLICY, requestOf, reviewerFor } from '../fixtures/policy.ts';

/** Allows nothing at all: whatever is allowed under it was allowed without a check. */
const DENY_ALL = 'mode: enforce\nonError: deny\n';
const ECR_ONLY = `mode: enforce\nonError: deny\nregistries:\n  ecr:\n    - accountId: "${ACCOUNT}"\n`;

t.test('a CREATE of allowed images is allowed, with per-image audit annotations', async (t) => {
  const reviewer = reviewerFor(FIXTURE_POLICY);
  const review = loadAdmissionReview('deployment-create');
  const out = await reviewer.review(requestOf(review));
  t.equal(out.result, 'allow');
  t.equal(out.response.uid, review.request.uid);
  t.equal(out.response.allowed, true);
  t.equal(out.response.status, undefined);
  t.equal(out.images.length, 3);
  const annotated = JSON.parse(out.response.auditAnnotations?.images ?? '[]') as Array<{ container: string; results: Record<string, string> }>;
  t.same(
    annotated.map((i) => [i.container, i.results.origin]),
    [
      ['migrate', 'pass'],
      ['app', 'pass'],
      ['sidecar', 'pass'],
    ],
  );
  t.equal(out.response.auditAnnotations?.decision, 'allow');
});

t.test('a CREATE from a registry the policy does not allow is denied with the DESIGN message', async (t) => {
  const reviewer = reviewerFor(FIXTURE_POLICY);
  const out = await reviewer.review(requestOf(loadAdmissionReview('pod-create')));
  t.equal(out.result, 'deny');
  t.equal(out.response.allowed, false);
  t.equal(out.response.status?.code, 403);
  t.equal(out.response.status?.message.split('\n')[0], 'ecr-admission denied Pod team-a/web-7d9c5b8f6-x2k4q: 1 of 3 images failed');
  t.match(
    out.response.status?.message,
    /\n- container "log-shipper" docker\.io\/fluent\/fluent-bit:3\.0\.7: \[origin\] registry docker\.io is not allowed\. Use an image from an allowed registry: ECR 111122223333 \(us-east-1, us-west-2\); non-ECR registry\.k8s\.io\/pause:\*\.$/,
  );
});

t.test('DELETE, CONNECT and subresources other than ephemeralcontainers are allowed without checks', async (t) => {
  const reviewer = reviewerFor(DENY_ALL);
  const del = await reviewer.review(requestOf(loadAdmissionReview('deployment-delete')));
  t.same([del.result, del.response.allowed, del.why], ['skipped', true, 'operation DELETE is not checked']);
  const status = await reviewer.review(requestOf(loadAdmissionReview('pod-status-update')));
  t.same([status.result, status.response.allowed, status.why], ['skipped', true, 'subresource status is not checked']);
  const scale = loadAdmissionReview('deployment-update-scale');
  scale.request.subResource = 'scale';
  const scaled = await reviewer.review(requestOf(scale));
  t.same([scaled.result, scaled.response.allowed], ['skipped', true]);
  const connect = loadAdmissionReview('pod-create');
  connect.request.operation = 'CONNECT';
  t.equal((await reviewer.review(requestOf(connect))).response.allowed, true);
});

t.test("pods/ephemeralcontainers is checked: the debug container's image is denied", async (t) => {
  const reviewer = reviewerFor(FIXTURE_POLICY);
  const out = await reviewer.review(requestOf(loadAdmissionReview('pod-ephemeralcontainers-update')));
  t.equal(out.result, 'deny');
  const checked = out.images.map((i) => i.container.image);
  t.ok(checked.includes('docker.io/library/busybox:1.36'), 'the image the update adds is checked');
  t.notOk(
    checked.some((i) => i.includes('@sha256:')),
    'an unchanged digest reference is not checked again',
  );
  t.same(
    checked.filter((i) => !i.includes('busybox')),
    [`${ECR}/web:1.4.2`, 'docker.io/fluent/fluent-bit:3.0.7'],
    'unchanged tags are checked again: no fact cache vouches for their digest (a tag can be reused)',
  );
  t.match(out.response.status?.message, /^ecr-admission denied Pod team-a\/web-7d9c5b8f6-x2k4q: 2 of 3 images failed\n/);
  t.match(out.response.status?.message, /\n- ephemeralContainer "debugger-7mvkq" docker\.io\/library\/busybox:1\.36: \[origin\]/);
});

t.test("excluded namespaces, including the webhook's own, are allowed without checks", async (t) => {
  const reviewer = reviewerFor(`${DENY_ALL}namespaces:\n  exclude: ["team-*"]\n`, { ownNamespace: 'ecr-admission' });
  const out = await reviewer.review(requestOf(loadAdmissionReview('pod-create')));
  t.same([out.result, out.response.allowed, out.why], ['skipped', true, 'namespace team-a is excluded']);
  const own = loadAdmissionReview('job-create');
  own.request.namespace = 'ecr-admission';
  t.equal((await reviewer.review(requestOf(own))).why, 'namespace ecr-admission is excluded');
  t.equal((await reviewer.review(requestOf(loadAdmissionReview('job-create')))).result, 'deny', 'other namespaces are checked');
});

/** `review` with every image of its object and oldObject turned into a digest reference. */
function pinned(review: ReturnType<typeof loadAdmissionReview>): ReturnType<typeof loadAdmissionReview> {
  for (const o of [review.request.object, review.request.oldObject]) {
    const spec = (o as { spec?: { template?: { spec?: { containers?: Array<{ image: string }>; initContainers?: Array<{ image: string }> } } } } | null)?.spec
      ?.template?.spec;
    for (const c of [...(spec?.containers ?? []), ...(spec?.initContainers ?? [])]) c.image = `${c.image.replace(/:[^:/]+$/, '')}@sha256:${'a'.repeat(64)}`;
  }
  return review;
}

t.test('an UPDATE that changes no image: digest references are not re-decided, tags no cache vouches for are', async (t) => {
  const reviewer = reviewerFor(DENY_ALL);
  const tags = await reviewer.review(requestOf(loadAdmissionReview('deployment-update-scale')));
  t.equal(tags.result, 'deny', 'unchanged tags without a fresh cached digest are checked like a CREATE');
  t.equal(tags.images.length, 3);

  const out = await reviewer.review(requestOf(pinned(loadAdmissionReview('deployment-update-scale'))));
  t.same([out.result, out.response.allowed, out.why], ['skipped', true, 'the update changes no image']);

  const noOld = pinned(loadAdmissionReview('deployment-update-scale'));
  noOld.request.oldObject = null;
  t.equal((await reviewer.review(requestOf(noOld))).result, 'deny', 'without oldObject every image is checked');

  const unreadableOld = pinned(loadAdmissionReview('deployment-update-scale'));
  unreadableOld.request.oldObject = { kind: 'Deployment', spec: 'garbage' } as never;
  t.equal((await reviewer.review(requestOf(unreadableOld))).result, 'deny', 'an unreadable oldObject proves nothing');
});

t.test('annotations and ownerReferences claiming a check was done change nothing', async (t) => {
  const reviewer = reviewerFor(ECR_ONLY);
  const review = loadAdmissionReview('deployment-update-image');
  const forged = { 'ecr-admission.k8s.aws/verified': 'true', 'ecr-admission.k8s.aws/decision': 'allow' };
  const object = review.request.object!;
  object.metadata.annotations = { ...object.metadata.annotations, ...forged };
  (object.spec as { template: { metadata: { annotations?: Record<string, string> } } }).template.metadata.annotations = forged;
  object.metadata.ownerReferences = [
    { apiVersion: 'apps/v1', kind: 'Deployment', name: 'trusted', uid: '00000000-0000-4000-8000-000000000000', controller: true },
  ];
  const spec = (object.spec as { template: { spec: { containers: Array<{ image: string }> } } }).template.spec;
  spec.containers[0]!.image = 'evil.example.com/web:1.5.0';
  const out = await reviewer.review(requestOf(review));
  t.equal(out.result, 'deny');
  t.match(out.response.status?.message, /container "app" evil\.example\.com\/web:1\.5\.0: \[origin\] registry evil\.example\.com is not allowed/);
});

t.test('an UPDATE that adds an image checks only the new image', async (t) => {
  const seen: string[] = [];
  const recording: Check = {
    id: 'digest',
    needs: ['origin'],
    enabled: () => true,
    run: async (ctx) => {
      seen.push(ctx.image.ref.original);
      return pass('digest');
    },
  };
  const reviewer = reviewerFor(ECR_ONLY, { checks: [originCheck, recording] });
  const review = loadAdmissionReview('deployment-update-image');
  // sidecar and migrate are unchanged digest references: only app's new image is checked.
  for (const o of [review.request.object!, review.request.oldObject!]) {
    const spec = (
      o.spec as { template: { spec: { containers: Array<{ name: string; image: string }>; initContainers?: Array<{ name: string; image: string }> } } }
    ).template.spec;
    for (const c of [...spec.containers, ...(spec.initContainers ?? [])]) {
      if (c.name !== 'app') c.image = `${c.image.replace(/:[^:/]+$/, '')}@sha256:${'b'.repeat(64)}`;
    }
  }
  const out = await reviewer.review(requestOf(review));
  t.equal(out.result, 'allow');
  t.same(seen, [`${ECR}/web:1.5.0`]);
  t.same(
    out.images.map((i) => i.container.containerName),
    ['app'],
  );

  seen.length = 0;
  await reviewer.review(requestOf(loadAdmissionReview('deployment-update-image')));
  t.same(seen.sort(), [`${ECR}/envoy:1.30.2`, `${ECR}/web-migrate:1.4.2`, `${ECR}/web:1.5.0`], 'unchanged tags no cache vouches for are checked too');
});

t.test('the same image in several containers is checked once', async (t) => {
  let runs = 0;
  const counting: Check = {
    id: 'digest',
    needs: [],
    enabled: () => true,
    run: async () => {
      runs++;
      return pass('digest');
    },
  };
  const reviewer = reviewerFor(ECR_ONLY, { checks: [originCheck, counting] });
  const review = loadAdmissionReview('pod-create');
  const spec = review.request.object!.spec as { containers: Array<{ image: string }>; initContainers: Array<{ image: string }> };
  for (const c of [...spec.containers, ...spec.initContainers]) c.image = `${ECR}/web:1.4.2`;
  const out = await reviewer.review(requestOf(review));
  t.equal(runs, 1);
  t.equal(out.images.length, 3, 'each container still gets its verdict');
});

t.test('a kind that makes no pods is allowed', async (t) => {
  const out = await reviewerFor(DENY_ALL).review(requestOf(loadAdmissionReview('configmap-create')));
  t.same([out.result, out.response.allowed, out.why], ['skipped', true, 'kind /ConfigMap has no pod template']);
});

t.test('an object that cannot be read is a fail decided by the mode, never by onError', async (t) => {
  const review = loadAdmissionReview('deployment-create');
  review.request.object!.spec = { template: { spec: { containers: 'nginx' } } };
  const message = 'ecr-admission denied Deployment team-a/web: cannot read the object: spec.template.spec.containers is not a list';
  for (const onError of ['deny', 'allow']) {
    const denied = await reviewerFor(`mode: enforce\nonError: ${onError}\n`).review(requestOf(review));
    t.equal(denied.response.allowed, false, `enforce, onError ${onError}: denied`);
    t.equal(denied.response.status?.code, 403);
    t.equal(denied.response.status?.message, message);
    t.equal(denied.response.uid, review.request.uid);
    t.equal(denied.response.auditAnnotations?.decision, 'deny');
  }

  const warned = await reviewerFor('mode: warn\nonError: deny\n').review(requestOf(review));
  t.equal(warned.response.allowed, true, 'warn: allowed');
  t.equal(warned.result, 'warn');
  t.equal(warned.response.warnings?.length, 1);
  t.match(warned.response.warnings?.[0], /^ecr-admission could not read Deployment team-a\/web: cannot read the object/);
  t.ok((warned.response.warnings?.[0]?.length ?? 999) < 120, 'warning under 120 characters');

  const audited = await reviewerFor('mode: audit\nonError: deny\n').review(requestOf(review));
  t.same([audited.response.allowed, audited.result, audited.response.warnings], [true, 'audit', undefined], 'audit: allowed silently');
  t.match(audited.response.auditAnnotations?.['audit-violations'], /cannot read the object: spec\.template\.spec\.containers is not a list/, 'and recorded');

  const noObject = loadAdmissionReview('pod-create');
  noObject.request.object = null;
  t.equal((await reviewerFor(DENY_ALL).review(requestOf(noObject))).response.allowed, false, 'a CREATE with no object is denied');
  t.equal((await reviewerFor('mode: enforce\nonError: allow\n').review(requestOf(noObject))).response.allowed, false, 'under onError allow too');
});

t.test('dry-run requests are decided exactly like real ones', async (t) => {
  for (const policy of [DENY_ALL, ECR_ONLY]) {
    const reviewer = reviewerFor(policy);
    const real = await reviewer.review(requestOf(loadAdmissionReview('deployment-create')));
    const dry = await reviewer.review(requestOf(loadAdmissionReview('deployment-create-dry-run')));
    t.equal(requestOf(loadAdmissionReview('deployment-create-dry-run')).dryRun, true);
    t.same(
      { allowed: dry.response.allowed, status: dry.response.status, warnings: dry.response.warnings, result: dry.result },
      { allowed: real.response.allowed, status: real.response.status, warnings: real.response.warnings, result: real.result },
    );
  }
});

t.test("an invalid image reference fails origin with the parser's reason", async (t) => {
  const review = loadAdmissionReview('replicationcontroller-create');
  (review.request.object!.spec as { template: { spec: { containers: Array<{ image: string }> } } }).template.spec.containers[0]!.image = 'Nginx:1.27';
  const out = await reviewerFor(ECR_ONLY).review(requestOf(review));
  t.equal(out.result, 'deny');
  t.match(out.response.status?.message, /container "web" Nginx:1\.27: \[origin\] invalid image reference "Nginx:1\.27": repository path component "Nginx"/);
});

// The hanging check holds no handle open: this test also proves the deadline timer keeps the
// process alive until the decision (with an unref'd timer the process ended mid-test).
t.test('a check that hangs past the budget is an error, decided by onError', async (t) => {
  const hanging: Check = { id: 'digest', needs: ['origin'], enabled: () => true, run: () => new Promise(() => {}) };
  const started = Date.now();
  const denied = await reviewerFor(ECR_ONLY, { checks: [originCheck, hanging], budgetMs: 150 }).review(requestOf(loadAdmissionReview('job-create')));
  t.ok(Date.now() - started < 1500, 'answered soon after the budget');
  t.equal(denied.response.allowed, false);
  t.match(denied.response.status?.message, /\[digest\] could not be verified: not decided within the admission deadline/);
  const allowed = await reviewerFor(ECR_ONLY.replace('onError: deny', 'onError: allow'), { checks: [originCheck, hanging], budgetMs: 150 }).review(
    requestOf(loadAdmissionReview('job-create')),
  );
  t.equal(allowed.response.allowed, true);
  t.match(allowed.response.warnings, [/^ecr-admission: report: \[digest\] not verified \(not decided within the admission deadline/]);
});
