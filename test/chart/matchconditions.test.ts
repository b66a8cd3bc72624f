// The webhook's matchConditions, evaluated by kube-apiserver's own code (test/chart/chartcheck):
// they compile, never fail to evaluate (an error would reject the request under failurePolicy
// Fail), skip UPDATEs that keep every image, and send everything that could bring one in.
import t from 'tap';
import { chartcheck } from './chartcheck.ts';
import { only, renderChart } from './helm.ts';
import type { ValidatingWebhookConfiguration } from './kube-types.ts';

// A cold build of chartcheck compiles k8s.io/apiserver.
t.setTimeout(15 * 60_000);

type Json = Record<string, unknown>;
interface Case {
  name: string;
  operation: 'CREATE' | 'UPDATE';
  resource: string;
  subResource?: string;
  object: Json | null;
  oldObject: Json | null;
  /** true: the API server sends the request to the webhook. */
  sent: boolean;
}
interface Output {
  compileErrors: string[];
  results: Array<{ name: string; matches: boolean; error?: string }>;
}

interface PodSpecParts {
  image?: string | null;
  initImage?: string;
  ephemeralImage?: string;
  /** An image volume `payload` with this reference (null: one with no reference yet). */
  volumeImage?: string | null;
  /** An emptyDir volume `scratch` before it. */
  scratch?: boolean;
}

function volumes({ volumeImage, scratch }: PodSpecParts): Json[] {
  return [
    ...(scratch ? [{ name: 'scratch', emptyDir: {} }] : []),
    ...(volumeImage !== undefined
      ? [{ name: 'payload', image: volumeImage === null ? { pullPolicy: 'Always' } : { reference: volumeImage, pullPolicy: 'Always' } }]
      : []),
  ];
}

function podSpec(parts: PodSpecParts = {}): Json {
  const { image = 'registry.example/app:1', initImage, ephemeralImage } = parts;
  const vols = volumes(parts);
  return {
    containers: [{ name: 'app', ...(image !== null && { image }) }],
    ...(initImage && { initContainers: [{ name: 'init', image: initImage }] }),
    ...(ephemeralImage && { ephemeralContainers: [{ name: 'debug', image: ephemeralImage }] }),
    ...(vols.length > 0 && { volumes: vols }),
  };
}

const template = (parts: PodSpecParts = {}) => ({ metadata: { labels: { app: 'x' } }, spec: podSpec(parts) });
const meta = (labels: Record<string, string> = {}) => ({ name: 'x', namespace: 'team-a', labels });

// Each kind the webhook admits, as a function of its pod spec parts and a replica/label knob.
const KINDS: Record<string, { resource: string; make: (parts: PodSpecParts, knob?: number) => Json }> = {
  Pod: { resource: 'pods', make: (p, knob = 0) => ({ apiVersion: 'v1', kind: 'Pod', metadata: meta({ knob: String(knob) }), spec: podSpec(p) }) },
  ReplicationController: {
    resource: 'replicationcontrollers',
    make: (p, knob = 1) => ({
      apiVersion: 'v1',
      kind: 'ReplicationController',
      metadata: meta(),
      spec: { replicas: knob, selector: { app: 'x' }, template: template(p) },
    }),
  },
  PodTemplate: {
    resource: 'podtemplates',
    make: (p, knob = 0) => ({ apiVersion: 'v1', kind: 'PodTemplate', metadata: meta({ knob: String(knob) }), template: template(p) }),
  },
  Deployment: {
    resource: 'deployments',
    make: (p, knob = 1) => ({
      apiVersion: 'apps/v1',
      kind: 'Deployment',
      metadata: meta(),
      spec: { replicas: knob, selector: { matchLabels: { app: 'x' } }, template: template(p) },
    }),
  },
  ReplicaSet: {
    resource: 'replicasets',
    make: (p, knob = 1) => ({
      apiVersion: 'apps/v1',
      kind: 'ReplicaSet',
      metadata: meta(),
      spec: { replicas: knob, selector: { matchLabels: { app: 'x' } }, template: template(p) },
    }),
  },
  StatefulSet: {
    resource: 'statefulsets',
    make: (p, knob = 1) => ({
      apiVersion: 'apps/v1',
      kind: 'StatefulSet',
      metadata: meta(),
      spec: { replicas: knob, serviceName: 'x', selector: { matchLabels: { app: 'x' } }, template: template(p) },
    }),
  },
  DaemonSet: {
    resource: 'daemonsets',
    make: (p, knob = 1) => ({
      apiVersion: 'apps/v1',
      kind: 'DaemonSet',
      metadata: meta(),
      spec: { minReadySeconds: knob, selector: { matchLabels: { app: 'x' } }, template: template(p) },
    }),
  },
  Job: {
    resource: 'jobs',
    make: (p, knob = 1) => ({ apiVersion: 'batch/v1', kind: 'Job', metadata: meta(), spec: { parallelism: knob, template: template(p) } }),
  },
  CronJob: {
    resource: 'cronjobs',
    make: (p, knob = 1) => ({
      apiVersion: 'batch/v1',
      kind: 'CronJob',
      metadata: meta(),
      spec: { schedule: `${knob} * * * *`, jobTemplate: { spec: { template: template(p) } } },
    }),
  },
};

