// Soak: the real webhook (`node src/main.ts serve`, its own process, TLS on 127.0.0.1) under a
// steady rate of mixed admissions for a few minutes, against the AWS sandbox with 5% of AWS
// calls failing (throttles, 5xx, resets, refusals, expired tokens, malformed answers, answers
// slower than the deadline). Short cache TTLs and a small cache keep AWS in every minute.
// Reports requests, errors, missed deadlines, wrong decisions, latency, and the webhook's RSS
// from start to end. Not part of `make test`.
//
//   node bench/soak.ts                      # 180 s at 50 admissions/s
//   SOAK_SECONDS=600 SOAK_RATE=100 node bench/soak.ts
//   SOAK_FAULT_RATE=0.05 SOAK_BUDGET_MS=2000 SOAK_OUT=/tmp/soak.json node bench/soak.ts
import { spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, writeFileSync, openSync, closeSync } from 'node:fs';
import { Agent, request } from 'node:https';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { once } from 'node:events';
import { buildAwsSignerShapedChain } from '../src/dev/notation/testchain.ts';
import { signEnvelope } from '../src/dev/notation/sign.ts';
import { generateSelfSigned } from '../src/server/self-signed.ts';
import { imageDescriptor, ociImage, startSandbox, type FaultKind, type ImageFixture, type SandboxFixture } from '../src/dev/sandbox/index.ts';

const SECONDS = Number(process.env.SOAK_SECONDS ?? 180);
const RATE = Number(process.env.SOAK_RATE ?? 50);
const FAULT_RATE = Number(process.env.SOAK_FAULT_RATE ?? 0.05);
const BUDGET_MS = Number(process.env.SOAK_BUDGET_MS ?? 2000);
/** A response later than this missed the API server's webhook timeout. */
const DEADLINE_MS = BUDGET_MS + 1000;
const WARMUP_S = 10;
/** The chart's default NODE_OPTIONS (values.yaml server.nodeOptions): the heap as deployed.
 *  Without them V8 on a large machine grows its heap far past what the webhook uses. */
const NODE_FLAGS = (process.env.SOAK_NODE_FLAGS ?? '--max-old-space-size=128 --max-semi-space-size=4').split(' ').filter(Boolean);
const ROOT = resolve(import.meta.dirname, '..');
const ACCOUNT = '111122223333';
const REGION = 'us-east-1';
const HOST = `${ACCOUNT}.dkr.ecr.${REGION}.amazonaws.com`;
const PROFILE = `arn:aws:signer:${REGION}:${ACCOUNT}:/signing-profiles/release`;

