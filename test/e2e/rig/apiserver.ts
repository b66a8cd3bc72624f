// A real kube-apiserver on 127.0.0.1 (no controller-manager, no scheduler: the flag set
// controller-runtime's envtest uses). The test client authenticates with a static token in
// group system:masters; the API server makes its own serving certificate in --cert-dir.
// Which Kubernetes release runs is chosen by ECR_ADMISSION_E2E_KUBE (kube-version.ts), and the
// started server must report exactly that release, so a run never tests another version unnoticed.
import { generateKeyPairSync, randomBytes, X509Certificate } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { KubeConfig } from '@kubernetes/client-node';
import { stringify } from 'yaml';
import { rigKubeApiServer } from './bin-dir.ts';
import { RigError } from './errors.ts';
import { httpsGet } from './https-get.ts';
import { freePort } from './ports.ts';
import { startPeer, waitUntilReady } from './process.ts';

export interface RigApiServer {
  /** The Kubernetes release it runs and reports, e.g. v1.32.13. */
  version: string;
  /** https://127.0.0.1:PORT */
  url: string;
  /** Bearer token of user "admin" in group system:masters. */
  token: string;
  /** CA that signed the API server's serving certificate. */
  caPem: string;
  /** kubeconfig file for kubectl/helm (context "rig"). */
  kubeconfigPath: string;
  kubeConfig: KubeConfig;
  pid: number;
  logPath: string;
  stop(): Promise<void>;
}

export interface StartApiServerOptions {
  /** etcd client URL, from startEtcd. */
  etcdUrl: string;
  /** Folder for certificates, keys, kubeconfig and the log. */
  dir: string;
  /** Extra flags, appended last (so they override the defaults). */
  extraArgs?: string[];
}

export async function startApiServer(opts: StartApiServerOptions): Promise<RigApiServer> {
  const binary = await rigKubeApiServer();
  const { dir } = opts;
  mkdirSync(dir, { recursive: true });
  const port = await freePort();
  const url = `https://127.0.0.1:${port}`;
  const certDir = join(dir, 'apiserver-certs');

  // Service-account tokens are signed with this key; nothing in the rig verifies them, but the
  // API server refuses to start without one.
  const { privateKey, publicKey } = generateKeyPairSync('rsa', { modulusLength: 2048 });
  const saKeyPath = join(dir, 'sa.key');
  const saPubPath = join(dir, 'sa.pub');
  writeFileSync(saKeyPath, privateKey.export({ type: 'pkcs1', format: 'pem' }), { mode: 0o600 });
  writeFileSync(saPubPath, publicKey.export({ type: 'spki', format: 'pem' }));

  const token = randomBytes(24).toString('hex');
  const tokenFile = join(dir, 'tokens.csv');
  writeFileSync(tokenFile, `${token},admin,1,"system:masters"\n`, { mode: 0o600 });

  const peer = startPeer({
    name: 'kube-apiserver',
    command: binary.path,
    dir,
    args: [
      `--etcd-servers=${opts.etcdUrl}`,
      '--bind-address=127.0.0.1',
      // Left unset, a loopback bind address makes the API server advertise the host's first
      // non-loopback interface (in the "kubernetes" Service endpoints). Nothing listens there,
      // but keep the rig's whole world on 127.0.0.1; the endpoint reconciler is off because
      // Endpoints reject loopback addresses (and no Pod in the rig dials the API server).
      '--advertise-address=127.0.0.1',
      '--endpoint-reconciler-type=none',
      `--secure-port=${port}`,
      `--cert-dir=${certDir}`,
      '--service-cluster-ip-range=10.0.0.0/24',
      '--service-account-issuer=https://kubernetes.default.svc.cluster.local',
      `--service-account-key-file=${saPubPath}`,
      `--service-account-signing-key-file=${saKeyPath}`,
      '--authorization-mode=RBAC',
      // No controller-manager creates the "default" ServiceAccount a Pod would need.
      '--disable-admission-plugins=ServiceAccount',
      '--allow-privileged=true',
      `--token-auth-file=${tokenFile}`,
      ...(opts.extraArgs ?? []),
    ],
  });

  const servingCertPath = join(certDir, 'apiserver.crt');
  await waitUntilReady(
    peer,
    async () => {
      if (!existsSync(servingCertPath)) return false;
      const ready = await httpsGet(`${url}/readyz`, { ca: readFileSync(servingCertPath, 'utf8'), token });
      return ready.status === 200;
    },
    90_000,
  );
  const caPem = signingCaPem(readFileSync(servingCertPath, 'utf8'));
  try {
    await expectVersion(url, caPem, token, binary.version);
  } catch (err) {
    await peer.stop();
    throw err;
  }

  const kubeconfigPath = join(dir, 'kubeconfig');
  writeFileSync(kubeconfigPath, kubeconfigYaml(url, caPem, token), { mode: 0o600 });
  const kubeConfig = new KubeConfig();
  kubeConfig.loadFromFile(kubeconfigPath);

  return { version: binary.version, url, token, caPem, kubeconfigPath, kubeConfig, pid: peer.pid, logPath: peer.logPath, stop: () => peer.stop() };
}

/** The server's /version must name the release the rig built for the selected version. */
async function expectVersion(url: string, caPem: string, token: string, expected: string): Promise<void> {
  const answer = await httpsGet(`${url}/version`, { ca: caPem, token });
  let gitVersion: unknown;
  try {
    gitVersion = (JSON.parse(answer.body) as { gitVersion?: unknown }).gitVersion;
  } catch {
    gitVersion = undefined;
  }
  if (answer.status !== 200 || gitVersion !== expected) {
    throw new RigError(
      'RIG_KUBE_VERSION_UNKNOWN',
      `kube-apiserver at ${url} reports ${answer.status} ${answer.body.slice(0, 200)}, expected gitVersion ${expected}`,
    );
  }
}

/**
 * The API server writes its self-generated serving certificate followed by the CA that signed
 * it into apiserver.crt. Return the CA (the self-issued certificate), or the only certificate
 * when the file holds a single self-signed one.
 */
export function signingCaPem(bundle: string): string {
  const blocks = bundle.match(/-----BEGIN CERTIFICATE-----[\s\S]+?-----END CERTIFICATE-----/g) ?? [];
  for (const pem of blocks) {
    const cert = new X509Certificate(pem);
    if (cert.subject === cert.issuer && cert.verify(cert.publicKey)) return `${pem}\n`;
  }
  throw new Error(`no self-signed CA certificate among ${blocks.length} in the API server's bundle`);
}

function kubeconfigYaml(server: string, caPem: string, token: string): string {
  return stringify({
    apiVersion: 'v1',
    kind: 'Config',
    clusters: [{ name: 'rig', cluster: { server, 'certificate-authority-data': Buffer.from(caPem).toString('base64') } }],
    users: [{ name: 'admin', user: { token } }],
    contexts: [{ name: 'rig', context: { cluster: 'rig', user: 'admin' } }],
    'current-context': 'rig',
  });
}
