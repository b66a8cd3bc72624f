// etcd + kube-apiserver from the rig, with the API clients and kubectl the scenarios use, an
// optional audit log, and the one step every scenario file needs: install the chart's webhook
// configuration pointed at the local webhook and wait until the API server calls it.
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { AdmissionregistrationV1Api, AppsV1Api, BatchV1Api, CoreV1Api, type V1ValidatingWebhookConfiguration } from '@kubernetes/client-node';
import { stringify } from 'yaml';
import { startApiServer, startEtcd, type RigApiServer, type TestLike } from '../rig/index.ts';
import { attempt, type Outcome } from './admission.ts';
import { kubectl, type CommandResult } from './commands.ts';
import { pod } from './workloads.ts';

export interface Cluster {
  readonly api: RigApiServer;
  readonly core: CoreV1Api;
  readonly apps: AppsV1Api;
  readonly batch: BatchV1Api;
  readonly admission: AdmissionregistrationV1Api;
  /** kubectl with this cluster's kubeconfig. */
  kubectl(args: readonly string[], input?: string): Promise<CommandResult>;
  createNamespaces(...names: string[]): Promise<void>;
  /** Audit events written so far (only when started with audit: true). */
  auditEvents(): AuditEvent[];
}

/** The parts of an audit.k8s.io/v1 Event the scenarios read. */
export interface AuditEvent {
  stage: string;
  verb: string;
  objectRef?: { resource?: string; namespace?: string; name?: string };
  responseStatus?: { code?: number };
  annotations?: Record<string, string>;
}

// Metadata level for writes (enough for annotations, which is where webhooks' audit
// annotations land); nothing for reads and the API server's own lease traffic.
const AUDIT_POLICY = {
  apiVersion: 'audit.k8s.io/v1',
  kind: 'Policy',
  omitStages: ['RequestReceived'],
  rules: [{ level: 'None', users: ['system:apiserver'] }, { level: 'Metadata', verbs: ['create', 'update', 'patch'] }, { level: 'None' }],
};

export async function startCluster(t: TestLike, dir: string, opts: { audit?: boolean } = {}): Promise<Cluster> {
  const etcd = await startEtcd(join(dir, 'etcd'));
  t.teardown(() => etcd.stop());
  const apiDir = join(dir, 'kube-apiserver');
  const auditLogPath = join(apiDir, 'audit.log');
  const extraArgs: string[] = [];
  if (opts.audit) {
    const policyPath = join(dir, 'audit-policy.yaml');
    writeFileSync(policyPath, stringify(AUDIT_POLICY));
    extraArgs.push(`--audit-policy-file=${policyPath}`, `--audit-log-path=${auditLogPath}`, '--audit-log-format=json');
  }
  const api = await startApiServer({ etcdUrl: etcd.url, dir: apiDir, extraArgs });
  t.teardown(() => api.stop());
  const core = api.kubeConfig.makeApiClient(CoreV1Api);
  return {
    api,
    core,
    apps: api.kubeConfig.makeApiClient(AppsV1Api),
    batch: api.kubeConfig.makeApiClient(BatchV1Api),
    admission: api.kubeConfig.makeApiClient(AdmissionregistrationV1Api),
    kubectl: (args, input) => kubectl(api.kubeconfigPath, args, input),
    async createNamespaces(...names) {
      for (const name of names) await core.createNamespace({ body: { metadata: { name } } });
    },
    auditEvents() {
      if (!opts.audit) throw new Error('the cluster was started without an audit log');
      if (!existsSync(auditLogPath)) return [];
      return readFileSync(auditLogPath, 'utf8')
        .split('\n')
        .filter((l) => l.startsWith('{'))
        .map((l) => JSON.parse(l) as AuditEvent);
    },
  };
}

/**
 * Creates the webhook configuration and waits until the API server's informer has it: a
 * dry-run Pod in `probeNamespace` with `probeImage` gets the expected outcome. Dry-run, so the
 * probing leaves nothing behind.
 */
export async function installWebhookConfiguration(
  cluster: Cluster,
  configuration: V1ValidatingWebhookConfiguration,
  probe: { namespace: string; image: string; until: (outcome: Outcome) => boolean },
): Promise<void> {
  await cluster.admission.createValidatingWebhookConfiguration({ body: configuration });
  await waitForAdmission(cluster, probe);
}

/** Retries a dry-run Pod create until `until` holds (the API server sees config changes within a second or two). */
export async function waitForAdmission(cluster: Cluster, probe: { namespace: string; image: string; until: (outcome: Outcome) => boolean }): Promise<Outcome> {
  const deadline = Date.now() + 30_000;
  let last: Outcome | undefined;
  for (let i = 0; Date.now() < deadline; i++) {
    last = await attempt((options) =>
      cluster.core.createNamespacedPod({ namespace: probe.namespace, body: pod(`probe-${i}`, probe.image), dryRun: 'All' }, options),
    );
    if (probe.until(last)) return last;
    await sleep(250);
  }
  throw new Error(`the API server did not reach the expected admission outcome in 30 s; last: ${JSON.stringify(last)}`);
}
