// The chart's defaults for an EKS install (issue 21): a required image repository, the
// namespaces a cluster needs excluded in one value (and opt-in mode), 3 replicas at
// system-cluster-critical with no CPU limit, a preStop sleep endpoints can converge in, Linux
// nodes, hostNetwork for overlay CNIs, and the namespace-label guard when an opt-out label is on
// (its matchConditions evaluated by kube-apiserver's own CEL code).
import t from 'tap';
import { chartcheck } from './chartcheck.ts';
import { NAMESPACE, helmTemplate, only, renderChart, type KubeObject } from './helm.ts';
import { containerNamed, envOf, type Deployment, type ValidatingWebhookConfiguration } from './kube-types.ts';

t.setTimeout(15 * 60_000);

const ADD_ON_NAMESPACES = [
  'kube-system',
  'kube-public',
  'kube-node-lease',
  'calico-system',
  'tigera-operator',
  'cert-manager',
  'karpenter',
  'amazon-guardduty',
  'amazon-cloudwatch',
];
const imageWebhook = (objects: KubeObject[]) =>
  only<ValidatingWebhookConfiguration>(
    objects.filter((o) => !o.metadata.name.endsWith('-namespace-label')),
    'ValidatingWebhookConfiguration',
  ).webhooks[0]!;
type PodSpecExtras = {
  priorityClassName?: string;
  hostNetwork?: boolean;
  dnsPolicy?: string;
  nodeSelector?: Record<string, string>;
  terminationGracePeriodSeconds?: number;
};
type Lifecycle = { preStop?: { sleep?: { seconds: number }; exec?: unknown } };

t.test('image.repository is required, with a message that says what to set', async (t) => {
  const run = helmTemplate({ withoutImage: true });
  t.not(run.status, 0, 'helm template fails without it');
  t.match(run.stderr, /image\.repository is required: there is no published ecr-admission image/, 'and says why and what to set');
  const deployment = only<Deployment>(renderChart(), 'Deployment');
  t.equal(
    containerNamed(deployment.spec.template.spec, 'webhook').image,
    'registry.example/ecr-admission:0.1.0',
    'the given repository, with the appVersion tag',
  );
});

t.test('availability and sizing defaults', async (t) => {
  const deployment = only<Deployment>(renderChart(), 'Deployment');
  const pod = deployment.spec.template.spec as typeof deployment.spec.template.spec & PodSpecExtras;
  t.equal(deployment.spec.replicas, 3, '3 replicas');
  t.equal(pod.priorityClassName, 'system-cluster-critical', 'priorityClassName system-cluster-critical');
  t.same(pod.nodeSelector, { 'kubernetes.io/os': 'linux' }, 'Linux nodes only');
  t.notOk(pod.hostNetwork, 'no hostNetwork by default');
  const webhook = containerNamed(pod, 'webhook') as ReturnType<typeof containerNamed> & { lifecycle?: Lifecycle };
  t.ok(webhook.resources?.requests?.['cpu'], 'a CPU request');
  t.notOk(webhook.resources?.limits?.['cpu'], 'no CPU limit (throttling would stretch admissions)');
  t.ok(webhook.resources?.limits?.['memory'], 'a memory limit');
  const sleep = webhook.lifecycle?.preStop?.sleep?.seconds ?? 0;
  t.ok(sleep >= 10 && sleep <= 15, `preStop sleeps ${sleep} s: 10-15 s for endpoints to converge`);
  t.notOk(webhook.lifecycle?.preStop?.exec, 'the kubelet sleep action, not exec (the image has no shell)');
  t.ok((pod.terminationGracePeriodSeconds ?? 0) > sleep, 'terminationGracePeriodSeconds above the preStop sleep');
  const pdb = only<KubeObject & { spec: { minAvailable: number } }>(renderChart(), 'PodDisruptionBudget');
  t.equal(pdb.spec.minAvailable, 2, 'drains take one of the 3 pods at a time');
  const two = helmTemplate({ setJson: ['replicaCount=2'] });
  t.match(two.stderr, /podDisruptionBudget\.minAvailable \(2\) must be below replicaCount \(2\)/, 'replicaCount 2 alone is refused with the value to change');
  t.equal(helmTemplate({ setJson: ['replicaCount=2', 'podDisruptionBudget.minAvailable=1'] }).status, 0, 'and renders with minAvailable 1');
});

