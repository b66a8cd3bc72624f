// Scenario 5: 10,000 distinct images through a cache of 1,000 entries (policy
// cache.maxEntries): every admission is cold and evicts older facts. What it shows: memory
// stays bounded (peak RSS) and latency does not degrade as the cache churns.
import { runLoad, metricSummary } from '../lib/procs.ts';
import { fmt, rowOf, sampleRss, timed, withCpu, type BenchContext, type ScenarioResult } from './context.ts';

export const CHURN_CACHE_ENTRIES = 1000;
const CONNECTIONS = 16;

export async function churn(ctx: BenchContext): Promise<ScenarioResult> {
  const count = Math.min(ctx.layout.churn?.count ?? 0, ctx.scaled(10_000, 100));
  const images = ctx.images('churn', 0, count);
  const webhook = await ctx.webhook({ maxEntries: CHURN_CACHE_ENTRIES });
  const startMemory = webhook.memory();
  const sampler = sampleRss(webhook.pid);
  await ctx.sandbox.resetCalls();
  const sandboxCpuBefore = ctx.sandbox.cpuMs();
  const {
    value: {
      value: [phase],
      cpuMs,
    },
    ...timing
  } = await timed(() =>
    withCpu(webhook, () =>
      runLoad(
        {
          url: webhook.url,
          timeoutSeconds: ctx.settings.timeoutSeconds,
          phases: [{ name: 'churn', connections: CONNECTIONS, amount: count, images, record: true, classify: true }],
        },
        ctx.dir,
        'churn',
      ),
    ),
  );
  const samples = sampler.stop();
  const sandboxCpuMs = ctx.sandbox.cpuMs() - sandboxCpuBefore;
  const calls = await ctx.sandbox.calls();
  const metrics = metricSummary(await webhook.metrics());
  const memory = webhook.memory();
  await webhook.stop();
  const p = phase!;
  return {
    id: 'churn',
    title: `5. churn: ${count} distinct images, cache of ${CHURN_CACHE_ENTRIES} entries`,
    ...timing,
    params: {
      images: count,
      cacheMaxEntries: CHURN_CACHE_ENTRIES,
      connections: CONNECTIONS,
      injectedLatencyMs: ctx.settings.latencyMs,
      regions: ctx.layout.churn?.regions?.length ?? 1,
    },
    figures: {
      admissions: p.completed,
      requestsPerSecond: p.requestsPerSecond,
      latencyMs: p.latencyMs,
      decisions: p.decisions,
      errors: p.errors,
      timeouts: p.timeouts,
      awsCalls: calls.total,
      awsCallsPerAdmission: Math.round((calls.total / Math.max(1, p.completed)) * 100) / 100,
      sandboxCpuMsPerAdmission: Math.round((sandboxCpuMs / Math.max(1, p.completed)) * 100) / 100,
      rssAtStartMiB: startMemory.rssMiB,
      rssSamplesMaxMiB: Math.max(...samples, 0),
      rssAtEndMiB: memory.rssMiB,
      webhookMetrics: metrics,
    },
    rows: [rowOf(`${CONNECTIONS} connections`, p, { awsCalls: calls.total, cpuMs })],
    peakRssMiB: { webhook: memory.peakRssMiB },
    targets: [{ name: 'churn: peak RSS of the webhook', target: '< 200 MiB', value: `${fmt(memory.peakRssMiB)} MiB`, met: memory.peakRssMiB < 200 }],
    notes: [
      `p99 ${fmt(p.latencyMs.p99)} ms at ${CONNECTIONS} connections (closed loop, ${fmt(p.requestsPerSecond)} admissions/s); ${p.decisions?.allowed ?? 0} of ${p.completed} allowed.`,
      `Cache entries at the end: ${metrics.cacheEntries} (bound ${CHURN_CACHE_ENTRIES}).`,
    ],
  };
}
