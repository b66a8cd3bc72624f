// The webhook's TLS as rendered: with the default tls.source webhook no key material at all
// (an empty Secret the pods fill); the chart-made CA and serving certificate of tls.source
// chart (what the API server is told to trust, what the pod serves, what stays out of the
// pod); the cert-manager objects when cert-manager is on. Persistence across upgrades:
// install.test.ts; the lockout and RBAC side: registration.test.ts.
import t from 'tap';
import { X509Certificate, createPrivateKey } from 'node:crypto';
import { NAMESPACE, RELEASE, only, renderChart, type KubeObject } from './helm.ts';
import type { Deployment, Secret, ValidatingWebhookConfiguration } from './kube-types.ts';

const SERVICE = RELEASE; // release "ecr-admission": the full name is the release name
const SERVICE_NAMES = [`${SERVICE}.${NAMESPACE}.svc`, `${SERVICE}.${NAMESPACE}.svc.cluster.local`, `${SERVICE}.${NAMESPACE}`, SERVICE];
const DAY_MS = 86_400_000;

const decode = (b64: string | undefined) => Buffer.from(b64 ?? '', 'base64').toString('utf8');

function tlsVolume(deployment: Deployment): Record<string, unknown> | undefined {
  return deployment.spec.template.spec.volumes?.find((v) => v.name === 'tls');
}

t.test('default: the webhook pods make their certificates; the chart renders no key material', async (t) => {
  const objects = renderChart();
  const secrets = objects.filter((o) => o.kind === 'Secret') as Secret[];
  t.same(
    secrets.map((s) => s.metadata.name),
    [`${RELEASE}-certificates`],
    'one Secret, for the pods to fill',
  );
  t.equal(secrets[0]!.type, 'Opaque', 'Opaque (kubernetes.io/tls would need data the chart does not have)');
  t.notOk(secrets[0]!.data, 'without data: Helm never owns (or reverts) what the pods write');
  const webhook = only<ValidatingWebhookConfiguration>(objects, 'ValidatingWebhookConfiguration').webhooks[0]!;
  t.notOk(webhook.clientConfig.caBundle, 'no caBundle: the pods write it');
  const deployment = only<Deployment>(objects, 'Deployment');
  t.notOk(tlsVolume(deployment), 'no TLS volume: the pods read the Secret through the API');
  const env = Object.fromEntries((deployment.spec.template.spec.containers.find((c) => c.name === 'webhook')?.env ?? []).map((e) => [e.name, e.value]));
  t.equal(env['ECR_ADMISSION_CERTIFICATE_SECRET'], `${RELEASE}-certificates`, 'the Secret is named to the server');
  t.same(env['ECR_ADMISSION_TLS_HOSTS']?.split(','), SERVICE_NAMES, 'the certificate is for the Service names');
  t.notOk(env['ECR_ADMISSION_TLS_CERT'], 'no certificate files');
  t.equal(objects.filter((o) => o.apiVersion.startsWith('cert-manager.io/')).length, 0, 'no cert-manager objects');
});

t.test('chart-made TLS (tls.source chart)', async (t) => {
  const objects = renderChart({ setJson: ['tls.source="chart"'] });
  const caSecret = only<Secret>(objects, 'Secret', '-ca');
  const servingSecret = only<Secret>(objects, 'Secret', '-tls');
  const webhook = only<ValidatingWebhookConfiguration>(objects, 'ValidatingWebhookConfiguration').webhooks[0]!;

  const ca = new X509Certificate(decode(caSecret.data?.['ca.crt']));
  const serving = new X509Certificate(decode(servingSecret.data?.['tls.crt']));
  t.ok(ca.ca, 'the CA certificate is a CA');
  t.notOk(serving.ca, 'the serving certificate is not');
  t.equal(decode(webhook.clientConfig.caBundle), ca.toString(), 'the caBundle is that CA');
  t.equal(decode(servingSecret.data?.['ca.crt']), ca.toString(), 'the serving Secret carries the same ca.crt');
  t.ok(serving.checkIssued(ca) && serving.verify(ca.publicKey), 'the serving certificate is issued and signed by it');
  t.ok(serving.checkPrivateKey(createPrivateKey(decode(servingSecret.data?.['tls.key']))), 'tls.key is its key');
  t.ok(ca.checkPrivateKey(createPrivateKey(decode(caSecret.data?.['ca.key']))), 'ca.key is the CA key (for renewals)');
  for (const name of SERVICE_NAMES) t.ok(serving.checkHost(name), `valid for ${name}`);
  t.equal(servingSecret.type, 'kubernetes.io/tls', 'a kubernetes.io/tls Secret');

  const days = (cert: X509Certificate) => (new Date(cert.validTo).getTime() - Date.now()) / DAY_MS;
  t.ok(Math.abs(days(serving) - 730) < 2, `serving certificate valid ${Math.round(days(serving))} days (validityDays 730)`);
  t.ok(Math.abs(days(ca) - 3650) < 2, `CA valid ${Math.round(days(ca))} days (caValidityDays 3650)`);
  const notAfter = Number(servingSecret.metadata.annotations?.['ecr-admission.io/not-after']) * 1000;
  t.ok(Math.abs(notAfter - new Date(serving.validTo).getTime()) < DAY_MS, 'the not-after annotation (read back on upgrade) matches the certificate');

  const deployment = only<Deployment>(objects, 'Deployment');
  t.same(
    tlsVolume(deployment)?.['secret'],
    {
      secretName: servingSecret.metadata.name,
      items: [
        { key: 'tls.crt', path: 'tls.crt' },
        { key: 'tls.key', path: 'tls.key' },
      ],
      defaultMode: 0o440,
    },
    'the pod gets only tls.crt and tls.key',
  );
  t.notOk(JSON.stringify(deployment).includes(caSecret.metadata.name), 'the CA key Secret is never mounted');
  t.equal(objects.filter((o) => o.apiVersion.startsWith('cert-manager.io/')).length, 0, 'no cert-manager objects');
});

