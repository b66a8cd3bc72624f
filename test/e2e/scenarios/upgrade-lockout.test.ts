// Upgrading from the chart before issue 21 (chart-made CA in the caBundle, failurePolicy Fail
// from the start) on a real kube-apiserver, with pods that never start: the old chart rejects
// every Pod in checked namespaces (the lockout this change removes); `helm upgrade` to this
// chart sets the configuration back to Ignore (its caBundle goes with the old Secrets), so the
// cluster works again while the new pods start, and they re-arm it (lockout.test.ts).
import t from 'tap';
import { execFileSync } from 'node:child_process';
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { stringify } from 'yaml';
import { writeFileSync } from 'node:fs';
import { e2eOutputDir, repoRoot } from '../rig/index.ts';
import { attempt, type Outcome } from '../support/admission.ts';
import { RELEASE, RELEASE_NAMESPACE, WEBHOOK_NAME } from '../support/chart.ts';
import { startCluster } from '../support/cluster.ts';
import { helm } from '../support/commands.ts';
import { pod } from '../support/workloads.ts';

t.setTimeout(10 * 60_000);

/** The last commit whose chart installed failurePolicy Fail with a chart-made caBundle. */
const PREVIOUS_CHART_COMMIT = 'd91a47c';
const NS = 'team-a';
const values = {
  image: { repository: 'registry.invalid/ecr-admission/not-pullable' },
  policy: { registries: { allow: ['registry.k8s.io/pause:*'] } },
  tests: { enabled: false },
};

t.test('helm upgrade from the previous chart lifts the lockout of pods that never start', async (t) => {
  const out = e2eOutputDir(t, 'scenario-upgrade-lockout');
  const previousChart = join(out, 'previous');
  mkdirSync(previousChart, { recursive: true });
  execFileSync('sh', ['-c', `git -C "${repoRoot}" archive ${PREVIOUS_CHART_COMMIT} chart/ecr-admission | tar -x -C "${previousChart}"`]);
  const valuesPath = join(out, 'values.yaml');
  writeFileSync(valuesPath, stringify(values));
  const cluster = await startCluster(t, out);
  await cluster.createNamespaces(NS);
  const kube = ['--kubeconfig', cluster.api.kubeconfigPath, '--namespace', RELEASE_NAMESPACE, '--values', valuesPath];
  let i = 0;
  const create = () => attempt(() => cluster.core.createNamespacedPod({ namespace: NS, body: pod(`p-${i++}`, 'registry.k8s.io/pause:3.10') }));
  const until = async (what: string, ok: (o: Outcome) => boolean) => {
    const deadline = Date.now() + 30_000;
    for (;;) {
      const o = await create();
      if (ok(o)) return o;
      if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}; last: ${JSON.stringify(o)}`);
      await sleep(200);
    }
  };

  const installed = await helm(['install', RELEASE, join(previousChart, 'chart', 'ecr-admission'), '--create-namespace', ...kube]);
  t.equal(installed.code, 0, `helm install of the previous chart\n${installed.stderr}`);
  t.teardown(async () => {
    await helm(['uninstall', RELEASE, ...kube.slice(0, 4)]);
  });
  const before = await cluster.admission.readValidatingWebhookConfiguration({ name: RELEASE });
  t.equal(before.webhooks?.[0]?.failurePolicy, 'Fail', 'the previous chart installs Fail');
  const locked = await until('the previous chart to take effect', (o) => !o.allowed);
  t.match(locked.message, `failed calling webhook "${WEBHOOK_NAME}"`, 'with no pod able to start, every Pod in a checked namespace is rejected');

  const upgraded = await helm(['upgrade', RELEASE, join(repoRoot, 'chart', 'ecr-admission'), ...kube]);
  t.equal(upgraded.code, 0, `helm upgrade to this chart\n${upgraded.stderr}`);
  const after = await cluster.admission.readValidatingWebhookConfiguration({ name: RELEASE });
  t.equal(after.webhooks?.[0]?.failurePolicy, 'Ignore', 'set back to Ignore: nothing is rejected until a new pod serves');
  t.notOk(after.webhooks?.[0]?.clientConfig.caBundle, "the previous chart's caBundle is gone (the pods will write theirs)");
  t.equal(after.metadata?.annotations?.['ecr-admission.io/failure-policy'], 'Fail', 'the target is there for the pods');
  await until('Pods created again', (o) => o.allowed);
  t.pass('Pods are created again');
});
