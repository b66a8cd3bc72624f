// Hostile AdmissionReview bodies through the real webhook app (inject) and the real runtime
// wired to the AWS sandbox: random JSON, wrong types at every path of every fixture, huge
// container lists, deep nesting, long strings, invalid UTF-8, duplicate keys. The server
// never crashes, never answers 5xx, answers each within the deadline with a 4xx or a
// decision, and its memory (heap and metric series) stays bounded.
import fc from 'fast-check';
import t from 'tap';
import { buildWebhookApp } from '../../src/server/app.ts';
import type { AdmissionReviewResponse } from '../../src/admission/codec.ts';
import { pino } from 'pino';
import { startHarness } from '../helpers/harness.ts';
import { ADMISSION_FIXTURES, loadAdmissionReview, type FixtureAdmissionReview } from '../fixtures/admission.ts';
import { fixture, fullPolicy, HOST, runs, settledHeap } from './helpers.ts';

const BUDGET_MS = 2000;
/** What "within the deadline" allows on top of the budget: folding results and writing JSON. */
const SLACK_MS = 750;

const h = await startHarness({ fixture: fixture(), policy: fullPolicy(), budgetMs: BUDGET_MS });
const app = buildWebhookApp({ reviewer: h.runtime.reviewer, logger: pino({ level: 'silent' }), metrics: h.metrics });
t.teardown(async () => {
  await app.close();
  await h.close();
});

interface Answer {
  status: number;
  ms: number;
  body: string;
}
let slowest = 0;

async function post(payload: string | Buffer, contentType = 'application/json'): Promise<Answer> {
  const started = performance.now();
  const res = await app.inject({ method: 'POST', url: '/validate', headers: { 'content-type': contentType }, payload });
  const ms = performance.now() - started;
  slowest = Math.max(slowest, ms);
  return { status: res.statusCode, ms, body: res.body };
}

/** The contract for any body: 200 with an AdmissionReview answer (uid echoed when the request
 *  had a valid one), or 4xx with {error, code}; never 5xx, never later than the deadline. */
function verdictProblem(answer: Answer, sentUid?: unknown): string | undefined {
  if (answer.ms > BUDGET_MS + SLACK_MS) return `answered after ${Math.round(answer.ms)} ms`;
  let body: unknown;
  try {
    body = JSON.parse(answer.body);
  } catch {
    return `status ${answer.status} with a body that is not JSON: ${answer.body.slice(0, 100)}`;
  }
  if (answer.status === 200) {
    const review = body as AdmissionReviewResponse;
    if (review.apiVersion !== 'admission.k8s.io/v1' || review.kind !== 'AdmissionReview') return 'a 200 that is not an AdmissionReview';
    if (typeof review.response?.allowed !== 'boolean') return 'a 200 without response.allowed';
    if (typeof sentUid === 'string' && review.response.uid !== sentUid) return `uid ${review.response.uid} instead of ${sentUid}`;
    if (!review.response.allowed && review.response.status?.code !== 403) return 'a denial without status.code 403';
    return undefined;
  }
  if (answer.status >= 400 && answer.status < 500) {
    const err = body as { error?: unknown; code?: unknown };
    return typeof err.error === 'string' && typeof err.code === 'string' ? undefined : `a ${answer.status} without {error, code}`;
  }
  return `status ${answer.status}: ${answer.body.slice(0, 200)}`;
}

const uidOf = (v: unknown): unknown => (v as { request?: { uid?: unknown } } | null)?.request?.uid;

t.test('random JSON bodies', async (t) => {
  const n = runs(1500);
  let tried = 0;
  await fc.assert(
    fc.asyncProperty(fc.jsonValue({ maxDepth: 8 }), async (value) => {
      tried++;
      const problem = verdictProblem(await post(JSON.stringify(value)));
      if (problem) throw new Error(problem);
    }),
    { numRuns: n },
  );
  t.equal(tried, n, `${tried} random JSON bodies answered by contract`);
});

