// Each e2e test writes its peers' data and logs under test-output/e2e/<name>/ (gitignored).
// The folder is emptied when the test starts and removed when the test passed; when it failed
// it is kept, so the peers' logs can be read after the run.
import { mkdirSync, rmdirSync, rmSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { repoRoot } from './bin-dir.ts';
import { kubeSelector } from './kube-version.ts';

/** The parts of a tap Test this helper needs (kept structural so the harness has no tap types). */
export interface TestLike {
  teardown(fn: () => void | Promise<void>): void;
  passing(): boolean;
}

export function e2eOutputDir(t: TestLike, name: string): string {
  if (!/^[a-z0-9][a-z0-9._-]*$/i.test(name)) throw new Error(`bad e2e output name: ${name}`);
  // A run against a selected Kubernetes version keeps its logs apart (test-output/e2e/kube-1.32/
  // <name>/), so the second run of a file does not overwrite the first one's failure logs.
  const kube = kubeSelector();
  const dir = kube === undefined ? join(repoRoot, 'test-output', 'e2e', name) : join(repoRoot, 'test-output', 'e2e', `kube-${kube}`, name);
  rmSync(dir, { recursive: true, force: true });
  mkdirSync(dir, { recursive: true });
  // Registered first, so tap runs it last: after the peers were stopped by later teardowns.
  t.teardown(() => {
    if (t.passing()) {
      rmSync(dir, { recursive: true, force: true });
      if (kube !== undefined) removeIfEmpty(dirname(dir));
    } else console.error(`# e2e logs kept in ${dir}`);
  });
  return dir;
}

/** Removes the per-version folder once nothing is kept in it (another file's logs may be). */
function removeIfEmpty(dir: string): void {
  try {
    rmdirSync(dir);
  } catch {
    // ENOTEMPTY: a failed test's logs are kept there; ENOENT: another test removed it already.
  }
}
