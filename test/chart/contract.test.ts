// The chart runs the server the way its command line understands: the container args and
// environment the chart renders go through the server's own parser (src/cli/args.ts) and
// land on the ports, files and budget the rest of the chart assumes.
import t from 'tap';
import { parseCommandLine, type SandboxOptions, type ServeOptions } from '../../src/cli/args.ts';
import { AwsClients } from '../../src/facts/aws-clients.ts';
import { only, renderChart } from './helm.ts';
import { containerNamed, envOf, type Container, type Deployment } from './kube-types.ts';

function parsed(container: Container): ReturnType<typeof parseCommandLine> {
  const env: Record<string, string> = {};
  for (const [name, value] of envOf(container)) if (value !== undefined) env[name] = value;
  // Downward API values are filled in by the kubelet; stand in for the namespace.
  if (container.env?.some((e) => e.name === 'ECR_ADMISSION_NAMESPACE' && e.valueFrom)) env['ECR_ADMISSION_NAMESPACE'] = 'security-system';
  return parseCommandLine(container.args ?? [], env);
}

const port = (container: Container, name: string) => container.ports?.find((p) => p.name === name)?.containerPort;
const mountDir = (container: Container, volume: string) => container.volumeMounts?.find((m) => m.name === volume)?.mountPath;

for (const ciValues of [[], ['self-signed-values.yaml'], ['kind-values.yaml']]) {
  t.test(`serve, as rendered with ${ciValues[0] ?? 'default values'}`, async (t) => {
    const deployment = only<Deployment>(renderChart({ ciValues }), 'Deployment');
    const webhook = containerNamed(deployment.spec.template.spec, 'webhook');
    const serve = parsed(webhook) as ServeOptions;
    t.equal(serve.command, 'serve');
    t.equal(serve.port, port(webhook, 'https'), 'listens on the container port the Service targets');
    t.equal(serve.healthPort, port(webhook, 'http-health'), 'health on the probed port');
    t.equal(serve.config, '/etc/ecr-admission/policy.yaml', 'reads the mounted policy');
    if (serve.certificateSecret !== undefined) {
      // tls.source webhook: certificates from the Secret the RBAC names, for the Service names.
      t.equal(serve.certificateSecret, 'ecr-admission-certificates', "certificates kept in the chart's Secret");
      t.ok(serve.tlsHosts?.includes('ecr-admission.security-system.svc'), 'for the name the API server calls');
      t.notOk(mountDir(webhook, 'tls'), 'and no TLS mount');
    } else {
      t.equal(serve.tlsCert, `${mountDir(webhook, 'tls')}/tls.crt`, 'certificate from the TLS mount');
      t.equal(serve.tlsKey, `${mountDir(webhook, 'tls')}/tls.key`, 'key from the TLS mount');
    }
    t.same(serve.webhookConfigurations, ['ecr-admission', 'mutating:ecr-admission-pin'], "maintains the chart's webhook configurations (digest pinning's too)");
    t.equal(String(serve.pinBudgetMs), envOf(webhook).get('ECR_ADMISSION_PIN_BUDGET_MS'), 'takes the derived pinning budget');
    t.equal(serve.ownNamespace, 'security-system', 'knows its namespace');
    t.equal(String(serve.budgetMs), envOf(webhook).get('ECR_ADMISSION_BUDGET_MS'), 'takes the derived budget');
  });
}

t.test('the kind sandbox container listens where the SDK endpoints point', async (t) => {
  const deployment = only<Deployment>(renderChart({ ciValues: ['kind-values.yaml'] }), 'Deployment');
  const sandbox = parsed(containerNamed(deployment.spec.template.spec, 'aws-sandbox')) as SandboxOptions;
  t.equal(sandbox.command, 'sandbox');
  const env = envOf(containerNamed(deployment.spec.template.spec, 'webhook'));
  for (const service of ['ECR', 'INSPECTOR2', 'SIGNER', 'STS']) {
    t.equal(env.get(`AWS_ENDPOINT_URL_${service}`), `http://${sandbox.host}:${sandbox.port}`, `AWS_ENDPOINT_URL_${service} is the sandbox`);
  }
  t.ok(env.get('AWS_ACCESS_KEY_ID') && env.get('AWS_SECRET_ACCESS_KEY'), 'with stand-in credentials');
  const production = only<Deployment>(renderChart(), 'Deployment');
  t.same(
    production.spec.template.spec.containers.map((c) => c.name),
    ['webhook'],
    'no sandbox unless asked for',
  );
  t.notOk(envOf(containerNamed(production.spec.template.spec, 'webhook')).has('AWS_ACCESS_KEY_ID'), 'and no static credentials');
});

t.test('aws.endpoints become the SDK variables the server reads, signerData as AWS_ENDPOINT_URL_SIGNER_DATA', async (t) => {
  const urls = { signer: 'https://signer.vpce.example', signerData: 'https://signer-data.vpce.example' };
  const deployment = only<Deployment>(renderChart({ setJson: Object.entries(urls).map(([k, v]) => `aws.endpoints.${k}=${JSON.stringify(v)}`) }), 'Deployment');
  const env = envOf(containerNamed(deployment.spec.template.spec, 'webhook'));
  t.equal(env.get('AWS_ENDPOINT_URL_SIGNER_DATA'), urls.signerData, "signerData: AWS_ENDPOINT_URL_SIGNER_DATA, the SDK's name for Signer Data");
  t.notOk(env.has('AWS_ENDPOINT_URL_SIGNERDATA'), 'not upper-cased into one word');
  const podEnv: Record<string, string> = {};
  for (const [name, value] of env) if (value !== undefined) podEnv[name] = value;
  const clients = new AwsClients({ env: podEnv, aws: { endpoints: {}, maxAttempts: 3 }, roleFor: () => undefined });
  t.equal(clients.endpoint('signer'), urls.signer, 'the server reads the Signer endpoint the chart set');
  t.equal(clients.endpoint('signerData'), urls.signerData, 'and the data-plane endpoint');
  clients.destroy();
});
