// Digest pinning end to end below Kubernetes: POST /mutate on the webhook app, the runtime
// `serve` builds (real SDK clients) against the AWS sandbox, and the validating call after it.
import t from 'tap';
import { pino } from 'pino';
import { ociImage, ociIndex, imageDigest, type SandboxFixture } from '../../src/dev/sandbox/index.ts';
import { buildWebhookApp } from '../../src/server/app.ts';
import type { AdmissionRequest, AdmissionReviewResponse } from '../../src/admission/codec.ts';
import { ACCOUNT, HOST, REGION, startHarness, type Harness } from '../helpers/harness.ts';

const web = ociImage({ seed: 'pin-web', tags: ['1.4.2', 'latest'] });
const amd = ociImage({ seed: 'pin-amd64', platform: { os: 'linux', architecture: 'amd64' } });
const arm = ociImage({ seed: 'pin-arm64', platform: { os: 'linux', architecture: 'arm64', variant: 'v8' } });
const multi = ociIndex({ children: [amd, arm], tags: ['2.0'] });
const tools = ociImage({ seed: 'pin-tools', tags: ['7'] });

const fixture = (): SandboxFixture => ({
  defaultAccount: ACCOUNT,
  accounts: {
    [ACCOUNT]: {
      regions: {
        [REGION]: {
          repositories: [
            { name: 'web', tagMutability: 'MUTABLE', images: [web] },
            { name: 'multi', tagMutability: 'IMMUTABLE', images: [multi] },
            { name: 'tools', tagMutability: 'IMMUTABLE', images: [tools] },
          ],
        },
      },
    },
  },
});

const policy = (extra = '') => `
registries:
  ecr:
    - accountId: "${ACCOUNT}"
  allow: ["docker.io/library/*"]
namespaces:
  exclude: [kube-system]
checks:
  immutability: true
${extra}`;

let uid = 0;
function review(request: Partial<AdmissionRequest> & { object: unknown }) {
  uid++;
  return {
    apiVersion: 'admission.k8s.io/v1',
    kind: 'AdmissionReview',
    request: { uid: `m-${uid}`, kind: { group: '', version: 'v1', kind: 'Pod' }, operation: 'CREATE', namespace: 'team-a', name: `p${uid}`, ...request },
  };
}

const pod = (spec: Record<string, unknown>) => ({ apiVersion: 'v1', kind: 'Pod', metadata: { name: 'p' }, spec });

async function mutate(h: Harness, body: unknown) {
  const app = buildWebhookApp({ reviewer: h.runtime.reviewer, mutator: h.runtime.mutator, logger: pino({ level: 'silent' }), metrics: h.metrics });
  try {
    const res = await app.inject({ method: 'POST', url: '/mutate', headers: { 'content-type': 'application/json' }, payload: JSON.stringify(body) });
    return res;
  } finally {
    await app.close();
  }
}

type Op = { op: string; path: string; value: string };
const opsOf = (body: AdmissionReviewResponse): Op[] =>
  body.response.patch === undefined ? [] : (JSON.parse(Buffer.from(body.response.patch, 'base64').toString('utf8')) as Op[]);

function applyOps(object: unknown, ops: readonly Op[]): unknown {
  const copy = structuredClone(object) as Record<string, unknown>;
  for (const op of ops) {
    const tokens = op.path.slice(1).split('/');
    let node = copy;
    for (const k of tokens.slice(0, -1)) node = node[k] as Record<string, unknown>;
    node[tokens.at(-1)!] = op.value;
  }
  return copy;
}

