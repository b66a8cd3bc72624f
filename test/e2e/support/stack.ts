// One scenario file's world, built in the order a cluster operator would: the AWS sandbox
// (standing in for ECR, Inspector and Signer), the chart rendered with the file's values, the
// webhook started as the chart configures it, the API server, and the chart's webhook
// configuration installed with its clientConfig pointed at the webhook. Every server listens
// on 127.0.0.1 and is stopped in teardown; logs stay in test-output/e2e/<name>/ on failure.
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { startSandbox, type Sandbox, type SandboxFixture } from '../../../src/dev/sandbox/index.ts';
import { e2eOutputDir, type TestLike } from '../rig/index.ts';
import { RELEASE_NAMESPACE, WEBHOOK_NAME, pointedAt, renderChart, type RenderedChart } from './chart.ts';
import { installWebhookConfiguration, startCluster, type Cluster } from './cluster.ts';
import { startWebhook, type AdmissionLogLine, type RunningWebhook, type StartWebhookOptions } from './webhook.ts';
import { attempt } from './admission.ts';
import { pod } from './workloads.ts';

/** The namespace the stack probes the webhook configuration in (always enforce, never excluded). */
export const PROBE_NAMESPACE = 'e2e-probe';
/** An image the policy's origin check denies (not ECR, not allowed): what the probe creates. */
export const PROBE_IMAGE = 'registry.invalid/probe/never-allowed:1';

export interface StackOptions {
  /** test-output/e2e/<name>/ */
  name: string;
  /** The folder from e2eOutputDir, when the test made it already (to start other peers first). */
  out?: string;
  fixture: SandboxFixture;
  /** Chart values (beyond the AWS endpoints, which are the sandbox's). */
  values: (sandboxUrl: string) => Record<string, unknown>;
  /** Namespaces to create before the webhook configuration is installed. */
  namespaces: string[];
  /** Turn on the API server's audit log. */
  audit?: boolean;
  /** Where the webhook listens and the pair it serves (default: 127.0.0.1, its own pair). */
  webhook?: Pick<StartWebhookOptions, 'host' | 'tls'>;
}

export interface Stack {
  readonly out: string;
  readonly sandbox: Sandbox;
  readonly chart: RenderedChart;
  readonly webhook: RunningWebhook;
  readonly cluster: Cluster;
}

export async function startStack(t: TestLike, opts: StackOptions): Promise<Stack> {
  const out = opts.out ?? e2eOutputDir(t, opts.name);
  const sandbox = await startSandbox({ fixture: opts.fixture });
  t.teardown(async () => {
    // The sandbox runs in this process: its call log is what it leaves for a failed run.
    if (!t.passing()) writeFileSync(join(out, 'aws-sandbox-calls.json'), JSON.stringify(sandbox.callLog(), null, 1));
    await sandbox.close();
  });

  const values = opts.values(sandbox.url);
  const chart = await renderChart(out, {
    ...values,
    aws: { region: 'us-east-1', endpoints: { ecr: sandbox.url, inspector2: sandbox.url, signer: sandbox.url, sts: sandbox.url, kms: sandbox.url } },
  });
  // Started side by side (the API server takes seconds); allSettled so that whichever fails,
  // the other has registered its teardown before the error ends the test.
  const [webhookStart, clusterStart] = await Promise.allSettled([
    startWebhook({ ...opts.webhook, dir: join(out, 'webhook'), chart, env: { AWS_ACCESS_KEY_ID: 'AKIDE2ESANDBOX', AWS_SECRET_ACCESS_KEY: 'sandbox' } }).then(
      (webhook) => {
        t.teardown(() => webhook.stop());
        return webhook;
      },
    ),
    startCluster(t, out, { audit: opts.audit ?? false }),
  ]);
  if (webhookStart.status === 'rejected') throw webhookStart.reason;
  if (clusterStart.status === 'rejected') throw clusterStart.reason;
  const [webhook, cluster] = [webhookStart.value, clusterStart.value];

  await cluster.createNamespaces(RELEASE_NAMESPACE, PROBE_NAMESPACE, ...opts.namespaces);
  await installWebhookConfiguration(cluster, pointedAt(chart.webhookConfiguration, webhook.url, webhook.caPem), {
    namespace: PROBE_NAMESPACE,
    image: PROBE_IMAGE,
    until: (o) => !o.allowed && (o.message ?? '').includes(`admission webhook "${WEBHOOK_NAME}" denied the request`),
  });
  return { out, sandbox, chart, webhook, cluster };
}

let markers = 0;

/**
 * A position in the webhook's log that every earlier review has reached. Log lines trail the
 * answers, so a marker request the webhook always gets (a dry-run Pod in the probe namespace)
 * is sent and waited for; the position is just after it.
 */
export async function reviewLogMark(stack: Pick<Stack, 'cluster' | 'webhook'>): Promise<number> {
  const name = `marker-${++markers}`;
  await attempt(() => stack.cluster.core.createNamespacedPod({ namespace: PROBE_NAMESPACE, body: pod(name, PROBE_IMAGE), dryRun: 'All' }));
  const isMarker = (r: AdmissionLogLine) => r.namespace === PROBE_NAMESPACE && r.name === name;
  if (!(await stack.webhook.waitForReview(isMarker))) throw new Error(`the marker review ${name} never reached the webhook's log`);
  return stack.webhook.reviews().findIndex(isMarker) + 1;
}

/** The reviews logged between a mark and now (markers excluded). */
export async function reviewsSince(stack: Pick<Stack, 'cluster' | 'webhook'>, mark: number): Promise<AdmissionLogLine[]> {
  const now = await reviewLogMark(stack);
  return stack.webhook.reviews().slice(mark, now - 1);
}
