// `ecr-admission pin` as a user runs it: a subprocess of src/main.ts against the AWS sandbox
// (real SDK clients over the wire), its stdout, stderr and exit code.
import t from 'tap';
import { spawn } from 'node:child_process';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseAllDocuments } from 'yaml';
import { ociImage, ociIndex, imageDigest, startSandbox, type SandboxFixture } from '../../src/dev/sandbox/index.ts';
import { ACCOUNT, HOST, REGION } from '../helpers/harness.ts';

const MAIN = fileURLToPath(new URL('../../src/main.ts', import.meta.url));

const web = ociImage({ seed: 'cli-pin-web', tags: ['1.4.2', 'latest'] });
const amd = ociImage({ seed: 'cli-pin-amd64', platform: { os: 'linux', architecture: 'amd64' } });
const arm = ociImage({ seed: 'cli-pin-arm64', platform: { os: 'linux', architecture: 'arm64' } });
const multi = ociIndex({ children: [amd, arm], tags: ['2.0'] });
const fixture: SandboxFixture = {
  defaultAccount: ACCOUNT,
  accounts: {
    [ACCOUNT]: {
      regions: {
        [REGION]: {
          repositories: [
            { name: 'web', tagMutability: 'MUTABLE', images: [web] },
            { name: 'multi', tagMutability: 'IMMUTABLE', images: [multi] },
          ],
        },
      },
    },
  },
};

const sandbox = await startSandbox({ fixture });
t.teardown(() => sandbox.close());
const dir = mkdtempSync(join(tmpdir(), 'ecr-admission-pin-'));
const policyPath = join(dir, 'policy.yaml');
writeFileSync(policyPath, `registries:\n  ecr:\n    - accountId: "${ACCOUNT}"\n  allow: ["docker.io/library/*"]\n`);

function run(args: string[]): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    const child = spawn(process.execPath, [MAIN, ...args], {
      env: {
        PATH: process.env.PATH ?? '',
        AWS_EC2_METADATA_DISABLED: 'true',
        AWS_REGION: REGION,
        AWS_ACCESS_KEY_ID: 'AKIDSANDBOX',
        AWS_SECRET_ACCESS_KEY: 'sandbox',
        ...sandbox.endpoints(),
      },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    child.on('close', (code) => resolve({ code, stdout, stderr }));
  });
}

const file = (name: string, text: string) => {
  const p = join(dir, name);
  writeFileSync(p, text);
  return p;
};

const MANIFESTS = `# the web app: its Deployment and a debugging Pod
apiVersion: apps/v1
kind: Deployment
metadata:
  name: web   # keep this name
  namespace: team-a
spec:
  template:
    spec:
      initContainers:
      - name: migrate
        image: '${HOST}/web:1.4.2'
      containers:
        - name: app
          image: "${HOST}/multi:2.0"   # the multi-arch build
        - { name: hub, image: docker.io/library/busybox:1.36 }
        - name: again
          image: ${HOST}/web:1.4.2
---
# a Service: not touched
apiVersion: v1
kind: Service
metadata: { name: web }
spec: { ports: [{ port: 80 }] }
---
apiVersion: v1
kind: Pod
metadata: { name: debug }
spec:
  containers: [{ name: sh, image: ${HOST}/web }]
`;

t.test('pins every ECR tag in place: comments, key order, quoting and everything else survive', async (t) => {
  const { code, stdout, stderr } = await run(['pin', '--config', policyPath, file('app.yaml', MANIFESTS)]);
  t.equal(code, 0, stderr);
  const W = imageDigest(web);
  const M = imageDigest(multi);
  const expected = MANIFESTS.replace(`'${HOST}/web:1.4.2'`, `'${HOST}/web:1.4.2@${W}'`)
    .replace(`"${HOST}/multi:2.0"`, `"${HOST}/multi:2.0@${M}"`)
    .replace(`image: ${HOST}/web:1.4.2\n`, `image: ${HOST}/web:1.4.2@${W}\n`)
    .replace(`image: ${HOST}/web }`, `image: ${HOST}/web@${W} }`);
  t.not(expected, MANIFESTS);
  t.equal(stdout, expected, 'only the image scalars changed, byte for byte');
  t.equal(parseAllDocuments(stdout).length, 3);
  t.equal(stderr, 'ecr-admission pin: left as written, not of an ECR registry the policy allows nor of registries.oci: docker.io/library/busybox:1.36\n');
});