function seededRandom(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = Math.imul(a ^ (a >>> 15), a | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}
const random = seededRandom(7);

// --- the world: signed clean images, unsigned ones, signed ones with a CRITICAL finding ---
const dir = mkdtempSync(join(tmpdir(), 'ecr-admission-soak-'));
const chain = await buildAwsSignerShapedChain();
writeFileSync(join(dir, 'root.pem'), chain.rootPem);
function signed(image: ImageFixture, n: number): ImageFixture {
  const d = imageDescriptor(image);
  const s = signEnvelope({
    format: n % 2 === 0 ? 'jws' : 'cose',
    target: { digest: d.digest, mediaType: d.mediaType, size: d.size },
    certificates: chain.certificates,
    privateKey: chain.leafKey,
    aws: { profileVersionArn: `${PROFILE}/v1`, jobArn: `arn:aws:signer:${REGION}:${ACCOUNT}:/signing-jobs/job-${n}` },
  });
  image.signatures = [{ envelope: s.envelope, envelopeMediaType: s.mediaType }];
  return image;
}
const GROUPS = { good: 240, unsigned: 30, vulnerable: 30 } as const;
type Group = keyof typeof GROUPS;
const repositories: SandboxFixture['accounts'][string]['regions'][string]['repositories'] = [];
for (const [group, count] of Object.entries(GROUPS) as Array<[Group, number]>) {
  for (let r = 0; r < count / 10; r++) {
    const images = Array.from({ length: 10 }, (_, i) => {
      const n = r * 10 + i;
      const image = ociImage({
        seed: `${group}-${n}`,
        tags: [`v${i}`],
        scanStatus: { status: 'ACTIVE' },
        ...(group === 'vulnerable' && {
          findings: [
            {
              vulnerabilityId: `CVE-2024-${1000 + n}`,
              severity: 'CRITICAL' as const,
              packages: [{ name: 'openssl', version: '3.0.0', fixedInVersion: '3.0.1' }],
            },
          ],
        }),
      });
      return group === 'unsigned' ? image : signed(image, n);
    });
    repositories.push({ name: `soak/${group}-${r}`, tagMutability: 'IMMUTABLE', images });
  }
}
const imageOf = (group: Group, n: number) => `${HOST}/soak/${group}-${Math.floor(n / 10)}:v${n % 10}`;
const sandbox = await startSandbox({
  fixture: { defaultAccount: ACCOUNT, accounts: { [ACCOUNT]: { regions: { [REGION]: { repositories } } } } },
  random: seededRandom(11),
});

// 5% of all AWS calls fail, spread evenly over eight kinds of failure.
const KINDS: FaultKind[] = ['throttle', 'server-error', 'unavailable', 'reset', 'access-denied', 'expired-token', 'malformed', 'slow'];
const perKind = 1 - (1 - FAULT_RATE) ** (1 / KINDS.length);
for (const kind of KINDS) sandbox.inject('*', { kind, probability: perKind, ...(kind === 'slow' && { delayMs: BUDGET_MS * 2 }) });

// --- the webhook, as deployed: policy file, TLS files, endpoints from the standard variables ---
const pair = await generateSelfSigned(['127.0.0.1']);
writeFileSync(join(dir, 'tls.crt'), pair.cert);
writeFileSync(join(dir, 'tls.key'), pair.key);
writeFileSync(
  join(dir, 'policy.yaml'),
  `mode: enforce
onError: deny
registries:
  ecr: [{ accountId: "${ACCOUNT}", regions: [${REGION}] }]
  allow: ["registry.k8s.io/pause:*"]
checks:
  immutability: true
  signature:
    trustStores: [{ type: signingAuthority, path: ${join(dir, 'root.pem')} }]
    trustedIdentities: ["${PROFILE}"]
  vulnerabilities:
    denySeverities: [CRITICAL]
cache:
  maxEntries: 1000
  ttlSeconds: { mutableTag: 5, immutableTag: 20, repository: 20, digest: 20, revocation: 20, findings: 20, notFound: 5 }
  staleSeconds: 5
`,
);
const logPath = join(dir, 'webhook.log');
const log = openSync(logPath, 'w');
const webhook = spawn(
  process.execPath,
  [
    ...NODE_FLAGS,
    join(ROOT, 'src/main.ts'),
    'serve',
    '--config',
    join(dir, 'policy.yaml'),
    '--tls-cert',
    join(dir, 'tls.crt'),
    '--tls-key',
    join(dir, 'tls.key'),
    '--port',
    '0',
    '--health-port',
    '0',
    '--host',
    '127.0.0.1',
    '--budget-ms',
    String(BUDGET_MS),
    '--log-level',
    'info',
  ],
  {
    cwd: ROOT,
    stdio: ['ignore', log, log],
    env: {
      PATH: process.env.PATH ?? '',
      HOME: tmpdir(),
      ...sandbox.endpoints(),
      AWS_ACCESS_KEY_ID: 'AKIDSANDBOX',
      AWS_SECRET_ACCESS_KEY: 'sandbox',
      AWS_EC2_METADATA_DISABLED: 'true',
    },
  },
);
closeSync(log);
let exited: string | undefined;
webhook.once('exit', (code, signal) => {
  exited = `code ${code}, signal ${signal}`;
});
let ports: { port: number; healthPort: number } | undefined;
for (const started = Date.now(); !ports; await new Promise((r) => setTimeout(r, 100))) {
  if (exited || Date.now() - started > 60_000) throw new Error(`the webhook did not start (${exited ?? 'timeout'}); see ${logPath}`);
  const line = readFileSync(logPath, 'utf8')
    .split('\n')
    .find((l) => l.includes('"ecr-admission serving"'));
  if (line) ports = JSON.parse(line) as { port: number; healthPort: number };
}

function memory(): { rssMiB: number; peakMiB: number } {
  const status = readFileSync(`/proc/${webhook.pid}/status`, 'utf8');
  const kb = (field: string) => Number(new RegExp(`^${field}:\\s+(\\d+) kB`, 'm').exec(status)?.[1]);
  return { rssMiB: Math.round(kb('VmRSS') / 102.4) / 10, peakMiB: Math.round(kb('VmHWM') / 102.4) / 10 };
}
/** The webhook's own view of its memory, from /metrics, in MiB. */
async function runtimeMemory(): Promise<{ heapUsed: number; heapTotal: number; external: number }> {
  const text = await (await fetch(`http://127.0.0.1:${ports!.healthPort}/metrics`)).text();
  const mib = (name: string) => Math.round(Number(new RegExp(`^nodejs_${name} (\\S+)$`, 'm').exec(text)?.[1]) / 104857.6) / 10;
  return { heapUsed: mib('heap_size_used_bytes'), heapTotal: mib('heap_size_total_bytes'), external: mib('external_memory_bytes') };
}
const heapMiB = async () => (await runtimeMemory()).heapUsed;

// --- the load: one AdmissionReview every 1000/RATE ms, whether or not earlier ones answered ---
type Pick = { image: string; bad: boolean };
function pickImage(): Pick {
  const x = random();
  if (x < 0.7) return { image: imageOf('good', Math.floor(random() * GROUPS.good)), bad: false };
  if (x < 0.82) return { image: imageOf('unsigned', Math.floor(random() * GROUPS.unsigned)), bad: true };
  if (x < 0.9) return { image: imageOf('vulnerable', Math.floor(random() * GROUPS.vulnerable)), bad: true };
  if (x < 0.95) return { image: 'registry.k8s.io/pause:3.10', bad: false };
  return { image: `ghcr.io/example/tool:${Math.floor(random() * 50)}`, bad: true };
}
function review(uid: string, picks: Pick[]): string {
  return JSON.stringify({
    apiVersion: 'admission.k8s.io/v1',
    kind: 'AdmissionReview',
    request: {
      uid,
      kind: { group: '', version: 'v1', kind: 'Pod' },
      resource: { group: '', version: 'v1', resource: 'pods' },
      name: `soak-${uid}`,
      namespace: 'team-a',
      operation: 'CREATE',
      userInfo: { username: 'system:serviceaccount:kube-system:replicaset-controller' },
      object: {
        apiVersion: 'v1',
        kind: 'Pod',
        metadata: { name: `soak-${uid}`, namespace: 'team-a' },
        spec: { containers: picks.map((p, i) => ({ name: `c${i}`, image: p.image, env: [{ name: 'MODE', value: 'soak' }] })) },
      },
      oldObject: null,
      dryRun: false,
    },
  });
}

const agent = new Agent({ keepAlive: true, maxSockets: 64, ca: pair.caPem });
function post(body: string): Promise<{ status: number; body: string }> {
  return new Promise((resolvePost, reject) => {
    const req = request(
      {
        host: '127.0.0.1',
        port: ports!.port,
        path: '/validate',
        method: 'POST',
        agent,
        headers: { 'content-type': 'application/json', 'content-length': Buffer.byteLength(body) },
        timeout: DEADLINE_MS * 3,
      },
      (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (c: Buffer) => chunks.push(c));
        res.on('end', () => resolvePost({ status: res.statusCode ?? 0, body: Buffer.concat(chunks).toString('utf8') }));
        res.on('error', reject);
      },
    );
    req.on('timeout', () => req.destroy(new Error('no answer')));
    req.on('error', reject);
    req.end(body);
  });
}

