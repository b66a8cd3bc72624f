// The webhook listens on IPv4 and IPv6 (issue 21): the default host is `::` with ipv6Only false
// (one socket for both families), and a node without IPv6 falls back to IPv4. Servers here stay
// on the loopback: ::1 stands in for `::` and 127.0.0.1 for `0.0.0.0`.
import t from 'tap';
import Fastify from 'fastify';
import { serve } from '../../src/cli/serve.ts';
import { parseCommandLine, type ServeOptions } from '../../src/cli/args.ts';
import { generateSelfSigned } from '../../src/server/self-signed.ts';
import { ALL_ADDRESSES, listenOn, type Listener } from '../../src/server/listen.ts';
import { loadAdmissionReview } from '../fixtures/admission.ts';
import { httpGet, httpsCall } from '../fixtures/https.ts';
import { silentLogger } from '../fixtures/policy.ts';

const LOOPBACK = { any6: '::1', any4: '127.0.0.1' };

t.test('serve defaults to every IPv4 and IPv6 address', async (t) => {
  const options = parseCommandLine(['serve'], {}) as ServeOptions;
  t.equal(options.host, ALL_ADDRESSES);
  t.equal(ALL_ADDRESSES, '::');
});

t.test('the webhook is reached over IPv6 (::1): an AdmissionReview answered, and the health port', async (t) => {
  const pair = await generateSelfSigned(['::1']);
  const dir = t.testdir({ 'policy.yaml': 'mode: enforce\nregistries:\n  allow: ["registry.k8s.io/*"]\n', 'tls.crt': pair.cert, 'tls.key': pair.key });
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
      '::1',
    ],
    { ECR_ADMISSION_NAMESPACE: 'ecr-admission' },
  ) as ServeOptions;
  const server = await serve(options, { AWS_ACCESS_KEY_ID: 'AKIDSANDBOX', AWS_SECRET_ACCESS_KEY: 'sandbox' }, silentLogger, () => {});
  t.teardown(() => server.close());
  t.match(server.webhookUrl, /^https:\/\/\[::1\]:\d+$/, 'the URL brackets the IPv6 address');
  const answer = await httpsCall(server.webhookUrl, { ca: pair.caPem, body: JSON.stringify(loadAdmissionReview('replicationcontroller-create')) });
  t.equal(answer.status, 200);
  const review = JSON.parse(answer.body) as { response: { uid: string; allowed: boolean } };
  t.equal(typeof review.response.allowed, 'boolean', 'a verdict over IPv6');
  t.equal((await httpGet(`${server.healthUrl}/readyz`)).status, 200, '/readyz over IPv6');
});

/** A real Fastify app whose listen() records its options, and refuses a host as a node without IPv6 does. */
function recording(refuse?: { host: string; code: string }): {
  app: Listener & { close(): Promise<void> };
  calls: Array<{ host: string; ipv6Only?: boolean }>;
} {
  const fastify = Fastify();
  fastify.get('/', async () => 'ok');
  const calls: Array<{ host: string; ipv6Only?: boolean }> = [];
  const app = {
    async listen(options: { port: number; host: string; ipv6Only?: boolean }) {
      calls.push({ host: options.host, ...(options.ipv6Only !== undefined && { ipv6Only: options.ipv6Only }) });
      if (refuse && options.host === refuse.host) throw Object.assign(new Error(`listen ${refuse.code} ${options.host}`), { code: refuse.code });
      return fastify.listen(options);
    },
    close: () => fastify.close(),
  };
  return { app, calls };
}

t.test('the IPv6 wildcard is bound dual-stack (ipv6Only false)', async (t) => {
  const { app, calls } = recording();
  t.teardown(() => app.close());
  t.equal(await listenOn(app, 0, LOOPBACK.any6, LOOPBACK), '::1');
  t.same(calls, [{ host: '::1', ipv6Only: false }]);
});

t.test('no IPv6 on the node: IPv4 instead, still served', async (t) => {
  for (const code of ['EAFNOSUPPORT', 'EADDRNOTAVAIL']) {
    const { app, calls } = recording({ host: '::1', code });
    t.equal(await listenOn(app, 0, LOOPBACK.any6, LOOPBACK), '127.0.0.1', `${code}: bound IPv4`);
    t.same(
      calls.map((c) => c.host),
      ['::1', '127.0.0.1'],
    );
    await app.close();
  }
});

t.test('other listen errors are not hidden by the fallback', async (t) => {
  const { app, calls } = recording({ host: '::1', code: 'EADDRINUSE' });
  t.teardown(() => app.close());
  await t.rejects(listenOn(app, 0, LOOPBACK.any6, LOOPBACK), { code: 'EADDRINUSE' });
  t.same(
    calls.map((c) => c.host),
    ['::1'],
    'no second attempt',
  );
});

t.test('a specific host is bound as given', async (t) => {
  const { app, calls } = recording();
  t.teardown(() => app.close());
  t.equal(await listenOn(app, 0, '127.0.0.1', LOOPBACK), '127.0.0.1');
  t.same(calls, [{ host: '127.0.0.1' }]);
});
