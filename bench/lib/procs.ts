// The benchmark's processes: the AWS sandbox, the webhook (`node src/main.ts serve`, the real
// command), the allow-all baseline, and the load generator, each its own OS process so that
// none of them measures on another's event loop. The orchestrator talks to them through
// stdout lines, HTTP and /proc.
import { spawn, type ChildProcess } from 'node:child_process';
import { closeSync, existsSync, openSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { once } from 'node:events';
import type { Fault } from '../../src/dev/sandbox/index.ts';
import type { WorldLayout } from './fixture.ts';
import type { LoadSpec, PhaseResult } from './load-types.ts';

export const ROOT = resolve(import.meta.dirname, '../..');
const NODE = process.execPath;

/** The first stdout line of a child that prints a JSON line when ready. */
async function firstJsonLine<T>(child: ChildProcess, what: string, timeoutMs: number): Promise<T> {
  let buffered = '';
  return new Promise<T>((resolvePromise, reject) => {
    const timer = setTimeout(() => reject(new Error(`${what} did not start within ${timeoutMs} ms`)), timeoutMs);
    child.stdout!.on('data', (chunk: Buffer) => {
      buffered += chunk.toString('utf8');
      const nl = buffered.indexOf('\n');
      if (nl >= 0) {
        clearTimeout(timer);
        try {
          resolvePromise(JSON.parse(buffered.slice(0, nl)) as T);
        } catch (e) {
          reject(new Error(`${what} printed ${buffered.slice(0, nl)}: ${String(e)}`));
        }
      }
    });
    child.once('exit', (code) => {
      clearTimeout(timer);
      reject(new Error(`${what} exited with ${code} before it was ready`));
    });
  });
}

async function stop(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return;
  const exited = once(child, 'exit');
  child.kill('SIGTERM');
  const timer = setTimeout(() => child.kill('SIGKILL'), 5000);
  await exited;
  clearTimeout(timer);
}

/** Resident memory of a process from /proc: now, and its peak (VmHWM) since it started. */
export function memoryOf(pid: number): { rssMiB: number; peakRssMiB: number } {
  const status = readFileSync(`/proc/${pid}/status`, 'utf8');
  const kb = (field: string) => Number(new RegExp(`^${field}:\\s+(\\d+) kB`, 'm').exec(status)?.[1] ?? Number.NaN);
  return { rssMiB: Math.round(kb('VmRSS') / 102.4) / 10, peakRssMiB: Math.round(kb('VmHWM') / 102.4) / 10 };
}

/** CPU time (user + system) a process has used, in ms: unlike latency, it does not stretch
 *  when other processes compete for the cores, so it is the figure to compare across runs. */
export function cpuMsOf(pid: number): number {
  const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
  // Fields after the command name (which may contain spaces): utime and stime are 14th and 15th.
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  return (Number(fields[11]) + Number(fields[12])) * (1000 / CLOCK_TICKS);
}

/** USER_HZ: 100 on every Linux that matters (getconf CLK_TCK). */
const CLOCK_TICKS = 100;

export interface CallCounts {
  readonly total: number;
  readonly byOp: Record<string, number>;
  readonly byStatus: Record<string, number>;
  /** Distinct (operation, input) pairs: how many different facts were asked for. */
  readonly distinct: number;
}

export interface CalledRequest {
  readonly op: string;
  /** A tag's resolution (BatchGetImage by imageTag): its answer lives for the mutableTag TTL. */
  readonly tag: boolean;
  /** When each call of it arrived, ms since the epoch. */
  readonly at: readonly number[];
}

export interface SandboxProcess {
  readonly url: string;
  readonly trustStorePath: string;
  readonly images: number;
  readonly buildMs: number;
  readonly pid: number;
  cpuMs(): number;
  calls(): Promise<CallCounts>;
  /** Each distinct request's call times (bench/lib/lifetimes.ts). */
  requests(): Promise<CalledRequest[]>;
  resetCalls(): Promise<void>;
  setLatency(ms: number): Promise<void>;
  /** Issue 16: an SQS queue of the sandbox, an event on it, a CRITICAL finding on a repository's images. */
  createQueue(name: string, region: string): Promise<string>;
  sendMessage(url: string, body: string): Promise<void>;
  addCriticalFinding(region: string, repository: string): Promise<string[]>;
  inject(op: string, fault: Fault): Promise<void>;
  clearFaults(): Promise<void>;
  stop(): Promise<void>;
}

export async function startSandboxProcess(options: { dir: string; layout: WorldLayout; latencyMs: number; seed: number }): Promise<SandboxProcess> {
  const child = spawn(NODE, [join(ROOT, 'bench/procs/sandbox.ts'), JSON.stringify(options)], { cwd: ROOT, stdio: ['ignore', 'pipe', 'inherit'] });
  const ready = await firstJsonLine<{ sandboxUrl: string; controlUrl: string; trustStorePath: string; images: number; buildMs: number }>(
    child,
    'the sandbox',
    600_000,
  );
  const call = async (method: string, path: string, body?: unknown) => {
    const res = await fetch(`${ready.controlUrl}${path}`, { method, ...(body !== undefined && { body: JSON.stringify(body) }) });
    if (!res.ok) throw new Error(`sandbox control ${method} ${path}: HTTP ${res.status}`);
    return res.json();
  };
  return {
    url: ready.sandboxUrl,
    trustStorePath: ready.trustStorePath,
    images: ready.images,
    buildMs: ready.buildMs,
    pid: child.pid!,
    cpuMs: () => cpuMsOf(child.pid!),
    calls: async () => (await call('GET', '/calls')) as CallCounts,
    requests: async () => (await call('GET', '/requests')) as CalledRequest[],
    resetCalls: async () => {
      await call('POST', '/reset');
    },
    setLatency: async (ms) => {
      await call('POST', '/latency', { ms });
    },
    createQueue: async (name, region) => ((await call('POST', '/queue', { name, region })) as { url: string }).url,
    sendMessage: async (url, body) => {
      await call('POST', '/send', { url, body });
    },
    addCriticalFinding: async (region, repository) => ((await call('POST', '/add-finding', { region, repository })) as { digests: string[] }).digests,
    inject: async (op, fault) => {
      await call('POST', '/fault', { op, fault });
    },
    clearFaults: async () => {
      await call('POST', '/clear-faults');
    },
    stop: () => stop(child),
  };
}

export interface ServerProcess {
  readonly url: string;
  readonly pid: number;
  /** Prometheus text of the webhook's /metrics (the baseline has none). */
  metrics(): Promise<string>;
  memory(): { rssMiB: number; peakRssMiB: number };
  cpuMs(): number;
  stop(): Promise<void>;
  /** The webhook's log file (its stdout). */
  readonly logPath?: string;
}

/** The webhook's entry point: the compiled JavaScript the container image runs (`node
 *  dist/main.js`, built by buildWebhook), or the TypeScript sources run with type stripping. */
export type WebhookEntry = { kind: 'dist'; path: string } | { kind: 'src' };

/** Compiles src/ with the project's build config into bench/.build/dist (not the shared
 *  dist/), as the Dockerfile does. Throws if tsc emitted nothing. */
export async function buildWebhook(): Promise<WebhookEntry> {
  const outDir = join(ROOT, 'bench/.build/dist');
  rmSync(outDir, { recursive: true, force: true });
  const child = spawn(NODE, [join(ROOT, 'node_modules/typescript/bin/tsc'), '-p', join(ROOT, 'tsconfig.build.json'), '--outDir', outDir], {
    cwd: ROOT,
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let output = '';
  child.stdout.on('data', (c: Buffer) => {
    output += c.toString('utf8');
  });
  child.stderr.on('data', (c: Buffer) => {
    output += c.toString('utf8');
  });
  await once(child, 'exit');
  const path = join(outDir, 'main.js');
  if (!existsSync(path)) throw new Error(`tsc emitted no ${path}:\n${output}`);
  // Type errors do not stop emit (others may be mid-change); the run records that they existed.
  return { kind: 'dist', path };
}

/** `ecr-admission serve` as deployed: the policy file, AWS endpoints from the standard
 *  variables, its log at info level (one line per admission) written to `logPath`. */
export async function startWebhook(options: {
  entry: WebhookEntry;
  policyPath: string;
  sandboxUrl: string;
  logPath: string;
  budgetMs: number;
  nodeFlags?: readonly string[];
  /** More environment (the shared cache's password, ...). */
  env?: Readonly<Record<string, string>>;
}): Promise<ServerProcess> {
  const log = openSync(options.logPath, 'w');
  const main = options.entry.kind === 'dist' ? options.entry.path : join(ROOT, 'src/main.ts');
  const child = spawn(
    NODE,
    [
      ...(options.nodeFlags ?? []),
      main,
      'serve',
      '--config',
      options.policyPath,
      '--port',
      '0',
      '--health-port',
      '0',
      '--host',
      '127.0.0.1',
      '--log-level',
      'info',
    ],
    {
      cwd: ROOT,
      stdio: ['ignore', log, 'inherit'],
      env: {
        PATH: process.env.PATH ?? '',
        HOME: process.env.HOME ?? '/tmp',
        AWS_ENDPOINT_URL_ECR: options.sandboxUrl,
        AWS_ENDPOINT_URL_INSPECTOR2: options.sandboxUrl,
        AWS_ENDPOINT_URL_SIGNER: options.sandboxUrl,
        AWS_ENDPOINT_URL_SQS: options.sandboxUrl,
        // The sandbox's fixed credentials; IMDS off so the SDK never looks for an instance role.
        AWS_ACCESS_KEY_ID: 'AKIDSANDBOX',
        AWS_SECRET_ACCESS_KEY: 'sandbox',
        AWS_EC2_METADATA_DISABLED: 'true',
        ECR_ADMISSION_BUDGET_MS: String(options.budgetMs),
        ...options.env,
      },
    },
  );
  closeSync(log);
  const started = Date.now();
  let ports: { port: number; healthPort: number } | undefined;
  while (!ports) {
    if (child.exitCode !== null) throw new Error(`the webhook exited with ${child.exitCode}; see ${options.logPath}`);
    if (Date.now() - started > 60_000) throw new Error(`the webhook did not start in 60 s; see ${options.logPath}`);
    const line = readFileSync(options.logPath, 'utf8')
      .split('\n')
      .find((l) => l.includes('"ecr-admission serving"'));
    if (line) ports = JSON.parse(line) as { port: number; healthPort: number };
    else await new Promise((r) => setTimeout(r, 100));
  }
  const healthUrl = `http://127.0.0.1:${ports.healthPort}`;
  return {
    url: `https://127.0.0.1:${ports.port}`,
    logPath: options.logPath,
    pid: child.pid!,
    metrics: async () => (await fetch(`${healthUrl}/metrics`)).text(),
    memory: () => memoryOf(child.pid!),
    cpuMs: () => cpuMsOf(child.pid!),
    stop: () => stop(child),
  };
}

export async function startBaseline(): Promise<ServerProcess> {
  const child = spawn(NODE, [join(ROOT, 'bench/procs/baseline.ts')], { cwd: ROOT, stdio: ['ignore', 'pipe', 'inherit'] });
  const ready = await firstJsonLine<{ url: string }>(child, 'the baseline', 60_000);
  return {
    url: ready.url,
    pid: child.pid!,
    metrics: async () => '',
    memory: () => memoryOf(child.pid!),
    cpuMs: () => cpuMsOf(child.pid!),
    stop: () => stop(child),
  };
}

/** The contract floor (bench/procs/contract-floor.ts) answering with a captured admission. */
export async function startContractFloor(capturePath: string, logPath: string, nodeFlags: readonly string[]): Promise<ServerProcess> {
  // Under the webhook's node flags (the chart's heap sizes): what they cost is not the webhook's own work.
  const child = spawn(NODE, [...nodeFlags, join(ROOT, 'bench/procs/contract-floor.ts'), capturePath, logPath], {
    cwd: ROOT,
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  const ready = await firstJsonLine<{ url: string }>(child, 'the contract floor', 60_000);
  return {
    url: ready.url,
    pid: child.pid!,
    metrics: async () => '',
    memory: () => memoryOf(child.pid!),
    cpuMs: () => cpuMsOf(child.pid!),
    stop: () => stop(child),
  };
}

/** Runs one load-generator process to completion and returns its recorded phases. */
export async function runLoad(spec: LoadSpec, dir: string, name: string): Promise<PhaseResult[]> {
  const specPath = join(dir, `load-${name}.json`);
  writeFileSync(specPath, JSON.stringify(spec));
  const child = spawn(NODE, [join(ROOT, 'bench/procs/load.ts'), specPath], { cwd: ROOT, stdio: ['ignore', 'pipe', 'inherit'] });
  let out = '';
  child.stdout.on('data', (c: Buffer) => {
    out += c.toString('utf8');
  });
  const [code] = (await once(child, 'exit')) as [number | null];
  if (code !== 0) throw new Error(`the load generator exited with ${code}`);
  return (JSON.parse(out) as { phases: PhaseResult[] }).phases;
}

/** A sample of the webhook's own metrics: cache events and entries, AWS calls it made, heap. */
export function metricSummary(text: string): Record<string, number> {
  const sum = (name: string, filter: (labels: string) => boolean = () => true) => {
    let total = 0;
    for (const line of text.split('\n')) {
      const m = /^([a-z_]+)(\{[^}]*\})? ([0-9.e+-]+)$/.exec(line);
      if (m && m[1] === name && filter(m[2] ?? '')) total += Number(m[3]);
    }
    return total;
  };
  const event = (e: string) => (l: string) => l.includes(`event="${e}"`);
  return {
    cacheEntries: sum('ecr_admission_cache_entries'),
    cacheHits: sum('ecr_admission_cache_events_total', event('hit')),
    cacheMisses: sum('ecr_admission_cache_events_total', event('miss')),
    cacheCoalesced: sum('ecr_admission_cache_events_total', event('coalesced')),
    cacheStale: sum('ecr_admission_cache_events_total', event('stale')),
    awsCalls: sum('ecr_admission_aws_calls_total'),
    awsCallsFailed: sum('ecr_admission_aws_calls_total', (l) => !l.includes('outcome="ok"')),
    heapUsedMiB: Math.round(sum('nodejs_heap_size_used_bytes') / 104857.6) / 10,
  };
}
