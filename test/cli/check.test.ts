// `ecr-admission check` as a user runs it: a subprocess of src/main.ts on the same Node as
// the tests (process.execPath), its stdout, stderr and exit code.
import t from 'tap';
import { spawn } from 'node:child_process';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { buildWebhookApp } from '../../src/server/app.ts';
import { createMetrics } from '../../src/support/metrics.ts';
import type { AdmissionReviewResponse } from '../../src/admission/codec.ts';
import { admissionFixturePath, loadAdmissionReview } from '../fixtures/admission.ts';
import { reviewerFor, silentLogger } from '../fixtures/policy.ts';

const MAIN = fileURLToPath(new URL('../../src/main.ts', import.meta.url));

// No check in these policies needs AWS: images are either non-ECR allowed patterns or denied
// by origin before any ECR check runs.
const POLICY = `mode: enforce
onError: deny
registries:
  ecr:
    - accountId: "999988887777"
  allow: ["registry.k8s.io/*", "docker.io/library/nginx:*"]
namespaces:
  exclude: [kube-system]
overrides:
  - { name: batch-warn, namespaces: ["batch-*"], images: ["*"], mode: warn }
`;

const MULTI_DOC = `# a Service, a Deployment and a CronJob, as kubectl apply -f would read them
apiVersion: v1
kind: Service
metadata: { name: web, namespace: team-a }
spec: { ports: [{ port: 80 }] }
---
apiVersion: apps/v1
kind: Deployment
metadata:
  name: web
  namespace: team-a
spec:
  selector: { matchLabels: { app: web } }
  template:
    metadata: { labels: { app: web } }
    spec:
      initContainers:
        - { name: wait, image: "registry.k8s.io/pause:3.10" }
      containers:
        - { name: app, image: "nginx:1.27" }
        - { name: shell, image: "busybox:1.36" }
---
---
apiVersion: batch/v1
kind: CronJob
metadata: { name: report }
spec:
  schedule: "0 3 * * *"
  jobTemplate:
    spec:
      template:
        spec:
          restartPolicy: OnFailure
          containers: [{ name: report, image: "ghcr.io/example/report:7" }]
`;

interface Run {
  code: number | null;
  stdout: string;
  stderr: string;
}

function run(args: string[], env: Record<string, string> = {}): Promise<Run> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [MAIN, ...args], {
      env: { PATH: process.env.PATH ?? '', HOME: process.env.HOME ?? '/tmp', AWS_EC2_METADATA_DISABLED: 'true', ...env },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (c: Buffer) => {
      stdout += c.toString('utf8');
    });
    child.stderr.on('data', (c: Buffer) => {
      stderr += c.toString('utf8');
    });
    const timer = setTimeout(() => child.kill('SIGKILL'), 30_000);
    child.on('error', reject);
    child.on('close', (code) => {
      clearTimeout(timer);
      resolve({ code, stdout, stderr });
    });
  });
}

const files = (t: { testdir(f: Record<string, string>): string }, extra: Record<string, string> = {}) => {
  const dir = t.testdir({ 'policy.yaml': POLICY, 'workloads.yaml': MULTI_DOC, ...extra });
  return { dir, policy: join(dir, 'policy.yaml'), workloads: join(dir, 'workloads.yaml') };
};

t.test('the tests and the CLI run on Node 24', async (t) => {
  t.match(process.versions.node, /^24\./, 'tap runs the tests on Node 24');
  const child = await new Promise<string>((resolve, reject) => {
    const c = spawn(process.execPath, ['-p', 'process.versions.node'], { stdio: ['ignore', 'pipe', 'inherit'] });
    let out = '';
    c.stdout.on('data', (d: Buffer) => {
      out += d.toString();
    });
    c.on('error', reject);
    c.on('close', () => resolve(out.trim()));
  });
  t.match(child, /^24\./, 'and so does every subprocess these tests start');
});

t.test('exit 0 for an allowed image', async (t) => {
  const { policy } = files(t);
  const r = await run(['check', '--config', policy, 'registry.k8s.io/pause:3.10', 'nginx:1.27']);
  t.equal(r.code, 0, r.stderr);
  t.equal(r.stdout, 'ecr-admission allowed Pod default/ecr-admission-check\n');
  t.equal(r.stderr, '');
});

