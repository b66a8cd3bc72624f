// What every scenario gets: the running sandbox, where to write, the knobs, and helpers to
// start a fresh webhook with a given policy.
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { benchPolicy, imageRef, regionsOf, type WorldLayout } from '../lib/fixture.ts';
import { parsePolicy } from '../../src/policy/load.ts';
import { loadAverage } from '../lib/machine.ts';
import { memoryOf, startWebhook, type SandboxProcess, type ServerProcess, type WebhookEntry } from '../lib/procs.ts';

export interface BenchSettings {
  /** Multiplies every duration and image count (BENCH_SCALE). */
  readonly scale: number;
  /** Injected latency of every AWS call, ms (BENCH_LATENCY_MS, default 20). */
  readonly latencyMs: number;
  /** The webhook's admission budget, ms (what the chart derives from timeoutSeconds 10). */
  readonly budgetMs: number;
  /** The API server's webhook timeout, s: the load generator's request timeout. */
  readonly timeoutSeconds: number;
  /** dist: the compiled JavaScript, as the container runs it; src: node src/main.ts (BENCH_WEBHOOK). */
  readonly webhook: 'dist' | 'src';
  /** Node flags for the webhook process, e.g. --max-semi-space-size=8 (BENCH_WEBHOOK_NODE_FLAGS). */
  readonly webhookNodeFlags: readonly string[];
}

export interface Target {
  readonly name: string;
  readonly target: string;
  readonly value: string;
  readonly met: boolean;
}

/** One line of the results table. */
export interface Row {
  readonly measure: string;
  readonly admissions: number;
  readonly requestsPerSecond?: number;
  readonly p50?: number;
  readonly p99?: number;
  readonly max?: number;
  readonly awsCalls?: number;
  /** CPU (user + system) the webhook process spent per admission. */
  readonly cpuMsPerAdmission?: number;
}

export function rowOf(
  measure: string,
  p: { completed: number; requestsPerSecond?: number; latencyMs: { p50: number; p99: number; max: number } },
  extra: { awsCalls?: number; cpuMs?: number } = {},
): Row {
  return {
    measure,
    admissions: p.completed,
    ...(p.requestsPerSecond !== undefined && { requestsPerSecond: p.requestsPerSecond }),
    p50: p.latencyMs.p50,
    p99: p.latencyMs.p99,
    max: p.latencyMs.max,
    ...(extra.awsCalls !== undefined && { awsCalls: extra.awsCalls }),
    ...(extra.cpuMs !== undefined && p.completed > 0 && { cpuMsPerAdmission: Math.round((extra.cpuMs / p.completed) * 1000) / 1000 }),
  };
}

/** Runs `work` and returns its value with the CPU ms `server` spent meanwhile. */
export async function withCpu<T>(server: { cpuMs(): number }, work: () => Promise<T>): Promise<{ value: T; cpuMs: number }> {
  const before = server.cpuMs();
  const value = await work();
  return { value, cpuMs: server.cpuMs() - before };
}

export interface ScenarioResult {
  readonly id: string;
  readonly title: string;
  readonly params: Record<string, unknown>;
  readonly figures: Record<string, unknown>;
  readonly rows: Row[];
  /** Peak resident memory (VmHWM) of the webhook process, MiB; and of the baseline's. */
  readonly peakRssMiB: Record<string, number>;
  readonly targets: Target[];
  readonly notes: string[];
  readonly loadAverage: { start: number; end: number };
  readonly seconds: number;
}

export class BenchContext {
  readonly sandbox: SandboxProcess;
  readonly dir: string;
  readonly settings: BenchSettings;
  readonly layout: WorldLayout;
  readonly log: (line: string) => void;
  readonly entry: WebhookEntry;
  #webhooks = 0;

  constructor(options: {
    sandbox: SandboxProcess;
    entry: WebhookEntry;
    dir: string;
    settings: BenchSettings;
    layout: WorldLayout;
    log: (line: string) => void;
  }) {
    this.sandbox = options.sandbox;
    this.entry = options.entry;
    this.dir = options.dir;
    this.settings = options.settings;
    this.layout = options.layout;
    this.log = options.log;
  }

  /** Image references of a group, `count` of them from `from`. */
  images(group: string, from: number, count: number): string[] {
    const g = this.layout[group];
    if (!g) throw new Error(`no image group ${group}`);
    if (from + count > g.count) throw new Error(`group ${group} has ${g.count} images, asked for ${from}..${from + count}`);
    return Array.from({ length: count }, (_, i) => imageRef(group, g, from + i));
  }

  scaled(n: number, min = 1): number {
    return Math.max(min, Math.round(n * this.settings.scale));
  }

  /** How long the bench policy trusts a tag's digest (cache.ttlSeconds.mutableTag), in ms: the
   *  lifetime of a tag's resolution (lib/lifetimes.ts). */
  tagTtlMs(): number {
    const text = benchPolicy(this.sandbox.trustStorePath, { maxEntries: 10_000, regions: regionsOf(this.layout) });
    return parsePolicy(text, 'bench policy').policy.cache.ttlSeconds.mutableTag * 1000;
  }

  /** A fresh webhook process (empty caches) serving the bench policy. */
  async webhook(
    options: { maxEntries?: number; ecrOnly?: boolean; policy?: (text: string) => string; env?: Readonly<Record<string, string>> } = {},
  ): Promise<ServerProcess> {
    const n = ++this.#webhooks;
    const policyPath = join(this.dir, `policy-${n}.yaml`);
    const policy = benchPolicy(this.sandbox.trustStorePath, {
      maxEntries: options.maxEntries ?? 10_000,
      regions: regionsOf(this.layout),
      ...(options.ecrOnly && { ecrOnly: true }),
    });
    writeFileSync(policyPath, options.policy ? options.policy(policy) : policy);
    return startWebhook({
      entry: this.entry,
      nodeFlags: this.settings.webhookNodeFlags,
      policyPath,
      sandboxUrl: this.sandbox.url,
      logPath: join(this.dir, `webhook-${n}.log`),
      budgetMs: this.settings.budgetMs,
      ...(options.env && { env: options.env }),
    });
  }
}

/** Samples a process's RSS every `everyMs` while a scenario runs (VmHWM gives the peak; the
 *  samples show when it was reached). */
export function sampleRss(pid: number, everyMs = 500): { stop(): number[] } {
  const samples: number[] = [];
  const timer = setInterval(() => {
    try {
      samples.push(memoryOf(pid).rssMiB);
    } catch {
      /* the process ended */
    }
  }, everyMs);
  return {
    stop: () => {
      clearInterval(timer);
      return samples;
    },
  };
}

/** Times the measured part of a scenario, and the machine's load around it. */
export async function timed<T>(run: () => Promise<T>): Promise<{ value: T; loadAverage: { start: number; end: number }; seconds: number }> {
  const start = loadAverage();
  const t0 = performance.now();
  const value = await run();
  return { value, loadAverage: { start, end: loadAverage() }, seconds: Math.round((performance.now() - t0) / 100) / 10 };
}

export const fmt = (x: number, digits = 1) => (Number.isFinite(x) ? x.toFixed(digits) : 'n/a');
