// Digest pinning through a real kube-apiserver: the chart's MutatingWebhookConfiguration (as
// rendered, clientConfig pointed at the webhook's /mutate) in front of its validating one.
//  - a Pod created with a tag is stored with tag@digest (read back), and validated on it; an
//    ephemeral container added through pods/ephemeralcontainers is pinned too;
//  - a Deployment's template keeps its tag. This API server has no controller-manager, so no
//    ReplicaSet makes its Pods: the Pod is created here from the template, with the labels and
//    ownerReference a ReplicaSet would give it, and it is the Pod that gets the digest;
//  - the mutating webhook down with failurePolicy Ignore (the chart's default): Pods are still
//    created, as written, and still validated;
//  - pinning.requireOnPods with the mutating webhook removed: a tag-only Pod is denied, with a
//    message that says the mutating webhook was bypassed or down.
import t from 'tap';
import type { V1MutatingWebhookConfiguration, V1Pod } from '@kubernetes/client-node';
import { attempt } from '../support/admission.ts';
import { FAILURE_POLICY_ANNOTATION, WEBHOOK_NAME, type RenderedChart } from '../support/chart.ts';
import type { Cluster } from '../support/cluster.ts';
import { buildEcrWorld } from '../support/ecr-world.ts';
import { NS, ecrPolicyValues } from '../support/policy.ts';
import { reviewLogMark, reviewsSince, startStack, type Stack } from '../support/stack.ts';
import { deployment, pod } from '../support/workloads.ts';

t.setTimeout(10 * 60_000);

const world = await buildEcrWorld();
const { images, digests } = world;
const PIN_WEBHOOK = 'pin.ecr-admission.io';

function renderedMutating(chart: RenderedChart): V1MutatingWebhookConfiguration {
  const found = chart.objects.filter((o) => o.kind === 'MutatingWebhookConfiguration');
  if (found.length !== 1) throw new Error(`the chart rendered ${found.length} MutatingWebhookConfigurations, expected 1`);
  return found[0] as unknown as V1MutatingWebhookConfiguration;
}

/** As the chart rendered it, clientConfig pointed at `url` and failurePolicy switched to its target, as a serving pod does. */
function mutatingAt(rendered: V1MutatingWebhookConfiguration, url: string, caPem: string): V1MutatingWebhookConfiguration {
  const copy = structuredClone(rendered);
  const target = rendered.metadata?.annotations?.[FAILURE_POLICY_ANNOTATION];
  for (const w of copy.webhooks ?? []) {
    w.clientConfig = { url, caBundle: Buffer.from(caPem).toString('base64') };
    if (target !== undefined) w.failurePolicy = target;
  }
  return copy;
}

/** Waits until a dry-run Pod of `image` in `namespace` comes back with the image `until` wants. */
async function untilDryRun(cluster: Cluster, namespace: string, image: string, until: (stored: string | undefined) => boolean): Promise<void> {
  const deadline = Date.now() + 30_000;
  let last: string | undefined;
  for (let i = 0; Date.now() < deadline; i++) {
    try {
      const created = await cluster.core.createNamespacedPod({ namespace, body: pod(`pin-probe-${i}`, image), dryRun: 'All' });
      last = created.spec?.containers[0]?.image;
      if (until(last)) return;
    } catch {
      // not yet (a validating denial of an image that is not pinned yet, say)
    }
    await new Promise((r) => setTimeout(r, 250));
  }
  throw new Error(`the API server did not reach the expected pinning in 30 s; last image: ${last}`);
}

async function installMutating(stack: Stack, url: string): Promise<string> {
  const body = mutatingAt(renderedMutating(stack.chart), url, stack.webhook.caPem);
  const created = await stack.cluster.admission.createMutatingWebhookConfiguration({ body });
  return created.metadata?.name ?? '';
}

const mutateUrl = (stack: Stack) => stack.webhook.url.replace(/\/validate$/, '/mutate');

