// Digest pinning's MutatingWebhookConfiguration as the chart renders it (webhook-mutating.yaml,
// _pinning.tpl): next to the validating one with the same reach, IfNeeded, None, Ignore by
// default with the target in an annotation, a timeout shorter than the validating one and the
// server's budget derived from it; templates only with policy.pinning.mode pods-and-templates;
// nothing with mode off or mutatingWebhook.enabled false. The same against a real API server:
// test/e2e/scenarios/pinning.test.ts and pinning-registration.test.ts.
import t from 'tap';
import { RELEASE, only, renderChart, type KubeObject } from './helm.ts';
import { containerNamed, envOf, type Deployment, type ValidatingWebhook, type ValidatingWebhookConfiguration } from './kube-types.ts';

type MutatingWebhookConfiguration = KubeObject & { webhooks: Array<ValidatingWebhook & { reinvocationPolicy?: string }> };

const mutating = (objects: readonly KubeObject[]) => objects.filter((o) => o.kind === 'MutatingWebhookConfiguration') as MutatingWebhookConfiguration[];
const pinEnv = (objects: readonly KubeObject[]) => envOf(containerNamed(only<Deployment>(objects, 'Deployment').spec.template.spec, 'webhook'));

t.test('defaults: one MutatingWebhookConfiguration with the validating webhook reach', async (t) => {
  const objects = renderChart();
  const [mwc, ...more] = mutating(objects);
  t.equal(more.length, 0);
  const vwc = only<ValidatingWebhookConfiguration>(objects, 'ValidatingWebhookConfiguration');
  const w = mwc!.webhooks[0]!;
  const v = vwc.webhooks[0]!;
  t.equal(mwc!.metadata.name, `${RELEASE}-pin`);
  t.equal(w.name, 'pin.ecr-admission.io');
  t.equal(w.reinvocationPolicy, 'IfNeeded', 'an image another mutating webhook rewrites is pinned too');
  t.equal(w.sideEffects, 'None');
  t.equal(w.failurePolicy, 'Ignore', 'installed Ignore');
  t.equal(mwc!.metadata.annotations?.['ecr-admission.io/failure-policy'], 'Ignore', 'and its target is Ignore by default');
  t.same(w.admissionReviewVersions, ['v1']);
  t.equal(w.clientConfig.service?.path, '/mutate');
  t.same(w.clientConfig.service?.name, v.clientConfig.service?.name, 'the same Service');
  t.same(w.clientConfig.service?.port, v.clientConfig.service?.port);
  t.same(w.namespaceSelector, v.namespaceSelector, 'the same namespaceSelector (exclusions, release namespace)');
  t.same(w.objectSelector, v.objectSelector, 'the same objectSelector');
  t.same(w.matchConditions, v.matchConditions, 'the same matchConditions');
  t.ok(w.timeoutSeconds < v.timeoutSeconds, `a shorter timeout (${w.timeoutSeconds} < ${v.timeoutSeconds})`);
  t.same(
    w.rules.map((r) => [r.apiGroups, r.resources, r.operations]),
    [[[''], ['pods', 'pods/ephemeralcontainers'], ['CREATE', 'UPDATE']]],
    'Pods and their ephemeral containers only: templates are not rewritten by default (a rollout)',
  );
  t.equal(pinEnv(objects).get('ECR_ADMISSION_PIN_BUDGET_MS'), '3000', 'the pinning budget: timeout 5 s less 2 s');
});

t.test('values: failurePolicy Fail, a timeout, templates, the switches that remove it', async (t) => {
  const fail = mutating(renderChart({ setJson: ['mutatingWebhook.failurePolicy="Fail"'] }))[0]!;
  t.equal(fail.webhooks[0]?.failurePolicy, 'Ignore', 'still installed Ignore');
  t.equal(fail.metadata.annotations?.['ecr-admission.io/failure-policy'], 'Fail', 'the pods switch it to Fail');

  const slow = renderChart({ setJson: ['mutatingWebhook.timeoutSeconds=8'] });
  t.equal(mutating(slow)[0]?.webhooks[0]?.timeoutSeconds, 8);
  t.equal(pinEnv(slow).get('ECR_ADMISSION_PIN_BUDGET_MS'), '6000');
  const clamped = renderChart({ setJson: ['webhook.timeoutSeconds=4', 'mutatingWebhook.timeoutSeconds=9'] });
  t.equal(mutating(clamped)[0]?.webhooks[0]?.timeoutSeconds, 3, 'lowered to webhook.timeoutSeconds - 1');
  t.equal(pinEnv(clamped).get('ECR_ADMISSION_PIN_BUDGET_MS'), '1000', 'budget at least 1000 ms');

  const templates = mutating(renderChart({ setJson: ['policy.pinning={"mode":"pods-and-templates"}'] }))[0]!;
  t.same(
    templates.webhooks[0]?.rules.flatMap((r) => r.resources),
    [
      'pods',
      'pods/ephemeralcontainers',
      'replicationcontrollers',
      'podtemplates',
      'deployments',
      'replicasets',
      'statefulsets',
      'daemonsets',
      'jobs',
      'cronjobs',
    ],
    'pods-and-templates: every kind the validating webhook checks',
  );

  for (const [label, setJson] of [
    ['policy.pinning.mode off', ['policy.pinning={"mode":"off"}']],
    ['mutatingWebhook.enabled false', ['mutatingWebhook.enabled=false']],
  ] as const) {
    const objects = renderChart({ setJson });
    t.equal(mutating(objects).length, 0, `${label}: no MutatingWebhookConfiguration`);
    t.equal(pinEnv(objects).get('ECR_ADMISSION_WEBHOOK_CONFIGURATION'), RELEASE, `${label}: the pods maintain the validating one only`);
    const rules = objects.filter((o) => o.kind === 'ClusterRole').flatMap((o) => (o as KubeObject & { rules: Array<{ resources: string[] }> }).rules);
    t.notOk(
      rules.some((r) => r.resources.includes('mutatingwebhookconfigurations')),
      `${label}: and may not touch a MutatingWebhookConfiguration`,
    );
  }
});

t.test('cert-manager: cainjector fills its caBundle too', async (t) => {
  const mwc = mutating(renderChart({ ciValues: ['cert-manager-values.yaml'] }))[0]!;
  t.match(mwc.metadata.annotations?.['cert-manager.io/inject-ca-from'], /\//);
});

t.test('the policy the chart renders carries pinning to the server', async (t) => {
  const objects = renderChart({ setJson: ['policy.pinning={"requireOnPods":true}'] });
  const policy = only<KubeObject & { data: Record<string, string> }>(objects, 'ConfigMap', '-policy').data['policy.yaml'] ?? '';
  t.match(policy, /pinning:\n\s+requireOnPods: true/);
});
