// Readiness says whether the Pod can answer correctly (issue 21): AWS credentials obtained at
// least once, retried with back-off while the set-up is broken (the reason logged and shown in
// /readyz), and never withdrawn afterwards because of an AWS call.
import t from 'tap';
import pino from 'pino';
import { Writable } from 'node:stream';
import { setTimeout as sleep } from 'node:timers/promises';
import type { AwsCredentialIdentity } from '@smithy/types';
import { serve } from '../../src/cli/serve.ts';
import { createCredentialCheck } from '../../src/cli/credentials.ts';
import { parseCommandLine, type ServeOptions } from '../../src/cli/args.ts';
import { generateSelfSigned } from '../../src/server/self-signed.ts';
import { httpGet } from '../fixtures/https.ts';

const SANDBOX_KEYS: AwsCredentialIdentity = { accessKeyId: 'AKIDSANDBOX', secretAccessKey: 'sandbox' };

/** A credentials provider that fails `failures` times (as a missing Pod Identity association does), then succeeds. */
function flaky(failures: number): { provider: () => Promise<AwsCredentialIdentity>; calls: () => number } {
  let calls = 0;
  return {
    provider: async () => {
      calls++;
      if (calls <= failures) throw Object.assign(new Error('Could not load credentials from any providers'), { name: 'CredentialsProviderError' });
      return SANDBOX_KEYS;
    },
    calls: () => calls,
  };
}

function capturingLogger(): { logger: pino.Logger; lines: Array<Record<string, unknown>> } {
  const lines: Array<Record<string, unknown>> = [];
  const stream = new Writable({
    write(chunk: Buffer, _enc, done) {
      lines.push(JSON.parse(chunk.toString()) as Record<string, unknown>);
      done();
    },
  });
  return { logger: pino({ level: 'info' }, stream), lines };
}

t.test('serve: unready until the credentials provider succeeds, with the reason in /readyz and the log', async (t) => {
  const pair = await generateSelfSigned(['127.0.0.1']);
  const dir = t.testdir({ 'policy.yaml': 'mode: enforce\n', 'tls.crt': pair.cert, 'tls.key': pair.key });
  const options = parseCommandLine(
    [
      'serve',
      '--config',
      `${dir}/policy.yaml`,
      '--tls-cert',
      `${dir}/tls.crt`,
      '--tls-key',
      `${dir}/tls.key`,
      '--port',
      '0',
      '--health-port',
      '0',
      '--host',
      '127.0.0.1',
    ],
    { ECR_ADMISSION_NAMESPACE: 'ecr-admission' },
  ) as ServeOptions;
  const { logger, lines } = capturingLogger();
  const credentials = flaky(2);
  const server = await serve(options, {}, logger, () => {}, { credentials: credentials.provider });
  t.teardown(() => server.close());

  const first = await httpGet(`${server.healthUrl}/readyz`);
  t.equal(first.status, 503, 'not ready while no credentials were obtained');
  const detail = JSON.parse(first.body) as { status: string; awsCredentials: { obtained: boolean; lastError?: string } };
  t.equal(detail.status, 'not ready');
  t.equal(detail.awsCredentials.obtained, false);
  t.match(detail.awsCredentials.lastError, /Could not load credentials/, 'the reason is shown');
  t.ok(
    lines.some((l) => l['level'] === 40 && /cannot obtain AWS credentials/.test(String(l['msg'])) && /Could not load credentials/.test(String(l['err']))),
    'and logged as a warning',
  );

  let ready = first;
  for (let i = 0; i < 100 && ready.status !== 200; i++) {
    await sleep(50);
    ready = await httpGet(`${server.healthUrl}/readyz`);
  }
  t.equal(ready.status, 200, 'ready once the provider succeeds (retried with back-off)');
  t.equal(credentials.calls(), 3, 'two failures, then one success');
  t.same((JSON.parse(ready.body) as { awsCredentials: unknown }).awsCredentials, { obtained: true, attempts: 3, source: 'given' });
  t.ok(lines.some((l) => l['msg'] === 'AWS credentials obtained: ready'));
});

t.test('the check: back-off doubles up to the bound, success is final, stop ends the retries', async (t) => {
  const { logger } = capturingLogger();
  const failing = flaky(Number.POSITIVE_INFINITY);
  const check = createCredentialCheck({ provider: failing.provider, logger, initialDelayMs: 10, maxDelayMs: 40 });
  const stop = check.start();
  await sleep(200);
  stop();
  const attempts = failing.calls();
  // 10 + 20 + 40 + 40 + ... ms: about 6 attempts in 200 ms, not 20 (no back-off) nor 3 (unbounded doubling).
  t.ok(attempts >= 4 && attempts <= 8, `${attempts} attempts in 200 ms`);
  await sleep(100);
  t.equal(failing.calls(), attempts, 'none after stop');
  t.equal(check.status().obtained, false);

  const once = flaky(0);
  const good = createCredentialCheck({ provider: once.provider, logger, initialDelayMs: 10 });
  const stopGood = good.start();
  await sleep(50);
  stopGood();
  t.same(good.status(), { obtained: true, attempts: 1, source: 'given' }, 'obtained at the first attempt, and not asked again');
  t.equal(once.calls(), 1, 'the health of later AWS calls is not readiness');
});

t.test('where the credentials came from, as the SDK attributes them; the node role is warned about', async (t) => {
  for (const [features, source] of [
    [{ CREDENTIALS_ENV_VARS_STS_WEB_ID_TOKEN: 'h', CREDENTIALS_STS_ASSUME_ROLE_WEB_ID: 'k' }, 'web identity token (IRSA)'],
    [{ CREDENTIALS_HTTP: 'z' }, 'container credentials endpoint (EKS Pod Identity)'],
    [{ CREDENTIALS_IMDS: '0' }, "instance metadata (the node's role)"],
  ] as const) {
    const { logger, lines } = capturingLogger();
    const check = createCredentialCheck({ provider: () => Promise.resolve({ ...SANDBOX_KEYS, $source: features }), logger });
    const stop = check.start();
    for (let i = 0; i < 50 && !check.status().obtained; i++) await sleep(10);
    stop();
    t.equal(check.status().source, source);
    const warned = lines.some((l) => l['level'] === 40 && /node's instance role/.test(String(l['msg'])));
    t.equal(warned, source.startsWith('instance metadata'), `${source}: ${warned ? 'warned' : 'no warning'}`);
  }
});