t.test('a Pod: each ECR tag of containers, init and ephemeral containers is pinned; the rest left as written', async (t) => {
  const h = await startHarness({ fixture: fixture(), policy: policy() });
  t.teardown(() => h.close());
  const pinned = `${HOST}/tools:7@${imageDigest(tools)}`;
  const object = pod({
    initContainers: [{ name: 'init', image: `${HOST}/tools:7` }],
    containers: [
      { name: 'app', image: `${HOST}/web:1.4.2` },
      { name: 'multi', image: `${HOST}/multi:2.0` },
      { name: 'implicit', image: `${HOST}/web` },
      { name: 'hub', image: 'docker.io/library/busybox:1.36' },
      { name: 'pinned', image: pinned },
      { name: 'missing', image: `${HOST}/web:no-such-tag` },
      { name: 'again', image: `${HOST}/web:1.4.2` },
    ],
    ephemeralContainers: [{ name: 'dbg', image: `${HOST}/tools:7` }],
  });
  const res = await mutate(h, review({ object }));
  t.equal(res.statusCode, 200);
  const body = res.json<AdmissionReviewResponse>();
  t.equal(body.apiVersion, 'admission.k8s.io/v1');
  t.equal(body.response.allowed, true);
  t.equal(body.response.patchType, 'JSONPatch');
  t.same(opsOf(body), [
    { op: 'replace', path: '/spec/initContainers/0/image', value: `${HOST}/tools:7@${imageDigest(tools)}` },
    { op: 'replace', path: '/spec/containers/0/image', value: `${HOST}/web:1.4.2@${imageDigest(web)}` },
    { op: 'replace', path: '/spec/containers/1/image', value: `${HOST}/multi:2.0@${imageDigest(multi)}` },
    { op: 'replace', path: '/spec/containers/2/image', value: `${HOST}/web@${imageDigest(web)}` },
    { op: 'replace', path: '/spec/containers/6/image', value: `${HOST}/web:1.4.2@${imageDigest(web)}` },
    { op: 'replace', path: '/spec/ephemeralContainers/0/image', value: `${HOST}/tools:7@${imageDigest(tools)}` },
  ]);
  t.not(imageDigest(multi), imageDigest(amd), 'the multi-arch index is pinned to the index digest, not a platform child');
  const metrics = await h.metrics.registry.metrics();
  t.match(metrics, /ecr_admission_mutations_total\{result="patched"\} 1/, 'counted as patched');
  t.match(metrics, /ecr_admission_pinned_images_total\{outcome="pinned"\} 6/, 'six containers pinned');
  t.match(metrics, /ecr_admission_pinned_images_total\{outcome="unresolved"\} 1/, 'one image left as written');
});

t.test('mutate then validate costs no more AWS calls than validate alone, and the pinned Pod is admitted', async (t) => {
  const images = [`${HOST}/multi:2.0`, `${HOST}/tools:7`];
  const object = pod({ containers: images.map((image, i) => ({ name: `c${i}`, image })) });

  const alone = await startHarness({ fixture: fixture(), policy: policy() });
  t.teardown(() => alone.close());
  const validated = await alone.runtime.reviewer.review(review({ object }).request);
  t.equal(validated.response.allowed, true);
  const count = (ops: string[]) => ops.reduce<Record<string, number>>((m, op) => ({ ...m, [op]: (m[op] ?? 0) + 1 }), {});
  const baseline = count(alone.sandbox.callLog().map((c) => c.op));

  const h = await startHarness({ fixture: fixture(), policy: policy() });
  t.teardown(() => h.close());
  const body = (await mutate(h, review({ object }))).json<AdmissionReviewResponse>();
  const patched = applyOps(object, opsOf(body));
  const after = await h.runtime.reviewer.review(review({ object: patched }).request);
  t.equal(after.response.allowed, true, 'the pinned Pod passes validation');
  t.same(
    after.images.map((i) => i.container.image),
    [`${HOST}/multi:2.0@${imageDigest(multi)}`, `${HOST}/tools:7@${imageDigest(tools)}`],
    'validation saw the pinned references',
  );
  const pinned = count(h.sandbox.callLog().map((c) => c.op));
  t.equal(
    pinned['ecr:BatchGetImage'],
    baseline['ecr:BatchGetImage'],
    'BatchGetImage: the tag resolved once, by the mutation, read from the cache by validation',
  );
  t.equal(pinned['ecr:BatchGetImage'], 2);
  for (const [op, n] of Object.entries(pinned)) t.ok(n <= (baseline[op] ?? 0), `${op}: ${n} pinned <= ${baseline[op] ?? 0} alone`);
  // The immutability check passes a digest reference without DescribeRepositories (a tag can
  // no longer redirect the node), so the pinned Pod costs fewer calls, not more.
  t.equal(pinned['ecr:DescribeRepositories'], undefined);
  t.equal(baseline['ecr:DescribeRepositories'], 2);

  // Warm: a second Pod with the same tags costs no AWS call at all, mutate + validate.
  h.sandbox.resetCalls();
  const again = (await mutate(h, review({ object }))).json<AdmissionReviewResponse>();
  t.equal(opsOf(again).length, 2);
  await h.runtime.reviewer.review(review({ object: applyOps(object, opsOf(again)) }).request);
  t.equal(h.sandbox.calls(), 0, 'warm: no AWS call');
});

