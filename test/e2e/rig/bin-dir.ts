// Locates the rig's binaries by running scripts/rig/build.sh, which builds whatever is missing
// into $HOME/.cache/ecr-admission/rig/<key>/bin and prints a `kube-apiserver VERSION PATH` line
// per Kubernetes version, then that bin dir as its last stdout line.
import { execFile } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { RigError } from './errors.ts';
import { kubeSelector, parseBuiltKubeApiServers, pickKubeApiServer, type KubeApiServerBinary } from './kube-version.ts';

export const repoRoot = fileURLToPath(new URL('../../../', import.meta.url));
const buildScript = fileURLToPath(new URL('../../../scripts/rig/build.sh', import.meta.url));

// A fresh build takes many minutes; the no-op run well under a second.
const buildTimeoutMs = 45 * 60_000;

interface RigBuild {
  binDir: string;
  kubeApiServers: KubeApiServerBinary[];
  /** The `cosign VERSION PATH` line (issue 19): cosign lives in its own cache key. */
  cosign?: string;
}

let buildPromise: Promise<RigBuild> | undefined;

function rigBuild(): Promise<RigBuild> {
  buildPromise ??= runBuild();
  return buildPromise;
}

/** Runs scripts/rig/build.sh once per process and returns the bin dir it prints. */
export async function rigBinDir(): Promise<string> {
  return (await rigBuild()).binDir;
}

/** The cosign CLI build.sh built (its own cache dir). */
export async function rigCosignPath(): Promise<string> {
  const { cosign } = await rigBuild();
  if (!cosign) throw new RigError('RIG_BUILD_FAILED', 'scripts/rig/build.sh reported no cosign');
  return cosign;
}

/** The kube-apiserver ECR_ADMISSION_E2E_KUBE selects (the newest when unset). */
export async function rigKubeApiServer(): Promise<KubeApiServerBinary> {
  const selector = kubeSelector();
  return pickKubeApiServer((await rigBuild()).kubeApiServers, selector);
}

function runBuild(): Promise<RigBuild> {
  return new Promise((resolve, reject) => {
    execFile('bash', [buildScript], { cwd: repoRoot, timeout: buildTimeoutMs, maxBuffer: 64 * 1024 * 1024 }, (error, stdout, stderr) => {
      if (error) {
        buildPromise = undefined;
        reject(new RigError('RIG_BUILD_FAILED', `scripts/rig/build.sh failed: ${error.message}\n${stderr.slice(-4000)}`, { cause: error }));
        return;
      }
      const lastLine = stdout.trim().split('\n').at(-1) ?? '';
      if (!lastLine.startsWith('/')) {
        reject(new RigError('RIG_BUILD_FAILED', `scripts/rig/build.sh printed no bin dir: ${JSON.stringify(stdout)}`));
        return;
      }
      const cosign = /^cosign v\S+ (\/\S+)$/m.exec(stdout)?.[1];
      resolve({ binDir: lastLine, kubeApiServers: parseBuiltKubeApiServers(stdout), ...(cosign !== undefined && { cosign }) });
    });
  });
}