const stats = {
  sent: 0,
  answered: 0,
  transportErrors: 0,
  httpErrors: 0,
  missedDeadlines: 0,
  allowed: 0,
  denied: 0,
  deniedByAwsError: 0,
  wrongAdmits: 0,
  wrongDenials: 0,
};
const latencies: number[] = [];
const samples: Array<{ at: number; rssMiB: number; heapMiB: number; inFlight: number }> = [];
const SAMPLE_EVERY_S = Number(process.env.SOAK_SAMPLE_SECONDS ?? 15);
let inFlight = 0;
const firstErrors: string[] = [];

async function one(n: number): Promise<void> {
  const picks = Array.from({ length: 1 + Math.floor(random() * random() * 3) }, pickImage);
  const bad = picks.some((p) => p.bad);
  const started = performance.now();
  stats.sent++;
  inFlight++;
  try {
    const answer = await post(review(`soak-${n}`, picks));
    const ms = performance.now() - started;
    latencies.push(ms);
    stats.answered++;
    if (ms > DEADLINE_MS) stats.missedDeadlines++;
    if (answer.status !== 200) {
      stats.httpErrors++;
      if (firstErrors.length < 5) firstErrors.push(`HTTP ${answer.status}: ${answer.body.slice(0, 200)}`);
      return;
    }
    const response = (JSON.parse(answer.body) as { response: { allowed: boolean; status?: { message?: string } } }).response;
    if (response.allowed) {
      stats.allowed++;
      if (bad) stats.wrongAdmits++;
    } else {
      stats.denied++;
      const message = response.status?.message ?? '';
      const awsError = /could not be verified/.test(message);
      if (awsError) stats.deniedByAwsError++;
      if (!bad && !awsError) {
        stats.wrongDenials++;
        if (firstErrors.length < 5) firstErrors.push(`good pod denied: ${message.slice(0, 300)}`);
      }
    }
  } catch (err) {
    stats.transportErrors++;
    stats.missedDeadlines++;
    if (firstErrors.length < 5) firstErrors.push(`transport: ${(err as Error).message}`);
  } finally {
    inFlight--;
  }
}

