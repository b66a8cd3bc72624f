// Scenario 6: AWS throttles half of all calls (the sandbox answers ThrottlingException /
// 429 / S3 SlowDown with probability 0.5, seeded). Cold images, so every admission needs
// AWS. What matters: the API server gets an answer before its timeout, and how many
// decisions were made on facts rather than by onError. Two variants: every call throttled
// (including the pre-signed S3 download of the signature envelope), and only the API calls
// (ECR, Inspector, Signer), which isolates what the envelope download contributes.
import { runLoad, metricSummary } from '../lib/procs.ts';
import type { PhaseResult } from '../lib/load-types.ts';
import { fmt, rowOf, timed, type BenchContext, type ScenarioResult } from './context.ts';

const CONNECTIONS = 8;
const PROBABILITY = 0.5;

interface Variant {
  readonly id: string;
  readonly title: string;
  readonly ops: readonly string[];
}

const VARIANTS: readonly Variant[] = [
  { id: 'degraded', title: '6. degraded: 50% of all AWS calls throttled', ops: ['*'] },
  {
    id: 'degraded-api',
    title: '6b. degraded: 50% of ECR, Inspector and Signer API calls throttled (S3 envelope downloads not)',
    ops: ['ecr:*', 'inspector2:*', 'signer:*'],
  },
];

export async function degraded(ctx: BenchContext): Promise<ScenarioResult[]> {
  const count = ctx.scaled(200, 16);
  const { budgetMs, timeoutSeconds } = ctx.settings;
  const out: ScenarioResult[] = [];
  for (const [i, variant] of VARIANTS.entries()) {
    ctx.log(`  ${variant.id}`);
    const images = ctx.images('degraded', i * count, count);
    const webhook = await ctx.webhook();
    // One unthrottled admission of another image warms connections and the registry facts.
    await runLoad(
      { url: webhook.url, timeoutSeconds, phases: [{ name: 'warm-up', connections: 1, amount: 1, images: ctx.images('warm', 0, 1), record: false }] },
      ctx.dir,
      `${variant.id}-warmup`,
    );
    await ctx.sandbox.resetCalls();
    for (const op of variant.ops) await ctx.sandbox.inject(op, { kind: 'throttle', probability: PROBABILITY });
    let phase: PhaseResult | undefined;
    let cpuMs = 0;
    const timing = await timed(async () => {
      try {
        const before = webhook.cpuMs();
        [phase] = await runLoad(
          {
            url: webhook.url,
            timeoutSeconds,
            phases: [{ name: variant.id, connections: CONNECTIONS, amount: count, images, record: true, classify: true, raw: true }],
          },
          ctx.dir,
          variant.id,
        );
        cpuMs = webhook.cpuMs() - before;
      } finally {
        await ctx.sandbox.clearFaults();
      }
    });
    const calls = await ctx.sandbox.calls();
    const metrics = metricSummary(await webhook.metrics());
    const memory = webhook.memory();
    await webhook.stop();

    const p = phase!;
    const latencies = p.latencies ?? [];
    const sent = p.completed + p.timeouts + p.errors;
    const inBudget = latencies.filter((l) => l <= budgetMs).length;
    const onFacts = (p.decisions?.allowed ?? 0) + (p.decisions?.deniedByVerdict ?? 0);
    const share = (n: number) => Math.round((n / Math.max(1, sent)) * 1000) / 10;
    const throttled = Object.entries(calls.byStatus)
      .filter(([s]) => s === '400' || s === '429' || s === '503')
      .reduce((a, [, n]) => a + n, 0);
    out.push({
      id: variant.id,
      title: variant.title,
      ...timing,
      params: {
        throttledOps: variant.ops,
        probability: PROBABILITY,
        images: count,
        connections: CONNECTIONS,
        budgetMs,
        apiServerTimeoutSeconds: timeoutSeconds,
        injectedLatencyMs: ctx.settings.latencyMs,
      },
      figures: {
        admissions: sent,
        latencyMs: p.latencyMs,
        timeouts: p.timeouts,
        errors: p.errors,
        withinBudgetPercent: share(inBudget),
        answeredBeforeApiServerTimeoutPercent: share(p.completed),
        decidedOnFactsPercent: share(onFacts),
        decisions: p.decisions,
        awsCalls: calls.total,
        awsCallsThrottled: throttled,
        awsCallsByOp: calls.byOp,
        webhookMetrics: metrics,
      },
      rows: [rowOf(`${CONNECTIONS} connections`, p, { awsCalls: calls.total, cpuMs })],
      peakRssMiB: { webhook: memory.peakRssMiB },
      targets: [
        {
          name: `${variant.id}: decisions answered before the API server's ${timeoutSeconds} s timeout`,
          target: '100%',
          value: `${fmt(share(p.completed))}% (${p.completed} of ${sent}; p99 ${fmt(p.latencyMs.p99, 0)} ms)`,
          met: p.completed === sent && p.timeouts === 0 && p.errors === 0,
        },
      ],
      notes: [
        `${fmt(share(inBudget))}% of decisions within the ${budgetMs} ms budget, ${fmt(share(p.completed))}% answered before the API server's ${timeoutSeconds} s timeout; ${fmt(share(onFacts))}% decided on facts, the rest denied by onError: deny.`,
        `Checks that ended in error: ${JSON.stringify(p.decisions?.checkErrors ?? {})}.`,
        ...(p.decisions?.samples.slice(0, 1).map((m) => `Example denial: ${m.split('\n').slice(0, 2).join(' / ').slice(0, 300)}`) ?? []),
      ],
    });
  }
  return out;
}
