// No lockout, on a real kube-apiserver with the chart installed by `helm install`:
//  - installed with an image that never starts (no kubelet here: no webhook Pod ever runs, as
//    with an unpullable image or a crash-looping policy), Pods and Deployments in other
//    namespaces are still created, and the API server's fail-open counter says why;
//  - a webhook process (as the chart's ServiceAccount, under the chart's RBAC) fills the
//    certificate Secret, writes the caBundle and switches failurePolicy to Fail once it serves;
//  - `helm upgrade` keeps the switch and the caBundle (no revert, no server-side apply conflict);
//  - the API server trusts the process's certificate (it answers with its own denial);
//  - the ServiceAccount can do nothing else (RBAC);
//  - stopped, failurePolicy Fail rejects (the chosen trade-off); `helm uninstall` removes the
//    configuration and Pods are created again.
import t from 'tap';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { AdmissionregistrationV1Api, ApiException, CoreV1Api, KubeConfig, PatchStrategy, setHeaderOptions } from '@kubernetes/client-node';
import { e2eOutputDir, httpsGet } from '../rig/index.ts';
import { attempt } from '../support/admission.ts';
import { RELEASE, RELEASE_NAMESPACE, WEBHOOK_NAME, renderChart } from '../support/chart.ts';
import { startCluster } from '../support/cluster.ts';
import { until } from '../support/until.ts';
import { helm } from '../support/commands.ts';
import { bundleCertificates, helmInstall, serviceAccountKubeconfig, startInClusterWebhook } from '../support/in-cluster.ts';
import { deployment, pod } from '../support/workloads.ts';

t.setTimeout(10 * 60_000);

const NS = 'team-a';
const ALLOWED = 'registry.k8s.io/pause:3.10';
const DENIED = 'registry.invalid/probe/never-allowed:1';
const values = {
  // Never pulled: no Pod runs in the rig, which is what an unpullable image leaves too.
  image: { repository: 'registry.invalid/ecr-admission/not-pullable' },
  policy: { registries: { allow: ['registry.k8s.io/pause:*'] } },
  tests: { enabled: false },
};

