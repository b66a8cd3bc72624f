// Locates the rig's binaries by running scripts/rig/build.sh, which builds whatever is missing
// into $HOME/.cache/ecr-admission/rig/<key>/bin and prints that dir as its last stdout line.
import { execFile } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { RigError } from './errors.ts';

export const repoRoot = fileURLToPath(new URL('../../../', import.meta.url));
const buildScript = fileURLToPath(new URL('../../../scripts/rig/build.sh', import.meta.url));

// A fresh build takes many minutes; the no-op run well under a second.
const buildTimeoutMs = 45 * 60_000;

let binDirPromise: Promise<string> | undefined;

/** Runs scripts/rig/build.sh once per process and returns the bin dir it prints. */
export function rigBinDir(): Promise<string> {
  binDirPromise ??= runBuild();
  return binDirPromise;
}

function runBuild(): Promise<string> {
  return new Promise((resolve, reject) => {
    execFile(
      'bash',
      [buildScript],
      { cwd: repoRoot, timeout: buildTimeoutMs, maxBuffer: 64 * 1024 * 1024 },
      (error, stdout, stderr) => {
        if (error) {
          binDirPromise = undefined;
          reject(new RigError('RIG_BUILD_FAILED', `scripts/rig/build.sh failed: ${error.message}\n${stderr.slice(-4000)}`, { cause: error }));
          return;
        }
        const lastLine = stdout.trim().split('\n').at(-1) ?? '';
        if (!lastLine.startsWith('/')) {
          reject(new RigError('RIG_BUILD_FAILED', `scripts/rig/build.sh printed no bin dir: ${JSON.stringify(stdout)}`));
          return;
        }
        resolve(lastLine);
      },
    );
  });
}
