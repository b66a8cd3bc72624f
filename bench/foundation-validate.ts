// Benchmark: POST /validate of ecr-admission (serve(), TLS, an allow-all-origin policy, info
// logging to /dev/null, metrics on) against an allow-all Fastify handler with the same TLS
// setup, in the same run on the same machine. The ratio is the point, not the absolute numbers.
//
//   node bench/foundation-validate.ts [--duration 10] [--connections 10]
//
// autocannon runs in a child process (its own event loop and CPU time), one target after the
// other. The body is an AdmissionReview for a Pod with 3 images that the policy allows.
import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import Fastify from 'fastify';
import { pino } from 'pino';
import { serve } from '../src/cli/serve.ts';
import { parseCommandLine, type ServeOptions } from '../src/cli/args.ts';
import { generateSelfSigned } from '../src/server/self-signed.ts';
import { TLS_OPTIONS } from '../src/server/tls.ts';

const { values } = parseArgs({ options: { duration: { type: 'string', default: '10' }, connections: { type: 'string', default: '10' } } });
const DURATION = Number(values.duration);
const CONNECTIONS = Number(values.connections);
const AUTOCANNON = fileURLToPath(new URL('../node_modules/autocannon/autocannon.js', import.meta.url));

const ECR = '111122223333.dkr.ecr.us-east-1.amazonaws.com';
const review = {
  apiVersion: 'admission.k8s.io/v1',
  kind: 'AdmissionReview',
  request: {
    uid: '705ab4f5-6393-11e8-b7cc-42010a800002',
    kind: { group: '', version: 'v1', kind: 'Pod' },
    resource: { group: '', version: 'v1', resource: 'pods' },
    requestKind: { group: '', version: 'v1', kind: 'Pod' },
    requestResource: { group: '', version: 'v1', resource: 'pods' },
    name: 'web-7d9c5b8f6-x2k4q',
    namespace: 'team-a',
    operation: 'CREATE',
    userInfo: { username: 'system:serviceaccount:kube-system:replicaset-controller', groups: ['system:serviceaccounts', 'system:authenticated'] },
    object: {
      apiVersion: 'v1',
      kind: 'Pod',
      metadata: { name: 'web-7d9c5b8f6-x2k4q', namespace: 'team-a', uid: '5b0b7f3e-2f0c-4f7c-9d51-6a1f0b8f7c11', labels: { app: 'web' } },
      spec: {
        initContainers: [{ name: 'migrate', image: `${ECR}/web-migrate:1.4.2`, resources: {}, imagePullPolicy: 'IfNotPresent' }],
        containers: [
          { name: 'app', image: `${ECR}/web:1.4.2`, ports: [{ containerPort: 8080, protocol: 'TCP' }], resources: {}, imagePullPolicy: 'IfNotPresent' },
          { name: 'log-shipper', image: 'docker.io/fluent/fluent-bit:3.0.7', resources: {}, imagePullPolicy: 'IfNotPresent' },
        ],
        restartPolicy: 'Always',
        terminationGracePeriodSeconds: 30,
        dnsPolicy: 'ClusterFirst',
        serviceAccountName: 'default',
      },
      status: { phase: 'Pending' },
    },
    oldObject: null,
    dryRun: false,
    options: { kind: 'CreateOptions', apiVersion: 'meta.k8s.io/v1' },
  },
};

interface Measured {
  requestsPerSecond: number;
  p50: number;
  p99: number;
  total: number;
  non2xx: number;
  errors: number;
  timeouts: number;
}

function autocannon(url: string, bodyFile: string, duration: number): Promise<Measured> {
  const args = [
    AUTOCANNON,
    '-j',
    '-n',
    '-c',
    String(CONNECTIONS),
    '-d',
    String(duration),
    '-m',
    'POST',
    '-H',
    'content-type=application/json',
    '-i',
    bodyFile,
    url,
  ];
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, args, { stdio: ['ignore', 'pipe', 'inherit'] });
    let out = '';
    child.stdout.on('data', (c: Buffer) => {
      out += c.toString('utf8');
    });
    child.on('error', reject);
    child.on('close', (code) => {
      if (code !== 0) return reject(new Error(`autocannon exited ${code}`));
      const r = JSON.parse(out) as {
        requests: { average: number; total: number };
        latency: { p50: number; p99: number };
        non2xx: number;
        errors: number;
        timeouts: number;
      };
      resolve({
        requestsPerSecond: r.requests.average,
        p50: r.latency.p50,
        p99: r.latency.p99,
        total: r.requests.total,
        non2xx: r.non2xx,
        errors: r.errors,
        timeouts: r.timeouts,
      });
    });
  });
}