t.test('random AdmissionReview-shaped bodies (valid envelope, random request fields)', async (t) => {
  const n = runs(1500);
  const base = loadAdmissionReview('deployment-create');
  const field = fc.oneof(fc.jsonValue({ maxDepth: 4 }), fc.string(), fc.constantFrom('CREATE', 'UPDATE', 'Pod', 'Deployment', '', 'apps'));
  const request = fc.record(
    {
      uid: fc.oneof(fc.uuid(), fc.jsonValue({ maxDepth: 2 })),
      kind: fc.oneof(
        fc.record({
          group: fc.constantFrom('', 'apps', 'batch'),
          version: fc.constant('v1'),
          kind: fc.constantFrom('Pod', 'Deployment', 'CronJob', 'Job', 'Unknown'),
        }),
        fc.jsonValue({ maxDepth: 3 }),
      ),
      operation: fc.oneof(fc.constantFrom('CREATE', 'UPDATE', 'DELETE', 'CONNECT'), field),
      namespace: field,
      name: field,
      subResource: field,
      dryRun: field,
      resource: field,
      userInfo: field,
      object: fc.oneof(fc.constant(base.request.object), fc.jsonValue({ maxDepth: 6 })),
      oldObject: fc.oneof(fc.constant(null), fc.constant(base.request.object), fc.jsonValue({ maxDepth: 4 })),
    },
    { requiredKeys: [] },
  );
  let decisions = 0;
  await fc.assert(
    fc.asyncProperty(request, async (req) => {
      const body = { apiVersion: 'admission.k8s.io/v1', kind: 'AdmissionReview', request: req };
      const answer = await post(JSON.stringify(body));
      if (answer.status === 200) decisions++;
      const problem = verdictProblem(answer, uidOf(body));
      if (problem) throw new Error(problem);
    }),
    { numRuns: n },
  );
  t.ok(decisions > 0, `${n} shaped bodies answered by contract, ${decisions} of them with a decision`);
});

/** Every path of a JSON value, parents before children. */
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

function nested(depth: number, leaf: unknown = 'x'): unknown {
  let v: unknown = leaf;
  for (let i = 0; i < depth; i++) v = i % 2 === 0 ? [v] : { a: v };
  return v;
}

/** Values of every wrong type, and right-typed values that are hostile. */
const HOSTILE_VALUES: ReadonlyArray<readonly [string, () => unknown]> = [
  ['null', () => null],
  ['true', () => true],
  ['0', () => 0],
  ['-1.5e308', () => -1.5e308],
  ['""', () => ''],
  ['64 KiB string', () => 'x'.repeat(64 * 1024)],
  ['lone surrogate', () => '\ud800'],
  ['[]', () => []],
  ['["a", 1]', () => ['a', 1]],
  ['{}', () => ({})],
  ['2000-deep nesting', () => nested(2000)],
  ['an ECR image string', () => `${HOST}/app:unsigned`],
];

/** Each path of these gets every hostile value (HARDENING_ALL_FIXTURES=1: every fixture);
 *  between them they hold a Pod with init and ephemeral containers, an UPDATE with its
 *  oldObject, the deepest template (CronJob) and a PodTemplate. */
const MUTATED_FIXTURES =
  process.env.HARDENING_ALL_FIXTURES === '1'
    ? ADMISSION_FIXTURES
    : (['pod-ephemeralcontainers-update', 'deployment-update-image', 'cronjob-create', 'podtemplate-create'] as const);

t.test('wrong types at every path of AdmissionReview fixtures', async (t) => {
  let tried = 0;
  const failures: string[] = [];
  const cases: Array<{ label: string; body: unknown }> = [];
  for (const name of MUTATED_FIXTURES) {
    for (const path of pathsOf(loadAdmissionReview(name))) {
      for (const [label, make] of HOSTILE_VALUES)
        cases.push({ label: `${name} ${path.join('.') || '(body)'} = ${label}`, body: setAt(loadAdmissionReview(name), path, make()) });
    }
  }
  // Many at a time, as an API server under load sends them.
  for (let i = 0; i < cases.length; i += 32) {
    await Promise.all(
      cases.slice(i, i + 32).map(async ({ label, body }) => {
        const problem = verdictProblem(await post(JSON.stringify(body)), uidOf(body));
        tried++;
        if (problem && failures.length < 20) failures.push(`${label}: ${problem}`);
      }),
    );
  }
  t.same(failures, [], `${tried} mutated fixtures answered by contract`);
  t.comment(`wrong-type mutations: ${tried}`);
});

function podReview(containers: unknown[], extra: Record<string, unknown> = {}): FixtureAdmissionReview {
  const review = loadAdmissionReview('pod-create');
  (review.request.object as { spec: Record<string, unknown> }).spec = { containers, ...extra };
  return review;
}

