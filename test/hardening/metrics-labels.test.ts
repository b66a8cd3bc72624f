// Metric labels never come from free text in a request: every distinct label value is a new
// time series held in memory for the life of the process, so made-up kinds or operations
// must not be able to grow the registry.
import fc from 'fast-check';
import t from 'tap';
import { buildWebhookApp } from '../../src/server/app.ts';
import { createMetrics } from '../../src/support/metrics.ts';
import { FIXTURE_POLICY, reviewerFor, silentLogger } from '../fixtures/policy.ts';
import { loadAdmissionReview } from '../fixtures/admission.ts';
import { runs } from './helpers.ts';

t.test('random kinds and operations do not create metric series', async (t) => {
  const metrics = createMetrics();
  const app = buildWebhookApp({ reviewer: reviewerFor(FIXTURE_POLICY, { metrics }), logger: silentLogger, metrics });
  t.teardown(() => app.close());
  const n = runs(2000);
  const requests = fc.sample(
    fc.record({
      uid: fc.uuid(),
      group: fc.constantFrom('', 'apps', 'batch', 'example.com'),
      kind: fc.string({ minLength: 1, maxLength: 100 }),
      operation: fc.oneof(fc.constantFrom('CREATE', 'UPDATE', 'DELETE', 'CONNECT'), fc.string({ maxLength: 100 })),
    }),
    { numRuns: n, seed: 42 },
  );
  for (const r of requests) {
    const body = {
      apiVersion: 'admission.k8s.io/v1',
      kind: 'AdmissionReview',
      request: { uid: r.uid, operation: r.operation, namespace: 'team-a', kind: { group: r.group, version: 'v1', kind: r.kind }, object: {} },
    };
    const res = await app.inject({ method: 'POST', url: '/validate', headers: { 'content-type': 'application/json' }, payload: JSON.stringify(body) });
    if (res.statusCode !== 200) throw new Error(`status ${res.statusCode}`);
  }
  // Known kinds keep their own label.
  await app.inject({
    method: 'POST',
    url: '/validate',
    headers: { 'content-type': 'application/json' },
    payload: JSON.stringify(loadAdmissionReview('deployment-create')),
  });

  const admissions = (await metrics.admissions.get()).values;
  const durations = (await metrics.decisionSeconds.get()).values;
  t.ok(admissions.length <= 5 * 6, `${admissions.length} admission series after ${n} made-up kinds and operations`);
  t.ok(durations.length <= 16 * 12, `${durations.length} duration series`);
  t.ok(
    admissions.some((v) => v.labels.kind === 'other' && v.labels.operation === 'other'),
    'made-up values are counted under "other"',
  );
  t.ok(
    admissions.some((v) => v.labels.kind === 'Deployment' && v.labels.operation === 'CREATE'),
    'a kind with a pod template keeps its name',
  );
  const total = admissions.reduce((sum, v) => sum + v.value, 0);
  t.equal(total, n + 1, 'every admission is still counted');
});
