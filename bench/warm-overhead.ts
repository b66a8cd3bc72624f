// Micro-benchmark (issue 18): the CPU one warm admission costs above an allow-all handler, with
// no TLS and no sockets: the webhook's Fastify app (buildWebhookApp, the runtime `serve` wires,
// a policy that allows the image by pattern, an info log line per admission) and an allow-all
// Fastify app, each given the same AdmissionReview through inject(), interleaved, measured with
// process.cpuUsage(). What is left is our own work: body budget, decoding, the decision, the log
// line, metrics, serialisation.
//
//   node bench/warm-overhead.ts [--admissions 15000] [--rounds 2] [--sync-log]
//
// --sync-log writes the log line synchronously, as serve did before issue 18. The log goes to
// /dev/null: the cost measured is building and handing over the line, not the disk.
import { openSync } from 'node:fs';
import { parseArgs } from 'node:util';
import Fastify, { type FastifyInstance } from 'fastify';
import { pino } from 'pino';
import { buildWebhookApp } from '../src/server/app.ts';
import { createPolicyStore } from '../src/policy/store.ts';
import { createRuntime } from '../src/cli/wiring.ts';
import { createMetrics } from '../src/support/metrics.ts';
import { asyncLogDestination } from '../src/cli/log-destination.ts';
import { podReview } from './lib/review.ts';

const { values } = parseArgs({
  options: { admissions: { type: 'string', default: '15000' }, rounds: { type: 'string', default: '2' }, 'sync-log': { type: 'boolean', default: false } },
});
const N = Number(values.admissions);
const ECR = '111122223333.dkr.ecr.us-east-1.amazonaws.com';
const payload = podReview('bench-1', `${ECR}/bench/warm-0:v1`, 1);
const devNull = openSync('/dev/null', 'w');
const destination = values['sync-log'] ? pino.destination({ dest: devNull, sync: true }) : asyncLogDestination(devNull).stream;
const logger = pino({ level: 'info', base: { service: 'ecr-admission' } }, destination);
const metrics = createMetrics();
const policyStore = createPolicyStore({ text: `mode: enforce\nregistries:\n  allow: ["${ECR}/*"]\n`, logger, metrics });
const runtime = createRuntime({ policyStore, logger, metrics, budgetMs: 8000, env: {}, credentials: { accessKeyId: 'AKIDBENCH', secretAccessKey: 'bench' } });
const webhook = buildWebhookApp({ reviewer: runtime.reviewer, logger, metrics });
const baseline = Fastify({ logger: false });
baseline.post('/validate', (request) =>
  Promise.resolve({
    apiVersion: 'admission.k8s.io/v1',
    kind: 'AdmissionReview',
    response: { uid: (request.body as { request: { uid: string } }).request.uid, allowed: true },
  }),
);
const request = { method: 'POST' as const, url: '/validate', payload, headers: { 'content-type': 'application/json' } };
const first = await webhook.inject(request);
if (first.statusCode !== 200 || !first.body.includes('"allowed":true'))
  throw new Error(`the webhook did not allow the image: ${first.statusCode} ${first.body}`);

async function cpuPerAdmission(app: FastifyInstance): Promise<number> {
  for (let i = 0; i < 3000; i++) await app.inject(request);
  const before = process.cpuUsage();
  for (let i = 0; i < N; i++) await app.inject(request);
  const used = process.cpuUsage(before);
  return (used.user + used.system) / N;
}

for (let round = 1; round <= Number(values.rounds); round++) {
  const b = await cpuPerAdmission(baseline);
  const w = await cpuPerAdmission(webhook);
  process.stdout.write(`round ${round}: baseline ${b.toFixed(1)} µs, webhook ${w.toFixed(1)} µs, ours ${(w - b).toFixed(1)} µs per admission\n`);
}
await webhook.close();
await runtime.close();
