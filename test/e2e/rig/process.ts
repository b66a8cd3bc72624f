// Starts a rig peer as a child process whose stdout and stderr go straight to a log file in the
// peer's folder (file descriptors, not pipes: nothing is lost if the test process dies, and a
// chatty peer can never block on a full pipe).
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdirSync, openSync, closeSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { RigError } from './errors.ts';

export interface PeerProcess {
  readonly name: string;
  readonly pid: number;
  readonly logPath: string;
  /** Exit code or signal once the process ended; undefined while it runs. */
  exitStatus(): string | undefined;
  /** Last lines of the log, for error messages. */
  logTail(lines?: number): string;
  /** SIGTERM, then SIGKILL after graceMs. Resolves once the process is gone. Idempotent. */
  stop(graceMs?: number): Promise<void>;
}

export interface StartPeerOptions {
  name: string;
  command: string;
  args: string[];
  dir: string;
  env?: NodeJS.ProcessEnv;
}

export function startPeer(opts: StartPeerOptions): PeerProcess {
  mkdirSync(opts.dir, { recursive: true });
  const logPath = join(opts.dir, `${opts.name}.log`);
  const logFd = openSync(logPath, 'a');
  let child: ChildProcess;
  try {
    child = spawn(opts.command, opts.args, {
      cwd: opts.dir,
      env: opts.env ?? process.env,
      stdio: ['ignore', logFd, logFd],
    });
  } finally {
    closeSync(logFd);
  }
  let status: string | undefined;
  const exited = new Promise<void>((resolve) => {
    child.once('exit', (code, signal) => {
      status = signal ? `signal ${signal}` : `exit code ${code}`;
      resolve();
    });
    child.once('error', (error) => {
      status = `spawn error ${error.message}`;
      resolve();
    });
  });
  const logTail = (lines = 30): string => {
    try {
      return readFileSync(logPath, 'utf8').trimEnd().split('\n').slice(-lines).join('\n');
    } catch {
      return '';
    }
  };
  let stopping: Promise<void> | undefined;
  const stop = (graceMs = 10_000): Promise<void> => {
    stopping ??= (async () => {
      if (status !== undefined) return;
      child.kill('SIGTERM');
      // Unref'd: a pending grace timer must not keep the test process alive after the exit.
      const ended = await Promise.race([exited.then(() => true), sleep(graceMs, false, { ref: false })]);
      if (!ended) {
        child.kill('SIGKILL');
        await exited;
      }
    })();
    return stopping;
  };
  return {
    name: opts.name,
    pid: child.pid ?? -1,
    logPath,
    exitStatus: () => status,
    logTail,
    stop,
  };
}

/**
 * Polls `probe` until it returns true. Fails fast with RIG_PROCESS_EXITED when the peer dies
 * (a bad flag makes it exit at once: no point waiting out the timeout), and with
 * RIG_READY_TIMEOUT otherwise; both messages carry the peer's log tail.
 */
export async function waitUntilReady(peer: PeerProcess, probe: () => Promise<boolean>, timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  let lastError: unknown;
  while (Date.now() < deadline) {
    const status = peer.exitStatus();
    if (status !== undefined) {
      throw new RigError('RIG_PROCESS_EXITED', `${peer.name} exited (${status}) before it was ready; log ${peer.logPath}:\n${peer.logTail()}`);
    }
    try {
      if (await probe()) return;
    } catch (error) {
      lastError = error;
    }
    await sleep(100);
  }
  await peer.stop();
  throw new RigError(
    'RIG_READY_TIMEOUT',
    `${peer.name} not ready after ${timeoutMs} ms (last probe error: ${String(lastError)}); log ${peer.logPath}:\n${peer.logTail()}`,
  );
}
