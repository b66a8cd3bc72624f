// Enforce mode through a real kube-apiserver calling the webhook over TLS, configured by the
// chart's own ValidatingWebhookConfiguration: which workloads get in, which are kept out, and
// what the person running kubectl reads when they are.
import t from 'tap';
import { attempt } from '../support/admission.ts';
import { RELEASE_NAMESPACE, WEBHOOK_NAME, otherObjectsYaml } from '../support/chart.ts';
import { buildEcrWorld, CRITICAL_CVE, ECR_HOST, RELEASE_PROFILE } from '../support/ecr-world.ts';
import { NS, ecrPolicyValues } from '../support/policy.ts';
import { reviewLogMark, reviewsSince, startStack } from '../support/stack.ts';
import type { AdmissionLogLine } from '../support/webhook.ts';
import { cronJob, deployment, manifest, pod, statefulSet } from '../support/workloads.ts';

t.setTimeout(10 * 60_000);

const world = await buildEcrWorld();
const { images, digests } = world;
const denied = `admission webhook "${WEBHOOK_NAME}" denied the request`;
const short = (digest: string | undefined) => (digest ?? '').slice(0, 19);

/** Each rejected case: the image, the check that must name it, and the reason a developer reads. */
const rejections: Array<{ name: string; image: string; check: string; reason: string }> = [
  { name: 'unsigned', image: images.unsigned, check: 'signature', reason: `no Notation signature found on ${short(digests.unsigned)}` },
  {
    name: 'untrusted',
    image: images.untrusted,
    check: 'signature',
    reason: 'signed by arn:aws:signer:us-east-1:111122223333:/signing-profiles/dev/e2e0dev1, which matches no trusted signing-profile ARN',
  },
  {
    name: 'tampered',
    image: images.tampered,
    check: 'signature',
    reason: 'the signature does not verify with the signing certificate (tampered or corrupted)',
  },
  { name: 'mutable', image: images.mutable, check: 'immutability', reason: 'repository shop/mutable has MUTABLE tags: 1.0.0 can be moved to another image' },
  { name: 'critical', image: images.critical, check: 'vulnerabilities', reason: `1 CRITICAL finding: ${CRITICAL_CVE} (xz-utils 5.6.0, fixed in 5.6.1)` },
  {
    name: 'not-scanned',
    image: images.notScanned,
    check: 'vulnerabilities',
    reason: 'not scanned: it is pending its first Inspector scan (PENDING_INITIAL_SCAN)',
  },
  { name: 'non-ecr', image: images.nonEcr, check: 'origin', reason: 'registry docker.io is not allowed' },
  { name: 'unknown-tag', image: images.unknownTag, check: 'digest', reason: 'tag 9.9.9 not found in repository shop/web (111122223333, us-east-1)' },
];