t.test('cert-manager with the chart-made CA chain', async (t) => {
  const objects = renderChart({ ciValues: ['cert-manager-values.yaml'] });
  t.equal(objects.filter((o) => o.kind === 'Secret').length, 0, 'the chart makes no Secret: cert-manager does');
  const vwc = only<ValidatingWebhookConfiguration>(objects, 'ValidatingWebhookConfiguration');
  t.notOk(vwc.webhooks[0]?.clientConfig.caBundle, 'no caBundle in the chart: the cainjector writes it');

  type Certificate = KubeObject & {
    spec: { secretName: string; dnsNames?: string[]; isCA?: boolean; duration?: string; renewBefore?: string; issuerRef: { name: string; kind: string } };
  };
  type Issuer = KubeObject & { spec: { selfSigned?: object; ca?: { secretName: string } } };
  const serving = only<Certificate>(objects, 'Certificate', '-tls');
  t.equal(vwc.metadata.annotations?.['cert-manager.io/inject-ca-from'], `${NAMESPACE}/${serving.metadata.name}`, 'cainjector reads the serving Certificate');
  t.same(serving.spec.dnsNames, SERVICE_NAMES, 'for the Service names');
  t.equal(serving.spec.duration, '720h', 'duration from values');
  t.equal(serving.spec.renewBefore, '240h', 'renewBefore from values');
  t.same(
    tlsVolume(only<Deployment>(objects, 'Deployment'))?.['secret'],
    {
      secretName: serving.spec.secretName,
      items: [
        { key: 'tls.crt', path: 'tls.crt' },
        { key: 'tls.key', path: 'tls.key' },
      ],
      defaultMode: 0o440,
    },
    'the pod mounts its Secret',
  );

  const caIssuer = only<Issuer>(objects, 'Issuer', '-ca');
  const caCert = only<Certificate>(objects, 'Certificate', '-ca');
  const selfSigned = only<Issuer>(objects, 'Issuer', '-selfsigned');
  t.same(
    serving.spec.issuerRef,
    { name: caIssuer.metadata.name, kind: 'Issuer', group: 'cert-manager.io' },
    'the serving certificate comes from the CA issuer',
  );
  t.same(caIssuer.spec.ca, { secretName: caCert.spec.secretName }, 'which signs with the CA certificate');
  t.equal(caCert.spec.isCA, true, 'a CA certificate');
  t.equal(caCert.spec.issuerRef.name, selfSigned.metadata.name, 'from the self-signed issuer');
  t.ok(selfSigned.spec.selfSigned, 'which is self-signed');
});

t.test("cert-manager with the organisation's issuer", async (t) => {
  const objects = renderChart({ ciValues: ['cert-manager-issuer-values.yaml'] });
  t.equal(objects.filter((o) => o.kind === 'Issuer').length, 0, 'the chart makes no issuer');
  const serving = only<KubeObject & { spec: { issuerRef: unknown } }>(objects, 'Certificate');
  t.same(serving.spec.issuerRef, { name: 'platform-ca', kind: 'ClusterIssuer', group: 'cert-manager.io' }, 'the given issuer signs');
});