function decisionOf(answer: Answer): AdmissionReviewResponse['response'] {
  if (answer.status !== 200) throw new Error(`expected a decision, got ${answer.status}: ${answer.body.slice(0, 200)}`);
  return (JSON.parse(answer.body) as AdmissionReviewResponse).response;
}

t.test('huge container lists', async (t) => {
  const many = Array.from({ length: 20_000 }, (_, i) => ({ name: `c${i}`, image: `${HOST}/app:1.0` }));
  const tooMany = decisionOf(await post(JSON.stringify(podReview(many))));
  t.equal(tooMany.allowed, false, '20,000 containers: denied without checking each');
  t.match(tooMany.status?.message, /more than 256 containers/);

  // 256 distinct ECR images, none of which exists: every one is looked up, under one deadline.
  const distinct = Array.from({ length: 256 }, (_, i) => ({ name: `c${i}`, image: `${HOST}/missing-${i}:1` }));
  const started = Date.now();
  const checked = decisionOf(await post(JSON.stringify(podReview(distinct))));
  t.equal(checked.allowed, false);
  t.ok(Date.now() - started < BUDGET_MS + SLACK_MS, `256 distinct images decided in ${Date.now() - started} ms`);

  const same = Array.from({ length: 256 }, (_, i) => ({ name: `c${i}`, image: `${HOST}/app:1.0` }));
  h.runtime.cache.clear();
  h.sandbox.resetCalls();
  const one = decisionOf(await post(JSON.stringify(podReview(same))));
  t.equal(one.allowed, true, '256 containers of one good image: admitted');
  const byTag = h.sandbox.callLog().filter((c) => c.op === 'ecr:BatchGetImage' && JSON.stringify(c.input).includes('"imageTag":"1.0"'));
  t.equal(byTag.length, 1, 'and its tag is resolved once');
  t.ok(JSON.stringify(one).length < 64 * 1024, 'the answer stays small (audit annotation bounded)');
});