t.test('digest pinning with the chart defaults (pods, failurePolicy Ignore)', async (t) => {
  const stack = await startStack(t, { name: 'scenario-pinning', fixture: world.fixture, values: () => ecrPolicyValues(world), namespaces: [NS.enforce] });
  const { cluster } = stack;
  const rendered = renderedMutating(stack.chart);
  const w = rendered.webhooks?.[0];
  t.equal(w?.name, PIN_WEBHOOK);
  t.equal(w?.reinvocationPolicy, 'IfNeeded');
  t.equal(w?.sideEffects, 'None');
  t.equal(rendered.metadata?.annotations?.[FAILURE_POLICY_ANNOTATION], 'Ignore', 'target failurePolicy Ignore by default');
  t.ok((w?.timeoutSeconds ?? 99) < (stack.chart.webhookConfiguration.webhooks?.[0]?.timeoutSeconds ?? 0), 'a timeout shorter than the validating one');
  t.same(w?.namespaceSelector, stack.chart.webhookConfiguration.webhooks?.[0]?.namespaceSelector, 'the validating webhook namespaceSelector');
  t.same(w?.matchConditions, stack.chart.webhookConfiguration.webhooks?.[0]?.matchConditions, 'and its matchConditions');

  const name = await installMutating(stack, mutateUrl(stack));
  const pinnedGood = `${images.good}@${digests.good}`;
  await untilDryRun(cluster, NS.enforce, images.good, (image) => image === pinnedGood);

  await t.test('a Pod created with a tag is stored with tag@digest and validated on it', async (t) => {
    const mark = await reviewLogMark(stack);
    const created = await cluster.core.createNamespacedPod({ namespace: NS.enforce, body: pod('pinned', images.good, { initImages: [images.good2] }) });
    t.equal(created.spec?.containers[0]?.image, pinnedGood, 'the create answer has the digest');
    const stored = await cluster.core.readNamespacedPod({ namespace: NS.enforce, name: 'pinned' });
    t.equal(stored.spec?.containers[0]?.image, pinnedGood, 'read back: container app is tag@digest');
    t.equal(stored.spec?.initContainers?.[0]?.image, `${images.good2}@${digests.good2}`, 'and the init container');
    const reviews = (await reviewsSince(stack, mark)).filter((r) => r.name === 'pinned');
    t.equal(reviews.length, 1, 'validated once');
    t.equal(reviews[0]?.decision, 'allow');
    t.same(
      reviews[0]?.images?.map((i) => i.image),
      [`${images.good2}@${digests.good2}`, pinnedGood],
      'the validating webhook saw the pinned references',
    );
  });

  await t.test('an ephemeral container added through pods/ephemeralcontainers is pinned; the others are kept', async (t) => {
    const live = await cluster.core.readNamespacedPod({ namespace: NS.enforce, name: 'pinned' });
    const body: V1Pod = { ...live, spec: { ...live.spec!, ephemeralContainers: [{ name: 'debugger', image: images.good2 }] } };
    await cluster.core.replaceNamespacedPodEphemeralcontainers({ namespace: NS.enforce, name: 'pinned', body });
    const back = await cluster.core.readNamespacedPod({ namespace: NS.enforce, name: 'pinned' });
    t.equal(back.spec?.ephemeralContainers?.[0]?.image, `${images.good2}@${digests.good2}`, 'the ephemeral container runs tag@digest');
    t.equal(back.spec?.containers[0]?.image, pinnedGood, 'the existing container is unchanged');
  });

  await t.test("a Deployment's template keeps its tag; the Pod made from it gets the digest", async (t) => {
    const dep = await cluster.apps.createNamespacedDeployment({ namespace: NS.enforce, body: deployment('web', images.good) });
    t.equal(dep.spec?.template.spec?.containers[0]?.image, images.good, 'the template keeps the tag (no rollout from pinning)');
    const stored = await cluster.apps.readNamespacedDeployment({ namespace: NS.enforce, name: 'web' });
    t.equal(stored.spec?.template.spec?.containers[0]?.image, images.good, 'read back: still the tag');
    // As the ReplicaSet controller would make it (there is none here): the template's spec and
    // labels, owned by the Deployment's ReplicaSet.
    const fromTemplate: V1Pod = {
      apiVersion: 'v1',
      kind: 'Pod',
      metadata: {
        generateName: 'web-5d8f7c9b4-',
        labels: { ...stored.spec?.template.metadata?.labels, 'pod-template-hash': '5d8f7c9b4' },
        ownerReferences: [
          {
            apiVersion: 'apps/v1',
            kind: 'ReplicaSet',
            name: 'web-5d8f7c9b4',
            uid: '6f1c2f0e-7c1a-4a8e-9f4e-1d2c3b4a5e6f',
            controller: true,
            blockOwnerDeletion: true,
          },
        ],
      },
      spec: stored.spec?.template.spec,
    };
    const made = await cluster.core.createNamespacedPod({ namespace: NS.enforce, body: fromTemplate });
    const back = await cluster.core.readNamespacedPod({ namespace: NS.enforce, name: made.metadata?.name ?? '' });
    t.equal(back.spec?.containers[0]?.image, pinnedGood, "the Deployment's Pod runs tag@digest");
  });

  await t.test('the mutating webhook down, failurePolicy Ignore: Pods are still created as written, and validated', async (t) => {
    // Down: its configuration points at a port nobody listens on (the validating webhook stays up).
    const live = await cluster.admission.readMutatingWebhookConfiguration({ name });
    const down = mutatingAt(rendered, 'https://127.0.0.1:1/mutate', stack.webhook.caPem);
    await cluster.admission.replaceMutatingWebhookConfiguration({
      name,
      body: { ...down, metadata: { ...down.metadata, resourceVersion: live.metadata?.resourceVersion } },
    });
    await untilDryRun(cluster, NS.enforce, images.good, (image) => image === images.good);

    const mark = await reviewLogMark(stack);
    const created = await attempt(() => cluster.core.createNamespacedPod({ namespace: NS.enforce, body: pod('while-pin-down', images.good) }));
    t.ok(created.allowed, `created while the mutating webhook is down ${created.message ?? ''}`);
    const stored = await cluster.core.readNamespacedPod({ namespace: NS.enforce, name: 'while-pin-down' });
    t.equal(stored.spec?.containers[0]?.image, images.good, 'as written: the tag only');
    const reviews = (await reviewsSince(stack, mark)).filter((r) => r.name === 'while-pin-down');
    t.equal(reviews[0]?.decision, 'allow', 'and validated by the validating webhook');

    const unsigned = await attempt(() => cluster.core.createNamespacedPod({ namespace: NS.enforce, body: pod('unsigned-while-pin-down', images.unsigned) }));
    t.notOk(unsigned.allowed, 'an unsigned image is still denied: validation does not depend on pinning');
    t.match(unsigned.message, `admission webhook "${WEBHOOK_NAME}" denied the request`);
  });
});

