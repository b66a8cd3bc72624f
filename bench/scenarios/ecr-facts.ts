// Issue 3's figures: with 50 ms injected per AWS call, the latency of a cold admission and of
// a warm one, and the AWS calls that 1000 admissions of 10 distinct images cost. Run twice:
// with the ECR-facts policy of that issue (origin, digest, immutability: every call is an ECR
// call) and with the full policy (signature and vulnerabilities too).
import { runLoad, metricSummary } from '../lib/procs.ts';
import type { PhaseResult } from '../lib/load-types.ts';
import { fmt, rowOf, timed, type BenchContext, type ScenarioResult } from './context.ts';

export const ECR_FACTS_LATENCY_MS = 50;

export async function ecrFacts(ctx: BenchContext): Promise<ScenarioResult[]> {
  const { timeoutSeconds, latencyMs } = ctx.settings;
  const coldCount = ctx.scaled(20, 5);
  const admissions = ctx.scaled(1000, 100);
  const out: ScenarioResult[] = [];
  await ctx.sandbox.setLatency(ECR_FACTS_LATENCY_MS);
  try {
    for (const ecrOnly of [true, false]) {
      const id = ecrOnly ? 'ecr-facts-50ms' : 'ecr-facts-50ms-full';
      ctx.log(`  ${id}`);
      const webhook = await ctx.webhook({ ecrOnly });
      const coldImages = ctx.images('ecrfacts', 0, coldCount + 1);
      const ten = ctx.images('ecrfacts-ten', 0, 10);
      let cold: PhaseResult | undefined;
      let warm: PhaseResult | undefined;
      let burst: PhaseResult | undefined;
      let calls = await ctx.sandbox.calls();
      const timing = await timed(async () => {
        // The first admission also opens the SDK's connections: not counted as cold.
        [cold, warm] = await runLoad(
          {
            url: webhook.url,
            timeoutSeconds,
            phases: [
              { name: 'warm-up', connections: 1, amount: 1, images: coldImages.slice(0, 1), record: false },
              { name: 'cold', connections: 1, amount: coldCount, images: coldImages.slice(1), record: true, classify: true },
              { name: 'warm', connections: 1, duration: 3, images: coldImages.slice(1, 2), record: true, classify: true },
            ],
          },
          ctx.dir,
          `${id}-latency`,
        );
        await ctx.sandbox.resetCalls();
        [burst] = await runLoad(
          {
            url: webhook.url,
            timeoutSeconds,
            phases: [{ name: '1000 over 10 images', connections: 16, amount: admissions, images: ten, record: true, classify: true }],
          },
          ctx.dir,
          `${id}-ten`,
        );
        calls = await ctx.sandbox.calls();
      });
      const metrics = metricSummary(await webhook.metrics());
      const memory = webhook.memory();
      await webhook.stop();
      const c = cold!;
      const w = warm!;
      const b = burst!;
      out.push({
        id,
        title: `issue 3: ${ecrOnly ? 'ECR-facts policy (digest, immutability)' : 'full policy'}, ${ECR_FACTS_LATENCY_MS} ms per AWS call`,
        ...timing,
        params: {
          injectedLatencyMs: ECR_FACTS_LATENCY_MS,
          policy: ecrOnly ? 'origin, digest, immutability' : 'all checks',
          coldImages: coldCount,
          admissions,
          distinctImages: 10,
          connections: 16,
        },
        figures: {
          coldLatencyMs: c.latencyMs,
          warmLatencyMs: w.latencyMs,
          warmRequestsPerSecond: w.requestsPerSecond,
          tenImages: {
            admissions: b.completed,
            latencyMs: b.latencyMs,
            allowed: b.decisions?.allowed ?? 0,
            awsCalls: calls.total,
            awsCallsPer1000: Math.round((calls.total / Math.max(1, b.completed)) * 1000 * 10) / 10,
            distinctFacts: calls.distinct,
            awsCallsByOp: calls.byOp,
          },
          decisions: { cold: c.decisions, warm: w.decisions },
          webhookMetrics: metrics,
        },
        rows: [
          rowOf('cold, 1 connection', c),
          rowOf('warm, 1 connection', w),
          rowOf(`${b.completed} admissions of 10 images, 16 connections`, b, { awsCalls: calls.total }),
        ],
        peakRssMiB: { webhook: memory.peakRssMiB },
        targets: [],
        notes: [
          `cold p50 ${fmt(c.latencyMs.p50)} ms, warm p50 ${fmt(w.latencyMs.p50, 2)} ms; ${calls.total} AWS calls for ${b.completed} admissions of 10 images (${calls.distinct} distinct requests).`,
        ],
      });
    }
  } finally {
    await ctx.sandbox.setLatency(latencyMs);
  }
  return out;
}
