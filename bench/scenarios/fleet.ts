// Issue 16: a fleet of webhook processes sharing one redis-server (Debian's, started like the
// tests start it), and AWS events through the sandbox's SQS.
//
// fleet: three webhook processes, as three replicas behind a Service, under the rollout load
// (one uncached image, a controller's burst then its pace, split over the three) and a churn
// load (distinct images, each admitted once by every replica), first without the shared level,
// then with it: AWS calls per distinct fact (the sandbox's (operation, input) pairs). Then the
// latency a shared-cache hit adds to a local miss: images admitted by one process, then by
// another (local miss, shared hit), then by that one again (local hit).
//
// The policy is the bench policy without the signature check: signature verdicts are decisions
// (they depend on the trust policy) and stay in their process by design, so their calls
// (referrers, envelope manifest and blob) are made once per replica; Signer revocation answers
// are facts and are shared. The vulnerabilities, immutability and digest checks are on.
//
// freshness: the same three processes with events: an image admitted by all three, a CRITICAL
// finding added to it, the Inspector2 Finding event put on the queue: the time until the first
// admission denies, and until every replica has denied. Without events the bound is the
// findings TTL (300 s by default).
import { request } from 'node:https';
import { runLoad, metricSummary, type ServerProcess } from '../lib/procs.ts';
import { podReview } from '../lib/review.ts';
import { summarize } from '../lib/stats.ts';
import { factLifetimes } from '../lib/lifetimes.ts';
import { BENCH_ACCOUNT } from '../lib/fixture.ts';
import { startRedisServer, type RedisServer } from '../../test/helpers/redis-server.ts';
import { fmt, rowOf, timed, type BenchContext, type Row, type ScenarioResult } from './context.ts';

const REPLICAS = 3;
const QPS = 20;
const BURST = 30;

/** The bench policy without the signature check, with the shared level and/or events. */
function fleetPolicy(options: { redis?: RedisServer; queue?: { url: string; region: string } }) {
  return (text: string) => {
    let out = text.replace(/ {2}signature:\n(?: {4}.*\n)+/, '');
    if (options.redis) out += `  shared:\n    url: ${options.redis.url}\n    opTimeoutMs: 500\n`;
    if (options.queue) out += `events:\n  sqsQueueUrl: ${options.queue.url}\n  region: ${options.queue.region}\n  waitTimeSeconds: 20\n`;
    return out;
  };
}

async function startFleet(ctx: BenchContext, options: { redis?: RedisServer; queue?: { url: string; region: string } }): Promise<ServerProcess[]> {
  const webhooks: ServerProcess[] = [];
  for (let i = 0; i < REPLICAS; i++) webhooks.push(await ctx.webhook({ policy: fleetPolicy(options) }));
  return webhooks;
}

async function stopAll(webhooks: readonly ServerProcess[]): Promise<void> {
  for (const w of webhooks) await w.stop();
}

/** One admission, its decision: allowed or not. */
function admit(url: string, image: string, n: number): Promise<boolean> {
  const body = podReview(`fleet-${n}`, image, n);
  return new Promise((resolve, reject) => {
    const req = request(
      `${url}/validate`,
      { method: 'POST', rejectUnauthorized: false, headers: { 'content-type': 'application/json', 'content-length': Buffer.byteLength(body) } },
      (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (c: Buffer) => chunks.push(c));
        res.on('end', () => {
          try {
            resolve((JSON.parse(Buffer.concat(chunks).toString('utf8')) as { response: { allowed: boolean } }).response.allowed);
          } catch (e) {
            reject(e instanceof Error ? e : new Error(String(e)));
          }
        });
      },
    );
    req.on('error', reject);
    req.end(body);
  });
}

interface LoadFigures {
  awsCalls: number;
  byOp: Record<string, number>;
  distinct: number;
  perFact: number;
  /** Fact lifetimes (lib/lifetimes.ts): a tag's resolution expires with the mutableTag TTL. */
  lifetimes: number;
  perLifetime: number;
  admissions: number;
  allowed: number;
  errors: number;
  p99: number;
}