t.test('exit 1 for a denied image, with the message on stdout', async (t) => {
  const { policy } = files(t);
  const r = await run(['check', '--config', policy, '--namespace', 'team-a', 'registry.k8s.io/pause:3.10', 'busybox:1.36']);
  t.equal(r.code, 1);
  t.equal(
    r.stdout,
    [
      'ecr-admission denied Pod team-a/ecr-admission-check: 1 of 2 images failed',
      '- container "image-2" busybox:1.36: [origin] registry docker.io is not allowed. Use an image from an allowed registry: ECR 999988887777; non-ECR registry.k8s.io/*, docker.io/library/nginx:*.',
      '',
    ].join('\n'),
  );
  const excluded = await run(['check', '--config', policy, '--namespace', 'kube-system', 'busybox:1.36']);
  t.equal(excluded.code, 0, 'an excluded namespace is allowed');
  t.match(excluded.stdout, /allowed Pod kube-system\/ecr-admission-check \(namespace kube-system is excluded\)/);
});

t.test('exit 2 for a bad policy: the message names the key and its line', async (t) => {
  const { dir } = files(t, { 'bad.yaml': 'mode: enforce\nregistries:\n  ecr:\n    - accountId: "111122223333"\n      region: us-east-1\n' });
  const r = await run(['check', '--config', join(dir, 'bad.yaml'), 'nginx:1.27']);
  t.equal(r.code, 2);
  t.equal(r.stdout, '');
  t.match(r.stderr, new RegExp(`bad\\.yaml:5: registries\\.ecr\\[0\\]\\.region: unknown key`));
  const missing = await run(['check', '--config', join(dir, 'nope.yaml'), 'nginx:1.27']);
  t.equal(missing.code, 2);
  t.match(missing.stderr, /cannot read policy file .*nope\.yaml/);
});

t.test('exit 2 for an empty policy file (an empty ConfigMap key), naming the file', async (t) => {
  const { dir } = files(t, { 'empty.yaml': '', 'comments.yaml': '# policy goes here\n' });
  for (const name of ['empty.yaml', 'comments.yaml']) {
    const r = await run(['check', '--config', join(dir, name), 'registry.k8s.io/pause:3.10']);
    t.equal(r.code, 2, `${name}: exit 2`);
    t.equal(r.stdout, '', `${name}: no decision printed`);
    t.match(
      r.stderr,
      new RegExp(
        `^ecr-admission: invalid policy file .*${name.replace('.', '\\.')}:\\n  .*${name.replace('.', '\\.')}: \\(top level\\): the file holds no policy`,
      ),
      name,
    );
  }
});

t.test('exit 2 for usage errors, with the usage text', async (t) => {
  const { policy, dir } = files(t, { 'list.yaml': '- a\n- b\n', 'broken.yaml': 'kind: Pod\n  bad: [\n' });
  const cases: Array<[args: string[], why: RegExp]> = [
    [['check'], /check needs at least one IMAGE or FILE/],
    [['check', '--config', policy, '--output', 'xml', 'nginx'], /--output must be text or json/],
    [['check', '--bogus', 'nginx'], /Unknown option '--bogus'/],
    [['frobnicate'], /unknown command "frobnicate"/],
    [['check', '--config', policy, join(dir, 'deploy.yaml')], /cannot read .*deploy\.yaml: no such file/],
    [['check', '--config', policy, join(dir, 'list.yaml')], /document 1 is not a Kubernetes object/],
    [['check', '--config', policy, join(dir, 'broken.yaml')], /document 1 is not valid YAML/],
  ];
  // Independent subprocesses: run them side by side.
  const runs = await Promise.all(cases.map(([args]) => run(args)));
  cases.forEach(([args, why], i) => {
    t.equal(runs[i]?.code, 2, args.join(' '));
    t.match(runs[i]?.stderr, why, args.join(' '));
  });
  t.match(runs[0]?.stderr, /Usage: ecr-admission <command>/);
});