function cases(): Case[] {
  const all: Case[] = [];
  for (const [kind, { resource, make }] of Object.entries(KINDS)) {
    const add = (name: string, operation: Case['operation'], object: Json | null, oldObject: Json | null, sent: boolean) =>
      all.push({ name: `${kind}: ${name}`, operation, resource, object, oldObject, sent });
    add('CREATE', 'CREATE', make({}), null, true);
    add('UPDATE that changes nothing but a count or label', 'UPDATE', make({}, 3), make({}, 1), false);
    add('UPDATE of a container image', 'UPDATE', make({ image: 'registry.example/app:2' }), make({}), true);
    add('UPDATE of an init container image', 'UPDATE', make({ initImage: 'registry.example/init:2' }), make({ initImage: 'registry.example/init:1' }), true);
    add('UPDATE adding an init container', 'UPDATE', make({ initImage: 'registry.example/init:1' }), make({}), true);
    add('UPDATE of a container that has no image yet', 'UPDATE', make({ image: null }, 2), make({ image: null }, 1), false);
    add('UPDATE giving a container its image', 'UPDATE', make({}), make({ image: null }), true);
    // Image volumes: a node pulls their reference like a container's image.
    const payload = (volumeImage: string | null, scratch = false) => ({ volumeImage, scratch });
    add('UPDATE of an image volume reference', 'UPDATE', make(payload('evil.example/payload:1')), make(payload('registry.example/payload:1')), true);
    add('UPDATE adding an image volume', 'UPDATE', make(payload('evil.example/payload:1')), make({}), true);
    add('UPDATE turning an emptyDir into an image volume', 'UPDATE', make(payload('evil.example/payload:1')), make({ scratch: true }), true);
    add('UPDATE keeping the image volume', 'UPDATE', make(payload('registry.example/payload:1'), 3), make(payload('registry.example/payload:1')), false);
    add(
      'UPDATE adding an emptyDir beside the image volume',
      'UPDATE',
      make(payload('registry.example/payload:1', true)),
      make(payload('registry.example/payload:1')),
      false,
    );
    add('UPDATE of an image volume that has no reference yet', 'UPDATE', make(payload(null), 2), make(payload(null)), false);
    add('UPDATE giving an image volume its reference', 'UPDATE', make(payload('evil.example/payload:1')), make(payload(null)), true);
    add(
      'UPDATE moving an image into a volume',
      'UPDATE',
      make({ image: 'registry.example/app:1', volumeImage: 'evil.example/payload:1' }),
      make({ image: 'registry.example/app:1', initImage: 'evil.example/payload:1' }),
      true,
    );
    // The last container's image moved into the first image volume: the same images in the same
    // order, told apart by the marker between containers and volumes (review of this change).
    add(
      'UPDATE moving the last container image into the first volume',
      'UPDATE',
      make({ image: 'registry.example/app:1', volumeImage: 'evil.example/payload:1' }),
      make({ image: 'registry.example/app:1', ephemeralImage: 'evil.example/payload:1' }),
      true,
    );
  }
  const pod = KINDS['Pod']!.make;
  all.push(
    {
      name: 'Pod: adding an ephemeral container (pods/ephemeralcontainers)',
      operation: 'UPDATE',
      resource: 'pods',
      subResource: 'ephemeralcontainers',
      object: pod({ ephemeralImage: 'busybox:1' }),
      oldObject: pod({}),
      sent: true,
    },
    {
      name: 'Pod: ephemeral container update keeping images',
      operation: 'UPDATE',
      resource: 'pods',
      subResource: 'ephemeralcontainers',
      object: pod({ ephemeralImage: 'busybox:1' }, 1),
      oldObject: pod({ ephemeralImage: 'busybox:1' }),
      sent: false,
    },
    {
      name: 'Pod: finalizer removal while terminating',
      operation: 'UPDATE',
      resource: 'pods',
      object: { ...pod({}), metadata: { ...meta(), deletionTimestamp: '2026-01-01T00:00:00Z' } },
      oldObject: { ...pod({}), metadata: { ...meta(), finalizers: ['example.com/x'], deletionTimestamp: '2026-01-01T00:00:00Z' } },
      sent: false,
    },
    {
      name: 'ReplicationController: UPDATE without a template',
      operation: 'UPDATE',
      resource: 'replicationcontrollers',
      object: { apiVersion: 'v1', kind: 'ReplicationController', metadata: meta(), spec: { replicas: 0 } },
      oldObject: { apiVersion: 'v1', kind: 'ReplicationController', metadata: meta(), spec: { replicas: 1 } },
      sent: false,
    },
    // A kind the condition does not know (a rule someone adds later) is always sent.
    {
      name: 'Service: UPDATE of a kind the condition does not know',
      operation: 'UPDATE',
      resource: 'services',
      object: { apiVersion: 'v1', kind: 'Service', metadata: meta({ a: 'b' }), spec: {} },
      oldObject: { apiVersion: 'v1', kind: 'Service', metadata: meta(), spec: {} },
      sent: true,
    },
  );
  return all;
}

