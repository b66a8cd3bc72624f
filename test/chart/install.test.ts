// helm install / upgrade against a real kube-apiserver (the e2e rig's, on etcd, no
// controllers), which checks what `helm template` cannot:
//  - the API server accepts every rendered built-in object (its own schema validation);
//  - the chart-made CA and certificate survive `helm upgrade` (lookup), and a certificate near
//    expiry is renewed under the same CA, so the caBundle stays valid;
//  - the webhook configuration is live with the intended reach: no pod answers here (no
//    controllers, so no Deployment pods), so with failurePolicy Fail every request the API
//    server sends to the webhook is rejected, and every request it skips goes through. That
//    shows which requests are sent: not the release namespace or kube-system (a namespace
//    label does not opt out by default), and not UPDATEs that leave every image as it was.
import t from 'tap';
import { X509Certificate } from 'node:crypto';
import { join } from 'node:path';
import {
  AdmissionregistrationV1Api,
  ApiException,
  AppsV1Api,
  CoreV1Api,
  PatchStrategy,
  setHeaderOptions,
  type V1Deployment,
  type V1Pod,
} from '@kubernetes/client-node';
import { e2eOutputDir, startApiServer, startEtcd } from '../e2e/rig/index.ts';
import { CHART_DIR, helm } from './helm.ts';

// A fresh rig build takes many minutes (scripts/rig/build.sh); afterwards this file takes seconds.
t.setTimeout(50 * 60_000);

const RELEASE = 'ecr-admission';
const NS = 'security-system';
const FULLNAME = 'ecr-admission';
const values = ['self-signed-values.yaml', 'networkpolicy-values.yaml'].flatMap((file) => ['--values', join(CHART_DIR, 'ci', file)]);

const pod = (name: string, image: string, labels: Record<string, string> = {}): V1Pod => ({
  metadata: { name, labels },
  spec: { containers: [{ name: 'app', image }] },
});

const deployment = (name: string, image: string): V1Deployment => ({
  metadata: { name },
  spec: {
    replicas: 1,
    selector: { matchLabels: { app: name } },
    template: { metadata: { labels: { app: name } }, spec: { containers: [{ name: 'app', image }] } },
  },
});

/** Resolves to 'admitted', or 'webhook' when the API server tried to call ecr-admission. */
async function outcome(request: () => Promise<unknown>): Promise<'admitted' | 'webhook'> {
  try {
    await request();
    return 'admitted';
  } catch (err) {
    if (err instanceof ApiException && String(err.body).includes('images.ecr-admission.io')) return 'webhook';
    throw err;
  }
}

