// The real `ecr-admission serve` process for tests that need the process itself (its heap limit,
// its signals, its RSS): spawned on ephemeral ports on 127.0.0.1, killed when the test ends, and
// ready once it logs "ecr-admission serving", the line that names its ports.
import type { Test } from 'tap';
import { spawn, type ChildProcessByStdio } from 'node:child_process';
import { join } from 'node:path';
import type { Readable } from 'node:stream';
import { fileURLToPath } from 'node:url';
import { setTimeout as sleep } from 'node:timers/promises';

const MAIN = fileURLToPath(new URL('../../src/main.ts', import.meta.url));
const POLL_MS = 50;

export interface ServeProcessOptions {
  /** Arguments after `serve --port 0 --health-port 0 --host 127.0.0.1`. */
  args?: readonly string[];
  /** Added to the environment, which otherwise holds only PATH and AWS_EC2_METADATA_DISABLED. */
  env?: Readonly<Record<string, string>>;
  cwd?: string;
  /** Written to a test directory and passed as ECR_ADMISSION_CONFIG / _TLS_CERT / _TLS_KEY. */
  files?: { policy: string; cert: string; key: string };
  /** How long to wait for the serving line; 30 s unless told. */
  startTimeoutMs?: number;
}

export interface ServeProcess {
  readonly child: ChildProcessByStdio<null, Readable, Readable>;
  /** The JSON log lines written so far (stdout lines that parse as objects). */
  logs(): ReadonlyArray<Record<string, unknown>>;
  stdout(): string;
  stderr(): string;
  /** How the process ended, once it has. */
  exit(): { code: number | null; signal: NodeJS.Signals | null } | undefined;
  exited(): boolean;
  /** The exit code, once the process has ended and its output streams closed. */
  closed: Promise<number | null>;
  /** The "ecr-admission serving" log line, or undefined when the process exited or timed out first. */
  ready(): Promise<ServeProcessReady | undefined>;
}

export interface ServeProcessReady {
  readonly serving: Record<string, unknown>;
  readonly port: number;
  readonly healthPort: number;
}

/** Spawns `serve` (the teardown on `t` kills it if it still runs); await `ready()` for its ports. */
export function startServeProcess(t: Test, options: ServeProcessOptions = {}): ServeProcess {
  const env: Record<string, string> = { PATH: process.env.PATH ?? '', AWS_EC2_METADATA_DISABLED: 'true', ...options.env };
  if (options.files) {
    const { policy, cert, key } = options.files;
    const dir = t.testdir({ 'policy.yaml': policy, 'tls.crt': cert, 'tls.key': key });
    env.ECR_ADMISSION_CONFIG = join(dir, 'policy.yaml');
    env.ECR_ADMISSION_TLS_CERT = join(dir, 'tls.crt');
    env.ECR_ADMISSION_TLS_KEY = join(dir, 'tls.key');
  }
  const child = spawn(process.execPath, [MAIN, 'serve', '--port', '0', '--health-port', '0', '--host', '127.0.0.1', ...(options.args ?? [])], {
    env,
    cwd: options.cwd,
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let exit: { code: number | null; signal: NodeJS.Signals | null } | undefined;
  child.once('exit', (code, signal) => {
    exit = { code, signal };
  });
  const closed = new Promise<number | null>((resolve) => child.once('close', (code) => resolve(code)));
  t.teardown(() => {
    if (!exit) child.kill('SIGKILL');
  });

  let stdout = '';
  let stderr = '';
  let partial = '';
  const logs: Array<Record<string, unknown>> = [];
  child.stdout.on('data', (c: Buffer) => {
    const text = c.toString('utf8');
    stdout += text;
    const lines = (partial + text).split('\n');
    partial = lines.pop() ?? '';
    for (const line of lines) {
      if (!line.startsWith('{')) continue;
      try {
        logs.push(JSON.parse(line) as Record<string, unknown>);
      } catch {
        // Not a log record (a line of some other output that happens to start with a brace).
      }
    }
  });
  child.stderr.on('data', (c: Buffer) => {
    stderr += c.toString('utf8');
  });

  const ready = async (): Promise<ServeProcessReady | undefined> => {
    const deadline = Date.now() + (options.startTimeoutMs ?? 30_000);
    while (!exit && Date.now() < deadline) {
      const serving = logs.find((l) => l.msg === 'ecr-admission serving');
      if (serving && typeof serving.port === 'number' && typeof serving.healthPort === 'number')
        return { serving, port: serving.port, healthPort: serving.healthPort };
      await sleep(POLL_MS);
    }
    return undefined;
  };

  return {
    child,
    logs: () => logs,
    stdout: () => stdout,
    stderr: () => stderr,
    exit: () => exit,
    exited: () => exit !== undefined,
    closed,
    ready,
  };
}
