// Lockout and registration as rendered: the webhook configuration rejects nothing until a
// webhook pod switches it (failurePolicy Ignore, the target in an annotation), `helm template`
// renders the same bytes every time (no generated CA), and the RBAC that lets the pods write
// the caBundle and their Secret is exactly that: named objects, get/patch/update, nothing else.
// The same against a real API server: test/e2e/scenarios/lockout.test.ts and ca-rotation.test.ts.
import t from 'tap';
import { NAMESPACE, RELEASE, helmTemplate, only, renderChart, type KubeObject } from './helm.ts';
import type { Deployment, ValidatingWebhookConfiguration } from './kube-types.ts';

interface Rule {
  apiGroups: string[];
  resources: string[];
  resourceNames?: string[];
  verbs: string[];
  nonResourceURLs?: string[];
}
type RoleObject = KubeObject & { rules: Rule[] };
type Binding = KubeObject & { roleRef: { kind: string; name: string }; subjects: Array<{ kind: string; name: string; namespace?: string }> };

const optOut = ['webhook.namespaceOptOutLabel="ecr-admission.io/ignore"', 'webhook.namespaceLabelEditors.groups=["platform-admins"]'];

t.test('helm template renders the same bytes twice (Argo CD, Flux): no CA made at render time', async (t) => {
  for (const [label, setJson] of [
    ['defaults', []],
    ['with the namespace-label webhook', optOut],
  ] as const) {
    const first = helmTemplate({ setJson });
    const second = helmTemplate({ setJson });
    t.equal(first.status, 0, first.stderr);
    t.equal(second.stdout, first.stdout, `${label}: identical output`);
    t.notMatch(first.stdout, /BEGIN (CERTIFICATE|PRIVATE KEY|EC PRIVATE KEY)|caBundle:/, `${label}: no certificate, key or caBundle anywhere`);
  }
  // The contrast that motivated it: the chart-made CA is new on every render without a cluster.
  const a = helmTemplate({ setJson: ['tls.source="chart"'] });
  const b = helmTemplate({ setJson: ['tls.source="chart"'] });
  t.not(a.stdout, b.stdout, 'tls.source chart: a new CA each render (why it is not the default)');
});

t.test('the webhook configuration rejects nothing until a pod serves', async (t) => {
  for (const target of ['Fail', 'Ignore']) {
    const objects = renderChart({ setJson: [`webhook.failurePolicy="${target}"`] });
    const vwc = only<ValidatingWebhookConfiguration>(objects, 'ValidatingWebhookConfiguration');
    t.equal(vwc.webhooks[0]?.failurePolicy, 'Ignore', `target ${target}: installed with Ignore`);
    t.equal(vwc.metadata.annotations?.['ecr-admission.io/failure-policy'], target, `target ${target}: the pods' target in the annotation`);
  }
  const cm = renderChart({ ciValues: ['cert-manager-values.yaml'] });
  t.equal(
    only<ValidatingWebhookConfiguration>(cm, 'ValidatingWebhookConfiguration').webhooks[0]?.failurePolicy,
    'Ignore',
    'with cert-manager too (the pods switch it)',
  );
});

t.test('the pods reach the API server with their own token, and are told what to maintain', async (t) => {
  for (const [label, setJson, names] of [
    ['defaults', [], `${RELEASE},mutating:${RELEASE}-pin`],
    ['namespace-label webhook', optOut, `${RELEASE},${RELEASE}-namespace-label,mutating:${RELEASE}-pin`],
    ['no digest pinning', ['mutatingWebhook.enabled=false'], RELEASE],
  ] as const) {
    const deployment = only<Deployment>(renderChart({ setJson }), 'Deployment');
    t.equal(deployment.spec.template.spec.automountServiceAccountToken, true, `${label}: the API token is mounted`);
    const env = deployment.spec.template.spec.containers.find((c) => c.name === 'webhook')?.env ?? [];
    t.equal(env.find((e) => e.name === 'ECR_ADMISSION_WEBHOOK_CONFIGURATION')?.value, names, `${label}: the configurations it maintains`);
  }
});

const FORBIDDEN_VERBS = ['create', 'delete', 'deletecollection', 'list', 'watch', '*', 'escalate', 'bind', 'impersonate'];

function rbac(all: readonly KubeObject[]) {
  // The webhook's RBAC; the controller's (templates/controller.yaml) has its own test (controller.test.ts).
  const objects = all.filter((o) => !o.metadata.name.endsWith('-controller') && !o.metadata.name.endsWith('-controller-lease'));
  return {
    clusterRoles: objects.filter((o) => o.kind === 'ClusterRole') as RoleObject[],
    roles: objects.filter((o) => o.kind === 'Role') as RoleObject[],
    bindings: objects.filter((o) => o.kind === 'ClusterRoleBinding' || o.kind === 'RoleBinding') as Binding[],
  };
}

t.test('RBAC is least privilege: each verb on each named object, nothing else', async (t) => {
  const { clusterRoles, roles, bindings } = rbac(renderChart());
  t.same(
    clusterRoles.map((r) => r.rules),
    [
      [
        { apiGroups: ['admissionregistration.k8s.io'], resources: ['validatingwebhookconfigurations'], resourceNames: [RELEASE], verbs: ['get', 'patch'] },
        {
          apiGroups: ['admissionregistration.k8s.io'],
          resources: ['mutatingwebhookconfigurations'],
          resourceNames: [`${RELEASE}-pin`],
          verbs: ['get', 'patch'],
        },
      ],
    ],
    'cluster-wide: get and patch its own webhook configurations only',
  );
  t.same(
    roles.map((r) => [r.metadata.namespace, r.rules]),
    [[NAMESPACE, [{ apiGroups: [''], resources: ['secrets'], resourceNames: [`${RELEASE}-certificates`], verbs: ['get', 'update'] }]]],
    'in its namespace: get and update its certificate Secret only',
  );
  for (const rule of [...clusterRoles, ...roles].flatMap((r) => r.rules)) {
    t.ok(rule.resourceNames && rule.resourceNames.length > 0, `${rule.resources.join()}: limited by resourceNames`);
    t.same(
      rule.verbs.filter((v) => FORBIDDEN_VERBS.includes(v)),
      [],
      `${rule.resources.join()}: no create/list/watch/delete/escalation verb`,
    );
    t.notOk(rule.apiGroups.includes('*') || rule.resources.includes('*'), 'no wildcard');
  }
  t.equal(bindings.length, 2, 'one binding per role');
  for (const binding of bindings) {
    t.same(
      binding.subjects,
      [{ kind: 'ServiceAccount', name: RELEASE, namespace: NAMESPACE }],
      `${binding.kind} ${binding.metadata.name}: the chart's ServiceAccount only`,
    );
    t.ok(
      [...clusterRoles, ...roles].some((r) => r.kind === binding.roleRef.kind && r.metadata.name === binding.roleRef.name),
      "binds the chart's role",
    );
  }

  const withLabel = rbac(renderChart({ setJson: optOut }));
  t.same(withLabel.clusterRoles[0]?.rules[0]?.resourceNames, [RELEASE, `${RELEASE}-namespace-label`], 'the namespace-label webhook configuration is named too');
  const cm = rbac(renderChart({ ciValues: ['cert-manager-values.yaml'] }));
  t.equal(cm.roles.length, 0, 'cert-manager: no Secret access at all (cert-manager writes it, the pod mounts it)');
  t.equal(cm.clusterRoles.length, 1, 'cert-manager: still get/patch on the webhook configuration (failurePolicy)');
});
