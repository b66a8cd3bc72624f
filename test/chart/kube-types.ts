// The parts of rendered objects the chart tests read, typed just enough to read them.
import type { KubeObject } from './helm.ts';

export interface SecurityContext {
  runAsNonRoot?: boolean;
  runAsUser?: number;
  runAsGroup?: number;
  readOnlyRootFilesystem?: boolean;
  allowPrivilegeEscalation?: boolean;
  privileged?: boolean;
  capabilities?: { drop?: string[]; add?: string[] };
  seccompProfile?: { type: string };
}

export interface Probe {
  httpGet?: { path: string; port: string | number };
}

export interface Container {
  name: string;
  image: string;
  args?: string[];
  command?: string[];
  env?: Array<{ name: string; value?: string; valueFrom?: unknown }>;
  ports?: Array<{ name: string; containerPort: number }>;
  resources?: { requests?: Record<string, string>; limits?: Record<string, string> };
  livenessProbe?: Probe;
  readinessProbe?: Probe;
  securityContext?: SecurityContext;
  volumeMounts?: Array<{ name: string; mountPath: string; subPath?: string }>;
}

export interface PodSpec {
  automountServiceAccountToken?: boolean;
  serviceAccountName?: string;
  securityContext?: SecurityContext & { fsGroup?: number };
  containers: Container[];
  volumes?: Array<{ name: string; [source: string]: unknown }>;
  topologySpreadConstraints?: Array<{ topologyKey: string; whenUnsatisfiable: string; maxSkew: number }>;
}

export interface Deployment extends KubeObject {
  spec: {
    replicas: number;
    selector: { matchLabels: Record<string, string> };
    template: { metadata: { labels: Record<string, string>; annotations?: Record<string, string> }; spec: PodSpec };
  };
}

export interface Pod extends KubeObject {
  spec: PodSpec;
}

export interface WebhookRule {
  apiGroups: string[];
  apiVersions: string[];
  resources: string[];
  operations: string[];
  scope?: string;
}

export interface LabelSelectorRequirement {
  key: string;
  operator: string;
  values?: string[];
}

export interface ValidatingWebhook {
  name: string;
  admissionReviewVersions: string[];
  sideEffects: string;
  failurePolicy: string;
  timeoutSeconds: number;
  clientConfig: { service: { name: string; namespace: string; path: string; port: number }; caBundle?: string };
  rules: WebhookRule[];
  namespaceSelector: { matchExpressions: LabelSelectorRequirement[] };
  objectSelector?: Record<string, unknown>;
  matchConditions?: Array<{ name: string; expression: string }>;
}

export interface ValidatingWebhookConfiguration extends KubeObject {
  webhooks: ValidatingWebhook[];
}

export interface Secret extends KubeObject {
  type?: string;
  data?: Record<string, string>;
}

export interface ConfigMap extends KubeObject {
  data?: Record<string, string>;
}

export interface ServiceAccount extends KubeObject {
  automountServiceAccountToken?: boolean;
}

/** A container's environment as a name -> value map (valueFrom entries map to undefined). */
export function envOf(container: Container): Map<string, string | undefined> {
  return new Map((container.env ?? []).map((e) => [e.name, e.value]));
}

export function containerNamed(spec: PodSpec, name: string): Container {
  const container = spec.containers.find((c) => c.name === name);
  if (!container) throw new Error(`no container ${name}; have ${spec.containers.map((c) => c.name).join(', ')}`);
  return container;
}
