// The chart as `helm template` renders it, and the two things the scenarios do with it:
//  - its ValidatingWebhookConfiguration, kept as rendered (rules, namespaceSelector,
//    matchConditions, failurePolicy, timeoutSeconds) except clientConfig, which points at the
//    webhook running on 127.0.0.1 (a `service` reference needs kube-proxy and a Pod, neither of
//    which exists without controllers and a kubelet);
//  - the webhook container's environment, policy file and trust stores, so the locally run
//    server is configured as the chart would configure the Pod.
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { V1ValidatingWebhookConfiguration } from '@kubernetes/client-node';
import { parseAllDocuments, stringify } from 'yaml';
import { repoRoot } from '../rig/index.ts';
import { helm } from './commands.ts';

export const RELEASE = 'ecr-admission';
/** The release namespace: the chart excludes it (and kube-system) from the webhook. */
export const RELEASE_NAMESPACE = 'security-system';
export const WEBHOOK_NAME = 'images.ecr-admission.io';
const CHART_DIR = join(repoRoot, 'chart', 'ecr-admission');

export interface KubeObject {
  apiVersion: string;
  kind: string;
  metadata: { name: string; namespace?: string; [key: string]: unknown };
  [field: string]: unknown;
}

interface EnvVar {
  name: string;
  value?: string;
  valueFrom?: unknown;
}

export interface RenderedChart {
  readonly objects: readonly KubeObject[];
  readonly webhookConfiguration: V1ValidatingWebhookConfiguration;
  /** The namespace-label guard's configuration, when the values turn an opt-out label on. */
  readonly namespaceLabelConfiguration?: V1ValidatingWebhookConfiguration;
  /** The webhook container's env as rendered (valueFrom entries have no value). */
  readonly webhookEnv: readonly EnvVar[];
  /** policy.yaml of the policy ConfigMap. */
  readonly policyYaml: string;
  /** File name -> PEM of the trust store ConfigMap (empty when the chart renders none). */
  readonly trustFiles: Readonly<Record<string, string>>;
}

/** `helm template` with the values given (written to dir/values.yaml, kept with the logs). */
export async function renderChart(dir: string, values: object): Promise<RenderedChart> {
  const valuesPath = join(dir, 'values.yaml');
  writeFileSync(valuesPath, stringify(values));
  // image.repository is required (no published image); the scenarios run the server themselves.
  const run = await helm(['template', RELEASE, CHART_DIR, '--namespace', RELEASE_NAMESPACE, '--set', 'image.repository=ecr-admission', '--values', valuesPath]);
  if (run.code !== 0) throw new Error(`helm template failed (${run.code}): ${run.stderr}`);
  writeFileSync(join(dir, 'rendered.yaml'), run.stdout);
  const objects = parseAllDocuments(run.stdout)
    .map((doc) => doc.toJS() as KubeObject | null)
    .filter((o): o is KubeObject => o !== null);

  const one = (kind: string, nameSuffix = ''): KubeObject => {
    // A bare kind means the webhook's object, not the controller's (*-controller) nor the
    // namespace-label guard's (*-namespace-label).
    const found = objects.filter(
      (o) =>
        o.kind === kind &&
        o.metadata.name.endsWith(nameSuffix) &&
        (nameSuffix !== '' || !(o.metadata.name.endsWith('-controller') || o.metadata.name.endsWith('-namespace-label'))),
    );
    if (found.length !== 1) throw new Error(`the chart rendered ${found.length} ${kind} named *${nameSuffix}, expected 1`);
    return found[0] as KubeObject;
  };
  const deployment = one('Deployment') as KubeObject & { spec: { template: { spec: { containers: Array<{ name: string; env?: EnvVar[] }> } } } };
  const container = deployment.spec.template.spec.containers.find((c) => c.name === 'webhook');
  if (!container) throw new Error('the rendered Deployment has no "webhook" container');
  const trust = objects.find((o): o is KubeObject & { data?: Record<string, string> } => o.kind === 'ConfigMap' && o.metadata.name.endsWith('-trust'));
  return {
    objects,
    webhookConfiguration: one('ValidatingWebhookConfiguration') as unknown as V1ValidatingWebhookConfiguration,
    ...(objects.some((o) => o.kind === 'ValidatingWebhookConfiguration' && o.metadata.name.endsWith('-namespace-label')) && {
      namespaceLabelConfiguration: one('ValidatingWebhookConfiguration', '-namespace-label') as unknown as V1ValidatingWebhookConfiguration,
    }),
    webhookEnv: container.env ?? [],
    policyYaml: (one('ConfigMap', '-policy') as KubeObject & { data: Record<string, string> }).data['policy.yaml'] ?? '',
    trustFiles: trust?.data ?? {},
  };
}

/** The annotation naming the failurePolicy a serving webhook pod switches the configuration to. */
export const FAILURE_POLICY_ANNOTATION = 'ecr-admission.io/failure-policy';

/**
 * The rendered configuration with clientConfig replaced by `url` + `caPem`, and failurePolicy
 * switched from the installed Ignore to the chart's target (the annotation), as a serving
 * webhook pod does; everything else (rules, selectors, matchConditions, timeoutSeconds) as the
 * chart made it. Lockout and the switch itself: scenarios/lockout.test.ts.
 */
export function pointedAt(rendered: V1ValidatingWebhookConfiguration, url: string, caPem: string): V1ValidatingWebhookConfiguration {
  const copy = structuredClone(rendered);
  const target = rendered.metadata?.annotations?.[FAILURE_POLICY_ANNOTATION];
  for (const webhook of copy.webhooks ?? []) {
    webhook.clientConfig = { url, caBundle: Buffer.from(caPem).toString('base64') };
    if (target !== undefined) webhook.failurePolicy = target;
  }
  return copy;
}

/** The rendered objects other than the webhook configuration, as one YAML stream for kubectl. */
export function otherObjectsYaml(chart: RenderedChart): string {
  return chart.objects
    .filter((o) => o.kind !== 'ValidatingWebhookConfiguration')
    .map((o) => stringify(o))
    .join('---\n');
}