t.test('--output json parses and carries each decision', async (t) => {
  const { policy } = files(t);
  const r = await run(['check', '--config', policy, '--output', 'json', 'busybox:1.36']);
  t.equal(r.code, 1);
  const report = JSON.parse(r.stdout) as Array<Record<string, unknown>>;
  t.equal(report.length, 1);
  t.match(report[0], { input: 'command line', kind: 'Pod', namespace: 'default', name: 'ecr-admission-check', allowed: false, result: 'deny', warnings: [] });
  t.match(report[0]?.message, /^ecr-admission denied Pod default\/ecr-admission-check: 1 of 1 image failed/);
  t.match(report[0]?.images, [
    {
      container: 'image-1',
      image: 'busybox:1.36',
      policy: 'default',
      results: [{ check: 'origin', status: 'fail', reason: 'registry docker.io is not allowed' }],
    },
  ]);
  const env = await run(['check', '--config', policy, 'nginx:1.27'], { ECR_ADMISSION_OUTPUT: 'json' });
  t.equal(env.code, 0);
  t.match(JSON.parse(env.stdout), [{ allowed: true, result: 'allow' }], 'ECR_ADMISSION_OUTPUT works too');
});

t.test('a multi-document YAML file: every object is decided; one denial makes exit 1', async (t) => {
  const { policy, workloads } = files(t);
  const r = await run(['check', '--config', policy, '--namespace', 'batch-nightly', workloads]);
  t.equal(r.code, 1);
  const lines = r.stdout.split('\n');
  t.equal(lines[0], 'ecr-admission allowed Service team-a/web (kind /Service has no pod template)');
  t.equal(lines[1], 'ecr-admission denied Deployment team-a/web: 1 of 3 images failed');
  t.match(lines[2], /^- container "shell" busybox:1\.36: \[origin\] registry docker\.io is not allowed/);
  t.equal(lines[3], 'ecr-admission allowed CronJob batch-nightly/report', 'the CronJob takes the --namespace and its warn override');
  t.equal(lines[4], 'Warning: ecr-admission: report: [origin] registry ghcr.io is not allowed');

  const json = JSON.parse((await run(['check', '--config', policy, '--output', 'json', workloads])).stdout) as Array<{
    input: string;
    kind: string;
    allowed: boolean;
  }>;
  t.same(
    json.map((j) => [j.input.replace(/^.*\//, ''), j.kind, j.allowed]),
    [
      ['workloads.yaml#1', 'Service', true],
      ['workloads.yaml#2', 'Deployment', false],
      ['workloads.yaml#4', 'CronJob', false],
    ],
    'documents numbered as in the file; empty documents skipped',
  );
});

t.test("an AdmissionReview file gets the webhook's own decision and message", async (t) => {
  const { policy } = files(t);
  const allowed = await run(['check', '--config', policy, admissionFixturePath('replicationcontroller-create')]);
  t.equal(allowed.code, 0, allowed.stdout + allowed.stderr);
  t.equal(allowed.stdout, 'ecr-admission allowed ReplicationController legacy/legacy-web\n');

  const r = await run(['check', '--config', policy, '--output', 'json', admissionFixturePath('deployment-create')]);
  t.equal(r.code, 1);
  const [fromCli] = JSON.parse(r.stdout) as Array<{ message: string; allowed: boolean }>;

  // The same review through the webhook app, same policy: the same answer.
  const webhook = buildWebhookApp({ reviewer: reviewerFor(POLICY), logger: silentLogger, metrics: createMetrics() });
  t.teardown(() => webhook.close());
  const res = await webhook.inject({
    method: 'POST',
    url: '/validate',
    payload: loadAdmissionReview('deployment-create') as unknown as Record<string, unknown>,
  });
  const fromWebhook = res.json<AdmissionReviewResponse>().response;
  t.equal(fromCli?.allowed, fromWebhook.allowed);
  t.equal(fromCli?.message, fromWebhook.status?.message);
  t.match(
    fromCli?.message,
    /^ecr-admission denied Deployment team-a\/web: 3 of 3 images failed\n- initContainer "migrate" 111122223333\.dkr\.ecr\.us-east-1\.amazonaws\.com\/web-migrate:1\.4\.2: \[origin\] ECR account 111122223333 \(us-east-1\) is not an allowed registry/,
  );

  const del = await run(['check', '--config', policy, admissionFixturePath('deployment-delete')]);
  t.equal(del.code, 0);
  t.match(del.stdout, /allowed Deployment team-a\/web \(operation DELETE is not checked\)/);
});
