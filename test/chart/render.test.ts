// helm lint and helm template on the default values and every ci/*-values.yaml, and the
// safety properties every one of those renders must keep.
import t, { type Test } from 'tap';
import { CI_VALUES_FILES, NAMESPACE, helmLint, only, renderChart, type KubeObject } from './helm.ts';
import {
  containerNamed,
  envOf,
  type Deployment,
  type Pod,
  type SecurityContext,
  type ServiceAccount,
  type ValidatingWebhookConfiguration,
} from './kube-types.ts';

// What the server admits (DESIGN.md): every kind carrying a pod spec, and ephemeral containers.
const REQUIRED_RESOURCES: ReadonlyArray<readonly [group: string, resource: string]> = [
  ['', 'pods'],
  ['', 'pods/ephemeralcontainers'],
  ['', 'replicationcontrollers'],
  ['', 'podtemplates'],
  ['apps', 'deployments'],
  ['apps', 'replicasets'],
  ['apps', 'statefulsets'],
  ['apps', 'daemonsets'],
  ['batch', 'jobs'],
  ['batch', 'cronjobs'],
];

const VARIANTS: ReadonlyArray<{ name: string; ciValues: string[] }> = [
  { name: 'default values', ciValues: [] },
  ...CI_VALUES_FILES.map((file) => ({ name: file, ciValues: [file] })),
];

t.test('the chart has a CI values file for each required scenario', async (t) => {
  for (const scenario of ['cert-manager', 'self-signed', 'irsa', 'networkpolicy', 'monitoring', 'kind']) {
    t.ok(CI_VALUES_FILES.includes(`${scenario}-values.yaml`), `ci/${scenario}-values.yaml exists`);
  }
});

function assertLockedDown(t: Test, where: string, context: SecurityContext | undefined): void {
  t.equal(context?.runAsNonRoot, true, `${where}: runAsNonRoot`);
  t.equal(context?.runAsUser, 65532, `${where}: runAsUser 65532`);
  t.equal(context?.readOnlyRootFilesystem, true, `${where}: readOnlyRootFilesystem`);
  t.equal(context?.allowPrivilegeEscalation, false, `${where}: no privilege escalation`);
  t.same(context?.capabilities?.drop, ['ALL'], `${where}: drops ALL capabilities`);
  t.notOk(context?.capabilities?.add, `${where}: adds no capability`);
  t.equal(context?.seccompProfile?.type, 'RuntimeDefault', `${where}: seccomp RuntimeDefault`);
}

