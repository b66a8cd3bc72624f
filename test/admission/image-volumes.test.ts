// Image volumes (Kubernetes ImageVolume, beta and on by default since 1.35): a Pod may mount an
// OCI image as a volume, `spec.volumes[].image.reference`, which the node pulls from whatever
// registry it names. Each is judged like a container's image (same checks, same policy, same
// bounds), named as a volume in every message, and pinned by the mutating webhook. Driven over
// the wire (POST /validate, /mutate) with AdmissionReviews captured from kube-apiserver v1.37.2
// (test/fixtures/admission/*-image-volume-create.json), the runtime `serve` builds, and the AWS
// sandbox behind it.
import { readFileSync } from 'node:fs';
import t, { type Test } from 'tap';
import { pino } from 'pino';
import { imageDigest, ociImage } from '../../src/dev/sandbox/index.ts';
import { buildWebhookApp } from '../../src/server/app.ts';
import { MAX_CONTAINERS } from '../../src/admission/extract.ts';
import type { AdmissionReviewResponse } from '../../src/admission/codec.ts';
import { ACCOUNT, HOST, startHarness, type Harness } from '../helpers/harness.ts';
import { CONTINUOUS_SCAN, XZ_CRITICAL, ecrFixture } from '../helpers/ecr-fixture.ts';

type Json = Record<string, unknown>;
interface Container {
  name: string;
  image: string;
}
interface Request<O> {
  namespace: string;
  operation: string;
  subResource?: string;
  object: O;
  oldObject?: O;
}
interface Review<O> {
  apiVersion: string;
  kind: string;
  request: Request<O>;
}
interface PodObject {
  metadata: { namespace: string };
  spec: { containers: Container[]; ephemeralContainers?: Container[]; volumes: Array<{ name: string; image?: unknown }> };
}
interface DeploymentObject {
  spec: { replicas?: number; template: { spec: { containers: Container[]; volumes: Array<{ name: string; image: { reference: string } }> } } };
}
/** An image of the audit annotation or the log line. */
interface Annotated {
  container?: string;
  volume?: string;
  image: string;
  results: Record<string, string>;
}

const web = ociImage({ seed: 'iv-web', tags: ['1.4.2'], ...CONTINUOUS_SCAN });
const models = ociImage({ seed: 'iv-models', tags: ['v3'], ...CONTINUOUS_SCAN });
const vulnerable = ociImage({
  seed: 'iv-payload',
  tags: ['1'],
  ...CONTINUOUS_SCAN,
  findings: [XZ_CRITICAL],
});

const fixture = () =>
  ecrFixture([
    { name: 'web', tagMutability: 'IMMUTABLE', images: [web] },
    { name: 'models', tagMutability: 'IMMUTABLE', images: [models] },
    { name: 'payload', tagMutability: 'IMMUTABLE', images: [vulnerable] },
  ]);

const policy = (extra = '') => `
registries:
  ecr:
    - accountId: "${ACCOUNT}"
checks:
  immutability: true
  vulnerabilities: {}
overrides:
  - { name: soft, namespaces: ["soft"], mode: warn }
  - { name: watch, namespaces: ["watch"], mode: audit }
  - { name: relaxed, namespaces: ["relaxed"], onError: allow }
${extra}`;

const EVIL = 'evil.example.com/payload:latest';
const MODELS = `${HOST}/models:v3`;
const MODELS_PINNED = `${MODELS}@${imageDigest(models)}`;

/** An AdmissionReview kube-apiserver v1.37.2 sent (test-output capture), fresh each time. */
const captured = <O>(name: 'pod-image-volume-create' | 'deployment-image-volume-create'): Review<O> =>
  JSON.parse(readFileSync(new URL(`../fixtures/admission/${name}.json`, import.meta.url), 'utf8')) as Review<O>;

