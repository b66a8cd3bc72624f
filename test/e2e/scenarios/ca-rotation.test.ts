// A CA rotation under steady admissions, on a real kube-apiserver: two webhook replicas (as the
// chart's ServiceAccount, sharing the chart's certificate Secret) agree on one CA; an operator
// asks for a new CA (Secret annotation ecr-admission.io/rotate-ca); the caBundle holds the old
// and the new CA while the replicas switch; the old one is retired; and not one of the
// admissions sent through the API server meanwhile fails. Promote and retire delays are
// shortened (2 s, 5 s) so the whole rotation fits in seconds; the steps are those of
// production (certificate-plan.ts).
import t from 'tap';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { PatchStrategy, setHeaderOptions, type V1ValidatingWebhookConfiguration } from '@kubernetes/client-node';
import { e2eOutputDir } from '../rig/index.ts';
import { attempt, type Outcome } from '../support/admission.ts';
import { RELEASE, RELEASE_NAMESPACE, renderChart } from '../support/chart.ts';
import { startCluster } from '../support/cluster.ts';
import { until } from '../support/until.ts';
import { bundleCertificates, helmInstall, serviceAccountKubeconfig, startInClusterWebhook } from '../support/in-cluster.ts';
import { pod } from '../support/workloads.ts';

t.setTimeout(10 * 60_000);

const NS = 'team-a';
const ALLOWED = 'registry.k8s.io/pause:3.10';
const values = {
  image: { repository: 'registry.invalid/ecr-admission/not-pullable' },
  policy: { registries: { allow: ['registry.k8s.io/pause:*'] } },
  tls: { webhook: { caPromoteAfterSeconds: 2 } },
  tests: { enabled: false },
};

/** The rotation's waits: up to a minute each, polled every 100 ms. */
const waitFor = <T>(what: string, probe: () => Promise<T | undefined>): Promise<T> => until(what, probe, 60_000, 100);