async function firstAnswer(url: string, ca: string, body: string): Promise<unknown> {
  const { request } = await import('node:https');
  return new Promise((resolve, reject) => {
    const req = request(url, { method: 'POST', ca, agent: false, headers: { 'content-type': 'application/json' } }, (res) => {
      let text = '';
      res.on('data', (c: Buffer) => {
        text += c.toString('utf8');
      });
      res.on('end', () => resolve(JSON.parse(text)));
    });
    req.on('error', reject);
    req.end(body);
  });
}

const dir = mkdtempSync(join(tmpdir(), 'ecr-admission-bench-'));
const body = JSON.stringify(review);
writeFileSync(join(dir, 'review.json'), body);
writeFileSync(join(dir, 'policy.yaml'), 'mode: enforce\nonError: deny\nregistries:\n  allow: ["*"]\n');
const tls = await generateSelfSigned(['127.0.0.1']);
writeFileSync(join(dir, 'tls.crt'), tls.cert);
writeFileSync(join(dir, 'tls.key'), tls.key);

// ecr-admission as `serve` runs it, logging its one line per admission (to /dev/null).
const logger = pino({ level: 'info', base: { service: 'ecr-admission' } }, pino.destination({ dest: '/dev/null', sync: false }));
const options = parseCommandLine(
  [
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
  ],
  {},
) as ServeOptions;
const webhook = await serve(options, {}, logger, () => {});

// The baseline: Fastify, same TLS options and key pair, answers allowed without looking.
const baseline = Fastify({ logger: false, https: { ...TLS_OPTIONS, cert: tls.cert, key: tls.key } });
baseline.post('/validate', async (request) => {
  const uid = (request.body as { request?: { uid?: string } }).request?.uid ?? '';
  return { apiVersion: 'admission.k8s.io/v1', kind: 'AdmissionReview', response: { uid, allowed: true } };
});
await baseline.listen({ port: 0, host: '127.0.0.1' });
const baselinePort = (baseline.server.address() as { port: number }).port;

const targets = [
  { name: 'ecr-admission /validate', url: `${webhook.webhookUrl}/validate` },
  { name: 'allow-all Fastify handler', url: `https://127.0.0.1:${baselinePort}/validate` },
];

try {
  for (const target of targets) {
    const answer = (await firstAnswer(target.url, tls.caPem, body)) as { response?: { allowed?: boolean; uid?: string } };
    if (answer.response?.allowed !== true || answer.response.uid !== review.request.uid)
      throw new Error(`${target.name} did not allow the review: ${JSON.stringify(answer)}`);
  }
  console.log(`Node ${process.version}, ${CONNECTIONS} connections, ${DURATION} s per target, Pod with 3 images, TLS 1.3`);
  const results: Array<{ name: string; m: Measured }> = [];
  for (const target of targets) {
    await autocannon(target.url, join(dir, 'review.json'), 2); // warm-up, discarded
    const m = await autocannon(target.url, join(dir, 'review.json'), DURATION);
    results.push({ name: target.name, m });
    console.log(
      `${target.name.padEnd(28)} ${m.requestsPerSecond.toFixed(0).padStart(7)} req/s   p50 ${m.p50} ms   p99 ${m.p99} ms   (${m.total} requests, ${m.non2xx} non-2xx, ${m.errors} errors, ${m.timeouts} timeouts)`,
    );
  }
  const [ours, base] = results;
  if (ours && base) {
    console.log(
      `ratio ecr-admission / baseline: throughput ${(ours.m.requestsPerSecond / base.m.requestsPerSecond).toFixed(2)}, p99 ${(ours.m.p99 / Math.max(base.m.p99, 1)).toFixed(2)}x`,
    );
    console.log(
      JSON.stringify({ node: process.version, connections: CONNECTIONS, durationSeconds: DURATION, results: results.map((r) => ({ target: r.name, ...r.m })) }),
    );
  }
} finally {
  await webhook.close();
  await baseline.close();
  rmSync(dir, { recursive: true, force: true });
}