const memoryAtStart = memory();
const heapAtStart = await heapMiB();
process.stdout.write(
  `soak: ${SECONDS} s at ${RATE}/s, ${(FAULT_RATE * 100).toFixed(1)}% of AWS calls failing, budget ${BUDGET_MS} ms; webhook pid ${webhook.pid} (node ${NODE_FLAGS.join(' ')}), RSS ${memoryAtStart.rssMiB} MiB\n`,
);
const pending = new Set<Promise<void>>();
const t0 = performance.now();
let memoryAfterWarmup = memoryAtStart;
let heapAfterWarmup = heapAtStart;
let nextSample = 0;
for (let n = 0; ; n++) {
  const due = t0 + (n * 1000) / RATE;
  const now = performance.now();
  if (now - t0 >= SECONDS * 1000 || exited) break;
  if (due > now) await new Promise((r) => setTimeout(r, due - now));
  const p = one(n).finally(() => pending.delete(p));
  pending.add(p);
  const elapsed = (performance.now() - t0) / 1000;
  if (elapsed >= nextSample) {
    nextSample += SAMPLE_EVERY_S;
    const m = memory();
    const runtime = await runtimeMemory();
    const heap = runtime.heapUsed;
    samples.push({ at: Math.round(elapsed), rssMiB: m.rssMiB, heapMiB: heap, inFlight });
    if (elapsed >= WARMUP_S && memoryAfterWarmup === memoryAtStart) {
      memoryAfterWarmup = m;
      heapAfterWarmup = heap;
    }
    process.stdout.write(
      `  ${String(Math.round(elapsed)).padStart(4)} s  sent ${stats.sent}  RSS ${m.rssMiB} MiB  heap ${heap}/${runtime.heapTotal} MiB  external ${runtime.external} MiB  in flight ${inFlight}  missed ${stats.missedDeadlines}  errors ${stats.transportErrors + stats.httpErrors}\n`,
    );
  }
}
await Promise.all(pending);
const elapsedS = (performance.now() - t0) / 1000;
const memoryAtEnd = memory();
const heapAtEnd = await heapMiB();
const calls = sandbox.callLog();
const awsCalls = sandbox.calls();
// Throttles, 5xx, refusals and resets show in the status; malformed and slow answers are 200s.
const faulted = calls.filter((c) => c.status === 0 || c.status >= 400).length;
const logLines = readFileSync(logPath, 'utf8').split('\n').filter(Boolean);
const errorLines = logLines.filter((l) => /"level":(50|60)/.test(l));
const alive = !exited && webhook.exitCode === null;

