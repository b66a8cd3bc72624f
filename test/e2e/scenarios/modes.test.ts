// warn and audit mode (policy overrides by namespace) through a real kube-apiserver: warn
// admits and the warning reaches the client (kubectl prints "Warning: ..."); audit admits
// silently and the webhook's audit annotations are recorded in the API server's audit log
// (turned on with --audit-policy-file / --audit-log-path), as well as in the webhook's log.
import t from 'tap';
import { setTimeout as sleep } from 'node:timers/promises';
import { attempt } from '../support/admission.ts';
import { WEBHOOK_NAME } from '../support/chart.ts';
import type { AuditEvent, Cluster } from '../support/cluster.ts';
import { buildEcrWorld, CRITICAL_CVE } from '../support/ecr-world.ts';
import { NS, ecrPolicyValues } from '../support/policy.ts';
import { startStack } from '../support/stack.ts';
import { deployment, manifest, pod } from '../support/workloads.ts';

t.setTimeout(10 * 60_000);

const world = await buildEcrWorld();
const { images } = world;
const key = (name: string) => `${WEBHOOK_NAME}/${name}`;

/** The ResponseComplete audit event of a create, waiting for the log backend to write it. */
async function auditEventOf(cluster: Cluster, resource: string, namespace: string, name: string): Promise<AuditEvent | undefined> {
  const deadline = Date.now() + 5000;
  for (;;) {
    const event = cluster
      .auditEvents()
      .find(
        (e) =>
          e.stage === 'ResponseComplete' &&
          e.verb === 'create' &&
          e.objectRef?.resource === resource &&
          e.objectRef.namespace === namespace &&
          e.objectRef.name === name,
      );
    if (event || Date.now() > deadline) return event;
    await sleep(100);
  }
}

t.test('warn and audit modes through the API server', async (t) => {
  const { cluster, webhook } = await startStack(t, {
    name: 'scenario-modes',
    fixture: world.fixture,
    values: () => ecrPolicyValues(world),
    namespaces: [NS.enforce, NS.warn, NS.audit],
    audit: true,
  });
  const { core, apps } = cluster;

  await t.test('warn mode admits, and the warning reaches kubectl and the client', async (t) => {
    const run = await cluster.kubectl(['apply', '-f', '-'], manifest(pod('warned', images.unsigned), NS.warn));
    t.equal(run.code, 0, `kubectl apply succeeds\n${run.stderr}`);
    t.match(run.stdout, 'pod/warned created');
    t.match(run.stderr, /^Warning: ecr-admission: app: \[signature\] no Notation signature found on sha256:[0-9a-f]{12}/m, 'kubectl prints the warning');
    for (const line of run.stderr.trim().split('\n')) t.ok(line.length <= 'Warning: '.length + 119, `warning within 120 characters: ${line}`);
    t.ok(await core.readNamespacedPod({ namespace: NS.warn, name: 'warned' }), 'the Pod exists');

    const outcome = await attempt((options) =>
      apps.createNamespacedDeployment({ namespace: NS.warn, body: deployment('warned-deploy', images.critical) }, options),
    );
    t.ok(outcome.allowed, 'a Deployment with a critical finding is admitted in warn mode');
    t.equal(outcome.warnings.length, 1, `one warning in the response headers: ${JSON.stringify(outcome.warnings)}`);
    t.match(outcome.warnings[0], `ecr-admission: app: [vulnerabilities] 1 CRITICAL finding: ${CRITICAL_CVE}`);
    t.equal((await webhook.waitForReview((r) => r.name === 'warned-deploy'))?.decision, 'warn', 'the webhook logged decision warn');

    const same = await attempt(() => apps.createNamespacedDeployment({ namespace: NS.enforce, body: deployment('enforced-deploy', images.critical) }));
    t.equal(same.code, 403, 'the same Deployment is denied where the policy enforces');
  });

  await t.test('audit mode admits silently and the API server records the audit annotations', async (t) => {
    const run = await cluster.kubectl(['apply', '-f', '-'], manifest(pod('audited', images.unsigned), NS.audit));
    t.equal(run.code, 0, 'kubectl apply succeeds');
    t.match(run.stdout, 'pod/audited created');
    t.equal(run.stderr, '', 'no warning, nothing on stderr');
    const outcome = await attempt((options) => core.createNamespacedPod({ namespace: NS.audit, body: pod('audited-critical', images.critical) }, options));
    t.ok(outcome.allowed, 'a Pod with a critical finding is admitted in audit mode');
    t.same(outcome.warnings, [], 'without warnings');

    const event = await auditEventOf(cluster, 'pods', NS.audit, 'audited');
    t.ok(event, 'the API server wrote an audit event for the create');
    t.equal(event?.responseStatus?.code, 201, 'the create succeeded');
    t.equal(event?.annotations?.[key('decision')], 'audit', `annotation ${key('decision')}`);
    t.match(
      event?.annotations?.[key('audit-violations')],
      /^app: \[signature\] no Notation signature found on sha256:[0-9a-f]{12}/,
      `annotation ${key('audit-violations')} says what was violated`,
    );
    const summary = JSON.parse(event?.annotations?.[key('images')] ?? '[]') as Array<{ container: string; mode: string; results: Record<string, string> }>;
    t.same(
      summary.map((i) => [i.container, i.mode, i.results.signature]),
      [['app', 'audit', 'fail']],
      `annotation ${key('images')} summarises each image`,
    );

    const critical = await auditEventOf(cluster, 'pods', NS.audit, 'audited-critical');
    t.match(critical?.annotations?.[key('audit-violations')], `[vulnerabilities] 1 CRITICAL finding: ${CRITICAL_CVE}`);
    const logged = await webhook.waitForReview((r) => r.name === 'audited');
    t.equal(logged?.decision, 'audit', 'the webhook logged decision audit');
    t.match(logged?.images[0]?.results.signature, 'fail: no Notation signature found');
  });

  await t.test('an allowed and a denied admission are audited with their decision', async (t) => {
    await core.createNamespacedPod({ namespace: NS.enforce, body: pod('clean', images.good) });
    const clean = await auditEventOf(cluster, 'pods', NS.enforce, 'clean');
    t.equal(clean?.annotations?.[key('decision')], 'allow');
    t.notOk(clean?.annotations?.[key('audit-violations')], 'no violations');

    const refused = await attempt(() => core.createNamespacedPod({ namespace: NS.enforce, body: pod('refused', images.tampered) }));
    t.equal(refused.code, 403);
    const deniedEvent = await auditEventOf(cluster, 'pods', NS.enforce, 'refused');
    t.equal(deniedEvent?.responseStatus?.code, 403, 'the audit log records the refusal');
    t.equal(deniedEvent?.annotations?.[key('decision')], 'deny');
  });
});