/** The captured Pod: container `app` (web:1.4.2), volumes [scratch (emptyDir), payload (image)]. */
function podReview(payload: unknown = { reference: EVIL, pullPolicy: 'Always' }, namespace = 'team-a'): Review<PodObject> {
  const review = captured<PodObject>('pod-image-volume-create');
  review.request.namespace = namespace;
  review.request.object.metadata.namespace = namespace;
  review.request.object.spec.volumes[1]!.image = payload;
  return review;
}

/** The captured Deployment: container `app` (web:1.4.2), volume models (image models:v3). */
function deploymentReview(reference = MODELS): Review<DeploymentObject> {
  const review = captured<DeploymentObject>('deployment-image-volume-create');
  review.request.object.spec.template.spec.volumes[0]!.image.reference = reference;
  return review;
}

async function world(t: Test, extra = '') {
  const h = await startHarness({ fixture: fixture(), policy: policy(extra) });
  t.teardown(() => h.close());
  return h;
}

/** POSTs the review to the webhook app; returns its answer and the admission log lines. */
async function post(h: Harness, url: '/validate' | '/mutate', review: unknown) {
  const lines: Array<{ msg: string; images?: Annotated[] }> = [];
  const logger = pino({ level: 'info' }, { write: (line: string) => lines.push(JSON.parse(line) as (typeof lines)[number]) });
  const app = buildWebhookApp({ reviewer: h.runtime.reviewer, mutator: h.runtime.mutator, logger, metrics: h.metrics });
  try {
    const res = await app.inject({ method: 'POST', url, headers: { 'content-type': 'application/json' }, payload: JSON.stringify(review) });
    return { status: res.statusCode, response: res.json<AdmissionReviewResponse>().response, lines };
  } finally {
    await app.close();
  }
}

const validate = (h: Harness, review: unknown) => post(h, '/validate', review);

type Op = { op: string; path: string; value: string };
const opsOf = (response: AdmissionReviewResponse['response']): Op[] =>
  response.patch === undefined ? [] : (JSON.parse(Buffer.from(response.patch, 'base64').toString('utf8')) as Op[]);

t.test("the API server's Pod: a volume image from a disallowed registry is denied, named as the volume", async (t) => {
  const h = await world(t);
  const { status, response, lines } = await validate(h, podReview());
  t.equal(status, 200);
  t.equal(response.allowed, false, 'denied: the container is allowed, the volume is not');
  const message = response.status?.message ?? '';
  t.equal(message.split('\n')[0], 'ecr-admission denied Pod team-a/web: 1 of 2 images failed');
  t.match(message, /\n- volume "payload" evil\.example\.com\/payload:latest: \[origin\] registry evil\.example\.com is not allowed/);
  t.notMatch(message, /container "payload"/, 'never called a container');
  const annotated = JSON.parse(response.auditAnnotations?.images ?? '[]') as Annotated[];
  t.same(
    annotated.map((i) => [i.container ?? `volume ${i.volume}`, i.image, i.results.origin]),
    [
      ['app', `${HOST}/web:1.4.2`, 'pass'],
      ['volume payload', EVIL, 'fail'],
    ],
    'the audit annotation names the volume under "volume"',
  );
  const admission = lines.find((l) => l.msg === 'admission');
  t.same(
    admission?.images?.map((i) => i.volume ?? null),
    [null, 'payload'],
    'and so does the log line',
  );
});

t.test('warn and audit modes name the volume too', async (t) => {
  const h = await world(t);
  const warned = await validate(h, podReview(undefined, 'soft'));
  t.equal(warned.response.allowed, true);
  t.match(warned.response.warnings, [/^ecr-admission: volume payload: \[origin\] registry evil\.example\.com is not allowed/]);
  const audited = await validate(h, podReview(undefined, 'watch'));
  t.equal(audited.response.allowed, true);
  t.match(audited.response.auditAnnotations?.['audit-violations'], /^volume payload: \[origin\] registry evil\.example\.com is not allowed/);
});