latencies.sort((a, b) => a - b);
const pct = (p: number) => Math.round(latencies[Math.min(latencies.length - 1, Math.floor((p / 100) * latencies.length))] ?? 0);
const result = {
  seconds: Math.round(elapsedS),
  rate: RATE,
  nodeFlags: NODE_FLAGS,
  budgetMs: BUDGET_MS,
  deadlineMs: DEADLINE_MS,
  faultRate: FAULT_RATE,
  requests: stats.sent,
  answered: stats.answered,
  transportErrors: stats.transportErrors,
  httpErrors: stats.httpErrors,
  missedDeadlines: stats.missedDeadlines,
  allowed: stats.allowed,
  denied: stats.denied,
  deniedByAwsError: stats.deniedByAwsError,
  wrongAdmits: stats.wrongAdmits,
  wrongDenials: stats.wrongDenials,
  latencyMs: { p50: pct(50), p90: pct(90), p99: pct(99), max: Math.round(latencies[latencies.length - 1] ?? 0) },
  awsCalls,
  awsCallsWithErrorStatusOrReset: faulted,
  webhook: { alive, exited: exited ?? null, errorLogLines: errorLines.length, logLines: logLines.length },
  rssMiB: { start: memoryAtStart.rssMiB, afterWarmup: memoryAfterWarmup.rssMiB, end: memoryAtEnd.rssMiB, peak: memoryAtEnd.peakMiB },
  heapMiB: { start: heapAtStart, afterWarmup: heapAfterWarmup, end: heapAtEnd },
  samples,
  firstErrors,
};
process.stdout
  .write(`\nrequests ${result.requests} in ${result.seconds} s (answered ${result.answered}): allowed ${result.allowed}, denied ${result.denied} (${result.deniedByAwsError} by an AWS error under onError deny)
errors: transport ${result.transportErrors}, HTTP ${result.httpErrors}; missed deadlines (> ${DEADLINE_MS} ms or none): ${result.missedDeadlines}
wrong decisions: bad images admitted ${result.wrongAdmits}, good pods denied without an AWS error ${result.wrongDenials}
latency ms: p50 ${result.latencyMs.p50}, p90 ${result.latencyMs.p90}, p99 ${result.latencyMs.p99}, max ${result.latencyMs.max}
AWS calls ${awsCalls}, of which answered with an error status or reset ${faulted} (malformed and slow answers are not counted here)
webhook: ${alive ? 'alive' : `EXITED (${exited})`}, ${errorLines.length} error log lines of ${logLines.length}
RSS MiB: start ${result.rssMiB.start}, after ${WARMUP_S} s ${result.rssMiB.afterWarmup}, end ${result.rssMiB.end}, peak ${result.rssMiB.peak}; heap MiB: ${result.heapMiB.start} -> ${result.heapMiB.afterWarmup} -> ${result.heapMiB.end}
${firstErrors.length > 0 ? `first problems:\n  ${firstErrors.join('\n  ')}\n` : ''}`);
if (process.env.SOAK_OUT) writeFileSync(process.env.SOAK_OUT, `${JSON.stringify(result, null, 2)}\n`);

agent.destroy();
webhook.kill('SIGTERM');
await once(webhook, 'exit').catch(() => undefined);
await sandbox.close();
const failed = !alive || result.missedDeadlines > 0 || result.wrongAdmits > 0 || result.wrongDenials > 0 || result.transportErrors + result.httpErrors > 0;
process.exitCode = failed ? 1 : 0;
