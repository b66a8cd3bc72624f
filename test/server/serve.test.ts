// `serve` as a whole on 127.0.0.1: health port, readiness with the policy state, metrics,
// graceful close, and a clean failure when a port is taken.
import t from 'tap';
import { createServer } from 'node:net';
import { request } from 'node:https';
import { join } from 'node:path';
import { writeFileSync } from 'node:fs';
import { setTimeout as sleep } from 'node:timers/promises';
import { serve, type RunningServer } from '../../src/cli/serve.ts';
import { parseCommandLine, type ServeOptions } from '../../src/cli/args.ts';
import { generateSelfSigned } from '../../src/server/self-signed.ts';
import { loadAdmissionReview } from '../fixtures/admission.ts';
import { httpGet, httpsCall } from '../fixtures/https.ts';
import { silentLogger } from '../fixtures/policy.ts';

const pair = await generateSelfSigned(['127.0.0.1']);
// Non-ECR images only, so no check needs AWS.
const POLICY = 'mode: enforce\nregistries:\n  allow: ["registry.k8s.io/*", "docker.io/library/*"]\n';
const podReview = () => {
  const review = loadAdmissionReview('replicationcontroller-create');
  return JSON.stringify(review);
};

async function start(
  t: { teardown(fn: () => unknown): void; testdir(f: Record<string, string>): string },
  extra: string[] = [],
): Promise<{ server: RunningServer; dir: string }> {
  const dir = t.testdir({ 'policy.yaml': POLICY, 'tls.crt': pair.cert, 'tls.key': pair.key });
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
      '--reload-interval-ms',
      '50',
      ...extra,
    ],
    { ECR_ADMISSION_NAMESPACE: 'ecr-admission' },
  ) as ServeOptions;
  // Static sandbox keys: readiness waits for AWS credentials (test/cli/readiness.test.ts).
  const server = await serve(options, { AWS_ACCESS_KEY_ID: 'AKIDSANDBOX', AWS_SECRET_ACCESS_KEY: 'sandbox' }, silentLogger, () => {});
  let closed = false;
  t.teardown(() => (closed ? undefined : server.close()));
  const close = server.close.bind(server);
  return {
    server: {
      ...server,
      close: async () => {
        closed = true;
        await close();
      },
    },
    dir,
  };
}

t.test('/healthz and /readyz on the plain-HTTP health port', async (t) => {
  const { server, dir } = await start(t);
  t.match(server.healthUrl, /^http:\/\/127\.0\.0\.1:\d+$/);
  const health = await httpGet(`${server.healthUrl}/healthz`);
  t.same([health.status, JSON.parse(health.body)], [200, { status: 'ok' }]);

  const ready = await httpGet(`${server.healthUrl}/readyz`);
  t.equal(ready.status, 200);
  const detail = JSON.parse(ready.body) as { status: string; policy: { version: string; source: string; lastReloadError?: string } };
  t.equal(detail.status, 'ready');
  t.match(detail.policy.version, /^[0-9a-f]{12}$/);
  t.equal(detail.policy.source, join(dir, 'policy.yaml'));
  t.notOk(detail.policy.lastReloadError);

  // A bad policy file: refused, the old one stays, and /readyz says so.
  writeFileSync(join(dir, 'policy.yaml'), `${POLICY}registries2: {}\n`);
  let after = detail;
  for (let i = 0; i < 100 && !after.policy.lastReloadError; i++) {
    await sleep(20);
    after = JSON.parse((await httpGet(`${server.healthUrl}/readyz`)).body) as typeof detail;
  }
  t.match(after.policy.lastReloadError, /policy\.yaml:4: registries2: unknown key/);
  t.equal(after.policy.version, detail.policy.version, 'the last good policy is still in force');
  const review = await httpsCall(server.webhookUrl, { ca: pair.caPem, body: podReview() });
  t.equal((JSON.parse(review.body) as { response: { allowed: boolean } }).response.allowed, true, 'and still admits by it');

  // A good file takes effect and clears the error.
  writeFileSync(join(dir, 'policy.yaml'), 'mode: enforce\n');
  for (let i = 0; i < 100 && after.policy.lastReloadError; i++) {
    await sleep(20);
    after = JSON.parse((await httpGet(`${server.healthUrl}/readyz`)).body) as typeof detail;
  }
  t.notOk(after.policy.lastReloadError);
  t.not(after.policy.version, detail.policy.version);
  const denied = await httpsCall(server.webhookUrl, { ca: pair.caPem, body: podReview() });
  t.equal((JSON.parse(denied.body) as { response: { allowed: boolean } }).response.allowed, false, 'the new policy decides');
});

