// What the vulnerabilities check costs in AWS calls and round trips, measured against the
// AWS sandbox through the real SDK clients with a per-call latency. Not a test: run it with
//   node bench/vulnerabilities.ts [--latency-ms 25] [--admissions 1000] [--concurrency 20]
// and read the numbers it prints.
//
// 1. Inspector calls per 1000 admissions of a Pod with 10 images (default TTLs, one process).
// 2. The same with the findings TTL shrunk to 1 s over a few seconds of steady load, to show
//    that calls follow the TTL (one refresh per image per TTL), not the admission rate.
// 3. Round trips of a cold decision: single image, multi-arch index, BASIC registry, and an
//    image once the registry's scanning configuration is cached. A "round trip" is a wave of
//    calls the sandbox received together (arrival times within half the latency).
import { parseArgs } from 'node:util';
import { pino } from 'pino';
import { createPolicyStore } from '../src/policy/store.ts';
import { createRuntime, type Runtime } from '../src/cli/wiring.ts';
import { createMetrics } from '../src/support/metrics.ts';
import { ociImage, ociIndex, startSandbox, type ImageFixture, type Sandbox, type SandboxFixture } from '../src/dev/sandbox/index.ts';
import type { AdmissionRequest } from '../src/admission/codec.ts';

const { values: args } = parseArgs({
  options: {
    'latency-ms': { type: 'string', default: '25' },
    admissions: { type: 'string', default: '1000' },
    concurrency: { type: 'string', default: '20' },
  },
});
const LATENCY = Number(args['latency-ms']);
const ADMISSIONS = Number(args.admissions);
const CONCURRENCY = Number(args.concurrency);

const ACCOUNT = '111122223333';
const REGION = 'us-east-1';
const BASIC_REGION = 'us-west-2';
const host = (region: string) => `${ACCOUNT}.dkr.ecr.${region}.amazonaws.com`;
const CREDENTIALS = { accessKeyId: 'AKIDBENCH', secretAccessKey: 'bench' };

function world(): SandboxFixture {
  const pod = Array.from({ length: 10 }, (_, i) => ({
    name: `app-${i}`,
    tagMutability: 'IMMUTABLE' as const,
    images: [
      ociImage({
        seed: `app-${i}`,
        tags: ['1'],
        findings: [
          { vulnerabilityId: `CVE-2025-${1000 + i}`, severity: 'MEDIUM', packages: [{ name: 'openssl', version: '3.0.13', fixedInVersion: '3.0.14' }] },
          ...(i === 9
            ? [{ vulnerabilityId: 'CVE-2024-3094', severity: 'CRITICAL' as const, packages: [{ name: 'xz-utils', version: '5.6.0', fixedInVersion: '5.6.1' }] }]
            : []),
        ],
      }),
    ],
  }));
  const platform = (arch: string): ImageFixture => ociImage({ seed: `multi-${arch}`, platform: { os: 'linux', architecture: arch } });
  return {
    defaultAccount: ACCOUNT,
    accounts: {
      [ACCOUNT]: {
        regions: {
          [REGION]: {
            scanType: 'ENHANCED',
            repositories: [
              ...pod,
              { name: 'single', images: [ociImage({ seed: 'single', tags: ['1'] })] },
              { name: 'other', images: [ociImage({ seed: 'other', tags: ['1'] })] },
              { name: 'multi', images: [ociIndex({ tags: ['1'], children: [platform('amd64'), platform('arm64'), platform('s390x')] })] },
            ],
          },
          [BASIC_REGION]: {
            scanType: 'BASIC',
            repositories: [{ name: 'single', images: [ociImage({ seed: 'basic', tags: ['1'], scanStatus: { status: 'COMPLETE' }, basicFindings: [] })] }],
          },
        },
      },
    },
  };
}

const POLICY = (cache = '') => `
registries:
  ecr:
    - accountId: "${ACCOUNT}"
checks:
  vulnerabilities: {}
${cache}`;

let uid = 0;
function podRequest(images: readonly string[]): AdmissionRequest {
  uid++;
  return {
    uid: `bench-${uid}`,
    kind: { group: '', version: 'v1', kind: 'Pod' },
    operation: 'CREATE',
    namespace: 'team-a',
    name: `pod-${uid}`,
    object: {
      apiVersion: 'v1',
      kind: 'Pod',
      metadata: { name: `pod-${uid}`, namespace: 'team-a' },
      spec: { containers: images.map((image, i) => ({ name: `c${i}`, image })) },
    },
  };
}

async function setUp(policy: string): Promise<{ sandbox: Sandbox; runtime: Runtime; close: () => Promise<void> }> {
  const sandbox = await startSandbox({ fixture: world(), latencyMs: LATENCY });
  const logger = pino({ level: 'silent' });
  const metrics = createMetrics();
  const policyStore = createPolicyStore({ text: policy, logger, metrics });
  const runtime = createRuntime({ policyStore, logger, metrics, budgetMs: 10_000, env: sandbox.endpoints(), credentials: CREDENTIALS });
  return {
    sandbox,
    runtime,
    close: async () => {
      await runtime.close();
      await sandbox.close();
    },
  };
}

const POD = Array.from({ length: 10 }, (_, i) => `${host(REGION)}/app-${i}:1`);