t.test('a tag of a MUTABLE repository: denied tag-only, admitted once pinned (the node can no longer be redirected)', async (t) => {
  const h = await startHarness({ fixture: fixture(), policy: policy() });
  t.teardown(() => h.close());
  const object = pod({ containers: [{ name: 'app', image: `${HOST}/web:1.4.2` }] });
  const tagOnly = await h.runtime.reviewer.review(review({ object }).request);
  t.equal(tagOnly.response.allowed, false);
  t.match(tagOnly.response.status?.message, /\[immutability\]/);
  const body = (await mutate(h, review({ object }))).json<AdmissionReviewResponse>();
  const after = await h.runtime.reviewer.review(review({ object: applyOps(object, opsOf(body)) }).request);
  t.equal(after.response.allowed, true);
});

t.test('nothing to pin: no patch, no patchType', async (t) => {
  const h = await startHarness({ fixture: fixture(), policy: policy() });
  t.teardown(() => h.close());
  const cases: Array<[string, ReturnType<typeof review>]> = [
    [
      'only non-ECR and pinned images',
      review({
        object: pod({
          containers: [
            { name: 'a', image: 'busybox:1.36' },
            { name: 'b', image: `${HOST}/web@${imageDigest(web)}` },
          ],
        }),
      }),
    ],
    ['an excluded namespace', review({ namespace: 'kube-system', object: pod({ containers: [{ name: 'a', image: `${HOST}/web:1.4.2` }] }) })],
    [
      'a Deployment under pinning.mode pods',
      review({
        kind: { group: 'apps', version: 'v1', kind: 'Deployment' },
        object: { spec: { template: { spec: { containers: [{ name: 'a', image: `${HOST}/web:1.4.2` }] } } } },
      }),
    ],
    ['a DELETE', review({ operation: 'DELETE', object: pod({ containers: [{ name: 'a', image: `${HOST}/web:1.4.2` }] }) })],
    [
      'the status subresource',
      review({ subResource: 'status', operation: 'UPDATE', object: pod({ containers: [{ name: 'a', image: `${HOST}/web:1.4.2` }] }) }),
    ],
    ['an unreadable pod spec', review({ object: pod({ containers: 'web' }) })],
    ['a tag that does not exist', review({ object: pod({ containers: [{ name: 'a', image: `${HOST}/web:gone` }] }) })],
  ];
  h.sandbox.resetCalls();
  for (const [label, body] of cases) {
    const res = await mutate(h, body);
    t.equal(res.statusCode, 200, label);
    const r = res.json<AdmissionReviewResponse>().response;
    t.same(r, { uid: body.request.uid, allowed: true }, label);
  }
  t.equal(h.sandbox.calls('ecr:BatchGetImage'), 1, 'only the missing tag was looked up');
});

t.test("the webhook's own namespace is left alone", async (t) => {
  const h = await startHarness({ fixture: fixture(), policy: policy() });
  t.teardown(() => h.close());
  // ownNamespace comes into the compiled policy's exclusions (serve: ECR_ADMISSION_NAMESPACE).
  const { createPolicyStore } = await import('../../src/policy/store.ts');
  const { createMutator } = await import('../../src/admission/mutate.ts');
  const store = createPolicyStore({ text: policy(), ownNamespace: 'ecr-admission' });
  const mutator = createMutator({ policy: () => store.current(), resolver: h.runtime.pins, budgetMs: 2000 });
  const out = await mutator.mutate(review({ namespace: 'ecr-admission', object: pod({ containers: [{ name: 'a', image: `${HOST}/web:1.4.2` }] }) }).request);
  t.equal(out.result, 'skipped');
  t.match(out.why, /namespace ecr-admission is excluded/);
});

