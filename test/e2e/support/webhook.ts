// The webhook as a child process, `node src/main.ts serve` (what the image runs as
// dist/main.js), configured as the chart configures its Pod: the rendered container env, the
// rendered policy file and trust stores written where the Pod would mount them (under a local
// root folder). What differs from the Pod, and why:
//  - it listens on 127.0.0.1 (or the loopback `host` given, ::1 in scenarios/ipv6.test.ts) with
//    ports 0 (flags win over the rendered ECR_ADMISSION_PORT);
//  - TLS is the server's own self-signed pair for 127.0.0.1 (the chart's certificate names the
//    Service DNS name, which the API server cannot reach here), or a pair the test made (`tls`);
//    its CA goes in the caBundle;
//  - AWS credentials are static sandbox keys in the env (in EKS: IRSA / Pod Identity).
// Its stdout/stderr (pino JSON lines, one "admission" line per review) go to a log file kept
// with the other peers' logs.
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { httpsGet, repoRoot } from '../rig/index.ts';
import { startPeer, waitUntilReady } from '../rig/process.ts';
import { RELEASE_NAMESPACE, type RenderedChart } from './chart.ts';

const POD_ROOT = '/etc/ecr-admission/';
const IN_CLUSTER_TLS_ENV = [
  'ECR_ADMISSION_TLS_CERT',
  'ECR_ADMISSION_TLS_KEY',
  'ECR_ADMISSION_CERTIFICATE_SECRET',
  'ECR_ADMISSION_TLS_HOSTS',
  'ECR_ADMISSION_CA_PROMOTE_AFTER_MS',
  'ECR_ADMISSION_CA_RETIRE_AFTER_MS',
  'ECR_ADMISSION_WEBHOOK_CONFIGURATION',
];

/** One "admission" log line of the webhook (src/server/log-line.ts). */
export interface AdmissionLogLine {
  uid: string;
  kind: string;
  operation: string;
  namespace?: string;
  name?: string;
  dryRun: boolean;
  decision: string;
  durationMs: number;
  images: Array<{ container: string; image: string; digest?: string; results: Record<string, string> }>;
}

export interface RunningWebhook {
  /** https://127.0.0.1:PORT/validate (https://[::1]:PORT/validate on ::1) */
  readonly url: string;
  readonly port: number;
  readonly healthUrl: string;
  /** CA of the self-signed serving certificate: the caBundle. */
  readonly caPem: string;
  readonly pid: number;
  readonly logPath: string;
  /** Every review the webhook logged so far. */
  reviews(): AdmissionLogLine[];
  /**
   * The first logged review that `match` accepts, waiting up to 5 s for it: the log line is
   * written after the response is sent, so it can trail the client's answer a little.
   */
  waitForReview(match: (review: AdmissionLogLine) => boolean): Promise<AdmissionLogLine | undefined>;
  stop(): Promise<void>;
}

export interface StartWebhookOptions {
  dir: string;
  chart: RenderedChart;
  /** Extra env (AWS credentials of the sandbox). */
  env?: Record<string, string>;
  /** A loopback address to listen on (default 127.0.0.1). */
  host?: '127.0.0.1' | '::1';
  /** A serving pair the test made (given as --tls-cert/--tls-key) and its CA; default: the server's own. */
  tls?: { certPath: string; keyPath: string; caPem: string };
}

