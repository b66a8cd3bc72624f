// The webhook app through inject(): the HTTP contract of POST /validate.
import t from 'tap';
import { Writable } from 'node:stream';
import { pino, type Logger } from 'pino';
import { buildWebhookApp } from '../../src/server/app.ts';
import { createMetrics } from '../../src/support/metrics.ts';
import type { AdmissionReviewResponse } from '../../src/admission/codec.ts';
import { loadAdmissionReview } from '../fixtures/admission.ts';
import { FIXTURE_POLICY, reviewerFor, silentLogger } from '../fixtures/policy.ts';

function logCapture(): { logger: Logger; lines: () => Array<Record<string, unknown>> } {
  const chunks: string[] = [];
  const stream = new Writable({
    write(chunk: Buffer, _enc, cb) {
      chunks.push(chunk.toString('utf8'));
      cb();
    },
  });
  const logger: Logger = pino({ level: 'info' }, stream);
  return {
    logger,
    lines: () =>
      chunks
        .join('')
        .split('\n')
        .filter(Boolean)
        .map((l) => JSON.parse(l) as Record<string, unknown>),
  };
}

function app(t: { teardown(fn: () => unknown): void }, options: { maxBodyBytes?: number; logger?: Logger } = {}) {
  const metrics = createMetrics();
  const webhook = buildWebhookApp({
    reviewer: reviewerFor(FIXTURE_POLICY, { metrics }),
    logger: options.logger ?? silentLogger,
    metrics,
    ...(options.maxBodyBytes !== undefined && { maxBodyBytes: options.maxBodyBytes }),
  });
  t.teardown(() => webhook.close());
  return { webhook, metrics };
}

const post = (webhook: ReturnType<typeof buildWebhookApp>, payload: unknown, headers: Record<string, string> = { 'content-type': 'application/json' }) =>
  webhook.inject({
    method: 'POST',
    url: '/validate',
    headers,
    payload: typeof payload === 'string' || Buffer.isBuffer(payload) ? payload : JSON.stringify(payload),
  });

t.test('an allowed review: 200, the uid echoed, allowed true', async (t) => {
  const { webhook } = app(t);
  const review = loadAdmissionReview('deployment-create');
  const res = await post(webhook, review);
  t.equal(res.statusCode, 200);
  t.match(res.headers['content-type'], /^application\/json/);
  const body = res.json<AdmissionReviewResponse>();
  t.equal(body.apiVersion, 'admission.k8s.io/v1');
  t.equal(body.kind, 'AdmissionReview');
  t.equal(body.response.uid, review.request.uid);
  t.equal(body.response.allowed, true);
  t.ok(body.response.auditAnnotations?.images);
});

t.test('a denied review: status.code 403 and the message, uid echoed', async (t) => {
  const { webhook } = app(t);
  const review = loadAdmissionReview('cronjob-create');
  review.request.namespace = 'team-b';
  const res = await post(webhook, review);
  t.equal(res.statusCode, 200, 'a denial is a successful webhook call');
  const body = res.json<AdmissionReviewResponse>();
  t.equal(body.response.uid, review.request.uid);
  t.equal(body.response.allowed, false);
  t.equal(body.response.status?.code, 403);
  t.equal(body.response.status?.reason, 'Forbidden');
  t.match(
    body.response.status?.message,
    /^ecr-admission denied CronJob team-b\/report: 1 of 2 images failed\n- container "report" ghcr\.io\/example\/report:7: \[origin\] registry ghcr\.io is not allowed/,
  );
});

t.test('warn mode returns warnings (batch-* override)', async (t) => {
  const { webhook } = app(t);
  const body = (await post(webhook, loadAdmissionReview('cronjob-create'))).json<AdmissionReviewResponse>();
  t.equal(body.response.allowed, true);
  t.same(body.response.warnings, ['ecr-admission: report: [origin] registry ghcr.io is not allowed']);
});

t.test('bodies that are not an AdmissionReview get 400 with a reason', async (t) => {
  const { webhook } = app(t);
  const valid = loadAdmissionReview('pod-create');
  const noUid = loadAdmissionReview('pod-create') as unknown as { request: Record<string, unknown> };
  delete noUid.request.uid;
  const longUid = loadAdmissionReview('pod-create');
  longUid.request.uid = 'u'.repeat(129);
  const cases: Array<[label: string, payload: unknown, headers: Record<string, string> | undefined, why: RegExp]> = [
    ['not JSON', '{"apiVersion": "admission.k8s.io/v1", ', undefined, /not valid JSON/],
    ['empty body', '', undefined, /cannot be empty/],
    ['JSON null', 'null', undefined, /body is not a JSON object/],
    ['JSON array', '[1,2]', undefined, /body is not a JSON object/],
    ['text/plain body', 'hello', { 'content-type': 'text/plain' }, /body is not a JSON object/],
    [
      'v1beta1',
      { ...valid, apiVersion: 'admission.k8s.io/v1beta1' },
      undefined,
      /apiVersion must be admission\.k8s\.io\/v1, got "admission\.k8s\.io\/v1beta1"/,
    ],
    ['another kind', { ...valid, kind: 'TokenReview' }, undefined, /kind must be AdmissionReview/],
    ['no request', { apiVersion: 'admission.k8s.io/v1', kind: 'AdmissionReview' }, undefined, /request is missing/],
    ['missing uid', noUid, undefined, /request\.uid must be a non-empty string/],
    ['uid too long', longUid, undefined, /request\.uid must be a non-empty string of at most 128/],
    ['kind not an object', { ...valid, request: { ...valid.request, kind: 'Pod' } }, undefined, /request\.kind must be/],
    ['operation missing', { ...valid, request: { ...valid.request, operation: 7 } }, undefined, /request\.operation must be a string/],
    ['dryRun a string', { ...valid, request: { ...valid.request, dryRun: 'true' } }, undefined, /request\.dryRun must be a boolean/],
    ['prototype poisoning', '{"apiVersion":"admission.k8s.io/v1","kind":"AdmissionReview","__proto__":{"allowed":true}}', undefined, /.+/],
  ];
  for (const [label, payload, headers, why] of cases) {
    const res = await post(webhook, payload, headers);
    t.equal(res.statusCode, 400, label);
    const body = res.json<{ error: string; code: string }>();
    t.match(body.error, why, label);
    t.type(body.code, 'string', `${label} has a code`);
  }
});