t.test('pods-and-templates pins a Deployment template; off pins nothing', async (t) => {
  const deployment = {
    kind: { group: 'apps', version: 'v1', kind: 'Deployment' },
    object: { spec: { template: { spec: { containers: [{ name: 'a', image: `${HOST}/web:1.4.2` }] } } } },
  };
  const h = await startHarness({ fixture: fixture(), policy: policy('pinning:\n  mode: pods-and-templates\n') });
  t.teardown(() => h.close());
  t.same(opsOf((await mutate(h, review(deployment))).json<AdmissionReviewResponse>()), [
    { op: 'replace', path: '/spec/template/spec/containers/0/image', value: `${HOST}/web:1.4.2@${imageDigest(web)}` },
  ]);
  const off = await startHarness({ fixture: fixture(), policy: policy('pinning:\n  mode: off\n') });
  t.teardown(() => off.close());
  const r = (await mutate(off, review({ object: pod({ containers: [{ name: 'a', image: `${HOST}/web:1.4.2` }] }) }))).json<AdmissionReviewResponse>();
  t.equal(r.response.patch, undefined);
  t.equal(off.sandbox.calls(), 0, 'off: no lookup');
});

t.test('UPDATE pins only the images the update writes (ephemeral containers subresource)', async (t) => {
  const h = await startHarness({ fixture: fixture(), policy: policy() });
  t.teardown(() => h.close());
  const oldObject = pod({ containers: [{ name: 'app', image: `${HOST}/web:1.4.2` }], ephemeralContainers: [{ name: 'd1', image: `${HOST}/tools:7` }] });
  const object = pod({
    containers: [{ name: 'app', image: `${HOST}/web:1.4.2` }],
    ephemeralContainers: [
      { name: 'd1', image: `${HOST}/tools:7` },
      { name: 'd2', image: `${HOST}/tools:7` },
    ],
  });
  const body = (await mutate(h, review({ operation: 'UPDATE', subResource: 'ephemeralcontainers', object, oldObject }))).json<AdmissionReviewResponse>();
  t.same(opsOf(body), [{ op: 'replace', path: '/spec/ephemeralContainers/1/image', value: `${HOST}/tools:7@${imageDigest(tools)}` }]);
});

t.test('the mutation never waits past its budget: a slow ECR leaves the image as written', async (t) => {
  const h = await startHarness({ fixture: fixture(), policy: policy() });
  t.teardown(() => h.close());
  const { createMutator } = await import('../../src/admission/mutate.ts');
  const { createPolicyStore } = await import('../../src/policy/store.ts');
  const store = createPolicyStore({ text: policy() });
  const mutator = createMutator({ policy: () => store.current(), resolver: h.runtime.pins, budgetMs: 300 });
  h.sandbox.inject('ecr:BatchGetImage', { kind: 'slow', delayMs: 3000 });
  const started = Date.now();
  const out = await mutator.mutate(review({ object: pod({ containers: [{ name: 'a', image: `${HOST}/web:1.4.2` }] }) }).request);
  const waited = Date.now() - started;
  t.equal(out.result, 'unchanged');
  t.same(out.response, { uid: out.response.uid, allowed: true });
  t.match([...out.unresolved.values()][0], /deadline/);
  t.ok(waited < 2500, `answered before the slow call returned (${waited} ms)`);
  h.sandbox.clearFaults();
  const denied = await mutator.mutate(review({ object: pod({ containers: [{ name: 'a', image: `${HOST}/web:1.4.2` }] }) }).request);
  t.equal(denied.result, 'patched', 'pins again once ECR answers');
});
