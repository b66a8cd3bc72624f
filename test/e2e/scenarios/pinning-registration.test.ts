// Digest pinning's MutatingWebhookConfiguration is kept by the webhook process like the
// validating one, on a real kube-apiserver with the chart installed by `helm install`: a process
// running as the chart's ServiceAccount (the chart's RBAC, the chart's env naming the
// configuration "mutating:<name>") writes its caBundle and switches it from the installed Ignore
// to mutatingWebhook.failurePolicy once it serves; `helm upgrade` keeps both; the API server
// trusts the process's certificate on /mutate.
import t from 'tap';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { PatchStrategy, setHeaderOptions } from '@kubernetes/client-node';
import { e2eOutputDir } from '../rig/index.ts';
import { RELEASE, RELEASE_NAMESPACE, renderChart } from '../support/chart.ts';
import { startCluster } from '../support/cluster.ts';
import { until } from '../support/until.ts';
import { helm } from '../support/commands.ts';
import { bundleCertificates, helmInstall, serviceAccountKubeconfig, startInClusterWebhook } from '../support/in-cluster.ts';
import { pod } from '../support/workloads.ts';

t.setTimeout(10 * 60_000);

const NS = 'team-a';
const PIN = `${RELEASE}-pin`;
const values = {
  image: { repository: 'registry.invalid/ecr-admission/not-pullable' },
  policy: { registries: { allow: ['registry.k8s.io/pause:*'] } },
  // Fail, to see the switch (the default, Ignore, is what it is installed with).
  mutatingWebhook: { failurePolicy: 'Fail' },
  tests: { enabled: false },
};

t.test("the webhook process keeps the mutating configuration's caBundle and failurePolicy", async (t) => {
  const out = e2eOutputDir(t, 'scenario-pinning-registration');
  const cluster = await startCluster(t, out);
  const { core, admission } = cluster;
  await cluster.createNamespaces(NS);
  const installed = await helmInstall(cluster, out, 'install', values);
  t.equal(installed.code, 0, `helm install\n${installed.stderr}`);
  t.teardown(() => helm(['uninstall', RELEASE, '--kubeconfig', cluster.api.kubeconfigPath, '--namespace', RELEASE_NAMESPACE]));
  const readMwc = () => admission.readMutatingWebhookConfiguration({ name: PIN });

  const fresh = await readMwc();
  t.equal(fresh.webhooks?.[0]?.failurePolicy, 'Ignore', 'installed with failurePolicy Ignore');
  t.notOk(fresh.webhooks?.[0]?.clientConfig.caBundle, 'and no caBundle');
  t.equal(fresh.metadata?.annotations?.['ecr-admission.io/failure-policy'], 'Fail', 'its target in the annotation');
  t.equal(fresh.webhooks?.[0]?.reinvocationPolicy, 'IfNeeded');

  const chart = await renderChart(out, values);
  const kubeconfigPath = await serviceAccountKubeconfig(cluster, join(out, 'webhook'));
  const webhook = await startInClusterWebhook({ dir: join(out, 'webhook'), chart, kubeconfigPath, env: { ECR_ADMISSION_RELOAD_INTERVAL_MS: '250' } });
  t.teardown(() => webhook.stop());

  const mwc = await until('the mutating configuration switched to Fail', async () => {
    const m = await readMwc();
    return m.webhooks?.[0]?.failurePolicy === 'Fail' ? m : undefined;
  });
  const [ca, ...more] = bundleCertificates(mwc.webhooks?.[0]?.clientConfig.caBundle);
  t.equal(more.length, 0, 'one CA in its caBundle');
  const served = await webhook.servedCertificate();
  t.ok(ca && served.checkIssued(ca) && served.verify(ca.publicKey), 'the caBundle CA signed the certificate the process serves');
  const vwc = await admission.readValidatingWebhookConfiguration({ name: RELEASE });
  t.equal(mwc.webhooks?.[0]?.clientConfig.caBundle, vwc.webhooks?.[0]?.clientConfig.caBundle, "the validating configuration's caBundle");

  const upgraded = await helmInstall(cluster, out, 'upgrade', values);
  t.equal(upgraded.code, 0, `helm upgrade\n${upgraded.stderr}`);
  const after = await readMwc();
  t.equal(after.webhooks?.[0]?.failurePolicy, 'Fail', 'helm upgrade keeps the switch');
  t.equal(after.webhooks?.[0]?.clientConfig.caBundle, mwc.webhooks?.[0]?.clientConfig.caBundle, 'and the caBundle');

  // Without a kubelet the Service has no endpoints: the API server calls the process by url.
  await admission.patchMutatingWebhookConfiguration(
    {
      name: PIN,
      body: [
        { op: 'remove', path: '/webhooks/0/clientConfig/service' },
        { op: 'add', path: '/webhooks/0/clientConfig/url', value: `https://127.0.0.1:${webhook.port}/mutate` },
      ],
    },
    setHeaderOptions('Content-Type', PatchStrategy.JsonPatch),
  );
  // failurePolicy Fail: a create succeeds only if the API server reached /mutate over TLS with
  // that caBundle and got a valid answer (the validating configuration still points at the
  // Service, which has no endpoints, and is Fail too: it is pointed at the process as well).
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
  let i = 0;
  const created = await until('a Pod created through /mutate and /validate', async () => {
    try {
      return await core.createNamespacedPod({ namespace: NS, body: pod(`through-${i++}`, 'registry.k8s.io/pause:3.10'), dryRun: 'All' });
    } catch {
      return undefined;
    }
  });
  t.equal(created.spec?.containers[0]?.image, 'registry.k8s.io/pause:3.10', 'a non-ECR image is left as written');
  // The log line is written asynchronously (pino's destination batches lines, issue 18): it
  // reaches the file a moment after the answer, so wait for it rather than read once.
  const mutations = await until(
    'the mutation log line',
    async () => {
      const lines = readFileSync(webhook.peer.logPath, 'utf8')
        .split('\n')
        .filter((l) => l.includes('"msg":"mutation"'));
      return lines.length > 0 ? lines : undefined;
    },
    10_000,
  );
  t.ok(mutations.length > 0, 'the process logged the mutation: the API server called /mutate');
});