t.test('the namespaces a cluster needs are excluded by default, in one value', async (t) => {
  const excluded = imageWebhook(renderChart()).namespaceSelector.matchExpressions.find((e) => e.key === 'kubernetes.io/metadata.name');
  t.equal(excluded?.operator, 'NotIn');
  for (const ns of [NAMESPACE, ...ADD_ON_NAMESPACES]) t.ok(excluded?.values?.includes(ns), `${ns} is excluded`);
  const own = imageWebhook(renderChart({ setJson: ['webhook.excludeNamespaces=["kube-system","team-x"]'] })).namespaceSelector.matchExpressions[0];
  t.same(own?.values, [NAMESPACE, 'kube-system', 'team-x'], 'the list given replaces the default; the release namespace stays');
  const run = helmTemplate({ setJson: ['webhook.excludeNamespaces=["team-x"]'] });
  t.not(run.status, 0, 'a list without kube-system is refused');
  t.match(run.stderr, /excludeNamespaces/, 'naming the value');
});

t.test('optIn mode: only namespaces labelled ecr-admission.io/enforce=true, still minus the excluded ones', async (t) => {
  const expressions = imageWebhook(renderChart({ setJson: ['webhook.namespaceSelection="optIn"'] })).namespaceSelector.matchExpressions;
  t.same(
    expressions.find((e) => e.key === 'ecr-admission.io/enforce'),
    { key: 'ecr-admission.io/enforce', operator: 'In', values: ['true'] },
  );
  t.ok(expressions.find((e) => e.key === 'kubernetes.io/metadata.name')?.values?.includes('kube-system'), 'exclusions kept');
  t.notOk(JSON.stringify(imageWebhook(renderChart())).includes('ecr-admission.io/enforce'), 'mode all: no opt-in label');
  t.not(helmTemplate({ setJson: ['webhook.namespaceSelection="some"'] }).status, 0, 'an unknown mode is refused');
});

t.test("with cert-manager, cainjector fills the namespace-label webhook's caBundle", async (t) => {
  const objects = renderChart({
    setJson: ['tls.certManager.enabled=true', 'webhook.namespaceOptOutLabel="ecr-admission.io/ignore"', 'webhook.namespaceLabelEditors.users=["alice"]'],
  });
  const guard = only<KubeObject>(objects, 'ValidatingWebhookConfiguration', '-namespace-label');
  t.equal(guard.metadata.annotations?.['cert-manager.io/inject-ca-from'], `${NAMESPACE}/ecr-admission-tls`);
});

t.test('every variant of these values decodes strictly into the Kubernetes API types', async (t) => {
  const guard = ['webhook.namespaceOptOutLabel="ecr-admission.io/ignore"', 'webhook.namespaceLabelEditors.groups=["platform-admins"]'];
  for (const setJson of [
    ['hostNetwork=true'],
    ['webhook.namespaceSelection="optIn"'],
    guard,
    [...guard, 'webhook.namespaceSelection="optIn"', 'tls.certManager.enabled=true'],
  ]) {
    const objects = renderChart({ setJson });
    const results = chartcheck<Array<{ kind: string; name: string; checked: boolean; error?: string }>>('decode', objects);
    for (const result of results.filter((r) => r.checked))
      t.notOk(result.error, `${setJson.join(' ')}: ${result.kind}/${result.name} decodes strictly${result.error ? `: ${result.error}` : ''}`);
  }
});

