// `make bench`: every scenario of issue 7 (and issue 3's ECR-facts figures) against the real
// webhook process over TLS, with the AWS sandbox, the baseline and the load generator each in
// their own process. Results: bench/results/latest.{json,md}.
//
// Environment:
//   BENCH_SCALE=1         multiplies durations and image counts (0.2 for a quick look)
//   BENCH_LATENCY_MS=20   injected latency of every AWS call
//   BENCH_ONLY=warm,cold  run only these scenarios (warm, cold, rollout, churn, degraded, ecr-facts, pinning, fleet, freshness)
//   BENCH_OUT=dir         where results go (default bench/results)
//   BENCH_WEBHOOK=dist    dist: compile src/ and run node main.js as the container does;
//                         src: run node src/main.ts (type stripping, ~25 MiB more RSS)
//   BENCH_WEBHOOK_NODE_FLAGS='--max-semi-space-size=8'  node flags for the webhook process (default: the chart's server.nodeOptions)
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parse } from 'yaml';
import type { WorldLayout } from './lib/fixture.ts';
import { gitCommit, loadAverage, machineInfo } from './lib/machine.ts';
import { buildWebhook, ROOT, startSandboxProcess, type WebhookEntry } from './lib/procs.ts';
import { writeReport } from './lib/report.ts';
import { drawFigures } from './lib/figures.ts';
import { BenchContext, type BenchSettings, type ScenarioResult } from './scenarios/context.ts';
import { churn } from './scenarios/churn.ts';
import { cold, COLD_WARMUP_IMAGES } from './scenarios/cold.ts';
import { degraded } from './scenarios/degraded.ts';
import { ecrFacts } from './scenarios/ecr-facts.ts';
import { fleet, freshness } from './scenarios/fleet.ts';
import { rollout } from './scenarios/rollout.ts';
import { warmAndBaseline } from './scenarios/warm.ts';
import { pinning } from './scenarios/pinning.ts';

const SCENARIOS: Record<string, (ctx: BenchContext) => Promise<ScenarioResult | ScenarioResult[]>> = {
  warm: warmAndBaseline,
  cold,
  rollout,
  churn,
  degraded,
  'ecr-facts': ecrFacts,
  pinning,
  fleet,
  freshness,
};

/** Regions the churn images are spread over: the sandbox answers Inspector ListFindings by
 *  scanning every image of the region, so ten thousand images in one region would make the
 *  sandbox, not the webhook, the bottleneck. */
const CHURN_REGIONS = [
  'us-east-2',
  'us-west-1',
  'us-west-2',
  'ca-central-1',
  'sa-east-1',
  'eu-west-1',
  'eu-west-2',
  'eu-west-3',
  'eu-central-1',
  'eu-north-1',
  'ap-south-1',
  'ap-northeast-1',
  'ap-northeast-2',
  'ap-southeast-1',
  'ap-southeast-2',
  'me-south-1',
];

/** server.nodeOptions of chart/ecr-admission/values.yaml: what the container's node runs with. */
function chartNodeOptions(): string {
  const values = parse(readFileSync(join(ROOT, 'chart/ecr-admission/values.yaml'), 'utf8')) as { server?: { nodeOptions?: unknown } };
  const options = values.server?.nodeOptions;
  if (typeof options !== 'string') throw new Error('chart/ecr-admission/values.yaml has no server.nodeOptions string');
  return options;
}

function settingsFrom(env: NodeJS.ProcessEnv): BenchSettings {
  const number = (name: string, dflt: number) => {
    const raw = env[name];
    if (raw === undefined || raw === '') return dflt;
    const n = Number(raw);
    if (!Number.isFinite(n) || n < 0) throw new Error(`${name} must be a non-negative number, got ${raw}`);
    return n;
  };
  const webhook = env.BENCH_WEBHOOK || 'dist';
  if (webhook !== 'dist' && webhook !== 'src') throw new Error(`BENCH_WEBHOOK must be dist or src, got ${webhook}`);
  // The webhook runs under the chart's server.nodeOptions unless told otherwise: without them V8
  // sizes its heap from the machine's memory, and peak RSS (the churn target, the chart's 256 Mi
  // limit) would measure a process nobody deploys. BENCH_WEBHOOK_NODE_FLAGS=none runs it bare.
  // (An empty value is the default too: make exports an unset variable as empty.)
  const flags = env.BENCH_WEBHOOK_NODE_FLAGS || chartNodeOptions();
  const webhookNodeFlags = flags === 'none' ? [] : flags.split(/\s+/).filter((f) => f !== '');
  return { scale: number('BENCH_SCALE', 1), latencyMs: number('BENCH_LATENCY_MS', 20), budgetMs: 8000, timeoutSeconds: 10, webhook, webhookNodeFlags };
}

