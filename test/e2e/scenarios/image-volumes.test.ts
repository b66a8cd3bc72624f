// Image volumes through a real kube-apiserver (ImageVolume: beta and on by default since 1.35;
// on the oldest supported API server, 1.32, it is alpha and off, so `volumes[].image` is refused
// by the API server itself and this file skips). The chart's webhook configurations as rendered:
//  - a Pod whose container is allowed but whose image volume is not (another registry, a
//    CRITICAL finding) is denied, the message naming the volume;
//  - a Deployment whose template's volume names another registry is denied, and so is an
//    UPDATE that changes only that reference (the chart's matchCondition sends it);
//  - with the mutating webhook, a Pod's volume reference is stored as tag@digest and validated.
import t from 'tap';
import type { V1Deployment, V1MutatingWebhookConfiguration, V1Pod, V1Volume } from '@kubernetes/client-node';
import { rigKubeApiServer } from '../rig/index.ts';
import { attempt } from '../support/admission.ts';
import { FAILURE_POLICY_ANNOTATION, WEBHOOK_NAME } from '../support/chart.ts';
import { buildEcrWorld } from '../support/ecr-world.ts';
import { NS, ecrPolicyValues } from '../support/policy.ts';
import { reviewLogMark, reviewsSince, startStack } from '../support/stack.ts';
import { deployment, pod } from '../support/workloads.ts';

t.setTimeout(10 * 60_000);

const world = await buildEcrWorld();
const { images, digests } = world;
const EVIL = 'evil.example.com/payload:latest';

/** The first Kubernetes minor whose API servers accept image volumes by default. */
const IMAGE_VOLUME_DEFAULT_MINOR = 35;
const { version } = await rigKubeApiServer();
const tooOld = Number(/^v1\.(\d+)\./.exec(version)?.[1]) < IMAGE_VOLUME_DEFAULT_MINOR;
const skip = tooOld ? `kube-apiserver ${version}: the ImageVolume feature is off by default before 1.${IMAGE_VOLUME_DEFAULT_MINOR}` : false;

const payload = (reference: string): V1Volume => ({ name: 'payload', image: { reference, pullPolicy: 'IfNotPresent' } });

function withVolume(p: V1Pod, reference: string): V1Pod {
  const spec = p.spec!;
  return {
    ...p,
    spec: {
      ...spec,
      containers: spec.containers.map((c) => ({ ...c, volumeMounts: [{ name: 'payload', mountPath: '/payload' }] })),
      volumes: [payload(reference)],
    },
  };
}

function deploymentWithVolume(name: string, reference: string): V1Deployment {
  const d = deployment(name, images.good);
  const template = d.spec!.template;
  return { ...d, spec: { ...d.spec!, template: { ...template, spec: withVolume({ spec: template.spec! }, reference).spec! } } };
}