t.test('a body over the size limit gets 413 before any parsing', async (t) => {
  const { webhook, metrics } = app(t, { maxBodyBytes: 64 * 1024 });
  const review = loadAdmissionReview('pod-create');
  (review.request.object!.metadata as Record<string, unknown>).annotations = { big: 'x'.repeat(70 * 1024) };
  const res = await post(webhook, review);
  t.equal(res.statusCode, 413);
  t.match(res.json(), { code: 'FST_ERR_CTP_BODY_TOO_LARGE' });
  const counted = await metrics.admissions.get();
  t.ok(
    counted.values.some((v) => v.labels.result === 'invalid' && v.value === 1),
    'counted as invalid',
  );
  const small = await post(webhook, loadAdmissionReview('pod-create'));
  t.equal(small.statusCode, 200, 'an ordinary review fits under the limit');
});

t.test('only POST /validate exists', async (t) => {
  const { webhook } = app(t);
  t.equal((await webhook.inject({ method: 'GET', url: '/validate' })).statusCode, 404);
  t.equal((await webhook.inject({ method: 'POST', url: '/mutate', payload: '{}', headers: { 'content-type': 'application/json' } })).statusCode, 404);
});

t.test('one log line per admission: uid, kind, namespace/name, decision, duration, per-image results; no object', async (t) => {
  const capture = logCapture();
  const { webhook, metrics } = app(t, { logger: capture.logger });
  const review = loadAdmissionReview('pod-create');
  review.request.object!.spec = {
    ...(review.request.object!.spec as object),
    containers: [{ name: 'app', image: 'registry.k8s.io/pause:3.10', env: [{ name: 'DB_PASSWORD', value: 'hunter2' }] }],
  };
  await post(webhook, review);
  const admissions = capture.lines().filter((l) => l.msg === 'admission');
  t.equal(admissions.length, 1);
  const line = admissions[0]!;
  t.match(line, {
    uid: review.request.uid,
    kind: 'Pod',
    operation: 'CREATE',
    namespace: 'team-a',
    name: 'web-7d9c5b8f6-x2k4q',
    decision: 'allow',
    dryRun: false,
    user: 'system:serviceaccount:kube-system:replicaset-controller',
  });
  t.type(line.durationMs, 'number');
  t.match(line.images, [
    { container: 'migrate', results: { origin: 'pass' } },
    { container: 'app', image: 'registry.k8s.io/pause:3.10', results: { origin: 'pass' } },
  ]);
  t.notMatch(JSON.stringify(capture.lines()), /hunter2/, 'no object content (env values can be secrets) in logs');

  const counted = await metrics.admissions.get();
  t.same(
    counted.values.map((v) => v.labels),
    [{ kind: 'Pod', operation: 'CREATE', result: 'allow', dry_run: 'false' }],
  );
  const hist = await metrics.decisionSeconds.get();
  t.ok(hist.values.some((v) => v.metricName === 'ecr_admission_decision_duration_seconds_count' && v.value === 1));
  const checks = await metrics.checkResults.get();
  t.ok(checks.values.some((v) => v.labels.check === 'origin' && v.labels.status === 'pass'));
});

t.test('a request that trickles in is cut after 30 s, the longest any API server waits', async (t) => {
  const metrics = createMetrics();
  const webhook = buildWebhookApp({ reviewer: reviewerFor(FIXTURE_POLICY, { metrics }), logger: silentLogger, metrics });
  t.teardown(() => webhook.close());
  t.equal((webhook.initialConfig as { requestTimeout?: number }).requestTimeout, 30_000);
});

t.test('a hostile container name or image cannot swell the denial message', async (t) => {
  const { decide } = await import('../../src/decision/decide.ts');
  const policy = { name: 'default', mode: 'enforce' as const, onError: 'deny' as const, checks: {} };
  const d = decide({
    kind: 'Pod',
    namespace: 'ns',
    name: 'p',
    images: [
      {
        container: { containerKind: 'container', containerName: 'n'.repeat(5000), image: `x/${'y'.repeat(100_000)}` },
        policy,
        results: [{ check: 'origin', status: 'fail', reason: 'no' }],
      },
    ],
  });
  t.ok((d.message ?? '').length < 1200, `message is ${d.message?.length} characters`);
});
