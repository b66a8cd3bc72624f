// The container image recipe, the kind set-up and the tool scripts, read as text (no Docker
// engine here): base images pinned by digest, distroless non-root runtime with no shell use,
// a build context that holds exactly what the Dockerfile copies, and kind targets that build,
// load and install what the chart expects.
import t from 'tap';
import { execFileSync } from 'node:child_process';
import { readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { parse } from 'yaml';
import { REPO_ROOT, helmBinary } from './helm.ts';

const dockerfile = readFileSync(join(REPO_ROOT, 'Dockerfile'), 'utf8');
const instructions = dockerfile
  .replace(/\\\n/g, ' ')
  .split('\n')
  .map((line) => line.trim())
  .filter((line) => line !== '' && !line.startsWith('#'));
const stages = instructions.reduce<string[][]>((acc, line) => {
  if (/^FROM\s/i.test(line)) acc.push([]);
  acc.at(-1)?.push(line);
  return acc;
}, []);

t.test('Dockerfile: pinned, multi-stage, distroless non-root', async (t) => {
  t.equal(stages.length, 3, 'a build stage, the dev target and the product runtime (last, so the default)');
  for (const stage of stages) t.match(stage[0], /^FROM \S+@sha256:[0-9a-f]{64}(\s|$)/, `${stage[0]}: pinned by digest`);
  const [build = [], dev = [], runtime = []] = stages;
  t.match(dev[0], /^FROM gcr\.io\/distroless\/nodejs24-debian1[23]:nonroot@sha256:\S+ AS dev$/, 'the dev target is named and distroless too');
  t.ok(dev.includes('ENTRYPOINT ["/nodejs/bin/node", "dist/dev/main.js"]'), 'the dev target runs the checkout entry (demo, sandbox)');
  t.ok(runtime.includes('COPY --from=build /app/dist ./dist'), 'the product copies the product build only');
  t.notOk(
    runtime.some((l) => l.includes('dist-dev')),
    'the product never carries the dev build',
  );
  t.ok(
    build.some((l) => /tsc -p tsconfig\.dev-build\.json/.test(l)),
    'the dev build is a second entry',
  );
  t.match(build[0], /^FROM node:24(-bookworm|-trixie)?@sha256:/, 'built on the full Node 24 image');
  t.match(runtime[0], /^FROM gcr\.io\/distroless\/nodejs24-debian1[23]:nonroot@sha256:/, 'runs on distroless Node 24, nonroot');
  t.ok(
    build.some((l) => /^RUN npm ci\b/.test(l)),
    'npm ci',
  );
  t.ok(
    build.some((l) => /npm run build/.test(l) && /npm prune --omit=dev/.test(l)),
    'npm run build, then only production dependencies',
  );
  t.notOk(
    runtime.some((l) => /^RUN\s/.test(l)),
    'the runtime stage runs nothing (there is no shell)',
  );
  t.ok(runtime.includes('USER 65532:65532'), 'USER 65532:65532');
  t.ok(runtime.includes('ENTRYPOINT ["/nodejs/bin/node", "dist/main.js"]'), 'exec-form ENTRYPOINT: node dist/main.js');
  t.ok(runtime.includes('CMD ["serve"]'), 'serve by default');
});

t.test('.dockerignore lets in exactly what the Dockerfile copies from the context', async (t) => {
  const ignore = readFileSync(join(REPO_ROOT, '.dockerignore'), 'utf8')
    .split('\n')
    .map((l) => l.trim())
    .filter((l) => l && !l.startsWith('#'));
  t.equal(ignore[0], '*', 'everything is excluded first');
  const allowed = new Set(ignore.slice(1).map((l) => l.replace(/^!/, '').replace(/\/$/, '')));
  const copied = instructions.filter((l) => /^COPY\s/.test(l) && !l.includes('--from=')).flatMap((l) => l.split(/\s+/).slice(1, -1));
  t.ok(copied.length >= 4, `sources copied: ${copied.join(' ')}`);
  for (const source of copied) {
    t.ok(allowed.has(source.replace(/\/$/, '')), `${source} is allowed into the context`);
    t.ok(statSync(join(REPO_ROOT, source), { throwIfNoEntry: false }), `${source} exists`);
  }
});

t.test('kind-config.yaml: pinned node image, two workers in two zones', async (t) => {
  const config = parse(readFileSync(join(REPO_ROOT, 'kind-config.yaml'), 'utf8')) as {
    kind: string;
    nodes: Array<{ role: string; image: string; labels?: Record<string, string> }>;
  };
  t.equal(config.kind, 'Cluster');
  for (const node of config.nodes) t.match(node.image, /^kindest\/node:v1\.\d+\.\d+@sha256:[0-9a-f]{64}$/, `${node.role}: node image pinned`);
  const zones = config.nodes.filter((n) => n.role === 'worker').map((n) => n.labels?.['topology.kubernetes.io/zone']);
  t.equal(new Set(zones).size, 2, 'two workers in two zones, for the topology spread and the PDB');
});

t.test('mk/kind.mk: kind-up builds, loads and installs; kind-e2e checks decisions in the cluster', async (t) => {
  const dryRun = (target: string) => execFileSync('make', ['--no-print-directory', '-n', '-f', 'mk/kind.mk', target], { cwd: REPO_ROOT, encoding: 'utf8' });
  const up = dryRun('kind-up');
  t.match(up, /kind create cluster --name 'ecr-admission' --config kind-config\.yaml/, 'creates the cluster from kind-config.yaml');
  t.match(up, /docker build --tag 'ecr-admission:dev' \./, 'builds the image');
  t.match(up, /kind load docker-image 'ecr-admission:dev'/, 'loads it into kind');
  t.match(up, /docker build --target dev --tag 'ecr-admission-dev:dev' \./, 'builds the development image (the sandbox) too');
  t.match(up, /kind load docker-image 'ecr-admission:dev' 'ecr-admission-dev:dev'/, 'and loads it');
  const kindValues = parse(readFileSync(join(REPO_ROOT, 'chart/ecr-admission/ci/kind-values.yaml'), 'utf8')) as { sandbox?: { image?: string } };
  t.equal(kindValues.sandbox?.image, 'ecr-admission-dev:dev', 'the kind values run the sandbox from the development image the kind targets build');
  t.match(
    up,
    /helm upgrade --install 'ecr-admission' chart\/ecr-admission[\s\S]*--values 'chart\/ecr-admission\/ci\/kind-values\.yaml'[\s\S]*--wait/,
    'installs the chart with the kind values and waits',
  );
  t.match(up, /helm test 'ecr-admission'/, 'runs helm test');
  t.match(up, /docker info/, 'checks for a Docker engine first');
  t.match(dryRun('kind-down'), /kind delete cluster --name 'ecr-admission'/, 'kind-down deletes the cluster');
  const e2e = readFileSync(join(REPO_ROOT, 'mk', 'kind.mk'), 'utf8');
  t.match(e2e, /^kind-e2e: kind-up\n[\s\S]*scripts\/kind-smoke\.sh/m, 'kind-e2e runs the in-cluster smoke after kind-up');
  const smoke = readFileSync(join(REPO_ROOT, 'scripts', 'kind-smoke.sh'), 'utf8');
  for (const check of ['origin', 'digest', 'immutability', 'vulnerabilities']) t.match(smoke, `[${check}]`, `the smoke expects a [${check}] denial`);
});

t.test('scripts/tools: helm and kubectl from the cache, fast when cached', async (t) => {
  const helmDir = execFileSync(join(REPO_ROOT, 'scripts', 'tools', 'ensure-helm.sh'), { encoding: 'utf8' }).trim();
  const started = process.hrtime.bigint();
  const again = execFileSync(join(REPO_ROOT, 'scripts', 'tools', 'ensure-helm.sh'), { encoding: 'utf8' }).trim();
  const ms = Number(process.hrtime.bigint() - started) / 1e6;
  t.equal(again, helmDir, 'idempotent: the same directory');
  t.ok(ms < 1000, `a cached run takes ${ms.toFixed(0)} ms`);
  t.notOk(helmDir.startsWith(REPO_ROOT), 'the cache is outside the checkout');
  t.equal(execFileSync(join(REPO_ROOT, 'scripts', 'tools', 'ensure-kubectl.sh'), { encoding: 'utf8' }).trim(), helmDir, 'kubectl is in the same directory');
  t.match(execFileSync(helmBinary(), ['version', '--short'], { encoding: 'utf8' }), /^v4\./, 'helm 4');
  t.match(execFileSync(join(helmDir, 'kubectl'), ['version', '--client'], { encoding: 'utf8' }), /Client Version: v1\.3\d\./, 'kubectl 1.3x');
});