t.test('matchConditions as kube-apiserver evaluates them', async (t) => {
  const vwc = only<ValidatingWebhookConfiguration>(renderChart(), 'ValidatingWebhookConfiguration');
  const conditions = vwc.webhooks[0]?.matchConditions ?? [];
  t.same(
    conditions.map((c) => c.name),
    ['images-may-change'],
    'one condition by default',
  );
  const all = cases();
  const output = chartcheck<Output>('conditions', { conditions, cases: all });
  t.same(output.compileErrors, [], 'compiles in the API server CEL environment');
  t.equal(output.results.length, all.length, 'every case evaluated');
  for (const [i, result] of output.results.entries()) {
    const expected = all[i]!;
    t.notOk(result.error, `${expected.name}: evaluates without error`);
    t.equal(result.matches, expected.sent, `${expected.name}: ${expected.sent ? 'sent to the webhook' : 'skipped'}`);
  }
});

t.test('without the skip, every request is sent; extra conditions are added', async (t) => {
  const off = only<ValidatingWebhookConfiguration>(
    renderChart({ setJson: ['webhook.skipUpdatesWithUnchangedImages=false'] }),
    'ValidatingWebhookConfiguration',
  );
  t.notOk(off.webhooks[0]?.matchConditions, 'no matchConditions');
  const extra = { name: 'not-dry-run', expression: '!request.dryRun' };
  const both = only<ValidatingWebhookConfiguration>(
    renderChart({ setJson: [`webhook.extraMatchConditions=${JSON.stringify([extra])}`] }),
    'ValidatingWebhookConfiguration',
  );
  const conditions = both.webhooks[0]?.matchConditions ?? [];
  t.same(
    conditions.map((c) => c.name),
    ['images-may-change', 'not-dry-run'],
    'the chart condition and the extra one',
  );
  const output = chartcheck<Output>('conditions', { conditions, cases: [] });
  t.same(output.compileErrors, [], 'both compile');
});
