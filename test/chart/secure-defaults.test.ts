// The chart's defaults fail closed where a default is a security decision (issue 12): no
// namespace opt-out label anyone who can label a namespace could use, unscanned images denied,
// and no NetworkPolicy until an admin says where the API server's calls come from; when one is
// enabled, the EKS values (control-plane subnet CIDRs, DNS peers) render into a policy that
// admits the API server and the chart's own test pod on the webhook port.
import t from 'tap';
import { BlockList, isIPv6 } from 'node:net';
import { parsePolicy } from '../../src/policy/load.ts';
import { helmTemplate, only, renderChart, type KubeObject } from './helm.ts';
import { containerNamed, type ConfigMap, type Deployment, type Pod, type ValidatingWebhookConfiguration } from './kube-types.ts';

interface Peer {
  ipBlock?: { cidr: string; except?: string[] };
  podSelector?: { matchLabels?: Record<string, string> };
  namespaceSelector?: { matchLabels?: Record<string, string> };
}
interface PortRef {
  port: string | number;
  protocol?: string;
}
interface NetworkPolicy extends KubeObject {
  spec: {
    podSelector: { matchLabels: Record<string, string> };
    policyTypes: string[];
    ingress: Array<{ ports: PortRef[]; from?: Peer[] }>;
    egress: Array<{ ports: PortRef[]; to?: Peer[] }>;
  };
}

// The image webhook (the namespace-label guard, when rendered, is a second configuration).
const webhookOf = (objects: KubeObject[]) =>
  only<ValidatingWebhookConfiguration>(
    objects.filter((o) => !o.metadata.name.endsWith('-namespace-label')),
    'ValidatingWebhookConfiguration',
  ).webhooks[0]!;
const policyOf = (objects: KubeObject[]) => parsePolicy(only<ConfigMap>(objects, 'ConfigMap', '-policy').data?.['policy.yaml'] ?? '', 'policy.yaml').policy;
const selects = (selector: Record<string, string> | undefined, labels: Record<string, string> | undefined) =>
  selector !== undefined && Object.entries(selector).every(([k, v]) => labels?.[k] === v);

t.test('default values: no opt-out label, unscanned images denied, no NetworkPolicy', async (t) => {
  const objects = renderChart();
  const expressions = webhookOf(objects).namespaceSelector.matchExpressions;
  t.same(
    expressions.map((e) => e.key),
    ['kubernetes.io/metadata.name'],
    'the only namespace exclusion is by name (release namespace, kube-system)',
  );
  t.notOk(JSON.stringify(webhookOf(objects)).includes('ecr-admission.io/ignore'), 'no ecr-admission.io/ignore label anywhere in the webhook');
  t.equal(policyOf(objects).checks.vulnerabilities?.notScanned, 'deny', 'notScanned: deny in the default policy');
  t.same(
    objects.filter((o) => o.kind === 'NetworkPolicy'),
    [],
    'no NetworkPolicy',
  );
});

t.test('an opt-out label, when an admin sets one, is a NotIn "true" expression', async (t) => {
  const expressions = webhookOf(
    renderChart({ setJson: ['webhook.namespaceOptOutLabel="ecr-admission.io/ignore"', 'webhook.namespaceLabelEditors.groups=["platform-admins"]'] }),
  ).namespaceSelector.matchExpressions;
  t.same(
    expressions.find((e) => e.key === 'ecr-admission.io/ignore'),
    { key: 'ecr-admission.io/ignore', operator: 'NotIn', values: ['true'] },
  );
});

t.test('the namespace-label guard is sent the status and finalize subresources too', async (t) => {
  // Both keep the labels an update carries: without them, update on namespaces/status set the
  // opt-out label past the guard (attacker review, on kube-apiserver 1.32 and 1.37).
  const guard = renderChart({
    setJson: ['webhook.namespaceOptOutLabel="ecr-admission.io/ignore"', 'webhook.namespaceLabelEditors.groups=["platform-admins"]'],
  }).find((o) => o.kind === 'ValidatingWebhookConfiguration' && o.metadata.name.endsWith('-namespace-label')) as unknown as
    { webhooks: Array<{ rules: Array<{ resources: string[]; operations: string[] }> }> } | undefined;
  t.same(guard?.webhooks[0]?.rules, [
    {
      apiGroups: [''],
      apiVersions: ['v1'],
      resources: ['namespaces', 'namespaces/status', 'namespaces/finalize'],
      operations: ['CREATE', 'UPDATE'],
      scope: 'Cluster',
    },
  ]);
});

function enabled(setJson: string[]): { policy: NetworkPolicy; deployment: Deployment; testPod: Pod } {
  const objects = renderChart({ setJson: ['networkPolicy.enabled=true', ...setJson] });
  return {
    policy: only<NetworkPolicy>(objects, 'NetworkPolicy'),
    deployment: only<Deployment>(objects, 'Deployment'),
    testPod: only<Pod>(objects, 'Pod', '-test'),
  };
}