for (const variant of VARIANTS) {
  t.test(variant.name, async (t) => {
    const lint = helmLint({ ciValues: variant.ciValues });
    t.equal(lint.status, 0, `helm lint --strict passes: ${lint.stdout}${lint.stderr}`);

    const objects = renderChart({ ciValues: variant.ciValues });
    const names = new Set(objects.map((o) => `${o.kind}/${o.metadata.name}`));
    t.equal(names.size, objects.length, 'no two objects share a kind and name');
    const clusterScoped = ['ValidatingWebhookConfiguration', 'MutatingWebhookConfiguration', 'ClusterRole', 'ClusterRoleBinding'];
    for (const o of objects.filter((o: KubeObject) => !clusterScoped.includes(o.kind))) {
      t.equal(o.metadata.namespace, NAMESPACE, `${o.kind}/${o.metadata.name} is in the release namespace`);
    }

    const deployment = only<Deployment>(objects, 'Deployment');
    const pod = deployment.spec.template.spec;
    t.equal(deployment.spec.replicas, 3, '3 replicas');
    // The webhook maintains its webhook configuration and certificate Secret (RBAC:
    // registration.test.ts); the ServiceAccount's default stays off for anything else using it.
    t.equal(pod.automountServiceAccountToken, true, 'the pod mounts its Kubernetes API token');
    t.equal(only<ServiceAccount>(objects, 'ServiceAccount').automountServiceAccountToken, false, 'nor on the ServiceAccount');
    t.equal(pod.securityContext?.runAsNonRoot, true, 'pod runAsNonRoot');
    t.equal(pod.securityContext?.runAsUser, 65532, 'pod runAsUser 65532');
    t.equal(pod.securityContext?.seccompProfile?.type, 'RuntimeDefault', 'pod seccomp RuntimeDefault');
    for (const container of pod.containers) {
      assertLockedDown(t, `container ${container.name}`, container.securityContext);
      t.ok(container.resources?.requests?.['cpu'] && container.resources.requests['memory'], `${container.name} has cpu and memory requests`);
      t.ok(container.resources?.limits?.['memory'], `${container.name} has a memory limit`);
    }
    const webhookContainer = containerNamed(pod, 'webhook');
    t.same(webhookContainer.args, ['serve'], 'the webhook container runs serve');
    t.same(webhookContainer.livenessProbe?.httpGet, { path: '/healthz', port: 'http-health' }, 'liveness probe on the health port');
    t.same(webhookContainer.readinessProbe?.httpGet, { path: '/readyz', port: 'http-health' }, 'readiness probe on the health port');
    t.same(
      (pod.topologySpreadConstraints ?? []).map((c) => c.topologyKey).sort(),
      ['kubernetes.io/hostname', 'topology.kubernetes.io/zone'],
      'spread across zones and nodes',
    );

    const pdb = only<KubeObject & { spec: { minAvailable: number; selector: { matchLabels: Record<string, string> } } }>(objects, 'PodDisruptionBudget');
    t.ok(pdb.spec.minAvailable >= 1 && pdb.spec.minAvailable < deployment.spec.replicas, 'the PDB keeps a pod and still lets a node drain');
    t.same(pdb.spec.selector.matchLabels, deployment.spec.selector.matchLabels, 'the PDB selects the webhook pods');

    const vwc = only<ValidatingWebhookConfiguration>(objects, 'ValidatingWebhookConfiguration');
    t.equal(vwc.webhooks.length, 1, 'one webhook');
    const webhook = vwc.webhooks[0]!;
    t.same(webhook.admissionReviewVersions, ['v1'], 'admissionReviewVersions [v1]');
    t.equal(webhook.sideEffects, 'None', 'sideEffects None');
    t.ok(webhook.timeoutSeconds >= 1 && webhook.timeoutSeconds <= 30, `timeoutSeconds ${webhook.timeoutSeconds} within 1..30`);
    const budgetMs = Number(envOf(webhookContainer).get('ECR_ADMISSION_BUDGET_MS'));
    t.equal(budgetMs, Math.max(1000, webhook.timeoutSeconds * 1000 - 2000), 'budget derived from timeoutSeconds');
    t.ok(budgetMs < webhook.timeoutSeconds * 1000, `budget ${budgetMs} ms is below the ${webhook.timeoutSeconds} s timeout`);
    t.equal(webhook.clientConfig.service.namespace, NAMESPACE, 'calls the Service in the release namespace');
    t.equal(webhook.clientConfig.service.path, '/validate', 'on /validate');

    const excluded = webhook.namespaceSelector.matchExpressions.find((e) => e.key === 'kubernetes.io/metadata.name');
    t.equal(excluded?.operator, 'NotIn', 'namespaces are excluded by name');
    t.ok(excluded?.values?.includes(NAMESPACE), 'its own namespace is excluded');
    t.ok(excluded?.values?.includes('kube-system'), 'kube-system is excluded');

    for (const [group, resource] of REQUIRED_RESOURCES) {
      const rule = webhook.rules.find((r) => r.apiGroups.includes(group) && r.resources.includes(resource));
      t.ok(rule, `a rule covers ${group || 'core'}/${resource}`);
      t.ok(rule?.operations.includes('CREATE') && rule.operations.includes('UPDATE'), `${resource}: CREATE and UPDATE`);
    }
    t.notOk(
      webhook.rules.some((r) => r.resources.includes('*') || r.apiGroups.includes('*')),
      'no wildcard rule',
    );

    const test = only<Pod>(objects, 'Pod', '-test');
    t.equal(test.metadata.annotations?.['helm.sh/hook'], 'test', 'a helm test hook');
    assertLockedDown(t, 'test pod', test.spec.containers[0]?.securityContext);
    t.notOk(
      Object.entries(deployment.spec.selector.matchLabels).every(([k, v]) => test.metadata.labels?.[k] === v),
      'the Service and PDB selector does not pick up the test pod',
    );
  });
}