export async function startWebhook(opts: StartWebhookOptions): Promise<RunningWebhook> {
  const root = join(opts.dir, 'pod-root');
  const local = (podPath: string) => join(root, podPath);
  const writePodFile = (podPath: string, content: string) => {
    mkdirSync(dirname(local(podPath)), { recursive: true });
    writeFileSync(local(podPath), content, { mode: 0o400 });
  };
  // The policy names its trust stores by their mounted path; the mounts live under `root`.
  writePodFile(`${POD_ROOT}policy.yaml`, opts.chart.policyYaml.replaceAll(POD_ROOT, local(POD_ROOT)));
  for (const [file, pem] of Object.entries(opts.chart.trustFiles)) writePodFile(`${POD_ROOT}trust/${file}`, pem);

  const env: Record<string, string> = {
    PATH: process.env.PATH ?? '',
    // Nothing from the machine's own AWS configuration, and no instance metadata lookups.
    HOME: opts.dir,
    AWS_EC2_METADATA_DISABLED: 'true',
    AWS_CONFIG_FILE: join(opts.dir, 'no-aws-config'),
    AWS_SHARED_CREDENTIALS_FILE: join(opts.dir, 'no-aws-credentials'),
  };
  for (const variable of opts.chart.webhookEnv) {
    // Its own self-signed pair (above), and no API server to keep certificates or the webhook
    // configuration in: the in-cluster certificate manager runs in scenarios/ca-rotation.test.ts.
    if (IN_CLUSTER_TLS_ENV.includes(variable.name)) continue;
    if (variable.name === 'ECR_ADMISSION_NAMESPACE')
      env[variable.name] = RELEASE_NAMESPACE; // fieldRef metadata.namespace
    else if (variable.value !== undefined) env[variable.name] = variable.value.startsWith(POD_ROOT) ? local(variable.value) : variable.value;
  }
  Object.assign(env, opts.env);
  const host = opts.host ?? '127.0.0.1';
  const urlHost = host.includes(':') ? `[${host}]` : host;
  const tlsArgs = opts.tls ? ['--tls-cert', opts.tls.certPath, '--tls-key', opts.tls.keyPath] : [];

  const peer = startPeer({
    name: 'ecr-admission',
    command: process.execPath,
    args: [join(repoRoot, 'src', 'main.ts'), 'serve', '--host', host, '--port', '0', '--health-port', '0', ...tlsArgs],
    dir: opts.dir,
    env,
  });
  let started: { port: number; healthPort: number; caPem: string } | undefined;
  await waitUntilReady(
    peer,
    async () => {
      started ??= startedFromLog(peer.logPath, opts.tls?.caPem);
      if (!started) return false;
      return (await fetch(`http://${urlHost}:${started.healthPort}/readyz`, { signal: AbortSignal.timeout(2000) })).status === 200;
    },
    30_000,
  );
  if (!started) throw new Error('unreachable: ready without a start line');
  const { port, healthPort, caPem } = started;
  const reviews = () => logLines(peer.logPath).filter((l) => l.msg === 'admission') as unknown as AdmissionLogLine[];
  try {
    // The caBundle must really be the serving certificate's CA: a TLS handshake trusting only it.
    await httpsGet(`https://${urlHost}:${port}/validate`, { ca: caPem });
  } catch (error) {
    await peer.stop();
    throw error;
  }
  return {
    url: `https://${urlHost}:${port}/validate`,
    port,
    healthUrl: `http://${urlHost}:${healthPort}`,
    caPem,
    pid: peer.pid,
    logPath: peer.logPath,
    reviews,
    async waitForReview(match) {
      const deadline = Date.now() + 5000;
      for (;;) {
        const found = reviews().find(match);
        if (found || Date.now() > deadline) return found;
        await sleep(50);
      }
    },
    stop: () => peer.stop(),
  };
}

function logLines(path: string): Array<Record<string, unknown>> {
  if (!existsSync(path)) return [];
  const lines: Array<Record<string, unknown>> = [];
  for (const line of readFileSync(path, 'utf8').split('\n')) {
    if (!line.startsWith('{')) continue;
    try {
      lines.push(JSON.parse(line) as Record<string, unknown>);
    } catch {
      // a line being written
    }
  }
  return lines;
}

/** The ports from the "ecr-admission serving" line and the CA printed before it (unless the test made the pair). */
function startedFromLog(path: string, givenCaPem?: string): { port: number; healthPort: number; caPem: string } | undefined {
  const serving = logLines(path).find((l) => l.msg === 'ecr-admission serving');
  if (!serving) return undefined;
  if (givenCaPem !== undefined) return { port: Number(serving.port), healthPort: Number(serving.healthPort), caPem: givenCaPem };
  const ca = /-----BEGIN CERTIFICATE-----[\s\S]+?-----END CERTIFICATE-----/.exec(readFileSync(path, 'utf8'));
  if (!ca) throw new Error(`the webhook printed no CA (no --tls-cert given, it should have); log ${path}`);
  return { port: Number(serving.port), healthPort: Number(serving.healthPort), caPem: `${ca[0]}\n` };
}
