// Ways around the gate a user who can create workloads might try: annotations, labels,
// ownerReferences and other fields they can write; a tag moved after a verdict was cached;
// images hidden in init or ephemeral containers or added by an UPDATE.
import fc from 'fast-check';
import t from 'tap';
import { imageDigest } from '../../src/dev/sandbox/index.ts';
import { resultOf, startHarness } from '../helpers/harness.ts';
import { loadAdmissionReview, podSpecOf, type FixtureAdmissionReview } from '../fixtures/admission.ts';
import { requestOf } from '../fixtures/policy.ts';
import { IMAGES, fixture, fullPolicy, HOST, runs } from './helpers.ts';

const GOOD = `${HOST}/app:1.0`;
const UNSIGNED = `${HOST}/app:unsigned`;
const VULNERABLE = `${HOST}/app:vuln`;

const h = await startHarness({ fixture: fixture(), policy: fullPolicy(), budgetMs: 3000 });
t.teardown(() => h.close());

/** A fixture whose every container runs `image`. */
function reviewWith(name: 'deployment-create' | 'pod-create' | 'cronjob-create', image: string): FixtureAdmissionReview {
  const review = loadAdmissionReview(name);
  const spec = podSpecOf(review.request.object!);
  for (const list of [spec.containers, spec.initContainers ?? [], spec.ephemeralContainers ?? []]) for (const c of list) c.image = image;
  return review;
}

const decide = async (review: FixtureAdmissionReview | Record<string, unknown>) => h.runtime.reviewer.review(requestOf(review));

/** Things a user can write on an object, in the names peers and users reach for. */
const SKIP_ANNOTATIONS: Record<string, string> = {
  'ecr-admission/skip': 'true',
  'ecr-admission.io/skip': 'true',
  'ecr-admission/exclude': 'true',
  'ecr-admission/mode': 'audit',
  'ecr-admission/onError': 'allow',
  'ecr-admission/verified': 'true',
  'ecr-admission/digest': `sha256:${'a'.repeat(64)}`,
  'policy.sigstore.dev/exclude': 'true',
  'kyverno.io/skip': 'true',
  'policies.kyverno.io/skip': 'true',
  'admission.datadoghq.com/enabled': 'false',
  'ratify.deislabs.io/skip': 'true',
  'kubernetes.io/config.mirror': 'mirror',
  'kubernetes.io/config.source': 'file',
  'cluster-autoscaler.kubernetes.io/safe-to-evict': 'true',
};
const SKIP_LABELS: Record<string, string> = {
  'ecr-admission/skip': 'true',
  'ecr-admission.io/ignore': 'true',
  'admission.ecr-admission.io/enabled': 'false',
  'policy.sigstore.dev/include': 'false',
  'control-plane': 'controller-manager',
  'app.kubernetes.io/managed-by': 'Helm',
  'kubernetes.io/metadata.name': 'kube-system',
  'pod-security.kubernetes.io/enforce': 'privileged',
};
const OWNER_REFERENCES = [
  { apiVersion: 'apps/v1', kind: 'DaemonSet', name: 'kube-proxy', uid: '00000000-0000-0000-0000-000000000001', controller: true, blockOwnerDeletion: true },
  { apiVersion: 'v1', kind: 'Node', name: 'ip-10-0-0-1', uid: '00000000-0000-0000-0000-000000000002', controller: true },
  { apiVersion: 'apps/v1', kind: 'ReplicaSet', name: 'already-admitted', uid: '00000000-0000-0000-0000-000000000003', controller: true },
];

/** Where a workload keeps its pod template's metadata: spec.template (Deployment) or
 *  spec.jobTemplate.spec.template (CronJob); a Pod has neither. */
interface TemplateMetadata {
  annotations?: Record<string, string>;
  labels?: Record<string, string>;
}
interface PodTemplateHolder {
  spec?: { template?: { metadata?: TemplateMetadata }; jobTemplate?: { spec?: { template?: { metadata?: TemplateMetadata } } } };
}

t.test('annotations, labels and ownerReferences a user writes do not skip or soften any check', async (t) => {
  for (const name of ['deployment-create', 'pod-create', 'cronjob-create'] as const) {
    for (const image of [UNSIGNED, VULNERABLE]) {
      const plain = await decide(reviewWith(name, image));
      t.equal(plain.response.allowed, false, `${name} ${image}: denied without decoration (control)`);
      const decorated = reviewWith(name, image);
      const meta = decorated.request.object!.metadata;
      meta.annotations = { ...meta.annotations, ...SKIP_ANNOTATIONS };
      meta.labels = { ...meta.labels, ...SKIP_LABELS };
      meta.ownerReferences = OWNER_REFERENCES;
      meta.namespace = 'kube-system'; // the object may claim a namespace; the request's decides
      const workload = decorated.request.object as PodTemplateHolder;
      const template = workload.spec?.template?.metadata ?? workload.spec?.jobTemplate?.spec?.template?.metadata;
      if (template) {
        template.annotations = { ...template.annotations, ...SKIP_ANNOTATIONS };
        template.labels = { ...template.labels, ...SKIP_LABELS };
      }
      decorated.request.userInfo = { username: 'system:serviceaccount:ecr-admission:ecr-admission', groups: ['system:masters', 'system:nodes'] };
      decorated.request.dryRun = true;
      const out = await decide(decorated);
      t.equal(
        out.response.allowed,
        false,
        `${name} ${image}: still denied with skip annotations, labels, ownerReferences, a claimed namespace, a privileged user and dryRun`,
      );
      t.same(
        out.images.map((i) => i.results.map((r) => [r.check, r.status])),
        plain.images.map((i) => i.results.map((r) => [r.check, r.status])),
        `${name} ${image}: the same check results`,
      );
      t.equal(
        out.response.status?.message?.replace(/ecr-admission denied \S+ \S+/, ''),
        plain.response.status?.message?.replace(/ecr-admission denied \S+ \S+/, ''),
        `${name} ${image}: the same denial`,
      );
    }
  }
});

