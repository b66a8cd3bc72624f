// Which kube-apiserver the rig runs (issue 20). The e2e suite runs against the newest Kubernetes
// and against the oldest minor EKS still supports; both are pinned in scripts/rig/versions.env
// and build.sh prints the binary it built for each. ECR_ADMISSION_E2E_KUBE picks one by minor
// ("1.32") or exact version ("v1.32.13"); unset or empty means the newest.
import { RigError } from './errors.ts';

export const KUBE_SELECTOR_ENV = 'ECR_ADMISSION_E2E_KUBE';

export interface KubeApiServerBinary {
  /** The exact release, e.g. v1.32.13 (what the binary reports as gitVersion). */
  readonly version: string;
  readonly path: string;
}

const SELECTOR = /^v?1\.(\d{1,3})(?:\.(\d{1,3}))?$/;
const BUILT_LINE = /^kube-apiserver (v1\.\d{1,3}\.\d{1,3}) (\/\S+)$/;

/** The selector from the environment, checked for shape; undefined means the newest. */
export function kubeSelector(env: NodeJS.ProcessEnv = process.env): string | undefined {
  const raw = env[KUBE_SELECTOR_ENV];
  if (raw === undefined || raw === '') return undefined;
  if (!SELECTOR.test(raw)) {
    throw new RigError(
      'RIG_KUBE_VERSION_UNKNOWN',
      `${KUBE_SELECTOR_ENV}=${JSON.stringify(raw)}: expected a Kubernetes minor such as 1.32 or a release such as v1.32.13`,
    );
  }
  return raw;
}

/** The `kube-apiserver VERSION PATH` lines build.sh prints before the bin dir. */
export function parseBuiltKubeApiServers(stdout: string): KubeApiServerBinary[] {
  const built: KubeApiServerBinary[] = [];
  for (const line of stdout.split('\n')) {
    const match = BUILT_LINE.exec(line.trim());
    if (match) built.push({ version: match[1]!, path: match[2]! });
  }
  return built;
}

/** Numeric [minor, patch] of a v1.MINOR.PATCH release. */
function minorPatch(version: string): [number, number] {
  const [, minor, patch] = /^v1\.(\d+)\.(\d+)$/.exec(version) ?? [];
  return [Number(minor), Number(patch)];
}

/** The built kube-apiserver the selector names: the newest when there is no selector. */
export function pickKubeApiServer(built: readonly KubeApiServerBinary[], selector: string | undefined): KubeApiServerBinary {
  if (built.length === 0) throw new RigError('RIG_BUILD_FAILED', 'scripts/rig/build.sh reported no kube-apiserver');
  const byAge = [...built].sort((a, b) => {
    const [am, ap] = minorPatch(a.version);
    const [bm, bp] = minorPatch(b.version);
    return am - bm || ap - bp;
  });
  if (selector === undefined) return byAge.at(-1)!;
  const [, minor, patch] = SELECTOR.exec(selector) ?? [];
  const found = byAge.find((b) => {
    const [m, p] = minorPatch(b.version);
    return m === Number(minor) && (patch === undefined || p === Number(patch));
  });
  if (!found) {
    throw new RigError(
      'RIG_KUBE_VERSION_UNKNOWN',
      `${KUBE_SELECTOR_ENV}=${selector}: the rig builds kube-apiserver ${byAge.map((b) => b.version).join(' and ')} (scripts/rig/versions.env)`,
    );
  }
  return found;
}
