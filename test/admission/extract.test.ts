import t from 'tap';
import fc from 'fast-check';
import { extractImages, HANDLED_KINDS, isHandledKind, MAX_CONTAINERS } from '../../src/admission/extract.ts';
import { ADMISSION_FIXTURES, loadAdmissionReview, type AdmissionFixtureName } from '../fixtures/admission.ts';
import { ECR } from '../fixtures/policy.ts';

const MIGRATE_DIGEST = `sha256:3c4c1f42a89e${'0'.repeat(52)}`;
const WORKLOAD = [`initContainer migrate ${ECR}/web-migrate:1.4.2`, `container app ${ECR}/web:1.4.2`, `container sidecar ${ECR}/envoy:1.30.2`];

const EXPECTED: Record<Exclude<AdmissionFixtureName, 'deployment-delete' | 'configmap-create'>, string[]> = {
  'pod-create': [
    `initContainer migrate ${ECR}/web-migrate@${MIGRATE_DIGEST}`,
    `container app ${ECR}/web:1.4.2`,
    'container log-shipper docker.io/fluent/fluent-bit:3.0.7',
  ],
  'pod-ephemeralcontainers-update': [
    `initContainer migrate ${ECR}/web-migrate@${MIGRATE_DIGEST}`,
    `container app ${ECR}/web:1.4.2`,
    'container log-shipper docker.io/fluent/fluent-bit:3.0.7',
    'ephemeralContainer debugger-7mvkq docker.io/library/busybox:1.36',
  ],
  'pod-status-update': [
    `initContainer migrate ${ECR}/web-migrate@${MIGRATE_DIGEST}`,
    `container app ${ECR}/web:1.4.2`,
    'container log-shipper docker.io/fluent/fluent-bit:3.0.7',
  ],
  'deployment-create': WORKLOAD,
  'deployment-create-dry-run': WORKLOAD,
  'deployment-update-scale': WORKLOAD,
  'deployment-update-image': [WORKLOAD[0]!, `container app ${ECR}/web:1.5.0`, WORKLOAD[2]!],
  'replicaset-create': WORKLOAD,
  'statefulset-create': [`container postgres ${ECR}/postgres:16.3`],
  'daemonset-create': ['initContainer setup public.ecr.aws/docker/library/alpine:3.20', `container agent ${ECR}/node-agent:2.1.0`],
  'job-create': [`container report ${ECR}/report:7`],
  'cronjob-create': ['container report ghcr.io/example/report:7', `container uploader ${ECR}/uploader:1.0.3`],
  'replicationcontroller-create': ['container web nginx:1.27'],
  'podtemplate-create': [`container runner ${ECR}/ci-runner:2024.11`],
};

t.test('every workload fixture yields its images with the right container kinds', async (t) => {
  for (const [name, want] of Object.entries(EXPECTED)) {
    const { request } = loadAdmissionReview(name as AdmissionFixtureName);
    const got = extractImages(request.kind.group, request.kind.kind, request.object);
    t.ok(got.handled, `${name} is a handled kind`);
    if (!got.handled || 'error' in got) {
      t.fail(`${name}: ${JSON.stringify(got)}`);
      continue;
    }
    t.same(
      got.images.map((i) => `${i.containerKind} ${i.containerName} ${i.image}`),
      want,
      name,
    );
  }
});

t.test('every fixture is used and every handled kind has a fixture', async (t) => {
  const kinds = new Set(
    ADMISSION_FIXTURES.map((n) => {
      const k = loadAdmissionReview(n).request.kind;
      return `${k.group}/${k.kind}`;
    }),
  );
  for (const k of HANDLED_KINDS) t.ok(kinds.has(`${k.group}/${k.kind}`), `fixture for ${k.group || 'core'}/${k.kind}`);
  t.same(HANDLED_KINDS.map((k) => k.kind).sort(), [
    'CronJob',
    'DaemonSet',
    'Deployment',
    'Job',
    'Pod',
    'PodTemplate',
    'ReplicaSet',
    'ReplicationController',
    'StatefulSet',
  ]);
});

t.test('kinds are matched by API group as well as kind', async (t) => {
  t.ok(isHandledKind('apps', 'Deployment'));
  t.notOk(isHandledKind('', 'Deployment'), 'core/Deployment does not exist');
  t.notOk(isHandledKind('extensions', 'Deployment'), 'a different group is a different kind');
  t.notOk(isHandledKind('example.com', 'Pod'), 'a CRD named Pod is not a Pod');
  t.same(extractImages('', 'ConfigMap', loadAdmissionReview('configmap-create').request.object), { handled: false });
  t.same(extractImages('apps', 'Pod', { spec: { containers: [{ name: 'a', image: 'evil.com/x' }] } }), { handled: false });
});

