// The controller re-checks what running Pods pull, image volumes included: each volume's image
// (at the digest the kubelet reports for it, when it does) is checked with the webhook's own
// checks against the AWS sandbox, and the PolicyReport and Event name it as a volume.
import t from 'tap';
import type { V1Pod } from '@kubernetes/client-node';
import { imageDigest, ociImage } from '../../src/dev/sandbox/index.ts';
import { ComplianceController } from '../../src/controller/controller.ts';
import { ImageEvaluator } from '../../src/controller/evaluations.ts';
import { runningImages } from '../../src/controller/pod-images.ts';
import { ReportPublisher, type ReportPort } from '../../src/controller/publisher.ts';
import type { PolicyReportBody } from '../../src/controller/report.ts';
import { ACCOUNT, HOST, REGION, startHarness } from '../helpers/harness.ts';
import { CONTINUOUS_SCAN, XZ_CRITICAL, ecrFixture } from '../helpers/ecr-fixture.ts';

const web = ociImage({ seed: 'ivc-web', tags: ['1'], ...CONTINUOUS_SCAN });
const models = ociImage({ seed: 'ivc-models', tags: ['v3'], ...CONTINUOUS_SCAN });
const modelsNext = ociImage({
  seed: 'ivc-models-next',
  tags: [],
  ...CONTINUOUS_SCAN,
  findings: [XZ_CRITICAL],
});

const fixture = () =>
  ecrFixture([
    { name: 'web', tagMutability: 'IMMUTABLE', images: [web] },
    { name: 'models', tagMutability: 'MUTABLE', images: [models, modelsNext] },
  ]);

const POLICY = `
registries:
  ecr:
    - accountId: "${ACCOUNT}"
checks:
  vulnerabilities: {}
cache:
  ttlSeconds: { findings: 1 }
  staleSeconds: 0
`;

/** A running Pod: container app (web:1), volumes scratch (emptyDir) and payload (an image). */
function pod(name: string, reference: string, imageRef?: string): V1Pod {
  const mounts = [
    { name: 'scratch', mountPath: '/scratch' },
    { name: 'payload', mountPath: '/payload', ...(imageRef && { volumeStatus: { image: { imageRef } } }) },
  ];
  return {
    metadata: { name, namespace: 'team-a', uid: `uid-${name}` },
    spec: {
      containers: [{ name: 'app', image: `${HOST}/web:1`, volumeMounts: mounts.map(({ name, mountPath }) => ({ name, mountPath })) }],
      volumes: [
        { name: 'scratch', emptyDir: {} },
        { name: 'payload', image: { reference, pullPolicy: 'IfNotPresent' } },
      ],
    },
    status: {
      phase: 'Running',
      containerStatuses: [
        { name: 'app', image: `${HOST}/web:1`, imageID: `${HOST}/web@${imageDigest(web)}`, ready: true, restartCount: 0, volumeMounts: mounts },
      ],
    },
  };
}

t.test("a Pod's image volumes are among its running images, at the digest the kubelet reports", async (t) => {
  const reported = runningImages(pod('p', `${HOST}/models:v3`, `${HOST}/models@${imageDigest(models)}`));
  t.ok('containers' in reported);
  if (!('containers' in reported)) return;
  t.same(
    reported.containers.map((c) => [c.container.containerKind, c.container.containerName, c.image, c.runningDigest ?? null]),
    [
      ['container', 'app', `${HOST}/web@${imageDigest(web)}`, imageDigest(web)],
      ['imageVolume', 'payload', `${HOST}/models@${imageDigest(models)}`, imageDigest(models)],
    ],
  );
  const unreported = runningImages(pod('q', 'evil.example.com/payload:latest'));
  t.same(
    'containers' in unreported && unreported.containers.map((c) => c.image),
    [`${HOST}/web@${imageDigest(web)}`, 'evil.example.com/payload:latest'],
    'no digest reported for the volume (ImageVolumeWithDigest off): its reference as written',
  );
  const broken = pod('r', 'x');
  broken.spec!.volumes![1]!.image = { reference: 42 } as never;
  t.match(runningImages(broken), { error: /spec\.volumes\[1\]\.image has no reference string/ }, 'an unreadable volume: an error, never a throw');
});

t.test('the controller checks an image volume and reports it as a volume', async (t) => {
  let now = Date.now();
  const h = await startHarness({ fixture: fixture(), policy: POLICY, now: () => now });
  t.teardown(() => h.close());
  const policy = () => h.policyStore.current();
  const evaluator = new ImageEvaluator({
    checkImage: (image, namespace, signal, deadline) => h.runtime.reviewer.checkImage(image, namespace, signal, deadline),
    policy,
    concurrency: 4,
    budgetMs: 5000,
  });
  const reports = new Map<string, PolicyReportBody>();
  const port: ReportPort = {
    get: (ns) => Promise.resolve(reports.has(ns) ? { body: reports.get(ns)!, resourceVersion: '1' } : undefined),
    create: (ns, body) => (reports.set(ns, body), Promise.resolve('1')),
    replace: (ns, body) => (reports.set(ns, body), Promise.resolve('1')),
    delete: (ns) => (reports.delete(ns), Promise.resolve()),
    list: () => Promise.resolve([...reports.entries()].map(([namespace, body]) => ({ namespace, body, resourceVersion: '1' }))),
  };
  const events: string[] = [];
  const controller = new ComplianceController({
    evaluator,
    policy,
    reports: new ReportPublisher(port),
    event: (p, message) => (events.push(`${p.name}: ${message}`), Promise.resolve()),
    intervalMs: 60_000,
  });
  const resultOf = (name: string, rule: string) => reports.get('team-a')?.results.find((r) => r.resources[0]?.name === name && r.rule === rule);

  controller.upsert(pod('evil', 'evil.example.com/payload:latest'));
  controller.upsert(pod('models', `${HOST}/models:v3`, `${HOST}/models@${imageDigest(models)}`));
  const stats = await controller.round(true);
  t.equal(stats.distinctImages, 3, 'web, the evil volume and the models volume (by its running digest)');

  const origin = resultOf('evil', 'origin');
  t.equal(origin?.result, 'fail', 'a volume from a disallowed registry fails the origin check');
  t.match(origin?.message, /^container "app": \[origin\] passed\nvolume "payload": \[origin\] registry evil\.example\.com is not allowed/);
  t.same([origin?.properties.container, origin?.properties.volume], ['app', 'payload'], 'named as a volume in the properties');
  t.equal(resultOf('models', 'vulnerabilities')?.result, 'pass', 'the clean volume image passes');

  // Inspector finds a CRITICAL in what the volume runs: the Pod turns to fail, with one Event.
  h.sandbox.update((f) => {
    f.accounts[ACCOUNT]!.regions[REGION]!.repositories[1]!.images[0]!.findings = modelsNext.findings;
  });
  now += 2_000; // past the findings' TTL
  await controller.round(true);
  const vulnerabilities = resultOf('models', 'vulnerabilities');
  t.equal(vulnerabilities?.result, 'fail');
  t.match(vulnerabilities?.message, /volume "payload": \[vulnerabilities\] .*CVE-2024-3094/);
  t.match(events, [/^models: A running image no longer passes the image policy: .*\nvolume "payload": \[vulnerabilities\] 1 CRITICAL finding: CVE-2024-3094/s]);
});
