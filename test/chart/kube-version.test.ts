// The Kubernetes range the chart accepts is the range the end-to-end suite runs on (issue 20):
// Chart.yaml's kubeVersion starts at the oldest kube-apiserver the rig builds
// (scripts/rig/versions.env), helm refuses an older cluster with a message naming both versions,
// and the README states the range. `helm template --kube-version` runs the same check as
// `helm install`, which reads the version from the cluster instead.
import t from 'tap';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { parse } from 'yaml';
import { CHART_DIR, REPO_ROOT, helm } from './helm.ts';

/** KEY=value lines of scripts/rig/versions.env (what build.sh sources). */
function rigVersions(): Record<string, string> {
  const text = readFileSync(join(REPO_ROOT, 'scripts', 'rig', 'versions.env'), 'utf8');
  const pairs = text.split('\n').flatMap((line) => {
    const match = /^([A-Z_]+)=(\S+)$/.exec(line);
    return match ? [[match[1]!, match[2]!] as const] : [];
  });
  return Object.fromEntries(pairs);
}

const versions = rigVersions();
const oldest = versions.KUBERNETES_OLDEST_VERSION ?? '';
const newest = versions.KUBERNETES_VERSION ?? '';
/** "1.32" of "v1.32.13". */
const minorOf = (version: string): string => /^v(1\.\d+)\.\d+$/.exec(version)?.[1] ?? '';

const template = (kubeVersion: string) =>
  helm([
    'template',
    'ecr-admission',
    CHART_DIR,
    '--namespace',
    'security-system',
    '--values',
    join(CHART_DIR, 'ci', 'self-signed-values.yaml'),
    '--kube-version',
    kubeVersion,
  ]);

t.test('the rig pins an oldest and a newest Kubernetes release', async (t) => {
  t.match(oldest, /^v1\.\d+\.\d+$/, `KUBERNETES_OLDEST_VERSION=${oldest}`);
  t.match(newest, /^v1\.\d+\.\d+$/, `KUBERNETES_VERSION=${newest}`);
  t.ok(Number(minorOf(oldest).split('.')[1]) < Number(minorOf(newest).split('.')[1]), 'the oldest is an older minor than the newest');
});

t.test("Chart.yaml's kubeVersion starts at the oldest tested minor", async (t) => {
  const chart = parse(readFileSync(join(CHART_DIR, 'Chart.yaml'), 'utf8')) as { kubeVersion?: string };
  // "-0" lets pre-release builds of that minor in: EKS reports versions such as v1.32.9-eks-5d4a308.
  t.equal(chart.kubeVersion, `>=${minorOf(oldest)}.0-0`);
});

t.test('helm refuses a cluster one minor older than the oldest tested', async (t) => {
  const [major, minor] = minorOf(oldest).split('.').map(Number) as [number, number];
  const older = `${major}.${minor - 1}`;
  for (const kubeVersion of [`${older}.0`, `${older}.13-eks-2d5f260`]) {
    const run = template(kubeVersion);
    t.not(run.status, 0, `helm template --kube-version ${kubeVersion} fails`);
    t.match(
      run.stderr,
      `chart requires kubeVersion: >=${minorOf(oldest)}.0-0 which is incompatible with Kubernetes v${kubeVersion}`,
      'with a message naming both versions',
    );
    t.equal(run.stdout, '', 'and renders nothing');
  }
});

t.test('helm renders for every tested version and EKS-style versions in the range', async (t) => {
  for (const kubeVersion of [`${minorOf(oldest)}.0`, `${minorOf(oldest)}.9-eks-5d4a308`, oldest.slice(1), newest.slice(1)]) {
    const run = template(kubeVersion);
    t.equal(run.status, 0, `helm template --kube-version ${kubeVersion} succeeds: ${run.stderr}`);
    t.match(run.stdout, 'kind: ValidatingWebhookConfiguration', 'and renders the webhook configuration');
  }
});

t.test('the chart README states the tested range', async (t) => {
  const readme = readFileSync(join(CHART_DIR, 'README.md'), 'utf8');
  t.match(readme, `Supported Kubernetes: ${minorOf(oldest)} to ${minorOf(newest)}`);
  t.match(readme, `refuses a cluster older than ${minorOf(oldest)}`);
});
