// The controller as the chart renders it (templates/controller.yaml): its own Deployment with
// the webhook's security settings, its own ServiceAccount and exactly the RBAC the issue lists,
// the optional PolicyReport CRD and the alert. Against a real API server: test/e2e/scenarios/controller.test.ts.
import t from 'tap';
import { NAMESPACE, RELEASE, only, renderChart, type KubeObject } from './helm.ts';
import type { Deployment, ValidatingWebhookConfiguration } from './kube-types.ts';

const NAME = `${RELEASE}-controller`;
type RoleObject = KubeObject & { rules: Array<{ apiGroups: string[]; resources: string[]; resourceNames?: string[]; verbs: string[] }> };
type Binding = KubeObject & { roleRef: { kind: string; name: string }; subjects: Array<{ kind: string; name: string; namespace?: string }> };

t.test('a Deployment of 2 replicas with the webhook pod security settings, told its interval and lease', async (t) => {
  const objects = renderChart();
  const controller = only<Deployment>(objects, 'Deployment', '-controller');
  const webhook = only<Deployment>(objects, 'Deployment');
  t.equal(controller.spec.replicas, 2);
  const pod = controller.spec.template.spec;
  t.same(pod.securityContext, webhook.spec.template.spec.securityContext, 'same pod security context');
  const [container] = pod.containers;
  t.same(
    container?.securityContext,
    webhook.spec.template.spec.containers.find((c) => c.name === 'webhook')?.securityContext,
    'same container security context',
  );
  t.same(container?.args, ['controller']);
  t.equal((pod as unknown as { serviceAccountName: string }).serviceAccountName, NAME, 'its own ServiceAccount');
  const env = Object.fromEntries((container?.env ?? []).map((e) => [e.name, e.value ?? 'valueFrom']));
  t.equal(env.ECR_ADMISSION_INTERVAL_MS, '300000', 'default 5 minutes');
  t.equal(env.ECR_ADMISSION_LEASE_NAME, NAME);
  t.equal(env.POD_NAME, 'valueFrom', 'identity from the Pod name');
  t.equal(env.ECR_ADMISSION_CONFIG, '/etc/ecr-admission/policy.yaml', 'the same policy file');
  t.not(
    controller.spec.selector.matchLabels['app.kubernetes.io/component'],
    webhook.spec.selector.matchLabels['app.kubernetes.io/component'],
    'selectors do not overlap',
  );
  const interval = only<Deployment>(renderChart({ setJson: ['controller.intervalSeconds=60'] }), 'Deployment', '-controller');
  t.equal(interval.spec.template.spec.containers[0]?.env?.find((e) => e.name === 'ECR_ADMISSION_INTERVAL_MS')?.value, '60000');
});

t.test('least RBAC: exactly what the controller calls', async (t) => {
  const objects = renderChart();
  const clusterRole = only<RoleObject>(objects, 'ClusterRole', '-controller');
  t.same(clusterRole.rules, [
    { apiGroups: [''], resources: ['pods', 'namespaces'], verbs: ['get', 'list', 'watch'] },
    { apiGroups: ['wgpolicyk8s.io'], resources: ['policyreports'], verbs: ['get', 'list', 'watch', 'create', 'update', 'patch', 'delete'] },
    { apiGroups: [''], resources: ['events'], verbs: ['create', 'patch'] },
  ]);
  const role = only<RoleObject>(objects, 'Role', '-controller-lease');
  t.equal(role.metadata.namespace, NAMESPACE, 'leases in its own namespace only');
  t.same(role.rules, [
    { apiGroups: ['coordination.k8s.io'], resources: ['leases'], verbs: ['create'] },
    { apiGroups: ['coordination.k8s.io'], resources: ['leases'], resourceNames: [NAME], verbs: ['get', 'update'] },
  ]);
  for (const binding of [only<Binding>(objects, 'ClusterRoleBinding', '-controller'), only<Binding>(objects, 'RoleBinding', '-controller-lease')]) {
    t.same(binding.subjects, [{ kind: 'ServiceAccount', name: NAME, namespace: NAMESPACE }], `${binding.metadata.name}: the controller's ServiceAccount only`);
  }
  const sa = only<KubeObject & { automountServiceAccountToken: boolean }>(objects, 'ServiceAccount', '-controller');
  t.equal(sa.automountServiceAccountToken, false, 'mounted by its pod only');
  const irsa = only<KubeObject>(
    renderChart({ setJson: ['serviceAccount.roleArn="arn:aws:iam::111122223333:role/ecr-admission"'] }),
    'ServiceAccount',
    '-controller',
  );
  t.equal(irsa.metadata.annotations?.['eks.amazonaws.com/role-arn'], 'arn:aws:iam::111122223333:role/ecr-admission', "the webhook's IAM role by default");
});

t.test('the CRD and the alert are opt-in; controller.enabled=false renders none of it', async (t) => {
  t.equal(renderChart().filter((o) => o.kind === 'CustomResourceDefinition').length, 0, 'no CRD by default');
  const withCrd = renderChart({ setJson: ['controller.installPolicyReportCRD=true'] });
  const crd = only<KubeObject & { spec: { group: string; versions: Array<{ name: string }> } }>(withCrd, 'CustomResourceDefinition');
  t.equal(crd.metadata.name, 'policyreports.wgpolicyk8s.io');
  t.ok(
    crd.spec.versions.some((v) => v.name === 'v1alpha2'),
    'serves v1alpha2',
  );
  const rules = renderChart({ setJson: ['prometheusRule.enabled=true'] });
  const rule = only<KubeObject & { spec: { groups: Array<{ rules: Array<{ alert: string; expr: string; for: string }> }> } }>(
    rules,
    'PrometheusRule',
    '-controller',
  );
  const alert = rule.spec.groups[0]?.rules[0];
  t.equal(alert?.alert, 'EcrAdmissionRunningImagesFailing');
  t.match(alert?.expr, /ecr_admission_controller_failing_pods/);
  t.equal(alert?.for, '15m');
  const off = renderChart({ setJson: ['controller.enabled=false', 'controller.installPolicyReportCRD=true', 'prometheusRule.enabled=true'] });
  t.same(
    off.filter((o) => o.metadata.name.startsWith(NAME) || o.kind === 'CustomResourceDefinition').map((o) => `${o.kind}/${o.metadata.name}`),
    [],
  );
});

t.test("the controller reports the namespaces the webhook checks: the configuration's namespaceSelector", async (t) => {
  for (const setJson of [[], ['webhook.namespaceOptOutLabel="ecr-admission.io/ignore"', 'webhook.namespaceLabelEditors.groups=["platform-admins"]']]) {
    const objects = renderChart({ setJson });
    const env = only<Deployment>(objects, 'Deployment', '-controller').spec.template.spec.containers[0]?.env ?? [];
    const selector = JSON.parse(env.find((e) => e.name === 'ECR_ADMISSION_NAMESPACE_SELECTOR')?.value ?? 'null') as unknown;
    const vwc = objects.find((o) => o.kind === 'ValidatingWebhookConfiguration' && o.metadata.name === RELEASE) as ValidatingWebhookConfiguration;
    t.same(selector, vwc.webhooks[0]?.namespaceSelector, `the same selector (${setJson.length > 0 ? 'opt-out label on' : 'defaults'})`);
  }
});
