// PolicyReports and Events on the API server (@kubernetes/client-node). The controller's RBAC
// (chart: controller-rbac.yaml) grants exactly these verbs.
import { ApiException, CoreV1Api, CustomObjectsApi, type CoreV1Event, type KubeConfig } from '@kubernetes/client-node';
import { randomBytes } from 'node:crypto';
import type { ReportPort, StoredReport } from './publisher.ts';
import { REPORT_API_VERSION, REPORT_NAME, type PolicyReportBody } from './report.ts';

const GROUP = 'wgpolicyk8s.io';
const VERSION = 'v1alpha2';
const PLURAL = 'policyreports';
const isStatus = (err: unknown, code: number) => err instanceof ApiException && err.code === code;

export const REPORT_LABELS = { 'app.kubernetes.io/managed-by': 'ecr-admission' } as const;

interface ReportObject {
  metadata?: { resourceVersion?: string; namespace?: string; name?: string };
  results?: unknown;
  summary?: unknown;
}

export function kubeReportPort(kubeConfig: KubeConfig): ReportPort {
  const api = kubeConfig.makeApiClient(CustomObjectsApi);
  const object = (namespace: string, body: PolicyReportBody, resourceVersion?: string) => ({
    apiVersion: REPORT_API_VERSION,
    kind: 'PolicyReport',
    metadata: { name: REPORT_NAME, namespace, labels: { ...REPORT_LABELS }, ...(resourceVersion !== undefined && { resourceVersion }) },
    summary: body.summary,
    results: body.results,
  });
  const at = (namespace: string) => ({ group: GROUP, version: VERSION, plural: PLURAL, namespace });
  return {
    async get(namespace): Promise<StoredReport | undefined> {
      try {
        const found = (await api.getNamespacedCustomObject({ ...at(namespace), name: REPORT_NAME })) as ReportObject;
        return { body: { results: found.results, summary: found.summary }, resourceVersion: found.metadata?.resourceVersion ?? '' };
      } catch (err) {
        if (isStatus(err, 404)) return undefined;
        throw err;
      }
    },
    async create(namespace, body) {
      const made = (await api.createNamespacedCustomObject({ ...at(namespace), body: object(namespace, body), fieldManager: 'ecr-admission' })) as ReportObject;
      return made.metadata?.resourceVersion ?? '';
    },
    async replace(namespace, body, resourceVersion) {
      try {
        const replaced = (await api.replaceNamespacedCustomObject({
          ...at(namespace),
          name: REPORT_NAME,
          body: object(namespace, body, resourceVersion),
          fieldManager: 'ecr-admission',
        })) as ReportObject;
        return replaced.metadata?.resourceVersion ?? '';
      } catch (err) {
        if (isStatus(err, 409)) return undefined;
        throw err;
      }
    },
    async list() {
      const found = (await api.listClusterCustomObject({
        group: GROUP,
        version: VERSION,
        plural: PLURAL,
        labelSelector: Object.entries(REPORT_LABELS)
          .map(([k, v]) => `${k}=${v}`)
          .join(','),
      })) as { items?: ReportObject[] };
      return (found.items ?? [])
        .filter((r) => r.metadata?.name === REPORT_NAME && r.metadata.namespace)
        .map((r) => ({
          namespace: r.metadata!.namespace!,
          body: { results: r.results, summary: r.summary },
          resourceVersion: r.metadata?.resourceVersion ?? '',
        }));
    },
    async delete(namespace) {
      try {
        await api.deleteNamespacedCustomObject({ ...at(namespace), name: REPORT_NAME });
      } catch (err) {
        if (!isStatus(err, 404)) throw err;
      }
    },
  };
}

export interface PodRef {
  readonly namespace: string;
  readonly name: string;
  readonly uid: string;
}

export const EVENT_REASON = 'ImagePolicyViolation';

/** Records a Warning Event on the Pod (core/v1 Event, which `kubectl describe pod` shows). */
export function kubeEventSink(kubeConfig: KubeConfig, instance: string): (pod: PodRef, message: string) => Promise<void> {
  const core = kubeConfig.makeApiClient(CoreV1Api);
  return async (pod, message) => {
    const now = new Date();
    const body: CoreV1Event = {
      metadata: { name: `${pod.name}.${randomBytes(8).toString('hex')}`, namespace: pod.namespace },
      involvedObject: { apiVersion: 'v1', kind: 'Pod', name: pod.name, namespace: pod.namespace, uid: pod.uid },
      reason: EVENT_REASON,
      type: 'Warning',
      message: message.length <= 1024 ? message : `${message.slice(0, 1021)}...`,
      source: { component: 'ecr-admission-controller' },
      reportingComponent: 'ecr-admission.io/controller',
      reportingInstance: instance.slice(0, 128),
      action: 'Recheck',
      firstTimestamp: now,
      lastTimestamp: now,
      count: 1,
    };
    await core.createNamespacedEvent({ namespace: pod.namespace, body });
  };
}