t.test('/metrics has the admission counters after an admission', async (t) => {
  const { server } = await start(t);
  const answer = await httpsCall(server.webhookUrl, { ca: pair.caPem, body: podReview() });
  t.equal(answer.status, 200);
  const metrics = await httpGet(`${server.healthUrl}/metrics`);
  t.equal(metrics.status, 200);
  t.match(metrics.contentType, /^text\/plain/);
  t.match(metrics.body, /^ecr_admission_admissions_total\{kind="ReplicationController",operation="CREATE",result="allow",dry_run="false"\} 1$/m);
  t.match(metrics.body, /^ecr_admission_decision_duration_seconds_count\{kind="ReplicationController"\} 1$/m);
  t.match(metrics.body, /^ecr_admission_check_results_total\{check="origin",status="pass"\} 1$/m);
  t.match(metrics.body, /^process_cpu_user_seconds_total /m, 'process metrics, under their standard names');
  t.match(metrics.body, /^ecr_admission_build_info\{version="[^"]+",node_version="v\d+/m, 'build info');
});

t.test('the own namespace (ECR_ADMISSION_NAMESPACE) is excluded', async (t) => {
  const { server } = await start(t);
  const review = loadAdmissionReview('cronjob-create');
  review.request.namespace = 'ecr-admission';
  const answer = JSON.parse((await httpsCall(server.webhookUrl, { ca: pair.caPem, body: JSON.stringify(review) })).body) as {
    response: { allowed: boolean; auditAnnotations: Record<string, string> };
  };
  t.equal(answer.response.allowed, true);
  t.equal(answer.response.auditAnnotations.reason, 'namespace ecr-admission is excluded');
});

t.test('graceful close: an in-flight review finishes, new connections are refused', async (t) => {
  const { server } = await start(t);
  const body = podReview();
  const url = new URL('/validate', server.webhookUrl);
  // Send the headers and half the body, close the server, then send the rest.
  let firstHalfSent: () => void = () => {};
  let restSentAt = Infinity;
  const sent = new Promise<void>((resolve) => {
    firstHalfSent = resolve;
  });
  const inFlight = new Promise<{ status: number; text: string }>((resolve, reject) => {
    const req = request(
      url,
      { method: 'POST', ca: pair.caPem, agent: false, headers: { 'content-type': 'application/json', 'content-length': Buffer.byteLength(body) } },
      (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (c: Buffer) => chunks.push(c));
        res.on('end', () => resolve({ status: res.statusCode ?? 0, text: Buffer.concat(chunks).toString('utf8') }));
      },
    );
    req.on('error', reject);
    req.write(body.slice(0, 100), () => firstHalfSent());
    sent.then(
      () =>
        setTimeout(() => {
          restSentAt = performance.now();
          req.end(body.slice(100));
        }, 400),
      reject,
    );
  });
  // The first half is on the wire (so the connection and handshake are done); give the
  // server a moment to parse the headers, then close while the body is still incomplete.
  await sent;
  await sleep(150);
  let closedAt = 0;
  const closing = server.close().then(() => {
    closedAt = performance.now();
  });
  await sleep(50);
  await t.rejects(httpsCall(server.webhookUrl, { ca: pair.caPem, body }), { code: 'ECONNREFUSED' }, 'no new connections while closing');
  const answer = await inFlight;
  t.equal(answer.status, 200, 'the in-flight review was answered');
  t.equal((JSON.parse(answer.text) as { response: { allowed: boolean } }).response.allowed, true);
  await closing;
  // The client sees the answer a moment after the server has finished with it, so compare
  // with the moment the request's body was completed: close must have waited for that.
  t.ok(closedAt > restSentAt, 'close resolved only after the in-flight request was completed and answered');
});

t.test('a taken port makes serve fail and leaves nothing listening', async (t) => {
  const blocker = createServer();
  await new Promise<void>((resolve) => blocker.listen(0, '127.0.0.1', resolve));
  t.teardown(() => blocker.close());
  const taken = (blocker.address() as { port: number }).port;
  const dir = t.testdir({ 'tls.crt': pair.cert, 'tls.key': pair.key });
  // Pick the webhook port ourselves so we can look at it afterwards.
  const free = createServer();
  await new Promise<void>((resolve) => free.listen(0, '127.0.0.1', resolve));
  const webhookPort = (free.address() as { port: number }).port;
  await new Promise<void>((resolve) => free.close(() => resolve()));
  const options = parseCommandLine(
    [
      'serve',
      '--tls-cert',
      join(dir, 'tls.crt'),
      '--tls-key',
      join(dir, 'tls.key'),
      '--port',
      String(webhookPort),
      '--health-port',
      String(taken),
      '--host',
      '127.0.0.1',
    ],
    {},
  ) as ServeOptions;
  await t.rejects(
    serve(options, {}, silentLogger, () => {}),
    { code: 'EADDRINUSE' },
  );
  const probe = createServer();
  await t.resolves(
    new Promise<void>((resolve, reject) => {
      probe.once('error', reject);
      probe.listen(webhookPort, '127.0.0.1', resolve);
    }),
    'the webhook port was released',
  );
  probe.close();
});