async function rolloutOver(ctx: BenchContext, webhooks: readonly ServerProcess[], image: string[], total: number, name: string): Promise<LoadFigures> {
  await ctx.sandbox.resetCalls();
  const share = Math.ceil(total / webhooks.length);
  const results = await Promise.all(
    webhooks.map((w, i) =>
      runLoad(
        {
          url: w.url,
          timeoutSeconds: ctx.settings.timeoutSeconds,
          phases: [
            { name: 'burst', connections: BURST / REPLICAS, amount: BURST / REPLICAS, images: image, record: true, classify: true, raw: true },
            {
              name: 'paced',
              connections: QPS / 4,
              amount: Math.max(1, share - BURST / REPLICAS),
              overallRate: QPS / REPLICAS,
              images: image,
              record: true,
              classify: true,
              raw: true,
            },
          ],
        },
        ctx.dir,
        `${name}-${i}`,
      ),
    ),
  );
  return figures(ctx, results.flat());
}

async function churnOver(ctx: BenchContext, webhooks: readonly ServerProcess[], images: string[], name: string): Promise<LoadFigures> {
  await ctx.sandbox.resetCalls();
  // Every replica admits every image once, each starting at its own offset (a Deployment's Pods
  // land on different replicas at different times).
  const results = await Promise.all(
    webhooks.map((w, i) => {
      const offset = Math.floor((i * images.length) / webhooks.length);
      const rotated = [...images.slice(offset), ...images.slice(0, offset)];
      return runLoad(
        {
          url: w.url,
          timeoutSeconds: ctx.settings.timeoutSeconds,
          phases: [{ name: 'churn', connections: 4, amount: rotated.length, images: rotated, record: true, classify: true, raw: true }],
        },
        ctx.dir,
        `${name}-${i}`,
      );
    }),
  );
  return figures(ctx, results.flat());
}

async function figures(ctx: BenchContext, phases: Awaited<ReturnType<typeof runLoad>>): Promise<LoadFigures> {
  const calls = await ctx.sandbox.calls();
  const lifetimes = factLifetimes(await ctx.sandbox.requests(), ctx.tagTtlMs());
  const all = summarize(phases.flatMap((p) => p.latencies ?? []));
  return {
    awsCalls: calls.total,
    byOp: calls.byOp,
    distinct: calls.distinct,
    perFact: Math.round((calls.total / Math.max(1, calls.distinct)) * 100) / 100,
    lifetimes: lifetimes.lifetimes,
    perLifetime: Math.round((lifetimes.calls / Math.max(1, lifetimes.lifetimes)) * 100) / 100,
    admissions: all.count,
    allowed: phases.reduce((a, p) => a + (p.decisions?.allowed ?? 0), 0),
    errors: phases.reduce((a, p) => a + p.errors + p.timeouts + p.non2xx, 0),
    p99: all.p99,
  };
}

