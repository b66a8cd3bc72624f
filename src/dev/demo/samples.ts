// The demo's embedded policy and sample workloads: what a newcomer sees from `make demo`.
export const DEMO_ACCOUNT = '111122223333';
export const DEMO_REGION = 'us-east-1';
export const DEMO_REGISTRY = `${DEMO_ACCOUNT}.dkr.ecr.${DEMO_REGION}.amazonaws.com`;

export function demoPolicy(trustStorePath: string, profileArn: string): string {
  return `mode: enforce
onError: deny
registries:
  ecr:
    - accountId: "${DEMO_ACCOUNT}"
      regions: [${DEMO_REGION}, us-west-2]
  allow: ["registry.k8s.io/pause:*"]
namespaces:
  exclude: [kube-system]
checks:
  immutability: true
  signature:
    trustStores: [{ type: signingAuthority, path: ${trustStorePath} }]
    trustedIdentities: ["${profileArn}"]
    revocation: enforce
  vulnerabilities:
    denySeverities: [CRITICAL]
    notScanned: deny
  posture:
    require: [scanning, lifecyclePolicy, kmsEncryption, restrictedPolicy]
    action: warn
overrides:
  - { name: batch-warn, namespaces: ["batch-*"], images: ["*"], mode: warn }
`;
}

export interface DemoSample {
  readonly title: string;
  readonly object: Record<string, unknown>;
}

type Container = { name: string; image: string };
const podSpec = (containers: Container[], init: Container[] = []) => ({ containers, ...(init.length > 0 && { initContainers: init }) });
const deployment = (name: string, namespace: string, spec: object) => ({
  apiVersion: 'apps/v1',
  kind: 'Deployment',
  metadata: { name, namespace },
  spec: { template: { spec } },
});
const pod = (name: string, namespace: string, spec: object) => ({ apiVersion: 'v1', kind: 'Pod', metadata: { name, namespace }, spec });
const r = (path: string) => `${DEMO_REGISTRY}/${path}`;

export const DEMO_SAMPLES: readonly DemoSample[] = [
  {
    title: 'a signed Deployment from immutable repositories, with no critical findings',
    object: deployment('web', 'team-a', podSpec([{ name: 'app', image: r('web:1.4.2') }], [{ name: 'migrate', image: r('web-migrate:1.4.2') }])),
  },
  { title: 'a multi-arch image whose index is signed', object: pod('api', 'team-a', podSpec([{ name: 'api', image: r('api:3.2.0') }])) },
  { title: 'an unsigned release candidate', object: deployment('web-rc', 'team-a', podSpec([{ name: 'app', image: r('web:1.5.0-rc1') }])) },
  {
    title: 'a dev tag (movable: excluded from immutability) signed by the dev profile',
    object: pod('web-dev', 'team-a', podSpec([{ name: 'app', image: r('web:dev-42') }])),
  },
  {
    title: 'a signed image from a repository with MUTABLE tags',
    object: {
      apiVersion: 'batch/v1',
      kind: 'Job',
      metadata: { name: 'worker', namespace: 'team-a' },
      spec: { template: { spec: podSpec([{ name: 'worker', image: r('worker:2') }]) } },
    },
  },
  { title: 'an image with a CRITICAL finding', object: deployment('legacy', 'team-b', podSpec([{ name: 'legacy', image: r('legacy:1.0') }])) },
  {
    title: 'a tag that does not exist, and an archived one',
    object: pod(
      'typo',
      'team-a',
      podSpec([
        { name: 'app', image: r('web:1.4.3') },
        { name: 'old', image: r('web:0.9') },
      ]),
    ),
  },
  {
    title: 'images from Docker Hub and from an ECR account the policy does not know',
    object: pod(
      'debug',
      'team-a',
      podSpec([
        { name: 'shell', image: 'busybox:1.36' },
        { name: 'tool', image: '999988887777.dkr.ecr.us-east-1.amazonaws.com/tool:2' },
      ]),
    ),
  },
  {
    title: 'an allowed non-ECR image (the pause container)',
    object: pod('placeholder', 'team-a', podSpec([{ name: 'pause', image: 'registry.k8s.io/pause:3.10' }])),
  },
  {
    title: 'a CronJob in a batch-* namespace, where an override says warn',
    object: {
      apiVersion: 'batch/v1',
      kind: 'CronJob',
      metadata: { name: 'report', namespace: 'batch-nightly' },
      spec: { schedule: '0 3 * * *', jobTemplate: { spec: { template: { spec: podSpec([{ name: 'report', image: r('web:1.5.0-rc1') }]) } } } },
    },
  },
  { title: 'a Pod in kube-system, which the policy excludes', object: pod('debug', 'kube-system', podSpec([{ name: 'shell', image: 'busybox:1.36' }])) },
];
