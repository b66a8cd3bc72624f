// The chart installed with `helm install` on the rig's API server, and the webhook run as its
// Pod would run in the cluster: as the chart's ServiceAccount (a token from the TokenRequest
// API, so the chart's RBAC is what it may do), with the rendered container env, keeping its
// certificates in the chart's Secret and maintaining the chart's webhook configuration. What
// differs from a Pod: no kubelet, so the process runs here and the API server reaches it by
// `url` (the test points clientConfig at it), and its certificate also names 127.0.0.1.
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { connect } from 'node:tls';
import { X509Certificate } from 'node:crypto';
import { stringify } from 'yaml';
import { repoRoot } from '../rig/index.ts';
import { startPeer, waitUntilReady, type PeerProcess } from '../rig/process.ts';
import { RELEASE, RELEASE_NAMESPACE, type RenderedChart } from './chart.ts';
import { helm, type CommandResult } from './commands.ts';
import type { Cluster } from './cluster.ts';

const CHART_DIR = join(repoRoot, 'chart', 'ecr-admission');
const POD_ROOT = '/etc/ecr-admission/';

/** `helm install` (or upgrade) of the chart into the release namespace of the rig's API server. */
export async function helmInstall(cluster: Cluster, dir: string, verb: 'install' | 'upgrade', values: object): Promise<CommandResult> {
  mkdirSync(dir, { recursive: true });
  const valuesPath = join(dir, `values-${verb}.yaml`);
  writeFileSync(valuesPath, stringify(values));
  return helm([
    verb,
    RELEASE,
    CHART_DIR,
    '--kubeconfig',
    cluster.api.kubeconfigPath,
    '--namespace',
    RELEASE_NAMESPACE,
    ...(verb === 'install' ? ['--create-namespace'] : []),
    '--values',
    valuesPath,
  ]);
}

/** A kubeconfig authenticating as the chart's ServiceAccount (TokenRequest API, 1 h). */
export async function serviceAccountKubeconfig(cluster: Cluster, dir: string, serviceAccount = RELEASE): Promise<string> {
  const request = await cluster.core.createNamespacedServiceAccountToken({
    name: serviceAccount,
    namespace: RELEASE_NAMESPACE,
    body: { spec: { expirationSeconds: 3600, audiences: [] } },
  });
  const path = join(dir, 'service-account.kubeconfig');
  mkdirSync(dir, { recursive: true });
  writeFileSync(
    path,
    stringify({
      apiVersion: 'v1',
      kind: 'Config',
      clusters: [{ name: 'rig', cluster: { server: cluster.api.url, 'certificate-authority-data': Buffer.from(cluster.api.caPem).toString('base64') } }],
      users: [{ name: serviceAccount, user: { token: request.status?.token } }],
      contexts: [{ name: 'rig', context: { cluster: 'rig', user: serviceAccount, namespace: RELEASE_NAMESPACE } }],
      'current-context': 'rig',
    }),
    { mode: 0o600 },
  );
  return path;
}

export interface InClusterWebhook {
  readonly peer: PeerProcess;
  readonly port: number;
  readonly healthUrl: string;
  /** The certificate this replica serves now (a TLS handshake). */
  servedCertificate(): Promise<X509Certificate>;
  metrics(): Promise<string>;
  stop(): Promise<void>;
}

/** Starts one replica; resolves when it listens (not when it is Ready: that is for the test to see). */
export async function startInClusterWebhook(opts: {
  dir: string;
  chart: RenderedChart;
  kubeconfigPath: string;
  env?: Record<string, string>;
}): Promise<InClusterWebhook> {
  const root = join(opts.dir, 'pod-root');
  const writePodFile = (podPath: string, content: string) => {
    const local = join(root, podPath);
    mkdirSync(dirname(local), { recursive: true });
    writeFileSync(local, content, { mode: 0o400 });
  };
  writePodFile(`${POD_ROOT}policy.yaml`, opts.chart.policyYaml);
  const env: Record<string, string> = {
    PATH: process.env.PATH ?? '',
    HOME: opts.dir,
    KUBECONFIG: opts.kubeconfigPath,
    AWS_EC2_METADATA_DISABLED: 'true',
    AWS_ACCESS_KEY_ID: 'AKIDE2ESANDBOX',
    AWS_SECRET_ACCESS_KEY: 'sandbox',
    AWS_REGION: 'us-east-1',
  };
  for (const variable of opts.chart.webhookEnv) {
    if (variable.name === 'ECR_ADMISSION_NAMESPACE') env[variable.name] = RELEASE_NAMESPACE;
    else if (variable.value !== undefined) env[variable.name] = variable.value.startsWith(POD_ROOT) ? join(root, variable.value) : variable.value;
  }
  // The API server calls this process at https://127.0.0.1:PORT, not at the Service name.
  env['ECR_ADMISSION_TLS_HOSTS'] = `127.0.0.1,${env['ECR_ADMISSION_TLS_HOSTS'] ?? ''}`;
  // tap instruments every node child it spawns (@tapjs/processinfo: source maps on, for
  // coverage), and @kubernetes/client-node's source maps carry its whole TypeScript source:
  // under tap that alone takes the heap past the chart's 128 MB. Outside tap the same process
  // uses 55-70 MB of heap (measured with the chart's NODE_OPTIONS against the rig's API server).
  env['NODE_OPTIONS'] = (env['NODE_OPTIONS'] ?? '').replace(/--max-old-space-size=\d+/, '--max-old-space-size=512');
  Object.assign(env, opts.env);
  const peer = startPeer({
    name: 'ecr-admission',
    command: process.execPath,
    args: [join(repoRoot, 'src', 'main.ts'), 'serve', '--host', '127.0.0.1', '--port', '0', '--health-port', '0'],
    dir: opts.dir,
    env,
  });
  let started: { port: number; healthPort: number } | undefined;
  await waitUntilReady(
    peer,
    async () => {
      started ??= servingLine(peer.logPath);
      return started !== undefined;
    },
    60_000,
  );
  const { port, healthPort } = started!;
  return {
    peer,
    port,
    healthUrl: `http://127.0.0.1:${healthPort}`,
    servedCertificate: () =>
      new Promise((resolve, reject) => {
        const socket = connect({ host: '127.0.0.1', port, rejectUnauthorized: false }, () => {
          const raw = socket.getPeerCertificate().raw;
          socket.end();
          resolve(new X509Certificate(raw));
        });
        socket.on('error', reject);
      }),
    metrics: async () => (await fetch(`http://127.0.0.1:${healthPort}/metrics`)).text(),
    stop: () => peer.stop(),
  };
}

function servingLine(path: string): { port: number; healthPort: number } | undefined {
  if (!existsSync(path)) return undefined;
  for (const line of readFileSync(path, 'utf8').split('\n')) {
    if (!line.includes('"ecr-admission serving"')) continue;
    const parsed = JSON.parse(line) as { port: number; healthPort: number };
    return { port: parsed.port, healthPort: parsed.healthPort };
  }
  return undefined;
}

/** The CA certificates of a caBundle (base64 of PEM, as the API returns it). */
export function bundleCertificates(caBundle: string | undefined): X509Certificate[] {
  const pem = Buffer.from(caBundle ?? '', 'base64').toString('utf8');
  return (pem.match(/-----BEGIN CERTIFICATE-----[\s\S]+?-----END CERTIFICATE-----/g) ?? []).map((p) => new X509Certificate(p));
}