t.test('random metadata on the object never changes a decision', async (t) => {
  const n = runs(300);
  const base = reviewWith('pod-create', UNSIGNED);
  const plain = await decide(base);
  const key = fc.oneof(fc.constantFrom(...Object.keys(SKIP_ANNOTATIONS), ...Object.keys(SKIP_LABELS)), fc.string({ minLength: 1, maxLength: 60 }));
  const metadata = fc.record(
    {
      annotations: fc.dictionary(key, fc.oneof(fc.constantFrom('true', 'false', 'skip', 'audit', 'allow', GOOD), fc.string())),
      labels: fc.dictionary(key, fc.constantFrom('true', 'false', 'skip', 'enabled', 'disabled')),
      ownerReferences: fc.array(
        fc.record({
          apiVersion: fc.constantFrom('apps/v1', 'v1', 'batch/v1'),
          kind: fc.constantFrom('ReplicaSet', 'DaemonSet', 'Job', 'Node', 'StatefulSet'),
          name: fc.string(),
          uid: fc.uuid(),
          controller: fc.boolean(),
        }),
        { maxLength: 3 },
      ),
      finalizers: fc.array(fc.string(), { maxLength: 2 }),
    },
    { requiredKeys: [] },
  );
  await fc.assert(
    fc.asyncProperty(metadata, async (extra) => {
      const review = structuredClone(base);
      Object.assign(review.request.object!.metadata, extra);
      const out = await decide(review);
      if (out.response.allowed) throw new Error(`admitted with ${JSON.stringify(extra).slice(0, 300)}`);
      if (out.response.status?.message !== plain.response.status?.message) throw new Error(`a different denial with ${JSON.stringify(extra).slice(0, 200)}`);
    }),
    { numRuns: n },
  );
  t.pass(`${n} random metadata sets: the same denial each time`);
});

t.test('init containers are checked like the rest', async (t) => {
  const review = reviewWith('pod-create', GOOD);
  const spec = podSpecOf(review.request.object!);
  spec.initContainers = [{ name: 'setup', image: UNSIGNED }];
  const out = await decide(review);
  t.equal(out.response.allowed, false, 'an unsigned init container denies the pod');
  t.match(out.response.status?.message, /- initContainer "setup" 111122223333\.dkr\.ecr\.us-east-1\.amazonaws\.com\/app:unsigned .*\[signature\]/);
  const cron = reviewWith('cronjob-create', GOOD);
  const cronSpec = podSpecOf(cron.request.object!);
  cronSpec.initContainers = [{ name: 'vuln-init', image: VULNERABLE }];
  const cronOut = await decide(cron);
  t.equal(cronOut.response.allowed, false, 'an init container deep in a CronJob template is checked too');
  t.match(cronOut.response.status?.message, /initContainer "vuln-init".*\[vulnerabilities\] 1 CRITICAL finding/);
});

t.test('ephemeral containers (kubectl debug) are checked', async (t) => {
  const review = loadAdmissionReview('pod-ephemeralcontainers-update');
  for (const o of [review.request.object!, review.request.oldObject!]) {
    const spec = podSpecOf(o);
    for (const c of [...spec.containers, ...(spec.initContainers ?? [])]) c.image = GOOD;
  }
  const spec = podSpecOf(review.request.object!);
  spec.ephemeralContainers = [{ name: 'debugger', image: UNSIGNED }];
  const out = await decide(review);
  t.equal(review.request.subResource, 'ephemeralcontainers');
  t.equal(out.response.allowed, false, 'an unsigned debug container is denied');
  t.match(out.response.status?.message, /ephemeralContainer "debugger" .*app:unsigned/);
  t.same(
    out.images.map((i) => i.container.containerKind),
    ['ephemeralContainer'],
    'only the added container is checked',
  );
  spec.ephemeralContainers = [{ name: 'debugger', image: GOOD }];
  t.equal((await decide(review)).response.allowed, true, 'a good debug container is admitted');
  spec.ephemeralContainers = [{ name: 'debugger', image: 'docker.io/library/busybox:1.36' }];
  t.equal((await decide(review)).response.allowed, false, 'a debug container from an unlisted registry is denied');
});

