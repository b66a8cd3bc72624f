// The demo's embedded policy and sample workloads: what a newcomer sees from `make demo`.
export const DEMO_ACCOUNT = '111122223333';
export const DEMO_REGION = 'us-east-1';
export const DEMO_REGISTRY = `${DEMO_ACCOUNT}.dkr.ecr.${DEMO_REGION}.amazonaws.com`;

export const DEMO_POLICY = `mode: enforce
onError: deny
registries:
  ecr:
    - accountId: "${DEMO_ACCOUNT}"
      regions: [${DEMO_REGION}, us-west-2]
  allow: ["registry.k8s.io/pause:*"]
namespaces:
  exclude: [kube-system]
overrides:
  - { name: batch-warn, namespaces: ["batch-*"], images: ["*"], mode: warn }
`;

export interface DemoSample {
  readonly title: string;
  readonly object: Record<string, unknown>;
}

const podSpec = (containers: Array<{ name: string; image: string }>, init: Array<{ name: string; image: string }> = []) => ({
  containers,
  ...(init.length > 0 && { initContainers: init }),
});

export const DEMO_SAMPLES: readonly DemoSample[] = [
  {
    title: 'a Deployment whose images come from the allowed ECR registry',
    object: { apiVersion: 'apps/v1', kind: 'Deployment', metadata: { name: 'web', namespace: 'team-a' }, spec: { template: { spec: podSpec([{ name: 'app', image: `${DEMO_REGISTRY}/web:1.4.2` }], [{ name: 'migrate', image: `${DEMO_REGISTRY}/web-migrate:1.4.2` }]) } } },
  },
  {
    title: 'a Pod pulling from Docker Hub and from an ECR account the policy does not know',
    object: { apiVersion: 'v1', kind: 'Pod', metadata: { name: 'debug', namespace: 'team-a' }, spec: podSpec([{ name: 'shell', image: 'busybox:1.36' }, { name: 'tool', image: '999988887777.dkr.ecr.us-east-1.amazonaws.com/tool:2' }]) },
  },
  {
    title: 'an allowed non-ECR image (the pause container)',
    object: { apiVersion: 'v1', kind: 'Pod', metadata: { name: 'placeholder', namespace: 'team-a' }, spec: podSpec([{ name: 'pause', image: 'registry.k8s.io/pause:3.10' }]) },
  },
  {
    title: 'a CronJob in a batch-* namespace, where an override says warn',
    object: { apiVersion: 'batch/v1', kind: 'CronJob', metadata: { name: 'report', namespace: 'batch-nightly' }, spec: { schedule: '0 3 * * *', jobTemplate: { spec: { template: { spec: podSpec([{ name: 'report', image: 'ghcr.io/example/report:7' }]) } } } } },
  },
  {
    title: 'the same Pod in kube-system, which the policy excludes',
    object: { apiVersion: 'v1', kind: 'Pod', metadata: { name: 'debug', namespace: 'kube-system' }, spec: podSpec([{ name: 'shell', image: 'busybox:1.36' }]) },
  },
];