export async function fleet(ctx: BenchContext): Promise<ScenarioResult> {
  const rolloutTotal = ctx.scaled(1000, 60);
  const churnCount = Math.min(ctx.layout.fleet?.count ?? 0, ctx.scaled(300, 30));
  const rolloutImage = ctx.images('rollout', 0, 1);
  const churnImages = ctx.images('fleet', 0, churnCount);
  const latencyImages = ctx.images('fleet', churnCount, Math.min(ctx.scaled(50, 10), (ctx.layout.fleet?.count ?? 0) - churnCount));

  const { value, ...timing } = await timed(async () => {
    const without = await startFleet(ctx, {});
    const rolloutWithout = await rolloutOver(ctx, without, rolloutImage, rolloutTotal, 'fleet-rollout-local');
    const churnWithout = await churnOver(ctx, without, churnImages, 'fleet-churn-local');
    await stopAll(without);

    const redis = await startRedisServer();
    try {
      const withShared = await startFleet(ctx, { redis });
      const rolloutShared = await rolloutOver(ctx, withShared, rolloutImage, rolloutTotal, 'fleet-rollout-shared');
      const churnShared = await churnOver(ctx, withShared, churnImages, 'fleet-churn-shared');
      const metrics = metricSummary(await withShared[1]!.metrics());
      const sharedText = await withShared[1]!.metrics();
      await stopAll(withShared);

      // Latency of a shared hit: A loads (cold), B reads (local miss, shared hit), B again (local hit).
      const [a, b] = [await ctx.webhook({ policy: fleetPolicy({ redis }) }), await ctx.webhook({ policy: fleetPolicy({ redis }) })];
      const one = (w: ServerProcess, name: string) =>
        runLoad(
          {
            url: w.url,
            timeoutSeconds: ctx.settings.timeoutSeconds,
            phases: [{ name, connections: 1, amount: latencyImages.length, images: latencyImages, record: true, classify: true, raw: true }],
          },
          ctx.dir,
          `fleet-${name}`,
        );
      await ctx.sandbox.resetCalls();
      const [cold] = await one(a, 'cold');
      const coldCalls = (await ctx.sandbox.calls()).total;
      await ctx.sandbox.resetCalls();
      const [sharedHit] = await one(b, 'shared-hit');
      const sharedHitCalls = (await ctx.sandbox.calls()).total;
      const [localHit] = await one(b, 'local-hit');
      await stopAll([a, b]);
      return {
        rolloutWithout,
        churnWithout,
        rolloutShared,
        churnShared,
        metrics,
        sharedText,
        cold: cold!,
        sharedHit: sharedHit!,
        localHit: localHit!,
        coldCalls,
        sharedHitCalls,
      };
    } finally {
      await redis.stop();
    }
  });
  const v = value;
  const sharedEvents = [...v.sharedText.matchAll(/^ecr_admission_shared_cache_events_total\{fact="([^"]+)",event="([^"]+)"\} (\d+)/gm)].map(
    (m) => `${m[1]}/${m[2]}=${m[3]}`,
  );
  const added = v.sharedHit.latencyMs.p50 - v.localHit.latencyMs.p50;
  const loadRow = (measure: string, f: LoadFigures): Row => ({ measure, admissions: f.admissions, p99: f.p99, awsCalls: f.awsCalls });
  return {
    id: 'fleet',
    title: `fleet: ${REPLICAS} webhook processes sharing one redis-server (rollout ${rolloutTotal} admissions, churn ${churnCount} images x ${REPLICAS})`,
    ...timing,
    params: {
      replicas: REPLICAS,
      rolloutAdmissions: rolloutTotal,
      churnImages: churnCount,
      latencyImages: latencyImages.length,
      injectedLatencyMs: ctx.settings.latencyMs,
    },
    figures: {
      rolloutWithout: v.rolloutWithout,
      churnWithout: v.churnWithout,
      rolloutShared: v.rolloutShared,
      churnShared: v.churnShared,
      coldLatencyMs: v.cold.latencyMs,
      sharedHitLatencyMs: v.sharedHit.latencyMs,
      localHitLatencyMs: v.localHit.latencyMs,
      coldAwsCalls: v.coldCalls,
      sharedHitAwsCalls: v.sharedHitCalls,
      sharedCacheEvents: sharedEvents,
      webhookMetrics: v.metrics,
    },
    rows: [
      loadRow('rollout, no shared level', v.rolloutWithout),
      loadRow('rollout, shared level', v.rolloutShared),
      loadRow('churn, no shared level', v.churnWithout),
      loadRow('churn, shared level', v.churnShared),
      rowOf('cold (AWS), 1 connection', { completed: v.cold.completed, latencyMs: v.cold.latencyMs }, { awsCalls: v.coldCalls }),
      rowOf('local miss, shared hit', { completed: v.sharedHit.completed, latencyMs: v.sharedHit.latencyMs }, { awsCalls: v.sharedHitCalls }),
      rowOf('local hit', { completed: v.localHit.completed, latencyMs: v.localHit.latencyMs }),
    ],
    peakRssMiB: {},
    targets: [
      {
        name: 'fleet rollout: AWS calls per fact lifetime, shared',
        target: '<= 1.1',
        value: `${fmt(v.rolloutShared.perLifetime, 2)} (without: ${fmt(v.rolloutWithout.perLifetime, 2)}; per distinct request ${fmt(v.rolloutShared.perFact, 2)} and ${fmt(v.rolloutWithout.perFact, 2)})`,
        met: v.rolloutShared.perLifetime <= 1.1,
      },
      {
        name: 'fleet churn: AWS calls per fact lifetime, shared',
        target: '<= 1.1',
        value: `${fmt(v.churnShared.perLifetime, 2)} (without: ${fmt(v.churnWithout.perLifetime, 2)}; per distinct request ${fmt(v.churnShared.perFact, 2)} and ${fmt(v.churnWithout.perFact, 2)})`,
        met: v.churnShared.perLifetime <= 1.1,
      },
      {
        name: 'fleet: errors, timeouts and denials',
        target: '0',
        value: String([v.rolloutWithout, v.rolloutShared, v.churnWithout, v.churnShared].reduce((n, f) => n + f.errors + (f.admissions - f.allowed), 0)),
        met: [v.rolloutWithout, v.rolloutShared, v.churnWithout, v.churnShared].every((f) => f.errors === 0 && f.allowed === f.admissions),
      },
    ],
    notes: [
      `A shared hit adds ${fmt(added, 2)} ms p50 to a local hit (${fmt(v.sharedHit.latencyMs.p50, 2)} vs ${fmt(v.localHit.latencyMs.p50, 2)} ms) and makes ${v.sharedHitCalls} AWS calls; the cold admission took ${fmt(v.cold.latencyMs.p50, 1)} ms p50 with ${v.coldCalls} calls.`,
      'Policy: the bench policy without the signature check (verdicts are decisions, kept per process).',
    ],
  };
}