t.test('helm install and upgrade on a real API server', async (t) => {
  const out = e2eOutputDir(t, 'chart-install');
  const etcd = await startEtcd(join(out, 'etcd'));
  t.teardown(() => etcd.stop());
  const api = await startApiServer({ etcdUrl: etcd.url, dir: join(out, 'kube-apiserver') });
  t.teardown(() => api.stop());
  const core = api.kubeConfig.makeApiClient(CoreV1Api);
  const apps = api.kubeConfig.makeApiClient(AppsV1Api);
  const kube = ['--kubeconfig', api.kubeconfigPath, '--namespace', NS];

  // Workloads that exist before the webhook, as in a cluster it is added to.
  for (const name of ['team-a', 'team-b']) await core.createNamespace({ body: { metadata: { name } } });
  await core.createNamespacedPod({ namespace: 'team-a', body: pod('existing', 'registry.example/app:1') });
  await apps.createNamespacedDeployment({ namespace: 'team-a', body: deployment('web', 'registry.example/app:1') });

  const install = helm(['install', RELEASE, CHART_DIR, '--create-namespace', ...kube, ...values]);
  t.equal(install.status, 0, `helm install: the API server accepts every object\n${install.stderr}`);

  const readTls = async () => ({
    ca: await core.readNamespacedSecret({ name: `${FULLNAME}-ca`, namespace: NS }),
    serving: await core.readNamespacedSecret({ name: `${FULLNAME}-tls`, namespace: NS }),
    caBundle: (await api.kubeConfig.makeApiClient(AdmissionregistrationV1Api).readValidatingWebhookConfiguration({ name: FULLNAME })).webhooks?.[0]
      ?.clientConfig.caBundle,
  });
  const first = await readTls();
  const pem = (b64: string | undefined) => Buffer.from(b64 ?? '', 'base64').toString('utf8');
  const caCert = new X509Certificate(pem(first.ca.data?.['ca.crt']));
  t.equal(pem(first.caBundle), caCert.toString(), 'the caBundle is the CA the chart made');
  t.ok(new X509Certificate(pem(first.serving.data?.['tls.crt'])).verify(caCert.publicKey), 'the serving certificate is signed by it');

  await t.test('installed with failurePolicy Ignore; armed, as a serving pod arms it', async (t) => {
    const admission = api.kubeConfig.makeApiClient(AdmissionregistrationV1Api);
    const installed = await admission.readValidatingWebhookConfiguration({ name: FULLNAME });
    t.equal(installed.webhooks?.[0]?.failurePolicy, 'Ignore', 'no pod serves yet: nothing is rejected');
    const target = installed.metadata?.annotations?.['ecr-admission.io/failure-policy'];
    t.equal(target, 'Fail', 'the target, for the pods');
    t.equal(
      await outcome(() => core.createNamespacedPod({ namespace: 'team-a', body: pod('before-armed', 'registry.example/app:1') })),
      'admitted',
      'a Pod is created while no webhook pod runs',
    );
    // What a webhook pod does once it serves (src/server/certificates.ts; the real process does
    // it in test/e2e/scenarios/lockout.test.ts). No controllers here, so no pod ever will.
    await admission.patchValidatingWebhookConfiguration(
      {
        name: FULLNAME,
        body: [
          { op: 'test', path: '/metadata/resourceVersion', value: installed.metadata?.resourceVersion },
          { op: 'replace', path: '/webhooks/0/failurePolicy', value: target },
        ],
      },
      setHeaderOptions('Content-Type', PatchStrategy.JsonPatch),
    );
  });

  await t.test('the webhook is sent exactly the requests that can bring in an image', async (t) => {
    // The API server picks the new configuration up from its informer within a moment.
    const deadline = Date.now() + 20_000;
    let attempt = 0;
    while ((await outcome(() => core.createNamespacedPod({ namespace: 'team-a', body: pod(`probe-${attempt++}`, 'registry.example/app:1') }))) !== 'webhook') {
      if (Date.now() > deadline) throw new Error('the webhook configuration never took effect');
      await new Promise((resolve) => setTimeout(resolve, 200));
    }
    t.pass('a new Pod in an ordinary namespace is sent to the webhook (and, unanswered, rejected: failurePolicy Fail)');

    t.equal(
      await outcome(() => core.createNamespacedPod({ namespace: NS, body: pod('own', 'registry.example/app:1') })),
      'admitted',
      'its own namespace is not sent',
    );
    t.equal(
      await outcome(() => core.createNamespacedPod({ namespace: 'kube-system', body: pod('system', 'registry.example/app:1') })),
      'admitted',
      'kube-system is not sent',
    );

    const teamB = await core.readNamespace({ name: 'team-b' });
    await core.replaceNamespace({
      name: 'team-b',
      body: { ...teamB, metadata: { ...teamB.metadata, labels: { ...teamB.metadata?.labels, 'ecr-admission.io/ignore': 'true' } } },
    });
    t.equal(
      await outcome(() => core.createNamespacedPod({ namespace: 'team-b', body: pod('opted-out', 'registry.example/app:1') })),
      'webhook',
      'a namespace labelled ecr-admission.io/ignore=true is still sent: no opt-out label by default',
    );

    const existing = await core.readNamespacedPod({ name: 'existing', namespace: 'team-a' });
    const relabelled = { ...existing, metadata: { ...existing.metadata, labels: { tier: 'web' } } };
    t.equal(
      await outcome(() => core.replaceNamespacedPod({ name: 'existing', namespace: 'team-a', body: relabelled })),
      'admitted',
      'a Pod UPDATE that keeps its images is not sent',
    );
    const current = await core.readNamespacedPod({ name: 'existing', namespace: 'team-a' });
    const newImage = { ...current, spec: { ...current.spec!, containers: [{ ...current.spec!.containers[0]!, image: 'registry.example/app:2' }] } };
    t.equal(
      await outcome(() => core.replaceNamespacedPod({ name: 'existing', namespace: 'team-a', body: newImage })),
      'webhook',
      'a Pod UPDATE that changes an image is sent',
    );

    const web = await apps.readNamespacedDeployment({ name: 'web', namespace: 'team-a' });
    const scaled = { ...web, spec: { ...web.spec!, replicas: 3 } };
    t.equal(
      await outcome(() => apps.replaceNamespacedDeployment({ name: 'web', namespace: 'team-a', body: scaled })),
      'admitted',
      'scaling a Deployment is not sent',
    );
    const web2 = await apps.readNamespacedDeployment({ name: 'web', namespace: 'team-a' });
    const template = web2.spec!.template;
    const retagged = {
      ...web2,
      spec: {
        ...web2.spec!,
        template: { ...template, spec: { ...template.spec!, containers: [{ ...template.spec!.containers[0]!, image: 'registry.example/app:2' }] } },
      },
    };
    t.equal(
      await outcome(() => apps.replaceNamespacedDeployment({ name: 'web', namespace: 'team-a', body: retagged })),
      'webhook',
      'changing a Deployment image is sent',
    );
  });

  await t.test('helm upgrade keeps the CA and the serving certificate', async (t) => {
    const upgrade = helm(['upgrade', RELEASE, CHART_DIR, ...kube, ...values]);
    t.equal(upgrade.status, 0, `helm upgrade\n${upgrade.stderr}`);
    const second = await readTls();
    t.same(second.ca.data, first.ca.data, 'same CA');
    t.same(second.serving.data, first.serving.data, 'same serving certificate and key');
    t.equal(second.caBundle, first.caBundle, 'same caBundle');
    const live = await api.kubeConfig.makeApiClient(AdmissionregistrationV1Api).readValidatingWebhookConfiguration({ name: FULLNAME });
    t.equal(live.webhooks?.[0]?.failurePolicy, 'Fail', 'still armed: the upgrade does not revert failurePolicy to Ignore');
  });

  await t.test('helm upgrade renews a serving certificate near expiry, under the same CA', async (t) => {
    // The certificate has 365 days left; asking for renewal 400 days ahead puts it "near
    // expiry" now, while the CA (1825 days) is not.
    const upgrade = helm(['upgrade', RELEASE, CHART_DIR, ...kube, ...values, '--set', 'tls.selfSigned.renewBeforeDays=400']);
    t.equal(upgrade.status, 0, `helm upgrade\n${upgrade.stderr}`);
    const third = await readTls();
    t.same(third.ca.data, first.ca.data, 'same CA');
    t.equal(third.caBundle, first.caBundle, 'same caBundle: the API server keeps trusting the webhook');
    const renewed = new X509Certificate(pem(third.serving.data?.['tls.crt']));
    t.not(third.serving.data?.['tls.crt'], first.serving.data?.['tls.crt'], 'a new serving certificate');
    t.ok(renewed.verify(caCert.publicKey), 'signed by the same CA');
    t.ok(new Date(renewed.validTo).getTime() <= new Date(caCert.validTo).getTime(), 'and expires before the CA does');
  });

  await t.test('uninstall removes the webhook configuration; the other values sets install too', async (t) => {
    // One release at a time: each release's webhook covers the other's namespace.
    const uninstall = helm(['uninstall', RELEASE, ...kube, '--wait']);
    t.equal(uninstall.status, 0, `helm uninstall\n${uninstall.stderr}`);
    const remaining = await api.kubeConfig.makeApiClient(AdmissionregistrationV1Api).listValidatingWebhookConfiguration();
    t.same(
      remaining.items.map((w) => w.metadata?.name),
      [],
      'no webhook configuration left behind',
    );
    // cert-manager-* and monitoring-values.yaml need CRDs this API server does not have.
    for (const file of [undefined, 'irsa-values.yaml', 'kind-values.yaml']) {
      // image.repository is required: the default values are the chart's plus that one.
      const args = [
        '--kubeconfig',
        api.kubeconfigPath,
        '--namespace',
        'variant',
        ...(file ? ['--values', join(CHART_DIR, 'ci', file)] : ['--set', 'image.repository=registry.example/ecr-admission']),
      ];
      const installed = helm(['install', 'variant', CHART_DIR, '--create-namespace', ...args]);
      t.equal(installed.status, 0, `${file ?? 'default values'}: helm install\n${installed.stderr}`);
      const removed = helm(['uninstall', 'variant', ...args.slice(0, 4), '--wait']);
      t.equal(removed.status, 0, `${file ?? 'default values'}: helm uninstall\n${removed.stderr}`);
    }
  });
});
