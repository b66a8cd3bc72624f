// Hostile bodies on POST /mutate (digest pinning), through the real webhook app and the runtime
// wired to the AWS sandbox: random JSON, random AdmissionReview-shaped requests, a wrong type at
// every path of two fixtures, hostile patch targets (keys with "/" and "~", 20,000 containers,
// deep nesting). The server never crashes and never answers 5xx; every 200 is an allowed
// AdmissionReview whose patch (if any) is base64 of replace operations on image paths only.
import fc from 'fast-check';
import t from 'tap';
import { pino } from 'pino';
import { buildWebhookApp } from '../../src/server/app.ts';
import type { AdmissionReviewResponse } from '../../src/admission/codec.ts';
import { startHarness } from '../helpers/harness.ts';
import { loadAdmissionReview } from '../fixtures/admission.ts';
import { fixture, fullPolicy, HOST, runs } from './helpers.ts';

const h = await startHarness({ fixture: fixture(), policy: fullPolicy(), budgetMs: 2000 });
const app = buildWebhookApp({ reviewer: h.runtime.reviewer, mutator: h.runtime.mutator, logger: pino({ level: 'silent' }), metrics: h.metrics });
t.teardown(async () => {
  await app.close();
  await h.close();
});

const IMAGE_PATH = /^\/spec(\/template\/spec|\/jobTemplate\/spec\/template\/spec)?\/(initContainers|containers|ephemeralContainers)\/\d+\/image$/;

async function post(payload: string): Promise<string | undefined> {
  const res = await app.inject({ method: 'POST', url: '/mutate', headers: { 'content-type': 'application/json' }, payload });
  let body: unknown;
  try {
    body = JSON.parse(res.body);
  } catch {
    return `status ${res.statusCode} with a body that is not JSON`;
  }
  if (res.statusCode >= 400 && res.statusCode < 500) {
    const err = body as { error?: unknown; code?: unknown };
    return typeof err.error === 'string' && typeof err.code === 'string' ? undefined : `a ${res.statusCode} without {error, code}`;
  }
  if (res.statusCode !== 200) return `status ${res.statusCode}: ${res.body.slice(0, 200)}`;
  const review = body as AdmissionReviewResponse;
  if (review.apiVersion !== 'admission.k8s.io/v1' || review.kind !== 'AdmissionReview') return 'a 200 that is not an AdmissionReview';
  if (review.response.allowed !== true) return 'the mutating webhook denied';
  if (review.response.patch === undefined) return review.response.patchType === undefined ? undefined : 'patchType without a patch';
  if (review.response.patchType !== 'JSONPatch') return 'a patch without patchType JSONPatch';
  const ops = JSON.parse(Buffer.from(review.response.patch, 'base64').toString('utf8')) as Array<{ op: string; path: string; value: unknown }>;
  for (const op of ops) {
    if (op.op !== 'replace' || !IMAGE_PATH.test(op.path) || typeof op.value !== 'string')
      return `an operation outside image paths: ${JSON.stringify(op).slice(0, 200)}`;
  }
  return undefined;
}

t.test('random JSON bodies', async (t) => {
  const n = runs(800);
  await fc.assert(
    fc.asyncProperty(fc.jsonValue({ maxDepth: 8 }), async (value) => {
      const problem = await post(JSON.stringify(value));
      if (problem) throw new Error(problem);
    }),
    { numRuns: n },
  );
  t.pass(`${n} random bodies answered by contract`);
});