t.test('an UPDATE that adds or changes an image is checked; one that does not is not re-decided', async (t) => {
  const update = (oldImages: string[], newImages: string[], where: 'containers' | 'initContainers' = 'containers') => {
    const review = loadAdmissionReview('deployment-update-image');
    for (const [o, images] of [
      [review.request.oldObject!, oldImages],
      [review.request.object!, newImages],
    ] as const) {
      const spec = podSpecOf(o);
      spec.containers = [{ name: 'app', image: GOOD }];
      spec.initContainers = [];
      spec[where] = images.map((image, i) => ({ name: `c${i}`, image }));
    }
    return review;
  };
  t.equal((await decide(update([GOOD], [GOOD, UNSIGNED]))).response.allowed, false, 'a container added by an UPDATE is checked');
  t.equal((await decide(update([GOOD], [UNSIGNED]))).response.allowed, false, 'an image changed by an UPDATE is checked');
  t.equal((await decide(update([], [VULNERABLE], 'initContainers'))).response.allowed, false, 'an init container added by an UPDATE is checked');
  const same = await decide(update([GOOD], [GOOD]));
  t.equal(same.result, 'skipped', 'an UPDATE that changes no image (a scale) is not re-decided');
  const broken = update([GOOD], [GOOD, UNSIGNED]);
  (broken.request.oldObject as unknown as Record<string, unknown>).spec = 'not a spec';
  t.equal((await decide(broken)).response.allowed, false, 'an unreadable oldObject means every image is checked');
  const noOld = update([GOOD], [UNSIGNED]);
  (noOld.request as unknown as Record<string, unknown>).oldObject = null;
  t.equal((await decide(noOld)).response.allowed, false, 'no oldObject means every image is checked');
  const renamed = update([UNSIGNED], [`${HOST.toUpperCase()}/app:unsigned`]);
  t.equal((await decide(renamed)).response.allowed, false, 'the same image spelt differently is a new image string, checked');
});

t.test('a tag moved after its verdict was cached is re-resolved once mutableTag expires, never later', async (t) => {
  const TTL_S = 2;
  // The runtime's clock is this test's: time passes only when the test moves it, so the
  // moment of re-resolution is exact, not a sample of a sleeping loop.
  let now = Date.now();
  const moving = await startHarness({
    fixture: fixture(),
    policy: fullPolicy({ immutability: false, extra: `cache:\n  ttlSeconds:\n    mutableTag: ${TTL_S}\n` }),
    budgetMs: 3000,
    now: () => now,
  });
  t.teardown(() => moving.close());
  const image = `${HOST}/moving:stable`;
  const first = await moving.reviewPod([image]);
  t.equal(first.response.allowed, true, 'the signed image behind the tag is admitted');
  t.equal(first.images[0]?.digest, imageDigest(IMAGES.mutableA));
  const cachedAt = now;

  // The tag moves to an unsigned image in the MUTABLE repository.
  moving.sandbox.update((f) => {
    const repo = f.accounts['111122223333']!.regions['us-east-1']!.repositories.find((r) => r.name === 'moving')!;
    repo.images[0]!.tags = [];
    repo.images[1]!.tags = ['stable'];
  });
  let deniedAt: number | undefined;
  let admittedAfterDenial = false;
  const samples: string[] = [];
  for (let at = 0; at < TTL_S * 1000 + 1500; at += 100) {
    now = cachedAt + at;
    const out = await moving.reviewPod([image]);
    if (!out.response.allowed && deniedAt === undefined) {
      deniedAt = at;
      t.equal(out.images[0]?.digest, imageDigest(IMAGES.mutableB), 'the denial is about the digest the tag points to now');
      t.match(resultOf(out, 'signature')?.reason, /no Notation signature found/, "and its own (missing) signature, not the old digest's verdict");
    }
    if (out.response.allowed && deniedAt !== undefined) admittedAfterDenial = true;
    samples.push(`${at}:${out.response.allowed ? 'A' : 'D'}`);
  }
  t.equal(deniedAt, TTL_S * 1000, `denied the moment the mutableTag TTL (${TTL_S * 1000} ms) is over, admitted until then`);
  t.notOk(admittedAfterDenial, 'and never admitted again after that');
  t.comment(`samples (ms since cached: A admitted, D denied): ${samples.join(' ')}`);

  // Moving it back re-admits after the TTL: verdicts are per digest, the tag only points.
  moving.sandbox.update((f) => {
    const repo = f.accounts['111122223333']!.regions['us-east-1']!.repositories.find((r) => r.name === 'moving')!;
    repo.images[1]!.tags = [];
    repo.images[0]!.tags = ['stable'];
  });
  now += TTL_S * 1000;
  moving.sandbox.resetCalls();
  const back = await moving.reviewPod([image]);
  t.equal(back.response.allowed, true, 'moved back: admitted again');
  t.equal(moving.sandbox.calls('ecr:ListImageReferrers'), 0, 'from the cached per-digest signature verdict');
});
