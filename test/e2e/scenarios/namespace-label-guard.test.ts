// The namespace-label guard through a real kube-apiserver (RBAC, impersonation, the chart's two
// webhook configurations as rendered): with an opt-out label turned on, a tenant who may update a
// Namespace, or only its status, cannot set the label that switches the image checks off; an
// editor can. Attacker review: `kubectl patch ns --subresource=status` kept the label (1.32 and
// 1.37) while the guard was sent only the Namespace itself, and the tenant's Pods then went
// unchecked.
import t from 'tap';
import { buildEcrWorld } from '../support/ecr-world.ts';
import { pointedAt } from '../support/chart.ts';
import { waitForAdmission } from '../support/cluster.ts';
import { NS, ecrPolicyValues } from '../support/policy.ts';
import { startStack } from '../support/stack.ts';

t.setTimeout(10 * 60_000);

const world = await buildEcrWorld();
const OPT_OUT = 'ecr-admission.io/ignore';
const TENANT_NS = 'tenant-x';
const GUARD = 'namespace-label.ecr-admission.io';

/** A user who may update Namespaces and their status and finalize, and create Pods (not an
 *  editor), and the editors' group with the same rights. */
const TENANT_RBAC = `
apiVersion: rbac.authorization.k8s.io/v1
kind: ClusterRole
metadata: { name: tenant-namespaces }
rules:
  - apiGroups: [""]
    resources: [namespaces, namespaces/status, namespaces/finalize]
    verbs: [get, list, update, patch]
  - apiGroups: [""]
    resources: [pods]
    verbs: [create, get]
---
apiVersion: rbac.authorization.k8s.io/v1
kind: ClusterRoleBinding
metadata: { name: tenant-namespaces }
roleRef: { apiGroup: rbac.authorization.k8s.io, kind: ClusterRole, name: tenant-namespaces }
subjects:
  - { apiGroup: rbac.authorization.k8s.io, kind: User, name: tenant }
  - { apiGroup: rbac.authorization.k8s.io, kind: Group, name: platform-admins }
`;

t.test('the opt-out label cannot be set by a non-editor through the Namespace or its subresources', async (t) => {
  const stack = await startStack(t, {
    name: 'scenario-namespace-label-guard',
    fixture: world.fixture,
    values: () => {
      const values = ecrPolicyValues(world);
      return {
        ...values,
        webhook: { ...(values['webhook'] as object), namespaceOptOutLabel: OPT_OUT, namespaceLabelEditors: { groups: ['platform-admins'] } },
      };
    },
    namespaces: [NS.enforce, TENANT_NS],
  });
  const { cluster, chart, webhook } = stack;
  const guard = chart.namespaceLabelConfiguration;
  if (!guard) throw new Error('the chart rendered no namespace-label configuration');
  await cluster.admission.createValidatingWebhookConfiguration({ body: pointedAt(guard, webhook.url, webhook.caPem) });
  const rbac = await cluster.kubectl(['apply', '-f', '-'], TENANT_RBAC);
  t.equal(rbac.code, 0, `tenant RBAC applied\n${rbac.stderr}`);

  const patch = JSON.stringify({ metadata: { labels: { [OPT_OUT]: 'true' } } });
  const asTenant = (args: string[]) => cluster.kubectl(['--as=tenant', ...args]);
  // The API server sees a new configuration within a second or two: retried until the guard
  // answers (a denial naming it), by way of the plain Namespace patch.
  const deadline = Date.now() + 30_000;
  let plain = await asTenant(['patch', 'namespace', TENANT_NS, '--type=merge', '-p', patch]);
  while (plain.code === 0 && Date.now() < deadline) {
    await cluster.kubectl(['label', 'namespace', TENANT_NS, `${OPT_OUT}-`]);
    await new Promise((resolve) => setTimeout(resolve, 500));
    plain = await asTenant(['patch', 'namespace', TENANT_NS, '--type=merge', '-p', patch]);
  }
  t.not(plain.code, 0, 'a merge patch of the Namespace: refused');
  t.match(plain.stderr, `admission webhook "${GUARD}" denied the request`);

  const status = await asTenant(['patch', 'namespace', TENANT_NS, '--subresource=status', '--type=merge', '-p', patch]);
  t.not(status.code, 0, 'the same patch through namespaces/status: refused');
  t.match(status.stderr, `admission webhook "${GUARD}" denied the request`);
  t.match(status.stderr, /ecr-admission\.io\/ignore=true set would switch the image checks off/);

  const labels = (await cluster.core.readNamespace({ name: TENANT_NS })).metadata?.labels ?? {};
  t.equal(labels[OPT_OUT], undefined, 'the label is not on the Namespace');

  // Checks still apply in the tenant's namespace: the image with a CRITICAL finding is denied.
  const denied = await waitForAdmission(cluster, { namespace: TENANT_NS, image: world.images.critical, until: (o) => !o.allowed });
  t.notOk(denied.allowed, "the tenant's namespace is still checked");

  // An editor may.
  const editor = await cluster.kubectl([
    '--as=someone',
    '--as-group=platform-admins',
    '--as-group=system:authenticated',
    'patch',
    'namespace',
    TENANT_NS,
    '--subresource=status',
    '--type=merge',
    '-p',
    patch,
  ]);
  t.equal(editor.code, 0, `an editor sets it through status\n${editor.stderr}`);
});
