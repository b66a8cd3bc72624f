// Builds and runs test/chart/chartcheck (Go, Kubernetes' own matchConditions evaluator and
// strict API decoding; see its main.go). The binary is cached outside the checkout under a
// key made of its sources, so it is rebuilt only when they change.
import { createHash } from 'node:crypto';
import { execFileSync } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, readdirSync, renameSync } from 'node:fs';
import { homedir } from 'node:os';
import { join } from 'node:path';
import { REPO_ROOT } from './helm.ts';

const SOURCE_DIR = join(REPO_ROOT, 'test', 'chart', 'chartcheck');

function cacheRoot(): string {
  const env = process.env;
  return env['ECR_ADMISSION_TOOLS_CACHE'] ?? join(env['ECR_ADMISSION_CACHE'] ?? join(homedir(), '.cache', 'ecr-admission'), 'tools');
}

let binaryPath: string | undefined;

/** Path of the chartcheck binary; the first call in a fresh cache builds it (about a minute). */
export function chartcheckBinary(): string {
  if (binaryPath) return binaryPath;
  const sources = readdirSync(SOURCE_DIR)
    .filter((name) => /\.go$|^go\.(mod|sum)$/.test(name))
    .sort();
  const hash = createHash('sha256');
  for (const name of sources)
    hash
      .update(name)
      .update('\0')
      .update(readFileSync(join(SOURCE_DIR, name)))
      .update('\0');
  const dir = join(cacheRoot(), `chartcheck-${hash.digest('hex').slice(0, 16)}`);
  const binary = join(dir, 'chartcheck');
  if (!existsSync(binary)) {
    mkdirSync(dir, { recursive: true });
    // Built under a temporary name and renamed: concurrent test files never run a half-written binary.
    const partial = `${binary}.${process.pid}.tmp`;
    execFileSync('go', ['build', '-o', partial, '.'], {
      cwd: SOURCE_DIR,
      stdio: ['ignore', 'ignore', 'inherit'],
      env: { ...process.env, GOWORK: 'off', GOFLAGS: '-buildvcs=false', CGO_ENABLED: '0' },
    });
    renameSync(partial, binary);
  }
  binaryPath = binary;
  return binary;
}

export function chartcheck<T>(command: 'conditions' | 'decode', input: unknown): T {
  const stdout = execFileSync(chartcheckBinary(), [command], { input: JSON.stringify(input), encoding: 'utf8', maxBuffer: 16 * 1024 * 1024 });
  return JSON.parse(stdout) as T;
}
