// Digest pinning (issue 14): what the mutating call adds to an admission. One Pod at a time (1
// connection, no queueing), as the API server sends it: POST /mutate, the patch applied to the
// Pod, POST /validate of the pinned Pod; against POST /validate of the tag-only Pod alone.
//   cold: distinct images (one repository each), a fresh webhook per arm, so every fact is fetched;
//   warm: one image, cached by the arm's cold phase.
// Figures: latency of the whole admission (mutate + validate, or validate) and AWS calls per
// admission (the sandbox's own counters). Pinning resolves through the validating webhook's own
// fact cache, so the mutate+validate arm should cost no more calls than validate alone (fewer:
// the immutability check passes a digest reference without DescribeRepositories).
import { Agent, request } from 'node:https';
import { podReview } from '../lib/review.ts';
import { summarize, type LatencySummary } from '../lib/stats.ts';
import { fmt, timed, withCpu, type BenchContext, type Row, type ScenarioResult } from './context.ts';

interface Answer {
  readonly allowed: boolean;
  readonly patch?: string;
}

function post(agent: Agent, url: string, body: string): Promise<Answer> {
  return new Promise((resolve, reject) => {
    const req = request(
      url,
      // The webhook serves a self-signed pair (no --tls-cert): the load generator does the same.
      { method: 'POST', agent, rejectUnauthorized: false, headers: { 'content-type': 'application/json', 'content-length': Buffer.byteLength(body) } },
      (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (c: Buffer) => chunks.push(c));
        res.on('end', () => {
          if (res.statusCode !== 200) return reject(new Error(`${url}: ${res.statusCode} ${Buffer.concat(chunks).toString('utf8').slice(0, 200)}`));
          const review = JSON.parse(Buffer.concat(chunks).toString('utf8')) as { response: { allowed: boolean; patch?: string } };
          resolve({ allowed: review.response.allowed, ...(review.response.patch !== undefined && { patch: review.response.patch }) });
        });
        res.on('error', reject);
      },
    );
    req.on('error', reject);
    req.end(body);
  });
}

/** The review with the patch's replace operations applied to its object, as the API server would. */
function patched(review: string, patch: string): string {
  const body = JSON.parse(review) as { request: { uid: string; object: Record<string, unknown> } };
  const ops = JSON.parse(Buffer.from(patch, 'base64').toString('utf8')) as Array<{ op: string; path: string; value: unknown }>;
  for (const op of ops) {
    if (op.op !== 'replace') throw new Error(`unexpected patch operation ${op.op}`);
    const tokens = op.path
      .slice(1)
      .split('/')
      .map((t) => t.replaceAll('~1', '/').replaceAll('~0', '~'));
    let node = body.request.object;
    for (const t of tokens.slice(0, -1)) node = node[t] as Record<string, unknown>;
    node[tokens.at(-1)!] = op.value;
  }
  return JSON.stringify(body);
}

interface Arm {
  readonly latencyMs: LatencySummary;
  readonly mutateMs?: LatencySummary;
  readonly admissions: number;
  readonly allowed: number;
  readonly pinned: number;
  readonly awsCalls: number;
  readonly awsCallsByOp: Record<string, number>;
  readonly cpuMs: number;
}

let uid = 0;

async function runArm(ctx: BenchContext, webhook: { url: string; cpuMs(): number }, images: readonly string[], pin: boolean): Promise<Arm> {
  const agent = new Agent({ keepAlive: true, maxSockets: 1 });
  const latencies: number[] = [];
  const mutateLatencies: number[] = [];
  let allowed = 0;
  let pinned = 0;
  await ctx.sandbox.resetCalls();
  const { cpuMs } = await withCpu(webhook, async () => {
    for (const [i, image] of images.entries()) {
      const review = podReview(`pin-${++uid}`, image, uid);
      const started = performance.now();
      let toValidate = review;
      if (pin) {
        const mutated = await post(agent, `${webhook.url}/mutate`, review);
        mutateLatencies.push(performance.now() - started);
        if (mutated.patch !== undefined) {
          pinned++;
          toValidate = patched(review, mutated.patch);
        }
      }
      const answer = await post(agent, `${webhook.url}/validate`, toValidate);
      latencies.push(performance.now() - started);
      if (answer.allowed) allowed++;
      if (i === 0 && !answer.allowed) ctx.log(`bench: pinning: ${image} was denied; the figures are of a denial`);
    }
  });
  agent.destroy();
  const counts = await ctx.sandbox.calls();
  return {
    latencyMs: summarize(latencies),
    ...(pin && { mutateMs: summarize(mutateLatencies) }),
    admissions: images.length,
    allowed,
    pinned,
    awsCalls: counts.total,
    awsCallsByOp: counts.byOp,
    cpuMs,
  };
}