t.test('an ECR volume image with a CRITICAL finding is denied; a good one is admitted', async (t) => {
  const h = await world(t);
  const bad = await validate(h, podReview({ reference: `${HOST}/payload:1`, pullPolicy: 'IfNotPresent' }));
  t.equal(bad.response.allowed, false);
  t.match(bad.response.status?.message, /\n- volume "payload" \S+\/payload:1 \(sha256:\w{12}\): \[vulnerabilities\] .*CVE-2024-3094/);

  const good = await validate(h, podReview({ reference: MODELS, pullPolicy: 'IfNotPresent' }));
  t.equal(good.response.allowed, true, 'a clean image of an immutable ECR repository: admitted');
  const annotated = JSON.parse(good.response.auditAnnotations?.images ?? '[]') as Annotated[];
  t.same(annotated[1], {
    volume: 'payload',
    image: MODELS,
    digest: imageDigest(models),
    policy: 'default',
    mode: 'enforce',
    results: annotated[1]?.results,
  });
  t.same(Object.keys(annotated[1]?.results ?? {}).sort(), ['digest', 'immutability', 'origin', 'vulnerabilities'], 'every check ran on it');
  t.ok(
    Object.values(annotated[1]?.results ?? {}).every((s) => s === 'pass' || s === 'skip'),
    'and passed',
  );
});

t.test("a Deployment template's volume image is checked", async (t) => {
  const h = await world(t);
  const good = await validate(h, deploymentReview());
  t.equal(good.response.allowed, true, "the API server's Deployment (models:v3): admitted");
  const bad = await validate(h, deploymentReview(EVIL));
  t.equal(bad.response.allowed, false);
  t.match(bad.response.status?.message, /^ecr-admission denied Deployment team-a\/models: 1 of 2 images failed\n- volume "models" evil\.example\.com/);

  // Every kind with a pod template: the volume is found at the kind's own path.
  const kinds: Array<[string, string, (spec: Json) => Json]> = [
    ['batch', 'CronJob', (spec) => ({ spec: { schedule: '* * * * *', jobTemplate: { spec: { template: { spec } } } } })],
    ['', 'PodTemplate', (spec) => ({ template: { spec } })],
    ['apps', 'StatefulSet', (spec) => ({ spec: { template: { spec } } })],
  ];
  for (const [group, kind, wrap] of kinds) {
    const spec = { containers: [{ name: 'app', image: `${HOST}/web:1.4.2` }], volumes: [{ name: 'payload', image: { reference: EVIL } }] };
    const review = {
      apiVersion: 'admission.k8s.io/v1',
      kind: 'AdmissionReview',
      request: {
        uid: `u-${kind}`,
        kind: { group, version: 'v1', kind },
        operation: 'CREATE',
        namespace: 'team-a',
        name: 'x',
        object: { apiVersion: 'v1', kind, metadata: { name: 'x' }, ...wrap(spec) },
      },
    };
    const out = await validate(h, review);
    t.match(out.response.status?.message, /volume "payload" evil\.example\.com/, `${kind}: denied on its volume`);
  }
});

t.test('a Deployment UPDATE that changes only a volume image is checked; one that keeps it is not', async (t) => {
  const h = await world(t);
  const old = deploymentReview().request.object;
  const changed = deploymentReview(EVIL);
  Object.assign(changed.request, { operation: 'UPDATE', oldObject: old });
  const out = await validate(h, changed);
  t.equal(out.response.allowed, false, 'the new volume image is judged');
  t.match(out.response.status?.message, /volume "models" evil\.example\.com/);

  t.equal((await validate(h, deploymentReview())).response.allowed, true, 'created: its images pass (and are remembered)');
  const scaled = deploymentReview();
  scaled.request.object.spec.replicas = 3;
  Object.assign(scaled.request, { operation: 'UPDATE', oldObject: deploymentReview().request.object });
  const same = await validate(h, scaled);
  t.same([same.response.allowed, same.response.auditAnnotations?.reason], [true, 'the update changes no image'], 'a scale keeps every image: skipped');
});