t.test('enabled with the EKS values: the webhook port admits the control-plane CIDRs and the test pod only', async (t) => {
  const cidrs = ['10.0.0.0/24', '10.0.1.0/24', '2600:1f18:1234:5600::/64'];
  const dns = { namespaceSelector: { matchLabels: { 'kubernetes.io/metadata.name': 'kube-system' } }, podSelector: { matchLabels: { 'k8s-app': 'kube-dns' } } };
  const { policy, deployment, testPod } = enabled([
    `networkPolicy.apiServerCIDRs=${JSON.stringify(cidrs)}`,
    `networkPolicy.dnsTo=[${JSON.stringify(dns)}]`,
    'networkPolicy.awsTo=[{"ipBlock":{"cidr":"10.0.128.0/20"}}]',
  ]);
  t.same(policy.spec.policyTypes, ['Ingress', 'Egress']);
  t.same(policy.spec.podSelector.matchLabels, deployment.spec.selector.matchLabels, 'it selects the webhook pods');

  const webhookContainer = containerNamed(deployment.spec.template.spec, 'webhook');
  const portNames = new Set((webhookContainer.ports ?? []).map((p) => p.name));
  for (const rule of policy.spec.ingress)
    for (const p of rule.ports) t.ok(portNames.has(String(p.port)), `ingress port ${p.port} is a named port of the webhook container`);

  const https = policy.spec.ingress.filter((r) => r.ports.some((p) => p.port === 'https'));
  t.equal(https.length, 1, 'one ingress rule for the webhook port');
  const from = https[0]!.from ?? [];
  t.same(
    from.filter((p) => p.ipBlock).map((p) => p.ipBlock),
    cidrs.map((cidr) => ({ cidr })),
    'each apiServerCIDR is an ipBlock source',
  );
  const blocks = new BlockList();
  for (const peer of from) {
    if (!peer.ipBlock) continue;
    const [address, prefix] = peer.ipBlock.cidr.split('/');
    t.doesNotThrow(() => blocks.addSubnet(address!, Number(prefix), isIPv6(address!) ? 'ipv6' : 'ipv4'), `${peer.ipBlock.cidr} is a valid CIDR`);
  }
  t.ok(blocks.check('10.0.1.17'), 'an ENI address in a control-plane subnet is admitted');
  t.notOk(blocks.check('10.0.2.17'), 'a Pod address outside those subnets is not');
  const podPeers = from.filter((p) => p.podSelector);
  t.equal(podPeers.length, 1, 'one pod peer on the webhook port');
  t.ok(selects(podPeers[0]!.podSelector?.matchLabels, testPod.metadata.labels), "it is the chart's helm test pod (it checks the webhook port's certificate)");
  t.notOk(selects(podPeers[0]!.podSelector?.matchLabels, deployment.spec.template.metadata.labels), 'and not every pod of the release');
  t.notOk(
    from.some((p) => p.namespaceSelector),
    'no namespace-wide source',
  );

  const egressTo = (port: number) => policy.spec.egress.filter((r) => r.ports.some((p) => p.port === port));
  const dnsRules = egressTo(53);
  t.equal(dnsRules.length, 1);
  t.same(dnsRules[0]!.ports.map((p) => p.protocol).sort(), ['TCP', 'UDP'], 'DNS over UDP and TCP');
  t.same(dnsRules[0]!.to, [dns], 'DNS only to CoreDNS');
  t.same(egressTo(443)[0]!.to, [{ ipBlock: { cidr: '10.0.128.0/20' } }], 'AWS APIs only through the endpoint subnets');
  t.same(egressTo(80)[0]!.to, [{ ipBlock: { cidr: '169.254.170.23/32' } }, { ipBlock: { cidr: 'fd00:ec2::23/128' } }], 'the Pod Identity agent');
});

t.test('enabled with no source named: the webhook port stays open to any source, never locking the API server out', async (t) => {
  const { policy } = enabled([]);
  const https = policy.spec.ingress.filter((r) => r.ports.some((p) => p.port === 'https'));
  t.equal(https.length, 1);
  t.equal(https[0]!.from, undefined, 'no from: any source');
  t.equal(policy.spec.egress.find((r) => r.ports.some((p) => p.port === 53))?.to, undefined, 'DNS to anywhere when dnsTo is empty');
});

t.test('apiServerCIDRs takes CIDRs only', async (t) => {
  for (const bad of ['"10.0.0.0"', '"vpc-0abc"', '"subnet-0123/24"', '{"cidr":"10.0.0.0/24"}']) {
    const run = helmTemplate({ setJson: ['networkPolicy.enabled=true', `networkPolicy.apiServerCIDRs=[${bad}]`] });
    t.not(run.status, 0, `${bad}: refused`);
    t.match(run.stderr, /apiServerCIDRs/, `${bad}: the error names the value`);
  }
  const ok = helmTemplate({ setJson: ['networkPolicy.apiServerCIDRs=["192.168.0.0/16","fd00::/8"]'] });
  t.equal(ok.status, 0, `IPv4 and IPv6 CIDRs pass: ${ok.stderr}`);
});