function callTable(sandbox: Sandbox): Record<string, number> {
  const ops = new Map<string, number>();
  for (const c of sandbox.callLog()) ops.set(c.op, (ops.get(c.op) ?? 0) + 1);
  return Object.fromEntries([...ops.entries()].sort());
}

async function runPool(count: number, concurrency: number, task: () => Promise<unknown>): Promise<void> {
  let next = 0;
  await Promise.all(
    Array.from({ length: concurrency }, async () => {
      while (next < count) {
        next++;
        await task();
        await new Promise((resolve) => setImmediate(resolve));
      }
    }),
  );
}

async function perThousand(): Promise<void> {
  const env = await setUp(POLICY());
  const started = performance.now();
  let denied = 0;
  await runPool(ADMISSIONS, CONCURRENCY, async () => {
    const out = await env.runtime.reviewer.review(podRequest(POD));
    if (!out.response.allowed) denied++;
  });
  const ms = performance.now() - started;
  const calls = callTable(env.sandbox);
  const inspector = env.sandbox.calls('inspector2:*');
  console.log(
    `\n1. ${ADMISSIONS} admissions of a Pod with 10 images (concurrency ${CONCURRENCY}, ${LATENCY} ms per AWS call): ${ms.toFixed(0)} ms, ${denied} denied`,
  );
  console.log(
    `   Inspector calls: ${inspector} (${((inspector * 1000) / ADMISSIONS).toFixed(1)} per 1000 admissions, ${((inspector / (ADMISSIONS * 10)) * 1000).toFixed(2)} per 1000 image checks)`,
  );
  console.log('   all AWS calls:', calls);
  await env.close();
}

async function steadyState(): Promise<void> {
  const seconds = 5;
  const env = await setUp(POLICY('cache:\n  ttlSeconds: { findings: 1 }\n  staleSeconds: 1\n'));
  const until = Date.now() + seconds * 1000;
  let admissions = 0;
  await Promise.all(
    Array.from({ length: CONCURRENCY }, async () => {
      while (Date.now() < until) {
        admissions++;
        await env.runtime.reviewer.review(podRequest(POD));
        // A cached decision resolves in microtasks only; yield to I/O as a server between
        // requests does, or the background refreshes could never complete.
        await new Promise((resolve) => setImmediate(resolve));
      }
    }),
  );
  const inspector = env.sandbox.calls('inspector2:*');
  const loads = inspector / 10 / 2;
  console.log(`\n2. Steady load for ${seconds} s with a 1 s findings TTL (stale-while-revalidate 1 s): ${admissions} admissions of the 10-image Pod`);
  console.log(
    `   Inspector calls: ${inspector} = ${loads.toFixed(1)} loads per image (1 cold + ${(loads - 1).toFixed(1)} background refreshes, ListCoverage + ListFindings each), ` +
      `${((inspector * 1000) / admissions).toFixed(1)} per 1000 admissions`,
  );
  console.log('   so calls follow the TTL, not the admission rate: with the default 300 s TTL, 2 Inspector calls per image per 5 minutes in use');
  await env.close();
}

/** Groups the calls into waves: calls that arrived within half a latency of the wave's first. */
function waves(sandbox: Sandbox): string[][] {
  const log = sandbox.callLog();
  const out: Array<{ at: number; ops: string[] }> = [];
  for (const c of log) {
    const last = out.at(-1);
    if (last && c.at - last.at < LATENCY / 2) last.ops.push(c.op);
    else out.push({ at: c.at, ops: [c.op] });
  }
  return out.map((w) => w.ops);
}

async function coldDecision(): Promise<void> {
  console.log(`\n3. Round trips of a cold decision (${LATENCY} ms per AWS call; digest check + vulnerabilities check)`);
  // The process's first SDK calls pay one-off costs (module loading, client set-up) that would
  // split a wave in two; a throwaway runtime pays them first.
  const warm = await setUp(POLICY());
  await warm.runtime.reviewer.review(podRequest([`${host(BASIC_REGION)}/single:1`, `${host(REGION)}/single:1`]));
  await warm.close();
  const cases: Array<[string, string[], string?]> = [
    ['single-arch image, nothing cached', [`${host(REGION)}/single:1`]],
    ['multi-arch index of 3 platforms, nothing cached', [`${host(REGION)}/multi:1`]],
    ['image in a BASIC registry, nothing cached', [`${host(BASIC_REGION)}/single:1`]],
    ['new image, registry scanning configuration already cached', [`${host(REGION)}/other:1`], `${host(REGION)}/single:1`],
  ];
  for (const [title, images, warmUp] of cases) {
    const env = await setUp(POLICY());
    if (warmUp) {
      await env.runtime.reviewer.review(podRequest([warmUp]));
      env.sandbox.resetCalls();
    }
    const started = performance.now();
    const out = await env.runtime.reviewer.review(podRequest(images));
    const ms = performance.now() - started;
    const w = waves(env.sandbox);
    console.log(`   ${title}: ${w.length} round trips, ${env.sandbox.calls()} calls, ${ms.toFixed(0)} ms (${out.response.allowed ? 'allowed' : 'denied'})`);
    w.forEach((ops, i) => console.log(`     ${i + 1}. ${ops.join(' + ')}`));
    await env.close();
  }
}

await perThousand();
await steadyState();
await coldDecision();