const envelope = (digest: string, region: string, repository: string) =>
  JSON.stringify({
    version: '0',
    id: crypto.randomUUID(),
    'detail-type': 'Inspector2 Finding',
    source: 'aws.inspector2',
    account: BENCH_ACCOUNT,
    time: new Date().toISOString(),
    region,
    resources: [],
    detail: {
      awsAccountId: BENCH_ACCOUNT,
      severity: 'CRITICAL',
      status: 'ACTIVE',
      type: 'PACKAGE_VULNERABILITY',
      resources: [
        {
          type: 'AWS_ECR_CONTAINER_IMAGE',
          region,
          id: `arn:aws:ecr:${region}:${BENCH_ACCOUNT}:repository/${repository}/${digest}`,
          details: { awsEcrContainerImage: { registry: BENCH_ACCOUNT, repositoryName: repository, imageHash: digest } },
        },
      ],
    },
  });

export async function freshness(ctx: BenchContext): Promise<ScenarioResult> {
  const group = ctx.layout.fresh!;
  const count = group.count;
  const images = ctx.images('fresh', 0, count);
  const region = group.regions![0]!;
  const { value, ...timing } = await timed(async () => {
    const redis = await startRedisServer();
    const queue = { url: await ctx.sandbox.createQueue('ecr-admission-events', region), region };
    const webhooks = await startFleet(ctx, { redis, queue });
    const first: number[] = [];
    const everyone: number[] = [];
    let n = 0;
    try {
      for (const image of images) {
        for (const w of webhooks) if (!(await admit(w.url, image, ++n))) throw new Error(`${image} denied before its finding`);
        const repository = image.slice(image.indexOf('/') + 1, image.lastIndexOf(':'));
        const [digest] = await ctx.sandbox.addCriticalFinding(region, repository);
        const t0 = performance.now();
        await ctx.sandbox.sendMessage(queue.url, envelope(digest!, region, repository));
        const denied = new Set<number>();
        let firstAt: number | undefined;
        while (denied.size < webhooks.length && performance.now() - t0 < 30_000) {
          for (const [i, w] of webhooks.entries()) {
            if (denied.has(i)) continue;
            if (!(await admit(w.url, image, ++n))) {
              denied.add(i);
              firstAt ??= performance.now() - t0;
            }
          }
          if (denied.size < webhooks.length) await new Promise((r) => setTimeout(r, 10));
        }
        first.push(firstAt ?? Infinity);
        everyone.push(denied.size === webhooks.length ? performance.now() - t0 : Infinity);
      }
    } finally {
      await stopAll(webhooks);
      await redis.stop();
    }
    return { first: summarize(first), everyone: summarize(everyone) };
  });
  return {
    id: 'freshness',
    title: `freshness: Inspector finding event to the first denying admission (${count} images, ${REPLICAS} replicas sharing a cache)`,
    ...timing,
    params: { images: count, replicas: REPLICAS, injectedLatencyMs: ctx.settings.latencyMs },
    figures: { firstDenialMs: value.first, everyReplicaDeniesMs: value.everyone },
    rows: [
      rowOf('event -> first denial', { completed: value.first.count, latencyMs: value.first }),
      rowOf('event -> every replica denies', { completed: value.everyone.count, latencyMs: value.everyone }),
    ],
    peakRssMiB: {},
    targets: [
      { name: 'freshness: finding event to first denial', target: '< 2000 ms', value: `${fmt(value.first.max, 0)} ms max`, met: value.first.max < 2000 },
    ],
    notes: ['Without events a new finding is seen when the cached report expires: up to cache.ttlSeconds.findings (300 s by default).'],
  };
}
