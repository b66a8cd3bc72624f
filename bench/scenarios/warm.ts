// Scenarios 1 and 2: one cached image at 1, 16 and 64 connections against the webhook, and
// the same load against the allow-all baseline with the same TLS set-up, interleaved level by
// level so that a change in the machine's background load hits both alike. At 16 connections
// the contract floor (bench/procs/contract-floor.ts: the baseline plus the webhook's own answer,
// log line and metrics, nothing decided) runs too: webhook minus floor is the webhook's own work.
import { captureAdmission } from '../lib/floor.ts';
import { runLoad, startBaseline, startContractFloor, metricSummary, type ServerProcess } from '../lib/procs.ts';
import { join } from 'node:path';
import { quantiles } from '../lib/stats.ts';
import type { PhaseResult } from '../lib/load-types.ts';
import { fmt, rowOf, timed, withCpu, type BenchContext, type ScenarioResult } from './context.ts';

const LEVELS = [1, 16, 64] as const;

export async function warmAndBaseline(ctx: BenchContext): Promise<ScenarioResult[]> {
  const duration = ctx.scaled(10, 2);
  const image = ctx.images('warm', 0, 1);
  const webhook = await ctx.webhook();
  const baseline = await startBaseline();
  const timeoutSeconds = ctx.settings.timeoutSeconds;
  const rows: Array<{ connections: number; webhook: PhaseResult; baseline: PhaseResult; webhookCpuMs: number; baselineCpuMs: number }> = [];
  let floor: ServerProcess | undefined;
  let floor16: { phase: PhaseResult; cpuMs: number } | undefined;
  let warmup: PhaseResult[] = [];
  let calls = 0;
  const timing = await timed(async () => {
    // First admission fills the cache (and shows the decision is "allowed"); the warm-up
    // lets both servers' JIT settle before anything is recorded.
    warmup = await runLoad(
      {
        url: webhook.url,
        timeoutSeconds,
        phases: [
          { name: 'fill', connections: 1, amount: 1, images: image, record: true, classify: true },
          { name: 'warm-up', connections: 16, duration: 3, images: image, record: true, classify: true },
        ],
      },
      ctx.dir,
      'warm-fill',
    );
    await runLoad(
      { url: baseline.url, timeoutSeconds, phases: [{ name: 'warm-up', connections: 16, duration: 3, images: image, record: false }] },
      ctx.dir,
      'baseline-warmup',
    );
    floor = await startContractFloor(
      await captureAdmission(webhook.url, webhook.logPath!, image[0]!, ctx.dir),
      join(ctx.dir, 'contract-floor.log'),
      ctx.settings.webhookNodeFlags,
    );
    await runLoad(
      { url: floor.url, timeoutSeconds, phases: [{ name: 'warm-up', connections: 16, duration: 3, images: image, record: false }] },
      ctx.dir,
      'floor-warmup',
    );
    await ctx.sandbox.resetCalls();
    for (const connections of LEVELS) {
      ctx.log(`  ${connections} connections, ${duration} s each`);
      const b = await withCpu(baseline, () =>
        runLoad(
          { url: baseline.url, timeoutSeconds, phases: [{ name: `baseline-c${connections}`, connections, duration, images: image, record: true, raw: true }] },
          ctx.dir,
          `baseline-c${connections}`,
        ),
      );
      const w = await withCpu(webhook, () =>
        runLoad(
          { url: webhook.url, timeoutSeconds, phases: [{ name: `warm-c${connections}`, connections, duration, images: image, record: true, raw: true }] },
          ctx.dir,
          `warm-c${connections}`,
        ),
      );
      rows.push({ connections, webhook: w.value[0]!, baseline: b.value[0]!, webhookCpuMs: w.cpuMs, baselineCpuMs: b.cpuMs });
      if (connections === 16) {
        const f = await withCpu(floor, () =>
          runLoad(
            { url: floor!.url, timeoutSeconds, phases: [{ name: 'floor-c16', connections, duration, images: image, record: true }] },
            ctx.dir,
            'floor-c16',
          ),
        );
        floor16 = { phase: f.value[0]!, cpuMs: f.cpuMs };
      }
    }
    calls = (await ctx.sandbox.calls()).total;
  });
  const metrics = metricSummary(await webhook.metrics());
  const webhookMemory = webhook.memory();
  const baselineMemory = baseline.memory();
  await webhook.stop();
  await baseline.stop();
  await floor?.stop();

  const level = (r: PhaseResult) => ({
    requestsPerSecond: r.requestsPerSecond,
    latencyMs: r.latencyMs,
    completed: r.completed,
    non2xx: r.non2xx,
    errors: r.errors,
    timeouts: r.timeouts,
    // The latency distribution for the figure (bench/lib/figures.ts), not every latency.
    quantilesMs: quantiles(r.latencies ?? []),
  });
  const at16 = rows.find((r) => r.connections === 16)!;
  const ratios = rows.map((r) => ({
    connections: r.connections,
    ratio: Math.round((r.webhook.requestsPerSecond / r.baseline.requestsPerSecond) * 1000) / 1000,
  }));
  const best = Math.max(...rows.map((r) => r.webhook.requestsPerSecond / r.baseline.requestsPerSecond));
  const fill = warmup[0]?.decisions;
  const warmDecisions = warmup[1]?.decisions;
  const notes = [
    `AWS calls during the measured phases: ${calls} (the image's facts all came from the cache).`,
    `First admission: ${fill?.allowed === 1 ? 'allowed' : `not allowed (${JSON.stringify(fill)})`}; warm-up: ${warmDecisions?.allowed ?? 0} allowed of ${warmup[1]?.completed ?? 0}.`,
    'The baseline parses the review and answers allowed: true, with no log line; the webhook writes one info line per admission, as deployed.',
  ];
  const perAdmission = (cpuMs: number, p: PhaseResult) => cpuMs / Math.max(1, p.completed);
  const floorMs = perAdmission(floor16!.cpuMs, floor16!.phase);
  const baselineMs = perAdmission(at16.baselineCpuMs, at16.baseline);
  const webhookMs = perAdmission(at16.webhookCpuMs, at16.webhook);
  const floorNote =
    `Contract floor at 16 connections (the baseline answering with the webhook's own answer bytes, writing its log line and counting its metrics, nothing decided): ` +
    `${fmt(floorMs, 3)} ms of CPU per admission, ${fmt((baselineMs / floorMs) * 100, 0)}% of the baseline's capacity. ` +
    `The contract costs ${fmt((floorMs - baselineMs) * 1000, 0)} µs per admission over the baseline; the webhook's own work (body budget, decision, building the answer and the line) ${fmt((webhookMs - floorMs) * 1000, 0)} µs.`;
  const common = { loadAverage: timing.loadAverage, seconds: timing.seconds };
  return [
    {
      id: 'warm',
      title: '1. warm: one cached image',
      ...common,
      params: { image: image[0], connections: LEVELS, durationSeconds: duration },
      figures: { levels: rows.map((r) => ({ connections: r.connections, ...level(r.webhook) })), awsCallsWhileMeasured: calls, webhookMetrics: metrics },
      rows: rows.map((r) => rowOf(`${r.connections} connection${r.connections === 1 ? '' : 's'}`, r.webhook, { awsCalls: 0, cpuMs: r.webhookCpuMs })),
      peakRssMiB: { webhook: webhookMemory.peakRssMiB },
      targets: [
        { name: 'warm p99 at 16 connections', target: '< 5 ms', value: `${fmt(at16.webhook.latencyMs.p99, 2)} ms`, met: at16.webhook.latencyMs.p99 < 5 },
      ],
      notes,
    },
    {
      id: 'baseline',
      title: '2. baseline: allow-all Fastify, same TLS',
      ...common,
      params: { connections: LEVELS, durationSeconds: duration },
      figures: {
        levels: rows.map((r) => ({ connections: r.connections, ...level(r.baseline) })),
        warmOverBaseline: ratios,
        contractFloor16: { ...level(floor16!.phase), cpuMsPerAdmission: Math.round(floorMs * 10_000) / 10_000 },
      },
      rows: [
        ...rows.map((r) => rowOf(`${r.connections} connection${r.connections === 1 ? '' : 's'}`, r.baseline, { cpuMs: r.baselineCpuMs })),
        rowOf('contract floor, 16 connections', floor16!.phase, { cpuMs: floor16!.cpuMs }),
      ],
      peakRssMiB: { baseline: baselineMemory.peakRssMiB },
      targets: [
        ...rows.map((r) => {
          const ratio = r.webhook.requestsPerSecond / r.baseline.requestsPerSecond;
          return {
            name: `warm/baseline throughput at ${r.connections} connection${r.connections === 1 ? '' : 's'}`,
            target: '>= 70%',
            value: `${fmt(ratio * 100, 0)}% (${fmt(r.webhook.requestsPerSecond, 0)} vs ${fmt(r.baseline.requestsPerSecond, 0)} req/s)`,
            met: ratio >= 0.7,
          };
        }),
        // The load generator shares the 2 cores and caps both servers' req/s; CPU per request
        // is what each server would need on a core of its own.
        {
          name: "warm/baseline capacity at 16 connections (baseline CPU ms per admission / webhook's)",
          target: '>= 70%',
          value: `${fmt((at16.baselineCpuMs / at16.baseline.completed / (at16.webhookCpuMs / at16.webhook.completed)) * 100, 0)}% (${fmt(at16.webhookCpuMs / at16.webhook.completed, 3)} vs ${fmt(at16.baselineCpuMs / at16.baseline.completed, 3)} ms)`,
          met: at16.baselineCpuMs / at16.baseline.completed / (at16.webhookCpuMs / at16.webhook.completed) >= 0.7,
        },
      ],
      notes: [`Best ratio over the levels: ${fmt(best * 100, 0)}%.`, floorNote],
    },
  ];
}