t.test('CA rotation under steady admissions: none fails, the bundle overlaps', async (t) => {
  const out = e2eOutputDir(t, 'scenario-ca-rotation');
  const cluster = await startCluster(t, out);
  const { core, admission } = cluster;
  await cluster.createNamespaces(NS);
  const installed = await helmInstall(cluster, out, 'install', values);
  t.equal(installed.code, 0, `helm install\n${installed.stderr}`);
  const chart = await renderChart(out, values);
  const kubeconfigPath = await serviceAccountKubeconfig(cluster, join(out, 'kube'));
  // Retire after 5 s instead of the schema's minimum of 60 s, so the test sees the end.
  const env = { ECR_ADMISSION_RELOAD_INTERVAL_MS: '250', ECR_ADMISSION_CA_RETIRE_AFTER_MS: '5000' };
  const [a, b] = await Promise.all(['replica-a', 'replica-b'].map((name) => startInClusterWebhook({ dir: join(out, name), chart, kubeconfigPath, env })));
  t.teardown(() => a!.stop());
  t.teardown(() => b!.stop());
  const readVwc = () => admission.readValidatingWebhookConfiguration({ name: RELEASE });
  const fingerprints = (vwc: V1ValidatingWebhookConfiguration) => bundleCertificates(vwc.webhooks?.[0]?.clientConfig.caBundle).map((c) => c.fingerprint256);

  const armed = await waitFor('the configuration armed', async () => {
    const v = await readVwc();
    return v.webhooks?.[0]?.failurePolicy === 'Fail' ? v : undefined;
  });
  const [oldCa] = bundleCertificates(armed.webhooks?.[0]?.clientConfig.caBundle);
  t.equal(fingerprints(armed).length, 1, 'one CA before the rotation');
  for (const [name, replica] of [
    ['a', a!],
    ['b', b!],
  ] as const) {
    t.ok((await replica.servedCertificate()).checkIssued(oldCa!), `replica ${name} serves a certificate of that CA (the replicas agree)`);
  }
  // The API server calls replica a (no kubelet: by url); both keep the Secret and the bundle.
  await admission.patchValidatingWebhookConfiguration(
    {
      name: RELEASE,
      body: [
        { op: 'remove', path: '/webhooks/0/clientConfig/service' },
        { op: 'add', path: '/webhooks/0/clientConfig/url', value: `https://127.0.0.1:${a!.port}/validate` },
      ],
    },
    setHeaderOptions('Content-Type', PatchStrategy.JsonPatch),
  );
  let n = 0;
  const admit = () => attempt(() => core.createNamespacedPod({ namespace: NS, body: pod(`steady-${n++}`, ALLOWED), dryRun: 'All' }));
  await waitFor('admissions through the webhook', async () => ((await admit()).allowed ? true : undefined));

  // Steady admissions (two at a time) and a watcher of the bundle, for the whole rotation.
  let running = true;
  const outcomes: Outcome[] = [];
  const loops = [0, 1].map(async () => {
    while (running) outcomes.push(await admit());
  });
  const bundlesSeen: string[][] = [];
  const watcher = (async () => {
    while (running) {
      bundlesSeen.push(fingerprints(await readVwc()));
      await sleep(100);
    }
  })();
  await sleep(1000);
  const before = outcomes.length;

  await core.patchNamespacedSecret(
    { name: `${RELEASE}-certificates`, namespace: RELEASE_NAMESPACE, body: { metadata: { annotations: { 'ecr-admission.io/rotate-ca': 'now' } } } },
    setHeaderOptions('Content-Type', PatchStrategy.MergePatch),
  );
  const started = Date.now();
  const newCa = await waitFor('replica a serving a certificate of a new CA', async () => {
    const served = await a!.servedCertificate();
    if (served.checkIssued(oldCa!)) return undefined;
    return bundleCertificates((await readVwc()).webhooks?.[0]?.clientConfig.caBundle).find((ca) => served.checkIssued(ca));
  });
  const switchedMs = Date.now() - started;
  await waitFor('the old CA retired from the bundle', async () => {
    const now = fingerprints(await readVwc());
    return now.length === 1 && now[0] === newCa.fingerprint256 ? true : undefined;
  });
  const retiredMs = Date.now() - started;
  await sleep(1500);
  running = false;
  await Promise.all([...loops, watcher]);

  const failed = outcomes.filter((o) => !o.allowed);
  t.same(
    failed.map((o) => o.message),
    [],
    'no admission failed',
  );
  t.ok(outcomes.length - before > 20, `${outcomes.length} admissions, ${outcomes.length - before} of them from the rotation request on`);
  t.ok(
    bundlesSeen.some((f) => f.length === 2 && f.includes(oldCa!.fingerprint256) && f.includes(newCa.fingerprint256)),
    'the caBundle held the old and the new CA together',
  );
  t.ok(
    bundlesSeen.every((f) => f.includes(oldCa!.fingerprint256) || f.includes(newCa.fingerprint256)),
    'it never held neither',
  );
  t.ok((await b!.servedCertificate()).checkIssued(newCa), 'replica b moved to the new CA too');
  const secret = await core.readNamespacedSecret({ name: `${RELEASE}-certificates`, namespace: RELEASE_NAMESPACE });
  t.notOk(secret.metadata?.annotations?.['ecr-admission.io/rotate-ca'], 'the rotation request is consumed');
  t.notOk(secret.data?.['previous-ca.crt'] ?? secret.data?.['next-ca.crt'], 'no previous or next CA left in the Secret');
  const served = await a!.servedCertificate();
  t.match(
    await a!.metrics(),
    new RegExp(`ecr_admission_certificate_not_after_seconds ${Math.floor(new Date(served.validTo).getTime() / 1000)}`),
    'the expiry gauge follows the new certificate',
  );
  t.comment(
    `rotation: new certificate served after ${switchedMs} ms, old CA retired after ${retiredMs} ms; ${outcomes.length} admissions, ${failed.length} failed; ${bundlesSeen.filter((f) => f.length === 2).length} of ${bundlesSeen.length} bundle samples held two CAs`,
  );
});