t.test('the mutating webhook pins a volume image to its digest, at the volume reference path', async (t) => {
  const h = await world(t);
  const review = podReview({ reference: MODELS, pullPolicy: 'IfNotPresent' });
  const { status, response } = await post(h, '/mutate', review);
  t.equal(status, 200);
  t.equal(response.patchType, 'JSONPatch');
  t.same(opsOf(response), [
    { op: 'replace', path: '/spec/containers/0/image', value: `${HOST}/web:1.4.2@${imageDigest(web)}` },
    { op: 'replace', path: '/spec/volumes/1/image/reference', value: MODELS_PINNED },
  ]);

  // The Pod as the API server stores it after the patch passes validation, checked on the digest.
  const patched = podReview({ reference: MODELS_PINNED, pullPolicy: 'IfNotPresent' });
  patched.request.object.spec.containers[0]!.image = `${HOST}/web:1.4.2@${imageDigest(web)}`;
  const after = await validate(h, patched);
  t.equal(after.response.allowed, true, 'the pinned Pod is admitted');

  const template = await post(h, '/mutate', deploymentReview());
  t.same(opsOf(template.response), [], 'a template is not rewritten by default (pinning.mode pods)');
});

t.test('pods-and-templates pins a template volume; an UPDATE pins only what it writes', async (t) => {
  const h = await world(t, 'pinning: { mode: pods-and-templates }');
  const template = await post(h, '/mutate', deploymentReview());
  t.same(
    opsOf(template.response).map((o) => [o.path, o.value]),
    [
      ['/spec/template/spec/containers/0/image', `${HOST}/web:1.4.2@${imageDigest(web)}`],
      ['/spec/template/spec/volumes/0/image/reference', MODELS_PINNED],
    ],
  );
  // pods/ephemeralcontainers: the volume the Pod already has is left as written (a Pod's
  // volumes cannot change); the debug container the update adds is pinned.
  const update = podReview({ reference: MODELS, pullPolicy: 'IfNotPresent' });
  const oldObject = structuredClone(update.request.object);
  update.request.object.spec.ephemeralContainers = [{ name: 'debug', image: `${HOST}/web:1.4.2` }];
  Object.assign(update.request, { operation: 'UPDATE', subResource: 'ephemeralcontainers', oldObject });
  const ops = opsOf((await post(h, '/mutate', update)).response);
  t.same(
    ops.map((o) => o.path),
    ['/spec/ephemeralContainers/0/image'],
  );
});

t.test('a malformed image volume is a clean denial, never a crash, whatever onError says', async (t) => {
  const h = await world(t);
  const cases: Array<[string, unknown, RegExp]> = [
    ['reference not a string', { reference: 42 }, /cannot read the object: spec\.volumes\[1\]\.image has no reference string$/],
    ['no reference', {}, /spec\.volumes\[1\]\.image has no reference string$/],
    ['empty reference', { reference: '' }, /spec\.volumes\[1\]\.image has no reference string$/],
    ['image not an object', EVIL, /spec\.volumes\[1\]\.image has no reference string$/],
  ];
  for (const [name, payload, expected] of cases) {
    for (const namespace of ['team-a', 'relaxed']) {
      const { status, response } = await validate(h, podReview(payload, namespace));
      t.equal(status, 200, `${name} (${namespace}): answered`);
      t.equal(response.allowed, false, `${name} (${namespace}): denied`);
      t.match(response.status?.message, expected, `${name} (${namespace})`);
    }
    const mutated = await post(h, '/mutate', podReview(payload));
    t.same([mutated.status, mutated.response.allowed, mutated.response.patch], [200, true, undefined], `${name}: /mutate leaves it to validation`);
  }
  const notAList = podReview();
  (notAList.request.object.spec as { volumes: unknown }).volumes = { name: 'payload', image: { reference: EVIL } };
  t.match((await validate(h, notAList)).response.status?.message, /cannot read the object: spec\.volumes is not a list$/);

  // The API server (v1.37.2) refuses an empty reference in a template too; should one reach
  // the webhook (another API server, `check` on a manifest), it is denied, not admitted unseen.
  const empty = deploymentReview('');
  const out = await validate(h, empty);
  t.equal(out.response.allowed, false);
  t.match(out.response.status?.message, /cannot read the object: spec\.template\.spec\.volumes\[0\]\.image has no reference string$/);
});