function layoutFor(settings: BenchSettings): WorldLayout {
  const n = (x: number, min: number) => Math.max(min, Math.round(x * settings.scale));
  return {
    warm: { count: 1, perRepository: 1 },
    // warm-up, serial, burst of 16 connections, zero latency (cold.ts)
    cold: { count: COLD_WARMUP_IMAGES + n(100, 10) + n(200, 16) + n(50, 10), perRepository: 1, regions: ['us-east-2'] },
    rollout: { count: 1, perRepository: 1 },
    churn: { count: n(10_000, 100), perRepository: 100, regions: CHURN_REGIONS, findings: false },
    degraded: { count: 2 * n(200, 16), perRepository: 10, regions: ['us-west-2'] },
    ecrfacts: { count: n(20, 5) + 1, perRepository: 1, regions: ['eu-west-1'] },
    'ecrfacts-ten': { count: 10, perRepository: 1, regions: ['eu-west-1'] },
    // pinning.ts: cold images of the validate-alone arm, then of the mutate + validate arm
    pin: { count: 2 * n(50, 8), perRepository: 1, regions: ['eu-south-1'] },
    // issue 16 (fleet.ts): distinct images for the fleet's churn and shared-hit latency; one
    // repository per image for the freshness events
    fleet: { count: n(300, 30) + n(50, 10), perRepository: 10, regions: ['ap-south-1'] },
    fresh: { count: n(10, 5), perRepository: 1, regions: ['eu-south-1'] },
  };
}

async function main(): Promise<void> {
  const settings = settingsFrom(process.env);
  const only = (process.env.BENCH_ONLY ?? '')
    .split(',')
    .map((s) => s.trim())
    .filter((s) => s !== '');
  for (const name of only) if (!SCENARIOS[name]) throw new Error(`BENCH_ONLY: no scenario ${name} (${Object.keys(SCENARIOS).join(', ')})`);
  const out = process.env.BENCH_OUT || join(ROOT, 'bench/results');
  const dir = mkdtempSync(join(tmpdir(), 'ecr-admission-bench-'));
  const log = (line: string) => process.stderr.write(`${line}\n`);
  const started = performance.now();
  const loadStart = loadAverage();
  const layout = layoutFor(settings);

  let entry: WebhookEntry = { kind: 'src' };
  if (settings.webhook === 'dist') {
    log('bench: compiling the webhook (tsc -p tsconfig.build.json --outDir bench/.build/dist)');
    entry = await buildWebhook();
  }
  log(`bench: building the sandbox's world (${Object.values(layout).reduce((a, g) => a + g.count, 0)} signed images), working in ${dir}`);
  const sandbox = await startSandboxProcess({ dir, layout, latencyMs: settings.latencyMs, seed: 7 });
  log(`bench: sandbox ready in ${sandbox.buildMs} ms of fixture building`);
  const ctx = new BenchContext({ sandbox, entry, dir, settings, layout, log });
  const results: ScenarioResult[] = [];
  try {
    for (const [name, run] of Object.entries(SCENARIOS)) {
      if (only.length > 0 && !only.includes(name)) continue;
      log(`bench: ${name}`);
      const r = await run(ctx);
      results.push(...(Array.isArray(r) ? r : [r]));
    }
  } finally {
    await sandbox.stop();
  }
  const report = {
    machine: machineInfo(),
    run: {
      date: new Date().toISOString(),
      commit: gitCommit(),
      settings,
      fixture: { images: sandbox.images, buildMs: sandbox.buildMs },
      seconds: Math.round((performance.now() - started) / 1000),
      loadAverage: { start: loadStart, end: loadAverage() },
    },
    scenarios: results,
  };
  const written = writeReport(report, out);
  const figures = await drawFigures(report, out);
  log(`bench: done in ${report.run.seconds} s; ${written.markdown}${figures.map((f) => `, ${f}`).join('')}`);
  for (const r of results) for (const t of r.targets) log(`  ${t.met ? 'met   ' : 'MISSED'} ${t.name}: ${t.value} (target ${t.target})`);
  // BENCH_KEEP=1 keeps the working folder (the webhooks' logs, the load specs) to read after.
  if (process.env.BENCH_KEEP) log(`bench: kept ${dir}`);
  else rmSync(dir, { recursive: true, force: true });
}

await main();