t.test('random AdmissionReview-shaped bodies', async (t) => {
  const n = runs(800);
  const base = loadAdmissionReview('pod-create');
  const field = fc.oneof(fc.jsonValue({ maxDepth: 4 }), fc.string(), fc.constantFrom('CREATE', 'UPDATE', 'Pod', 'ephemeralcontainers', '', 'apps'));
  const request = fc.record(
    {
      uid: fc.oneof(fc.uuid(), fc.jsonValue({ maxDepth: 2 })),
      kind: fc.oneof(
        fc.record({ group: fc.constantFrom('', 'apps', 'batch'), version: fc.constant('v1'), kind: fc.constantFrom('Pod', 'Deployment', 'CronJob') }),
        fc.jsonValue({ maxDepth: 3 }),
      ),
      operation: fc.oneof(fc.constantFrom('CREATE', 'UPDATE', 'DELETE'), field),
      namespace: field,
      subResource: field,
      object: fc.oneof(fc.constant(base.request.object), fc.jsonValue({ maxDepth: 6 })),
      oldObject: fc.oneof(fc.constant(null), fc.constant(base.request.object), fc.jsonValue({ maxDepth: 4 })),
    },
    { requiredKeys: [] },
  );
  await fc.assert(
    fc.asyncProperty(request, async (req) => {
      const problem = await post(JSON.stringify({ apiVersion: 'admission.k8s.io/v1', kind: 'AdmissionReview', request: req }));
      if (problem) throw new Error(problem);
    }),
    { numRuns: n },
  );
  t.pass(`${n} shaped bodies answered by contract`);
});

function pathsOf(value: unknown, prefix: Array<string | number> = []): Array<Array<string | number>> {
  const out: Array<Array<string | number>> = [prefix];
  if (Array.isArray(value)) value.forEach((v, i) => out.push(...pathsOf(v, [...prefix, i])));
  else if (value && typeof value === 'object') for (const [k, v] of Object.entries(value)) out.push(...pathsOf(v, [...prefix, k]));
  return out;
}

function setAt(root: unknown, path: ReadonlyArray<string | number>, value: unknown): unknown {
  if (path.length === 0) return value;
  let node = root as Record<string | number, unknown>;
  for (const key of path.slice(0, -1)) node = node[key] as Record<string | number, unknown>;
  node[path[path.length - 1]!] = value;
  return root;
}

t.test('a wrong type at every path of a Pod and an ephemeral-containers update', async (t) => {
  const failures: string[] = [];
  let tried = 0;
  const hostile = [null, true, 0, '', [], {}, 'x'.repeat(64 * 1024), `${HOST}/app:unsigned`];
  for (const name of ['pod-create', 'pod-ephemeralcontainers-update'] as const) {
    for (const path of pathsOf(loadAdmissionReview(name))) {
      for (const value of hostile) {
        const problem = await post(JSON.stringify(setAt(loadAdmissionReview(name), path, value)));
        tried++;
        if (problem && failures.length < 20) failures.push(`${name} ${path.join('.')}: ${problem}`);
      }
    }
  }
  t.same(failures, [], `${tried} mutated fixtures answered by contract`);
});

t.test('hostile pod specs: extra keys with / and ~, 20,000 containers, deep nesting', async (t) => {
  const review = (spec: unknown) => {
    const r = loadAdmissionReview('pod-create');
    (r.request.object as Record<string, unknown>).spec = spec;
    return JSON.stringify(r);
  };
  const tricky = { 'a/b~c': 'x', containers: [{ name: 'x/~y', image: `${HOST}/app:unsigned`, '/image': 'z' }] };
  t.equal(await post(review(tricky)), undefined, 'keys with / and ~ next to the image');
  const many = Array.from({ length: 20_000 }, (_, i) => ({ name: `c${i}`, image: `${HOST}/app:unsigned` }));
  const started = Date.now();
  t.equal(await post(review({ containers: many })), undefined, '20,000 containers');
  t.ok(Date.now() - started < 5000, 'answered promptly (no lookup for an unreadable object)');
  // Written as text: JSON.stringify of it would overflow the test's own stack.
  const deep = `${'{"containers":['.repeat(5000)}"x"${']}'.repeat(5000)}`;
  t.equal(await post(review('DEEP').replace('"DEEP"', deep)), undefined, '5,000-deep nesting');
});