t.test('pinning.requireOnPods: with the mutating webhook removed, a tag-only Pod is denied', async (t) => {
  const values = () => {
    const v = ecrPolicyValues(world);
    return { ...v, policy: { ...(v.policy as Record<string, unknown>), pinning: { requireOnPods: true } } };
  };
  const stack = await startStack(t, { name: 'scenario-pinning-required', fixture: world.fixture, values, namespaces: [NS.enforce] });
  const { cluster } = stack;
  const name = await installMutating(stack, mutateUrl(stack));
  const pinnedGood = `${images.good}@${digests.good}`;
  await untilDryRun(cluster, NS.enforce, images.good, (image) => image === pinnedGood);
  const withPinning = await attempt(() => cluster.core.createNamespacedPod({ namespace: NS.enforce, body: pod('required-pinned', images.good) }));
  t.ok(withPinning.allowed, `with the mutating webhook: admitted (pinned) ${withPinning.message ?? ''}`);

  await cluster.admission.deleteMutatingWebhookConfiguration({ name });
  const deadline = Date.now() + 30_000;
  let denied = await attempt(() => cluster.core.createNamespacedPod({ namespace: NS.enforce, body: pod('required-tag-only', images.good), dryRun: 'All' }));
  while (denied.allowed && Date.now() < deadline) {
    await new Promise((r) => setTimeout(r, 250));
    denied = await attempt(() => cluster.core.createNamespacedPod({ namespace: NS.enforce, body: pod('required-tag-only', images.good), dryRun: 'All' }));
  }
  t.notOk(denied.allowed, 'without it: a tag-only Pod is denied');
  t.equal(denied.code, 403);
  t.match(denied.message, `admission webhook "${WEBHOOK_NAME}" denied the request`);
  t.match(
    denied.message,
    /\[digest\] the image reached the webhook without a digest: the ecr-admission mutating webhook \(digest pinning\) was bypassed or down/,
  );
  const byDigest = await attempt(() => cluster.core.createNamespacedPod({ namespace: NS.enforce, body: pod('required-by-digest', pinnedGood) }));
  t.ok(byDigest.allowed, `a Pod written with tag@digest is admitted ${byDigest.message ?? ''}`);
  t.comment(`requireOnPods denial: ${denied.message}`);
});
