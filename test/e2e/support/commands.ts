// helm and kubectl (the static binaries scripts/tools/ensure-helm.sh installs) run as the user
// runs them: exit code, stdout and stderr kept apart, because what kubectl prints on stderr
// ("Error from server ...", "Warning: ...") is part of what the scenarios assert.
import { execFileSync, spawn } from 'node:child_process';
import { join } from 'node:path';
import { repoRoot } from '../rig/index.ts';

export interface CommandResult {
  /** Exit code (-1 when killed by a signal or the timeout). */
  readonly code: number;
  readonly stdout: string;
  readonly stderr: string;
  /** Wall time of the command in ms. */
  readonly ms: number;
}

let toolsDir: string | undefined;

/** The folder holding helm and kubectl (installed into the tools cache on first use). */
export function kubeToolsDir(): string {
  toolsDir ??=
    execFileSync(join(repoRoot, 'scripts', 'tools', 'ensure-helm.sh'), { encoding: 'utf8' })
      .trim()
      .split('\n')
      .at(-1) ?? '';
  return toolsDir;
}

/** Runs a command to its end; a non-zero exit is a result, not an exception. */
export function runCommand(command: string, args: readonly string[], opts: { input?: string; timeoutMs?: number } = {}): Promise<CommandResult> {
  const started = performance.now();
  return new Promise((resolve, reject) => {
    const child = spawn(command, args, { cwd: repoRoot, stdio: ['pipe', 'pipe', 'pipe'], timeout: opts.timeoutMs ?? 60_000 });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (chunk: Buffer) => {
      stdout += chunk.toString('utf8');
    });
    child.stderr.on('data', (chunk: Buffer) => {
      stderr += chunk.toString('utf8');
    });
    child.on('error', reject);
    child.on('close', (code) => resolve({ code: code ?? -1, stdout, stderr, ms: performance.now() - started }));
    child.stdin.end(opts.input ?? '');
  });
}

export function helm(args: readonly string[]): Promise<CommandResult> {
  return runCommand(join(kubeToolsDir(), 'helm'), args);
}

/** kubectl against one kubeconfig; `input` is fed to stdin (for `-f -`). */
export function kubectl(kubeconfigPath: string, args: readonly string[], input?: string): Promise<CommandResult> {
  return runCommand(join(kubeToolsDir(), 'kubectl'), ['--kubeconfig', kubeconfigPath, ...args], input === undefined ? {} : { input });
}