t.test('a webhook that never starts leaves the cluster working; one that serves arms itself', async (t) => {
  const out = e2eOutputDir(t, 'scenario-lockout');
  const cluster = await startCluster(t, out);
  const { core, apps, admission } = cluster;
  await cluster.createNamespaces(NS);
  const readVwc = () => admission.readValidatingWebhookConfiguration({ name: RELEASE });
  const apiServerMetric = async (name: string) => {
    const res = await httpsGet(`${cluster.api.url}/metrics`, { ca: cluster.api.caPem, token: cluster.api.token });
    return res.body
      .split('\n')
      .filter((l) => l.startsWith(name) && l.includes(`name="${WEBHOOK_NAME}"`))
      .reduce((sum, l) => sum + Number(l.split(' ').at(-1)), 0);
  };

  const installed = await helmInstall(cluster, out, 'install', values);
  t.equal(installed.code, 0, `helm install\n${installed.stderr}`);
  let uninstalled = false;
  t.teardown(async () => {
    if (!uninstalled) await helm(['uninstall', RELEASE, '--kubeconfig', cluster.api.kubeconfigPath, '--namespace', RELEASE_NAMESPACE]);
  });

  await t.test('installed, no webhook pod: nothing is rejected', async (t) => {
    const vwc = await readVwc();
    t.equal(vwc.webhooks?.[0]?.failurePolicy, 'Ignore', 'installed with failurePolicy Ignore');
    t.notOk(vwc.webhooks?.[0]?.clientConfig.caBundle, 'and no caBundle');
    t.equal(vwc.metadata?.annotations?.['ecr-admission.io/failure-policy'], 'Fail', 'the target for when a pod serves');
    const before = await apiServerMetric('apiserver_admission_webhook_fail_open_count');
    // The informer picks the configuration up within moments; until the API server has called
    // (and failed open) at least once, keep creating.
    let i = 0;
    await until('the API server to call the webhook and fail open', async () => {
      const outcome = await attempt(() => core.createNamespacedPod({ namespace: NS, body: pod(`unchecked-${i++}`, DENIED) }));
      if (!outcome.allowed) throw new Error(`a Pod was rejected with no webhook pod running: ${outcome.message}`);
      return (await apiServerMetric('apiserver_admission_webhook_fail_open_count')) > before ? true : undefined;
    });
    t.pass(`${i} Pods created in ${NS} (even with an image the policy denies): the webhook cannot answer and is ignored`);
    const d = await attempt(() => apps.createNamespacedDeployment({ namespace: NS, body: deployment('web', DENIED) }));
    t.ok(d.allowed, `a Deployment too ${d.message ?? ''}`);
    t.ok(
      (await apiServerMetric('apiserver_admission_webhook_fail_open_count')) > before,
      'apiserver_admission_webhook_fail_open_count counts them (the metric NOTES.txt names)',
    );
  });

  const chart = await renderChart(out, values);
  const kubeconfigPath = await serviceAccountKubeconfig(cluster, join(out, 'webhook'));

  await t.test('a webhook with a bad policy exits before it touches the API server', async (t) => {
    const bad = join(out, 'bad-policy.yaml');
    writeFileSync(bad, 'mode: enforce\nnoSuchKey: true\n');
    await t.rejects(
      startInClusterWebhook({ dir: join(out, 'webhook-bad-policy'), chart, kubeconfigPath, env: { ECR_ADMISSION_CONFIG: bad } }),
      /exited \(exit code 2\)/,
      'it exits with the configuration error',
    );
    const secret = await core.readNamespacedSecret({ name: `${RELEASE}-certificates`, namespace: RELEASE_NAMESPACE });
    t.notOk(secret.data, 'the certificate Secret is untouched');
    t.equal((await readVwc()).webhooks?.[0]?.failurePolicy, 'Ignore', 'the configuration stays Ignore: the cluster keeps working');
  });
  const webhook = await startInClusterWebhook({ dir: join(out, 'webhook'), chart, kubeconfigPath, env: { ECR_ADMISSION_RELOAD_INTERVAL_MS: '250' } });
  t.teardown(() => webhook.stop());

  await t.test('a webhook process that serves: Secret filled, caBundle written, then failurePolicy Fail', async (t) => {
    const vwc = await until('failurePolicy Fail', async () => {
      const v = await readVwc();
      return v.webhooks?.[0]?.failurePolicy === 'Fail' ? v : undefined;
    });
    const [ca, ...more] = bundleCertificates(vwc.webhooks?.[0]?.clientConfig.caBundle);
    t.equal(more.length, 0, 'one CA in the caBundle');
    const served = await webhook.servedCertificate();
    t.ok(ca && served.checkIssued(ca) && served.verify(ca.publicKey), 'the caBundle CA signed the certificate the process serves');
    const secret = await core.readNamespacedSecret({ name: `${RELEASE}-certificates`, namespace: RELEASE_NAMESPACE });
    t.same(Object.keys(secret.data ?? {}).sort(), ['ca-bundle.crt', 'ca.crt', 'ca.key', 'tls.crt', 'tls.key'], 'the Secret holds the CA and the serving pair');
    const ready = await until('/readyz 200', async () => ((await fetch(`${webhook.healthUrl}/readyz`)).status === 200 ? true : undefined));
    t.ok(ready, 'the process is Ready');
    t.match(
      await webhook.metrics(),
      new RegExp(`ecr_admission_certificate_not_after_seconds ${Math.floor(new Date(served.validTo).getTime() / 1000)}`),
      "the expiry gauge is the served certificate's notAfter",
    );
  });

  await t.test('helm upgrade keeps failurePolicy and caBundle (no revert, no apply conflict)', async (t) => {
    const before = await readVwc();
    const upgraded = await helmInstall(cluster, out, 'upgrade', values);
    t.equal(upgraded.code, 0, `helm upgrade\n${upgraded.stderr}`);
    const after = await readVwc();
    t.equal(after.webhooks?.[0]?.failurePolicy, 'Fail', 'still Fail');
    t.equal(after.webhooks?.[0]?.clientConfig.caBundle, before.webhooks?.[0]?.clientConfig.caBundle, 'same caBundle');
  });

  await t.test('the ServiceAccount can do nothing but its job', async (t) => {
    const kc = new KubeConfig();
    kc.loadFromFile(kubeconfigPath);
    const asWebhook = { core: kc.makeApiClient(CoreV1Api), admission: kc.makeApiClient(AdmissionregistrationV1Api) };
    const status = async (call: () => Promise<unknown>) => {
      try {
        await call();
        return 200;
      } catch (err) {
        if (err instanceof ApiException) return err.code;
        throw err;
      }
    };
    t.equal(
      await status(() => asWebhook.core.readNamespacedSecret({ name: `${RELEASE}-certificates`, namespace: RELEASE_NAMESPACE })),
      200,
      'reads its Secret',
    );
    t.equal(await status(() => asWebhook.core.listNamespacedSecret({ namespace: RELEASE_NAMESPACE })), 403, 'cannot list Secrets');
    t.equal(
      await status(() => asWebhook.core.createNamespacedSecret({ namespace: RELEASE_NAMESPACE, body: { metadata: { name: 'x' } } })),
      403,
      'cannot create a Secret',
    );
    t.equal(
      await status(() => asWebhook.core.readNamespacedSecret({ name: 'other', namespace: 'kube-system' })),
      403,
      "cannot read another namespace's Secret",
    );
    t.equal(await status(() => asWebhook.admission.listValidatingWebhookConfiguration()), 403, 'cannot list webhook configurations');
    t.equal(
      await status(() => asWebhook.admission.createValidatingWebhookConfiguration({ body: { metadata: { name: 'evil' }, webhooks: [] } })),
      403,
      'cannot create one',
    );
    t.equal(await status(() => asWebhook.admission.deleteValidatingWebhookConfiguration({ name: RELEASE })), 403, 'cannot delete its own');
  });

  await t.test('pointed at the process, the API server trusts it: its own answers come back', async (t) => {
    const vwc = await readVwc();
    // Without a kubelet the Service has no endpoints: the API server calls the process by url.
    await admission.patchValidatingWebhookConfiguration(
      {
        name: RELEASE,
        body: [
          { op: 'remove', path: '/webhooks/0/clientConfig/service' },
          { op: 'add', path: '/webhooks/0/clientConfig/url', value: `https://127.0.0.1:${webhook.port}/validate` },
        ],
      },
      setHeaderOptions('Content-Type', PatchStrategy.JsonPatch),
    );
    t.ok(vwc.webhooks?.[0]?.clientConfig.caBundle, 'caBundle untouched by the test');
    let i = 0;
    const denied = await until("the webhook's own denial", async () => {
      const o = await attempt(() => core.createNamespacedPod({ namespace: NS, body: pod(`checked-${i++}`, DENIED), dryRun: 'All' }));
      return !o.allowed && (o.message ?? '').includes(`admission webhook "${WEBHOOK_NAME}" denied the request`) ? o : undefined;
    });
    t.match(denied.message, /\[origin\]/, 'denied by the origin check: the TLS call succeeded');
    const allowed = await attempt(() => core.createNamespacedPod({ namespace: NS, body: pod('checked-ok', ALLOWED), dryRun: 'All' }));
    t.ok(allowed.allowed, `an allowed image is admitted ${allowed.message ?? ''}`);
  });

  await t.test('the process gone: Fail rejects; helm uninstall removes the configuration', async (t) => {
    await webhook.stop();
    const rejected = await attempt(() => core.createNamespacedPod({ namespace: NS, body: pod('while-down', ALLOWED) }));
    t.notOk(rejected.allowed, 'rejected while no pod serves (failurePolicy Fail: the chosen trade-off)');
    t.match(rejected.message, `failed calling webhook "${WEBHOOK_NAME}"`);
    const removed = await helm(['uninstall', RELEASE, '--kubeconfig', cluster.api.kubeconfigPath, '--namespace', RELEASE_NAMESPACE, '--wait']);
    t.equal(removed.code, 0, `helm uninstall\n${removed.stderr}`);
    uninstalled = true;
    t.same(
      (await admission.listValidatingWebhookConfiguration()).items.map((w) => w.metadata?.name),
      [],
      'no configuration left behind',
    );
    let i = 0;
    await until('Pods admitted again', async () =>
      (await attempt(() => core.createNamespacedPod({ namespace: NS, body: pod(`after-${i++}`, DENIED) }))).allowed ? true : undefined,
    );
    t.pass('Pods are created again');
  });
});