t.test('deep nesting, built as text beyond what JSON.stringify can make', async (t) => {
  const valid = JSON.stringify(loadAdmissionReview('pod-create'));
  const deepArray = (n: number) => `${'['.repeat(n)}${']'.repeat(n)}`;
  const deepObject = (n: number) => `${'{"a":'.repeat(n)}1${'}'.repeat(n)}`;
  const cases: Array<[string, string]> = [
    ['body is a 1,000,000-deep array', deepArray(1_000_000)],
    ['body is a 300,000-deep object', deepObject(300_000)],
    ['apiVersion 500,000 deep', valid.replace('"apiVersion":"admission.k8s.io/v1"', `"apiVersion":${deepArray(500_000)}`)],
    ['request.kind.kind 500,000 deep', valid.replace('"kind":"Pod"', `"kind":${deepArray(500_000)}`)],
    ['request.resource.group 500,000 deep', valid.replace('"resource":{"group":""', `"resource":{"group":${deepArray(500_000)}`)],
    [
      'request.resource.version 300,000 deep object',
      valid.replace('"resource":{"group":"","version":"v1"', `"resource":{"group":"","version":${deepObject(300_000)}`),
    ],
    ['request.uid 500,000 deep', valid.replace(/"uid":"[^"]+"/, `"uid":${deepArray(500_000)}`)],
    ['userInfo.username 500,000 deep', valid.replace(/"username":"[^"]+"/, `"username":${deepArray(500_000)}`)],
    ['an annotation 500,000 deep', valid.replace('"labels":', `"annotations":{"x":${deepArray(500_000)}},"labels":`)],
    ['a container image 500,000 deep', valid.replace(/"image":"[^"]+"/, `"image":${deepArray(500_000)}`)],
    ['object 300,000 deep', valid.replace('"object":{', `"object":{"deep":${deepObject(300_000)},`)],
  ];
  for (const [label, text] of cases) {
    t.ok(text.length < 3 * 1024 * 1024, `${label}: under the body limit`);
    const problem = verdictProblem(await post(text));
    t.notOk(problem, `${label}: ${problem ?? 'answered by contract'}`);
  }
});

t.test('very long strings', async (t) => {
  const mb = (n: number) => 'a'.repeat(n * 1024 * 1024);
  const at = (mutate: (r: FixtureAdmissionReview) => void) => {
    const r = loadAdmissionReview('pod-create');
    mutate(r);
    return JSON.stringify(r);
  };
  const cases: Array<[string, string, number]> = [
    [
      'uid of 2 MiB',
      at((r) => {
        r.request.uid = mb(2);
      }),
      400,
    ],
    [
      'name of 2 MiB',
      at((r) => {
        r.request.name = mb(2);
      }),
      200,
    ],
    [
      'namespace of 2 MiB',
      at((r) => {
        r.request.namespace = mb(2);
      }),
      200,
    ],
    [
      'kind of 2 MiB',
      at((r) => {
        r.request.kind.kind = mb(2);
      }),
      200,
    ],
    [
      'operation of 2 MiB',
      at((r) => {
        r.request.operation = mb(2) as 'CREATE';
      }),
      200,
    ],
    ['image of 2 MiB', JSON.stringify(podReview([{ name: 'a', image: mb(2) }])), 200],
    ['ECR host with a 2 MiB tag', JSON.stringify(podReview([{ name: 'a', image: `${HOST}/app:${mb(2)}` }])), 200],
    ['container name of 2 MiB', JSON.stringify(podReview([{ name: mb(2), image: `${HOST}/app:1.0` }])), 200],
    [
      '19 MiB body (over the 18 MiB + 64 KiB limit)',
      at((r) => {
        r.request.name = mb(19);
      }),
      413,
    ],
  ];
  for (const [label, text, status] of cases) {
    const answer = await post(text);
    t.equal(answer.status, status, `${label}: ${status}`);
    t.notOk(verdictProblem(answer), `${label}: answered by contract`);
    // The API server itself bounds names, namespaces and kinds; an image string it does not.
    // What matters here is that nothing is amplified: no answer is much larger than its input.
    t.ok(answer.body.length < text.length + 64 * 1024, `${label}: the answer (${answer.body.length} bytes) is not larger than the input`);
  }
});

t.test('invalid UTF-8 and odd encodings', async (t) => {
  const valid = JSON.stringify(podReview([{ name: 'app', image: `${HOST}/app:1.0` }]));
  const bytes = (s: string) => Buffer.from(s, 'utf8');
  const splice = (text: string, marker: string, raw: number[]) => {
    const i = text.indexOf(marker);
    return Buffer.concat([bytes(text.slice(0, i)), Buffer.from(raw), bytes(text.slice(i))]);
  };
  const cases: Array<[string, Buffer, string?]> = [
    ['0xff in the image', splice(valid, ':1.0"', [0xff, 0xfe])],
    ['overlong "/" (0xc0 0xaf) in the image', splice(valid, '/app', [0xc0, 0xaf])],
    ['UTF-16 surrogate bytes (0xed 0xa0 0x80) in the uid', splice(valid, '"}', [0xed, 0xa0, 0x80])],
    ['truncated sequence at the end', Buffer.concat([bytes(valid), Buffer.from([0xe2, 0x82])])],
    ['NUL inside the image', bytes(valid.replace(':1.0"', ':1.0\\u0000"'))],
    ['escaped lone surrogates in the image', bytes(valid.replace(':1.0"', ':1.0\\ud800\\udfff\\udc00"'))],
    ['UTF-8 BOM before the body', Buffer.concat([Buffer.from([0xef, 0xbb, 0xbf]), bytes(valid)])],
    ['UTF-16LE body', Buffer.from(valid, 'utf16le')],
    ['body declared charset=utf-16', bytes(valid), 'application/json; charset=utf-16'],
    ['body declared text/plain', bytes(valid), 'text/plain'],
    ['body declared application/x-www-form-urlencoded', bytes(valid), 'application/x-www-form-urlencoded'],
    ['body declared application/yaml', bytes(valid), 'application/yaml'],
  ];
  for (const [label, body, contentType] of cases) {
    const answer = await post(body, contentType);
    const problem = verdictProblem(answer);
    t.notOk(problem, `${label}: ${problem ?? `answered ${answer.status}`}`);
    if (answer.status === 200) {
      const response = (JSON.parse(answer.body) as AdmissionReviewResponse).response;
      if (label.includes('image')) t.equal(response.allowed, false, `${label}: a mangled image is not admitted`);
    }
  }
});

t.test('duplicate keys: the value JSON.parse keeps (the last) is the value checked', async (t) => {
  const good = `${HOST}/app:1.0`;
  const bad = `${HOST}/app:unsigned`;
  const review = JSON.stringify(podReview([{ name: 'app', image: good }]));
  const dupImage = review.replace(`"image":"${good}"`, `"image":"${good}","image":"${bad}"`);
  const denied = decisionOf(await post(dupImage));
  t.equal(denied.allowed, false, 'a second "image" key is the one checked, so it cannot hide behind the first');
  const dupImageReversed = review.replace(`"image":"${good}"`, `"image":"${bad}","image":"${good}"`);
  t.equal(decisionOf(await post(dupImageReversed)).allowed, true, 'and the last one wins the other way round too');

  const dupContainers = review.replace('"containers":[', `"containers":[{"name":"x","image":"${bad}"}],"containers":[`);
  t.equal(decisionOf(await post(dupContainers)).allowed, true, 'duplicate "containers": the last list is the one checked');
  const dupContainersBadLast = review.replace('"containers":[', `"containers":[{"name":"x","image":"${good}"}],"containers":[{"name":"y","image":"${bad}"},`);
  t.equal(decisionOf(await post(dupContainersBadLast)).allowed, false);

  const dupUid = review.replace(/"uid":"([^"]+)"/, '"uid":"first","uid":"second"');
  t.equal(decisionOf(await post(dupUid)).uid, 'second', 'duplicate uid: the answer echoes the value parsed');
  const dupRequest = review.replace('"request":{', '"request":{"uid":"shadow"},"request":{');
  t.notOk(verdictProblem(await post(dupRequest)), 'duplicate request: answered by contract');
  const dupOperation = review.replace('"operation":"CREATE"', '"operation":"DELETE","operation":"CREATE"');
  t.equal(
    decisionOf(await post(dupOperation)).auditAnnotations?.decision,
    'allow',
    'duplicate operation: the CREATE that is parsed is checked (not skipped as a DELETE)',
  );
  // Removed, not refused: a 400 is a failure the requester could choose, which failurePolicy
  // Ignore admits unchecked (attacker review).
  const proto = review.replace('"request":{', '"request":{"__proto__":{"allowed":true},');
  const protoAnswer = await post(proto);
  t.notOk(verdictProblem(protoAnswer), '__proto__ keys: removed, and the review answered by contract');
  t.equal(decisionOf(protoAnswer).allowed, true, 'the good image, judged');
  const protoInMap = review
    .replace(`"image":"${good}"`, `"image":"${bad}"`)
    .replace('"containers":[', '"volumes":[{"name":"v","csi":{"driver":"x.example.com","volumeAttributes":{"__proto__":"a"}}}],"containers":[');
  t.equal(decisionOf(await post(protoInMap)).allowed, false, "a __proto__ key in a CSI volume's attributes: the bad image is still judged, and denied");
  const ctor = review.replace('"request":{', '"request":{"constructor":{"prototype":{"allowed":true}},');
  t.notOk(verdictProblem(await post(ctor)), 'constructor.prototype keys: answered by contract');
  t.equal(({} as { allowed?: unknown }).allowed, undefined, 'and Object.prototype is untouched');
});

t.test('missing uid, unknown kinds, wrong apiVersion and kind', async (t) => {
  const base = () => loadAdmissionReview('deployment-create') as unknown as { apiVersion: unknown; kind: unknown; request: Record<string, unknown> };
  const cases: Array<[string, (r: ReturnType<typeof base>) => void, number, RegExp?]> = [
    [
      'no uid',
      (r) => {
        delete r.request.uid;
      },
      400,
      /uid/,
    ],
    [
      'uid null',
      (r) => {
        r.request.uid = null;
      },
      400,
      /uid/,
    ],
    [
      'uid a number',
      (r) => {
        r.request.uid = 7;
      },
      400,
      /uid/,
    ],
    [
      'empty uid',
      (r) => {
        r.request.uid = '';
      },
      400,
      /uid/,
    ],
    [
      'apiVersion v1beta1',
      (r) => {
        r.apiVersion = 'admission.k8s.io/v1beta1';
      },
      400,
      /apiVersion/,
    ],
    [
      'apiVersion missing',
      (r) => {
        delete r.apiVersion;
      },
      400,
      /apiVersion/,
    ],
    [
      'apiVersion an object',
      (r) => {
        r.apiVersion = { secret: 's3cr3t'.repeat(100) };
      },
      400,
      /apiVersion/,
    ],
    [
      'apiVersion with a trailing space',
      (r) => {
        r.apiVersion = 'admission.k8s.io/v1 ';
      },
      400,
      /apiVersion/,
    ],
    [
      'kind AdmissionReviewList',
      (r) => {
        r.kind = 'AdmissionReviewList';
      },
      400,
      /kind/,
    ],
    [
      'kind lower case',
      (r) => {
        r.kind = 'admissionreview';
      },
      400,
      /kind/,
    ],
    [
      'request an array',
      (r) => {
        (r as { request: unknown }).request = [r.request];
      },
      400,
      /request/,
    ],
    [
      'unknown kind in a known group',
      (r) => {
        r.request.kind = { group: 'apps', version: 'v1', kind: 'Deploymentt' };
      },
      200,
    ],
    [
      'a CRD kind',
      (r) => {
        r.request.kind = { group: 'example.com', version: 'v1', kind: 'Widget' };
      },
      200,
    ],
    [
      'Deployment in the core group',
      (r) => {
        r.request.kind = { group: '', version: 'v1', kind: 'Deployment' };
      },
      200,
    ],
    [
      'lower-case pod kind',
      (r) => {
        r.request.kind = { group: '', version: 'v1', kind: 'pod' };
      },
      200,
    ],
  ];
  for (const [label, mutate, status, why] of cases) {
    const r = base();
    mutate(r);
    const answer = await post(JSON.stringify(r));
    t.equal(answer.status, status, `${label}: ${status}`);
    t.notOk(verdictProblem(answer), `${label}: answered by contract`);
    if (why) t.match((JSON.parse(answer.body) as { error: string }).error, why, `${label}: the reason says what is wrong`);
    if (status === 200)
      t.equal((JSON.parse(answer.body) as AdmissionReviewResponse).response.allowed, true, `${label}: not a kind with a pod template, so skipped`);
    t.ok(answer.body.length < 2048, `${label}: the answer does not echo the body`);
  }
});

t.test('memory stays bounded over a large hostile batch; metric series do not grow with input', async (t) => {
  const batch = runs(3000);
  const hostile = fc.sample(
    fc.oneof(
      fc.jsonValue({ maxDepth: 4 }).map((v) => JSON.stringify(v)),
      fc
        .record({ uid: fc.uuid(), kind: fc.string({ minLength: 1, maxLength: 200 }), op: fc.string({ maxLength: 200 }), ns: fc.string({ maxLength: 63 }) })
        .map(({ uid, kind, op, ns }) =>
          JSON.stringify({
            apiVersion: 'admission.k8s.io/v1',
            kind: 'AdmissionReview',
            request: { uid, operation: op, namespace: ns, kind: { group: kind.slice(0, 10), version: 'v1', kind }, object: {} },
          }),
        ),
      fc.nat({ max: 1_000_000 }).map((i) => JSON.stringify(podReview([{ name: 'a', image: `${HOST}/missing-${i}:1` }]))),
    ),
    { numRuns: batch, seed: 8 },
  );
  const warm = async (items: string[]) => {
    for (let i = 0; i < items.length; i += 50) await Promise.all(items.slice(i, i + 50).map((b) => post(b)));
  };
  await warm(hostile.slice(0, 500));
  const before = await settledHeap();
  await warm(hostile);
  const after = await settledHeap();
  const grewMb = (after - before) / 1024 / 1024;
  t.comment(`heap ${(before / 1048576).toFixed(1)} MiB -> ${(after / 1048576).toFixed(1)} MiB over ${batch} hostile bodies`);
  // The fact cache may keep up to maxEntries negative answers; that is bounded and small.
  t.ok(grewMb < 24, `heap grew ${grewMb.toFixed(1)} MiB over ${batch} hostile bodies`);
  const series = (await h.metrics.registry.getMetricsAsJSON()).reduce((n, m) => n + (m.values as unknown[]).length, 0);
  t.ok(series < 2000, `${series} metric series: labels are not taken from request input`);
  t.comment(`slowest answer in this file: ${Math.round(slowest)} ms`);
});
