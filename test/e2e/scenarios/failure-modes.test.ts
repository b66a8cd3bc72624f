// Failure modes through a real kube-apiserver: AWS too slow for the admission budget (the
// webhook answers before the API server's timeout and follows onError), the webhook down with
// failurePolicy Fail (rejected) and Ignore (admitted), and the webhook's own namespace and
// kube-system, which the chart's namespaceSelector keeps away from the webhook even while it
// is down.
import t from 'tap';
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { attempt } from '../support/admission.ts';
import { RELEASE_NAMESPACE, WEBHOOK_NAME, pointedAt, renderChart } from '../support/chart.ts';
import { waitForAdmission } from '../support/cluster.ts';
import { buildEcrWorld } from '../support/ecr-world.ts';
import { NS, ecrPolicyValues } from '../support/policy.ts';
import { PROBE_IMAGE, PROBE_NAMESPACE, startStack } from '../support/stack.ts';
import { manifest, pod } from '../support/workloads.ts';

t.setTimeout(10 * 60_000);

// The chart derives the server's budget from the API server's timeout: 5 s -> 3000 ms.
const TIMEOUT_SECONDS = 5;
const BUDGET_MS = TIMEOUT_SECONDS * 1000 - 2000;
// Every AWS call takes longer than the whole API server timeout.
const AWS_LATENCY_MS = 7000;

const world = await buildEcrWorld();
const { images } = world;

t.test('failure modes through the API server', async (t) => {
  const values = (failurePolicy: 'Fail' | 'Ignore') => ecrPolicyValues(world, { timeoutSeconds: TIMEOUT_SECONDS, failurePolicy });
  const stack = await startStack(t, {
    name: 'scenario-failure-modes',
    fixture: world.fixture,
    values: () => values('Fail'),
    namespaces: [NS.enforce, NS.lenient],
  });
  const { cluster, sandbox, webhook, chart } = stack;
  const { core } = cluster;
  t.equal(chart.webhookConfiguration.webhooks?.[0]?.timeoutSeconds, TIMEOUT_SECONDS, 'the chart rendered timeoutSeconds');
  t.equal(chart.webhookEnv.find((e) => e.name === 'ECR_ADMISSION_BUDGET_MS')?.value, String(BUDGET_MS), 'and the budget the webhook runs with');

  await t.test('AWS slower than the budget: the webhook answers in time and follows onError', async (t) => {
    sandbox.setLatency(AWS_LATENCY_MS);
    t.teardown(() => sandbox.setLatency(0));

    const denied = await attempt(() => core.createNamespacedPod({ namespace: NS.enforce, body: pod('slow-deny', images.slowDeny) }));
    t.equal(denied.code, 403, 'onError deny: rejected by the webhook (403), not by the API server timing out');
    t.match(denied.message, `admission webhook "${WEBHOOK_NAME}" denied the request: ecr-admission denied Pod ${NS.enforce}/slow-deny`);
    t.match(denied.message, /could not be verified/, 'the reason says the facts could not be established');
    t.ok(denied.ms >= BUDGET_MS - 200, `answered after the budget was spent (${Math.round(denied.ms)} ms >= ${BUDGET_MS - 200})`);
    t.ok(denied.ms < TIMEOUT_SECONDS * 1000 - 500, `answered well before the API server's ${TIMEOUT_SECONDS} s timeout (${Math.round(denied.ms)} ms)`);

    const run = await cluster.kubectl(['apply', '-f', '-'], manifest(pod('slow-allow', images.slowAllow), NS.lenient));
    t.equal(run.code, 0, `onError allow: admitted\n${run.stderr}`);
    t.match(run.stderr, /^Warning: ecr-admission: app: \[\w+\] not verified \(/m, 'with a warning that says what was not verified');
    t.ok(run.ms < TIMEOUT_SECONDS * 1000, `kubectl got its answer in ${Math.round(run.ms)} ms`);

    const logged = await webhook.waitForReview((r) => r.name === 'slow-allow');
    t.equal(logged?.decision, 'warn', 'the webhook logged the admission as warn');
    t.ok((logged?.durationMs ?? Infinity) < TIMEOUT_SECONDS * 1000 - 500, `the webhook decided in ${logged?.durationMs} ms`);
    t.comment(`onError deny: ${denied.message}`);
    t.comment(`onError allow, kubectl stderr: ${run.stderr.trim()}`);
    t.comment(
      `slow AWS: deny answered in ${Math.round(denied.ms)} ms, allow (kubectl) in ${Math.round(run.ms)} ms, budget ${BUDGET_MS} ms, API server timeout ${TIMEOUT_SECONDS} s`,
    );
  });

  await t.test('the webhook down, failurePolicy Fail: rejected; its namespace and kube-system still admitted', async (t) => {
    await webhook.stop();
    const outcome = await attempt(() => core.createNamespacedPod({ namespace: NS.enforce, body: pod('down-fail', images.good) }));
    t.notOk(outcome.allowed, 'a Pod with a good image is rejected: the webhook cannot be asked');
    t.match(outcome.message, `failed calling webhook "${WEBHOOK_NAME}"`, 'the API server says it could not call the webhook');
    t.match(outcome.message, /connection refused/);

    const run = await cluster.kubectl(['apply', '-f', '-'], manifest(pod('down-fail-kubectl', images.good), NS.enforce));
    t.equal(run.code, 1, 'kubectl apply fails');
    t.match(run.stderr, `Internal error occurred: failed calling webhook "${WEBHOOK_NAME}"`);

    for (const namespace of [RELEASE_NAMESPACE, 'kube-system']) {
      const system = await attempt(() => core.createNamespacedPod({ namespace, body: pod('while-down', images.unsigned) }));
      t.ok(system.allowed, `${namespace}: admitted while the webhook is down ${system.message ?? ''}`);
    }
  });

  await t.test('the webhook down, failurePolicy Ignore (chart value): admitted', async (t) => {
    const dir = join(stack.out, 'chart-ignore');
    mkdirSync(dir, { recursive: true });
    const rendered = await renderChart(dir, {
      ...values('Ignore'),
      aws: { region: 'us-east-1', endpoints: { ecr: sandbox.url, inspector2: sandbox.url, signer: sandbox.url, sts: sandbox.url } },
    });
    t.equal(rendered.webhookConfiguration.webhooks?.[0]?.failurePolicy, 'Ignore', 'the chart renders failurePolicy Ignore');
    const live = await cluster.admission.readValidatingWebhookConfiguration({ name: rendered.webhookConfiguration.metadata?.name ?? '' });
    const updated = pointedAt(rendered.webhookConfiguration, webhook.url, webhook.caPem);
    await cluster.admission.replaceValidatingWebhookConfiguration({
      name: live.metadata?.name ?? '',
      body: { ...updated, metadata: { ...updated.metadata, resourceVersion: live.metadata?.resourceVersion } },
    });
    await waitForAdmission(cluster, { namespace: PROBE_NAMESPACE, image: PROBE_IMAGE, until: (o) => o.allowed });

    const run = await cluster.kubectl(['apply', '-f', '-'], manifest(pod('down-ignore', images.unsigned), NS.enforce));
    t.equal(run.code, 0, `kubectl apply succeeds: the API server ignores the unreachable webhook\n${run.stderr}`);
    t.match(run.stdout, 'pod/down-ignore created');
    t.ok(await core.readNamespacedPod({ namespace: NS.enforce, name: 'down-ignore' }), 'the Pod exists');
  });
});