t.test('enforce mode through the API server', async (t) => {
  const stack = await startStack(t, {
    name: 'scenario-decisions',
    fixture: world.fixture,
    // The NetworkPolicy is rendered too, so the dry-run below validates it against the API server.
    values: () => ({ ...ecrPolicyValues(world), networkPolicy: { enabled: true } }),
    namespaces: [NS.enforce],
  });
  const { cluster, chart, webhook } = stack;
  const { core, apps, batch } = cluster;
  const ns = NS.enforce;
  const reviewOf = (kind: string, name: string, dryRun = false, operation = 'CREATE') =>
    webhook.waitForReview((r) => r.kind === kind && r.name === name && r.namespace === ns && r.dryRun === dryRun && r.operation === operation);
  const appImage = (review: AdmissionLogLine | undefined) => review?.images.find((i) => i.container === 'app');

  await t.test("the chart's webhook configuration is what the API server runs", async (t) => {
    const live = await cluster.admission.readValidatingWebhookConfiguration({ name: chart.webhookConfiguration.metadata?.name ?? '' });
    const [rendered] = chart.webhookConfiguration.webhooks ?? [];
    const [running] = live.webhooks ?? [];
    if (!rendered || !running) throw new Error('no webhook in the configuration');
    t.equal(running.name, WEBHOOK_NAME);
    t.equal(running.clientConfig.url, webhook.url, 'clientConfig points at the local webhook');
    t.notOk(running.clientConfig.service, 'no service reference');
    t.equal(rendered.failurePolicy, 'Ignore', 'rendered with failurePolicy Ignore (nothing rejected before a pod serves)');
    t.equal(
      running.failurePolicy,
      chart.webhookConfiguration.metadata?.annotations?.['ecr-admission.io/failure-policy'],
      "running with the chart's target, as a serving pod switches it",
    );
    t.equal(running.timeoutSeconds, rendered.timeoutSeconds, 'timeoutSeconds as rendered');
    t.equal(running.sideEffects, 'None');
    t.same(running.rules, rendered.rules, 'rules as rendered');
    t.same(running.namespaceSelector, rendered.namespaceSelector, 'namespaceSelector as rendered');
    t.same(running.matchConditions, rendered.matchConditions, 'matchConditions as rendered');
    t.ok((rendered.matchConditions ?? []).length > 0, 'the chart renders matchConditions');
  });

  await t.test("the chart's other objects pass the API server's validation (server-side dry-run)", async (t) => {
    const run = await cluster.kubectl(['apply', '--dry-run=server', '-f', '-'], otherObjectsYaml(chart));
    t.equal(run.code, 0, `kubectl apply --dry-run=server accepts every object\n${run.stderr}`);
    const kinds = chart.objects.filter((o) => o.kind !== 'ValidatingWebhookConfiguration').map((o) => o.kind);
    for (const kind of ['Deployment', 'Service', 'ConfigMap', 'Secret', 'ServiceAccount', 'PodDisruptionBudget', 'NetworkPolicy']) {
      t.ok(kinds.includes(kind), `the chart rendered a ${kind}`);
    }
    t.equal(
      run.stdout
        .trim()
        .split('\n')
        .filter((l) => l.endsWith('(server dry run)')).length,
      kinds.length,
      `one dry-run line per object:\n${run.stdout}`,
    );
    const left = await cluster.kubectl(['get', 'deployments,services,configmaps,secrets', '-n', RELEASE_NAMESPACE, '-o', 'name']);
    t.notMatch(left.stdout, /ecr-admission/, 'the dry-run left no object behind');
  });

  await t.test('a signed image from an immutable repository without critical findings is admitted', async (t) => {
    const byClient: Array<[string, string, () => Promise<unknown>]> = [
      ['Pod', 'good-pod', () => core.createNamespacedPod({ namespace: ns, body: pod('good-pod', images.good) })],
      [
        'Deployment',
        'good-deploy',
        () => apps.createNamespacedDeployment({ namespace: ns, body: deployment('good-deploy', images.good, { initImages: [images.good2] }) }),
      ],
      ['CronJob', 'good-cron', () => batch.createNamespacedCronJob({ namespace: ns, body: cronJob('good-cron', images.good) })],
      ['StatefulSet', 'good-sts', () => apps.createNamespacedStatefulSet({ namespace: ns, body: statefulSet('good-sts', images.good) })],
    ];
    for (const [kind, name, create] of byClient) {
      const outcome = await attempt(() => create());
      t.ok(outcome.allowed, `${kind} admitted through @kubernetes/client-node ${outcome.message ?? ''}`);
      t.same(outcome.warnings, [], `${kind}: no warning`);
      const review = await reviewOf(kind, name);
      t.equal(review?.decision, 'allow', `the webhook reviewed the ${kind} and allowed it`);
      t.equal(appImage(review)?.digest, digests.good, `${kind}: decided on the digest the tag names`);
      t.same(
        appImage(review)?.results,
        { origin: 'pass', digest: 'pass', immutability: 'pass', signature: 'pass', vulnerabilities: 'pass' },
        `${kind}: every check passed`,
      );
    }
    const withInit = await reviewOf('Deployment', 'good-deploy');
    t.same(
      withInit?.images.map((i) => [i.container, i.digest]),
      [
        ['init-0', digests.good2],
        ['app', digests.good],
      ],
      'the init container image was checked too',
    );

    for (const [kind, object] of [
      ['Pod', pod('good-pod-kubectl', images.good)],
      ['Deployment', deployment('good-deploy-kubectl', images.good)],
    ] as const) {
      const run = await cluster.kubectl(['apply', '-f', '-'], manifest(object, ns));
      t.equal(run.code, 0, `kubectl apply of a ${kind} succeeds\n${run.stderr}`);
      t.match(run.stdout, `${object.metadata?.name} created`);
      t.equal(run.stderr, '', 'kubectl prints no warning');
    }
    const pods = await core.listNamespacedPod({ namespace: ns });
    t.same(pods.items.map((p) => p.metadata?.name).sort(), ['good-pod', 'good-pod-kubectl'], 'the admitted Pods exist (Pending: no scheduler)');
  });

  await t.test('each broken image is rejected with its reason, through the client and kubectl', async (t) => {
    for (const c of rejections) {
      const podName = `pod-${c.name}`;
      const outcome = await attempt(() => core.createNamespacedPod({ namespace: ns, body: pod(podName, c.image) }));
      t.notOk(outcome.allowed, `${c.name}: Pod rejected`);
      t.equal(outcome.code, 403, `${c.name}: 403 Forbidden`);
      t.match(outcome.message, denied, `${c.name}: the API server names the webhook`);
      t.match(outcome.message, `ecr-admission denied Pod ${ns}/${podName}: 1 of 1 image failed`, `${c.name}: the webhook's message reaches the client`);
      t.match(outcome.message, `container "app" ${c.image}`, `${c.name}: names the container and image`);
      t.match(outcome.message, `[${c.check}]`, `${c.name}: names the ${c.check} check`);
      t.match(outcome.message, c.reason, `${c.name}: says why`);

      const deployName = `deploy-${c.name}`;
      const run = await cluster.kubectl(['apply', '-f', '-'], manifest(deployment(deployName, c.image), ns));
      t.equal(run.code, 1, `${c.name}: kubectl apply of a Deployment fails`);
      t.match(run.stderr, 'Error from server (Forbidden)', `${c.name}: kubectl says Forbidden`);
      t.match(run.stderr, `${denied}: ecr-admission denied Deployment ${ns}/${deployName}`, `${c.name}: kubectl prints the webhook's message`);
      t.match(run.stderr, `[${c.check}]`, `${c.name}: kubectl shows the check`);
      t.match(run.stderr, c.reason, `${c.name}: kubectl shows the reason`);
      t.equal((await reviewOf('Deployment', deployName))?.decision, 'deny', `${c.name}: the webhook logged a deny`);
    }
    const [pods, deployments] = [await core.listNamespacedPod({ namespace: ns }), await apps.listNamespacedDeployment({ namespace: ns })];
    t.notOk(
      pods.items.some((p) => p.metadata?.name?.startsWith('pod-')),
      'no rejected Pod exists',
    );
    t.notOk(
      deployments.items.some((d) => d.metadata?.name?.startsWith('deploy-')),
      'no rejected Deployment exists',
    );
  });

  await t.test('a CronJob and a StatefulSet with a broken image are rejected', async (t) => {
    const cron = await attempt(() => batch.createNamespacedCronJob({ namespace: ns, body: cronJob('cron-critical', images.critical) }));
    t.equal(cron.code, 403, 'CronJob with a critical finding: 403');
    t.match(cron.message, `ecr-admission denied CronJob ${ns}/cron-critical`);
    t.match(cron.message, `[vulnerabilities]`);
    t.match(cron.message, CRITICAL_CVE);

    const run = await cluster.kubectl(['apply', '-f', '-'], manifest(statefulSet('sts-untrusted', images.good, { initImages: [images.untrusted] }), ns));
    t.equal(run.code, 1, 'StatefulSet whose init container is signed by an untrusted profile: kubectl fails');
    t.match(run.stderr, `ecr-admission denied StatefulSet ${ns}/sts-untrusted: 1 of 2 images failed`);
    t.match(run.stderr, `initContainer "init-0" ${images.untrusted}`, 'names the init container');
    t.notMatch(run.stderr, `container "app" ${images.good}`, 'the good container is not blamed');
  });

  await t.test('kubectl apply --dry-run=server gets the same decision and leaves no trace', async (t) => {
    const good = manifest(deployment('dry-good', images.good), ns);
    const dryGood = await cluster.kubectl(['apply', '--dry-run=server', '-f', '-'], good);
    t.equal(dryGood.code, 0, `admitted in dry-run\n${dryGood.stderr}`);
    t.match(dryGood.stdout, 'deployment.apps/dry-good created (server dry run)');
    t.equal((await reviewOf('Deployment', 'dry-good', true))?.decision, 'allow', 'the webhook saw a dry-run review and allowed it');
    const gotGood = await cluster.kubectl(['get', 'deployment', 'dry-good', '-n', ns]);
    t.equal(gotGood.code, 1, 'the Deployment does not exist');
    t.match(gotGood.stderr, 'NotFound');

    const bad = manifest(deployment('dry-bad', images.unsigned), ns);
    const dryBad = await cluster.kubectl(['apply', '--dry-run=server', '-f', '-'], bad);
    const realBad = await cluster.kubectl(['apply', '-f', '-'], bad);
    t.equal(dryBad.code, 1, 'rejected in dry-run');
    t.equal(realBad.code, 1, 'rejected for real');
    t.match(dryBad.stderr, `${denied}: ecr-admission denied Deployment ${ns}/dry-bad`);
    t.equal(dryBad.stderr, realBad.stderr, 'dry-run and real apply print the same refusal');
    t.equal((await reviewOf('Deployment', 'dry-bad', true))?.decision, 'deny', 'the webhook saw the dry-run review');
    t.equal((await cluster.kubectl(['get', 'deployment', 'dry-bad', '-n', ns])).code, 1, 'nothing was created');
  });

  await t.test("the webhook's own namespace and kube-system are never sent to it", async (t) => {
    const before = await reviewLogMark(stack);
    for (const namespace of [RELEASE_NAMESPACE, 'kube-system']) {
      for (const image of [images.unsigned, images.nonEcr]) {
        const name = `system-${image === images.unsigned ? 'unsigned' : 'non-ecr'}`;
        const outcome = await attempt(() => core.createNamespacedPod({ namespace, body: pod(name, image) }));
        t.ok(outcome.allowed, `${namespace}: a Pod with ${image} is admitted ${outcome.message ?? ''}`);
      }
    }
    t.same(await reviewsSince(stack, before), [], 'the API server did not call the webhook for them');
  });

  await t.test("an UPDATE that keeps the images is not sent (the chart's matchCondition)", async (t) => {
    const before = await reviewLogMark(stack);
    const patched = await attempt(() =>
      apps.patchNamespacedDeployment({ namespace: ns, name: 'good-deploy', body: [{ op: 'add', path: '/metadata/labels', value: { tier: 'web' } }] }),
    );
    t.ok(patched.allowed, `a label change is admitted ${patched.message ?? ''}`);
    t.same(await reviewsSince(stack, before), [], 'without a webhook call');
    const swapped = await cluster.kubectl(['set', 'image', 'deployment/good-deploy', `app=${images.critical}`, '-n', ns]);
    t.equal(swapped.code, 1, 'changing the image to a vulnerable one is rejected');
    t.match(swapped.stderr, `${denied}: ecr-admission denied Deployment ${ns}/good-deploy`);
    t.equal((await reviewOf('Deployment', 'good-deploy', false, 'UPDATE'))?.decision, 'deny', 'the webhook reviewed the UPDATE');
  });

  t.comment(`ECR host ${ECR_HOST}, trusted profile ${RELEASE_PROFILE}`);
});
