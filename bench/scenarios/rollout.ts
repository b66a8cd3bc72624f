// Scenario 4: a 1000-replica rollout of one (uncached) image at the pace a ReplicaSet
// controller creates Pods. kube-controller-manager's API client defaults are --kube-api-qps=20
// and --kube-api-burst=30 (token bucket), and the ReplicaSet controller creates Pods in
// slow-start batches (1, 2, 4, ... up to burstReplicas 500) whose creates the limiter paces:
// so 30 creates at once, then 20 per second. Modelled as a burst of 30 concurrent
// admissions, then the rest at 20/s (autocannon releases each connection's quota at the start
// of each second, a little burstier than the token bucket). Every fact must be fetched once per
// lifetime: the burst's concurrent misses share one in-flight call each, the rest hit the cache
// until the answer expires (a tag's digest after the mutableTag TTL, 15 s: lib/lifetimes.ts).
import { runLoad, metricSummary } from '../lib/procs.ts';
import { summarize } from '../lib/stats.ts';
import { factLifetimes } from '../lib/lifetimes.ts';
import { fmt, rowOf, timed, withCpu, type BenchContext, type ScenarioResult } from './context.ts';

export const CONTROLLER_QPS = 20;
export const CONTROLLER_BURST = 30;

export async function rollout(ctx: BenchContext): Promise<ScenarioResult> {
  const total = ctx.scaled(1000, CONTROLLER_BURST + 20);
  const image = ctx.images('rollout', 0, 1);
  const webhook = await ctx.webhook();
  await ctx.sandbox.resetCalls();
  const {
    value: { value: phases, cpuMs },
    ...timing
  } = await timed(() =>
    withCpu(webhook, () =>
      runLoad(
        {
          url: webhook.url,
          timeoutSeconds: ctx.settings.timeoutSeconds,
          phases: [
            { name: 'burst', connections: CONTROLLER_BURST, amount: CONTROLLER_BURST, images: image, record: true, classify: true, raw: true },
            {
              name: 'paced',
              connections: CONTROLLER_QPS,
              amount: total - CONTROLLER_BURST,
              overallRate: CONTROLLER_QPS,
              images: image,
              record: true,
              classify: true,
              raw: true,
            },
          ],
        },
        ctx.dir,
        'rollout',
      ),
    ),
  );
  const calls = await ctx.sandbox.calls();
  const lifetimes = factLifetimes(await ctx.sandbox.requests(), ctx.tagTtlMs());
  const metrics = metricSummary(await webhook.metrics());
  const memory = webhook.memory();
  await webhook.stop();

  const latencies = phases.flatMap((p) => p.latencies ?? []);
  const all = summarize(latencies);
  const allowed = phases.reduce((a, p) => a + (p.decisions?.allowed ?? 0), 0);
  const errors = phases.reduce((a, p) => a + p.errors + p.timeouts + p.non2xx, 0);
  const perFact = calls.total / Math.max(1, calls.distinct);
  const perLifetime = lifetimes.calls / Math.max(1, lifetimes.lifetimes);
  return {
    id: 'rollout',
    title: `4. rollout: ${total} admissions of one image at ${CONTROLLER_QPS} QPS, burst ${CONTROLLER_BURST}`,
    ...timing,
    params: { image: image[0], admissions: total, qps: CONTROLLER_QPS, burst: CONTROLLER_BURST, injectedLatencyMs: ctx.settings.latencyMs },
    figures: {
      admissions: all.count,
      allowed,
      errorsAndTimeouts: errors,
      latencyMs: all,
      burstLatencyMs: phases[0]?.latencyMs,
      pacedLatencyMs: phases[1]?.latencyMs,
      awsCalls: calls.total,
      distinctFacts: calls.distinct,
      factLifetimes: lifetimes,
      awsCallsByOp: calls.byOp,
      webhookMetrics: metrics,
    },
    rows: [rowOf(`burst ${CONTROLLER_BURST} then ${CONTROLLER_QPS}/s`, { completed: all.count, latencyMs: all }, { awsCalls: calls.total, cpuMs })],
    peakRssMiB: { webhook: memory.peakRssMiB },
    targets: [
      {
        name: 'rollout: AWS calls per fact lifetime (none while the fact is fresh or in flight)',
        target: '<= 1',
        value: `${fmt(perLifetime, 2)} (${lifetimes.calls} calls, ${lifetimes.lifetimes} lifetimes of ${lifetimes.requests} distinct requests; ${fmt(perFact, 2)} per distinct request)`,
        met: perLifetime <= 1,
      },
      { name: 'rollout: errors and timeouts', target: '0', value: String(errors + (all.count - allowed)), met: errors === 0 && allowed === all.count },
    ],
    notes: [
      `AWS calls: ${calls.total} for ${calls.distinct} distinct requests; the ${lifetimes.lifetimes - lifetimes.requests} beyond one per request are a tag's digest resolved again after its ${ctx.tagTtlMs() / 1000} s TTL (the rollout lasts ${fmt(timing.seconds, 0)} s), ${lifetimes.redundant} made while a fact was still fresh or in flight.`,
      `p99 over all ${all.count} admissions ${fmt(all.p99)} ms; the burst's first admissions wait for the cold chain (max ${fmt(all.max)} ms).`,
    ],
  };
}