t.test('malformed objects give an error, never a throw', async (t) => {
  const cases: Array<[label: string, group: string, kind: string, object: unknown, why: RegExp]> = [
    ['no object', '', 'Pod', undefined, /Pod object has no body object/],
    ['null object', 'apps', 'Deployment', null, /Deployment object has no body object/],
    ['object is a string', '', 'Pod', 'spec', /no body object/],
    ['object is an array', '', 'Pod', [], /no body object/],
    ['Pod without spec', '', 'Pod', { kind: 'Pod' }, /Pod has no pod spec at spec/],
    ['Deployment without template', 'apps', 'Deployment', { spec: { replicas: 1 } }, /Deployment object has no spec\.template object/],
    ['CronJob with a list for jobTemplate', 'batch', 'CronJob', { spec: { jobTemplate: [] } }, /no spec\.jobTemplate object/],
    ['containers not a list', '', 'Pod', { spec: { containers: { name: 'a', image: 'x' } } }, /spec\.containers is not a list/],
    ['container not an object', '', 'Pod', { spec: { containers: ['nginx'] } }, /spec\.containers\[0\] is not an object/],
    [
      'container without image',
      'apps',
      'Deployment',
      { spec: { template: { spec: { containers: [{ name: 'a' }] } } } },
      /spec\.template\.spec\.containers\[0\] has no image string/,
    ],
    ['image not a string', '', 'Pod', { spec: { containers: [{ name: 'a', image: 42 }] } }, /has no image string/],
    ['empty image', '', 'Pod', { spec: { containers: [{ name: 'a', image: '' }] } }, /has no image string/],
    [
      'bad init container after good containers',
      '',
      'Pod',
      { spec: { containers: [{ name: 'a', image: 'x' }], initContainers: [{ name: 'b', image: null }] } },
      /initContainers\[0\] has no image string/,
    ],
    ['ephemeralContainers not a list', '', 'Pod', { spec: { containers: [], ephemeralContainers: 'busybox' } }, /ephemeralContainers is not a list/],
  ];
  for (const [label, group, kind, object, why] of cases) {
    const got = extractImages(group, kind, object);
    t.ok(got.handled && 'error' in got && why.test(got.error), label, { got });
  }
});

t.test('a hostile number of containers is bounded', async (t) => {
  const containers = Array.from({ length: MAX_CONTAINERS + 1 }, (_, i) => ({ name: `c${i}`, image: `r.example.com/x:${i}` }));
  const got = extractImages('', 'Pod', { spec: { containers } });
  t.ok(got.handled && 'error' in got && /more than 256 containers/.test(got.error));
  const ok = extractImages('', 'Pod', { spec: { containers: containers.slice(0, MAX_CONTAINERS) } });
  t.ok(ok.handled && 'images' in ok && ok.images.length === MAX_CONTAINERS);
});

t.test('a nameless container is named by position; null lists are empty', async (t) => {
  const got = extractImages('', 'Pod', { spec: { containers: [{ image: 'r.example.com/x:1' }], initContainers: null } });
  t.same(got, { handled: true, images: [{ containerKind: 'container', containerName: '#0', image: 'r.example.com/x:1' }] });
});

t.test('property: any value for any handled kind returns a result and never throws', async (t) => {
  const kinds = HANDLED_KINDS;
  const container = fc.record(
    { name: fc.oneof(fc.string(), fc.constant(undefined)), image: fc.oneof(fc.string(), fc.integer(), fc.constant(null)) },
    { requiredKeys: [] },
  );
  const podSpec = fc.record(
    {
      containers: fc.oneof(fc.array(container), fc.anything()),
      initContainers: fc.oneof(fc.array(container), fc.anything()),
      ephemeralContainers: fc.anything(),
    },
    { requiredKeys: [] },
  );
  const object = fc.oneof(
    fc.anything(),
    fc.record({ spec: podSpec }),
    fc.record({ spec: fc.record({ template: fc.record({ spec: podSpec }) }) }),
    fc.record({ template: fc.record({ spec: fc.anything() }) }),
    fc.record({ spec: fc.record({ jobTemplate: fc.record({ spec: fc.record({ template: fc.record({ spec: podSpec }) }) }) }) }),
  );
  fc.assert(
    fc.property(fc.integer({ min: 0, max: kinds.length - 1 }), object, (i, o) => {
      const k = kinds[i]!;
      const got = extractImages(k.group, k.kind, o);
      if (!got.handled) return false;
      return 'error' in got ? typeof got.error === 'string' : got.images.every((c) => typeof c.image === 'string' && c.image !== '');
    }),
    { numRuns: 2000 },
  );
  t.pass('2000 generated objects');
});