t.test('the bound on the images of one object counts image volumes', async (t) => {
  const h = await world(t);
  const withVolumes = (containers: number, volumes: number) => {
    const review = podReview();
    const spec = review.request.object.spec;
    spec.containers = Array.from({ length: containers }, (_, i) => ({ name: `c${i}`, image: `${HOST}/web:1.4.2` }));
    spec.volumes = Array.from({ length: volumes }, (_, i) => ({ name: `v${i}`, image: { reference: MODELS } }));
    return review;
  };
  const over = await validate(h, withVolumes(MAX_CONTAINERS - 1, 2));
  t.equal(over.response.allowed, false);
  t.match(over.response.status?.message, /cannot read the object: more than 256 images \(containers and image volumes\)$/);
  const mutated = await post(h, '/mutate', withVolumes(MAX_CONTAINERS - 1, 2));
  t.equal(mutated.response.patch, undefined, 'nor is it patched');
  const at = await validate(h, withVolumes(MAX_CONTAINERS - 1, 1));
  t.equal(at.response.allowed, true, '255 containers and 1 image volume: checked and admitted (control)');
});

t.test('pinning.requireOnPods: a volume image that arrives without a digest is denied, named as the volume', async (t) => {
  const h = await world(t, 'pinning: { requireOnPods: true }');
  const pinnedContainer = (payload: unknown) => {
    const review = podReview(payload);
    review.request.object.spec.containers[0]!.image = `${HOST}/web:1.4.2@${imageDigest(web)}`;
    return review;
  };
  const unpinned = await validate(h, pinnedContainer({ reference: MODELS }));
  t.equal(unpinned.response.allowed, false);
  t.match(
    unpinned.response.status?.message,
    /^ecr-admission denied Pod team-a\/web: 1 of 2 images failed\n- volume "payload" \S+models:v3 \(sha256:\w{12}\): \[digest\] the image reached the webhook without a digest/,
  );
  const pinned = await validate(h, pinnedContainer({ reference: MODELS_PINNED }));
  t.equal(pinned.response.allowed, true, 'pinned: admitted');
});

t.test('pods/ephemeralcontainers: a volume the Pod already had is not checked again while it still holds', async (t) => {
  const h = await world(t);
  const update = podReview({ reference: MODELS_PINNED });
  update.request.object.spec.containers[0]!.image = `${HOST}/web:1.4.2@${imageDigest(web)}`;
  const oldObject = structuredClone(update.request.object);
  update.request.object.spec.ephemeralContainers = [{ name: 'debug', image: EVIL }];
  Object.assign(update.request, { operation: 'UPDATE', subResource: 'ephemeralcontainers', oldObject });
  const out = await validate(h, update);
  t.equal(out.response.allowed, false);
  t.match(out.response.status?.message, /1 of 1 image failed\n- ephemeralContainer "debug" evil/, 'only the debug container is judged');

  // An old object whose volume was from a disallowed registry cannot have it skipped as
  // "unchanged" unless it still passes: a tag is checked again (no remembered pass).
  const tagged = podReview();
  const before = structuredClone(tagged.request.object);
  tagged.request.object.spec.ephemeralContainers = [{ name: 'debug', image: `${HOST}/web:1.4.2` }];
  Object.assign(tagged.request, { operation: 'UPDATE', subResource: 'ephemeralcontainers', oldObject: before });
  const again = await validate(h, tagged);
  t.equal(again.response.allowed, false);
  t.match(again.response.status?.message, /volume "payload" evil\.example\.com/, 'the unchanged volume tag is judged again');
});