t.test('image volumes are judged and pinned like container images', { skip }, async (t) => {
  const stack = await startStack(t, { name: 'scenario-image-volumes', fixture: world.fixture, values: () => ecrPolicyValues(world), namespaces: [NS.enforce] });
  const { cluster } = stack;

  await t.test('a Pod with an allowed container and a volume image from another registry is denied', async (t) => {
    const denied = await attempt(() => cluster.core.createNamespacedPod({ namespace: NS.enforce, body: withVolume(pod('evil-volume', images.good), EVIL) }));
    t.notOk(denied.allowed);
    t.equal(denied.code, 403);
    t.match(denied.message, `admission webhook "${WEBHOOK_NAME}" denied the request`);
    t.match(
      denied.message,
      /1 of 2 images failed\n- volume "payload" evil\.example\.com\/payload:latest: \[origin\] registry evil\.example\.com is not allowed/,
    );
  });

  await t.test('a volume image with a CRITICAL finding is denied', async (t) => {
    const denied = await attempt(() =>
      cluster.core.createNamespacedPod({ namespace: NS.enforce, body: withVolume(pod('critical-volume', images.good), images.critical) }),
    );
    t.notOk(denied.allowed);
    t.match(denied.message, /- volume "payload" \S+:1\.4\.0 \(sha256:\w{12}\): \[vulnerabilities\] .*CVE-2024-3094/);
  });

  await t.test("a Deployment's template volume is checked, on CREATE and on an UPDATE that changes only it", async (t) => {
    const denied = await attempt(() => cluster.apps.createNamespacedDeployment({ namespace: NS.enforce, body: deploymentWithVolume('evil-template', EVIL) }));
    t.notOk(denied.allowed, 'CREATE: denied');
    t.match(denied.message, /volume "payload" evil\.example\.com/);

    const created = await attempt(() => cluster.apps.createNamespacedDeployment({ namespace: NS.enforce, body: deploymentWithVolume('models', images.good2) }));
    t.ok(created.allowed, `a good volume image: created ${created.message ?? ''}`);
    const live = await cluster.apps.readNamespacedDeployment({ namespace: NS.enforce, name: 'models' });
    const changed = deploymentWithVolume('models', EVIL);
    const update = await attempt(() =>
      cluster.apps.replaceNamespacedDeployment({
        namespace: NS.enforce,
        name: 'models',
        body: { ...changed, metadata: { ...changed.metadata, resourceVersion: live.metadata?.resourceVersion } },
      }),
    );
    t.notOk(update.allowed, 'UPDATE of the volume reference alone: sent by the matchCondition, and denied');
    t.match(update.message, /volume "payload" evil\.example\.com/);
  });

  await t.test("the mutating webhook pins a Pod's volume reference; validation sees it pinned", async (t) => {
    const rendered = stack.chart.objects.find((o) => o.kind === 'MutatingWebhookConfiguration') as unknown as V1MutatingWebhookConfiguration;
    const body = structuredClone(rendered);
    const target = rendered.metadata?.annotations?.[FAILURE_POLICY_ANNOTATION];
    for (const w of body.webhooks ?? []) {
      w.clientConfig = { url: stack.webhook.url.replace(/\/validate$/, '/mutate'), caBundle: Buffer.from(stack.webhook.caPem).toString('base64') };
      if (target !== undefined) w.failurePolicy = target;
    }
    await cluster.admission.createMutatingWebhookConfiguration({ body });
    const pinned = `${images.good2}@${digests.good2}`;
    // The API server picks the configuration up within a moment: dry runs until it pins.
    const deadline = Date.now() + 30_000;
    let stored: string | undefined;
    for (let i = 0; stored !== pinned && Date.now() < deadline; i++) {
      const probe = await cluster.core.createNamespacedPod({
        namespace: NS.enforce,
        body: withVolume(pod(`probe-${i}`, images.good), images.good2),
        dryRun: 'All',
      });
      stored = probe.spec?.volumes?.[0]?.image?.reference;
      if (stored !== pinned) await new Promise((r) => setTimeout(r, 250));
    }
    t.equal(stored, pinned, 'a dry run comes back pinned');

    const mark = await reviewLogMark(stack);
    await cluster.core.createNamespacedPod({ namespace: NS.enforce, body: withVolume(pod('pinned-volume', images.good), images.good2) });
    const back = await cluster.core.readNamespacedPod({ namespace: NS.enforce, name: 'pinned-volume' });
    t.equal(back.spec?.volumes?.[0]?.image?.reference, pinned, 'read back: the volume reference is tag@digest');
    t.equal(back.spec?.containers[0]?.image, `${images.good}@${digests.good}`, 'and the container image');
    const reviews = (await reviewsSince(stack, mark)).filter((r) => r.name === 'pinned-volume');
    t.equal(reviews[0]?.decision, 'allow');
    const logged = reviews[0]?.images as unknown as Array<{ container?: string; volume?: string; image: string }> | undefined;
    t.same(
      logged?.map((i) => [i.container ?? `volume ${i.volume}`, i.image]),
      [
        ['app', `${images.good}@${digests.good}`],
        ['volume payload', pinned],
      ],
      'the validating webhook saw the pinned reference, named as the volume',
    );
  });
});