t.test('hostNetwork: ports on the node, ClusterFirstWithHostNet, one pod replaced at a time', async (t) => {
  const deployment = only<Deployment & { spec: { strategy: { rollingUpdate: { maxSurge: number; maxUnavailable: number } } } }>(
    renderChart({ setJson: ['hostNetwork=true', 'server.port=9443', 'server.healthPort=9080'] }),
    'Deployment',
  );
  const pod = deployment.spec.template.spec as typeof deployment.spec.template.spec & PodSpecExtras;
  t.equal(pod.hostNetwork, true);
  t.equal(pod.dnsPolicy, 'ClusterFirstWithHostNet', 'cluster DNS still resolves');
  const webhook = containerNamed(pod, 'webhook');
  t.same(
    webhook.ports?.map((p) => p.containerPort),
    [9443, 9080],
    'the configured ports',
  );
  t.same(deployment.spec.strategy.rollingUpdate, { maxUnavailable: 1, maxSurge: 0 }, 'no surge pod competing for the host ports');
});

interface Output {
  compileErrors: string[];
  results: Array<{ name: string; matches: boolean; error?: string }>;
}
const namespace = (labels: Record<string, string> | undefined) => ({
  apiVersion: 'v1',
  kind: 'Namespace',
  metadata: { name: 'team-a', ...(labels && { labels }) },
});

t.test('the namespace-label guard: only with an opt-out label, and only label changes that narrow the checks are sent', async (t) => {
  t.same(
    renderChart().filter((o) => o.metadata.name.endsWith('-namespace-label')),
    [],
    'no guard without an opt-out label',
  );
  const refused = helmTemplate({ setJson: ['webhook.namespaceOptOutLabel="ecr-admission.io/ignore"'] });
  t.not(refused.status, 0, 'an opt-out label with nobody allowed to set it is refused');
  t.match(refused.stderr, /namespaceLabelEditors/);

  const set = [
    'webhook.namespaceOptOutLabel="ecr-admission.io/ignore"',
    'webhook.namespaceLabelEditors.groups=["platform-admins"]',
    'webhook.namespaceLabelEditors.users=["alice"]',
  ];
  for (const mode of ['all', 'optIn'] as const) {
    const objects = renderChart({ setJson: [...set, `webhook.namespaceSelection="${mode}"`] });
    const guard = only<ValidatingWebhookConfiguration & { webhooks: Array<{ failurePolicy: string }> }>(
      objects,
      'ValidatingWebhookConfiguration',
      '-namespace-label',
    ).webhooks[0]!;
    t.same(
      guard.rules.map((r) => [r.apiGroups, r.resources, r.operations]),
      [[[''], ['namespaces', 'namespaces/status', 'namespaces/finalize'], ['CREATE', 'UPDATE']]],
      `${mode}: namespaces and the subresources that write their labels, CREATE and UPDATE`,
    );
    t.equal(guard.failurePolicy, 'Fail', `${mode}: a change that cannot be checked is not made`);
    t.same(
      guard.namespaceSelector.matchExpressions.map((e) => e.key),
      ['kubernetes.io/metadata.name'],
      `${mode}: selected by name only (the API server matches a Namespace's new labels)`,
    );
    const env = envOf(containerNamed(only<Deployment>(objects, 'Deployment').spec.template.spec, 'webhook'));
    t.equal(env.get('ECR_ADMISSION_OPT_OUT_LABEL'), 'ecr-admission.io/ignore', `${mode}: the server knows the label`);
    t.equal(env.get('ECR_ADMISSION_LABEL_EDITOR_GROUPS'), '["platform-admins"]');
    t.equal(env.get('ECR_ADMISSION_LABEL_EDITOR_USERS'), '["alice"]');
    t.equal(env.get('ECR_ADMISSION_OPT_IN_LABEL'), mode === 'optIn' ? 'ecr-admission.io/enforce' : undefined);
    const guardConfig = only<KubeObject>(objects, 'ValidatingWebhookConfiguration', '-namespace-label');
    t.ok(
      env.get('ECR_ADMISSION_WEBHOOK_CONFIGURATION')?.split(',').includes(guardConfig.metadata.name),
      `${mode}: the pods keep its caBundle (tls.source webhook)`,
    );
    t.notOk((guard as unknown as { clientConfig: { caBundle?: string } }).clientConfig.caBundle, `${mode}: no caBundle rendered (the pods write it)`);

    const ignore = { 'ecr-admission.io/ignore': 'true' };
    const enforce = { 'ecr-admission.io/enforce': 'true' };
    const cases = [
      { name: 'CREATE without labels', operation: 'CREATE', object: namespace(undefined), oldObject: null, sent: false },
      { name: 'CREATE with the opt-out label', operation: 'CREATE', object: namespace(ignore), oldObject: null, sent: true },
      { name: 'UPDATE adding the opt-out label', operation: 'UPDATE', object: namespace({ a: 'b', ...ignore }), oldObject: namespace({ a: 'b' }), sent: true },
      {
        name: 'UPDATE keeping the opt-out label',
        operation: 'UPDATE',
        object: namespace({ a: 'c', ...ignore }),
        oldObject: namespace({ a: 'b', ...ignore }),
        sent: false,
      },
      { name: 'UPDATE removing the opt-out label', operation: 'UPDATE', object: namespace({}), oldObject: namespace(ignore), sent: false },
      { name: 'UPDATE of another label', operation: 'UPDATE', object: namespace({ a: 'c' }), oldObject: namespace({ a: 'b' }), sent: false },
      { name: 'UPDATE removing the opt-in label', operation: 'UPDATE', object: namespace({}), oldObject: namespace(enforce), sent: mode === 'optIn' },
      { name: 'UPDATE adding the opt-in label', operation: 'UPDATE', object: namespace(enforce), oldObject: namespace({}), sent: false },
    ].map((c) => ({ ...c, resource: 'namespaces' }));
    const conditions = (guard as unknown as { matchConditions: Array<{ name: string; expression: string }> }).matchConditions;
    const output = chartcheck<Output>('conditions', { conditions, cases });
    t.same(output.compileErrors, [], `${mode}: compiles in the API server CEL environment`);
    for (const [i, result] of output.results.entries()) {
      t.notOk(result.error, `${mode}: ${cases[i]!.name}: evaluates without error`);
      t.equal(result.matches, cases[i]!.sent, `${mode}: ${cases[i]!.name}: ${cases[i]!.sent ? 'sent' : 'not sent'}`);
    }
  }
});