t.test('JSON in, JSON out', async (t) => {
  const pod = { apiVersion: 'v1', kind: 'Pod', metadata: { name: 'p' }, spec: { containers: [{ name: 'a', image: `${HOST}/web:1.4.2` }] } };
  const text = `${JSON.stringify(pod, null, 2)}\n`;
  const { code, stdout } = await run(['pin', '--config', policyPath, file('pod.json', text)]);
  t.equal(code, 0);
  const out = JSON.parse(stdout) as typeof pod;
  t.equal(out.spec.containers[0]!.image, `${HOST}/web:1.4.2@${imageDigest(web)}`);
  t.equal(stdout, text.replace(`web:1.4.2"`, `web:1.4.2@${imageDigest(web)}"`));
});

t.test('an image that cannot be resolved: exit 1, named on stderr, the rest still pinned', async (t) => {
  const text = `apiVersion: v1\nkind: Pod\nmetadata: { name: p, namespace: team-a }\nspec:\n  containers:\n    - { name: a, image: ${HOST}/web:gone }\n    - { name: b, image: ${HOST}/web:1.4.2 }\n`;
  const { code, stdout, stderr } = await run(['pin', '--config', policyPath, file('gone.yaml', text)]);
  t.equal(code, 1);
  t.match(stderr, new RegExp(`gone\\.yaml#1 Pod p container a: ${HOST.replaceAll('.', '\\.')}/web:gone not pinned: .*not found`));
  t.match(stdout, `${HOST}/web:gone }`);
  t.match(stdout, `${HOST}/web:1.4.2@${imageDigest(web)} }`);
});

t.test('bad input: exit 2, nothing printed', async (t) => {
  const cases: Array<[string, string[]]> = [
    ['invalid YAML', [file('bad.yaml', 'kind: Pod\n  spec: [\n')]],
    ['a document that is not an object', [file('list.yaml', '- a\n- b\n')]],
    ['a missing file', [join(dir, 'missing.yaml')]],
    ['no file', []],
    ['duplicate keys', [file('dup.yaml', 'kind: Pod\nkind: Pod\n')]],
  ];
  for (const [label, args] of cases) {
    const { code, stdout, stderr } = await run(['pin', '--config', policyPath, ...args]);
    t.equal(code, 2, label);
    t.equal(stdout, '', `${label}: nothing on stdout`);
    t.ok(stderr.length > 0, `${label}: says why on stderr`);
  }
});

t.test('check --output json reports the pinned reference per image', async (t) => {
  const W = imageDigest(web);
  const { code, stdout } = await run([
    'check',
    '--config',
    policyPath,
    '--output',
    'json',
    `${HOST}/web:1.4.2`,
    `${HOST}/multi:2.0@${imageDigest(multi)}`,
    'docker.io/library/busybox:1.36',
  ]);
  t.equal(code, 0);
  const report = JSON.parse(stdout) as Array<{ images: Array<{ image: string; pinned?: string }> }>;
  t.same(
    report[0]!.images.map((i) => [i.image, i.pinned]),
    [
      [`${HOST}/web:1.4.2`, `${HOST}/web:1.4.2@${W}`],
      [`${HOST}/multi:2.0@${imageDigest(multi)}`, `${HOST}/multi:2.0@${imageDigest(multi)}`],
      ['docker.io/library/busybox:1.36', undefined],
    ],
  );
});
