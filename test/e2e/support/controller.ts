// The continuous-compliance controller as a child process, `node src/main.ts controller`, with
// the policy file and trust stores the chart renders (written under a local root, as for the
// webhook in webhook.ts), the chart's container env, the test cluster's kubeconfig and the
// sandbox's AWS keys. Its health port answers /readyz with whether it leads.
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { CustomObjectsApi, type KubeConfig } from '@kubernetes/client-node';
import { parseAllDocuments } from 'yaml';
import { repoRoot } from '../rig/index.ts';
import { startPeer, waitUntilReady } from '../rig/process.ts';
import { RELEASE_NAMESPACE, type RenderedChart } from './chart.ts';
import type { Cluster } from './cluster.ts';

const POD_ROOT = '/etc/ecr-admission/';

export interface RunningControllerProcess {
  readonly name: string;
  readonly pid: number;
  readonly logPath: string;
  readonly healthUrl: string;
  /** /readyz detail: leader, pods, lastRound... */
  status(): Promise<{ leader: boolean; identity: string; [key: string]: unknown }>;
  /** Log lines (pino JSON) so far. */
  logLines(): Array<Record<string, unknown>>;
  stop(): Promise<void>;
  kill(): void;
}

/** The env of the chart's controller container (templates/controller.yaml). */
export function controllerEnv(chart: RenderedChart): Array<{ name: string; value?: string }> {
  const deployment = chart.objects.find((o) => o.kind === 'Deployment' && o.metadata.name.endsWith('-controller')) as
    { spec: { template: { spec: { containers: Array<{ name: string; env?: Array<{ name: string; value?: string }> }> } } } } | undefined;
  const container = deployment?.spec.template.spec.containers.find((c) => c.name === 'controller');
  if (!container) throw new Error('the chart rendered no controller Deployment (controller.enabled false?)');
  return container.env ?? [];
}

export interface StartControllerOptions {
  readonly name: string;
  readonly dir: string;
  readonly chart: RenderedChart;
  readonly kubeconfigPath: string;
  readonly args: readonly string[];
  readonly env?: Record<string, string>;
}

export async function startController(opts: StartControllerOptions): Promise<RunningControllerProcess> {
  const dir = join(opts.dir, opts.name);
  const root = join(dir, 'pod-root');
  const local = (podPath: string) => join(root, podPath);
  const writePodFile = (podPath: string, content: string) => {
    mkdirSync(dirname(local(podPath)), { recursive: true });
    writeFileSync(local(podPath), content, { mode: 0o400 });
  };
  writePodFile(`${POD_ROOT}policy.yaml`, opts.chart.policyYaml.replaceAll(POD_ROOT, local(POD_ROOT)));
  for (const [file, pem] of Object.entries(opts.chart.trustFiles)) writePodFile(`${POD_ROOT}trust/${file}`, pem);
  const env: Record<string, string> = {
    PATH: process.env.PATH ?? '',
    HOME: dir,
    AWS_EC2_METADATA_DISABLED: 'true',
    AWS_CONFIG_FILE: join(dir, 'no-aws-config'),
    AWS_SHARED_CREDENTIALS_FILE: join(dir, 'no-aws-credentials'),
    KUBECONFIG: opts.kubeconfigPath,
    ECR_ADMISSION_NAMESPACE: RELEASE_NAMESPACE,
    POD_NAME: opts.name,
  };
  // The controller container's env as the chart renders it (AWS region and endpoints: the
  // sandbox's; interval, lease name); flags given in `args` win over it, as in the Pod.
  for (const variable of controllerEnv(opts.chart)) {
    if (variable.value === undefined) continue; // valueFrom: namespace and Pod name, set above
    env[variable.name] = variable.value.startsWith(POD_ROOT) ? local(variable.value) : variable.value;
  }
  Object.assign(env, opts.env);
  const peer = startPeer({
    name: opts.name,
    command: process.execPath,
    args: [join(repoRoot, 'src', 'main.ts'), 'controller', '--host', '127.0.0.1', '--health-port', '0', ...opts.args],
    dir,
    env,
  });
  const lines = (): Array<Record<string, unknown>> => {
    if (!existsSync(peer.logPath)) return [];
    return readFileSync(peer.logPath, 'utf8')
      .split('\n')
      .filter((l) => l.startsWith('{'))
      .flatMap((l) => {
        try {
          return [JSON.parse(l) as Record<string, unknown>];
        } catch {
          return [];
        }
      });
  };
  let healthPort: number | undefined;
  await waitUntilReady(
    peer,
    () => {
      healthPort ??= lines().find((l) => l.msg === 'ecr-admission controller started')?.healthPort as number | undefined;
      return Promise.resolve(healthPort !== undefined);
    },
    30_000,
  );
  const healthUrl = `http://127.0.0.1:${healthPort}`;
  return {
    name: opts.name,
    pid: peer.pid,
    logPath: peer.logPath,
    healthUrl,
    async status() {
      const answer = await fetch(`${healthUrl}/readyz`, { signal: AbortSignal.timeout(2000) });
      return (await answer.json()) as { leader: boolean; identity: string };
    },
    logLines: lines,
    stop: () => peer.stop(),
    kill: () => process.kill(peer.pid, 'SIGKILL'),
  };
}

/** Creates the chart's PolicyReport CRD (chart/ecr-admission/files/policyreport-crd.yaml) and waits until it serves. */
export async function installPolicyReportCrd(cluster: Cluster): Promise<void> {
  const text = readFileSync(join(repoRoot, 'chart', 'ecr-admission', 'files', 'policyreport-crd.yaml'), 'utf8');
  const crd = parseAllDocuments(text)
    .map((d) => d.toJS() as Record<string, unknown> | null)
    .find((d) => d?.kind === 'CustomResourceDefinition');
  if (!crd) throw new Error('no CustomResourceDefinition in the chart file');
  const result = await cluster.kubectl(['apply', '-f', '-'], JSON.stringify(crd));
  if (result.code !== 0) throw new Error(`kubectl apply of the CRD failed: ${result.stderr}`);
  const reports = reportsApi(cluster.api.kubeConfig);
  const deadline = Date.now() + 30_000;
  for (;;) {
    try {
      await reports.listClusterCustomObject({ group: 'wgpolicyk8s.io', version: 'v1alpha2', plural: 'policyreports' });
      return;
    } catch (err) {
      if (Date.now() > deadline) throw err;
      await new Promise((r) => setTimeout(r, 250));
    }
  }
}

export function reportsApi(kubeConfig: KubeConfig): CustomObjectsApi {
  return kubeConfig.makeApiClient(CustomObjectsApi);
}