const perAdmission = (n: number, of: number) => Math.round((n / Math.max(1, of)) * 100) / 100;

function row(measure: string, arm: Arm): Row {
  return {
    measure,
    admissions: arm.admissions,
    p50: arm.latencyMs.p50,
    p99: arm.latencyMs.p99,
    max: arm.latencyMs.max,
    awsCalls: arm.awsCalls,
    cpuMsPerAdmission: Math.round((arm.cpuMs / Math.max(1, arm.admissions)) * 1000) / 1000,
  };
}

export async function pinning(ctx: BenchContext): Promise<ScenarioResult> {
  const coldCount = ctx.scaled(50, 8);
  const warmCount = ctx.scaled(200, 20);
  const validateCold = ctx.images('pin', 0, coldCount);
  const pinCold = ctx.images('pin', coldCount, coldCount);
  const arms: Record<string, Arm> = {};
  const peak: Record<string, number> = {};
  const timing = await timed(async () => {
    for (const [name, images, pin] of [
      ['validate', validateCold, false],
      ['mutate+validate', pinCold, true],
    ] as const) {
      // A fresh process per arm: both start with empty caches and the same warm connections.
      const webhook = await ctx.webhook();
      try {
        arms[`${name} cold`] = await runArm(ctx, webhook, images, pin);
        arms[`${name} warm`] = await runArm(ctx, webhook, Array<string>(warmCount).fill(images[0]!), pin);
        peak[name] = webhook.memory().peakRssMiB;
      } finally {
        await webhook.stop();
      }
    }
  });
  const a = (k: string) => arms[k]!;
  const coldCalls = {
    validate: perAdmission(a('validate cold').awsCalls, coldCount),
    pinned: perAdmission(a('mutate+validate cold').awsCalls, coldCount),
  };
  const { latencyMs } = ctx.settings;
  return {
    id: 'pinning',
    title: 'pinning: mutate + validate of one Pod vs validate alone (issue 14)',
    ...timing,
    params: { injectedLatencyMs: latencyMs, coldImages: coldCount, warmAdmissions: warmCount, connections: 1 },
    figures: {
      ...Object.fromEntries(
        Object.entries(arms).map(([k, v]) => [
          k,
          { ...v, awsCallsPerAdmission: perAdmission(v.awsCalls, v.admissions), cpuMsPerAdmission: perAdmission(v.cpuMs, v.admissions) },
        ]),
      ),
    },
    rows: Object.entries(arms).map(([k, v]) => row(`${k}, ${latencyMs} ms/call`, v)),
    peakRssMiB: { webhookValidate: peak.validate ?? 0, webhookMutateValidate: peak['mutate+validate'] ?? 0 },
    targets: [
      {
        name: 'cold: AWS calls per admission, mutate + validate vs validate alone',
        target: `<= ${coldCalls.validate}`,
        value: `${coldCalls.pinned}`,
        met: coldCalls.pinned <= coldCalls.validate,
      },
      {
        name: 'warm: AWS calls, mutate + validate',
        target: '0',
        value: `${a('mutate+validate warm').awsCalls}`,
        met: a('mutate+validate warm').awsCalls === 0,
      },
      {
        name: 'every cold Pod pinned',
        target: `${coldCount}`,
        value: `${a('mutate+validate cold').pinned}`,
        met: a('mutate+validate cold').pinned === coldCount,
      },
    ],
    notes: [
      `Cold p50: ${fmt(a('mutate+validate cold').latencyMs.p50)} ms mutate + validate (mutate ${fmt(a('mutate+validate cold').mutateMs?.p50 ?? 0)} ms of it) vs ${fmt(a('validate cold').latencyMs.p50)} ms validate alone: the mutating call resolves the tag (BatchGetImage), which the validating call then reads from the cache.`,
      `Warm p50: ${fmt(a('mutate+validate warm').latencyMs.p50)} ms vs ${fmt(a('validate warm').latencyMs.p50)} ms: the second HTTPS round trip and our own work, no AWS call.`,
      `AWS calls per cold admission: ${coldCalls.pinned} pinned vs ${coldCalls.validate} alone (by operation: ${JSON.stringify(a('mutate+validate cold').awsCallsByOp)} vs ${JSON.stringify(a('validate cold').awsCallsByOp)}, totals over ${coldCount} admissions).`,
    ],
  };
}