t.test('NetworkPolicy: the pods may reach the Kubernetes API they register with (the control-plane subnets)', async (t) => {
  type Egress = Array<{ ports: Array<{ port: number | string }>; to?: Array<{ ipBlock?: { cidr: string } }> }>;
  const cidrs = ['10.0.0.0/24', '2600:1f18:1234:5600::/64'];
  const policy = only<KubeObject & { spec: { egress: Egress } }>(
    renderChart({
      setJson: [
        'networkPolicy.enabled=true',
        `networkPolicy.apiServerCIDRs=${JSON.stringify(cidrs)}`,
        'networkPolicy.awsTo=[{"ipBlock":{"cidr":"10.0.128.0/20"}}]',
      ],
    }),
    'NetworkPolicy',
  );
  const toApi = policy.spec.egress.filter((r) => r.ports.some((p) => p.port === 443) && r.to?.some((peer) => cidrs.includes(peer.ipBlock?.cidr ?? '')));
  t.equal(toApi.length, 1, 'one egress rule to the control-plane subnets on 443');
  t.same(
    toApi[0]?.to?.map((peer) => peer.ipBlock?.cidr),
    cidrs,
  );
  const open = only<KubeObject & { spec: { egress: Egress } }>(renderChart({ setJson: ['networkPolicy.enabled=true'] }), 'NetworkPolicy');
  t.ok(
    open.spec.egress.some((r) => r.ports.some((p) => p.port === 443) && r.to?.some((peer) => peer.ipBlock?.cidr === '0.0.0.0/0')),
    'without them, the default AWS rule (any address on 443) covers it',
  );
});
