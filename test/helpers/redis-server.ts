// A real redis-server for the tests of the shared fact cache (issue 16): Debian's package,
// installed on first use by scripts/tools/ensure-redis.sh, started on 127.0.0.1 on a free port
// with its own temporary directory, no persistence, optionally with a password (requirepass)
// and TLS (tls-port, a throw-away CA). kill() and restart() let a test take the server away
// mid-load and bring it back on the same port.
import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { createServer, connect } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { setTimeout as sleep } from 'node:timers/promises';
import { generateSelfSigned } from '../../src/server/self-signed.ts';

const ENSURE = fileURLToPath(new URL('../../scripts/tools/ensure-redis.sh', import.meta.url));

export interface RedisServerOptions {
  /** requirepass: clients must AUTH with it. */
  readonly password?: string;
  /** Serve TLS only (tls-port; the plain port is closed). */
  readonly tls?: boolean;
}

export interface RedisServer {
  readonly port: number;
  /** redis:// or rediss:// URL of the server, without the password. */
  readonly url: string;
  /** The CA the TLS certificate is issued by (PEM), when tls. */
  readonly caPem?: string;
  /** SIGKILL: the server is gone at once, as a crashed or evicted Pod. */
  kill(): Promise<void>;
  /** Starts it again on the same port (empty: nothing is persisted). */
  restart(): Promise<void>;
  stop(): Promise<void>;
}

let binary: string | undefined;
function redisBinary(): string {
  binary ??= execFileSync(ENSURE, { encoding: 'utf8', stdio: ['ignore', 'pipe', 'inherit'] }).trim();
  return binary;
}

async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address() as { port: number };
      server.close(() => resolve(port));
    });
  });
}

async function accepting(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = connect({ host: '127.0.0.1', port }, () => {
      socket.destroy();
      resolve(true);
    });
    socket.once('error', () => resolve(false));
  });
}

export async function startRedisServer(options: RedisServerOptions = {}): Promise<RedisServer> {
  const binary = redisBinary();
  const dir = mkdtempSync(join(tmpdir(), 'ecr-admission-redis-'));
  const port = await freePort();
  const args = ['--bind', '127.0.0.1', '--dir', dir, '--save', '', '--appendonly', 'no', '--daemonize', 'no', '--loglevel', 'warning'];
  let caPem: string | undefined;
  if (options.tls) {
    const pair = await generateSelfSigned(['localhost', '127.0.0.1']);
    writeFileSync(join(dir, 'tls.crt'), pair.cert);
    writeFileSync(join(dir, 'tls.key'), pair.key, { mode: 0o600 });
    writeFileSync(join(dir, 'ca.crt'), pair.caPem);
    caPem = pair.caPem;
    args.push('--port', '0', '--tls-port', String(port), '--tls-cert-file', join(dir, 'tls.crt'), '--tls-key-file', join(dir, 'tls.key'));
    args.push('--tls-ca-cert-file', join(dir, 'ca.crt'), '--tls-auth-clients', 'no');
  } else {
    args.push('--port', String(port));
  }
  if (options.password !== undefined) args.push('--requirepass', options.password);

  let child: ChildProcess | undefined;
  let stderr = '';
  const launch = async (): Promise<void> => {
    stderr = '';
    const proc = spawn(binary, args, { stdio: ['ignore', 'ignore', 'pipe'] });
    proc.stderr.on('data', (chunk: Buffer) => {
      if (stderr.length < 10_000) stderr += chunk.toString('utf8');
    });
    child = proc;
    const until = Date.now() + 10_000;
    while (Date.now() < until) {
      if (proc.exitCode !== null || proc.signalCode !== null) throw new Error(`redis-server exited (${proc.exitCode ?? proc.signalCode}): ${stderr}`);
      if (await accepting(port)) return;
      await sleep(20);
    }
    proc.kill('SIGKILL');
    throw new Error(`redis-server did not listen on 127.0.0.1:${port} within 10 s: ${stderr}`);
  };
  const kill = async (): Promise<void> => {
    const proc = child;
    child = undefined;
    if (!proc || proc.exitCode !== null || proc.signalCode !== null) return;
    const gone = new Promise<void>((resolve) => proc.once('exit', () => resolve()));
    proc.kill('SIGKILL');
    await gone;
  };
  await launch();
  return {
    port,
    url: `${options.tls ? 'rediss' : 'redis'}://127.0.0.1:${port}`,
    ...(caPem !== undefined && { caPem }),
    kill,
    restart: launch,
    async stop() {
      await kill();
      rmSync(dir, { recursive: true, force: true });
    },
  };
}
